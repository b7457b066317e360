"""A file of named columns as a reader yields it (CSV, Parquet), before any conversion:
one conversion (:mod:`alcli.data.readers`) turns it into a table, so whatever it learns to read
both formats read."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np

#: A column as a reader yields it: text cells ("" where missing), or numbers (NaN where
#: missing) when the file stores numbers (Parquet).
Column = list[str] | np.ndarray


@dataclass(frozen=True)
class Cells:
    """A file of named columns as read, before any conversion.

    Attributes
    ----------
    header : list of str
        The column names, in file order.
    n_records : int
    column : callable
        ``column(j)`` is the values of column ``j``: a list of ``n_records`` str, or an array
        of shape (n_records,) of numbers.
    where : callable
        ``where(i)`` names record ``i`` in a message: ``line 7`` (CSV), ``row 6`` (Parquet).
    """

    header: list[str]
    n_records: int
    column: Callable[[int], Column]
    where: Callable[[int], str]
