"""Reading user data for the command line: CSV and TSV files, ``.parquet``, or ``.npz`` with X and y.

Tables are read by pandas' C reader, which is quick (a 96 MB CSV in about half a
second, where Python's ``csv`` module took 8) and already knows separators, encodings
and decimal commas. fastnet adds what a reader cannot guess and a user should be told:

* the separator is a comma, a semicolon or a tab, whichever the header row has most
  of; with semicolons or tabs, decimal commas (``5,1``) are read as numbers;
* a file that is not UTF-8 is named as such, with the fix (``--encoding``);
* a header that repeats a name, or a first row that looks like data (every cell a
  number) is refused, unless ``--no-header`` says there is none;
* a row with more fields than the header is named by its line.

Every problem is a ValueError that names the file, and where it helps the column and
line, so the command line prints it instead of a traceback.
"""

import os
import re

import numpy

SEPARATORS = (",", ";", "\t")
DECIMAL_COMMA = re.compile(r"^\s*[-+]?\d+,\d+\s*$")
# Cells that spreadsheets and pandas write for "no value".
MISSING = ("", "na", "n/a", "nan", "null", "none", "?", "-")
SNIFF_LINES = 50


class TableOptions:
    """How to read a table: its ``encoding`` and whether its first row is a ``header`` (``--encoding``, ``--no-header``)."""

    def __init__(self, encoding=None, header=True):
        self.encoding = encoding or "utf-8"
        self.header = header


DEFAULT = TableOptions()


def load_table(path, target=None, require_target=True, features=None, options=DEFAULT):
    """Read features and (optionally) labels from ``path``.

    Parameters
    ----------
    path : str
        ``.csv``/``.tsv``/``.txt`` (first row: column names, unless
        ``options.header`` is False), ``.parquet``, or ``.npz`` (arrays ``X`` and
        ``y``; never unpickled).
    target : str, optional
        Column holding the labels; default the last column. Ignored for .npz.
    require_target : bool, default True
        False for prediction: the table then holds only features, unless ``target``
        names a column to drop.
    features : list of str, optional
        Read exactly these columns, in this order, as the features (the columns a
        model was trained on); other columns are left out.
    options : TableOptions

    Returns
    -------
    X : ndarray of float64, shape (n_samples, n_features)
    y : ndarray or None
        Labels as read (strings stay strings; whole numbers become integers).
    """
    if not os.path.isfile(path):
        raise ValueError(f"no data file at {path!r}")
    if path.endswith(".npz"):
        return _load_npz(path, require_target)
    if path.endswith(".parquet"):
        frame = read_frame(path, options)
        columns, target = _columns(path, list(frame.columns), target, require_target, features)
        X, y = _matrix_and_labels(path, frame, columns, target)
        _last.clear()  # the table is read: a big file's frame is not kept beside its matrix
        # Under pandas' copy-on-write the matrix may be a read-only view of the frame; the
        # caller owns X (the command line splits and standardises it in place).
        return numpy.require(_as_features(path, X), requirements="W"), y
    return _load_text(path, target, require_target, features, options)


def _columns(path, header, target, require_target, features):
    """The feature columns to read and the target column (None for none), checked against the header."""
    if target is None and require_target:
        target = header[-1]
    if target is not None and target not in header:
        raise ValueError(f"{path!r} has no column {target!r}; columns: {', '.join(header)}")
    if features is not None:
        missing = [name for name in features if name not in header]
        if missing:
            raise ValueError(f"{path!r} lacks the feature columns {', '.join(missing)}; columns: {', '.join(header)}")
        columns = list(features)
    else:
        columns = [name for name in header if name != target]
    if not columns:
        raise ValueError(f"{path!r} has no feature columns besides the target {target!r}")
    return columns, target


def _matrix_and_labels(path, frame, columns, target):
    """One frame's (or chunk's) feature matrix and label column, every cell checked."""
    _refuse_short_rows(path, frame)
    if target is not None and frame[target].isna().any():
        row = int(frame.index[frame[target].isna().to_numpy()][0])
        line = _data_line(path, row, frame.attrs)[0] if "sep" in frame.attrs else row + 2
        raise ValueError(f"{path!r} line {line}: the label (column {target!r}) is missing; drop or label that row")
    return _numeric(path, frame, columns), None if target is None else frame[target]


