"""What a loop costs beyond its work: alcli against a plain numpy + scikit-learn loop on the
batch-size-1 protocol of the published re-benchmarks, and the checkpoint over 5,000 loops.

The protocol (``protocol``): breast_cancer split 60/40 (stratified, seeded), standardized on the
pool part, 20 seeded initial records, an RBF SVC (no probabilities: margin on decision values),
one record a loop until the pool is empty (321 loops after loop 0); accuracy on the test set
every loop. Both sides are child processes started the same way and run in turns (see
harness.py); the plain loop fits on ``X[labeled]`` (pool order), as alcli does. The report
gives the median wall time of each, their ratio, the median checkpoint milliseconds per loop
from alcli's events.jsonl, and whether the two picked the same record in every loop.

The long run (``--long``): 5,000 loops of one record on a 6,000 x 20 synthetic pool with a
GaussianNB and random picks, so that the checkpoint dominates; it prints the median checkpoint
time of the first and the last 500 loops, which must not grow with the loop number.

Targets: alcli <= 1.15x the plain loop's wall time; checkpoint median <= 1 ms a loop with a
simulated labeler; identical picks. ``--check`` exits 1 when one is missed.

    .venv/bin/python benchmarks/loop_overhead.py [--repeats N] [--long] [--check]
"""

from __future__ import annotations

import argparse
import json
import shutil
import statistics
import subprocess
import sys
from pathlib import Path

from harness import alcli_revision, child_env, race, run_child

N_INIT = 20
SEED = 0
TIME_TARGET = 1.15
CHECKPOINT_TARGET_MS = 1.0
LONG_LOOPS = 5000
DEFAULT_OUT = Path(__file__).resolve().parent / "out" / "loop_overhead"

CONFIG = """\
# Written by benchmarks/loop_overhead.py; paths are relative to this file.
name: {name}
seed: 0
data: {{path: pool.npz, test_path: test.npz}}
model: {{estimator: {estimator}}}
init: {{method: ids, path: ids.txt}}
strategy: {{name: {strategy}}}
loop_size: {{size: 1}}
stop: {{max_loops: {max_loops}}}
metrics: [accuracy]
"""


# --- the children -----------------------------------------------------------------------------


def make_protocol(out: Path) -> None:
    from sklearn.datasets import load_breast_cancer
    from sklearn.model_selection import train_test_split
    from sklearn.preprocessing import StandardScaler

    X, y = load_breast_cancer(return_X_y=True)
    X_pool, X_test, y_pool, y_test = train_test_split(
        X, y, test_size=0.4, random_state=SEED, stratify=y
    )
    scaler = StandardScaler().fit(X_pool)
    write(out, scaler.transform(X_pool), y_pool, scaler.transform(X_test), y_test)
    (out / "config.yaml").write_text(
        CONFIG.format(
            name="protocol", estimator="sklearn.svm.SVC", strategy="margin", max_loops=10**6
        )
    )


def make_long(out: Path) -> None:
    from sklearn.datasets import make_classification

    X, y = make_classification(n_samples=7000, n_features=20, random_state=SEED)
    write(out, X[:6000], y[:6000], X[6000:], y[6000:])
    (out / "config.yaml").write_text(
        CONFIG.format(
            name="long",
            estimator="sklearn.naive_bayes.GaussianNB",
            strategy="random",
            max_loops=LONG_LOOPS,
        )
    )


def write(out: Path, X_pool, y_pool, X_test, y_test) -> None:
    import numpy as np

    out.mkdir(parents=True, exist_ok=True)
    np.savez(out / "pool.npz", X=X_pool, y=y_pool)
    np.savez(out / "test.npz", X=X_test, y=y_test)
    rng = np.random.default_rng(SEED)
    while True:  # both classes in the initial set, as a classifier needs
        init = rng.choice(X_pool.shape[0], N_INIT, replace=False)
        if np.unique(y_pool[init]).shape[0] > 1:
            break
    (out / "ids.txt").write_text("".join(f"{i}\n" for i in init))


def plain_loop(out: Path) -> None:
    """The protocol written directly: prints its picks and final accuracy as JSON."""
    import numpy as np
    from sklearn.metrics import accuracy_score
    from sklearn.svm import SVC

    with np.load(out / "pool.npz") as npz:
        X, y = npz["X"], npz["y"]
    with np.load(out / "test.npz") as npz:
        X_test, y_test = npz["X"], npz["y"]
    init = np.array((out / "ids.txt").read_text().split(), dtype=np.int64)
    labeled = np.zeros(X.shape[0], dtype=bool)
    labeled[init] = True
    picks = []
    while True:
        model = SVC().fit(X[labeled], y[labeled])
        accuracy = accuracy_score(y_test, model.predict(X_test))
        candidates = np.flatnonzero(~labeled)
        if candidates.size == 0:
            break
        pick = candidates[np.argmin(np.abs(model.decision_function(X[candidates])))]
        labeled[pick] = True
        picks.append(int(pick))
    print(json.dumps({"picks": picks, "accuracy": accuracy}))


