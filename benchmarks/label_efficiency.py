"""Label efficiency: does each registered strategy beat random sampling, and by how much?

Every strategy (default: all in alcli's STRATEGIES registry) runs on four datasets:
breast_cancer, digits and wine from scikit-learn, and a generated make_classification set
(2,000 x 20, 4 classes, 8 informative features, random_state 0). Each dataset is standardized
(each feature to mean 0 and standard deviation 1 over the whole file: an unsupervised step that
uses no label) and written as an NPZ, so LogisticRegression(max_iter=1000) converges.

The runs are alcli sweeps, one per dataset (``alcli sweep``, ``--jobs`` runs at a time): the
sweep file written here has a grid over the ``strategy`` section, one cell per strategy, and
``--seeds`` seeds; the sweep adds the matched random baseline. The seed fixes alcli's
stratified test split (25%) and its random initial set, so for a given dataset and seed every
strategy starts from the same labels and is scored on the same test set as random. Budgets,
fixed per dataset (init records, then loops x records per loop):

    breast_cancer  10 + 12 x 10        wine   10 + 10 x 5
    digits         20 + 15 x 20        synth  20 + 15 x 20

The evaluated model is always LogisticRegression. A strategy that cannot score with it (its
``check_model`` says why: bald needs an ensemble) gets a separate selection model,
``strategy.model`` = RandomForestClassifier(n_estimators=100), while LogisticRegression is still
the model trained and evaluated, so its curve compares with the others. Slow strategies get
cheaper parameters (STRATEGY_PARAMS below). Both are printed before the runs start.

The statistics are alcli's compare over every sweep at once, grouped by dataset
(``data.path``) and strategy (``strategy.name``), each group paired by seed with random on the
same dataset. Its checks stand in for this script's: compare refuses pairs that did not start
from the same initial set and data fingerprint.

Metric: nAULC, the normalized area under the test-accuracy curve of one run: the trapezoid area
under accuracy against the labeled count, from loop 0 to the last loop, divided by the range of
labeled counts (alcli.metrics.aulc, as `alcli report` computes it). With equal loop sizes it is
the mean accuracy over loops 0..L, the first and last loop weighted one half. It rewards
reaching a good accuracy early, not only the final accuracy.

Reading the table: per dataset and strategy, the mean nAULC and final accuracy over seeds;
``diff`` is the mean of the per-seed nAULC differences from random (same seed, so paired), with
a 95% percentile bootstrap interval (seeds resampled with replacement, 10,000 resamples, seeded)
and the seeds won, tied (|diff| <= 0.005) and lost; the verdict is "better" when the interval
is above 0, "worse" when below. "rank" is the strategy's nAULC rank among all strategies on that
dataset (1 = best) and "mean rank" its mean over the datasets; "s/run" the mean compute seconds
of a run. One seed gives no interval, and 2 seeds (--quick, which also cuts every dataset to 5
loops) one that means little.

Output: compare's summary CSV (one row per dataset and strategy, its columns as `alcli compare
--format csv` writes them) goes to ``--out``/label_efficiency.csv, and its HTML report to
label_efficiency.html. Their labels_to_target is held against one target for every dataset (95%
of the best final accuracy of any group), so it only means something with one dataset. The
sweeps stay in ``--out``/label_efficiency/sweeps/<dataset> (each with its own results/ and
report.html, replaced on the next invocation); ``alcli compare DIR... --by data.path --by
strategy.name`` reads them again (the --by matters: see compare_sweeps). The script exits 1
when a run failed or compare found pairs that did not share their start. On 2 cores with --jobs
2, --quick with three strategies (margin, bald, qbc) takes under a minute; the full benchmark
(16 strategies, 10 seeds) took about 12 minutes before it ran as sweeps, most of it
expected_error_reduction on digits.

    .venv/bin/python benchmarks/label_efficiency.py [--quick] [--seeds N] [--jobs N]
        [--strategies NAME ...] [--datasets NAME ...] [--out DIR]
"""

from __future__ import annotations

import argparse
import copy
import shutil
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import yaml

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
REFERENCE = "random"  # the sweeps' default baseline
GROUP_BY = ["data.path", "strategy.name"]
QUICK_SEEDS = 2
QUICK_LOOPS = 5


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


