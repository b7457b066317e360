"""A full disk or a read-only folder: one clear message (which file, how much space), exit 1,
the run `stopped` with nothing half-written, and resumable to exactly the result left alone
once there is room.

An injected ENOSPC always runs; a real full disk (a small tmpfs) and a read-only folder (the
tmpfs remounted read-only) need root to mount, and are skipped with the reason otherwise.
"""

from __future__ import annotations

import errno
import json
import os
import shutil
import subprocess
from pathlib import Path

import pytest
import yaml

from alcli.rundir import RunDir
from tests.conftest import TINY, merge

CONFIG = merge(
    TINY,
    {
        "init": {"size": 6},
        "loop_size": {"size": 2},
        "stop": {"max_loops": 30},
        "output": {"fsync": "every_loop"},
    },
)


def without_timings(path: Path) -> list[list[str]]:
    rows = [line.split(",") for line in path.read_text().splitlines()]
    keep = [i for i, name in enumerate(rows[0]) if not name.endswith("_s")]
    return [[row[i] for i in keep] for row in rows]


def meta(run: Path) -> dict:
    return json.loads((run / "run.json").read_text())


def leftovers(run: Path) -> list[str]:
    return [str(p) for p in run.rglob(".tmp-*")]


@pytest.fixture(scope="module")
def config(tmp_path_factory) -> Path:
    path = tmp_path_factory.mktemp("config") / "experiment.yaml"
    path.write_text(yaml.safe_dump(CONFIG))
    return path


@pytest.fixture(scope="module")
def reference(config, tmp_path_factory) -> Path:
    from typer.testing import CliRunner

    from alcli.cli import app

    run = tmp_path_factory.mktemp("reference") / "run"
    result = CliRunner().invoke(app, ["run", str(config), "--run-dir", str(run), "-q"])
    assert result.exit_code == 0, result.output
    return run


def test_an_injected_full_disk_stops_the_run_cleanly_and_resume_completes_it(
    cli, config, reference, tmp_path, monkeypatch
):
    run = tmp_path / "run"
    real_write_loop = RunDir.write_loop

    def disk_full_at_loop_3(self, loop, *args, **kwargs):
        if loop == 3:
            raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC), str(self.loop_path(loop)))
        return real_write_loop(self, loop, *args, **kwargs)

    monkeypatch.setattr(RunDir, "write_loop", disk_full_at_loop_3)
    result = cli("run", config, "--run-dir", run, "-q")
    assert result.exit_code == 1, result.output
    assert "No space left on device" in result.output and "free there" in result.output
    assert "loops/0003" in result.output and f"alcli resume {run}" in result.output
    assert "Traceback" not in result.output
    assert meta(run)["status"] == "stopped" and meta(run)["last_loop"] == 2
    assert leftovers(run) == []
    assert cli("doctor", run).exit_code == 0  # nothing half-written
    monkeypatch.undo()
    assert cli("resume", run, "-q").exit_code == 0
    assert without_timings(run / "metrics.csv") == without_timings(reference / "metrics.csv")


def test_a_full_disk_while_metrics_csv_grows_takes_the_torn_row_back(tmp_path, monkeypatch):
    from alcli.rundir import directory

    path = tmp_path / "metrics.csv"
    path.write_bytes(b"loop,n\n0,1\n")

    class HalfWritten:
        """A file whose write stores half the bytes, then finds the disk full."""

        def __init__(self, handle):
            self.handle = handle

        def __getattr__(self, name):
            return getattr(self.handle, name)

        def write(self, data):
            self.handle.write(data[: len(data) // 2])
            self.handle.flush()
            raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC), str(path))

        def __enter__(self):
            return self

        def __exit__(self, *exc):
            self.handle.close()

    real_open = open
    monkeypatch.setattr(
        directory,
        "open",
        lambda p, mode="r", *a, **k: HalfWritten(real_open(p, mode, *a, **k)),
        raising=False,
    )
    with pytest.raises(OSError):
        directory._append(path, b"1,2\n", sync=True)
    assert path.read_bytes() == b"loop,n\n0,1\n"


def root_can_mount() -> str | None:
    if os.geteuid() != 0:
        return "mounting a small tmpfs needs root"
    if shutil.which("mount") is None:
        return "no mount command"
    return None


@pytest.fixture
def small_disk(tmp_path):
    """A 48 kB tmpfs: room for a few loops of a tiny run, not for 30."""
    reason = root_can_mount()
    if reason:
        pytest.skip(reason)
    mount = tmp_path / "disk"
    mount.mkdir()
    done = subprocess.run(["mount", "-t", "tmpfs", "-o", "size=48k", "tmpfs", str(mount)])
    if done.returncode != 0:
        pytest.skip("this machine does not let root mount a tmpfs (a container without it)")
    yield mount
    subprocess.run(["umount", "-l", str(mount)], check=False)


def remount(mount: Path, options: str) -> None:
    subprocess.run(["mount", "-o", f"remount,{options}", str(mount)], check=True)


def test_a_real_full_disk(cli, config, reference, small_disk):
    run = small_disk / "run"
    result = cli("run", config, "--run-dir", run, "-q")
    assert result.exit_code == 1, result.output
    assert "No space left on device" in result.output and "Traceback" not in result.output
    assert meta(run)["status"] == "stopped"
    assert leftovers(run) == []
    assert cli("doctor", run).exit_code == 0
    remount(small_disk, "size=8m")  # space freed
    assert cli("resume", run, "-q").exit_code == 0
    assert without_timings(run / "metrics.csv") == without_timings(reference / "metrics.csv")


def test_a_read_only_folder(cli, config, reference, small_disk):
    run = small_disk / "run"
    remount(small_disk, "size=8m")
    assert cli("run", config, "--run-dir", run, "-q", "--set", "stop.max_loops=3").exit_code == 0
    remount(small_disk, "ro")
    result = cli("resume", run, "-q", "--set", "stop.max_loops=30")
    assert result.exit_code == 1, result.output
    assert "Read-only file system" in result.output and "Traceback" not in result.output
    remount(small_disk, "rw")
    assert cli("resume", run, "-q", "--set", "stop.max_loops=30").exit_code == 0
    assert without_timings(run / "metrics.csv") == without_timings(reference / "metrics.csv")