# --- reading alcli's run ----------------------------------------------------------------------


def alcli_picks(run_dir: Path) -> list[int]:
    loops = sorted((run_dir / "loops").iterdir())[1:]
    return [
        int((loop / "selected.csv").read_text().splitlines()[1].split(",")[1]) for loop in loops
    ]


def checkpoint_ms(run_dir: Path) -> list[float]:
    """Each loop's checkpoint milliseconds, from events.jsonl, in loop order."""
    ms = []
    with (run_dir / "events.jsonl").open() as handle:
        for line in handle:
            event = json.loads(line)
            if event.get("event") == "step" and event["step"] == "checkpoint":
                ms.append(event["seconds"] * 1000)
    return ms


# --- the two measurements ---------------------------------------------------------------------


def protocol(args: argparse.Namespace, script: str) -> bool:
    out = args.out / "protocol"
    subprocess.run([sys.executable, script, "--make", "protocol", "--out", str(out)], check=True)
    env = child_env(out, args.threads)
    run_dir = out / "run"
    plain = [sys.executable, script, "--plain", "--out", str(out)]
    _, turns = race(out / "config.yaml", run_dir, plain, env, out, args.repeats, args.warmup)
    wall = {
        side: statistics.median(t.wall for t in turns if t.side == side)
        for side in ("alcli", "plain")
    }
    plain = json.loads(next(t for t in turns if t.side == "plain").stdout.strip().splitlines()[-1])
    same = alcli_picks(run_dir) == plain["picks"]
    ms = checkpoint_ms(run_dir)
    ratio = wall["alcli"] / wall["plain"]
    median_ms = statistics.median(ms)
    print()
    print(
        f"batch-1 protocol: breast_cancer 60/40, standardized, {N_INIT} initial, SVC rbf, "
        f"margin, {len(plain['picks'])} loops; alcli at {alcli_revision()}"
    )
    print(f"  alcli      {wall['alcli']:6.2f} s (median of {args.repeats})")
    print(f"  plain loop {wall['plain']:6.2f} s")
    print(f"  ratio      {ratio:6.3f}x   target <= {TIME_TARGET}x")
    print(
        f"  checkpoint {median_ms:6.3f} ms a loop (median; mean {statistics.mean(ms):.3f}, "
        f"max {max(ms):.3f})   target <= {CHECKPOINT_TARGET_MS} ms"
    )
    print(f"  same picks in every loop: {'yes' if same else 'NO'}")
    return ratio <= TIME_TARGET and median_ms <= CHECKPOINT_TARGET_MS and same


def long_run(args: argparse.Namespace, script: str) -> bool:
    out = args.out / "long"
    subprocess.run([sys.executable, script, "--make", "long", "--out", str(out)], check=True)
    run_dir = out / "run"
    shutil.rmtree(run_dir, ignore_errors=True)
    command = [sys.executable, "-m", "alcli", "run", str(out / "config.yaml")]
    print(f"  {LONG_LOOPS:,} loops of one record ...", end=" ", flush=True)
    turn = run_child(
        "long",
        "alcli",
        [*command, "--run-dir", str(run_dir), "-q"],
        child_env(out, args.threads),
        out / "alcli.log",
    )
    print(f"{turn.wall:.1f} s", flush=True)
    ms = checkpoint_ms(run_dir)
    first, last = statistics.median(ms[1:501]), statistics.median(ms[-500:])
    print()
    print(f"{LONG_LOOPS:,}-loop run (GaussianNB, random, 6,000 x 20 pool): {turn.wall:.1f} s")
    print(f"  checkpoint, loops 1-500:     {first:.3f} ms a loop (median)")
    print(f"  checkpoint, last 500 loops:  {last:.3f} ms a loop (median)")
    print(f"  last / first: {last / first:.2f}x (flat when the checkpoint does not grow)")
    return last <= 1.5 * first and last <= CHECKPOINT_TARGET_MS


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--out", type=Path, default=DEFAULT_OUT, help="Folder for data and runs.")
    parser.add_argument("--repeats", type=int, default=5, help="Timed turns of each side.")
    parser.add_argument("--warmup", type=int, default=1, help="Untimed turns of each side first.")
    parser.add_argument("--threads", type=int, default=1, help="OMP/BLAS threads (0: as is).")
    parser.add_argument("--long", action="store_true", help="Also the 5,000-loop run.")
    parser.add_argument("--check", action="store_true", help="Exit 1 when a target is missed.")
    parser.add_argument("--make", choices=("protocol", "long"), help=argparse.SUPPRESS)
    parser.add_argument("--plain", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    args.out = args.out.resolve()
    if args.make:
        (make_protocol if args.make == "protocol" else make_long)(args.out)
        return 0
    if args.plain:
        plain_loop(args.out)
        return 0
    script = str(Path(__file__).resolve())
    met = protocol(args, script)
    if args.long:
        met = long_run(args, script) and met
    print()
    print(f"targets: {'met' if met else 'MISSED'}")
    return 1 if args.check and not met else 0


if __name__ == "__main__":
    sys.exit(main())
