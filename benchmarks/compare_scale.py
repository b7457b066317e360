"""`alcli compare` over 1,000 run directories: target under 10 s.

The runs: a small real sweep (scikit-learn's digits, LogisticRegression(max_iter=1000), 20
random initial records then 20 loops of 20, metrics accuracy and f1_macro; margin, entropy and
least_confidence plus the matched random baseline, 4 seeds: 16 runs, under a minute on 2 jobs),
kept in ``--out``/real and reused by later invocations (``--fresh`` makes it again). From it,
``--runs`` (default 1,000) run directories are fabricated in ``--out``/runs/<cell>/seed-<k>,
k = 0 .. runs/4 - 1: each a copy of the real run of the same cell and seed k mod 4, made of the
files compare reads (run.json, metrics.csv, loops/0000/selected.csv, and config.yaml with its
``seed`` set to k). A strategy's copy and its baseline's copy for seed k come from the same real
seed, so they share the data fingerprint and the initial set and pair as real runs do: compare
groups them into 4 groups of runs/4 runs, 3 of them with a paired interval from the baseline.

Timed, with the fabricated runs in the page cache (each side is run once untimed first):

- ``alcli compare DIR --format json`` as a child process, ``--repeats`` times (the target);
- the same work as library calls in a child process (import alcli.experiments, collect_runs,
  compare, to_json, each timed), which separates the start-up from the reading and the
  statistics.

The script prints each turn, then the median, min and max of each figure, checks the JSON (the
groups hold every run, the strategies have a paired difference), and exits 1 when the median
of the child process is above 10 s or a check fails. ``--profile`` also prints cProfile's top
functions of collect_runs + compare. About 1.5 minutes the first time, 40 s after.

    .venv/bin/python benchmarks/compare_scale.py [--runs N] [--repeats N] [--profile]
        [--fresh] [--out DIR]
"""

from __future__ import annotations

# The driver imports the standard library only (harness.run_child's peak-memory rule).
import argparse
import json
import re
import shutil
import statistics
import subprocess
import sys
from pathlib import Path

from harness import alcli_revision, child_env, in_turns, run_child

TARGET_S = 10.0
REAL_SEEDS = 4
CELLS = 4  # three strategies and the baseline
DEFAULT_OUT = Path(__file__).resolve().parent / "out" / "compare_scale"
#: What compare reads of a run directory (config.yaml is written with its seed changed).
COPIED = ("run.json", "metrics.csv", "loops/0000/selected.csv")

SWEEP = f"""\
# Written by benchmarks/compare_scale.py.
name: compare-scale
config:
  name: compare-scale
  data: {{source: "sklearn:digits", test_size: 0.25}}
  model:
    estimator: sklearn.linear_model.LogisticRegression
    params: {{max_iter: 1000}}
  init: {{method: random, size: 20}}
  strategy: {{name: margin}}
  loop_size: {{size: 20}}
  stop: {{max_loops: 20}}
  metrics: [accuracy, f1_macro]
  output: {{keep_models: none}}
grid:
  strategy.name: [margin, entropy, least_confidence]
seeds: {REAL_SEEDS}
jobs: 2
"""


# --- the runs ---------------------------------------------------------------------------------


def real_sweep(out: Path, env: dict[str, str], fresh: bool) -> Path:
    """The real sweep's directory, made unless a complete one is there."""
    sweep_dir = out / "real"
    if (sweep_dir / "results" / "summary.csv").is_file() and not fresh:
        return sweep_dir
    shutil.rmtree(sweep_dir, ignore_errors=True)
    (out / "sweep.yaml").write_text(SWEEP)
    print(f"making {CELLS * REAL_SEEDS} real runs in {sweep_dir} ...", flush=True)
    command = [sys.executable, "-m", "alcli", "sweep", str(out / "sweep.yaml")]
    with (out / "sweep.log").open("w") as log:
        done = subprocess.run(
            [*command, "--sweep-dir", str(sweep_dir), "--quiet"],
            stdout=log,
            stderr=subprocess.STDOUT,
            env=env,
        )
    if done.returncode != 0:
        raise SystemExit(f"the real sweep failed (exit {done.returncode}); see {out / 'sweep.log'}")
    return sweep_dir


def fabricate(real: Path, folder: Path, seeds: int) -> int:
    """``seeds`` copies of every real cell in ``folder``/<cell>/seed-<k>; returns the count."""
    shutil.rmtree(folder, ignore_errors=True)
    cells = sorted(p for p in (real / "runs").iterdir() if p.is_dir())
    if len(cells) != CELLS:
        raise SystemExit(f"{real}: expected {CELLS} cells, found {len(cells)}")
    count = 0
    for seed in range(seeds):
        for cell in cells:
            source = cell / f"seed-{seed % REAL_SEEDS}"
            target = folder / cell.name / f"seed-{seed}"
            (target / "loops" / "0000").mkdir(parents=True)
            for name in COPIED:
                shutil.copyfile(source / name, target / name)
            config, changed = re.subn(
                r"(?m)^seed: \d+$", f"seed: {seed}", (source / "config.yaml").read_text()
            )
            if changed != 1:
                raise SystemExit(f"{source / 'config.yaml'}: no top-level 'seed:' line")
            (target / "config.yaml").write_text(config)
            count += 1
    return count


