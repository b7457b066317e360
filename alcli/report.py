"""Read a run directory into a report: a table, JSON or CSV. Never unpickles anything."""

from __future__ import annotations

import csv
import json
from pathlib import Path
from typing import Any

import numpy as np
import yaml
from rich.table import Table

from alcli.errors import RunDirError
from alcli.metrics import aulc, labels_to_reach
from alcli.rundir import RunDir

_REQUIRED_COLUMNS = ("loop", "n_labeled", "loop_size", "n_predictions")
_INT_COLUMNS = (*_REQUIRED_COLUMNS, "n_skipped", "label_errors")
_TEXT_COLUMNS = ("strategy",)


def load_report(path: Path) -> dict[str, Any]:
    """The run's metadata, a summary, and one dict per complete loop (metrics.csv's keys)."""
    rundir = RunDir.open(path)
    meta = rundir.read_meta()
    try:
        config = yaml.safe_load(rundir.config_path.read_text())
    except (OSError, yaml.YAMLError) as exc:
        raise RunDirError(f"{rundir.config_path} cannot be read: {exc}") from None
    metric_names = config.get("metrics") if isinstance(config, dict) else None
    if not isinstance(metric_names, list):
        raise RunDirError(f"{rundir.config_path} has no list of metrics; it was changed by hand")
    loops = _read_metrics_csv(path / "metrics.csv", metric_names)
    return {
        "run": {"path": str(path), **meta},
        "summary": _summary(loops, metric_names, (config.get("stop") or {}).get("target")),
        "loops": loops,
    }


def to_json(report: dict[str, Any]) -> str:
    return json.dumps(report, indent=2) + "\n"


def to_csv(path: Path) -> str:
    """metrics.csv as it is on disk (an empty string before the first loop completes)."""
    metrics = RunDir.open(path).path / "metrics.csv"
    return metrics.read_text() if metrics.exists() else ""


def to_table(report: dict[str, Any]) -> Table:
    """A rich table: one row per loop, the summary in the caption."""
    run, loops, summary = report["run"], report["loops"], report["summary"]
    title = f"{run.get('name', '')}  ·  {run['status']}"
    if run.get("stop_reason"):
        title += f" ({run['stop_reason']})"
    table = Table(title=title, caption=_caption(summary), title_justify="left")
    if not loops:
        table.add_column("no loop has completed yet")
        return table
    metric_names = summary["metric_names"]
    # Columns the run has: skips (people), cumulative cost (prices), wrong labels (noise).
    extra = [key for key in ("n_skipped", "cost", "label_errors") if key in loops[0]]
    titles = {"n_skipped": "skipped", "cost": "total cost", "label_errors": "wrong labels"}
    for column in ("loop", "labeled", "size", "strategy", *metric_names):
        table.add_column(column, justify="left" if column == "strategy" else "right")
    for key in extra:
        table.add_column(titles[key], justify="right")
    table.add_column("seconds", justify="right")
    spent = 0.0
    for row in loops:
        seconds = sum(v for k, v in row.items() if k.endswith("_s"))
        spent += row.get("cost", 0.0)
        cells = {
            "n_skipped": str(row.get("n_skipped", "")),
            "cost": f"{spent:.2f}",
            "label_errors": str(row.get("label_errors", "")),
        }
        table.add_row(
            str(row["loop"]),
            str(row["n_labeled"]),
            str(row["loop_size"]),
            row["strategy"],
            *(f"{row[m]:.4f}" for m in metric_names),
            *(cells[key] for key in extra),
            f"{seconds:.2f}",
        )
    return table


def _read_metrics_csv(path: Path, metric_names: list[str]) -> list[dict[str, Any]]:
    if not path.exists():
        return []
    with path.open(newline="") as handle:
        rows = list(csv.DictReader(handle))
    try:
        return [_typed(row, metric_names) for row in rows]
    except (KeyError, TypeError, ValueError):
        raise RunDirError(
            f"{path} is not as alcli writes it; it was changed by hand. `alcli resume` "
            "rewrites it from the loop folders."
        ) from None


def _typed(row: dict[str, str], metric_names: list[str]) -> dict[str, Any]:
    """A metrics.csv row with its numbers as numbers (KeyError if a metric is missing)."""
    for name in (*_REQUIRED_COLUMNS, *metric_names):
        row[name]
    return {key: _cell(key, value) for key, value in row.items()}


def _cell(key: str, value: str) -> Any:
    if key in _TEXT_COLUMNS:
        return value
    if key in _INT_COLUMNS:
        return int(value) if value != "" else None
    return float(value)


def _summary(loops: list[dict], metric_names: list[str], target: dict | None) -> dict[str, Any]:
    summary: dict[str, Any] = {
        "loops": len(loops),
        "n_labeled": loops[-1]["n_labeled"] if loops else 0,
        "metric_names": metric_names,
        "final": {m: loops[-1][m] for m in metric_names} if loops else {},
        "aulc": {},
        "seconds": sum(v for row in loops for k, v in row.items() if k.endswith("_s")),
    }
    if loops and "cost" in loops[0]:
        summary["cost"] = sum(row["cost"] for row in loops)
    if loops and "label_errors" in loops[0]:
        wrong = sum(row["label_errors"] or 0 for row in loops)
        summary["label_errors"] = wrong
        summary["label_error_rate"] = wrong / max(summary["n_labeled"], 1)
    if loops and "n_skipped" in loops[0]:
        summary["n_skipped"] = sum(row["n_skipped"] or 0 for row in loops)
    if loops:
        n_labeled = np.array([row["n_labeled"] for row in loops])
        for m in metric_names:
            summary["aulc"][m] = aulc(n_labeled, np.array([row[m] for row in loops]))
        if target:
            values = np.array([row[target["metric"]] for row in loops])
            summary["labels_to_target"] = labels_to_reach(n_labeled, values, target["value"])
    return summary


def _caption(summary: dict[str, Any]) -> str:
    parts = [
        f"{summary['n_labeled']} labels in {summary['loops']} loops",
        f"{summary['seconds']:.1f} s",
    ]
    parts += [f"AULC {m} {v:.4f}" for m, v in summary["aulc"].items()]
    if "cost" in summary:
        parts.append(f"cost {summary['cost']:.2f}")
    if "label_errors" in summary:
        parts.append(
            f"{summary['label_errors']} wrong labels "
            f"({summary['label_error_rate']:.1%} of all labels)"
        )
    if summary.get("n_skipped"):
        parts.append(f"{summary['n_skipped']} skipped")
    if "labels_to_target" in summary:
        reached = summary["labels_to_target"]
        parts.append("target not reached" if reached is None else f"target at {reached} labels")
    return "  ·  ".join(parts)
