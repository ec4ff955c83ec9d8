"""Sparse X on the simulated GPU: the fused step reads dense rows, so a sparse fit takes the layered updates.

On the simulator the sparse matrix stays SciPy's (its arrays are NumPy's); on a GPU
it becomes ``cupyx.scipy.sparse`` (tests/test_sparse_input.py runs there with ``cupy``).
"""

import numpy as np
import scipy.sparse as sp

import fastnet
from fastnet.training.fused_gpu_step import FusedStep


def test_a_sparse_fit_takes_the_layered_updates_and_equals_the_dense_fused_fit(monkeypatch):
    rng = np.random.default_rng(0)
    X = sp.random(40, 30, density=0.1, format="csr", random_state=1)
    Y = fastnet.one_hot(rng.integers(0, 3, 40), 3)
    runs = []
    original = FusedStep.run
    monkeypatch.setattr(FusedStep, "run", lambda self, batches: runs.append(len(batches)) or original(self, batches))

    def fit(data):
        net = fastnet.Network([30, 6, 3], activation="tanh", output_activation="softmax", loss="cross_entropy",
                              init="xavier", backend="cupy", seed=2)
        return net, net.fit(data, Y, epochs=4, lr=0.2)

    dense, dense_costs = fit(X.toarray())
    assert runs, "the dense fit of this small network takes the fused step"
    runs.clear()
    sparse, sparse_costs = fit(X)
    assert runs == []
    np.testing.assert_allclose(sparse_costs, dense_costs, rtol=1e-10)
    for a, b in zip(sparse.get_params()[0], dense.get_params()[0]):
        np.testing.assert_allclose(a, b, rtol=1e-9, atol=1e-12)
