"""The resume guarantee, tested as a user meets it: real processes, real signals.

A run killed at any instant and resumed (any number of times) must end with the same
metrics.csv (timings aside), the same selections and labels, and the same checkpoints as the
same run left alone. The tests run ``python -m alcli`` in subprocesses, wait for a point in the
run directory's life (the directory appears, a loop folder appears, a checkpoint is being written,
a random instant) and signal the process there. The last two tests pin, in-process, an instant too
narrow to aim a signal at.
"""

from __future__ import annotations

import csv
import json
import os
import random
import re
import shutil
import signal
import subprocess
import time
from collections.abc import Callable
from pathlib import Path

import numpy as np
import pytest
import yaml

from alcli.atomic import write_atomic
from alcli.cli.common import _terminate as cli_terminate
from alcli.rundir import RunDir
from alcli.rundir.integrity import file_digest
from tests.conftest import merge
from tests.processes import ALCLI, ENV, TIMEOUT, alcli, poll
from tests.processes import default_sigint as _default_sigint

LOOP_FILES = ("selected.csv", "labels.csv", "metrics.json", "state.npz")
TMP_PREFIX = ".tmp-"

# digits (1797 records, 10 classes) with a LogisticRegression run to max_iter: loops of 0.02 to
# 0.2 s, about 1.5 s of loops per run after about 1 s of start-up, so that there is a run to
# signal in the middle of.
CONFIG = {
    "name": "resume",
    "seed": 3,
    "data": {"source": "sklearn:digits", "test_size": 0.3},
    "model": {
        "estimator": "sklearn.linear_model.LogisticRegression",
        "params": {"max_iter": 500, "tol": 1e-12, "C": 100.0},
    },
    "init": {"method": "random", "size": 20},
    "strategy": {"name": "margin"},
    "loop_size": {"schedule": "constant", "size": 20},
    "stop": {"max_loops": 8},
}
# Each loop continues the previous loop's SGDClassifier; resume has to replay every fit.
WARM_CONFIG = {
    **CONFIG,
    "name": "resume-warm",
    "model": {
        "estimator": "sklearn.linear_model.SGDClassifier",
        "params": {"loss": "log_loss", "max_iter": 300, "tol": None},
        "retrain": "warm_start",
    },
    "init": {"method": "random", "size": 30},
}


# --- processes -----------------------------------------------------------------------------


_launched: list[subprocess.Popen] = []


def launch(*args: object, cwd: Path, track: bool = True) -> subprocess.Popen:
    """Start ``alcli ARGS`` (stdout and stderr piped, text). A tracked process still running
    when its test ends is killed."""
    proc = subprocess.Popen(
        [*ALCLI, *map(str, args)],
        cwd=cwd,
        env=ENV,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        preexec_fn=_default_sigint,
    )
    if track:
        _launched.append(proc)
    return proc


@pytest.fixture(autouse=True)
def _no_stragglers():
    yield
    while _launched:
        proc = _launched.pop()
        if proc.poll() is None:
            proc.send_signal(signal.SIGCONT)
            proc.kill()
        proc.communicate()


def signal_and_wait(proc: subprocess.Popen, sig: int) -> tuple[str, str]:
    if proc.poll() is None:
        proc.send_signal(sig)
    return proc.communicate(timeout=TIMEOUT)


class Background:
    """A run started now and awaited when its result is first needed."""

    def __init__(self, config: Path, run_dir: Path):
        self.path = run_dir
        self.proc = launch(
            "run", config, "--run-dir", run_dir, "-q", cwd=run_dir.parent, track=False
        )
        self.finished = False

    def result(self) -> Path:
        if not self.finished:
            _, err = self.proc.communicate(timeout=TIMEOUT)
            assert self.proc.returncode == 0, err
            self.finished = True
        return self.path

    def stop(self) -> None:
        if self.proc.poll() is None:
            self.proc.kill()
            self.proc.communicate()


# --- the run directory ---------------------------------------------------------------------


def entries(folder: Path) -> list[Path]:
    try:
        return list(folder.iterdir())
    except FileNotFoundError:
        return []


def loop_folders(run_dir: Path) -> list[str]:
    return sorted(p.name for p in entries(run_dir / "loops") if re.fullmatch(r"\d{4}", p.name))


