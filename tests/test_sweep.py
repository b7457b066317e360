"""`alcli sweep` and `alcli resume SWEEP_DIR` as a user meets them.

One sweep (margin and entropy x loop sizes 5 and 10 x seeds 0-2, with the default random
baseline: 18 runs of the tiny iris config) is run once in-process and serves as the reference:
its layout, its paired baseline, the same sweep with ``--jobs 2``, the same sweep killed
(SIGKILL to its process group) or stopped (Ctrl-C) and resumed, and resumes that must skip
what is done. Bad sweep files are a table: exit 2, one message, nothing written.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import signal
import subprocess
import time
import traceback
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
import yaml
from typer.testing import CliRunner

from alcli.cli import app
from alcli.experiments import is_sweep_dir
from alcli.reporting.comparison import CURVE_COLUMNS, SUMMARY_COLUMNS
from tests.conftest import TINY, merge, read_csv
from tests.processes import ALCLI, ENV, TIMEOUT, alcli, poll
from tests.processes import default_sigint as _default_sigint

STRATEGIES = ["margin", "entropy"]
LOOP_SIZES = [5, 10]
SEEDS = [0, 1, 2]
SWEEP = {
    "name": "strategies",
    "base": "base.yaml",
    "grid": {"strategy.name": STRATEGIES, "loop_size.size": LOOP_SIZES},
    "seeds": len(SEEDS),
    "jobs": 1,
}
CELLS = [
    *(f"strategy.name={s},loop_size.size={n}" for s in STRATEGIES for n in LOOP_SIZES),
    *(f"baseline,loop_size.size={n}" for n in LOOP_SIZES),
]
RUNS = sorted(f"runs/{cell}/seed-{seed}" for cell in CELLS for seed in SEEDS)
METRICS = ["accuracy", "f1_macro"]
LOOPS = TINY["stop"]["max_loops"] + 1


def write_sweep(folder: Path, sweep: dict[str, Any] | None = None, base: dict | None = None):
    """base.yaml (TINY with ``base`` merged in) and sweep.yaml (``sweep``, SWEEP by default)
    in ``folder``; returns the sweep file's path."""
    (folder / "base.yaml").write_text(yaml.safe_dump(merge(TINY, base or {}), sort_keys=False))
    path = folder / "sweep.yaml"
    path.write_text(yaml.safe_dump(SWEEP if sweep is None else sweep, sort_keys=False))
    return path


def invoke(*args: object):
    return CliRunner().invoke(app, [str(a) for a in args], terminal_width=120)


# --- reading a sweep directory -----------------------------------------------------------------


def run_dirs(sweep_dir: Path) -> list[str]:
    """The run directories under runs/, relative to the sweep directory."""
    return sorted(str(p.parent.relative_to(sweep_dir)) for p in sweep_dir.glob("runs/*/*/run.json"))


def status(sweep_dir: Path) -> dict[str, dict[str, str]]:
    """status.csv by run directory."""
    return {row["run_dir"]: row for row in read_csv(sweep_dir / "status.csv")}


def without_timings(path: Path) -> list[dict[str, str]]:
    return [{k: v for k, v in row.items() if not k.endswith("_s")} for row in read_csv(path)]


def files_of(folder: Path) -> dict[str, bytes]:
    return {
        str(p.relative_to(folder)): p.read_bytes() for p in sorted(folder.rglob("*")) if p.is_file()
    }


def assert_same_results(sweep_dir: Path, reference: Path) -> None:
    """Every run ended as the reference sweep's did: metrics.csv (timings aside) and every
    loop's selection and labels."""
    assert run_dirs(sweep_dir) == run_dirs(reference) == RUNS
    for rel in RUNS:
        run, ref = sweep_dir / rel, reference / rel
        assert json.loads((run / "run.json").read_text())["status"] == "completed", rel
        assert without_timings(run / "metrics.csv") == without_timings(ref / "metrics.csv"), rel
        loops = sorted(p.name for p in (ref / "loops").iterdir())
        assert sorted(p.name for p in (run / "loops").iterdir()) == loops, rel
        for loop in loops:
            for name in ("selected.csv", "labels.csv"):
                ours, theirs = run / "loops" / loop / name, ref / "loops" / loop / name
                assert ours.read_bytes() == theirs.read_bytes(), f"{rel}/loops/{loop}/{name}"
    assert {row["state"] for row in status(sweep_dir).values()} == {"completed"}
    for name in ("results/curves.csv", "results/summary.csv", "report.html"):
        assert (sweep_dir / name).is_file(), name


