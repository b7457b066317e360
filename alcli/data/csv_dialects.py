"""CSV as spreadsheets write it, read back: the text encoding, Excel's ``sep=`` line and the
column separator. Shared by the data reader and the answers reader, so both take the same files.

What is guessed, in order:

1. The encoding. A byte-order mark decides it (UTF-8, UTF-16 as Excel's "Unicode text" writes,
   UTF-32). Without one the whole file must decode as UTF-8, else as cp1252 (Windows-1252, the
   "ANSI" code page of Excel's plain "CSV" on Western Windows; Latin-1 text reads the same). A
   file that is neither, or that holds a NUL character (a binary file, or UTF-16 without its
   mark), is refused.
2. The separator. A first line ``sep=;`` (Excel's own hint) names it. Otherwise it is the one of
   ``,`` ``;`` tab ``|`` that splits the header into two or more columns and each of the first
   100 lines into as many fields as the header. When several do, the file is refused rather
   than read with a guess; when none does, the one giving the header the most columns is taken,
   so that the line that does not fit is named.

Decimal commas are not decided here: a column's numbers are read by the data reader.
"""

from __future__ import annotations

import codecs
import csv
import itertools
from collections.abc import Callable, Iterable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

from alcli.errors import DataError

#: The separators spreadsheets write, in the order a tie is listed.
DELIMITERS = (",", ";", "\t", "|")
#: How many lines after the header the separator must fit.
SNIFF_LINES = 100
SAVE_AS_CSV_UTF8 = (
    "save it as CSV UTF-8 from your spreadsheet (Excel: File > Save As > CSV UTF-8 (Comma "
    "delimited); LibreOffice: File > Save As > Text CSV, character set Unicode (UTF-8))"
)
_CHUNK = 1 << 20
# UTF-32 LE's mark begins with UTF-16 LE's: test it first.
_BOMS = (
    (codecs.BOM_UTF32_LE, "utf-32"),
    (codecs.BOM_UTF32_BE, "utf-32"),
    (codecs.BOM_UTF8, "utf-8-sig"),
    (codecs.BOM_UTF16_LE, "utf-16"),
    (codecs.BOM_UTF16_BE, "utf-16"),
)
_NAMES = {",": "','", ";": "';'", "\t": "tab", "|": "'|'"}


def is_workbook(head: bytes) -> bool:
    """Whether a file starting with ``head`` is a zip: an .xlsx or .ods workbook, not CSV."""
    return head.startswith(b"PK\x03\x04")


def bom_encoding(head: bytes) -> str | None:
    """The encoding a byte-order mark at the start of ``head`` names, or None."""
    return next((encoding for bom, encoding in _BOMS if head.startswith(bom)), None)


def detect_encoding(chunks: Callable[[], Iterable[bytes]]) -> tuple[str | None, str]:
    """The encoding a text file is read with, by the rules of this module's docstring.

    Parameters
    ----------
    chunks : callable
        Returns the file's bytes from the start, in pieces; called once per encoding tried.

    Returns
    -------
    encoding : str or None
        A Python codec name (``utf-8-sig``, ``utf-16``, ``utf-32``, ``cp1252``); None when the
        bytes are none of them.
    problem : str
        When ``encoding`` is None, what is wrong, for a message: ``line 4 holds bytes that are
        not text in utf-8 or cp1252 (Windows-1252)``; else "".
    """
    head = next(iter(chunks()), b"")[:4]
    marked = bom_encoding(head)
    for encoding in (marked,) if marked else ("utf-8-sig", "cp1252"):
        line, nul = _first_undecodable_line(chunks(), encoding)
        if line is None:
            return encoding, ""
    at = f"line {line}" if line else "it"
    if nul:
        return None, (
            f"{at} holds a NUL character, so it is a binary file, or UTF-16 text without the "
            "byte-order mark Excel writes"
        )
    if marked:
        return (
            None,
            f"it starts with a {marked.upper()} byte-order mark but is not {marked.upper()} text",
        )
    return None, (
        f"{at} holds bytes that are not text in utf-8 or cp1252 (Windows-1252), the encodings "
        "spreadsheets save CSV in"
    )


def decode(raw: bytes) -> str | None:
    """The text of a whole file's bytes (its byte-order mark dropped), or None if it is not
    text in any encoding :func:`detect_encoding` accepts."""
    encoding, _ = detect_encoding(lambda: [raw])
    return None if encoding is None else raw.decode(encoding)


def sep_hint(first_line: str) -> str | None:
    """The separator Excel's hint line names (``sep=;``), or None if ``first_line`` is not one."""
    line = first_line.lstrip("\ufeff").rstrip("\r\n")
    if len(line) == 5 and line[:4].lower() == "sep=":
        return line[4]
    return None


class UnclearDelimiter(ValueError):
    """More than one separator fits the file's first lines.

    ``fits`` maps each separator that fits to the header's columns under it.
    """

    def __init__(self, fits: dict[str, list[str]]):
        self.fits = fits
        super().__init__(", ".join(_NAMES.get(d, repr(d)) for d in fits))


