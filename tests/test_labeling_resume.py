"""A run that waits for people, killed and resumed: real processes, real SIGKILLs.

A file-labeler run killed at any instant of ``alcli run`` or of ``alcli resume --labels`` (with
half a batch or the rest of it), then resumed the way a person would (``alcli resume``, or the
same answers file given again), must end exactly as the run that was never killed. No kill may
leave a half-written pending batch or an unreadable run directory. The commands a person gives a
waiting run (no answers, answers for a run that is not waiting, a bad file) are tested
in-process at the end.
"""

from __future__ import annotations

import json
import random
import shutil
import signal
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path

import numpy as np
import pytest
import yaml
from typer.testing import CliRunner

from alcli.cli import app
from alcli.rundir import STATUSES
from tests.conftest import merge, read_csv, write_csv
from tests.test_file_labeler import file_run_config, labeled_rows, status, waiting_ids
from tests.test_resume import (
    ENV,
    _launched,
    _no_stragglers,  # noqa: F401 - kills what a failed test left running
    alcli,
    assert_same_run,
    entries,
    incomplete_loops,
    launch,
    loop_folders,
    poll,
    signal_and_wait,
    snapshot,
)

TRUTH = {row[0]: row[-1] for row in labeled_rows(40, seed=1)}
PRICES = {"per_label": 1.0, "per_class": {"pos": 2.0}}
BATCH_KEYS = {"indices", "scores", "picked_by", "codes", "labeler", "cost", "schema_version"}
# Beside the batch: records skipped before it (pool.skipped), the strategy's state (strategy.*).
SIDE_KEYS = {"pool.skipped"}


def invoke(*args: object):
    return CliRunner().invoke(app, [str(a) for a in args], terminal_width=200)


# --- the run left alone, and the answers people give it ------------------------------------


@pytest.fixture(scope="module")
def config(tmp_path_factory) -> Path:
    """A CSV of 40 unlabeled records, labeled through files at a price: loop 0 (6 records)
    and loop 1 (4 records)."""
    folder = tmp_path_factory.mktemp("labeling")
    path = file_run_config(folder, False, "file")
    raw = merge(
        yaml.safe_load(path.read_text()),
        {"stop": {"max_loops": 1}, "labeler": {"kind": "file", "cost": PRICES}},
    )
    path.write_text(yaml.safe_dump(raw, sort_keys=False))
    return path


@pytest.fixture(scope="module")
def reference(config, tmp_path_factory) -> tuple[Path, list[tuple]]:
    """The run never killed (in-process), and the steps a person took: ``("run",)``, then
    ``("labels", loop, file)`` with half of each batch (one of loop 0's as skip), then the
    rest."""
    folder = tmp_path_factory.mktemp("reference")
    run_dir = folder / "ref"
    steps: list[tuple] = [("run",)]
    result = invoke("run", config, "--run-dir", run_dir, "--quiet")
    assert result.exit_code == 0, result.output
    loop = 0
    while status(run_dir) == "awaiting_labels":
        ids = waiting_ids(run_dir, loop)
        half = len(ids) // 2
        answers = [[i, TRUTH[i]] for i in ids]
        if loop == 0:
            answers[0][1] = "skip"
        for part, rows in (("half", answers[:half]), ("rest", answers[half:])):
            path = write_csv(folder / f"{part}-{loop}.csv", ["id", "label"], rows)
            steps.append(("labels", loop, path))
            result = invoke("resume", run_dir, "--labels", path, "--quiet")
            assert result.exit_code == 0, result.output
        loop += 1
    assert status(run_dir) == "completed" and loop == 2
    assert read_csv(run_dir / "metrics.csv")[0]["n_skipped"] == "1"
    return run_dir, steps


# --- killing a step at a chosen point ----------------------------------------------------------


def pending_files(run_dir: Path, name: str) -> dict[Path, int]:
    """``name`` in every pending batch folder, by path, with its inode (a write_atomic makes
    a new one)."""
    found = {}
    for folder in entries(run_dir / "pending"):
        path = folder / name
        try:
            found[path] = path.stat().st_ino
        except FileNotFoundError:
            continue
    return found


