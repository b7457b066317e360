"""Time and peak memory of the diversity, density and committee strategies on a 50,000 x 50 pool.

kcenter, information_density, ranked_batch, cluster_margin and qbc (members 5), with margin as
the reference, each run through alcli (``engine.start``) on the same 50,000 x 50 float32 pool
(make_classification, 5 classes, random_state 0) and a separate 5,000-record test set: the same
500 initial ids, then ``--loops`` loops (default 4) of 500 records, LogisticRegression(max_iter=
200) trained and evaluated. Next to them, a "plain margin loop" does the same work written with
numpy and scikit-learn directly (as in pool_scale.py): what margin sampling costs without alcli.

Every strategy, and the plain loop, runs in its own child process (``sys.executable`` + this
script), with OMP_NUM_THREADS, OPENBLAS_NUM_THREADS and MKL_NUM_THREADS set to 1, and its
address space capped at ``--memory-cap`` GiB (default 6) so that a strategy that tries to build
an N x N matrix fails with a MemoryError instead of taking the machine's memory; a child that
runs past ``--timeout`` seconds is killed. The child reads its own peak resident set (VmHWM in
/proc/self/status, exact for that process) at the end.

Reading the table: seconds per step come from the run's metrics.csv (``select_s``, ``train_s``,
``infer_s``; the plain loop times the same steps the same way). "select s" is the mean over
loops 1..L, "max" the slowest of them (work cached once per run shows there); "train s" and
"infer s" are means over loops 0..L (INFER includes the test-set evaluation; strategies that
need no probabilities, such as kcenter and qbc, skip predicting the pool). "peak MiB" is the
child's VmHWM, "x plain" that peak over the plain loop's, and "/ NxN" the peak as a fraction of
an N x N float64 matrix (50,000^2 x 8 B = 20 GB; 10 GB as float32): what a strategy that
computes all pairwise distances at once would need. A strategy passes when it completes and its
peak stays under ``--max-fraction`` (default 0.1) of that matrix. The script prints everything
and exits 0 either way; ``--check`` makes it exit 1 when a strategy fails or exceeds the limit.
Results also go to benchmarks/out/strategy_cost.csv. The whole script takes about 20 s.

The plain loop's accuracy differs from alcli's margin run in the third decimal: alcli fits the
labeled rows in the order they were acquired, the plain loop in pool order, and lbfgs stopped
at max_iter lands on slightly different weights.

    .venv/bin/python benchmarks/strategy_cost.py [--loops N] [--strategies NAME ...] [--check]
"""

from __future__ import annotations

# The driver imports the standard library only; the data lives in the children.
import argparse
import csv
import json
import os
import resource
import shutil
import statistics
import subprocess
import sys
import time
from pathlib import Path

from synthetic import IDS_FILE, POOL_FILE, TEST_FILE, peak_kib, write_pool

N_POOL = 50_000
N_TEST = 5_000
N_FEATURES = 50
N_CLASSES = 5
N_INIT = 500
LOOP_SIZE = 500
MAX_ITER = 200
CHUNK_SIZE = 16_384  # alcli's default model.chunk_size
SEED = 0
NXN_BYTES = N_POOL**2 * 8
STRATEGIES = ["margin", "kcenter", "information_density", "ranked_batch", "cluster_margin", "qbc"]
STRATEGY_PARAMS = {"qbc": {"members": 5}}
PLAIN = "plain margin loop"

DEFAULT_OUT = Path(__file__).resolve().parent / "out"


# --- the children -----------------------------------------------------------------------------


def make_data(work: Path) -> None:
    """Write the pool (see synthetic.py)."""
    write_pool(work, N_POOL, N_TEST, N_FEATURES, N_CLASSES, N_INIT, SEED)
    print(json.dumps({"peak_kib": peak_kib()}))