def sniff_delimiter(lines: Iterable[str], complete: bool) -> str:
    """The separator of a CSV whose first lines (header first) are ``lines``.

    Parameters
    ----------
    lines : iterable of str
        The first lines of the text, with their line ends.
    complete : bool
        Whether they are the whole file; if not, the last record may be cut off and is ignored.

    Raises
    ------
    UnclearDelimiter
        When more than one of :data:`DELIMITERS` fits.
    """
    lines = list(lines)
    fits: dict[str, list[str]] = {}
    widest = (0, ",")
    for delimiter in DELIMITERS:
        try:
            rows = list(csv.reader(lines, delimiter=delimiter))
        except csv.Error:
            continue
        if not complete:
            rows = rows[:-1]
        if not rows:
            continue
        header = rows[0]
        widest = max(widest, (len(header), delimiter), key=lambda w: w[0])
        if len(header) >= 2 and all(len(row) == len(header) for row in rows[1:] if row):
            fits[delimiter] = header
    if len(fits) > 1:
        raise UnclearDelimiter(fits)
    return next(iter(fits), widest[1])


@dataclass(frozen=True)
class CsvDialect:
    """How one CSV file is written.

    Attributes
    ----------
    encoding : str
        The Python codec it is read with.
    delimiter : str
    skip_lines : int
        1 when Excel's ``sep=`` line precedes the header, else 0.
    """

    encoding: str
    delimiter: str
    skip_lines: int = 0

    @contextmanager
    def records(self, path: Path) -> Iterator[Iterator[tuple[int, list[str]]]]:
        """The file's rows (the header first), each with the line it starts on (a quoted
        cell may span lines), read one at a time."""
        with path.open(newline="", encoding=self.encoding) as handle:
            for _ in range(self.skip_lines):
                handle.readline()
            yield _numbered(csv.reader(handle, delimiter=self.delimiter), self.skip_lines)


def detect_dialect(path: Path) -> CsvDialect:
    """How the CSV at ``path`` is written: its encoding, separator and ``sep=`` line.

    Raises
    ------
    DataError
        The file is a workbook, is not text in an encoding spreadsheets write, or more than one
        separator fits; the message says how to re-save it.
    """
    try:
        with path.open("rb") as handle:
            head = handle.read(4)
        encoding, problem = detect_encoding(lambda: _chunks(path))
    except OSError as exc:
        raise DataError(f"{path}: cannot be read ({exc.strerror})") from None
    if is_workbook(head):
        raise DataError(
            f"{path}: is a spreadsheet workbook (.xlsx, .ods) or another zip file, not CSV; "
            f"{SAVE_AS_CSV_UTF8}"
        )
    if encoding is None:
        raise DataError(f"{path}: cannot be read as CSV: {problem}; {SAVE_AS_CSV_UTF8}")
    try:
        with path.open(newline="", encoding=encoding) as handle:
            first = handle.readline()
            hinted = sep_hint(first)
            if hinted is not None:
                return CsvDialect(encoding, hinted, skip_lines=1)
            sample = [first, *itertools.islice(handle, SNIFF_LINES)]
            complete = handle.read(1) == ""
    except (OSError, UnicodeDecodeError) as exc:
        raise DataError(f"{path}: cannot be read as CSV: {exc}") from None
    try:
        return CsvDialect(encoding, sniff_delimiter(sample, complete))
    except UnclearDelimiter as unclear:
        options = "; ".join(
            f"{_NAMES[d]} gives {len(h)} columns ({', '.join(c.strip() for c in h)})"
            for d, h in unclear.fits.items()
        )
        hints = " or ".join(f"sep={d}" for d in unclear.fits if d != "\t") or "sep=;"
        raise DataError(
            f"{path}: cannot tell which character separates the columns: {options}. Add a "
            f"first line that names it, as Excel does ({hints}), or {SAVE_AS_CSV_UTF8}"
        ) from None


def _numbered(reader, skipped: int) -> Iterator[tuple[int, list[str]]]:
    start = 1 + skipped
    for row in reader:
        yield start, row
        start = reader.line_num + 1 + skipped


def _chunks(path: Path) -> Iterator[bytes]:
    with path.open("rb") as handle:
        while chunk := handle.read(_CHUNK):
            yield chunk


def _first_undecodable_line(chunks: Iterable[bytes], encoding: str) -> tuple[int | None, bool]:
    """(None, False) when all of ``chunks`` decode strictly as ``encoding`` with no NUL; else
    the line of the first byte that does not (0 when it cannot be told), and whether that is a
    NUL."""
    decoder = codecs.getincrementaldecoder(encoding)("strict")
    single_byte_newlines = encoding in ("utf-8-sig", "cp1252")
    lines = 1
    try:
        for chunk in chunks:
            text = decoder.decode(chunk)
            if "\x00" in text:
                return lines + text[: text.index("\x00")].count("\n"), True
            lines += text.count("\n")
        text = decoder.decode(b"", final=True)
        if "\x00" in text:
            return lines, True
    except UnicodeDecodeError as exc:
        if not single_byte_newlines:
            return 0, False
        return lines + exc.object[: exc.start].count(b"\n"), False
    return None, False
