"""Label efficiency: does each registered strategy beat random sampling, and by how much?

Every strategy (default: all in alcli's STRATEGIES registry) runs through alcli itself
(``engine.start`` on a config built here) on four datasets: breast_cancer, digits and wine from
scikit-learn, and a generated make_classification set (2,000 x 20, 4 classes, 8 informative
features, random_state 0). Each dataset is standardized (each feature to mean 0 and standard
deviation 1 over the whole file: an unsupervised step that uses no label) and written as an NPZ
that the configs name in ``data.path``, so LogisticRegression(max_iter=1000) converges.

A run is one (dataset, strategy, seed). The seed fixes alcli's stratified test split (25%) and
its random initial set, so for a given dataset and seed every strategy starts from the same
labels and is scored on the same test set: the script checks it (same loop-0 ``selected.csv``
and the same data fingerprint in ``run.json`` across strategies) and exits 1 if not. Budgets,
fixed per dataset (init records, then loops x records per loop):

    breast_cancer  10 + 12 x 10        wine   10 + 10 x 5
    digits         20 + 15 x 20        synth  20 + 15 x 20

The evaluated model is always LogisticRegression. A strategy that cannot score with it (its
``check_model`` says why: bald needs an ensemble) gets a separate selection model,
``strategy.model`` = RandomForestClassifier(n_estimators=100), while LogisticRegression is still
the model trained and evaluated, so its curve compares with the others. Slow strategies get
cheaper parameters (STRATEGY_PARAMS below; printed with the results).

Metric: nAUC, the normalized area under the test-accuracy curve of one run, i.e. the trapezoid
area under accuracy against the labeled count, from loop 0 to the last loop, divided by the
range of labeled counts (alcli.metrics.aulc, as `alcli report` computes it). With equal loop
sizes it is the mean accuracy over loops 0..L, the first and last loop weighted one half. It
rewards reaching a good accuracy early, not only the final accuracy.

Reading the table: per dataset and strategy, the mean nAUC over seeds; ``diff`` is the mean of
the per-seed differences from random (same seed, so paired), with a 95% paired bootstrap
interval (seeds resampled with replacement, 10,000 resamples, generator seeded 0). "beats
random" is yes when the interval's low end is above 0. One seed gives no interval, and 2 seeds
(--quick, which also cuts every dataset to 5 loops) one that means little. Results go to
benchmarks/out/label_efficiency.csv, one row per (dataset, strategy), and
label_efficiency_seeds.csv, one row per run (with the error of a run that failed). The script
exits 1 when a run failed or the strategies of a (dataset, seed) did not share their start.

Runs go to ``--jobs`` worker processes (spawned, BLAS and OpenMP pinned to one thread each, so
that workers do not fight over the cores); run directories are deleted once read. The timing
summary gives each strategy's mean seconds per run and its mean SELECT seconds per loop. On 2
cores with --jobs 2, --quick takes about 45 s and the full benchmark (16 strategies, 10 seeds)
about 12 minutes, most of it expected_error_reduction on digits (about 1 minute per run).

    .venv/bin/python benchmarks/label_efficiency.py [--quick] [--seeds N] [--jobs N]
        [--strategies NAME ...] [--datasets NAME ...] [--out DIR]
"""

from __future__ import annotations

import argparse
import csv
import json
import os
import shutil
import sys
import time
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass
from multiprocessing import get_context
from pathlib import Path

import numpy as np

DEFAULT_OUT = Path(__file__).resolve().parent / "out"
EVALUATED_MODEL = {
    "estimator": "sklearn.linear_model.LogisticRegression",
    "params": {"max_iter": 1000},
}
SELECTION_FOREST = {
    "estimator": "sklearn.ensemble.RandomForestClassifier",
    "params": {"n_estimators": 100},
}
STRATEGY_PARAMS = {
    "expected_error_reduction": {"candidates": 50, "estimate_on": 200},
    "qbc": {"members": 5},
}
REFERENCE = "random"
QUICK_SEEDS = 2
QUICK_LOOPS = 5
RESAMPLES = 10_000
BOOTSTRAP_SEED = 0
SUMMARY_COLUMNS = [
    "dataset",
    "strategy",
    "n_seeds",
    "mean_nauc",
    "mean_final_accuracy",
    "diff_vs_random",
    "ci_low",
    "ci_high",
    "beats_random",
]
SEED_COLUMNS = [
    "dataset",
    "strategy",
    "seed",
    "nauc",
    "final_accuracy",
    "n_labeled",
    "run_s",
    "select_s_per_loop",
    "error",
]
THREAD_VARIABLES = ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS")


@dataclass(frozen=True)
class Budget:
    init: int
    size: int
    loops: int


