"""Reading and writing the command line's tables, without changing what they hold.

A CSV file is read as text: every cell stays the string it was (``02139``,
``NA`` and ``0.0`` included) and the raw text of every record is kept, so
that :meth:`TextTable.to_text` can write the kept records back byte for
byte. Every file is written through a temporary file in the target folder
and an atomic rename: an interrupted write never leaves a partial file.
"""

import bz2
import csv
import gzip
import io
import lzma
import os
import tempfile
import zipfile
import zlib
from pathlib import Path

PARQUET_SUFFIXES = (".parquet", ".pq")
#: Compression of a text file, by its suffix: (name, decompress, compress).
COMPRESSIONS = {
    ".gz": ("gzip", gzip.decompress, gzip.compress),
    ".bz2": ("bzip2", bz2.decompress, bz2.compress),
    ".xz": ("xz", lzma.decompress, lzma.compress),
}
_ZIP = ".zip"
_QUOTE = '"'


class TableError(ValueError):
    """A table that cannot be read or written; the message names the file."""


def is_parquet(path):
    """Whether ``path`` names a Parquet file (by its suffix)."""
    return str(path).lower().endswith(PARQUET_SUFFIXES)


#: How to install what reading and writing tables needs.
CLI_EXTRA = "pip install '.[cli]' in the sklearn-rmd checkout (or pip install pandas)"


def require_pandas():
    """Import pandas, or fail with an ImportError that says how to install it."""
    try:
        import pandas as pd
    except ImportError as error:
        raise ImportError(f"reading and writing tables needs pandas: {CLI_EXTRA}") from error
    return pd


def _require_pyarrow(path, verb):
    try:
        import pyarrow  # noqa: F401
    except ImportError as error:
        raise TableError(f"{path}: {verb} Parquet needs pyarrow: pip install pyarrow "
                         "(or use CSV)") from error


class TextTable:
    """A CSV file as text: its cells, and the raw text of each record.

    Parameters
    ----------
    pieces : list of str
      The file cut into records, each with its line ending; joined, they are
      the file's text.

    header : list of str
      Column names.

    rows : list of list of str
      Cells of each data row, as written (quotes removed).

    row_pieces : list of int
      Index in ``pieces`` of each data row (blank lines are pieces, not rows).

    sep : str
      The column separator.
    """

    def __init__(self, pieces, header, rows, row_pieces, sep):
        self.pieces = pieces
        self.header = header
        self.rows = rows
        self.row_pieces = row_pieces
        self.sep = sep

    def frame(self):
        """The cells as a DataFrame of strings, one column per header name."""
        pd = require_pandas()
        return pd.DataFrame(self.rows, columns=self.header, dtype=object)

    def to_text(self, keep=None, new_cells=None):
        """The file's text with some rows left out and some cells replaced.

        Parameters
        ----------
        keep : array-like of bool of shape (n_rows,) or None (default=None)
          Rows to write; None writes all.

        new_cells : dict or None (default=None)
          ``{row: (column_position, text)}``: cells to replace. The rest of
          such a row keeps its quoting and line ending.

        Returns
        -------
        text : str
          Every other piece of the input, unchanged.
        """
        pieces = list(self.pieces)
        for row, (column, text) in (new_cells or {}).items():
            piece = self.row_pieces[row]
            pieces[piece] = self._replace_cell(pieces[piece], self.rows[row], column, text)
        if keep is not None:
            for row in (i for i, kept in enumerate(keep) if not kept):
                pieces[self.row_pieces[row]] = ""
        return "".join(pieces)

    def _replace_cell(self, record, cells, column, text):
        body, ending = _split_ending(record)
        expected = list(cells)
        expected[column] = text
        start, stop = _field_spans(body, self.sep)[column]
        quoted = body.startswith(_QUOTE, start) or any(
            c in text for c in (self.sep, _QUOTE, "\n", "\r"))
        cell = _QUOTE + text.replace(_QUOTE, 2 * _QUOTE) + _QUOTE if quoted else text
        edited = body[:start] + cell + body[stop:]
        if _parse(edited, self.sep) == [expected]:
            return edited + ending
        # Quoting the span scan cannot follow: write the row in csv's own style.
        out = io.StringIO()
        csv.writer(out, delimiter=self.sep, lineterminator=ending or "").writerow(expected)
        return out.getvalue()


def _split_ending(record):
    for ending in ("\r\n", "\n", "\r"):
        if record.endswith(ending):
            return record[:-len(ending)], ending
    return record, ""


