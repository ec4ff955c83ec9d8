"""The per-neuron sums of fastnet.neurons, interpreted and compiled, against NumPy's matrix forms."""

import numpy
import pytest

from fastnet import neurons

numba = pytest.importorskip("numba", reason="the compiled half needs numba (pip install numba)")

rng = numpy.random.default_rng(7)
W = rng.standard_normal((5, 7))  # 5 neurons above, 7 below
H = rng.standard_normal((11, 7))  # 11 rows of activations one layer down
DELTA = rng.standard_normal((11, 5))  # their deltas one layer up
B = rng.standard_normal(5)


def compiled(fn):
    """``fn`` called from a Numba kernel that inlines it, as the numba backend's loops do."""
    neurons.register_for_numba()
    if fn is neurons.bias_gradient:
        return numba.njit(lambda d, at, stride, rows, zero: fn(d, at, stride, rows, zero))
    if fn is neurons.weight_gradient:
        return numba.njit(lambda d, d_at, d_s, h, h_at, h_s, rows, zero: fn(d, d_at, d_s, h, h_at, h_s, rows, zero))
    if fn is neurons.neuron_input:
        return numba.njit(lambda w, w_at, h, h_at, n, bias, zero: fn(w, w_at, h, h_at, n, bias, zero))
    return numba.njit(lambda s, w, w_at, w_s, d, d_at, n, zero: fn(s, w, w_at, w_s, d, d_at, n, zero))


@pytest.fixture(params=["interpreted", "compiled"])
def call(request):
    return (lambda fn: fn) if request.param == "interpreted" else compiled


def test_a_neurons_input_is_its_bias_plus_its_weights_times_the_row(call):
    f = call(neurons.neuron_input)
    for row in (0, 6, 10):
        for j in range(5):
            got = f(W.reshape(-1), j * 7, H.reshape(-1), row * 7, 7, B[j], 0.0)
            assert got == pytest.approx(B[j] + W[j] @ H[row], rel=1e-14)


def test_a_hidden_delta_is_the_slope_times_its_column_of_weights_times_the_deltas_above(call):
    f = call(neurons.hidden_delta)
    for row in (0, 10):
        for i in range(7):  # a hidden neuron's column of W: start i, stride 7
            got = f(0.25, W.reshape(-1), i, 7, DELTA.reshape(-1), row * 5, 5, 0.0)
            assert got == pytest.approx(0.25 * (W[:, i] @ DELTA[row]), rel=1e-14)


def test_a_weight_gradient_sums_delta_times_activation_over_the_rows(call):
    f = call(neurons.weight_gradient)
    for j in range(5):
        for k in range(7):  # strided along rows, as the tile kernel reads shared memory
            got = f(DELTA.reshape(-1), j, 5, H.reshape(-1), k, 7, 11, 0.0)
            assert got == pytest.approx(DELTA[:, j] @ H[:, k], rel=1e-13)
    transposed_delta, transposed_h = numpy.ascontiguousarray(DELTA.T), numpy.ascontiguousarray(H.T)
    got = f(transposed_delta.reshape(-1), 2 * 11, 1, transposed_h.reshape(-1), 3 * 11, 1, 11, 0.0)
    assert got == pytest.approx(DELTA[:, 2] @ H[:, 3], rel=1e-13)  # contiguous, as the loop kernels read them


def test_a_bias_gradient_sums_the_neurons_deltas_over_the_rows(call):
    f = call(neurons.bias_gradient)
    for j in range(5):
        assert f(DELTA.reshape(-1), j, 5, 11, 0.0) == pytest.approx(DELTA[:, j].sum(), rel=1e-13)


def test_a_float32_zero_keeps_a_compiled_sum_in_float32():
    f = compiled(neurons.weight_gradient)
    d32, h32 = DELTA.astype(numpy.float32), H.astype(numpy.float32)
    got = f(d32.reshape(-1), 1, 5, h32.reshape(-1), 2, 7, 11, numpy.float32(0))
    assert f.nopython_signatures[-1].return_type == numba.float32  # no float64 accumulator crept in
    assert got == pytest.approx(float(d32[:, 1].astype(numpy.float64) @ h32[:, 2]), rel=1e-5)