# --- the reference sweep -----------------------------------------------------------------------


@dataclass
class Swept:
    folder: Path
    sweep_file: Path
    path: Path
    stdout: str
    stderr: str


@pytest.fixture(scope="module")
def swept(tmp_path_factory) -> Swept:
    """The sweep run in-process, from its folder, into the default sweeps/<name>."""
    folder = tmp_path_factory.mktemp("sweep")
    sweep_file = write_sweep(folder)
    with pytest.MonkeyPatch.context() as patch:
        patch.chdir(folder)
        result = invoke("sweep", "sweep.yaml")
    assert result.exit_code == 0, result.output
    return Swept(folder, sweep_file, folder / "sweeps" / "strategies", result.stdout, result.stderr)


def test_stdout_is_the_sweep_directory_and_stderr_the_comparison(swept):
    assert swept.stdout == "sweeps/strategies\n"
    assert "accuracy: 18 runs in 6 groups" in swept.stderr
    assert "(reference)" in swept.stderr
    assert "report: sweeps/strategies/report.html" in swept.stderr


def test_the_sweep_directory_holds_the_frozen_sweep_the_plan_the_runs_and_the_results(swept):
    path = swept.path
    assert sorted(p.name for p in path.iterdir() if not p.name.startswith(".")) == [
        "plan.json",
        "report.html",
        "results",
        "runs",
        "status.csv",
        "sweep.yaml",
    ]
    frozen = yaml.safe_load((path / "sweep.yaml").read_text())
    assert frozen["grid"] == SWEEP["grid"]
    assert frozen["seeds"] == SEEDS
    assert frozen["config"] == TINY  # the base config, inlined
    plan = json.loads((path / "plan.json").read_text())
    assert sorted(cell["id"] for cell in plan["cells"]) == sorted(CELLS)
    assert {cell["id"]: cell["baseline"] for cell in plan["cells"]} == {
        cell: cell.startswith("baseline") for cell in CELLS
    }

    rows = read_csv(path / "status.csv")
    assert list(rows[0]) == ["cell", "seed", "state", "attempts", "run_dir"]
    assert sorted(row["run_dir"] for row in rows) == RUNS
    for row in rows:
        assert (row["state"], row["attempts"]) == ("completed", "1"), row
        assert row["run_dir"] == f"runs/{row['cell']}/seed-{row['seed']}"
    assert run_dirs(path) == RUNS

    curves = read_csv(path / "results" / "curves.csv")
    assert list(curves[0]) == CURVE_COLUMNS
    assert len(curves) == len(RUNS) * LOOPS * len(METRICS)
    # Runs are named as status.csv names them: relative to the sweep, whatever the cwd was.
    assert sorted({row["run"] for row in curves}) == RUNS
    summary = read_csv(path / "results" / "summary.csv")
    assert list(summary[0]) == SUMMARY_COLUMNS
    assert len(summary) == len(CELLS)
    page = (path / "report.html").read_text()
    assert page.lstrip().lower().startswith("<!doctype html")
    assert not re.search(r"""(src|href)=["']?https?://""", page), "the report loads from the net"


@pytest.mark.parametrize("cell", CELLS)
def test_each_run_is_its_cells_config_with_the_seed(swept, cell):
    strategy = "random" if cell.startswith("baseline") else re.search(r"name=(\w+)", cell)[1]
    size = int(re.search(r"size=(\d+)", cell)[1])
    for seed in SEEDS:
        config = yaml.safe_load(
            (swept.path / "runs" / cell / f"seed-{seed}/config.yaml").read_text()
        )
        assert config["seed"] == seed
        assert config["strategy"]["name"] == strategy
        assert config["loop_size"]["size"] == size
        assert config["data"] == merge(config["data"], TINY["data"])