BUDGETS = {
    "breast_cancer": Budget(init=10, size=10, loops=12),
    "digits": Budget(init=20, size=20, loops=15),
    "wine": Budget(init=10, size=5, loops=10),
    "synth": Budget(init=20, size=20, loops=15),
}


# --- data -------------------------------------------------------------------------------------


def load_raw(name: str) -> tuple[np.ndarray, np.ndarray]:
    from sklearn import datasets

    if name == "synth":
        return datasets.make_classification(
            n_samples=2000,
            n_features=20,
            n_informative=8,
            n_redundant=4,
            n_classes=4,
            random_state=0,
        )
    return getattr(datasets, f"load_{name}")(return_X_y=True)


def write_dataset(name: str, folder: Path) -> Path:
    """Standardize a dataset and write it as NPZ (X float64, y int64); returns its path."""
    X, y = load_raw(name)
    std = X.std(axis=0)
    X = (X - X.mean(axis=0)) / np.where(std > 0, std, 1.0)
    path = folder / f"{name}.npz"
    np.savez(path, X=X, y=y.astype(np.int64))
    return path


# --- one run (in a worker) --------------------------------------------------------------------


def needs_forest(strategy: str) -> bool:
    """Whether the strategy cannot score with the evaluated model (its check_model says so)."""
    from alcli.models import ModelConfig
    from alcli.strategies import build_strategy

    strategy_obj = build_strategy(strategy, STRATEGY_PARAMS.get(strategy, {}))
    return strategy_obj.check_model(ModelConfig(**EVALUATED_MODEL).build()) is not None


def build_config(dataset: str, data_path: Path, strategy: str, seed: int, budget: Budget):
    from alcli.config import validate_config

    strategy_section = {"name": strategy, **STRATEGY_PARAMS.get(strategy, {})}
    if needs_forest(strategy):
        strategy_section["model"] = SELECTION_FOREST
    raw = {
        "name": f"{dataset}-{strategy}-s{seed}",
        "seed": seed,
        "data": {"path": str(data_path)},
        "model": EVALUATED_MODEL,
        "init": {"method": "random", "size": budget.init},
        "strategy": strategy_section,
        "loop_size": {"schedule": "constant", "size": budget.size},
        "stop": {"max_loops": budget.loops},
        "metrics": ["accuracy"],
        "output": {"keep_models": "none"},
    }
    return validate_config(raw, "label_efficiency", base_dir=data_path.parent)


def run_one(task: dict) -> dict:
    """Run one (dataset, strategy, seed) through alcli; returns its curve summary or error."""
    from alcli import engine
    from alcli.metrics import aulc

    run_dir = Path(task["runs"]) / f"{task['dataset']}-{task['strategy']}-s{task['seed']}"
    shutil.rmtree(run_dir, ignore_errors=True)
    began = time.perf_counter()
    result = {key: task[key] for key in ("dataset", "strategy", "seed")}
    try:
        config = build_config(
            task["dataset"], Path(task["data"]), task["strategy"], task["seed"], task["budget"]
        )
        engine.start(config, run_dir)
    except Exception as exc:
        shutil.rmtree(run_dir, ignore_errors=True)
        return {**result, "error": f"{type(exc).__name__}: {str(exc).splitlines()[0]}"}
    with (run_dir / "metrics.csv").open(newline="") as handle:
        rows = list(csv.DictReader(handle))
    with (run_dir / "loops" / "0000" / "selected.csv").open(newline="") as handle:
        initial = sorted(int(row["index"]) for row in csv.DictReader(handle))
    fingerprint = json.loads((run_dir / "run.json").read_text())["data_fingerprint"]
    shutil.rmtree(run_dir)
    labeled = np.array([int(r["n_labeled"]) for r in rows])
    accuracy = np.array([float(r["accuracy"]) for r in rows])
    return {
        **result,
        "nauc": aulc(labeled, accuracy),
        "final_accuracy": float(accuracy[-1]),
        "n_labeled": int(labeled[-1]),
        "run_s": time.perf_counter() - began,
        "select_s_per_loop": float(np.mean([float(r["select_s"]) for r in rows[1:]] or [0.0])),
        "initial": initial,
        "fingerprint": fingerprint,
    }


# --- statistics -------------------------------------------------------------------------------


def paired_bootstrap(diffs: np.ndarray) -> tuple[float, float]:
    """95% interval of the mean of per-seed differences, seeds resampled with replacement."""
    rng = np.random.default_rng(BOOTSTRAP_SEED)
    picks = rng.integers(0, diffs.shape[0], size=(RESAMPLES, diffs.shape[0]))
    low, high = np.percentile(diffs[picks].mean(axis=1), [2.5, 97.5])
    return float(low), float(high)


