"""A sweep of many short runs on a dask cluster against the same sweep on the local backend.

Target: ``alcli sweep --address`` on a LocalCluster of N single-threaded worker processes
takes at most 1.2 x the wall time of ``alcli sweep --jobs N`` (the local backend's worker
processes), for 200 short runs:

    wall(dask, N workers) / wall(local, N jobs)        target <= 1.2

The sweep (written to a temporary folder): iris, LogisticRegression, 10 random initial records
then ``--loops`` (default 4) loops of 5, strategies margin, entropy, least_confidence and random,
no matched baseline, ``--seeds`` seeds (default 50): 200 runs of a few tenths of a second each,
so what the two backends add per run (dask: a task through the scheduler, its progress events
and the stop check; local: a queue between processes) weighs as much as it ever will.

Each dask turn starts a fresh cluster first (a scheduler on 127.0.0.1 and N worker processes
with one thread each, no dashboard, the workers' statistical profiler off as the README advises
for alcli's workers: it samples the running thread's stack every 10 ms, which slowed these
Python-heavy runs by a third, 1.31 x local instead of about 1.15 x, at 2caea97) and times the
sweep command only: a user's cluster is already running. Its workers still import alcli and
scikit-learn at their first task, as the local backend's spawned workers do. The two sides
run in turns (``--warmup`` untimed turns of each, then ``--repeats`` timed turns of each, the
order alternating) on fresh sweep directories, and both sides must record the same curves
(the backend does not change results). Exit 1 when the ratio of the median wall times is
above the target or a check fails.

    .venv/bin/python benchmarks/dask_sweep.py [--workers N] [--seeds N] [--loops N]
        [--repeats N] [--warmup N] [--out DIR]
"""

from __future__ import annotations

# The driver imports the standard library only (harness.run_child's peak-memory rule); the
# cluster runs in a child process.
import argparse
import csv
import shutil
import signal
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from harness import Turn, alcli_revision, child_env, in_turns, run_child

TARGET = 1.2
#: The README's advice for alcli's dask workers (see the docstring).
PROFILER = "DASK_DISTRIBUTED__WORKER__PROFILE__ENABLED"
DEFAULT_OUT = Path(__file__).resolve().parent / "out" / "dask_sweep"

SWEEP = """\
# Written by benchmarks/dask_sweep.py.
name: dask-sweep
config:
  name: dask-sweep
  data: {{source: "sklearn:iris", test_size: 0.3}}
  model:
    estimator: sklearn.linear_model.LogisticRegression
    params: {{max_iter: 300}}
  init: {{method: random, size: 10}}
  loop_size: {{size: 5}}
  stop: {{max_loops: {loops}}}
  metrics: [accuracy]
  output: {{keep_models: none}}
grid:
  strategy.name: [margin, entropy, least_confidence, random]
seeds: {seeds}
baseline: none
"""

CLUSTER = """\
import sys, time
from distributed import Client, LocalCluster
if __name__ == "__main__":
    cluster = LocalCluster(n_workers={workers}, threads_per_worker=1, processes=True,
                           host="127.0.0.1", dashboard_address=None)
    with Client(cluster) as client:
        client.wait_for_workers({workers})
    print(cluster.scheduler_address, flush=True)
    while True:
        time.sleep(3600)
"""


def start_cluster(workers: int, env: dict[str, str]) -> tuple[subprocess.Popen, str]:
    process = subprocess.Popen(
        [sys.executable, "-c", CLUSTER.format(workers=workers)],
        stdout=subprocess.PIPE,
        stderr=subprocess.DEVNULL,
        text=True,
        env={**env, PROFILER: "False"},
        start_new_session=True,
    )
    address = process.stdout.readline().strip()
    if not address.startswith("tcp://"):
        process.kill()
        raise SystemExit("the LocalCluster did not start (is the dask extra installed?)")
    return process, address


def stop_cluster(process: subprocess.Popen) -> None:
    process.send_signal(signal.SIGTERM)
    try:
        process.wait(timeout=30)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait()


def curves(sweep_dir: Path) -> dict[str, list[list[str]]]:
    """Every run's metrics.csv without its timings; exits when a run did not complete."""
    with (sweep_dir / "status.csv").open(newline="") as handle:
        status = list(csv.DictReader(handle))
    unfinished = [r["run_dir"] for r in status if r["state"] != "completed"]
    if unfinished:
        raise SystemExit(f"{sweep_dir}: runs did not complete: {', '.join(unfinished[:5])}")
    found = {}
    for row in status:
        with (sweep_dir / row["run_dir"] / "metrics.csv").open(newline="") as handle:
            rows = list(csv.reader(handle))
        keep = [i for i, name in enumerate(rows[0]) if not name.endswith("_s")]
        found[row["run_dir"]] = [[r[i] for i in keep] for r in rows]
    return found


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--workers", type=int, default=2, help="dask workers = local jobs")
    parser.add_argument("--seeds", type=int, default=50)
    parser.add_argument("--loops", type=int, default=4)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--warmup", type=int, default=1)
    parser.add_argument("--out", type=Path, default=DEFAULT_OUT)
    args = parser.parse_args()
    args.out.mkdir(parents=True, exist_ok=True)
    env = child_env(args.out, threads=0)
    folder = Path(tempfile.mkdtemp(prefix="dask-sweep-"))
    sweep_file = folder / "sweep.yaml"
    sweep_file.write_text(SWEEP.format(loops=args.loops, seeds=args.seeds))
    alcli = [sys.executable, "-m", "alcli", "sweep", str(sweep_file), "-q"]
    seen: dict[str, dict[str, list[list[str]]]] = {}

    def turn(side: str, label: str) -> Turn:
        sweep_dir = folder / f"{side}-{label}-{time.monotonic_ns()}"
        log = args.out / f"{side}-{label}.log"
        if side == "local":
            cmd = [*alcli, "--sweep-dir", str(sweep_dir), "--jobs", str(args.workers)]
            measured = run_child(label, side, cmd, env, log)
        else:
            cluster, address = start_cluster(args.workers, env)
            try:
                cmd = [*alcli, "--sweep-dir", str(sweep_dir), "--address", address]
                measured = run_child(label, side, cmd, env, log)
            finally:
                stop_cluster(cluster)
        seen[side] = curves(sweep_dir)
        shutil.rmtree(sweep_dir)
        print(f"  {side:5} turn {label:8} wall {measured.wall:6.2f} s", flush=True)
        return measured

    print(
        f"alcli {alcli_revision()}: {args.seeds * 4} runs, {args.workers} dask workers "
        f"against --jobs {args.workers}",
        flush=True,
    )
    try:
        _, turns = in_turns(("local", "dask"), args.repeats, args.warmup, turn)
    finally:
        shutil.rmtree(folder, ignore_errors=True)
    local = statistics.median(t.wall for t in turns if t.side == "local")
    dask = statistics.median(t.wall for t in turns if t.side == "dask")
    ratio = dask / local
    same = seen.get("local") == seen.get("dask")
    print(f"median wall: local {local:.2f} s, dask {dask:.2f} s")
    print(f"dask / local = {ratio:.3f} (target <= {TARGET}); same curves: {same}")
    return 0 if ratio <= TARGET and same else 1


if __name__ == "__main__":
    sys.exit(main())
