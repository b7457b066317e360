"""alcli against a plain numpy + scikit-learn loop on a 200,000 x 50 pool.

Both sides do the same work from the same files on disk: load pool.npz and test.npz, start from
the 100 ids in init_ids.txt, fit LogisticRegression(max_iter=200) on the labeled records,
evaluate accuracy and f1_macro on the test set, predict the unlabeled records in chunks of
16,384 (one thread of chunks, as alcli's default model.n_jobs 1), score them by margin and
label the top 500; 10 loops after loop 0, so 11 fits, 11 evaluations and 10 inferences each
(alcli skips INFER in the loop that stops, and so does the plain loop).

Each side is a child process started the same way (``sys.executable`` + arguments), so the
interpreter start, the imports and the data loading count on both sides. The sides run in
turns, the order alternating every repeat (A B, B A, A B, ...), after one untimed warm-up turn
of each (which fills the page cache with the modules both import); the medians are compared.

Both children run with OMP_NUM_THREADS, OPENBLAS_NUM_THREADS and MKL_NUM_THREADS set to
``--threads`` (default 1: single-threaded throughout, like alcli's default model.n_jobs 1;
``--threads 0`` leaves the environment as it is). With the library defaults on a small machine,
scikit-learn's OpenMP threads (in the LogisticRegression loss) and OpenBLAS's threads spin
against each other, and against any other process: a fit of a few thousand rows that takes
0.03 s alone then takes 1 to 8 s, at random, which swamps what this benchmark measures.

Both children write and read cached bytecode under the output folder (PYTHONPYCACHEPREFIX), as
an installed package would; the plain side's script, run as __main__, is compiled each time
(~3 ms), as any script is.

Targets: alcli within 1.10x the plain loop's wall time and 1.20x its peak memory. The script
prints the figures and exits 0 either way; ``--check`` makes it exit 1 when a target is missed.

    .venv/bin/python benchmarks/pool_scale.py [--n RECORDS] [--out DIR] [--repeats N] [--check]
"""

from __future__ import annotations

# The driver imports the standard library only and never holds the data (a child makes it):
# its own resident memory bounds from below what every child's peak reads (see run_child).
import argparse
import csv
import json
import os
import statistics
import subprocess
import sys
from pathlib import Path

from harness import Turn, alcli_revision, child_env, driver_peak_kib, race
from synthetic import IDS_FILE, POOL_FILE, TEST_FILE, peak_kib, write_pool

N_POOL = 200_000
N_TEST = 10_000
N_FEATURES = 50
N_CLASSES = 5
N_INIT = 100
LOOP_SIZE = 500
MAX_LOOPS = 10
MAX_ITER = 200
CHUNK_SIZE = 16_384  # alcli's default model.chunk_size
SEED = 0
TIME_TARGET = 1.10
MEMORY_TARGET = 1.20

CONFIG_FILE = "pool_scale.yaml"

CONFIG = f"""\
# Written by benchmarks/pool_scale.py; paths are relative to this file.
name: pool_scale
seed: {SEED}
data:
  path: {POOL_FILE}
  test_path: {TEST_FILE}
model:
  estimator: sklearn.linear_model.LogisticRegression
  params: {{max_iter: {MAX_ITER}}}
init: {{method: ids, path: {IDS_FILE}}}
strategy: {{name: margin}}
loop_size: {{schedule: constant, size: {LOOP_SIZE}}}
stop: {{max_loops: {MAX_LOOPS}}}
metrics: [accuracy, f1_macro]
"""

DEFAULT_OUT = Path(__file__).resolve().parent / "out"


# --- the children -----------------------------------------------------------------------------


def make_data(out: Path, n_pool: int) -> None:
    """Write the pool (see synthetic.py) and the alcli config."""
    import numpy as np

    y, init = write_pool(out, n_pool, N_TEST, N_FEATURES, N_CLASSES, N_INIT, SEED)
    if np.unique(y[init]).shape[0] != N_CLASSES:
        raise SystemExit("the initial ids miss a class; pick another seed")
    (out / CONFIG_FILE).write_text(CONFIG)