def _load_text(path, target, require_target, features, options):
    """A text table read a chunk at a time into one preallocated matrix: the parser's buffers stay small."""
    import pandas

    _last.clear()
    rows = _rows_to_reserve(path)
    X = None
    start = 0
    pieces = []
    for chunk in _text_chunks(path, options):
        if X is None:
            columns, target = _columns(path, list(chunk.columns), target, require_target, features)
            X = numpy.empty((rows, len(columns)))
        part, label = _matrix_and_labels(path, chunk, columns, target)
        end = start + len(part)
        if end > len(X):  # more rows than reserved (later lines shorter than the first ones): grow, doubling
            X = numpy.concatenate([X[:start], numpy.empty((max(end, 2 * len(X)) - start, len(columns)))])
        X[start:end] = part
        start = end
        if label is not None:
            pieces.append(label)
    if X is None or start == 0:
        raise ValueError(f"{path!r} needs a header row and at least one data row")
    y = _labels(pandas.concat(pieces)) if pieces else None
    return _as_features(path, X[:start]), y


def _rows_to_reserve(path):
    """Rows to reserve for the matrix: the file's size over the shortest of its first lines (64 KiB of them).

    That is at least the number of data rows unless later lines are shorter still (then
    the matrix grows). Reserving too many costs nothing: the reserved rows past the
    last one read are never written, and memory never written takes no room. And it
    stays within bounds: a line of C values holds at least 2C - 1 bytes, so the rows
    reserved, of C values each, are at most about 4x the file's size in bytes.
    Counting the lines instead read the whole file once more (0.14 s of 1.5 for 116 MiB).
    """
    lengths, read = [], 0
    with open(path, "rb") as fh:
        for line in fh:  # whole lines, however long
            read += len(line)
            if line.strip():
                lengths.append(len(line) + (not line.endswith(b"\n")))
            if read >= 1 << 16:
                break
    return os.path.getsize(path) // max(min(lengths, default=2), 2) + 1


def csv_columns(path, options=DEFAULT):
    """The column names of a table file; None for ``.npz`` or an unreadable file (load_table says why)."""
    if path.endswith(".npz"):
        return None
    try:
        if path.endswith(".parquet"):
            return list(read_frame(path, options).columns)
        return list(next(_text_chunks(path, options, rows=1)).columns)  # the header, not the whole file
    except (ValueError, OSError, StopIteration):
        return None


def read_column(path, name, flag, options=DEFAULT):
    """The cells of column ``name`` as strings, one per data row (``--keep``); ``flag`` names the option."""
    columns = csv_columns(path, options)
    if columns is None:
        raise ValueError(f"{flag} {name!r} needs a CSV file with a header row; {path!r} is not one")
    if name not in columns:
        raise ValueError(f"{flag} {name!r}: {path!r} has no such column; columns: {', '.join(columns)}")
    return [str(v).strip() for v in read_frame(path, options)[name].fillna("").tolist()]


_last = {}  # the last table read: predict asks for its columns, a kept column and the features


def read_frame(path, options=DEFAULT):
    """The table in ``path`` as a pandas DataFrame with string column names, checked (see the module's docstring)."""
    stat = os.stat(path)
    key = (os.path.abspath(path), stat.st_mtime_ns, stat.st_size, options.encoding, options.header)
    if _last.get("key") != key:
        _last.clear()
        frame = _read_parquet(path) if path.endswith(".parquet") else _read_text(path, options)
        _last.update(key=key, frame=frame)
    return _last["frame"]


def _read_parquet(path):
    import pandas

    try:
        frame = pandas.read_parquet(path)
    except ImportError as exc:
        from .install_hint import install_hint

        raise ValueError(f"reading {path!r} needs pyarrow ({exc}); pip install pyarrow, or {install_hint('parquet')}")
    except Exception as exc:  # pyarrow's errors for a damaged or foreign file
        raise ValueError(f"{path!r} is not a readable .parquet file ({type(exc).__name__}: {exc})") from None
    frame.columns = [str(c) for c in frame.columns]
    _refuse_duplicates(path, list(frame.columns))
    return frame