def leftovers(run_dir: Path) -> list[str]:
    """Temporary files and folders in the run directory or loops/."""
    return sorted(
        str(p.relative_to(run_dir))
        for folder in (run_dir, run_dir / "loops")
        for p in entries(folder)
        if p.name.startswith(TMP_PREFIX)
    )


def incomplete_loops(run_dir: Path) -> list[str]:
    return [
        name
        for name in loop_folders(run_dir)
        if not all((run_dir / "loops" / name / f).is_file() for f in LOOP_FILES)
    ]


def read_meta(run_dir: Path) -> dict:
    return json.loads((run_dir / "run.json").read_text())


def read_rows(path: Path) -> list[dict[str, str]]:
    with path.open(newline="") as handle:
        return list(csv.DictReader(handle))


def without_timings(path: Path) -> list[dict[str, str]]:
    return [{k: v for k, v in row.items() if not k.endswith("_s")} for row in read_rows(path)]


def read_state(path: Path) -> dict[str, np.ndarray]:
    with np.load(path, allow_pickle=False) as npz:
        return {key: npz[key] for key in npz.files}


def snapshot(root: Path, skip: tuple[str, ...] = ()) -> dict[str, bytes | None]:
    """Every file's bytes (None for a folder) under ``root``, by relative path."""
    return {
        str(p.relative_to(root)): p.read_bytes() if p.is_file() else None
        for p in sorted(root.rglob("*"))
        if p.name not in skip
    }


def assert_same_run(run: Path, ref: Path) -> None:
    """``run`` ended exactly as the reference run left alone did (timings aside)."""
    meta, ref_meta = read_meta(run), read_meta(ref)
    assert meta["status"] == "completed", meta
    for key in ("stop_reason", "last_loop", "data_fingerprint", "config_hash"):
        assert meta[key] == ref_meta[key], key
    assert (run / "config.yaml").read_bytes() == (ref / "config.yaml").read_bytes()
    header = (run / "metrics.csv").read_text().splitlines()[0]
    assert header == (ref / "metrics.csv").read_text().splitlines()[0]
    assert without_timings(run / "metrics.csv") == without_timings(ref / "metrics.csv")
    assert sorted(p.name for p in run.iterdir()) == sorted(p.name for p in ref.iterdir())
    assert loop_folders(run) == loop_folders(ref)
    for name in loop_folders(ref):
        ours, theirs = run / "loops" / name, ref / "loops" / name
        # The same files too: with keep_models: last, model.joblib in the last loop only.
        assert sorted(p.name for p in ours.iterdir()) == sorted(p.name for p in theirs.iterdir())
        for file in ("selected.csv", "labels.csv"):
            assert (ours / file).read_bytes() == (theirs / file).read_bytes(), f"{name}/{file}"
        record, ref_record = (json.loads((d / "metrics.json").read_text()) for d in (ours, theirs))
        record.pop("seconds")
        ref_record.pop("seconds")
        assert record == ref_record, f"{name}/metrics.json"
        state, ref_state = read_state(ours / "state.npz"), read_state(theirs / "state.npz")
        assert state.keys() == ref_state.keys(), f"{name}/state.npz"
        for key, array in ref_state.items():
            assert state[key].dtype == array.dtype, f"{name}/state.npz:{key}"
            same = np.array_equal(state[key], array, equal_nan=array.dtype.kind == "f")
            assert same, f"{name}/state.npz:{key}"
    assert leftovers(run) == []
    assert incomplete_loops(run) == []


# --- killing at chosen points --------------------------------------------------------------


def when(trigger: str, run_dir: Path, rng: random.Random) -> Callable[[], bool]:
    """The condition to signal at.

    dir         the run directory exists (run.json): before loop 0 is checkpointed
    loop:NNNN   loops/NNNN exists (just renamed into place, or already there on a resume)
    checkpoint  a loop is being written (a new temporary folder in loops/) or has just landed
    random      a random instant after the process started
    """
    if trigger == "dir":
        return (run_dir / "run.json").exists
    if trigger.startswith("loop:"):
        return (run_dir / "loops" / trigger.removeprefix("loop:")).exists
    if trigger == "checkpoint":
        # What a previous kill left behind does not count: only what this process writes.
        before = set(entries(run_dir / "loops"))
        return lambda: bool(set(entries(run_dir / "loops")) - before)
    if trigger == "random":
        deadline = time.monotonic() + rng.uniform(0.3, 1.6)
        return lambda: time.monotonic() >= deadline
    raise ValueError(trigger)


