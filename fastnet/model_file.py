"""Model and checkpoint files: ``.npz`` archives that are never unpickled.

An archive holds one JSON string, ``meta`` (format name and version, the network's
settings, and for checkpoints the training position), plus plain numeric arrays:
``W0, b0, W1, b1, ...`` and, in checkpoints, ``history`` and the optimiser state
``opt0, opt1, ...``. Writes are atomic: a temporary file in the same folder is
renamed over the target only once it is complete, so a crash mid-write leaves
the previous file intact.
"""

import json
import os
import tempfile
import zipfile
import zlib

import numpy

FORMAT = "fastnet"
VERSION = 1  # bump when the layout changes; readers refuse newer files


# Every .npz (a zip archive) starts with these bytes.
_ZIP_MAGIC = b"PK\x03\x04"


class ModelFileError(ValueError):
    """A file that is not a readable fastnet model or checkpoint."""


def _umask():
    """The process's umask (read by setting it and putting it back: the only portable way)."""
    mask = os.umask(0o022)
    os.umask(mask)
    return mask


def write_archive(path, meta, arrays):
    """Atomically write ``meta`` (a JSON-ready dict) and ``arrays`` (name -> NumPy array) to ``path``.

    ``path`` is used exactly as given (no ``.npz`` is appended).
    """
    meta = dict(meta, format=FORMAT, version=VERSION)
    write_atomically(path, lambda fh: numpy.savez(fh, meta=numpy.array(json.dumps(meta)), **arrays))


def write_atomically(path, write):
    """Call ``write(binary_file)`` on a temporary file beside ``path``, then put it in ``path``'s place.

    A failure leaves ``path`` as it was and nothing beside it; the new file gets the
    mode any new file gets (the umask's).
    """
    path = os.fspath(path)
    folder = os.path.dirname(os.path.abspath(path))
    if os.path.isdir(path):  # named before the temporary file, which the OS error would name instead
        raise IsADirectoryError(f"{path!r} is a folder; give a file name")
    if not os.path.isdir(folder):
        raise FileNotFoundError(f"cannot write {path!r}: the folder {folder!r} does not exist")
    fd, tmp = tempfile.mkstemp(prefix=".fastnet-", suffix=".tmp", dir=folder)
    try:
        with os.fdopen(fd, "wb") as fh:
            write(fh)
            fh.flush()
            os.fsync(fh.fileno())
        os.chmod(tmp, 0o666 & ~_umask())  # mkstemp's file is private (0600): give it the mode any new file gets
        os.replace(tmp, path)
    except BaseException:
        if os.path.exists(tmp):
            os.remove(tmp)
        raise


def read_archive(path, kind=None):
    """Read and check an archive written by :func:`write_archive`.

    Parameters
    ----------
    path : str or path-like
    kind : {"model", "checkpoint"}, optional
        When given, the file's ``meta["kind"]`` must match.

    Returns
    -------
    meta : dict
    arrays : dict of str to numpy.ndarray

    Raises
    ------
    FileNotFoundError
        No such file.
    ModelFileError
        Truncated, corrupted, foreign, pickled, or from a newer format version.
    """
    path = os.fspath(path)
    if not os.path.isfile(path):
        raise FileNotFoundError(f"no model file at {path!r}")
    with open(path, "rb") as fh:
        start = fh.read(len(_ZIP_MAGIC))
    if start.startswith(b"\x93NUM"):
        raise ModelFileError(f"{path!r} holds a single NumPy array, not a fastnet model (.npz archive)")
    if start != _ZIP_MAGIC:
        # A CSV, a text file or a bare .npy: say what a model is, not how NumPy would
        # unpickle it (which would be unsafe).
        raise ModelFileError(f"{path!r} is not a fastnet model: models are .npz files written by "
                             "`fastnet train --save` or Network.save, and this file is not one")
    try:
        archive = numpy.load(path, allow_pickle=False)
        if not isinstance(archive, numpy.lib.npyio.NpzFile):
            raise ModelFileError(f"{path!r} holds a single NumPy array, not a fastnet model (.npz archive)")
        with archive:
            arrays = {name: archive[name] for name in archive.files}  # read all: surfaces CRC errors here
    except ModelFileError:
        raise
    except ValueError as exc:
        if "pickle" not in str(exc):
            raise ModelFileError(f"{path!r} is not a readable fastnet model: the file is truncated, corrupted or "
                                 f"of another format (ValueError: {exc})") from None
        raise ModelFileError(f"{path!r} is not a fastnet model: it holds pickled Python objects, which fastnet "
                             "never loads (models hold only numeric arrays)") from None
    except (zipfile.BadZipFile, zlib.error, EOFError, OSError, KeyError) as exc:
        raise ModelFileError(
            f"{path!r} is not a readable fastnet model: the file is truncated, corrupted or of another "
            f"format ({type(exc).__name__}: {exc})"
        ) from None
    meta = _meta(path, arrays.pop("meta", None))
    if kind is not None and meta.get("kind") != kind:
        raise ModelFileError(f"{path!r} is a fastnet {meta.get('kind')!r} file, expected a {kind!r} file")
    return meta, arrays


def _meta(path, raw):
    if raw is None or raw.dtype.kind != "U" or raw.ndim != 0:
        raise ModelFileError(f"{path!r} is an .npz archive but not a fastnet model (no fastnet metadata)")
    try:
        meta = json.loads(str(raw))
    except json.JSONDecodeError:
        raise ModelFileError(f"{path!r} has corrupted fastnet metadata") from None
    if not isinstance(meta, dict) or meta.get("format") != FORMAT:
        raise ModelFileError(f"{path!r} is an .npz archive but not a fastnet model")
    version = meta.get("version")
    if not isinstance(version, int) or version < 1:
        raise ModelFileError(f"{path!r} has an invalid format version {version!r}")
    if version > VERSION:
        raise ModelFileError(
            f"{path!r} was written by a newer fastnet (file format {version}; this version reads up "
            f"to {VERSION}): upgrade fastnet to load it"
        )
    return meta


def parameters_from(path, meta, arrays):
    """The ``(weights, biases)`` lists of an archive, checked against ``meta["layers"]``."""
    layers = meta.get("layers")
    if not isinstance(layers, list) or len(layers) < 2 or not all(isinstance(n, int) and n > 0 for n in layers):
        raise ModelFileError(f"{path!r} has an invalid layer list {layers!r}")
    weights, biases = [], []
    for l, (n_in, n_out) in enumerate(zip(layers[:-1], layers[1:])):
        W, b = arrays.get(f"W{l}"), arrays.get(f"b{l}")
        if W is None or b is None:
            raise ModelFileError(f"{path!r} is missing the parameters of layer {l} (W{l}, b{l})")
        if W.shape != (n_out, n_in) or b.shape != (n_out,) or W.dtype.kind != "f" or b.dtype.kind != "f":
            raise ModelFileError(
                f"{path!r}: layer {l} has W{l} {W.shape} {W.dtype} and b{l} {b.shape} {b.dtype}, "
                f"expected float arrays of shapes {(n_out, n_in)} and {(n_out,)}"
            )
        if not (numpy.isfinite(W).all() and numpy.isfinite(b).all()):
            raise ModelFileError(f"{path!r}: layer {l} holds NaN or Inf weights")
        weights.append(W)
        biases.append(b)
    return weights, biases