# --- the sweeps -------------------------------------------------------------------------------


def needs_forest(strategy: str) -> bool:
    """Whether the strategy cannot score with the evaluated model (its check_model says so)."""
    from alcli.models import ModelConfig
    from alcli.strategies import build_strategy

    strategy_obj = build_strategy(strategy, STRATEGY_PARAMS.get(strategy, {}))
    return strategy_obj.check_model(ModelConfig(**EVALUATED_MODEL).build()) is not None


def strategy_section(strategy: str) -> dict:
    """One grid value: the whole strategy section (the sweep names its cell by ``name``)."""
    section = {"name": strategy, **STRATEGY_PARAMS.get(strategy, {})}
    if needs_forest(strategy):
        section["model"] = SELECTION_FOREST
    return copy.deepcopy(section)  # shared objects would be YAML aliases


def write_sweep(folder: Path, dataset: str, budget: Budget, grid: list[dict], seeds: int) -> Path:
    """The dataset's sweep file, beside its data folder; returns its path."""
    sweep = {
        "name": f"label-efficiency-{dataset}",
        "config": {
            "name": f"label-efficiency-{dataset}",
            "data": {"path": f"data/{dataset}.npz"},
            "model": EVALUATED_MODEL,
            "init": {"method": "random", "size": budget.init},
            "strategy": {"name": REFERENCE},
            "loop_size": {"schedule": "constant", "size": budget.size},
            "stop": {"max_loops": budget.loops},
            "metrics": ["accuracy"],
            "output": {"keep_models": "none"},
        },
        "grid": {"strategy": grid},
        "seeds": seeds,
    }
    path = folder / f"{dataset}.yaml"
    path.write_text(
        "# Written by benchmarks/label_efficiency.py.\n" + yaml.safe_dump(sweep, sort_keys=False)
    )
    return path


def run_sweep(sweep_file: Path, sweep_dir: Path, jobs: int) -> bool:
    """``alcli sweep`` in a child process, its progress on this terminal; True when every
    run completed."""
    shutil.rmtree(sweep_dir, ignore_errors=True)
    command = [sys.executable, "-m", "alcli", "sweep", str(sweep_file)]
    done = subprocess.run([*command, "--sweep-dir", str(sweep_dir), "--jobs", str(jobs)])
    return done.returncode == 0


# --- the comparison ---------------------------------------------------------------------------


def compare_sweeps(sweep_dirs: list[Path], csv_path: Path, html_path: Path):
    """alcli's compare over every sweep: its CSV and HTML report written, the comparison
    returned."""
    from alcli.atomic import csv_text
    from alcli.experiments import collect_runs, compare
    from alcli.reporting.comparison import SUMMARY_COLUMNS, summary_rows
    from alcli.reporting.html import comparison_html
    from alcli.reporting.runs import library_versions

    runs, notes = collect_runs(sweep_dirs)
    # Grouped by these two keys and no more: compare's default (every key that differs) would
    # also take the budget keys (init.size, loop_size.size, stop.max_loops) for part of the
    # method, and average each strategy's rank only over the datasets with the same budget.
    comparison = compare(runs, by=GROUP_BY, reference=REFERENCE, notes=notes)
    rows = [list(row.values()) for row in summary_rows(comparison)]
    csv_path.write_text(csv_text(SUMMARY_COLUMNS, rows))
    configs = {g.label: (g.runs[0].path / "config.yaml").read_text() for g in comparison.groups}
    html_path.write_text(
        comparison_html(comparison, "label efficiency", configs, library_versions())
    )
    return comparison


def fmt(value: float | None, spec: str = "+.4f") -> str:
    return "" if value is None else format(value, spec)