# --- the library child ------------------------------------------------------------------------


def library_child(folder: Path, profile: bool) -> None:
    """Time the library calls `alcli compare` makes; print the seconds as JSON."""
    import time

    began = time.perf_counter()
    from alcli.experiments import collect_runs, compare
    from alcli.reporting.comparison import to_json

    imported = time.perf_counter()
    runs, notes = collect_runs([folder])
    collected = time.perf_counter()
    comparison = compare(runs, notes=notes)
    compared = time.perf_counter()
    to_json(comparison)
    dumped = time.perf_counter()
    if profile:
        import cProfile
        import pstats

        profiler = cProfile.Profile()
        profiler.enable()
        runs, notes = collect_runs([folder])
        compare(runs, notes=notes)
        profiler.disable()
        stats = pstats.Stats(profiler, stream=sys.stderr)
        stats.sort_stats("tottime").print_stats(20)
        stats.sort_stats("cumulative").print_stats(r"alcli", 25)
    print(
        json.dumps(
            {
                "import": imported - began,
                "collect_runs": collected - imported,
                "compare": compared - collected,
                "to_json": dumped - compared,
            }
        )
    )


# --- main -------------------------------------------------------------------------------------


def check_json(text: str, runs: int) -> list[str]:
    """Problems with compare's JSON: every run in a group, a paired difference for each
    strategy."""
    result = json.loads(text)
    problems = []
    grouped = sum(group["runs"] for group in result["groups"])
    if grouped != runs:
        problems.append(f"the groups hold {grouped} runs, not {runs}")
    paired = [g for g in result["groups"] if g["diff"] is not None and g["ci_low"] is not None]
    if len(result["groups"]) != CELLS or len(paired) != CELLS - 1:
        problems.append(
            f"{len(result['groups'])} groups, {len(paired)} with a paired interval; "
            f"expected {CELLS} and {CELLS - 1}"
        )
    return problems


def spread(values: list[float]) -> str:
    return f"{statistics.median(values):7.3f} s  ({min(values):.3f}-{max(values):.3f})"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--runs", type=int, default=1000, help="Run directories (default 1000).")
    parser.add_argument("--repeats", type=int, default=5, help="Timed turns of each side.")
    parser.add_argument("--profile", action="store_true", help="Print cProfile's top functions.")
    parser.add_argument("--fresh", action="store_true", help="Make the real runs again.")
    parser.add_argument("--out", type=Path, default=DEFAULT_OUT, help="Folder for the runs.")
    parser.add_argument("--library", type=Path, help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.library:
        library_child(args.library, args.profile)
        return 0
    if args.runs < CELLS or args.runs % CELLS or args.repeats < 1:
        parser.error(f"--runs must be a positive multiple of {CELLS}; --repeats at least 1")
    out = args.out.resolve()
    out.mkdir(parents=True, exist_ok=True)
    env = child_env(out, threads=0)
    real = real_sweep(out, env, args.fresh)
    folder = out / "runs"
    count = fabricate(real, folder, args.runs // CELLS)
    print(f"{count} run directories in {folder}; alcli at {alcli_revision()}", flush=True)

    script = str(Path(__file__).resolve())
    commands = {
        "cli": [sys.executable, "-m", "alcli", "compare", str(folder), "--format", "json"],
        "library": [sys.executable, script, "--library", str(folder)],
    }

    def turn(side: str, label: str):
        print(f"  {label:<8} {side:<8} ...", end=" ", flush=True)
        result = run_child(label, side, commands[side], env, out / f"{side}.log")
        print(f"{result.wall:.3f} s", flush=True)
        return result

    _, turns = in_turns(("cli", "library"), args.repeats, 1, turn)
    cli = [t for t in turns if t.side == "cli"]
    library = [json.loads(t.stdout.strip().splitlines()[-1]) for t in turns if t.side == "library"]
    problems = check_json(cli[0].stdout, count)
    wall = statistics.median(t.wall for t in cli)

    print()
    print(f"alcli compare over {count} run directories (--format json), {args.repeats} turns:")
    print(
        f"  child process, spawn to exit  {spread([t.wall for t in cli])}   target < {TARGET_S} s"
    )
    for step in ("import", "collect_runs", "compare", "to_json"):
        print(f"    {step:<26}{spread([r[step] for r in library])}")
    per_run = statistics.median(r["collect_runs"] for r in library) / count * 1000
    print(f"  collect_runs per run         {per_run:7.3f} ms")
    for problem in problems:
        print(f"CHECK FAILED: {problem}")
    if args.profile:
        print("\ncProfile of collect_runs + compare:", flush=True)
        subprocess.run(
            [*commands["library"], "--profile"], env=env, check=True, stdout=subprocess.DEVNULL
        )
    met = wall < TARGET_S and not problems
    print(f"target: {'met' if met else 'MISSED'}")
    return 0 if met else 1


if __name__ == "__main__":
    sys.exit(main())