def plain_loop(out: Path) -> None:
    """The same work as the alcli run, written directly; prints its final metrics as JSON."""
    import numpy as np
    from sklearn.linear_model import LogisticRegression
    from sklearn.metrics import accuracy_score, f1_score

    with np.load(out / POOL_FILE) as npz:
        X, y = npz["X"], npz["y"]
    with np.load(out / TEST_FILE) as npz:
        X_test, y_test = npz["X"], npz["y"]
    init = np.array((out / IDS_FILE).read_text().split(), dtype=np.int64)

    labeled = np.zeros(X.shape[0], dtype=bool)
    labeled[init] = True
    picks = []
    for loop in range(MAX_LOOPS + 1):
        model = LogisticRegression(max_iter=MAX_ITER).fit(X[labeled], y[labeled])
        predicted = model.predict(X_test)
        accuracy = accuracy_score(y_test, predicted)
        f1_macro = f1_score(y_test, predicted, average="macro")
        if loop == MAX_LOOPS:
            break
        candidates = np.flatnonzero(~labeled)
        proba = np.empty((candidates.shape[0], model.classes_.shape[0]))
        for start in range(0, candidates.shape[0], CHUNK_SIZE):
            rows = candidates[start : start + CHUNK_SIZE]
            proba[start : start + rows.shape[0]] = model.predict_proba(X[rows])
        top_two = np.partition(proba, N_CLASSES - 2, axis=1)[:, -2:]
        margin = 1.0 - (top_two[:, 1] - top_two[:, 0])
        picked = np.argpartition(-margin, LOOP_SIZE - 1)[:LOOP_SIZE]
        labeled[candidates[picked]] = True
        picks.append(sorted(candidates[picked].tolist()))

    result = {
        "n_labeled": int(labeled.sum()),
        "accuracy": accuracy,
        "f1_macro": f1_macro,
        "picks": picks,
    }
    print(json.dumps({**result, "vmhwm_kib": peak_kib()}))


# --- measuring --------------------------------------------------------------------------------


def plain_result(t: Turn) -> dict:
    return json.loads(t.stdout.strip().splitlines()[-1])


def alcli_final_metrics(run_dir: Path) -> dict:
    with (run_dir / "metrics.csv").open(newline="") as handle:
        last = list(csv.DictReader(handle))[-1]
    picks = []
    for loop in range(1, MAX_LOOPS + 1):
        with (run_dir / "loops" / f"{loop:04d}" / "selected.csv").open(newline="") as handle:
            picks.append(sorted(int(row["index"]) for row in csv.DictReader(handle)))
    return {
        "n_labeled": int(last["n_labeled"]),
        "accuracy": float(last["accuracy"]),
        "f1_macro": float(last["f1_macro"]),
        "picks": picks,
    }


# --- report -----------------------------------------------------------------------------------


