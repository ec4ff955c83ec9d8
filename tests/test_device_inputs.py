"""Device arrays and streams on a real GPU (these skip elsewhere, saying why).

A 188 MB X copied to the host to be checked, then uploaded again, costs about 100 ms
a ``fit`` call on an H100, far more than the step itself: a device X is checked where
it lies. And the layered step's kernels go to the stream CuPy's products go to: on the
legacy stream they would race a product on a user's non-blocking stream.
"""

import numpy as np
import pytest

import fastnet
from tests.conftest import require_backend

pytestmark = pytest.mark.gpu


def test_fit_and_forward_on_device_arrays_never_copy_them_to_the_host(monkeypatch):
    require_backend("cupy")
    import cupy

    from fastnet.backends.cupy_ops import simulated

    if simulated():
        pytest.skip("the CUDA simulator's arrays are NumPy's: there is no device to stay on")
    rng = np.random.default_rng(0)
    X = cupy.asarray(rng.normal(size=(500, 20)))
    Y = cupy.asarray(fastnet.one_hot(rng.integers(0, 3, 500), 3))
    net = fastnet.Network([20, 8, 3], activation="tanh", output_activation="softmax", loss="cross_entropy",
                          init="xavier", backend="cupy", seed=0)
    copies = []
    real = cupy.asnumpy
    monkeypatch.setattr(cupy, "asnumpy", lambda a, *args, **kw: copies.append(a.shape) or real(a, *args, **kw))
    costs = net.fit(X, Y, epochs=3, lr=0.1)
    out = net.forward(X)
    assert isinstance(out, cupy.ndarray) and costs[-1] < costs[0]
    assert all(shape != X.shape for shape in copies), f"X went to the host: {copies}"
    X[3, 4] = cupy.nan
    with pytest.raises(ValueError, match="X contains NaN or Inf"):
        net.forward(X)


def test_the_layered_kernels_run_on_cupys_current_stream_in_order_with_its_products():
    require_backend("cupy")
    import cupy

    from fastnet.backends.cupy_ops import CupyOps, simulated

    if simulated():
        pytest.skip("the CUDA simulator has no streams")
    rng = np.random.default_rng(1)
    X = rng.normal(size=(4000, 64))
    Y = fastnet.one_hot(rng.integers(0, 10, 4000), 10)
    nets = [fastnet.Network([64, 256, 10], activation="sigmoid", output_activation="softmax", loss="cross_entropy",
                            init="xavier", backend=CupyOps(fuse_steps=False), seed=2) for _ in range(2)]
    nets[0].fit(X, Y, epochs=5, lr=0.1)
    with cupy.cuda.Stream(non_blocking=True):  # CuPy's products go here; the kernels must follow them
        nets[1].fit(cupy.asarray(X), cupy.asarray(Y), epochs=5, lr=0.1)
    for a, b in zip(nets[1].get_params()[0], nets[0].get_params()[0]):
        np.testing.assert_allclose(a, b, rtol=1e-12)


def test_a_small_fit_on_the_gpu_shows_no_low_occupancy_warning(monkeypatch):
    require_backend("cupy")
    import warnings

    from fastnet.backends.cupy_ops import CupyOps, simulated

    if simulated():
        pytest.skip("the CUDA simulator never warns about occupancy")
    from numba.cuda.core import config

    # The device bench turns the warning off for the whole run; a user's process has it on.
    monkeypatch.setattr(config, "CUDA_LOW_OCCUPANCY_WARNINGS", 1)
    rng = np.random.default_rng(3)
    X = rng.normal(size=(300, 64))
    Y = fastnet.one_hot(rng.integers(0, 10, 300), 10)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        for fuse_steps in (True, False):  # the fused step's grids, then the layered path's
            net = fastnet.Network([64, 30, 10], activation="sigmoid", output_activation="softmax",
                                  loss="cross_entropy", backend=CupyOps(fuse_steps=fuse_steps), seed=0)
            net.fit(X, Y, epochs=3, lr=0.1)
    assert [str(w.message) for w in caught if "under-utilization" in str(w.message)] == []