def _field_spans(body, sep):
    """(start, stop) of each field of one record, quotes included."""
    spans, start = [], 0
    while True:
        end = start
        if body.startswith(_QUOTE, start):
            end = start + 1
            while 0 <= end < len(body):
                end = body.find(_QUOTE, end)
                if end < 0 or not body.startswith(_QUOTE, end + 1):
                    break
                end += 2
            end = len(body) if end < 0 else end + 1
        stop = body.find(sep, end)
        if stop < 0:
            spans.append((start, len(body)))
            return spans
        spans.append((start, stop))
        start = stop + len(sep)


def _parse(text, sep):
    return list(csv.reader(io.StringIO(text, newline=""), delimiter=sep, strict=True))


def parse_csv_text(text, sep=",", name="the table"):
    """Cut CSV text into records and cells.

    Parameters
    ----------
    text : str
      The whole file. Quoted cells may hold separators, quotes (doubled) and
      line breaks.

    sep : str (default=",")
      The one-character column separator.

    name : str (default="the table")
      How error messages name the file.

    Returns
    -------
    table : TextTable

    Raises
    ------
    TableError
      Bad quoting, a row whose number of cells differs from the header's, a
      repeated column name, or no header.
    """
    if len(sep) != 1:
        raise TableError(f"--sep {sep!r}: the separator must be a single character")
    lines = []

    def source():
        for line in io.StringIO(text, newline=""):
            lines.append(line)
            yield line

    reader = csv.reader(source(), delimiter=sep, strict=True)
    pieces, header, rows, row_pieces, used = [], None, [], [], 0
    try:
        for cells in reader:
            pieces.append("".join(lines[used:reader.line_num]))
            used = reader.line_num
            if not cells:
                continue  # a blank line: copied, not a row
            if header is None:
                header = _header(cells, name)
            elif len(cells) != len(header):
                raise TableError(
                    f"{name}: line {reader.line_num} has {len(cells)} cells but the header "
                    f"has {len(header)}; fix that line (quote cells that hold {sep!r})")
            else:
                rows.append(cells)
                row_pieces.append(len(pieces) - 1)
    except csv.Error as error:
        raise TableError(f"{name}: cannot be parsed as CSV near line {reader.line_num} "
                         f"({error}); check its quoting and --sep") from error
    if header is None:
        raise TableError(f"{name}: the file is empty (no header row)")
    return TextTable(pieces, header, rows, row_pieces, sep)


def _header(cells, name):
    header = [c.lstrip("\ufeff") if i == 0 else c for i, c in enumerate(cells)]
    header = [c if c else f"Unnamed: {i}" for i, c in enumerate(header)]
    repeated = sorted({c for c in header if header.count(c) > 1})
    if repeated:
        raise TableError(f"{name}: the header names column {repeated[0]!r} more than once; "
                         "rename one of them")
    return header


def _compression(path):
    suffix = Path(str(path)).suffix.lower()
    return suffix if suffix in COMPRESSIONS or suffix == _ZIP else None


def _read_bytes(path):
    with open(path, "rb") as file:
        data = file.read()
    suffix = _compression(path)
    if suffix is None:
        return data
    kind = "zip" if suffix == _ZIP else COMPRESSIONS[suffix][0]
    try:
        if suffix != _ZIP:
            return COMPRESSIONS[suffix][1](data)
        with zipfile.ZipFile(io.BytesIO(data)) as archive:
            members = [m for m in archive.namelist() if not m.endswith("/")]
            if len(members) != 1:
                raise TableError(f"{path}: the zip archive holds {len(members)} files; "
                                 "it must hold exactly one table")
            return archive.read(members[0])
    except (OSError, EOFError, ValueError, lzma.LZMAError, zlib.error,
            zipfile.BadZipFile) as error:
        if isinstance(error, TableError):
            raise
        raise TableError(f"{path}: not a valid {kind} file, as its {suffix} suffix says "
                         f"({_first_line(error)}); decompress it or fix the name") from error


def _first_line(error):
    text = str(error).strip()
    return text.splitlines()[0] if text else type(error).__name__


