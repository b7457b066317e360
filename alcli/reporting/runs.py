"""Read run directories into :class:`RunCurve`: the few files compare needs (run.json,
config.yaml, metrics.csv, loop 0's selection), fast enough for thousands of runs."""

from __future__ import annotations

import csv
import platform
from collections.abc import Iterator
from importlib import metadata
from pathlib import Path
from typing import Any

import numpy as np
import yaml

from alcli.data.config import has_test_set
from alcli.errors import RunDirError
from alcli.reporting.comparison import RunCurve
from alcli.rundir import RunDir, read_metrics_csv, step_seconds
from alcli.schema import flatten

#: Config keys that name a run rather than describe the experiment.
NAMING_KEYS = ("name", "seed")
NAMING_SECTIONS = ("output", "tracking")  # where runs go and are tracked
_Loader = getattr(yaml, "CSafeLoader", yaml.SafeLoader)  # libyaml: 10x faster on 1,000 runs


def is_run_dir(path: Path) -> bool:
    return (path / "run.json").is_file() and (path / "config.yaml").is_file()


def run_dirs_under(path: Path) -> Iterator[Path]:
    """Every run directory at or below ``path`` (a run, a sweep, a folder of runs), sorted;
    folders the tool writes while it works (``.tmp-*``) and loop folders are not entered."""
    if is_run_dir(path):
        yield path
        return
    if not path.is_dir():
        return
    for child in sorted(path.iterdir()):
        if child.is_dir() and not child.name.startswith("."):
            yield from run_dirs_under(child)


def read_run_curve(path: Path) -> RunCurve:
    """One run directory's learning curves and identity.

    Raises
    ------
    RunDirError
        When a file compare needs is missing or not as alcli writes it.
    """
    meta = RunDir.open(path).read_meta()
    try:
        config = yaml.load((path / "config.yaml").read_text(), Loader=_Loader)
    except (OSError, yaml.YAMLError) as exc:
        raise RunDirError(f"{path / 'config.yaml'} cannot be read: {exc}") from None
    if not isinstance(config, dict) or not isinstance(config.get("metrics"), list):
        raise RunDirError(f"{path / 'config.yaml'} is not a config alcli wrote")
    metric_names = recorded_metrics(config)
    loops = read_metrics_csv(path / "metrics.csv", metric_names)
    n_labeled = np.array([row["n_labeled"] for row in loops], dtype=np.int64)
    cost = None
    if loops and "cost" in loops[0]:
        cost = np.cumsum([row["cost"] for row in loops], dtype=float)
    return RunCurve(
        path=path,
        seed=int(config.get("seed", 0)),
        status=str(meta.get("status")),
        keys=describing_keys(config),
        metric_names=metric_names,
        n_labeled=n_labeled,
        cost=cost,
        seconds=np.cumsum([step_seconds(row) for row in loops], dtype=float),
        values={m: np.array([row[m] for row in loops], dtype=float) for m in metric_names},
        data_fingerprint=str(meta.get("data_fingerprint")),
        initial=_initial_set(path) if loops else (),
    )


def recorded_metrics(config: dict[str, Any]) -> list[str]:
    """The metrics a run of this frozen config records (none without a test set)."""
    data = config.get("data") or {}
    if not has_test_set(data.get("test_path"), data.get("test_size")):
        return []
    return list(config["metrics"])


def describing_keys(config: dict[str, Any]) -> dict[str, Any]:
    """The config flattened to key paths (``strategy.name``), lists kept as values, without
    the keys that name the run."""
    return flatten(config, skip=(*NAMING_KEYS, *NAMING_SECTIONS))


def _initial_set(path: Path) -> tuple[int, ...]:
    selected = path / "loops" / "0000" / "selected.csv"
    try:
        with selected.open(newline="") as handle:
            return tuple(sorted(int(row["index"]) for row in csv.DictReader(handle)))
    except (OSError, KeyError, ValueError) as exc:
        raise RunDirError(f"{selected} cannot be read: {exc}") from None


#: The libraries whose versions a report shows (a result is only as reproducible as they are).
REPORTED_LIBRARIES = ("alcli", "numpy", "scipy", "scikit-learn", "pydantic", "matplotlib")


def library_versions() -> dict[str, str]:
    versions = {"python": platform.python_version()}
    for name in REPORTED_LIBRARIES:
        try:
            versions[name] = metadata.version(name)
        except metadata.PackageNotFoundError:
            versions[name] = "not installed"
    return versions
