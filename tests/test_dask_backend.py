"""Sweeps on a real dask cluster (a scheduler on 127.0.0.1 and worker processes started by
these tests, no dashboard): the same results as the local backend, a worker killed in the
middle of a run, Ctrl-C in the launching command, and the bad inputs."""

from __future__ import annotations

import os
import signal
import sys
import threading
import time
from pathlib import Path

import pytest
import yaml

from tests.processes import TIMEOUT, alcli, poll
from tests.test_sweep import (
    assert_same_results,
    files_of,
    invoke,
    launch,
    run_dirs,
    status,
    swept,  # noqa: F401 - the local reference sweep, a fixture
    when,
    without_timings,
    write_sweep,
)

distributed = pytest.importorskip("distributed", reason="the dask extra is not installed")


@pytest.fixture(scope="module")
def cluster(dask_cluster):
    return dask_cluster


@pytest.fixture(scope="module")
def client(cluster):
    with distributed.Client(cluster.scheduler_address, set_as_default=False) as connected:
        yield connected


def lock_holders(client, sweep_dir: Path) -> dict[int, str]:
    """Worker pid -> the run directory whose lock it holds (the run it is running)."""
    held = client.run(_locks_held, str(sweep_dir))
    return {pid: run for pid, run in held.values() if run}


def _locks_held(sweep_dir: str) -> tuple[int, str | None]:
    for fd in Path("/proc/self/fd").iterdir():
        try:
            target = os.readlink(fd)
        except OSError:
            continue
        if target.startswith(sweep_dir) and target.endswith("/.lock"):
            return os.getpid(), target.removesuffix("/.lock")
    return os.getpid(), None