def kill_at(trigger: str, config: Path, run_dir: Path, rng: random.Random) -> tuple[str, int]:
    """Start (or resume) the run and SIGKILL it at ``trigger``; returns the command and its
    exit code (-SIGKILL when it was killed, 0 when it had finished first)."""
    # A process killed before its run directory existed left nothing to resume.
    command = "resume" if (run_dir / "run.json").exists() else "run"
    args = ("resume", run_dir) if command == "resume" else ("run", config, "--run-dir", run_dir)
    condition = when(trigger, run_dir, rng)
    proc = launch(*args, "-q", cwd=run_dir.parent)
    poll(proc, condition)
    signal_and_wait(proc, signal.SIGKILL)
    return command, proc.returncode


def run_with_kills(
    config: Path, run_dir: Path, triggers: list[str], seed: int = 0
) -> list[tuple[str, str, int, list[str], list[str]]]:
    """Start the run, SIGKILL it at each trigger in turn (resuming in between), then resume
    it to the end. Returns what each kill left (command, trigger, exit code, loop folders,
    temporary leftovers), for failure messages."""
    rng = random.Random(seed)
    history = []
    for trigger in triggers:
        command, code = kill_at(trigger, config, run_dir, rng)
        history.append((command, trigger, code, loop_folders(run_dir), leftovers(run_dir)))
        # Even a SIGKILL leaves only complete loop folders and a readable run.json.
        assert incomplete_loops(run_dir) == [], history
        if (run_dir / "run.json").exists():
            read_meta(run_dir)
        if (run_dir / "metrics.csv").exists():
            rows = [int(r["loop"]) for r in read_rows(run_dir / "metrics.csv")]
            assert rows == list(range(len(rows))) and len(rows) <= len(loop_folders(run_dir))
    if (run_dir / "run.json").exists():
        final = alcli("resume", run_dir, cwd=run_dir.parent)
    else:
        final = alcli("run", config, "--run-dir", run_dir, cwd=run_dir.parent)
    assert final.returncode == 0, (history, final.stderr)
    assert final.stdout.strip() == str(run_dir)
    return history


# --- fixtures ------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def configs(tmp_path_factory) -> dict[str, Path]:
    folder = tmp_path_factory.mktemp("configs")
    paths = {}
    for name, config in (("plain", CONFIG), ("warm", WARM_CONFIG)):
        paths[name] = folder / f"{name}.yaml"
        paths[name].write_text(yaml.safe_dump(config, sort_keys=False))
    return paths


@pytest.fixture(scope="module")
def config(configs) -> Path:
    return configs["plain"]


@pytest.fixture(scope="module")
def reference(configs, tmp_path_factory):
    """The run left alone; it runs alongside the first test that needs it."""
    run = Background(configs["plain"], tmp_path_factory.mktemp("reference") / "ref")
    yield run
    run.stop()


@pytest.fixture(scope="module")
def warm_reference(configs, tmp_path_factory):
    run = Background(configs["warm"], tmp_path_factory.mktemp("warm-reference") / "ref")
    yield run
    run.stop()


# --- SIGKILL at any instant ----------------------------------------------------------------


@pytest.mark.slow
@pytest.mark.parametrize(
    "triggers",
    [
        # Killed as the run directory appears (before loop 0), then killed again after loop 4.
        ["dir", "loop:0004"],
        # Killed as loop 2 lands, then twice while a resumed run writes a checkpoint.
        ["loop:0002", "checkpoint", "checkpoint"],
        # Two random instants, anywhere from start-up to the last loop.
        ["random", "random"],
    ],
    ids=["at-start", "at-checkpoints", "random"],
)
def test_killed_and_resumed_ends_as_the_run_left_alone(triggers, config, reference, tmp_path):
    run_dir = tmp_path / "run"
    history = run_with_kills(config, run_dir, triggers)
    for _, trigger, code, *_ in history:
        if trigger != "random":
            # The point was reached while the process was still running: it was killed there.
            assert code == -signal.SIGKILL, history
    assert_same_run(run_dir, reference.result())


