"""Preprocessing by column kind: numbers imputed and scaled, categories one-hot encoded, text
as TF-IDF word and character n-grams, dates as their components. Fit once per run on the whole
pool (it needs no labels), applied identically to the test set, and again identically on
resume (it is computed from the same data and config, never saved).

``data.preprocess`` is ``auto`` by default: numeric data is used as it is (as before
preprocessing existed), and a table with any other column is preprocessed with the kinds
inferred below. ``none`` refuses non-numeric columns; a mapping always preprocesses, with its
settings and per-column kinds.
"""

from __future__ import annotations

import re
from typing import Any, Literal

import numpy as np
from pydantic import Field, PositiveInt, field_validator

from alcli.data.numbers import is_float
from alcli.errors import DataError, preview
from alcli.schema import Section

Kind = Literal["numeric", "categorical", "text", "date"]
#: Few distinct values, short: a category. More, or longer: text.
MAX_CATEGORIES_INFERRED = 50
TEXT_MIN_WORDS = 3
_DATE = re.compile(r"^\d{4}[-/]\d{2}[-/]\d{2}([ T]\d{2}:\d{2}(:\d{2}(\.\d+)?)?)?$")


class NumericPrep(Section):
    impute: Literal["median", "mean", "zero"] = Field(
        "median", description="What a missing number becomes."
    )
    scale: bool = Field(True, description="Standardize each column (mean 0, deviation 1).")


class CategoricalPrep(Section):
    max_categories: PositiveInt | None = Field(
        50,
        description="Categories kept per column (the most frequent); the rarer ones share one "
        "column. null: all.",
    )


class TextPrep(Section):
    word_ngrams: tuple[PositiveInt, PositiveInt] = Field(
        (1, 2), description="Word n-gram range, e.g. [1, 2]: words and pairs of words."
    )
    char_ngrams: tuple[PositiveInt, PositiveInt] | None = Field(
        (2, 4), description="Character n-gram range inside words; null: none."
    )
    max_features: PositiveInt | None = Field(
        50_000, description="The most frequent n-grams kept per column and kind."
    )
    min_df: PositiveInt = Field(1, description="Keep n-grams found in at least this many records.")
    lowercase: bool = True
    sublinear_tf: bool = Field(True, description="1 + log(count) instead of the raw count.")

    @field_validator("word_ngrams", "char_ngrams")
    @classmethod
    def _ordered(cls, value: tuple[int, int] | None) -> tuple[int, int] | None:
        if value is not None and value[0] > value[1]:
            raise ValueError(f"the range [{value[0]}, {value[1]}] is reversed")
        return value


class DatePrep(Section):
    encode: Literal["components", "ordinal"] = Field(
        "components",
        description="components: year, month, day, weekday, day of year (and hour when times "
        "are given); ordinal: days since 1970-01-01.",
    )


class PreprocessConfig(Section):
    columns: dict[str, Kind] = Field(
        default_factory=dict,
        description="Column -> its kind (numeric, categorical, text, date), where the inferred "
        "one is not right.",
    )
    numeric: NumericPrep = NumericPrep()
    categorical: CategoricalPrep = CategoricalPrep()
    text: TextPrep = TextPrep()
    date: DatePrep = DatePrep()


# --- kinds ------------------------------------------------------------------------------------