def summarize(runs: list[dict], datasets: list[str], strategies: list[str]) -> list[dict]:
    """One row per (dataset, strategy) with a completed run, in the order given."""
    done = {(r["dataset"], r["strategy"], r["seed"]): r for r in runs if "error" not in r}
    rows = []
    for dataset in datasets:
        reference = {s: r for (d, st, s), r in done.items() if d == dataset and st == REFERENCE}
        for strategy in strategies:
            mine = {s: r for (d, st, s), r in done.items() if d == dataset and st == strategy}
            if mine:
                rows.append(summary_row(dataset, strategy, mine, reference))
    return rows


def summary_row(dataset: str, strategy: str, mine: dict, reference: dict) -> dict:
    """Mean nAUC of one strategy's runs (by seed), and the mean paired difference from the
    reference's runs of the same seeds; the interval needs two paired seeds at least."""
    row = {
        "dataset": dataset,
        "strategy": strategy,
        "n_seeds": len(mine),
        "mean_nauc": float(np.mean([r["nauc"] for r in mine.values()])),
        "mean_final_accuracy": float(np.mean([r["final_accuracy"] for r in mine.values()])),
        "diff_vs_random": None,
        "ci_low": None,
        "ci_high": None,
        "beats_random": "",
    }
    paired = sorted(set(mine) & set(reference))
    if strategy == REFERENCE or not paired:
        return row
    diffs = np.array([mine[s]["nauc"] - reference[s]["nauc"] for s in paired])
    row["diff_vs_random"] = float(diffs.mean())
    if len(paired) >= 2:
        low, high = paired_bootstrap(diffs)
        row.update(ci_low=low, ci_high=high, beats_random="yes" if low > 0 else "no")
    return row


def shared_start_problems(runs: list[dict]) -> list[str]:
    """(dataset, seed) pairs whose strategies did not share loop 0 and the test split."""
    seen: dict[tuple[str, int], tuple] = {}
    problems = []
    for r in runs:
        if "error" in r:
            continue
        start = (tuple(r["initial"]), r["fingerprint"])
        first = seen.setdefault((r["dataset"], r["seed"]), start)
        if start != first:
            problems.append(
                f"{r['dataset']} seed {r['seed']}: {r['strategy']} started from another loop 0 "
                "or test split than the other strategies"
            )
    return problems


# --- output -----------------------------------------------------------------------------------


def fmt(value: float | None, spec: str = "+.4f") -> str:
    return "" if value is None else format(value, spec)


def print_table(rows: list[dict]) -> None:
    header = (
        f"{'dataset':<14}{'strategy':<26}{'seeds':>5}{'nAUC':>8}{'final acc':>10}"
        f"{'diff':>9}{'95% CI low':>11}{'high':>9}  beats random"
    )
    print(header)
    print("-" * len(header))
    for r in rows:
        print(
            f"{r['dataset']:<14}{r['strategy']:<26}{r['n_seeds']:>5}{r['mean_nauc']:>8.4f}"
            f"{r['mean_final_accuracy']:>10.4f}{fmt(r['diff_vs_random']):>9}"
            f"{fmt(r['ci_low']):>11}{fmt(r['ci_high']):>9}  {r['beats_random']}"
        )


def print_timing(runs: list[dict], strategies: list[str], wall: float, jobs: int) -> None:
    done = [r for r in runs if "error" not in r]
    print(f"\ntiming: {len(done)} runs in {wall:.1f} s wall with {jobs} worker(s)")
    print(f"{'strategy':<26}{'runs':>5}{'s/run':>8}{'total s':>9}{'select s/loop':>15}")
    for strategy in strategies:
        mine = [r for r in done if r["strategy"] == strategy]
        if mine:
            run_s = [r["run_s"] for r in mine]
            select_s = np.mean([r["select_s_per_loop"] for r in mine])
            print(
                f"{strategy:<26}{len(mine):>5}{np.mean(run_s):>8.2f}{sum(run_s):>9.1f}"
                f"{select_s:>15.4f}"
            )


def write_csv(path: Path, rows: list[dict], columns: list[str]) -> None:
    with path.open("w", newline="") as handle:
        writer = csv.DictWriter(handle, fieldnames=columns, extrasaction="ignore")
        writer.writeheader()
        writer.writerows(rows)