# Strategies that carry state from loop to loop: kcenter's minimum distances, then a bandit
# whose weights choose among two history strategies (flip counts, uncertainty trends) and
# margin; a mixture of a committee and ranked_batch scored by a separate selection model.
STATEFUL_CONFIGS = {
    "phases-bandit-history": {
        **CONFIG,
        "name": "stateful",
        "strategy": {
            "phases": [
                {"loops": 2, "name": "kcenter"},
                {
                    "name": "bandit",
                    "strategies": [
                        {"name": "prediction_flips"},
                        {"name": "uncertainty_trend", "decay": 0.5},
                        {"name": "margin"},
                    ],
                },
            ]
        },
    },
    "mixture-committee": {
        **CONFIG,
        "name": "mixture",
        "strategy": {
            "name": "mixture",
            "parts": [
                {"name": "qbc", "members": 3, "share": 0.5},
                {"name": "ranked_batch", "share": 0.5},
            ],
            "model": {"estimator": "sklearn.naive_bayes.GaussianNB"},
        },
    },
}


@pytest.mark.slow
@pytest.mark.parametrize("name", sorted(STATEFUL_CONFIGS))
def test_strategies_with_state_resume_after_kills_to_identical_picks(name, tmp_path):
    config = tmp_path / "c.yaml"
    config.write_text(yaml.safe_dump(STATEFUL_CONFIGS[name], sort_keys=False))
    reference = Background(config, tmp_path / "ref")
    run_dir = tmp_path / "run"
    try:
        history = run_with_kills(config, run_dir, ["loop:0002", "loop:0004", "random"], seed=1)
        assert_same_run(run_dir, reference.result())
    finally:
        reference.stop()
    states = read_state(run_dir / "loops" / "0005" / "state.npz")
    assert any(key.startswith("strategy.") for key in states), (history, sorted(states))


# --- Ctrl-C and SIGTERM --------------------------------------------------------------------


@pytest.mark.slow
@pytest.mark.parametrize("sig", [signal.SIGINT, signal.SIGTERM], ids=["SIGINT", "SIGTERM"])
def test_a_signal_stops_the_run_cleanly_and_resume_finishes_it(sig, config, reference, tmp_path):
    """Signalled as loop 2 lands (mostly while checkpoint() updates metrics.csv and run.json).

    While alcli leaks a temporary file when the signal lands as mkstemp creates it, the
    no-leftovers check fails in a share of runs (a third of them on a 2-core box): see the last
    two tests.
    """
    run_dir = tmp_path / "run"
    proc = launch("run", config, "--run-dir", run_dir, cwd=tmp_path)
    assert poll(proc, (run_dir / "loops" / "0002").exists), "the run ended before loop 2"
    _, err = signal_and_wait(proc, sig)
    # SIGTERM is turned into the same KeyboardInterrupt as Ctrl-C (cli._terminate): 130 both.
    assert proc.returncode == 130, err
    assert f"alcli resume {run_dir}" in err
    assert read_meta(run_dir)["status"] == "stopped"
    assert leftovers(run_dir) == []
    assert incomplete_loops(run_dir) == []
    assert loop_folders(run_dir)[:3] == ["0000", "0001", "0002"]
    assert len(loop_folders(run_dir)) < CONFIG["stop"]["max_loops"] + 1

    resumed = alcli("resume", run_dir, cwd=tmp_path)
    assert resumed.returncode == 0, resumed.stderr
    assert "resuming at loop" in resumed.stderr
    assert_same_run(run_dir, reference.result())


@pytest.mark.slow
def test_a_second_ctrl_c_while_stopping_still_ends_cleanly(config, reference, tmp_path):
    """Two Ctrl-C in a row (an impatient person): the second lands while the first one's stop
    is being recorded, and changes nothing."""
    run_dir = tmp_path / "run"
    proc = launch("run", config, "--run-dir", run_dir, cwd=tmp_path)
    assert poll(proc, (run_dir / "loops" / "0002").exists), "the run ended before loop 2"
    proc.send_signal(signal.SIGINT)
    time.sleep(0.002)
    _, err = signal_and_wait(proc, signal.SIGINT)
    assert proc.returncode == 130, err
    assert "Traceback" not in err
    assert read_meta(run_dir)["status"] == "stopped"
    assert leftovers(run_dir) == [] and incomplete_loops(run_dir) == []
    resumed = alcli("resume", run_dir, cwd=tmp_path)
    assert resumed.returncode == 0, resumed.stderr
    assert_same_run(run_dir, reference.result())