def when(trigger: str, run_dir: Path, rng: random.Random) -> Callable[[], bool]:
    """The condition to SIGKILL the step's process at.

    dir         run.json exists (only for ``alcli run``)
    to_label    a to_label.csv was (re)written: the batch itself (batch.npz) is not yet saved
    batch       batch.npz's temporary file is written and about to be renamed into place
                (the process kills itself there: too narrow a window to aim a signal at)
    loop        a loop folder appeared: loop checkpointed, the next batch not yet selected
    working     a random instant (up to 30 ms) after the process logged its first event, in
                the middle of its work (or after it: the process may finish first)
    """
    if trigger == "dir":
        return (run_dir / "run.json").exists
    if trigger == "to_label":
        before = pending_files(run_dir, "to_label.csv")
        return lambda: any(
            before.get(p) != ino for p, ino in pending_files(run_dir, "to_label.csv").items()
        )
    if trigger == "loop":
        before = set(loop_folders(run_dir))
        return lambda: bool(set(loop_folders(run_dir)) - before)
    events = run_dir / "events.jsonl"
    if trigger == "working":
        size = events.stat().st_size if events.exists() else 0
        delay, started = rng.uniform(0, 0.03), []

        def condition() -> bool:
            if not started and events.exists() and events.stat().st_size > size:
                started.append(time.monotonic() + delay)
            return bool(started) and time.monotonic() >= started[0]

        return condition
    raise ValueError(trigger)


# alcli, SIGKILLed by itself the instant it would rename a written batch.npz into place.
DIES_AT_THE_BATCH = """
import os, signal, sys
real = os.replace
def replace(src, dst, *args, **kwargs):
    if os.fspath(dst).endswith("batch.npz"):
        os.kill(os.getpid(), signal.SIGKILL)
    return real(src, dst, *args, **kwargs)
os.replace = replace
from alcli.cli import main
sys.argv = ["alcli", *sys.argv[1:]]
main()
"""