def read_table(path, sep=None):
    """Read a CSV (TSV, compressed) file as text, or a Parquet file with pandas.

    Parameters
    ----------
    path : str
      The file: ``.parquet`` / ``.pq`` is Parquet (needs pyarrow); anything
      else is a UTF-8 text file, tab-separated for ``.tsv`` / ``.tab``,
      decompressed for ``.gz``, ``.bz2``, ``.xz`` and ``.zip``.

    sep : str or None (default=None)
      Column separator of a text file; None picks one from the suffix.

    Returns
    -------
    frame : pandas.DataFrame
      Text files: every cell a string, exactly as written.

    text : TextTable or None
      The text file's records, for a byte-exact copy; None for Parquet.

    Raises
    ------
    TableError
      Missing, empty, binary, badly compressed or unparsable file.
    """
    if not os.path.exists(path):
        raise TableError(f"{path}: no such file")
    if os.path.isdir(path):
        raise TableError(f"{path}: is a directory, not a data file")
    if os.path.getsize(path) == 0:
        raise TableError(f"{path}: the file is empty")
    if is_parquet(path):
        _require_pyarrow(path, "reading")
        try:
            return require_pandas().read_parquet(path), None
        except Exception as error:  # pyarrow raises its own error types
            raise TableError(f"{path}: not a readable Parquet file ({_first_line(error)})") \
                from error
    data = _read_bytes(path)
    if b"\x00" in data[:4096]:
        raise TableError(f"{path}: looks like a binary file, not a CSV text file")
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError as error:
        raise TableError(f"{path}: not a text CSV file (cannot decode it as UTF-8)") from error
    if sep is None:
        plain = str(path).lower().removesuffix(_compression(path) or "")
        sep = "\t" if plain.endswith((".tsv", ".tab")) else ","
    table = parse_csv_text(text, sep, name=str(path))
    return table.frame(), table


# ------------------------------------------------------------------ writing
def check_output(path, input_path=None, force=False):
    """Fail now, not after the training, if ``path`` cannot take the output.

    Parameters
    ----------
    path : str
      Where the output will go.

    input_path : str or None (default=None)
      The input file; writing over it is refused unless ``force``.

    force : bool (default=False)
      Allow ``path`` to be the input file.

    Raises
    ------
    TableError
      ``path`` is a directory, the input file (without ``force``), or
      read-only; its folder is missing or not writable; or Parquet is asked
      for without pyarrow.
    """
    if os.path.isdir(path):
        raise TableError(f"--out {path}: is a directory; give a file name")
    folder = os.path.dirname(os.path.abspath(path))
    if not os.path.isdir(folder):
        raise TableError(f"--out {path}: the folder {folder} does not exist")
    if (not force and input_path is not None and os.path.exists(path)
            and os.path.exists(input_path) and os.path.samefile(path, input_path)):
        raise TableError(f"--out {path}: is the input file, which would be replaced; "
                         "write to another file, or pass --force to overwrite the input")
    if os.path.exists(path) and not os.access(path, os.W_OK):
        raise TableError(f"--out {path}: the file is read-only")
    try:  # the only sure test of a folder's writability: write in it
        probe, probe_path = tempfile.mkstemp(dir=folder, prefix=".sklearn-rmd-probe-")
        os.close(probe)
        os.remove(probe_path)
    except OSError as error:
        raise TableError(f"--out {path}: cannot write in {folder} ({error.strerror})") \
            from error
    if is_parquet(path):
        _require_pyarrow(path, "writing")


def write_atomic(path, write):
    """Call ``write(temporary_path)``, then move the result onto ``path`` at once.

    The temporary file sits in ``path``'s folder and ends with its suffixes
    (pandas infers compression from them). On any exception, Ctrl-C
    included, it is removed and ``path`` is left as it was.

    Parameters
    ----------
    path : str
      The final file.

    write : callable
      Writes the whole output to the path it is given.
    """
    folder = os.path.dirname(os.path.abspath(path))
    suffix = "".join(Path(str(path)).suffixes[-2:])
    handle, temporary = tempfile.mkstemp(dir=folder, prefix=f".{Path(path).name}-",
                                         suffix=suffix)
    os.close(handle)
    try:
        write(temporary)
        os.chmod(temporary, _mode_for(path))
        os.replace(temporary, path)
    except BaseException:
        if os.path.exists(temporary):
            os.remove(temporary)
        raise


def _mode_for(path):
    """The new file's permissions: the replaced file's, or what the umask allows."""
    if os.path.exists(path):
        return os.stat(path).st_mode & 0o777
    umask = os.umask(0)
    os.umask(umask)
    return 0o666 & ~umask


def write_frame(frame, path, index):
    """Write a DataFrame as CSV (compressed by suffix) or Parquet, atomically."""
    if is_parquet(path):
        _require_pyarrow(path, "writing")
        write_atomic(path, lambda temporary: frame.to_parquet(temporary, index=index))
    else:
        write_atomic(path, lambda temporary: frame.to_csv(temporary, index=index))


def write_text(text, path):
    """Write text as UTF-8, compressed by ``path``'s suffix, atomically."""
    data = text.encode("utf-8")
    suffix = _compression(path)
    if suffix in COMPRESSIONS:
        data = COMPRESSIONS[suffix][2](data)
    elif suffix == _ZIP:
        member = Path(str(path)).name[:-len(_ZIP)]
        buffer = io.BytesIO()
        with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as archive:
            archive.writestr(member, data)
        data = buffer.getvalue()

    def write(temporary):
        with open(temporary, "wb") as file:
            file.write(data)

    write_atomic(path, write)