def test_a_sweep_on_the_cluster_ends_as_on_this_machine(swept, cluster, tmp_path):  # noqa: F811
    sweep_dir = tmp_path / "on-dask"
    address = cluster.scheduler_address
    result = alcli(
        "sweep", swept.sweep_file, "--sweep-dir", sweep_dir, "--address", address, cwd=tmp_path
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout == f"{sweep_dir}\n"
    assert_same_results(sweep_dir, swept.path)
    frozen = yaml.safe_load((sweep_dir / "sweep.yaml").read_text())
    assert frozen["backend"] == {"kind": "dask", "address": address, "connect_timeout": 5.0}
    # Progress came back from the workers: one line per finished run when not a terminal.
    assert result.stderr.count(": completed") == len(run_dirs(sweep_dir))


def test_the_sweep_file_may_name_the_cluster_and_resume_goes_on_there(swept, cluster, tmp_path):  # noqa: F811
    sweep = yaml.safe_load(swept.sweep_file.read_text())
    sweep["backend"] = {"kind": "dask", "address": cluster.scheduler_address}
    write_sweep(tmp_path, sweep)
    sweep_dir = tmp_path / "from-file"
    result = alcli("sweep", tmp_path / "sweep.yaml", "--sweep-dir", sweep_dir, cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    assert_same_results(sweep_dir, swept.path)
    again = alcli("resume", sweep_dir, cwd=tmp_path)
    assert again.returncode == 0, again.stderr
    # A finished sweep ran nothing again; resuming it on this machine instead is allowed.
    local = alcli("resume", sweep_dir, "--backend", "local", cwd=tmp_path)
    assert local.returncode == 0, local.stderr


#: Long enough runs (digits, 25 loops) that a worker can be killed in the middle of one.
LONGER = {"data": {"source": "sklearn:digits"}, "stop": {"max_loops": 25}}
LONG_SWEEP = {
    "name": "longer",
    "base": "base.yaml",
    "grid": {"strategy.name": ["margin"]},
    "seeds": 3,
    "jobs": 2,
}


@pytest.fixture(scope="module")
def longer_reference(tmp_path_factory) -> tuple[Path, Path]:
    folder = tmp_path_factory.mktemp("longer")
    sweep_file = write_sweep(folder, LONG_SWEEP, LONGER)
    reference = folder / "reference"
    result = alcli("sweep", sweep_file, "--sweep-dir", reference, "-q", cwd=folder)
    assert result.returncode == 0, result.stderr
    return sweep_file, reference


def same_runs(sweep_dir: Path, reference: Path) -> None:
    runs = run_dirs(reference)
    assert run_dirs(sweep_dir) == runs
    for rel in runs:
        ours, theirs = sweep_dir / rel / "metrics.csv", reference / rel / "metrics.csv"
        assert without_timings(ours) == without_timings(theirs), rel
        for loop in sorted(p.name for p in (reference / rel / "loops").iterdir()):
            for name in ("selected.csv", "labels.csv"):
                path = Path(rel) / "loops" / loop / name
                assert (sweep_dir / path).read_bytes() == (reference / path).read_bytes(), path
    assert (sweep_dir / "results" / "summary.csv").is_file()


@pytest.mark.slow
def test_a_worker_killed_in_the_middle_of_a_run_is_survived(
    longer_reference, cluster, client, tmp_path
):
    sweep_file, reference = longer_reference
    sweep_dir = tmp_path / "killed-worker"
    proc = launch(
        "sweep",
        sweep_file,
        "--sweep-dir",
        sweep_dir,
        "--address",
        cluster.scheduler_address,
        cwd=tmp_path,
    )
    try:
        # A worker holding a run's lock is in the middle of that run: kill it there.
        holders: dict[int, str] = {}

        def running_a_loop() -> bool:
            holders.update(lock_holders(client, sweep_dir) if sweep_dir.is_dir() else {})
            return any((Path(run) / "loops" / "0001").is_dir() for run in holders.values())

        assert poll(proc, running_a_loop, timeout=90), "the sweep ended before a run was caught"
        pid, run = next(
            (pid, run) for pid, run in holders.items() if (Path(run) / "loops" / "0001").is_dir()
        )
        os.kill(pid, signal.SIGKILL)
        _out, err = proc.communicate(timeout=TIMEOUT)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.communicate()
    assert proc.returncode == 0, err
    # Another worker resumed it after its last complete loop.
    events = [
        yaml.safe_load(line)
        for line in (Path(run) / "events.jsonl").read_text().split("\n")
        if line
    ]
    assert any(e["event"] == "resume" for e in events), run
    same_runs(sweep_dir, reference)


@pytest.mark.slow
def test_ctrl_c_leaves_a_sweep_that_resumes_to_the_same_results(
    longer_reference, cluster, client, tmp_path
):
    sweep_file, reference = longer_reference
    sweep_dir = tmp_path / "interrupted"
    address = cluster.scheduler_address
    proc = launch("sweep", sweep_file, "--sweep-dir", sweep_dir, "--address", address, cwd=tmp_path)
    try:
        assert poll(proc, when("runs:1", sweep_dir), timeout=90)
        os.kill(proc.pid, signal.SIGINT)
        _out, err = proc.communicate(timeout=TIMEOUT)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.communicate()
    assert proc.returncode == 130, err
    assert f"alcli resume {sweep_dir}" in err
    assert "Traceback" not in err
    # No run goes on on the cluster after the command ended.
    assert lock_holders(client, sweep_dir) == {}
    states = {row["state"] for row in status(sweep_dir).values()}
    assert states <= {"completed", "stopped", "pending"} and states != {"completed"}, states
    resumed = alcli("resume", sweep_dir, cwd=tmp_path)
    assert resumed.returncode == 0, resumed.stderr
    same_runs(sweep_dir, reference)


def test_an_address_that_does_not_answer_is_said_within_seconds(swept, tmp_path):  # noqa: F811
    sweep_dir = tmp_path / "nowhere"
    began = time.monotonic()
    result = alcli(
        "sweep",
        swept.sweep_file,
        "--sweep-dir",
        sweep_dir,
        "--address",
        "tcp://127.0.0.1:9",
        cwd=tmp_path,
    )
    assert time.monotonic() - began < 20
    assert result.returncode == 2, result.stderr
    assert "no dask scheduler answers at tcp://127.0.0.1:9" in result.stderr
    assert "dask scheduler" in result.stderr and "Traceback" not in result.stderr
    assert not sweep_dir.exists()


@pytest.mark.parametrize(
    ("args", "expected"),
    [
        (["--backend", "dsak"], "Unknown kind 'dsak' (did you mean 'dask'?)"),
        (["--backend", "dask"], "backend.address: required key is missing"),
        (["--address", "127.0.0.1:8786"], "is not a dask scheduler address"),
        (["--backend", "local", "--address", "tcp://h:1"], "not a key of the local backend"),
    ],
)
def test_a_bad_backend_is_refused_with_nothing_written(args, expected, swept, tmp_path):  # noqa: F811
    sweep_dir = tmp_path / "bad"
    result = invoke("sweep", swept.sweep_file, "--sweep-dir", sweep_dir, *args)
    assert result.exit_code == 2, result.output
    assert expected in result.stderr
    assert not sweep_dir.exists()


def test_without_the_extra_the_message_gives_the_pip_command(swept, tmp_path, monkeypatch):  # noqa: F811
    monkeypatch.setitem(sys.modules, "distributed", None)  # as if not installed
    sweep_dir = tmp_path / "no-extra"
    result = invoke(
        "sweep", swept.sweep_file, "--sweep-dir", sweep_dir, "--address", "tcp://127.0.0.1:9"
    )
    assert result.exit_code == 2, result.output
    assert "pip install 'alcli[dask]'" in result.stderr
    assert not sweep_dir.exists()


def test_resume_of_a_run_refuses_backend_options(swept, tmp_path):  # noqa: F811
    run = next(iter(run_dirs(swept.path)))
    before = files_of(swept.path / run)
    result = invoke("resume", swept.path / run, "--backend", "dask")
    assert result.exit_code == 2
    assert "apply to a sweep, not a run" in result.stderr
    assert files_of(swept.path / run) == before


# A second cluster in this process: its HTTP endpoint (health, metrics; no dashboard) moves off
# the port the module's cluster holds, which distributed announces as a warning.
@pytest.mark.filterwarnings("ignore:Port .* is already in use")
def test_workers_with_several_threads_are_refused_before_anything_is_written(swept, tmp_path):  # noqa: F811
    # A run's warnings and BLAS limits belong to its process: one run per worker process.
    with distributed.LocalCluster(
        n_workers=1,
        threads_per_worker=2,
        processes=True,
        host="127.0.0.1",
        dashboard_address=None,
        worker_dashboard_address=None,
    ) as threaded:
        sweep_dir = tmp_path / "threaded"
        args = ("sweep", swept.sweep_file, "--sweep-dir", sweep_dir)
        result = alcli(*args, "--address", threaded.scheduler_address, cwd=tmp_path)
    assert result.returncode == 2, result.stderr
    assert "has 2 threads; alcli's runs need one thread per worker process" in result.stderr
    assert "--nthreads 1" in result.stderr and "Traceback" not in result.stderr
    assert not sweep_dir.exists()


def test_a_run_still_held_by_another_process_is_waited_for(cluster, tmp_path):
    """A worker the scheduler gave up on may still be running a run: the task that takes it
    over waits for the run directory's lock instead of failing or running it twice."""
    from alcli.atomic import exclusive
    from alcli.experiments.backends import build_backend
    from alcli.experiments.plan import make_plan
    from alcli.experiments.sweep_file import backend_config, load_sweep_file
    from alcli.experiments.worker import execute_run

    sweep_file = write_sweep(tmp_path, {"name": "held", "base": "base.yaml", "seeds": 1})
    sweep, base, base_dir = load_sweep_file(sweep_file)
    (spec,) = [
        s for s in make_plan(sweep, base, base_dir, str(sweep_file)).runs if s.cell == "base"
    ]
    root = tmp_path / "root"

    def stop_after_loop_0(event):
        if event["event"] == "loop":
            raise KeyboardInterrupt

    assert execute_run(spec, root, stop_after_loop_0).state == "stopped"
    backend = build_backend(
        backend_config({"kind": "dask", "address": cluster.scheduler_address}, "test"), 1
    )
    held = threading.Event()

    def hold_for(seconds: float) -> None:
        with exclusive(root / spec.path / ".lock") as got:
            assert got
            held.set()
            time.sleep(seconds)

    holder = threading.Thread(target=hold_for, args=(3.0,))
    holder.start()
    held.wait()
    began = time.monotonic()
    (outcome,) = list(backend.launch([spec], root))
    holder.join()
    assert outcome.state == "completed", outcome
    assert time.monotonic() - began >= 3.0