def alcli_child(work: Path, strategy: str, loops: int) -> None:
    """Run one strategy through alcli; metrics.csv goes to runs/<strategy>."""
    from alcli import engine
    from alcli.config import validate_config

    raw = {
        "name": f"strategy_cost-{strategy}",
        "seed": SEED,
        "data": {"path": POOL_FILE, "test_path": TEST_FILE},
        "model": {
            "estimator": "sklearn.linear_model.LogisticRegression",
            "params": {"max_iter": MAX_ITER},
        },
        "init": {"method": "ids", "path": IDS_FILE},
        "strategy": {"name": strategy, **STRATEGY_PARAMS.get(strategy, {})},
        "loop_size": {"schedule": "constant", "size": LOOP_SIZE},
        "stop": {"max_loops": loops},
        "metrics": ["accuracy"],
        "output": {"keep_models": "none"},
    }
    run_dir = work / "runs" / strategy
    shutil.rmtree(run_dir, ignore_errors=True)
    engine.start(validate_config(raw, "strategy_cost", base_dir=work), run_dir)
    print(json.dumps({"peak_kib": peak_kib()}))


def plain_child(work: Path, loops: int) -> None:
    """Margin sampling with numpy + scikit-learn directly, timed per step like alcli."""
    import numpy as np
    from sklearn.linear_model import LogisticRegression
    from sklearn.metrics import accuracy_score

    with np.load(work / POOL_FILE) as npz:
        X, y = npz["X"], npz["y"]
    with np.load(work / TEST_FILE) as npz:
        X_test, y_test = npz["X"], npz["y"]
    picked = np.array((work / IDS_FILE).read_text().split(), dtype=np.int64)
    labeled = np.zeros(X.shape[0], dtype=bool)
    # Each loop's INFER fills these for the next loop's SELECT.
    candidates, proba = np.empty(0, dtype=np.int64), np.empty((0, N_CLASSES))
    rows = []
    for loop in range(loops + 1):
        clock = time.perf_counter()
        if loop > 0:
            top_two = np.partition(proba, N_CLASSES - 2, axis=1)[:, -2:]
            margin = 1.0 - (top_two[:, 1] - top_two[:, 0])
            picked = candidates[np.argpartition(-margin, LOOP_SIZE - 1)[:LOOP_SIZE]]
        labeled[picked] = True
        select_s, clock = time.perf_counter() - clock, time.perf_counter()
        model = LogisticRegression(max_iter=MAX_ITER).fit(X[labeled], y[labeled])
        train_s, clock = time.perf_counter() - clock, time.perf_counter()
        accuracy = accuracy_score(y_test, model.predict(X_test))
        if loop < loops:
            candidates = np.flatnonzero(~labeled)
            proba = np.empty((candidates.shape[0], N_CLASSES))
            for start in range(0, candidates.shape[0], CHUNK_SIZE):
                chunk = candidates[start : start + CHUNK_SIZE]
                proba[start : start + chunk.shape[0]] = model.predict_proba(X[chunk])
        infer_s = time.perf_counter() - clock
        rows.append(
            {
                "loop": loop,
                "accuracy": accuracy,
                "select_s": select_s,
                "train_s": train_s,
                "infer_s": infer_s,
            }
        )
    print(json.dumps({"peak_kib": peak_kib(), "rows": rows}))


# --- measuring --------------------------------------------------------------------------------


def run_child(args: list[str], env: dict[str, str], cap_gib: float, timeout: float) -> dict:
    """Run this script as a child; returns its last stdout line as JSON, with wall seconds, or
    an ``error``."""
    cap = int(cap_gib * 2**30)

    def limit_memory() -> None:
        resource.setrlimit(resource.RLIMIT_AS, (cap, cap))

    command = [sys.executable, str(Path(__file__).resolve()), *args]
    began = time.perf_counter()
    try:
        done = subprocess.run(
            command,
            env=env,
            capture_output=True,
            text=True,
            timeout=timeout,
            preexec_fn=limit_memory,
        )
    except subprocess.TimeoutExpired:
        return {"error": f"killed after the {timeout:.0f} s timeout"}
    wall = time.perf_counter() - began
    if done.returncode != 0:
        lines = done.stderr.strip().splitlines() or [f"exit {done.returncode}"]
        return {"error": lines[-1], "wall_s": wall}
    return {**json.loads(done.stdout.strip().splitlines()[-1]), "wall_s": wall}