def print_report(
    turns: list[Turn], warmups: list[Turn], out: Path, finals: dict, threads: str, n_pool: int
) -> bool:
    sides = ("alcli", "plain")
    by_side = {s: [t for t in turns if t.side == s] for s in sides}
    med = {
        s: {
            "wall": statistics.median(t.wall for t in by_side[s]),
            "peak": statistics.median(t.peak_mib for t in by_side[s]),
            "cpu": statistics.median(t.cpu for t in by_side[s]),
        }
        for s in sides
    }
    time_ratio = med["alcli"]["wall"] / med["plain"]["wall"]
    memory_ratio = med["alcli"]["peak"] / med["plain"]["peak"]
    cpu_ratio = med["alcli"]["cpu"] / med["plain"]["cpu"]
    time_ok = time_ratio <= TIME_TARGET
    memory_ok = memory_ratio <= MEMORY_TARGET

    print()
    print(
        f"pool_scale: {n_pool:,} x {N_FEATURES} float32 pool, {N_CLASSES} classes, "
        f"{N_TEST:,} test records ({out})"
    )
    print(
        f"LogisticRegression(max_iter={MAX_ITER}), margin, {N_INIT} ids + {MAX_LOOPS} loops "
        f"x {LOOP_SIZE}, chunk {CHUNK_SIZE:,}, python {sys.version.split()[0]}, "
        f"{os.cpu_count()} cores, threads per child: {threads}, alcli at {alcli_revision()}"
    )
    print()
    print("turn      side     wall s   peak MiB   cpu s")
    for t in [*warmups, *turns]:
        print(f"{t.label:<9} {t.side:<7} {t.wall:7.2f}   {t.peak_mib:8.1f}  {t.cpu:6.2f}")
    print()
    header = f"{'':<15}{'wall s (median)':>17}{'peak MiB (median)':>20}{'cpu s (median)':>17}"
    print(header)
    print("-" * len(header))
    for s, name in (("alcli", "alcli"), ("plain", "plain loop")):
        spread = f"{min(t.wall for t in by_side[s]):.2f}-{max(t.wall for t in by_side[s]):.2f}"
        print(
            f"{name:<15}{med[s]['wall']:>8.2f} ({spread:>9})"
            f"{med[s]['peak']:>19.1f} {med[s]['cpu']:>16.2f}"
        )
    print(f"{'alcli / plain':<15}{time_ratio:>16.3f}x{memory_ratio:>19.3f}x{cpu_ratio:>16.3f}x")
    print(f"{'target':<15}{f'<= {TIME_TARGET:.2f}x':>17}{f'<= {MEMORY_TARGET:.2f}x':>20}")
    print(
        f"{'met':<15}{'yes' if time_ok else 'NO':>17}{'yes' if memory_ok else 'NO':>20}"
        f"{'(no target)':>17}"
    )
    print("-" * len(header))
    print()
    plain_hwm = [plain_result(t)["vmhwm_kib"] / 1024 for t in by_side["plain"]]
    print(
        f"peak memory: ru_maxrss of each child from os.wait4; driver's own peak "
        f"{driver_peak_kib() / 1024:.1f} MiB (a floor on those figures); plain child's own "
        f"VmHWM {statistics.median(plain_hwm):.1f} MiB vs wait4 {med['plain']['peak']:.1f} MiB"
    )
    print("cpu s: user + system time of the child (less disturbed by other load than wall time)")
    for s in sides:
        f = finals[s]
        print(
            f"final loop, {s:<5}: {f['n_labeled']:,} labeled, accuracy {f['accuracy']:.4f}, "
            f"f1_macro {f['f1_macro']:.4f}"
        )
    same = finals["alcli"]["picks"] == finals["plain"]["picks"]
    print(f"same picks as the plain loop in every loop: {'yes' if same else 'NO'}")
    print()
    print(
        f"time target ({TIME_TARGET:.2f}x): {'met' if time_ok else 'MISSED'}; "
        f"memory target ({MEMORY_TARGET:.2f}x): {'met' if memory_ok else 'MISSED'}"
    )
    return time_ok and memory_ok and same


# --- main -------------------------------------------------------------------------------------


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        description="Time and peak memory of `alcli run` against a plain numpy + scikit-learn "
        "loop doing the same work on a 200,000 x 50 pool (--n for another size).",
    )
    parser.add_argument(
        "--out", type=Path, default=DEFAULT_OUT, help="Folder for data, config and runs."
    )
    parser.add_argument("--repeats", type=int, default=3, help="Timed turns of each side.")
    parser.add_argument("--warmup", type=int, default=1, help="Untimed turns of each side first.")
    parser.add_argument(
        "--threads",
        type=int,
        default=1,
        help="OMP/OPENBLAS/MKL_NUM_THREADS for both children (0: leave the environment as is).",
    )
    parser.add_argument(
        "--n",
        type=int,
        default=N_POOL,
        help="Pool records (200,000; the issue also asks 1,000,000).",
    )
    parser.add_argument("--check", action="store_true", help="Exit 1 when a target is missed.")
    parser.add_argument("--plain", action="store_true", help=argparse.SUPPRESS)
    parser.add_argument("--make-data", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    out = args.out.resolve()

    if args.make_data:
        make_data(out, args.n)
        return 0
    if args.plain:
        plain_loop(out)
        return 0
    if args.repeats < 1:
        parser.error("--repeats must be at least 1")
    env = child_env(out, args.threads)

    script = str(Path(__file__).resolve())
    print(f"making the data in {out} ...", flush=True)
    subprocess.run(
        [sys.executable, script, "--make-data", "--out", str(out), "--n", str(args.n)], check=True
    )
    run_dir = out / "runs" / "pool_scale"
    plain = [sys.executable, script, "--plain", "--out", str(out)]
    warmups, turns = race(
        out / CONFIG_FILE, run_dir, plain, env, out / "logs", args.repeats, args.warmup
    )

    finals = {
        "alcli": alcli_final_metrics(run_dir),
        "plain": plain_result(next(t for t in reversed(turns) if t.side == "plain")),
    }
    threads = f"{args.threads}" if args.threads > 0 else "library defaults"
    met = print_report(turns, warmups, out, finals, threads, args.n)
    return 1 if args.check and not met else 0


if __name__ == "__main__":
    sys.exit(main())
