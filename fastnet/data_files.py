"""Reading user data for the command line: CSV with a header row, or ``.npz`` with X and y.

Every problem is reported as a ValueError that names the file, and where it
helps the column and line, so the command line can print it instead of a traceback.
"""

import csv
import os

import numpy


def load_table(path, target=None, require_target=True, features=None):
    """Read features and (optionally) labels from ``path``.

    Parameters
    ----------
    path : str
        ``.csv`` (first row: column names) or ``.npz`` (arrays ``X`` and ``y``;
        never unpickled).
    target : str, optional
        CSV column holding the labels; default the last column. Ignored for .npz.
    require_target : bool, default True
        False for prediction: a CSV then holds only features, unless ``target``
        names a column to drop.
    features : list of str, optional
        CSV only: read exactly these columns, in this order, as the features
        (the columns a model was trained on); other columns are left out.

    Returns
    -------
    X : ndarray of float64, shape (n_samples, n_features)
    y : ndarray or None
        Labels as read (strings stay strings; numbers become numbers).
    """
    if not os.path.isfile(path):
        raise ValueError(f"no data file at {path!r}")
    if path.endswith(".npz"):
        return _load_npz(path, require_target)
    return _load_csv(path, target, require_target, features)


def csv_columns(path):
    """The column names in the header row of a CSV file; None for ``.npz`` or an unreadable file."""
    if path.endswith(".npz"):
        return None
    try:
        with open(path, newline="") as fh:
            for row in csv.reader(fh):
                if any(cell.strip() for cell in row):
                    return [cell.strip() for cell in row]
    except (OSError, UnicodeDecodeError):
        return None  # load_table reports it, with the reason
    return None


def read_column(path, name, flag):
    """The cells of CSV column ``name`` as strings, one per data row (``--keep``); ``flag`` names the option."""
    columns = csv_columns(path)
    if columns is None:
        raise ValueError(f"{flag} {name!r} needs a CSV file with a header row; {path!r} is not one")
    if name not in columns:
        raise ValueError(f"{flag} {name!r}: {path!r} has no such column; columns: {', '.join(columns)}")
    i = columns.index(name)
    with open(path, newline="") as fh:
        rows = [row for row in csv.reader(fh) if any(cell.strip() for cell in row)]
    return [row[i].strip() if i < len(row) else "" for row in rows[1:]]


def _load_npz(path, require_target):
    try:
        with numpy.load(path, allow_pickle=False) as archive:
            X = archive["X"] if "X" in archive.files else None
            y = archive["y"] if "y" in archive.files else None
    except Exception as exc:  # zip, pickle and format errors all mean: not a usable .npz
        raise ValueError(f"{path!r} is not a readable .npz file ({type(exc).__name__}: {exc})") from None
    if X is None or (require_target and y is None):
        raise ValueError(f"{path!r} must hold an array 'X' (features){' and an array y (labels)' if require_target else ''}")
    return _as_features(path, X), y


def _load_csv(path, target, require_target, features=None):
    try:
        with open(path, newline="") as fh:
            rows = [row for row in csv.reader(fh) if any(cell.strip() for cell in row)]
    except UnicodeDecodeError:
        raise ValueError(f"{path!r} is not a text CSV file") from None
    if len(rows) < 2:
        raise ValueError(f"{path!r} needs a header row and at least one data row")
    header, body = [h.strip() for h in rows[0]], rows[1:]
    for line, row in enumerate(body, start=2):
        if len(row) != len(header):
            raise ValueError(f"{path!r} line {line} has {len(row)} fields, the header has {len(header)}")
    if target is None and require_target:
        target = header[-1]
    if target is not None and target not in header:
        raise ValueError(f"{path!r} has no column {target!r}; columns: {', '.join(header)}")
    t = header.index(target) if target is not None else None
    if features is not None:
        missing = [name for name in features if name not in header]
        if missing:
            raise ValueError(f"{path!r} lacks the feature columns {', '.join(missing)}; columns: {', '.join(header)}")
        columns = [header.index(name) for name in features]
    else:
        columns = [i for i in range(len(header)) if i != t]
    if not columns:
        raise ValueError(f"{path!r} has no feature columns besides the target {target!r}")
    X = numpy.empty((len(body), len(columns)))
    for line, row in enumerate(body, start=2):
        for j, i in enumerate(columns):
            try:
                X[line - 2, j] = float(row[i])
            except ValueError:
                raise ValueError(_not_a_number(path, header, body, line, i)) from None
    y = None
    if t is not None:
        labels = [row[t].strip() for row in body]
        try:
            y = numpy.array([float(v) for v in labels])
            if numpy.all(y == numpy.round(y)):
                y = y.astype(numpy.int64)
        except ValueError:
            y = numpy.array(labels)
    return _as_features(path, X), y


# Cells that spreadsheets and pandas write for "no value".
MISSING = ("", "na", "n/a", "nan", "null", "none", "?", "-")


def _is_number(text):
    try:
        float(text)
    except ValueError:
        return False
    return True


def _not_a_number(path, header, body, line, i):
    """Why cell (line, column i) is not a feature value, and how to fix it."""
    cell, name = body[line - 2][i], header[i]
    where = f"{path!r} line {line}, column {name!r}"
    if cell.strip().lower() in MISSING:
        return (f"{where}: the value is missing ({cell!r}); drop the rows with missing values or fill them "
                "(for example with the column's mean) first")
    if not any(_is_number(row[i]) for row in body if row[i].strip().lower() not in MISSING):
        return (f"{where}: {cell!r} is not a number, and no value of {name!r} is; if {name!r} holds the labels, "
                f"pass --target {name}; otherwise encode its categories as numbers first")
    return f"{where}: {cell!r} is not a number (feature columns must be numeric; encode categories first)"


def _as_features(path, X):
    X = numpy.asarray(X)
    if X.dtype.kind not in "fiub" or X.ndim != 2 or X.shape[0] == 0:
        raise ValueError(f"{path!r}: features must be a non-empty numeric 2-D array, got {X.dtype} {X.shape}")
    X = X.astype(numpy.float64)
    if not numpy.isfinite(X).all():
        raise ValueError(f"{path!r} contains NaN or Inf in the features; clean or impute them first")
    return X
