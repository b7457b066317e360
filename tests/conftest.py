"""Shared helpers: write configs and data files as a user would, run the CLI in-process."""

from __future__ import annotations

import csv
import io
from pathlib import Path
from typing import Any

import numpy as np
import pytest
import yaml
from typer.testing import CliRunner

from alcli.cli import app

TINY = {
    "name": "tiny",
    "seed": 0,
    "data": {"source": "sklearn:iris", "test_size": 0.3},
    "model": {
        "estimator": "sklearn.linear_model.LogisticRegression",
        "params": {"max_iter": 300},
    },
    "init": {"method": "random", "size": 10},
    "strategy": {"name": "margin"},
    "loop_size": {"schedule": "constant", "size": 5},
    "stop": {"max_loops": 3},
}


def merge(base: dict, changes: dict) -> dict:
    """A deep copy of ``base`` with ``changes`` merged in (None deletes a key)."""
    out = {k: (merge(v, {}) if isinstance(v, dict) else v) for k, v in base.items()}
    for key, value in changes.items():
        if value is None:
            out.pop(key, None)
        elif isinstance(value, dict) and isinstance(out.get(key), dict):
            out[key] = merge(out[key], value)
        else:
            out[key] = value
    return out


@pytest.fixture
def write_config(tmp_path: Path):
    """Write a YAML config (TINY with changes) into tmp_path and return its path."""

    def write(changes: dict[str, Any] | None = None, name: str = "experiment.yaml") -> Path:
        path = tmp_path / name
        path.write_text(yaml.safe_dump(merge(TINY, changes or {}), sort_keys=False))
        return path

    return write


def write_csv(path: Path, header: list[str], rows: list[list[Any]], **kwargs: Any) -> Path:
    with path.open("w", newline="", encoding=kwargs.pop("encoding", "utf-8")) as handle:
        writer = csv.writer(handle, **kwargs)
        writer.writerow(header)
        writer.writerows(rows)
    return path


@pytest.fixture(scope="module")
def dask_cluster():
    """A real dask cluster: a scheduler on 127.0.0.1 and two single-threaded worker processes
    (no dashboards), for one test module."""
    distributed = pytest.importorskip("distributed", reason="the dask extra is not installed")
    with distributed.LocalCluster(
        n_workers=2,
        threads_per_worker=1,
        processes=True,
        host="127.0.0.1",
        dashboard_address=None,
        worker_dashboard_address=None,
    ) as running:
        yield running


@pytest.fixture
def cli():
    """Invoke the CLI in-process; returns the click Result."""
    runner = CliRunner()

    def invoke(*args: str):
        return runner.invoke(app, [str(a) for a in args], terminal_width=120)

    return invoke


def read_csv(path: Path) -> list[dict[str, str]]:
    with path.open(newline="") as handle:
        return list(csv.DictReader(handle))


def checkpointed(state: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
    """A strategy's ``state`` after an npz round trip without pickles, as a checkpoint
    holds it."""
    buffer = io.BytesIO()
    np.savez(buffer, **state)
    buffer.seek(0)
    with np.load(buffer, allow_pickle=False) as npz:
        return {key: npz[key] for key in npz.files}


def readme_code(heading: str) -> str:
    """The first Python block of the README after ``heading``, as a user would copy it."""
    import re

    readme = (Path(__file__).parents[1] / "README.md").read_text()
    section = readme[readme.index(heading) :]
    return re.search(r"```python\n(.*?)```", section, re.DOTALL).group(1)


def progress_after(**changes: Any):
    """Where a run stands after loop 2 (60 labeled, 500 left), with ``changes``."""
    from alcli.stopping import Progress

    base = {
        "loop": 2,
        "n_labeled": 60,
        "metrics": {"accuracy": 0.8},
        "next_size": 20,
        "n_unlabeled": 500,
    }
    return Progress(**{**base, **changes})


def run_into(cli, config: Path, run_dir: Path) -> Path:
    """``alcli run CONFIG --run-dir RUN_DIR --quiet``, which must succeed; returns RUN_DIR."""
    result = cli("run", config, "--run-dir", run_dir, "--quiet")
    assert result.exit_code == 0, result.output
    return run_dir


def loop_dirs(run_dir: Path) -> list[Path]:
    """A run's loop folders, in order."""
    return sorted((run_dir / "loops").iterdir())