def test_the_baseline_starts_from_each_seeds_initial_set_and_test_split(swept):
    """The paired design: for each seed and loop size the random baseline and every strategy
    share loop 0's selection and the data (split included)."""
    initial_sets = set()
    for seed in SEEDS:
        for size in LOOP_SIZES:
            runs = [f"baseline,loop_size.size={size}"]
            runs += [f"strategy.name={s},loop_size.size={size}" for s in STRATEGIES]
            dirs = [swept.path / "runs" / run / f"seed-{seed}" for run in runs]
            selections = {(d / "loops/0000/selected.csv").read_bytes() for d in dirs}
            assert len(selections) == 1, (seed, size)
            fingerprints = {
                json.loads((d / "run.json").read_text())["data_fingerprint"] for d in dirs
            }
            assert len(fingerprints) == 1, (seed, size)
            initial_sets |= selections
    assert len(initial_sets) == len(SEEDS)  # the seed, not the loop size, picks the initial set


def test_a_cell_runs_as_the_same_single_run_would(swept, tmp_path):
    run_dir = tmp_path / "single"
    result = invoke(
        "run",
        swept.folder / "base.yaml",
        "--set",
        "strategy.name=entropy",
        "--set",
        "loop_size.size=10",
        "--set",
        "seed=2",
        "--run-dir",
        run_dir,
        "--quiet",
    )
    assert result.exit_code == 0, result.output
    cell = swept.path / "runs" / "strategy.name=entropy,loop_size.size=10" / "seed-2"
    assert without_timings(run_dir / "metrics.csv") == without_timings(cell / "metrics.csv")


# --- processes ---------------------------------------------------------------------------------


def launch(*args: object, cwd: Path) -> subprocess.Popen:
    """``alcli ARGS`` in its own session (so its process group can be signalled)."""
    return subprocess.Popen(
        [*ALCLI, *map(str, args)],
        cwd=cwd,
        env=ENV,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        start_new_session=True,
        preexec_fn=_default_sigint,
    )


def descendants(pid: int) -> set[int]:
    """Every process below ``pid`` (the sweep's workers left its session: only the tree
    finds them)."""
    found: set[int] = set()
    todo = [pid]
    while todo:
        for task in Path(f"/proc/{todo.pop()}/task").glob("*"):
            try:
                children = {int(c) for c in (task / "children").read_text().split()}
            except (OSError, ValueError):
                continue
            todo += children - found
            found |= children
    return found


def alive(pid: int) -> bool:
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rpartition(")")[2].split()[0]
    except (OSError, IndexError):
        return False
    return state not in ("Z", "X")


