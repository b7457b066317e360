"""Data: the data config, readers (bundled, CSV, NPZ), the pool / test split and its
fingerprint, and records as people read them."""

from __future__ import annotations

from alcli.classes import UNLABELED
from alcli.data.config import SKLEARN_DATASETS, DataConfig
from alcli.data.dataset import Dataset, load_dataset
from alcli.data.readers import Table, read_id_list, read_table, refuse_unlabeled, rows_where
from alcli.data.records import RecordSource

__all__ = [
    "SKLEARN_DATASETS",
    "UNLABELED",
    "DataConfig",
    "Dataset",
    "RecordSource",
    "Table",
    "load_dataset",
    "read_id_list",
    "read_table",
    "refuse_unlabeled",
    "rows_where",
]
