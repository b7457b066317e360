"""The sweep directory (DESIGN.md's): the frozen sweep file and plan, one status row per run,
the runs, the results.

Layout::

    sweep.yaml     the sweep file as given, with its base config inlined and --set applied
    plan.json      the expanded grid: cell id -> folder, overrides, frozen config
    status.csv     one row per run: cell, seed, state, attempts, run directory
    runs/<cell>/seed-<k>/   ordinary run directories
    results/       curves.csv, summary.csv (written when every run has ended)
    report.html    one self-contained file: tables and plots

The runs' own directories are the truth about them: status.csv is rewritten from them and
from what the sweep saw, so a sweep killed at any instant loses at most its attempt counts.
"""

from __future__ import annotations

import contextlib
import csv
import os
import shutil
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import yaml

from alcli.atomic import DIR_MODE, TMP_PREFIX, csv_text, exclusive, uninterrupted, write_atomic
from alcli.errors import RunDirError
from alcli.experiments.plan import Plan, RunSpec
from alcli.reporting.runs import is_run_dir
from alcli.rundir import RunDir

STATUS_COLUMNS = ["cell", "seed", "state", "attempts", "run_dir"]
#: A run not started yet; the others are run.json's statuses.
PENDING = "pending"


def is_sweep_dir(path: Path) -> bool:
    return (path / "plan.json").is_file() and (path / "sweep.yaml").is_file()


class SweepDir:
    def __init__(self, path: Path):
        self.path = path

    @classmethod
    def create(cls, path: Path, sweep: dict[str, Any], plan: Plan) -> SweepDir:
        """Make the directory with sweep.yaml, plan.json and status.csv in one rename.

        Raises
        ------
        RunDirError
            When ``path`` already holds a sweep or other files.
        """
        if is_sweep_dir(path):
            raise RunDirError(
                f"{path} already holds a sweep. Resume it with `alcli resume {path}`, or "
                "choose another --sweep-dir."
            )
        if path.exists() and (not path.is_dir() or any(path.iterdir())):
            raise RunDirError(
                f"{path} exists and is not an empty directory; choose another --sweep-dir."
            )
        try:
            path.parent.mkdir(parents=True, exist_ok=True)
            with uninterrupted():
                staging = Path(
                    tempfile.mkdtemp(dir=path.parent, prefix=f"{TMP_PREFIX}{path.name}.")
                )
                try:
                    staging.chmod(DIR_MODE)
                    (staging / "runs").mkdir()
                    write_atomic(staging / "sweep.yaml", yaml.safe_dump(sweep, sort_keys=False))
                    write_atomic(staging / "plan.json", plan.to_json())
                    write_atomic(staging / "status.csv", _status_text(_fresh_status(plan)))
                    os.replace(staging, path)
                except OSError:
                    shutil.rmtree(staging, ignore_errors=True)
                    raise
        except OSError as exc:
            raise RunDirError(f"cannot create the sweep directory {path}: {exc}") from None
        return cls(path)

    @classmethod
    def open(cls, path: Path) -> SweepDir:
        if not is_sweep_dir(path):
            raise RunDirError(f"{path} is not a sweep directory (no plan.json or sweep.yaml).")
        return cls(path)

    @contextlib.contextmanager
    def lock(self) -> Iterator[None]:
        with exclusive(self.path / ".lock") as held:
            if not held:
                raise RunDirError(
                    f"{self.path} is in use by another alcli sweep; wait for it to finish, or "
                    "stop it (Ctrl-C) and then `alcli resume` it."
                )
            yield

    # --- reading --------------------------------------------------------------------------

    def read_plan(self) -> Plan:
        try:
            return Plan.from_json((self.path / "plan.json").read_text())
        except (OSError, ValueError, KeyError, TypeError) as exc:
            raise RunDirError(
                f"{self.path / 'plan.json'} cannot be read ({exc}); it was changed by hand. "
                "Start the sweep again with `alcli sweep`."
            ) from None

    def read_sweep(self) -> dict[str, Any]:
        try:
            sweep = yaml.safe_load((self.path / "sweep.yaml").read_text())
        except (OSError, yaml.YAMLError) as exc:
            raise RunDirError(f"{self.path / 'sweep.yaml'} cannot be read: {exc}") from None
        if not isinstance(sweep, dict):
            raise RunDirError(f"{self.path / 'sweep.yaml'} is not a sweep file alcli wrote")
        return sweep

    def run_path(self, spec: RunSpec) -> Path:
        return self.path / spec.path

    def run_state(self, spec: RunSpec) -> str:
        """The run's status from its own directory (``pending`` before it exists)."""
        path = self.run_path(spec)
        if not is_run_dir(path):
            return PENDING
        try:
            return str(RunDir.open(path).read_meta()["status"])
        except RunDirError:
            return "failed"

    def read_attempts(self) -> dict[str, int]:
        try:
            with (self.path / "status.csv").open(newline="") as handle:
                return {
                    f"{row['cell']}/seed-{row['seed']}": int(row["attempts"])
                    for row in csv.DictReader(handle)
                }
        except (OSError, KeyError, ValueError):
            return {}  # rebuilt from the runs themselves below

    # --- writing --------------------------------------------------------------------------

    def write_status(self, plan: Plan, states: dict[str, str], attempts: dict[str, int]) -> None:
        rows = [
            [
                spec.cell,
                spec.seed,
                states.get(spec.key, PENDING),
                attempts.get(spec.key, 0),
                spec.path,
            ]
            for spec in plan.runs
        ]
        write_atomic(self.path / "status.csv", _status_text(rows), sync=False)

    def write_result(self, name: str, text: str) -> Path:
        target = self.path / name
        target.parent.mkdir(exist_ok=True)
        write_atomic(target, text, sync=False)
        return target


def _fresh_status(plan: Plan) -> list[list[Any]]:
    return [[spec.cell, spec.seed, PENDING, 0, spec.path] for spec in plan.runs]


def _status_text(rows: list[list[Any]]) -> str:
    return csv_text(STATUS_COLUMNS, rows)
