"""Reports: run directories read into tables and JSON/CSV (never unpickled)."""

from __future__ import annotations

from alcli.reporting.run_report import caption, load_report, to_csv, to_json

__all__ = ["caption", "load_report", "to_csv", "to_json"]