@pytest.mark.slow
def test_a_killed_run_shows_which_loop_and_step_it_was_in(config, tmp_path):
    run_dir = tmp_path / "run"
    proc = launch("run", config, "--run-dir", run_dir, cwd=tmp_path)
    assert poll(proc, (run_dir / "loops" / "0002").exists), "the run ended before loop 2"
    signal_and_wait(proc, signal.SIGKILL)
    events = [json.loads(line) for line in (run_dir / "events.jsonl").read_text().splitlines()]
    began = [e for e in events if e["event"] == "begin"]
    assert {e["step"] for e in began} >= {"select", "label", "train", "infer"}
    report = alcli("report", run_dir, "--format", "json", cwd=tmp_path)
    assert report.returncode == 0, report.stderr
    last = [e for e in events if e["event"] in ("begin", "loop", "step")][-1]
    if last["event"] != "begin":  # killed between two loops: no step was going on
        assert "stopped_in" not in json.loads(report.stdout)["run"]
        return
    where = json.loads(report.stdout)["run"]["stopped_in"]
    assert where == {"loop": began[-1]["loop"], "step": began[-1]["step"]}
    assert where["loop"] >= 2
    table = alcli("report", run_dir, cwd=tmp_path)
    assert f"in loop {where['loop']}, {where['step']}" in table.stdout


@pytest.mark.slow
def test_ctrl_c_leaves_metrics_csv_and_run_json_in_step_with_the_saved_loops(config, tmp_path):
    """After a clean stop, metrics.csv has one row per loop folder, run.json's last_loop is the
    last folder, and the message names it."""
    run_dir = tmp_path / "run"
    proc = launch("run", config, "--run-dir", run_dir, cwd=tmp_path)
    assert poll(proc, (run_dir / "loops" / "0002").exists), "the run ended before loop 2"
    _, err = signal_and_wait(proc, signal.SIGINT)
    assert proc.returncode == 130, err
    saved = [int(name) for name in loop_folders(run_dir)]
    rows = [int(row["loop"]) for row in read_rows(run_dir / "metrics.csv")]
    meta = read_meta(run_dir)
    said = re.search(r"loops 0 to (\d+) are saved", err)
    assert (rows, meta["last_loop"], said and int(said[1])) == (saved, saved[-1], saved[-1]), (
        f"loop folders {saved}, metrics.csv rows {rows}, run.json last_loop "
        f"{meta['last_loop']}, message: {err.strip()}"
    )


@pytest.mark.slow
def test_ctrl_c_just_after_the_run_directory_appears(config, reference, tmp_path):
    """Ctrl-C once the run directory exists but before loop 0: the directory is kept and must say
    stopped, and the message must point to resume (not claim nothing was written)."""
    run_dir = tmp_path / "run"
    proc = launch("run", config, "--run-dir", run_dir, cwd=tmp_path)
    assert poll(proc, (run_dir / "run.json").exists), "the run ended before its directory existed"
    _, err = signal_and_wait(proc, signal.SIGINT)
    assert proc.returncode == 130, err
    status = read_meta(run_dir)["status"]
    assert leftovers(run_dir) == []

    resumed = alcli("resume", run_dir, cwd=tmp_path)
    assert resumed.returncode == 0, resumed.stderr
    assert_same_run(run_dir, reference.result())

    assert (status, "nothing was written" in err, f"alcli resume {run_dir}" in err) == (
        "stopped",
        False,
        True,
    ), f"run.json status {status!r} after: {err.strip()}"


# --- one writer at a time, and nothing clobbered -------------------------------------------


@pytest.fixture(scope="module")
def busy(config, tmp_path_factory) -> dict:
    """A run frozen mid-run (SIGSTOP: alive, holding the lock) while a second ``resume`` and a
    second ``run`` are tried on its directory; then thawed and awaited."""
    run_dir = tmp_path_factory.mktemp("busy") / "run"
    first = launch("run", config, "--run-dir", run_dir, "-q", cwd=run_dir.parent)
    try:
        assert poll(first, (run_dir / "loops" / "0001").exists), "the run ended before loop 1"
        first.send_signal(signal.SIGSTOP)
        try:
            before = snapshot(run_dir)
            contenders = {
                "resume": launch("resume", run_dir, cwd=run_dir.parent),
                "run": launch("run", config, "--run-dir", run_dir, cwd=run_dir.parent),
            }
            refused = {
                name: (p.communicate(timeout=TIMEOUT)[1], p.returncode)
                for name, p in contenders.items()
            }
            after = snapshot(run_dir)
        finally:
            first.send_signal(signal.SIGCONT)
        _, err = first.communicate(timeout=TIMEOUT)
    finally:
        if first.poll() is None:
            first.kill()
            first.communicate()
    return {
        "run_dir": run_dir,
        "first": (first.returncode, err),
        "refused": refused,
        "unchanged": before == after,
    }


