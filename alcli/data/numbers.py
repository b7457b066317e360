"""Numbers in text as spreadsheets write them: a decimal point, or a decimal comma ("1,5",
"1.234,5") in the dialects of locales that use one.

A column is read with decimal commas only when every non-empty cell in it is a number written
that way and at least one has a comma, so text that holds commas ("a, b") is never changed; a
column where every comma could as well be a thousands separator ("1,234") is refused rather
than guessed.
"""

from __future__ import annotations

import re

import numpy as np


class NotNumber(ValueError):
    """A cell that cannot be read as a number: ``record`` is its index in the column."""

    def __init__(self, record: int, message: str):
        self.record, self.message = record, message


#: A number as a spreadsheet writes it with a decimal comma ("1,5", "-0,25", "1.234,5",
#: "1,5E-03").
_COMMA_DECIMAL = re.compile(r"^[+-]?(\d{1,3}(\.\d{3})+|\d+),\d+([eE][+-]?\d+)?$")
#: A column of them, joined by NUL: each cell empty, whole, grouped by thousands points
#: ("1.234"), or with a decimal comma.
_COMMA_COLUMN = re.compile(
    r"(?:(?:[+-]?(?:\d{1,3}(?:\.\d{3})+|\d+)(?:,\d+(?:[eE][+-]?\d+)?)?)?\0)*"
)
#: "1,234" and "12,500" could also be whole numbers grouped by a thousands comma.
_COMMA_THOUSANDS = re.compile(r"^[+-]?[1-9]\d{0,2}(,\d{3})+$")
_THOUSANDS_THEN_POINT = re.compile(r"^[+-]?\d{1,3}(,\d{3})+(\.\d+)?$")


def parse_numbers(values: list[str]) -> np.ndarray:
    """A feature column as float64, shape (n_records,); empty cells are NaN.

    Decimal commas are read only in a column where every non-empty cell is a number written
    with one (and one at least has a comma), so text that holds commas is never changed.

    Raises
    ------
    NotNumber
        The first cell that is not a number, with the message saying why.
    """
    cells = [cell.strip() for cell in values]
    try:
        return _floats(cells)
    except ValueError:
        pass  # no cell with a decimal comma parses: only now are the cells looked at
    converted = _decimal_commas(cells)
    if converted is not cells:
        return _floats(converted)
    bad = [i for i, cell in enumerate(cells) if cell and not is_float(cell)]
    # Text among numbers is the culprit; only when every cell is a number, written with a
    # decimal point or a decimal comma, is the mix itself at fault.
    record = next((i for i in bad if not _COMMA_DECIMAL.match(cells[i])), bad[0])
    raise NotNumber(record, _not_a_number(cells[record]))


def _decimal_commas(cells: list[str]) -> list[str]:
    """The cells with decimal commas written as points, when the column is one of numbers with
    decimal commas; else the cells unchanged."""
    # The column joined into one string: one regex match and two replaces run over it at C
    # speed. NUL is the separator: no cell of text that could be decoded holds one.
    joined = "\0".join(cells)
    if (
        "," not in joined
        or joined.count("\0") != len(cells) - 1
        or not _COMMA_COLUMN.fullmatch(joined + "\0")
    ):
        return cells
    commas = [i for i, cell in enumerate(cells) if "," in cell]
    if not any("." in cells[i] or not _COMMA_THOUSANDS.match(cells[i]) for i in commas):
        # Every comma could be a thousands separator ("1,234"): a guess would be off by 1000.
        cell = cells[commas[0]]
        raise NotNumber(
            commas[0],
            f"'{cell}' could be {cell.replace(',', '.')} (a decimal comma) or "
            f"{cell.replace(',', '')} (a thousands separator), as could every comma in the "
            "column; in your spreadsheet, format its numbers without thousands separators, or "
            "with other than 3 decimals",
        )
    return joined.replace(".", "").replace(",", ".").split("\0")


def _floats(cells: list[str]) -> np.ndarray:
    # "nan" goes in the list: written into a str array, it would be cut to the array's width.
    return np.array([cell or "nan" for cell in cells], dtype=str).astype(np.float64)


def is_float(cell: str) -> bool:
    """Whether Python reads the text as a float."""
    try:
        float(cell)
    except ValueError:
        return False
    return True


def _not_a_number(cell: str) -> str:
    hint = ""
    if _COMMA_DECIMAL.match(cell):
        hint = (
            " (a decimal comma, in a column whose other cells are written differently; write "
            "all of its numbers the same way)"
        )
    elif _THOUSANDS_THEN_POINT.match(cell):
        hint = (
            " (it has thousands separators; format the column's numbers without them in your "
            "spreadsheet)"
        )
    return (
        f"'{cell}' is not a number{hint}; feature columns must be numeric (list the numeric "
        "ones in data.features)"
    )