def read_metrics(run_dir: Path) -> list[dict]:
    with (run_dir / "metrics.csv").open(newline="") as handle:
        return [
            {key: float(row[key]) for key in ("loop", "accuracy", "select_s", "train_s", "infer_s")}
            for row in csv.DictReader(handle)
        ]


def summarize(name: str, child: dict, rows: list[dict], plain_peak: float | None) -> dict:
    """One table row from a child's result and its per-loop rows."""
    summary = {"strategy": name, "status": child.get("error", "ok"), "wall_s": child.get("wall_s")}
    if "error" in child:
        return summary
    later = [r["select_s"] for r in rows if r["loop"] > 0]
    peak_mib = child["peak_kib"] / 1024
    return {
        **summary,
        "select_s_mean": statistics.mean(later),
        "select_s_max": max(later),
        "train_s_mean": statistics.mean(r["train_s"] for r in rows),
        "infer_s_mean": statistics.mean(r["infer_s"] for r in rows),
        "peak_mib": peak_mib,
        "peak_vs_plain": peak_mib / plain_peak if plain_peak else None,
        "peak_vs_nxn": peak_mib * 2**20 / NXN_BYTES,
        "final_accuracy": rows[-1]["accuracy"],
    }


# --- report -----------------------------------------------------------------------------------


def cell(row: dict, key: str, spec: str, width: int) -> str:
    value = row.get(key)
    return f"{'' if value is None else format(value, spec):>{width}}"


def print_table(rows: list[dict], max_fraction: float) -> None:
    header = (
        f"{'strategy':<20}{'select s':>9}{'max':>8}{'train s':>9}{'infer s':>9}{'wall s':>8}"
        f"{'peak MiB':>10}{'x plain':>9}{'/ NxN':>9}{'accuracy':>9}  status"
    )
    print(header)
    print("-" * len(header))
    for r in rows:
        over = r.get("peak_vs_nxn") is not None and r["peak_vs_nxn"] > max_fraction
        print(
            f"{r['strategy']:<20}{cell(r, 'select_s_mean', '.3f', 9)}"
            f"{cell(r, 'select_s_max', '.3f', 8)}{cell(r, 'train_s_mean', '.3f', 9)}"
            f"{cell(r, 'infer_s_mean', '.3f', 9)}{cell(r, 'wall_s', '.1f', 8)}"
            f"{cell(r, 'peak_mib', '.1f', 10)}{cell(r, 'peak_vs_plain', '.2f', 9)}"
            f"{cell(r, 'peak_vs_nxn', '.4f', 9)}{cell(r, 'final_accuracy', '.4f', 9)}"
            f"  {r['status']}{' OVER THE LIMIT' if over else ''}"
        )


def write_csv(path: Path, rows: list[dict]) -> None:
    columns = [
        "strategy",
        "status",
        "select_s_mean",
        "select_s_max",
        "train_s_mean",
        "infer_s_mean",
        "wall_s",
        "peak_mib",
        "peak_vs_plain",
        "peak_vs_nxn",
        "final_accuracy",
    ]
    with path.open("w", newline="") as handle:
        writer = csv.DictWriter(handle, fieldnames=columns)
        writer.writeheader()
        writer.writerows(rows)


