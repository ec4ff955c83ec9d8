"""RMSprop and AdamW as PyTorch users know them: 20 full-batch float64 updates equal torch.optim's to 1e-10.

Every backend is compared with a hand-written NumPy version of PyTorch's documented
algorithms (gradients from the reference Ops), which is itself compared with
``torch.optim.RMSprop`` and ``torch.optim.AdamW`` where torch is installed.
tests/simulated_gpu/test_pytorch_optimizers_gpu.py runs the same check on the simulated GPU.
"""

import numpy as np
import pytest

import fastnet

from .conftest import reference_ops, to_numpy

STEPS, LR = 20, 0.01
LAYERS = [6, 5, 3]


def problem():
    rng = np.random.default_rng(11)
    return rng.normal(size=(24, 6)), np.eye(3)[rng.integers(0, 3, 24)]


def network(backend):
    return fastnet.Network(LAYERS, activation="tanh", output_activation="softmax", loss="cross_entropy",
                           init="xavier", backend=backend, seed=4)


def flat(net):
    return [np.array(to_numpy(a)) for pair in zip(net.weights, net.biases) for a in pair]


def handwritten(name, settings=None):
    """PyTorch's RMSprop / AdamW algorithms, as their documentation writes them, on the reference's gradients."""
    X, Y = problem()
    net = network(reference_ops())
    params = flat(net)
    s = dict({"rmsprop": dict(alpha=0.99, eps=1e-8), "adamw": dict(betas=(0.9, 0.999), eps=1e-8,
                                                                     weight_decay=0.01)}[name], **(settings or {}))
    first, second = [np.zeros_like(p) for p in params], [np.zeros_like(p) for p in params]
    for t in range(1, STEPS + 1):
        net.set_params(params[0::2], params[1::2])
        _, grads = net.backprop(X, Y)
        g = [a for pair in grads for a in pair]
        for i, p in enumerate(params):
            if name == "rmsprop":
                second[i] = s["alpha"] * second[i] + (1 - s["alpha"]) * g[i] * g[i]
                params[i] = p - LR * g[i] / (np.sqrt(second[i]) + s["eps"])
            else:
                b1, b2 = s["betas"]
                p = p * (1 - LR * s["weight_decay"])
                first[i] = b1 * first[i] + (1 - b1) * g[i]
                second[i] = b2 * second[i] + (1 - b2) * g[i] * g[i]
                denom = np.sqrt(second[i]) / np.sqrt(1 - b2**t) + s["eps"]
                params[i] = p - LR / (1 - b1**t) * first[i] / denom
    return params


def with_torch(name):
    """The same 20 updates by torch.optim, from the same initial weights."""
    torch = pytest.importorskip("torch", reason="torch is not installed: the hand-written version stands in")
    X, Y = problem()
    params = [torch.tensor(p, dtype=torch.float64, requires_grad=True) for p in flat(network(reference_ops()))]
    opt = {"rmsprop": torch.optim.RMSprop, "adamw": torch.optim.AdamW}[name](params, lr=LR)
    x, target = torch.tensor(X), torch.tensor(Y.argmax(axis=1))
    for _ in range(STEPS):
        opt.zero_grad()
        h = torch.tanh(x @ params[0].T + params[1])
        loss = torch.nn.functional.cross_entropy(h @ params[2].T + params[3], target)
        loss.backward()
        opt.step()
    return [p.detach().numpy() for p in params]


def assert_equal_to_1e10(got, want):
    for a, b in zip(got, want):
        np.testing.assert_allclose(a, b, rtol=1e-10, atol=1e-10 * np.abs(b).max())


def check_matches_pytorch(backend, name):
    X, Y = problem()
    net = network(backend)
    net.fit(X, Y, epochs=STEPS, lr=LR, optimizer=name)
    assert_equal_to_1e10(flat(net), handwritten(name))


@pytest.mark.parametrize("name", ["rmsprop", "adamw"])
def test_the_hand_written_version_is_torch_s(name):
    assert_equal_to_1e10(handwritten(name), with_torch(name))


@pytest.mark.parametrize("name", ["rmsprop", "adamw"])
def test_every_backend_takes_pytorch_s_steps(backend, name):
    check_matches_pytorch(backend, name)


def test_settings_reach_the_rule():
    X, Y = problem()
    net = network("numpy")
    net.fit(X, Y, epochs=STEPS, lr=LR, optimizer="rmsprop", optimizer_settings={"alpha": 0.9, "eps": 1e-6})
    assert_equal_to_1e10(flat(net), handwritten("rmsprop", dict(alpha=0.9, eps=1e-6)))
    assert net._optimizer.hyperparameters() == {"alpha": 0.9, "eps": 1e-6}