CHUNK_ROWS = 20_000  # rows parsed at a time: 200,000 rows x 65 read with 156 MiB beside the interpreter (454 in one piece)


def _read_text(path, options):
    """The whole text table as one frame (for its columns, or a kept column)."""
    import pandas

    chunks = list(_text_chunks(path, options))
    frame = chunks[0] if len(chunks) == 1 else pandas.concat(chunks)
    frame.attrs.update(chunks[0].attrs)
    if frame.shape[0] == 0:
        raise ValueError(f"{path!r} needs a header row and at least one data row")
    return frame


def _text_chunks(path, options, rows=CHUNK_ROWS):
    """The text table in chunks of CHUNK_ROWS rows (global row numbers as the index), separator and header checked."""
    import pandas

    sep, decimal = _sniff(path, options)
    try:
        reader = pandas.read_csv(path, sep=sep, decimal=decimal, encoding=options.encoding,
                                 header=0 if options.header else None, skipinitialspace=True, skip_blank_lines=True,
                                 keep_default_na=False, na_values=list(MISSING) + [m.upper() for m in MISSING],
                                 chunksize=rows)
        with reader:
            for chunk in reader:
                chunk.attrs.update(sep=sep, encoding=options.encoding, header=options.header)
                chunk.columns = [str(i + 1) for i in range(chunk.shape[1])] if not options.header else \
                    [str(c).strip() for c in chunk.columns]
                yield chunk
    except UnicodeDecodeError as exc:
        raise ValueError(_not_utf8(path, options.encoding, exc)) from None
    except pandas.errors.ParserError as exc:
        found = re.search(r"Expected (\d+) fields in line (\d+), saw (\d+)", str(exc))
        if found:
            expected, line, saw = found.groups()
            raise ValueError(f"{path!r} line {line} has {saw} fields, the header has {expected}") from None
        raise ValueError(f"{path!r} is not a readable table ({exc})") from None
    except pandas.errors.EmptyDataError:
        raise ValueError(f"{path!r} is empty") from None


def _sniff(path, options):
    """The separator and decimal mark, from the first lines; the header row checked (names, not data)."""
    lines = _first_lines(path, options.encoding)
    if not lines:
        raise ValueError(f"{path!r} is empty")
    sep = max(SEPARATORS, key=lambda s: lines[0].count(s))
    cells = [[c.strip().strip('"') for c in line.split(sep)] for line in lines]
    decimal = "."
    if sep != "," and any(DECIMAL_COMMA.match(c) for row in cells[1:] for c in row):
        decimal = ","
    if options.header:
        _refuse_duplicates(path, cells[0])
        if all(_is_number(c.replace(",", ".") if decimal == "," else c) for c in cells[0]):
            raise ValueError(
                f"the first row of {path!r} looks like data (every cell is a number: {', '.join(cells[0][:4])}"
                f"{', ...' if len(cells[0]) > 4 else ''}), not column names; if the file has no header row, pass "
                "--no-header (its columns are then named 1, 2, ... and the last is the target)")
    return sep, decimal


def _first_lines(path, encoding):
    """The first non-blank lines of a text file, to choose the separator and the decimal mark."""
    lines = []
    try:
        with open(path, encoding=encoding, newline="") as fh:
            for line in fh:
                if line.strip():
                    lines.append(line.rstrip("\r\n").lstrip("\ufeff"))
                    if len(lines) == SNIFF_LINES:
                        break
    except UnicodeDecodeError as exc:
        raise ValueError(_not_utf8(path, encoding, exc)) from None
    except LookupError:
        raise ValueError(f"--encoding {encoding!r} is not an encoding Python knows (try utf-8, latin-1, cp1252)") from None
    return lines


def _not_utf8(path, encoding, exc):
    return (f"{path!r} is not {encoding} text (byte {exc.object[exc.start:exc.start + 1]!r} at offset {exc.start} "
            "cannot be decoded): re-save it as UTF-8, or pass its encoding with --encoding (e.g. --encoding latin-1 "
            "for Western European files from older spreadsheets)")