def measure(args: argparse.Namespace, out: Path) -> list[dict]:
    """Make the data, then run the plain loop and each strategy in turn, each in a child."""
    env = dict(os.environ)
    for name in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS"):
        env[name] = "1"
    common = ["--out", str(out), "--loops", str(args.loops)]

    def child(*extra: str) -> dict:
        return run_child([*extra, *common], env, args.memory_cap, args.timeout)

    work = out / "strategy_cost"
    print(f"making the data in {work} ...", flush=True)
    made = child("--child", "data")
    if "error" in made:
        raise SystemExit(f"making the data failed: {made['error']}")
    print(f"  {PLAIN} ...", end=" ", flush=True)
    plain = child("--child", "plain")
    plain_peak = plain.get("peak_kib", 0) / 1024 or None
    rows = [summarize(PLAIN, plain, plain.get("rows", []), plain_peak)]
    print(rows[0]["status"], flush=True)
    for strategy in args.strategies:
        print(f"  {strategy} ...", end=" ", flush=True)
        result = child("--child", "alcli", "--strategy", strategy)
        metrics = [] if "error" in result else read_metrics(work / "runs" / strategy)
        rows.append(summarize(strategy, result, metrics, plain_peak))
        print(rows[-1]["status"], flush=True)
    return rows


def print_setup(loops: int, max_fraction: float) -> None:
    print(
        f"strategy_cost: {N_POOL:,} x {N_FEATURES} float32 pool, {N_CLASSES} classes, "
        f"{N_TEST:,} test records; LogisticRegression(max_iter={MAX_ITER}); {N_INIT} ids + "
        f"{loops} loops x {LOOP_SIZE}; one thread per child; qbc {STRATEGY_PARAMS['qbc']}"
    )
    print(
        f"an N x N float64 matrix would take {NXN_BYTES / 1e9:.1f} GB ({NXN_BYTES / 2e9:.1f} GB "
        f"as float32); limit: {max_fraction} of it = {max_fraction * NXN_BYTES / 2**20:,.0f} MiB",
        flush=True,
    )


# --- main -------------------------------------------------------------------------------------


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        description="Seconds per loop and peak memory of the diversity and committee strategies "
        "on a 50,000 x 50 pool, next to a plain numpy + scikit-learn margin loop.",
    )
    parser.add_argument(
        "--strategies",
        nargs="+",
        default=STRATEGIES,
        metavar="NAME",
        help=f"Strategies to measure (default: {', '.join(STRATEGIES)}).",
    )
    parser.add_argument("--loops", type=int, default=4, help="Loops of 500 after loop 0.")
    parser.add_argument(
        "--max-fraction",
        type=float,
        default=0.1,
        help="Largest allowed peak, as a fraction of the N x N float64 matrix.",
    )
    parser.add_argument(
        "--memory-cap",
        type=float,
        default=6.0,
        help="Address-space cap of each child, GiB (default 6).",
    )
    parser.add_argument(
        "--timeout",
        type=float,
        default=900.0,
        help="Seconds before a child is killed (default 900).",
    )
    parser.add_argument(
        "--check",
        action="store_true",
        help="Exit 1 when a strategy fails or its peak exceeds the limit.",
    )
    parser.add_argument(
        "--out",
        type=Path,
        default=DEFAULT_OUT,
        help="Folder for the CSV (data and runs go in a subfolder).",
    )
    parser.add_argument("--child", choices=["data", "alcli", "plain"], help=argparse.SUPPRESS)
    parser.add_argument("--strategy", help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.loops < 1:
        parser.error("--loops must be at least 1")
    return args


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    out = args.out.resolve()
    work = out / "strategy_cost"
    if args.child == "data":
        make_data(work)
        return 0
    if args.child == "alcli":
        alcli_child(work, args.strategy, args.loops)
        return 0
    if args.child == "plain":
        plain_child(work, args.loops)
        return 0

    print_setup(args.loops, args.max_fraction)
    rows = measure(args, out)
    print()
    print_table(rows, args.max_fraction)
    out.mkdir(parents=True, exist_ok=True)
    write_csv(out / "strategy_cost.csv", rows)
    print(f"\nwrote {out / 'strategy_cost.csv'}")
    bad = [
        r["strategy"]
        for r in rows
        if r["status"] != "ok" or r.get("peak_vs_nxn", 0) > args.max_fraction
    ]
    if bad:
        print(f"failed or over the limit: {', '.join(bad)}")
    return 1 if args.check and bad else 0


if __name__ == "__main__":
    sys.exit(main())
