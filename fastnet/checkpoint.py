"""Training checkpoints: everything a run needs to continue bit for bit.

A checkpoint is a model file (see :mod:`fastnet.model_file`) of kind
``"checkpoint"`` that also holds the epochs completed, the cost history, the
optimiser's state and step count, the shuffling generator's state, and the fit
settings that must not change on resume (optimiser, learning rate, batch size,
a CRC of the data).
"""

import json
from typing import NamedTuple

import numpy

from .model_file import ModelFileError, parameters_from, read_archive, write_archive


class CheckpointState(NamedTuple):
    epoch: int
    history: list
    weights: list
    biases: list
    optimizer_state: list
    optimizer_t: int
    rng_state: dict


def write(path, net, optimizer, epoch, history, settings):
    """Atomically write a checkpoint of ``net`` after ``epoch`` completed epochs."""
    meta = dict(
        net._config(),
        kind="checkpoint",
        epoch=epoch,
        optimizer_t=optimizer.t,
        hyperparameters=optimizer.hyperparameters(),
        rng_state=net._rng.bit_generator.state,
        settings=settings,
    )
    arrays = net._parameter_arrays()
    arrays["history"] = numpy.asarray(history, dtype=numpy.float64)
    for i, a in enumerate(optimizer.state):
        arrays[f"opt{i}"] = net.ops.to_numpy(a)
    write_archive(path, meta, arrays)


# Fit settings that checkpoints of older fastnets do not record, at the only value
# those versions had, so such a checkpoint still resumes.
_SETTINGS_BEFORE_THEY_WERE_SAVED = {"alpha": 0.0, "shuffle": True, "ranks": 1}


class SettingChanged(ModelFileError):
    """A checkpoint written with another value of the fit setting ``key`` (the command line names its flag)."""

    def __init__(self, message, key):
        super().__init__(message)
        self.key = key


def read(path, net, settings):
    """Read a checkpoint and check that ``net`` and ``settings`` can continue it.

    Raises
    ------
    ModelFileError
        Unreadable file, or a checkpoint of another network or other fit settings.
    """
    meta, arrays = read_archive(path, kind="checkpoint")
    config = net._config()
    for key, value in config.items():
        if meta.get(key) != value:
            raise ModelFileError(
                f"checkpoint {path!r} is of a network with {key}={meta.get(key)!r}, this one has {value!r}"
            )
    saved = dict(_SETTINGS_BEFORE_THEY_WERE_SAVED, **meta.get("settings", {}))
    # Checkpoints before 0.3 record the optimiser's settings (then always the defaults) apart.
    saved.setdefault("optimizer_settings", meta.get("hyperparameters", {}))
    ranks = settings.get("ranks", 1)
    if saved.get("ranks") != ranks:  # first: it changes the row count and batch size too
        raise ModelFileError(
            f"checkpoint {path!r} was written by a data-parallel run of {saved.get('ranks')!r} process(es), this run has "
            f"{ranks}; resume with the same number (mpiexec -n {saved.get('ranks')!r}), whose shards and batches it continues"
        )
    for key, value in settings.items():
        if saved.get(key) != value:
            what = "training data" if key in ("data_crc", "n_samples") else key
            raise SettingChanged(
                f"checkpoint {path!r} was written with different {what} "
                f"({key}={saved.get(key)!r}, now {value!r}); resume with the same data and settings", key
            )
    weights, biases = parameters_from(path, meta, arrays)
    opt_state = [arrays[k] for k in sorted((k for k in arrays if k.startswith("opt")), key=lambda k: int(k[3:]))]
    rng_state = meta.get("rng_state")
    if not isinstance(rng_state, dict) or rng_state.get("bit_generator") != net._rng.bit_generator.state["bit_generator"]:
        raise ModelFileError(f"checkpoint {path!r} has no usable random state")
    history = arrays.get("history", numpy.zeros(0)).tolist()
    epoch = meta.get("epoch")
    if not isinstance(epoch, int) or epoch != len(history):
        raise ModelFileError(f"checkpoint {path!r} is inconsistent: epoch {epoch!r}, {len(history)} costs")
    return CheckpointState(epoch, history, weights, biases, opt_state, int(meta.get("optimizer_t", 0)), rng_state)


def restore(state, net, optimizer):
    """Put a checkpoint's weights, optimiser state and random state into ``net`` and ``optimizer``."""
    if len(state.optimizer_state) != len(optimizer.state) or any(
        s.shape != tuple(a.shape) for s, a in zip(state.optimizer_state, optimizer.state)
    ):
        raise ModelFileError(f"checkpoint's {optimizer.name} state does not fit this network")
    net.set_params(state.weights, state.biases)
    for dst, src in zip(optimizer.state, state.optimizer_state):
        dst[...] = net.ops.asarray(src, net.dtype)
    optimizer.t = state.optimizer_t
    net._rng.bit_generator.state = json.loads(json.dumps(state.rng_state))