def infer_kind(cells: np.ndarray) -> Kind:
    """A column's kind from its non-empty cells (strings)."""
    values = cells[cells != ""]
    if _all_numbers(values):
        return "numeric"
    if all(_DATE.match(v) for v in values.tolist()):
        return "date"
    words = np.char.count(values.astype(str), " ") + 1
    distinct = np.unique(values).shape[0]
    few = distinct <= MAX_CATEGORIES_INFERRED and distinct <= max(2, values.shape[0] // 2)
    return "categorical" if few and words.mean() < TEXT_MIN_WORDS else "text"


def column_kinds(
    names: list[str], cells: np.ndarray, declared: dict[str, str], where: str
) -> dict[str, Kind]:
    """Every feature column's kind: declared (checked against its values) or inferred.

    Raises
    ------
    DataError
        A declared column the data lacks, an empty column, a kind its values do not fit.
    """
    unknown = [name for name in declared if name not in names]
    if unknown:
        raise DataError(
            f"{where}: data.preprocess.columns names {preview(unknown)}, not a feature column; "
            f"the feature columns are {preview(names, 12)}"
        )
    kinds: dict[str, Kind] = {}
    for j, name in enumerate(names):
        column = cells[:, j]
        if not (column != "").any():
            raise DataError(
                f"{where}, column '{name}': every cell is empty; drop the column (list the "
                "others in data.features)"
            )
        kind = declared.get(name)
        if kind is None:
            kind = infer_kind(column)  # fits its values by construction
        else:
            _check_fits(kind, column, name, where)
        kinds[name] = kind  # type: ignore[assignment]
    return kinds


def _check_fits(kind: str, column: np.ndarray, name: str, where: str) -> None:
    values = column[column != ""]
    if kind == "numeric" and not _all_numbers(values):
        bad = next(v for v in values.tolist() if not is_float(v))
        raise DataError(
            f"{where}, column '{name}': declared numeric, but '{_short(bad)}' is not a number; "
            "declare it categorical or text in data.preprocess.columns, or fix the value"
        )
    if kind == "date":
        bad = next((v for v in values.tolist() if not _DATE.match(v)), None)
        if bad is not None:
            raise DataError(
                f"{where}, column '{name}': declared a date, but '{_short(bad)}' is not one; "
                "dates are written YYYY-MM-DD (optionally with a time, HH:MM[:SS])"
            )
    if kind == "text" and not np.char.str_len(values.astype(str)).any():
        raise DataError(f"{where}, column '{name}': declared text, but it holds no text")


def _all_numbers(values: np.ndarray) -> bool:
    try:
        values.astype(np.float64)
    except ValueError:
        return False
    return True


def _short(value: str) -> str:
    return value if len(value) <= 40 else value[:37] + "..."


# --- the transformer --------------------------------------------------------------------------


def build_preprocessor(names: list[str], kinds: dict[str, Kind], cfg: PreprocessConfig) -> Any:
    """A scikit-learn ColumnTransformer over an array of strings (one column per feature)."""
    from sklearn.compose import ColumnTransformer
    from sklearn.feature_extraction.text import TfidfVectorizer
    from sklearn.impute import SimpleImputer
    from sklearn.pipeline import FeatureUnion, make_pipeline
    from sklearn.preprocessing import FunctionTransformer, OneHotEncoder, StandardScaler

    def scaled(*steps: Any) -> Any:
        return make_pipeline(*steps, *([StandardScaler()] if cfg.numeric.scale else []))

    impute = (
        SimpleImputer(strategy="constant", fill_value=0.0)
        if cfg.numeric.impute == "zero"
        else SimpleImputer(strategy=cfg.numeric.impute)
    )
    parts: list[tuple[str, Any, Any]] = []
    numeric = [j for j, n in enumerate(names) if kinds[n] == "numeric"]
    if numeric:
        to_float = FunctionTransformer(_to_float, feature_names_out="one-to-one")
        parts.append(("numeric", scaled(to_float, impute), numeric))
    categorical = [j for j, n in enumerate(names) if kinds[n] == "categorical"]
    if categorical:
        encoder = OneHotEncoder(
            handle_unknown="infrequent_if_exist" if cfg.categorical.max_categories else "ignore",
            max_categories=cfg.categorical.max_categories,
            sparse_output=True,
        )
        parts.append(("categorical", encoder, categorical))
    for j, name in enumerate(names):
        if kinds[name] == "text":
            text = cfg.text
            common = {
                "max_features": text.max_features,
                "min_df": text.min_df,
                "lowercase": text.lowercase,
                "sublinear_tf": text.sublinear_tf,
                "dtype": np.float64,
            }
            vectorizers = [("words", TfidfVectorizer(ngram_range=text.word_ngrams, **common))]
            if text.char_ngrams is not None:
                chars = TfidfVectorizer(analyzer="char_wb", ngram_range=text.char_ngrams, **common)
                vectorizers.append(("chars", chars))
            parts.append((f"text_{name}", FeatureUnion(vectorizers), j))  # j: a 1-D column
        elif kinds[name] == "date":
            encode = _date_components if cfg.date.encode == "components" else _date_ordinal
            dates = FunctionTransformer(encode, feature_names_out=_date_names(cfg.date.encode))
            parts.append((f"date_{name}", scaled(dates, SimpleImputer(strategy="median")), [j]))
    sparse = any(kinds[n] in ("text", "categorical") for n in names)
    return ColumnTransformer(parts, sparse_threshold=1.0 if sparse else 0.0)


def fit_transform(preprocessor: Any, pool: np.ndarray, test: np.ndarray) -> tuple[Any, Any]:
    """Fit on the pool (no labels needed) and transform pool and test the same way; float64,
    sparse matrices in CSR (rows are what the loop takes)."""
    X = _as_float_rows(preprocessor.fit_transform(pool))
    X_test = _as_float_rows(preprocessor.transform(test)) if test.shape[0] else None
    if X_test is None:
        X_test = X[:0]
    return X, X_test


def _as_float_rows(X: Any) -> Any:
    import scipy.sparse as sp

    if sp.issparse(X):
        return sp.csr_matrix(X, dtype=np.float64)
    return np.ascontiguousarray(X, dtype=np.float64)


def _to_float(cells: np.ndarray) -> np.ndarray:
    cells = np.asarray(cells, dtype=object).astype(str)
    return np.where(cells == "", "nan", cells).astype(np.float64)


def _dates(cells: np.ndarray) -> np.ndarray:
    flat = np.asarray(cells, dtype=object).astype(str).ravel()
    text = np.char.replace(np.where(flat == "", "NaT", flat), "/", "-")
    return np.array(text, dtype="datetime64[s]")


def _date_components(cells: np.ndarray) -> np.ndarray:
    when = _dates(cells)
    missing = np.isnat(when)
    days = when.astype("datetime64[D]")
    years = days.astype("datetime64[Y]")
    months = days.astype("datetime64[M]")
    parts = [
        years.astype(np.int64) + 1970,
        (months - years).astype(np.int64) + 1,
        (days - months).astype(np.int64) + 1,
        (days.astype(np.int64) + 3) % 7,  # 1970-01-01 was a Thursday: Monday is 0
        (days - years).astype(np.int64) + 1,
        (when - days).astype(np.int64) / 3600.0,
    ]
    out = np.column_stack(parts).astype(np.float64)
    out[missing] = np.nan
    return out


def _date_ordinal(cells: np.ndarray) -> np.ndarray:
    when = _dates(cells)
    out = (when.astype(np.int64) / 86400.0).reshape(-1, 1)
    out[np.isnat(when).reshape(-1, 1)] = np.nan
    return out


def _date_names(encode: str):
    names = (
        ["year", "month", "day", "weekday", "day_of_year", "hour"]
        if encode == "components"
        else ["days_since_1970"]
    )
    return lambda transformer, features_in: np.array(names, dtype=object)
