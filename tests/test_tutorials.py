"""Every tutorial experiment reproduces its documented number, and draws its figure."""

import numpy as np
import pytest

from fastnet import tutorials

pytest.importorskip("matplotlib", reason="the figures need matplotlib (pip install 'fastnet-trainer[plot]')")


def quiet(name, **kwargs):
    lines = []
    result = tutorials.run(name, out=lines.append, **kwargs)
    return result, "\n".join(lines)


def test_gradient_descent_finds_nine_quarters(tmp_path):
    result, text = quiet("gradient-descent", plot=tmp_path / "gd.png")
    assert result["minimum"] == pytest.approx(2.2500325268933734, abs=1e-12)
    assert "2.2500325" in text
    assert (tmp_path / "gd.png").stat().st_size > 10_000


def test_one_weight_network_ends_at_the_documented_weight_and_cost():
    result, text = quiet("one-weight")
    assert result["initial_cost"] == pytest.approx(0.757384221746, abs=1e-12)
    assert result["weight"] == pytest.approx(-24.3428836, abs=1e-7)
    assert result["cost"] == pytest.approx(0.00130014553005, abs=1e-13)
    assert np.round(result["outputs"], 2).tolist() == [0.08, 0.0, 0.0, 0.0, 0.0]


def test_not_gate_is_learned_with_a_bias_unit():
    result, text = quiet("not-gate")
    assert result["rounded"].tolist() == [1.0, 0.0]
    assert result["weight"] < 0 < result["bias"]
    assert result["cost"] < 0.01 < result["initial_cost"]


def test_xor_outputs_round_to_0_1_1_0(backend):
    result, _ = quiet("xor", backend=backend)
    assert result["rounded"].tolist() == [0, 1, 1, 0]
    assert max(abs(result["outputs"] - [0, 1, 1, 0])) < 0.05


def test_cross_entropy_surface_has_no_flat_shelves_unlike_mse(tmp_path):
    result, _ = quiet("cost-surface", plot=tmp_path / "surfaces.png")
    assert result["flat_mse"] > 0.3  # the MSE shelves: gradient ~0 on a large share of the grid
    assert result["flat_cross_entropy"] < 0.01
    assert result["mse"].max() <= 1.0 and np.isfinite(result["cross_entropy"]).all()
    for key in ("min_mse", "min_cross_entropy"):
        w1, w2 = result[key]
        assert w1 < 0 < w2  # NOT: a negative input weight and a positive bias
    assert (tmp_path / "surfaces.png").stat().st_size > 20_000


def test_feedforward_example(backend):
    result, text = quiet("feedforward", backend=backend)
    assert result["output"] == pytest.approx(0.8354557, abs=1e-7)
    # The tutorial truncates to 4 places (sigmoid(4.7) = 0.99100 is printed 0.9909).
    np.testing.assert_allclose(result["hidden"].ravel(), [0.8909, 0.9677, 0.9909], atol=1.5e-4)
    assert "0.8354557" in text


def test_digits_tutorial_reaches_its_accuracy_and_draws_the_cost_curve(tmp_path):
    result, text = quiet("digits", plot=tmp_path / "digits.png")
    assert result["accuracy"] >= 0.86
    assert len(result["history"]) == 3000 and result["history"][-1] < result["history"][0] / 5
    assert (tmp_path / "digits.png").stat().st_size > 10_000


def test_unknown_tutorial_lists_the_valid_names():
    with pytest.raises(ValueError, match="valid: gradient-descent, one-weight"):
        tutorials.run("backprop")