def wait_gone(pids: set[int], timeout: float = 30) -> set[int]:
    """The processes still alive after ``timeout`` seconds (none, normally, at once)."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline and any(alive(p) for p in pids):
        time.sleep(0.01)
    return {p for p in pids if alive(p)}


def when(trigger: str, sweep_dir: Path) -> Callable[[], bool]:
    """``runs:N``: N run directories exist (counting earlier attempts' too); ``after:S``: S
    seconds after now (an instant chosen by time only: it may fall anywhere)."""
    kind, _, value = trigger.partition(":")
    if kind == "runs":
        return lambda: len(list(sweep_dir.glob("runs/*/*/run.json"))) >= int(value)
    deadline = time.monotonic() + float(value)
    return lambda: time.monotonic() >= deadline


def kill_at(trigger: str, sweep_file: Path, sweep_dir: Path, jobs: int) -> tuple[str, int]:
    """Start the sweep (or resume it once its directory exists), SIGKILL its process group at
    ``trigger`` and wait until its workers are gone too. Returns the command and its exit code
    (-SIGKILL when killed, 0 when it had finished first)."""
    if is_sweep_dir(sweep_dir):
        command, args = "resume", ("resume", sweep_dir)
    else:
        command, args = "sweep", ("sweep", sweep_file, "--sweep-dir", sweep_dir)
    condition = when(trigger, sweep_dir)
    proc = launch(*args, "--jobs", jobs, "-q", cwd=sweep_dir.parent)
    try:
        poll(proc, condition)
        workers = descendants(proc.pid)
        if proc.poll() is None:
            os.killpg(proc.pid, signal.SIGKILL)
        proc.communicate(timeout=TIMEOUT)
    finally:
        if proc.poll() is None:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.communicate()
    # A worker dies with its parent: no run goes on alone to race the resume.
    assert wait_gone(workers) == set(), f"workers outlived the killed sweep ({trigger})"
    return command, proc.returncode


@pytest.fixture
def in_tmp(tmp_path, monkeypatch) -> Path:
    monkeypatch.chdir(tmp_path)
    return tmp_path


def test_jobs_2_gives_the_same_results_as_jobs_1(swept, tmp_path):
    sweep_dir = tmp_path / "parallel"
    result = alcli("sweep", swept.sweep_file, "--sweep-dir", sweep_dir, "--jobs", "2", cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    assert result.stdout == f"{sweep_dir}\n"
    assert_same_results(sweep_dir, swept.path)
    # And so does what compare draws from them (compute seconds aside).
    rows, ref_rows = (read_csv(p / "results" / "summary.csv") for p in (sweep_dir, swept.path))
    timing = ("seconds_per_run", "seconds_per_loop")
    strip = [{k: v for k, v in row.items() if k not in timing} for row in rows]
    assert strip == [{k: v for k, v in row.items() if k not in timing} for row in ref_rows]


# --- killed, stopped and resumed ---------------------------------------------------------------


@pytest.mark.slow
@pytest.mark.parametrize(
    "jobs, triggers",
    [
        # In workers, as the third run starts (the first two are done or going on).
        (2, ["runs:3"]),
        # In one process: at two instants chosen by time (start-up, loading, or mid-sweep).
        (1, ["after:1.0", "after:2.5"]),
    ],
    ids=["jobs-2-at-runs", "jobs-1-at-instants"],
)
def test_killed_and_resumed_ends_as_the_sweep_left_alone(swept, tmp_path, jobs, triggers):
    sweep_dir = tmp_path / "killed"
    history = []
    for trigger in triggers:
        command, code = kill_at(trigger, swept.sweep_file, sweep_dir, jobs)
        history.append((command, trigger, code, len(run_dirs(sweep_dir))))
        if trigger.startswith("runs:"):
            # Seen while the sweep was going on, with runs left: it was killed there.
            assert code == -signal.SIGKILL, history
    if is_sweep_dir(sweep_dir):
        final = alcli("resume", sweep_dir, cwd=tmp_path)
    else:  # killed before the sweep directory existed: nothing to resume
        final = alcli("sweep", swept.sweep_file, "--sweep-dir", sweep_dir, cwd=tmp_path)
    assert final.returncode == 0, (history, final.stderr)
    assert final.stdout == f"{sweep_dir}\n"
    assert_same_results(sweep_dir, swept.path)


@pytest.mark.slow
@pytest.mark.parametrize("jobs", [1, 2])
def test_ctrl_c_stops_the_sweep_with_exit_130_and_resume_completes_it(swept, tmp_path, jobs):
    sweep_dir = tmp_path / "stopped"
    proc = launch("sweep", swept.sweep_file, "--sweep-dir", sweep_dir, "--jobs", jobs, cwd=tmp_path)
    try:
        assert poll(proc, when("runs:4", sweep_dir)), "the sweep ended before its 4th run"
        begun = len(run_dirs(sweep_dir))
        # The terminal's Ctrl-C reaches the parent alone (the workers left its session).
        os.kill(proc.pid, signal.SIGINT)
        out, err = proc.communicate(timeout=TIMEOUT)
    finally:
        if proc.poll() is None:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.communicate()
    assert proc.returncode == 130, err
    assert f"Resume with `alcli resume {sweep_dir}`" in err, err
    assert "Traceback" not in err, err
    assert out == ""
    # No run starts after Ctrl-C: only those going on (at most one per job) may have been
    # too young to have a directory when it came.
    assert len(run_dirs(sweep_dir)) <= begun + jobs, (begun, run_dirs(sweep_dir))
    rows = status(sweep_dir)
    states = {row["state"] for row in rows.values()}
    assert states <= {"completed", "stopped", "pending"}, rows
    assert "pending" in states, "the sweep ran to its end before Ctrl-C"
    for rel, row in rows.items():
        meta = sweep_dir / rel / "run.json"
        actual = json.loads(meta.read_text())["status"] if meta.exists() else "pending"
        assert row["state"] == actual, rel
        if actual == "completed":
            assert row["attempts"] == "1", rel

    resumed = alcli("resume", sweep_dir, cwd=tmp_path)
    assert resumed.returncode == 0, resumed.stderr
    assert resumed.stdout == f"{sweep_dir}\n"
    assert_same_results(sweep_dir, swept.path)


def test_resume_skips_completed_runs_and_starts_the_others(swept, tmp_path):
    sweep_dir = tmp_path / "partial"
    shutil.copytree(swept.path, sweep_dir)
    # Two runs that had not started yet, and no results: a sweep stopped early.
    gone = [
        "runs/strategy.name=margin,loop_size.size=10/seed-2",
        "runs/baseline,loop_size.size=5/seed-1",
    ]
    for rel in gone:
        shutil.rmtree(sweep_dir / rel)
    shutil.rmtree(sweep_dir / "results")
    (sweep_dir / "report.html").unlink()
    kept = {rel: files_of(sweep_dir / rel) for rel in RUNS if rel not in gone}

    result = invoke("resume", sweep_dir)

    assert result.exit_code == 0, result.output
    assert result.stdout == f"{sweep_dir}\n"
    assert "16 of 18 runs already completed" in result.stderr
    for rel, files in kept.items():
        assert files_of(sweep_dir / rel) == files, f"{rel} was touched"
    rows = status(sweep_dir)
    for rel in RUNS:
        assert rows[rel]["attempts"] == ("2" if rel in gone else "1"), rel
    assert_same_results(sweep_dir, swept.path)
    curves, ref_curves = (
        [
            {k: v for k, v in row.items() if k != "seconds"}
            for row in read_csv(p / "results/curves.csv")
        ]
        for p in (sweep_dir, swept.path)
    )
    assert curves == ref_curves


def test_resume_of_a_finished_sweep_runs_nothing_and_prints_the_comparison_again(swept, tmp_path):
    sweep_dir = tmp_path / "done"
    shutil.copytree(swept.path, sweep_dir)
    before = files_of(sweep_dir / "runs")
    status_before = (sweep_dir / "status.csv").read_bytes()
    summary_before = (sweep_dir / "results/summary.csv").read_bytes()

    result = invoke("resume", sweep_dir)

    assert result.exit_code == 0, result.output
    assert result.stdout == f"{sweep_dir}\n"
    assert "18 of 18 runs already completed" in result.stderr
    assert "accuracy: 18 runs in 6 groups" in result.stderr
    assert files_of(sweep_dir / "runs") == before
    assert (sweep_dir / "status.csv").read_bytes() == status_before
    assert (sweep_dir / "results/summary.csv").read_bytes() == summary_before


def test_a_second_sweep_into_the_same_directory_is_refused(swept, tmp_path):
    sweep_dir = tmp_path / "twice"
    shutil.copytree(swept.path, sweep_dir)
    before = files_of(sweep_dir)
    result = invoke("sweep", swept.sweep_file, "--sweep-dir", sweep_dir)
    assert result.exit_code == 2, result.output
    assert f"Resume it with `alcli resume {sweep_dir}`" in result.stderr
    assert files_of(sweep_dir) == before


# --- bad input ---------------------------------------------------------------------------------


@dataclass(frozen=True)
class Bad:
    id: str
    #: SWEEP's keys changed (None deletes one); the sweep file is not written when None.
    sweep: dict[str, Any] | None
    #: Each searched in stderr (re.MULTILINE).
    patterns: tuple[str, ...]
    base: dict[str, Any] = field(default_factory=dict)


BAD = [
    Bad(
        "grid key not a config key",
        {"grid": {"stratgy.name": ["margin", "entropy"]}},
        (r"grid\.stratgy\.name: not a config key \(did you mean 'strategy\.name'\?\)",),
    ),
    Bad(
        "grid key not a strategy parameter",
        {"grid": {"strategy.nmae": ["margin"]}},
        (r"grid\.strategy\.nmae: not a config key \(did you mean 'strategy\.name'\?\)",),
    ),
    Bad(
        "grid key misspelled in a section",
        {"grid": {"stop.max_loop": [2, 3]}},
        (r"grid\.stop\.max_loop: not a config key \(did you mean 'stop\.max_loops'\?\)",),
    ),
    Bad(
        "grid value not a list",
        {"grid": {"strategy.name": "margin"}},
        (r"grid\.strategy\.name: the values to try must be a list",),
    ),
    Bad(
        "grid value an empty list",
        {"grid": {"strategy.name": []}},
        (r"grid\.strategy\.name is an empty list; give at least one value",),
    ),
    Bad(
        "terminal labeler in the grid",
        {"grid": {"labeler": [{"kind": "terminal"}]}},
        (r"labeler: terminal waits for a person, and a sweep runs unattended",),
    ),
    Bad(
        "file labeler in the base",
        {},
        (r"labeler: file waits for a person, and a sweep runs unattended",),
        base={"labeler": {"kind": "file"}},
    ),
    Bad(
        "baseline changes the data",
        {"baseline": {"strategy": {"name": "random"}, "data": {"source": "sklearn:wine"}}},
        (r"baseline: changes data, so it would not share each seed's test split",),
    ),
    Bad(
        "baseline changes init",
        {"baseline": {"strategy": {"name": "random"}, "init": {"size": 20}}},
        (r"baseline: changes init, so it would not share",),
    ),
    Bad(
        "base config missing",
        {"base": "missing.yaml"},
        (r"missing\.yaml: 1 problem:\n +file not found",),
    ),
    Bad("sweep file missing", None, (r"sweep\.yaml: 1 problem:\n +file not found",)),
    Bad(
        "unknown sweep key",
        {"seedz": 2},
        (
            r"seedz: not a sweep key \(did you mean 'seeds'\?\); sweep keys are name, base, "
            r"config, grid, seeds, baseline, jobs, backend, expect",
        ),
    ),
    Bad(
        "both base and config",
        {"config": TINY},
        (r"either as a file \(base: config\.yaml\) or inline .*not both and not neither",),
    ),
    Bad("no seeds", {"seeds": 0}, (r"seeds: 0 must be between 1 and 100000",)),
    Bad(
        "a name that cannot name a folder", {"name": "a/b"}, (r"name: 'a/b' cannot name a folder",)
    ),
    Bad(
        "expectation that cannot be read",
        {"expect": ["margin >> random"]},
        (r"sweep\.yaml: expect: 1 problem:\n +'margin >> random': one comparison per",),
    ),
    Bad(
        "expectation naming no metric",
        {"expect": ["final.acc >= 0.5"]},
        (r"'final\.acc >= 0\.5': no run recorded the metric 'acc'; recorded: accuracy, f1_macro",),
    ),
    Bad(
        "expectation naming no compared key",
        {"expect": ["stratgy.name=margin: runs >= 1"]},
        (r"'stratgy\.name' is not a compared key \(did you mean 'strategy\.name'\?\)",),
    ),
    Bad(
        "invalid cells, all listed at once",
        {"grid": {"loop_size.size": [0, 5], "strategy.name": ["margin", "nope"]}},
        (
            r"2 problems:",
            r"^  .*loop_size\.size=0,strategy\.name=margin.* loop_size\.size: Input should be "
            r"greater than 0",
            r"^  .*loop_size\.size=5,strategy\.name=nope.* strategy\.name: Unknown strategy "
            r"'nope'\. Available: .*margin",
        ),
    ),
]


@pytest.mark.parametrize("case", BAD, ids=lambda case: case.id)
def test_a_bad_sweep_is_refused_with_one_message_and_nothing_written(case, in_tmp):
    if case.sweep is None:
        (in_tmp / "base.yaml").write_text(yaml.safe_dump(TINY))
    else:
        sweep = {k: v for k, v in {**SWEEP, **case.sweep}.items() if v is not None}
        write_sweep(in_tmp, sweep, case.base)
    before = sorted(p.name for p in in_tmp.iterdir())

    result = invoke("sweep", "sweep.yaml")

    crashed = result.exception is not None and not isinstance(result.exception, SystemExit)
    crash = "".join(traceback.format_exception(*result.exc_info)) if crashed else ""
    shown = f"exit {result.exit_code}\nstderr:\n{result.stderr}\n{crash}"
    assert result.exit_code == 2, shown
    assert result.stderr.startswith("error: ") and result.stderr.count("error:") == 1, shown
    for pattern in case.patterns:
        assert re.search(pattern, result.stderr, re.MULTILINE), f"{pattern}\n{shown}"
    assert "Traceback" not in result.output, shown
    assert result.stdout == "", shown
    assert sorted(p.name for p in in_tmp.iterdir()) == before, "something was written"


@pytest.mark.parametrize("folder", ["empty", "missing"])
def test_resume_of_a_folder_that_is_neither_a_run_nor_a_sweep(folder, in_tmp):
    (in_tmp / "empty").mkdir()
    result = invoke("resume", folder)
    assert result.exit_code == 2, result.output
    assert result.stderr.startswith("error: ") and folder in result.stderr, result.stderr
    assert result.stdout == ""
    assert sorted(p.name for p in in_tmp.iterdir()) == ["empty"]
    assert list((in_tmp / "empty").iterdir()) == []