def describe_setup(strategies: list[str], budgets: dict[str, Budget], seeds: int) -> None:
    print(f"{len(strategies)} strategies x {len(budgets)} datasets x {seeds} seeds")
    print(f"evaluated model: LogisticRegression({EVALUATED_MODEL['params']})")
    for name, b in budgets.items():
        print(f"  {name:<14} init {b.init} + {b.loops} loops x {b.size}")
    for strategy in strategies:
        notes = []
        if strategy in STRATEGY_PARAMS:
            notes.append(f"params {STRATEGY_PARAMS[strategy]}")
        if needs_forest(strategy):
            notes.append(f"selection model RandomForestClassifier({SELECTION_FOREST['params']})")
        if notes:
            print(f"  {strategy}: {'; '.join(notes)}")
    print(flush=True)


# --- main -------------------------------------------------------------------------------------


def parse_args(argv: list[str] | None, registered: list[str]) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        description="Normalized area under the accuracy curve of every strategy against random "
        "sampling, over seeds, with paired bootstrap intervals.",
    )
    parser.add_argument(
        "--strategies",
        nargs="+",
        choices=registered,
        default=registered,
        metavar="NAME",
        help="Strategies to run (random is always added).",
    )
    parser.add_argument(
        "--datasets",
        nargs="+",
        choices=list(BUDGETS),
        default=list(BUDGETS),
        metavar="NAME",
        help=f"Datasets: {', '.join(BUDGETS)}.",
    )
    parser.add_argument("--seeds", type=int, default=10, help="Seeds 0..N-1 (default 10).")
    parser.add_argument("--jobs", type=int, default=2, help="Worker processes (default 2).")
    parser.add_argument(
        "--quick",
        action="store_true",
        help=f"Smoke test: {QUICK_SEEDS} seeds, {QUICK_LOOPS} loops per dataset.",
    )
    parser.add_argument(
        "--out",
        type=Path,
        default=DEFAULT_OUT,
        help="Folder for the CSVs (data and run directories go in a subfolder).",
    )
    args = parser.parse_args(argv)
    if args.seeds < 1 or args.jobs < 1:
        parser.error("--seeds and --jobs must be at least 1")
    return args


def run_all(tasks: list[dict], jobs: int) -> list[dict]:
    """Every run, in ``jobs`` spawned worker processes; prints each one as it completes."""
    # Spawned workers read the environment at start, before their BLAS and OpenMP load.
    for name in THREAD_VARIABLES:
        os.environ[name] = "1"
    runs = []
    with ProcessPoolExecutor(jobs, mp_context=get_context("spawn")) as pool:
        for r in pool.map(run_one, tasks):
            runs.append(r)
            status = r.get("error") or f"nAUC {r['nauc']:.4f}, {r['run_s']:.1f} s"
            print(
                f"  [{len(runs)}/{len(tasks)}] {r['dataset']} {r['strategy']} "
                f"seed {r['seed']}: {status}",
                flush=True,
            )
    return runs


def main(argv: list[str] | None = None) -> int:
    from alcli.strategies import STRATEGIES

    args = parse_args(argv, sorted(STRATEGIES))
    strategies = [REFERENCE, *sorted(set(args.strategies) - {REFERENCE})]
    seeds = QUICK_SEEDS if args.quick else args.seeds
    budgets = {
        name: Budget(b.init, b.size, QUICK_LOOPS) if args.quick else b
        for name, b in BUDGETS.items()
        if name in args.datasets
    }
    work = args.out.resolve() / "label_efficiency"
    (work / "data").mkdir(parents=True, exist_ok=True)
    data_paths = {name: write_dataset(name, work / "data") for name in budgets}
    describe_setup(strategies, budgets, seeds)

    tasks = [
        {
            "dataset": d,
            "strategy": s,
            "seed": seed,
            "budget": budgets[d],
            "data": str(data_paths[d]),
            "runs": str(work / "runs"),
        }
        for d in budgets
        for seed in range(seeds)
        for s in strategies
    ]
    began = time.perf_counter()
    runs = run_all(tasks, args.jobs)
    wall = time.perf_counter() - began

    rows = summarize(runs, list(budgets), strategies)
    print()
    print_table(rows)
    print_timing(runs, strategies, wall, args.jobs)
    write_csv(args.out / "label_efficiency.csv", rows, SUMMARY_COLUMNS)
    write_csv(args.out / "label_efficiency_seeds.csv", runs, SEED_COLUMNS)
    print(f"\nwrote {args.out / 'label_efficiency.csv'} and label_efficiency_seeds.csv")

    failed = [r for r in runs if "error" in r]
    for r in failed:
        print(f"FAILED {r['dataset']} {r['strategy']} seed {r['seed']}: {r['error']}")
    problems = shared_start_problems(runs)
    for problem in problems:
        print(f"NOT SHARED {problem}")
    return 1 if failed or problems else 0


if __name__ == "__main__":
    sys.exit(main())