@pytest.mark.slow
def test_resume_of_a_busy_run_directory_is_refused_and_the_run_completes(busy, reference):
    message, code = busy["refused"]["resume"]
    assert code == 2, message
    assert "in use" in message, message
    assert busy["unchanged"], "a refused command changed the run directory"
    code, err = busy["first"]
    assert code == 0, err
    assert_same_run(busy["run_dir"], reference.result())


@pytest.mark.slow
def test_run_onto_a_busy_run_directory_is_refused_as_in_use(busy):
    message, code = busy["refused"]["run"]
    assert code == 2, message
    assert busy["unchanged"], "a refused command changed the run directory"
    # The directory is busy: sending the user to `alcli resume` (refused too) misleads.
    assert "in use" in message, message


@pytest.mark.slow
def test_run_onto_a_directory_that_holds_a_run_is_refused_untouched(config, reference, tmp_path):
    run_dir = tmp_path / "run"
    shutil.copytree(reference.result(), run_dir)
    before = snapshot(run_dir)
    result = alcli("run", config, "--run-dir", run_dir, cwd=tmp_path)
    assert result.returncode == 2, result.stderr
    assert f"alcli resume {run_dir}" in result.stderr
    assert snapshot(run_dir) == before
    assert [p.name for p in tmp_path.iterdir()] == ["run"]