def _refuse_duplicates(path, names):
    names = [n.strip() for n in names]
    repeated = sorted({n for n in names if names.count(n) > 1})
    if repeated:
        raise ValueError(f"{path!r} names the column(s) {', '.join(map(repr, repeated))} more than once; give every "
                         "column its own name (a repeated column would be fed to the model twice)")


def _refuse_short_rows(path, frame):
    """A row with fewer fields than the header (which pandas fills with NaN) is named by its line, not padded."""
    if "sep" not in frame.attrs:
        return  # parquet: no rows of text
    empty_last = frame.index[frame.iloc[:, -1].isna().to_numpy()]
    if not len(empty_last):
        return
    first = int(empty_last[0])
    line, text = _data_line(path, first, frame.attrs)
    fields = text.count(frame.attrs["sep"]) + 1
    if fields < frame.shape[1]:
        raise ValueError(f"{path!r} line {line} has {fields} fields, the header has {frame.shape[1]}")


def _data_line(path, row, attrs):
    """The line number in the file and the text of data row ``row`` (blank lines are not rows)."""
    seen = -1 if attrs["header"] else 0
    with open(path, encoding=attrs["encoding"], newline="") as fh:
        for number, text in enumerate(fh, start=1):
            if text.strip():
                if seen == row:
                    return number, text.rstrip("\r\n")
                seen += 1
    return row + 2, ""


def _numeric(path, frame, columns):
    """The feature columns as one float64 matrix; a cell that is not a number is named with its line."""
    import pandas

    values = frame[columns]
    if all(pandas.api.types.is_numeric_dtype(values[c]) and not values[c].isna().any() for c in columns):
        return values.to_numpy(numpy.float64)
    for name in columns:
        column = values[name]
        numbers = pandas.to_numeric(column, errors="coerce")
        bad = numpy.flatnonzero(numbers.isna().to_numpy())
        if len(bad):
            row = int(frame.index[bad[0]])  # the row in the whole file (a chunk's index continues the last)
            line = _data_line(path, row, frame.attrs)[0] if "sep" in frame.attrs else row + 2
            raise ValueError(_not_a_number(path, name, column.iloc[bad[0]], line, numbers))
    return values.apply(pandas.to_numeric).to_numpy(numpy.float64)


def _not_a_number(path, name, cell, line, numbers):
    """Why ``cell`` of column ``name`` on ``line`` is not a feature value, and how to fix it."""
    cell = "" if cell is None or (isinstance(cell, float) and numpy.isnan(cell)) else str(cell)
    where = f"{path!r} line {line}, column {name!r}"
    if cell.strip().lower() in MISSING:
        return (f"{where}: the value is missing; drop the rows with missing values or fill them "
                "(for example with the column's mean) first")
    if numbers.isna().all():
        return (f"{where}: {cell!r} is not a number, and no value of {name!r} is; if {name!r} holds the labels, "
                f"pass --target {name}; otherwise encode its categories as numbers first")
    return f"{where}: {cell!r} is not a number (feature columns must be numeric; encode categories first)"


def _labels(column):
    """A label column as numbers when every cell is one (whole numbers as integers), else as stripped strings."""
    import pandas

    numbers = pandas.to_numeric(column, errors="coerce")
    if not numbers.isna().any():
        y = numbers.to_numpy()
        return y.astype(numpy.int64) if numpy.all(y == numpy.round(y)) else y.astype(numpy.float64)
    return numpy.array([str(v).strip() for v in column.fillna("").tolist()])


def _is_number(text):
    try:
        float(text)
    except ValueError:
        return False
    return True


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


def _as_features(path, X):
    X = numpy.asarray(X)
    if X.dtype.kind not in "fiub" or X.ndim != 2 or X.shape[0] == 0:
        raise ValueError(f"{path!r}: features must be a non-empty numeric 2-D array, got {X.dtype} {X.shape}")
    X = X.astype(numpy.float64, copy=False)
    if not numpy.isfinite(X).all():
        raise ValueError(f"{path!r} contains NaN or Inf in the features; clean or impute them first")
    return X
