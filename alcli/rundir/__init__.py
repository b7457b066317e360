"""The run directory: layout, lock, status, checkpoints, and the one schema of its tables."""

from __future__ import annotations

from alcli.rundir.config import OutputConfig
from alcli.rundir.directory import SCHEMA_VERSION, STATUSES, RunDir, default_run_path
from alcli.rundir.tables import (
    OPTIONAL_COLUMNS,
    STEPS,
    LoopRecord,
    metrics_header,
    metrics_row,
    read_metrics_csv,
    step_seconds,
)

__all__ = [
    "OPTIONAL_COLUMNS",
    "SCHEMA_VERSION",
    "STATUSES",
    "STEPS",
    "LoopRecord",
    "OutputConfig",
    "RunDir",
    "default_run_path",
    "metrics_header",
    "metrics_row",
    "read_metrics_csv",
    "step_seconds",
]