@pytest.mark.slow
def test_resume_of_a_completed_run_rewrites_nothing(reference, tmp_path):
    run_dir = tmp_path / "run"
    shutil.copytree(reference.result(), run_dir)
    before = snapshot(run_dir, skip=("events.jsonl",))
    result = alcli("resume", run_dir, cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == str(run_dir)
    assert "completed" in result.stderr
    assert snapshot(run_dir, skip=("events.jsonl",)) == before


# --- the data must be the data the run started with -----------------------------------------


@pytest.mark.slow
def test_resume_refuses_data_that_changed(tmp_path):
    from sklearn.datasets import load_digits

    X, y = load_digits(return_X_y=True)
    data = tmp_path / "digits.csv"
    with data.open("w", newline="") as handle:
        writer = csv.writer(handle, lineterminator="\n")
        writer.writerow(["id", "digit", *(f"px{j}" for j in range(X.shape[1]))])
        writer.writerows([f"d{i:04d}", int(y[i]), *map(int, X[i])] for i in range(X.shape[0]))
    original = data.read_bytes()
    config = tmp_path / "experiment.yaml"
    config.write_text(
        yaml.safe_dump(
            merge(
                CONFIG,
                {
                    "data": {"source": None, "path": "digits.csv", "target": "digit"},
                    "stop": {"max_loops": 4},
                },
            ),
            sort_keys=False,
        )
    )
    run_dir = tmp_path / "run"
    _, code = kill_at("loop:0001", config, run_dir, random.Random(0))
    assert code == -signal.SIGKILL, "the run ended before it could be killed"

    # One pixel of one record changes.
    lines = original.decode().splitlines(keepends=True)
    cells = lines[6].split(",")
    cells[10] = str(int(cells[10]) + 1)
    lines[6] = ",".join(cells)
    data.write_text("".join(lines))
    before = snapshot(run_dir)
    refused = alcli("resume", run_dir, cwd=tmp_path)
    assert refused.returncode == 2, refused.stderr
    assert "no longer matches" in refused.stderr and "fingerprint" in refused.stderr
    assert snapshot(run_dir) == before

    data.write_bytes(original)
    resumed = alcli("resume", run_dir, cwd=tmp_path)
    assert resumed.returncode == 0, resumed.stderr
    assert read_meta(run_dir)["status"] == "completed"
    assert loop_folders(run_dir) == ["0000", "0001", "0002", "0003", "0004"]


# --- warm starts ---------------------------------------------------------------------------


@pytest.mark.slow
def test_warm_start_killed_and_resumed_ends_as_the_run_left_alone(
    configs, warm_reference, tmp_path
):
    run_dir = tmp_path / "run"
    history = run_with_kills(configs["warm"], run_dir, ["loop:0003", "random"], seed=8)
    assert history[0][2] == -signal.SIGKILL, history
    assert_same_run(run_dir, warm_reference.result())


# --- the instant a temporary file is created -----------------------------------------------


def _signalled_as_it_returns(real: Callable, signum: int) -> Callable:
    """``real``, with a real signal sent to this process the instant it returns, as a Ctrl-C
    that lands while a temporary file or folder is being created."""

    def call(path, *args, **kwargs):
        result = real(path, *args, **kwargs)
        if Path(os.fsdecode(path)).name.startswith(TMP_PREFIX):
            os.kill(os.getpid(), signum)
        return result

    return call


@pytest.mark.parametrize("signum", [signal.SIGINT, signal.SIGTERM])
def test_a_signal_as_write_atomic_creates_its_temporary_file(tmp_path, monkeypatch, signum):
    """The write completes, nothing temporary is left, and the stop comes right after."""
    previous = signal.signal(signal.SIGTERM, cli_terminate)  # what `alcli run` installs
    target = tmp_path / "metrics.csv"
    monkeypatch.setattr(os, "open", _signalled_as_it_returns(os.open, signum))
    try:
        with pytest.raises(KeyboardInterrupt):
            write_atomic(target, "loop\n0\n")
    finally:
        monkeypatch.undo()
        signal.signal(signal.SIGTERM, previous)
    assert [p.name for p in tmp_path.iterdir()] == ["metrics.csv"]
    assert target.read_text() == "loop\n0\n"


def test_ctrl_c_as_write_loop_creates_its_staging_folder(tmp_path, monkeypatch):
    (tmp_path / "loops").mkdir()
    rundir = RunDir(tmp_path)
    monkeypatch.setattr(os, "mkdir", _signalled_as_it_returns(os.mkdir, signal.SIGINT))
    with pytest.raises(KeyboardInterrupt):
        rundir.write_loop(0, files={"selected.csv": "id\n"}, arrays={"order": np.arange(3)})
    monkeypatch.undo()
    assert [p.name for p in (tmp_path / "loops").iterdir()] == ["0000"]
    assert (tmp_path / "loops" / "0000" / "selected.csv").read_text() == "id\n"


# --- files written by a newer alcli ----------------------------------------------------------


def _newer(path: Path) -> None:
    """Mark an NPZ checkpoint or run.json as written by a schema this alcli does not know."""
    if path.suffix == ".json":
        meta = json.loads(path.read_text())
        path.write_text(json.dumps({**meta, "schema_version": 99}))
        return
    with np.load(path, allow_pickle=False) as npz:
        arrays = {key: npz[key] for key in npz.files}
    arrays["schema_version"] = np.int64(99)
    with path.open("wb") as handle:
        np.savez(handle, **arrays)
    # A newer alcli records the file it wrote in the loop's manifest, as this one does.
    manifest = path.parent / "manifest.json"
    files = json.loads(manifest.read_text())
    files["files"][path.name] = [file_digest(path)]
    manifest.write_text(json.dumps(files))


@pytest.mark.parametrize("name", ["run.json", "loops/0001/state.npz"])
def test_files_of_a_newer_alcli_are_refused_with_what_to_do(name, reference, tmp_path):
    run_dir = tmp_path / "run"
    shutil.copytree(reference.result(), run_dir)
    for later in sorted((run_dir / "loops").iterdir())[2:]:
        shutil.rmtree(later)  # resume has loops to run, from the state of loop 1
    _newer(run_dir / name)
    before = snapshot(run_dir, skip=("metrics.csv", "events.jsonl", "run.json"))
    refused = alcli("resume", run_dir, cwd=tmp_path)
    assert refused.returncode == 2, refused.stderr
    assert "written by a newer alcli (schema version 99" in refused.stderr
    assert "upgrade alcli" in refused.stderr and "Traceback" not in refused.stderr
    assert str(run_dir / name) in refused.stderr
    assert snapshot(run_dir, skip=("metrics.csv", "events.jsonl", "run.json")) == before
    if name == "run.json":
        report = alcli("report", run_dir, cwd=tmp_path)
        assert report.returncode == 2 and "newer alcli" in report.stderr