def print_table(comparison) -> None:
    print(f"\n{comparison.metric}, nAULC paired with {REFERENCE} by seed:")
    header = (
        f"{'dataset':<14}{'strategy':<26}{'runs':>5}{'nAULC':>8}{'final':>8}{'diff':>9}"
        f"{'95% interval':>20}{'W/T/L':>9}  {'verdict':<20}{'rank':>5}{'mean rank':>10}"
        f"{'s/run':>7}"
    )
    print(header)
    print("-" * len(header))
    for g in comparison.groups:
        interval = f"[{g.ci_low:+.4f}, {g.ci_high:+.4f}]" if g.ci_low is not None else ""
        wtl = f"{g.wins}/{g.ties}/{g.losses}" if g.pairs else ""
        print(
            f"{Path(g.keys['data.path']).stem:<14}{g.keys['strategy.name']:<26}{g.n_runs:>5}"
            f"{g.aulc:>8.4f}{g.final:>8.4f}{fmt(g.diff):>9}{interval:>20}{wtl:>9}  "
            f"{g.verdict():<20}{fmt(g.rank, '.1f'):>5}{fmt(g.mean_rank, '.2f'):>10}"
            f"{g.seconds_per_run:>7.2f}"
        )
    for note in comparison.notes:
        print(f"note: {note}")


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
        help="Strategies to run (random, the baseline, is always run).",
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
    parser.add_argument("--jobs", type=int, default=2, help="Runs at a time (default 2).")
    parser.add_argument(
        "--quick",
        action="store_true",
        help=f"Smoke test: {QUICK_SEEDS} seeds, {QUICK_LOOPS} loops per dataset.",
    )
    parser.add_argument(
        "--out",
        type=Path,
        default=DEFAULT_OUT,
        help="Folder for the CSV and the report (data and sweeps go in a subfolder).",
    )
    args = parser.parse_args(argv)
    if args.seeds < 1 or args.jobs < 1:
        parser.error("--seeds and --jobs must be at least 1")
    if set(args.strategies) <= {REFERENCE}:
        parser.error(f"give a strategy besides {REFERENCE}, the baseline every sweep runs")
    return args


def describe_setup(grid: list[dict], budgets: dict[str, Budget], seeds: int) -> None:
    print(f"{len(grid)} strategies + {REFERENCE} x {len(budgets)} datasets x {seeds} seeds")
    print(f"evaluated model: LogisticRegression({EVALUATED_MODEL['params']})")
    for name, b in budgets.items():
        print(f"  {name:<14} init {b.init} + {b.loops} loops x {b.size}")
    for section in grid:
        if len(section) > 1:  # cheaper parameters or a selection model
            print(f"  strategy: {section}")
    print(flush=True)


def main(argv: list[str] | None = None) -> int:
    from alcli.errors import AlcliError
    from alcli.strategies import STRATEGIES

    args = parse_args(argv, sorted(STRATEGIES))
    strategies = sorted(set(args.strategies) - {REFERENCE})
    seeds = QUICK_SEEDS if args.quick else args.seeds
    budgets = {
        name: Budget(b.init, b.size, QUICK_LOOPS) if args.quick else b
        for name, b in BUDGETS.items()
        if name in args.datasets
    }
    out = args.out.resolve()
    work = out / "label_efficiency"
    (work / "data").mkdir(parents=True, exist_ok=True)
    grid = [strategy_section(s) for s in strategies]
    describe_setup(grid, budgets, seeds)

    sweep_dirs, failed = [], []
    began = time.perf_counter()
    for dataset, budget in budgets.items():
        write_dataset(dataset, work / "data")
        sweep_file = write_sweep(work, dataset, budget, grid, seeds)
        print(f"--- {dataset}: {len(grid) + 1} cells x {seeds} seeds", flush=True)
        sweep_dirs.append(work / "sweeps" / dataset)
        if not run_sweep(sweep_file, sweep_dirs[-1], args.jobs):
            failed.append(dataset)
    wall = time.perf_counter() - began

    csv_path, html_path = out / "label_efficiency.csv", out / "label_efficiency.html"
    try:  # a sweep refused before its first run made no directory
        comparison = compare_sweeps([d for d in sweep_dirs if d.is_dir()], csv_path, html_path)
    except AlcliError as exc:
        print(f"compare: {exc}", file=sys.stderr)
        return 1
    print_table(comparison)
    print(f"\n{len(comparison.runs)} runs in {wall:.1f} s wall with --jobs {args.jobs}")
    print(f"wrote {csv_path} and {html_path.name}")
    for dataset in failed:
        print(f"FAILED: runs of the {dataset} sweep; see its output above")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