def launch_dying_at_the_batch(*args: object, cwd: Path) -> subprocess.Popen:
    proc = subprocess.Popen(
        [sys.executable, "-c", DIES_AT_THE_BATCH, *map(str, args), "-q"],
        cwd=cwd,
        env=ENV,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    _launched.append(proc)
    return proc


def command(step: tuple, config: Path, run_dir: Path) -> tuple:
    if step[0] == "run":
        return ("run", config, "--run-dir", run_dir)
    return ("resume", run_dir, "--labels", step[2])


def read_batch(run_dir: Path, loop: int) -> dict[str, np.ndarray]:
    with np.load(run_dir / "pending" / f"loop-{loop:04d}" / "batch.npz", allow_pickle=False) as npz:
        return {key: npz[key] for key in npz.files}


def check_after_a_kill(run_dir: Path, what: str) -> None:
    """What any kill must leave: complete loop folders only, a readable run.json and pending
    batch, a run directory the report can read."""
    assert incomplete_loops(run_dir) == [], what
    if not (run_dir / "run.json").exists():
        return
    meta = json.loads((run_dir / "run.json").read_text())
    assert meta["status"] in STATUSES, (what, meta)
    for folder in entries(run_dir / "pending"):
        if (folder / "batch.npz").exists():
            arrays = read_batch(run_dir, int(folder.name.removeprefix("loop-")))
            side = {k for k in arrays if k.startswith("strategy.")} | SIDE_KEYS
            assert set(arrays) == BATCH_KEYS | side, (what, sorted(arrays))
            n = arrays["indices"].shape[0]
            assert all(arrays[k].shape == (n,) for k in BATCH_KEYS - {"schema_version"}), what
    for args in (("report", run_dir), ("report", run_dir, "--format", "json")):
        result = invoke(*args)
        assert result.exit_code == 0, (what, result.output)


def go_on(step: tuple, config: Path, run_dir: Path) -> str:
    """After a kill during ``step``, what a person does: run again if nothing was made,
    give the same answers again if their loop is not saved yet, else resume."""
    if not (run_dir / "run.json").exists():
        args = ("run", config, "--run-dir", run_dir)
    elif step[0] == "labels" and str(step[1]).zfill(4) not in loop_folders(run_dir):
        args = ("resume", run_dir, "--labels", step[2])
    else:
        args = ("resume", run_dir)
    result = alcli(*args, "-q", cwd=run_dir.parent)
    assert result.returncode == 0, (args, result.stderr)
    return " ".join(str(a) for a in args[:1] + args[2:])


def run_with_kills(
    config: Path, run_dir: Path, steps: list[tuple], kills: dict[int, str], seed: int
) -> list[tuple]:
    """Take the person's ``steps``, SIGKILLing step k at ``kills[k]`` and going on as a
    person would. Returns what happened, for failure messages."""
    rng = random.Random(seed)
    history: list[tuple] = []
    for k, step in enumerate(steps):
        args = command(step, config, run_dir)
        if k not in kills:
            result = alcli(*args, "-q", cwd=run_dir.parent)
            assert result.returncode == 0, (history, args, result.stderr)
            continue
        if kills[k] == "batch":
            condition, proc = (lambda: False), launch_dying_at_the_batch(*args, cwd=run_dir.parent)
        else:
            condition = when(kills[k], run_dir, rng)
            proc = launch(*args, "-q", cwd=run_dir.parent)
        poll(proc, condition)
        _, err = signal_and_wait(proc, signal.SIGKILL)
        what = (k, kills[k], proc.returncode, loop_folders(run_dir), history)
        check_after_a_kill(run_dir, str(what))
        if proc.returncode == 0:
            history.append((k, kills[k], "finished first"))
            continue
        assert proc.returncode == -signal.SIGKILL, (what, err)
        history.append((k, kills[k], "killed", go_on(step, config, run_dir)))
        # Going on cleaned up after the kill: nothing half-written is left where people look.
        tmp = [str(p) for p in run_dir.rglob(".tmp-*")]
        assert tmp == [], (history, tmp)
        assert status(run_dir) in ("awaiting_labels", "completed"), history
        # The README: pending/loop-NNNN only while that loop waits; removed when it completes.
        waits_for = [f"loop-{len(loop_folders(run_dir)):04d}"]
        expected = waits_for if status(run_dir) == "awaiting_labels" else []
        assert sorted(p.name for p in entries(run_dir / "pending")) == expected, history
    return history


# Steps: 0 run, 1 half of loop 0, 2 the rest of loop 0, 3 half of loop 1, 4 the rest of loop 1.
KILLS = {
    # Pinned windows: as the run directory appears; with to_label.csv written but the batch
    # not; as loop 0 lands, before loop 1 is selected; with half of loop 1's answers in a
    # batch.npz written but not renamed into place; as loop 1 (the last) lands, before the run
    # is marked completed.
    "windows": {0: "dir", 1: "to_label", 2: "loop", 3: "batch", 4: "loop"},
    # Random instants in the middle of each step's work.
    "random": {0: "working", 1: "working", 2: "working", 3: "working", 4: "working"},
}


@pytest.mark.slow
@pytest.mark.parametrize("name", sorted(KILLS))
def test_killed_while_labeling_and_resumed_ends_as_the_run_left_alone(
    name, config, reference, tmp_path
):
    ref_dir, steps = reference
    run_dir = tmp_path / "run"
    history = run_with_kills(config, run_dir, steps, KILLS[name], seed=sorted(KILLS).index(name))
    if name == "windows":
        # Each window was reached while the process ran: it was killed there.
        assert all(event[2] == "killed" for event in history), history
    assert status(run_dir) == "completed", history
    assert_same_run(run_dir, ref_dir)


# --- what a person asks of a waiting run (in-process) ----------------------------------------


@pytest.fixture
def waiting(config, reference, tmp_path) -> Path:
    """A run waiting for the rest of loop 1 (half of it answered)."""
    _, steps = reference
    run_dir = tmp_path / "run"
    result = invoke("run", config, "--run-dir", run_dir, "--quiet")
    assert result.exit_code == 0, result.output
    for step in steps[1:4]:
        result = invoke("resume", run_dir, "--labels", step[2], "--quiet")
        assert result.exit_code == 0, result.output
    assert status(run_dir) == "awaiting_labels" and loop_folders(run_dir) == ["0000"]
    return run_dir


def test_resume_without_answers_waits_again_and_says_so(waiting, reference):
    _, steps = reference
    open_ids = waiting_ids(waiting, 1)
    assert open_ids == [row["id"] for row in read_csv(steps[4][2])]  # the rest: half is in
    # Rewritten with the same content; an npz's bytes hold the time it was written.
    skip = ("events.jsonl", "run.json", "batch.npz")
    before, batch = snapshot(waiting, skip=skip), read_batch(waiting, 1)
    result = invoke("resume", waiting)
    assert result.exit_code == 0, result.output
    assert result.stdout.strip() == str(waiting)
    assert f"Loop 1 waits for labels: {len(open_ids)} records (of 4 in the batch)" in (
        result.output
    )
    assert f"alcli resume {waiting} --labels" in result.output
    assert status(waiting) == "awaiting_labels"
    assert waiting_ids(waiting, 1) == open_ids
    assert snapshot(waiting, skip=skip) == before  # to_label.csv, tasks.json, ... as they were
    again = read_batch(waiting, 1)
    assert again.keys() == batch.keys()
    assert all(np.array_equal(again[key], batch[key]) for key in batch)


def test_a_bad_file_records_none_of_its_answers(waiting, reference, tmp_path):
    """Good answers beside one bad one: nothing is recorded, byte for byte."""
    _, steps = reference
    rows = [[row["id"], row["label"]] for row in read_csv(steps[4][2])]
    rows.append([rows[0][0], "neither"])  # the same record, a label that is no class
    bad = write_csv(tmp_path / "bad.csv", ["id", "label"], rows)
    before = snapshot(waiting)
    result = invoke("resume", waiting, "--labels", bad)
    assert result.exit_code == 2, result.output
    assert "'neither'" in result.output and "nothing was recorded" in result.output.lower()
    assert snapshot(waiting) == before


@pytest.mark.parametrize(
    "kind", ["completed oracle run", "completed file run", "failed oracle run"]
)
def test_answers_for_a_run_that_is_not_waiting_are_refused(
    kind, reference, write_config, tmp_path, monkeypatch
):
    ref_dir, steps = reference
    answers = steps[4][2]
    if kind == "completed oracle run":
        run_dir = tmp_path / "run"
        result = invoke("run", write_config(), "--run-dir", run_dir, "--quiet")
        assert result.exit_code == 0, result.output
        answers = write_csv(tmp_path / "answers.csv", ["id", "label"], [[3, 1]])
    elif kind == "completed file run":
        run_dir = tmp_path / "ref"
        shutil.copytree(ref_dir, run_dir)
    else:
        # An oracle run that failed in loop 1: resumable, not waiting.
        run_dir = tmp_path / "run"
        config = write_config({"model": {"estimator": "tests.flaky_model:FailsAfter"}})
        monkeypatch.setenv("ALCLI_TEST_FAIL_ABOVE", "12")
        result = invoke("run", config, "--run-dir", run_dir, "--quiet")
        monkeypatch.delenv("ALCLI_TEST_FAIL_ABOVE")
        assert result.exit_code == 1, result.output
        answers = write_csv(tmp_path / "answers.csv", ["id", "label"], [[3, 1]])
    before = snapshot(run_dir)
    result = invoke("resume", run_dir, "--labels", answers)
    assert result.exit_code == 2, result.output
    assert "not waiting for labels" in result.output, result.output
    assert "Traceback" not in result.output
    assert snapshot(run_dir) == before
