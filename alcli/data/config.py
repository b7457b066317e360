"""The ``data`` section: where the records come from and how the test set is held out."""

from __future__ import annotations

from pathlib import Path
from typing import Literal

from pydantic import Field, field_validator, model_validator
from pydantic_core import PydanticCustomError

from alcli.data.preprocessing import PreprocessConfig
from alcli.schema import Section, did_you_mean, resolve_path

SKLEARN_DATASETS = ("breast_cancer", "digits", "iris", "wine")


class DataConfig(Section):
    source: str | None = Field(
        None,
        description="A bundled dataset: sklearn:iris, sklearn:wine, sklearn:breast_cancer "
        "or sklearn:digits. Give either source or path.",
    )
    path: Path | None = Field(
        None,
        description="A CSV or NPZ file, or an NPY file of features (memory-mapped: a pool larger "
        "than memory), relative to the config file. Give either source or path.",
    )
    labels_path: Path | None = Field(
        None,
        description="With an NPY pool: an NPY file of one class label per row (NaN where none "
        "is known); without it the pool is unlabeled (people label it).",
    )
    target: str = Field("target", description="CSV: the column holding the class label.")
    id: str | Literal[False] | None = Field(
        None,
        description="CSV, Parquet: the column holding record ids (default: a column named 'id' "
        "if there is one, else row numbers). false: the rows are numbered even if a column is "
        "named 'id', and that column is left out of the features (list it in data.features to "
        "use it).",
    )
    features: list[str] | None = Field(
        None, min_length=1, description="CSV: the feature columns (default: all but target and id)."
    )
    test_size: float | None = Field(
        None,
        ge=0,
        lt=1,
        description="Share of the labeled records held out as a stratified test set (default "
        "0.25 when there is no test_path); 0: no test set, so no test metrics (the run then "
        "ends by a budget, max_loops or a stop criterion that needs no labels).",
    )
    test_path: Path | None = Field(
        None, description="A labeled test file in the same format, instead of test_size."
    )
    classes: list[str | int] | None = Field(
        None,
        min_length=2,
        description="The class labels, declared up front (default: the labels the data holds): "
        "needed when the pool holds no labels yet; a label outside them is refused.",
    )
    preprocess: Literal["auto", "none"] | PreprocessConfig = Field(
        "auto",
        description="How columns become features. auto: numeric data as it is, and a table "
        "with any other column preprocessed by kind (numbers imputed and scaled, categories "
        "one-hot, text as TF-IDF, dates as components); none: numeric columns only; a mapping: "
        "always preprocess, with these settings (columns: per-column kinds).",
    )

    @field_validator("preprocess", mode="before")
    @classmethod
    def _preprocess_words(cls, value: object) -> object:
        return {} if value is True else ("none" if value is False else value)

    _resolve = field_validator("path", "test_path", "labels_path")(resolve_path)

    @field_validator("id", mode="before")
    @classmethod
    def _id_off_is_false(cls, value: object) -> object:
        # null stays "a column named id if there is one": every frozen config writes it.
        if value is True:
            raise PydanticCustomError(
                "data_id",
                "data.id: true names no column; give the id column's name, or false to number "
                "the rows instead of reading ids from a column",
            )
        return value

    @field_validator("source")
    @classmethod
    def _known_source(cls, value: str | None) -> str | None:
        if value is None:
            return value
        name = value.removeprefix("sklearn:")
        if not value.startswith("sklearn:") or name not in SKLEARN_DATASETS:
            allowed = ", ".join(f"sklearn:{n}" for n in SKLEARN_DATASETS)
            raise PydanticCustomError(
                "unknown_dataset",
                "Unknown dataset '{value}'{hint}. Available: {allowed}. For your own data use "
                "data.path (CSV or NPZ).",
                {
                    "value": value,
                    "allowed": allowed,
                    "hint": did_you_mean(value, [f"sklearn:{n}" for n in SKLEARN_DATASETS]),
                },
            )
        return value

    @model_validator(mode="after")
    def _one_source(self) -> DataConfig:
        if (self.source is None) == (self.path is None):
            raise PydanticCustomError(
                "data_source",
                "data: give exactly one of data.source (a bundled dataset) or data.path "
                "(a CSV or NPZ file)",
            )
        if self.features is not None:
            for role in ("target", "id"):
                column = getattr(self, role)
                if isinstance(column, str) and column in self.features:
                    raise PydanticCustomError(
                        "data_features",
                        "data.features: it lists '{column}', which is data.{role}; a model trained "
                        "on it would learn the answer. Remove it from data.features",
                        {"column": column, "role": role},
                    )
        npy = self.path is not None and self.path.suffix.lower() == ".npy"
        if self.labels_path is not None and not npy:
            raise PydanticCustomError(
                "data_labels_path",
                "data.labels_path: it gives the labels of an NPY pool (data.path: x.npy); a CSV "
                "or NPZ holds its own labels (data.target, or the NPZ's y); remove labels_path",
            )
        if npy and self.test_path is None and self.test_size != 0:
            raise PydanticCustomError(
                "data_npy_test",
                "data.test_path: an NPY pool is memory-mapped, and holding out a test set would "
                "copy it into memory; give a labeled test file (CSV or NPZ) as data.test_path",
            )
        if self.test_path is not None and self.test_size is not None:
            raise PydanticCustomError(
                "data_test",
                "data.test_path: give either data.test_size or data.test_path, not both",
            )
        return self

    @field_validator("classes")
    @classmethod
    def _distinct(cls, value: list | None) -> list | None:
        if value is not None and len({str(v) for v in value}) != len(value):
            raise PydanticCustomError("duplicate_class", "a class is listed twice")
        return value

    @property
    def preprocessing(self) -> PreprocessConfig | None:
        """The settings when every table is preprocessed (a mapping), else None."""
        return self.preprocess if isinstance(self.preprocess, PreprocessConfig) else None

    @property
    def has_test_set(self) -> bool:
        """Whether the run is scored on a test set (test_size: 0 means none)."""
        return has_test_set(self.test_path, self.test_size)

    @property
    def holdout_share(self) -> float:
        """The test share to split off when there is no test file."""
        return 0.25 if self.test_size is None else self.test_size

    @property
    def dataset_name(self) -> str | None:
        return self.source.removeprefix("sklearn:") if self.source else None


def has_test_set(test_path: object, test_size: float | None) -> bool:
    """Whether a data section (as config or as the frozen YAML reads) has a test set."""
    return test_path is not None or test_size != 0
