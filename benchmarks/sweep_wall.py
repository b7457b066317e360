"""A sweep's wall time on N jobs against the sum of its runs' time: how much of N cores a sweep
turns into runs.

Target: ``alcli sweep --jobs N`` takes at most 1.1 x (sum of its runs' time) / N, for runs of a
few seconds. "The sum of its runs' time" is measured as the wall time of the same sweep with
``--jobs 1`` (its runs one after another, in one process), so the ratio reported is

    wall(--jobs N) / (wall(--jobs 1) / N)       1.0: perfect use of N cores; target <= 1.1

Both sides pay the sweep's fixed costs once (start-up, validating every cell, writing
results/ and report.html); N jobs also pay for spawning the workers and for the last runs
leaving some workers idle. Those are what the ratio measures: with fixed costs F, worker
start-up s and an idle tail t, wall(N) = F + s + runs / N + t, so the ratio is
1 + ((N - 1) F + N (s + t)) / wall(1). The sweep below takes about 50 s on one job, with F
about 2.4 s (1.3 s of start-up before the first run, 1.1 s for results/, report.html and the
exit after the last) and, on 2 jobs, s about 2.5 s (each spawned worker spends about 1.5 s
importing alcli and scikit-learn before its first run, and the sweep waits for the workers to
exit before writing its results) and t about 1 s: that alone reads 1.18 (as measured at
5df43e3, on a quiet 2-core machine).

The sweep (written to a temporary folder, deleted at the end): scikit-learn's digits (1,797 x
64, test_size 0.25), LogisticRegression(max_iter=1000), 20 random initial records then
``--loops`` (default 40) loops of 20, strategies margin, entropy and least_confidence plus the
matched random baseline, ``--seeds`` seeds (default 5): 20 runs of about 1-2.5 s of compute
each (random is the cheapest). Nothing is pinned beyond what the sweep does itself (its workers
get cores // jobs BLAS threads; the model its default blas_threads: 1).

The two sides run as child processes in turns (harness.in_turns: ``--warmup`` untimed turns
of each, then ``--repeats`` timed turns of each, the order alternating), each on a fresh sweep
directory. Per turn the script prints the wall time, the CPU time of the sweep and its workers,
the "compute" (the sum over runs of metrics.csv's step seconds: the runs' own work, no
start-up), the 1-minute load average (it counts the sweep's own processes too: about N after
an N-job turn), and a probe of the machine taken right after the turn: N copies of
a fixed scikit-learn workload (LogisticRegression fits on digits, about 1.5 s, one BLAS thread)
side by side, their time over one copy alone. A probe near 1.0 means N free cores; above it,
something else was using them (another test run, another benchmark), and the turn's figures say
more about that than about alcli.

The result gives the ratio of the median wall times (the target), the per-repeat ratios (the
two turns of one repeat run back to back), the ratio over the quiet repeats alone (both probes
at most 1.15: the figure to trust on a shared machine; not the target), "compute N / 1"
(above 1: the runs themselves ran slower side by side) and "cpu N / 1" (the work a parallel
sweep adds: mostly each worker's imports). It also checks that every run completed and that
both sides recorded the same curves (a sweep gives the same results on one core or many). Exit
1 when the ratio is above the target or a check fails. With the defaults on 2 cores it takes
about 6 minutes on a quiet machine.

    .venv/bin/python benchmarks/sweep_wall.py [--jobs N] [--seeds N] [--loops N]
        [--repeats N] [--warmup N] [--out DIR]
"""

from __future__ import annotations

# The driver imports the standard library only (harness.run_child's peak-memory rule).
import argparse
import csv
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

from harness import Turn, alcli_revision, child_env, in_turns, run_child

TARGET = 1.1
#: A probe at most this: the machine's cores were free (see probe()).
QUIET = 1.15
STRATEGIES = ("margin", "entropy", "least_confidence")
DEFAULT_OUT = Path(__file__).resolve().parent / "out" / "sweep_wall"

SWEEP = """\
# Written by benchmarks/sweep_wall.py.
name: sweep-wall
config:
  name: sweep-wall
  data: {{source: "sklearn:digits", test_size: 0.25}}
  model:
    estimator: sklearn.linear_model.LogisticRegression
    params: {{max_iter: 1000}}
  init: {{method: random, size: 20}}
  strategy: {{name: margin}}
  loop_size: {{size: 20}}
  stop: {{max_loops: {loops}}}
  metrics: [accuracy]
  output: {{keep_models: none}}
grid:
  strategy.name: [{strategies}]
seeds: {seeds}
"""


@dataclass
class Measured:
    turn: Turn
    runs: int
    #: The sum over runs of metrics.csv's step seconds.
    compute: float
    #: Each run's metrics.csv without its seconds columns: the same on every side.
    curves: dict[str, list[list[str]]]
    load: float
    #: The machine's slow-down on the probe: N copies side by side over one alone.
    probe: float


def read_sweep(sweep_dir: Path) -> tuple[int, float, dict[str, list[list[str]]]]:
    """The runs of a finished sweep (exits when one did not complete), their summed compute
    seconds, and their curves without the timings."""
    with (sweep_dir / "status.csv").open(newline="") as handle:
        status = list(csv.DictReader(handle))
    unfinished = [
        f"{r['cell']}/seed-{r['seed']} ({r['state']})" for r in status if r["state"] != "completed"
    ]
    if unfinished:
        raise SystemExit(f"{sweep_dir}: runs did not complete: {', '.join(unfinished)}")
    compute = 0.0
    curves = {}
    for row in status:
        with (sweep_dir / row["run_dir"] / "metrics.csv").open(newline="") as handle:
            reader = csv.reader(handle)
            header = next(reader)
            timed = [i for i, name in enumerate(header) if name.endswith("_s")]
            kept = []
            for line in reader:
                compute += sum(float(line[i]) for i in timed)
                kept.append([v for i, v in enumerate(line) if i not in timed])
        curves[row["run_dir"]] = kept
    return len(status), compute, curves


def burn() -> None:
    """The probe's fixed work, like a run's TRAIN steps: LogisticRegression fits on growing
    prefixes of digits (about 1.5 s)."""
    import warnings

    from sklearn.datasets import load_digits
    from sklearn.exceptions import ConvergenceWarning
    from sklearn.linear_model import LogisticRegression

    warnings.simplefilter("ignore", ConvergenceWarning)
    X, y = load_digits(return_X_y=True)
    for n in range(100, 900, 20):
        LogisticRegression(max_iter=1000).fit(X[:n], y[:n])


def probe(copies: int, env: dict[str, str]) -> float:
    """How much slower ``copies`` copies of :func:`burn` run side by side than one alone
    (1.0: the machine has ``copies`` free cores); each child times its own work."""
    command = [sys.executable, str(Path(__file__).resolve()), "--burn"]

    def timed(n: int) -> float:
        children = [
            subprocess.Popen(command, env=env, stdout=subprocess.PIPE, text=True) for _ in range(n)
        ]
        return max(float(child.communicate()[0]) for child in children)

    return timed(copies) / timed(1)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--jobs", type=int, default=2, help="N, the jobs of the timed side.")
    parser.add_argument("--seeds", type=int, default=5, help="Seeds (4 runs each; default 5).")
    parser.add_argument("--loops", type=int, default=40, help="Loops of 20 per run (default 40).")
    parser.add_argument("--repeats", type=int, default=3, help="Timed turns of each side.")
    parser.add_argument("--warmup", type=int, default=1, help="Untimed turns of each side first.")
    parser.add_argument("--out", type=Path, default=DEFAULT_OUT, help="Logs and bytecode cache.")
    parser.add_argument("--burn", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.burn:
        began = time.perf_counter()
        burn()
        print(time.perf_counter() - began)
        return 0
    if min(args.jobs, args.seeds, args.loops, args.repeats) < 1 or args.jobs < 2:
        parser.error("--jobs must be at least 2; --seeds, --loops and --repeats at least 1")
    out = args.out.resolve()
    out.mkdir(parents=True, exist_ok=True)
    env = child_env(out, threads=0)
    probe_env = child_env(out, threads=1)
    cores = len(os.sched_getaffinity(0))
    sides = ("1 job", f"{args.jobs} jobs")
    jobs = {sides[0]: 1, sides[1]: args.jobs}
    runs_count = (len(STRATEGIES) + 1) * args.seeds
    print(
        f"sweep: digits, LogisticRegression, {', '.join(STRATEGIES)} + random baseline x "
        f"{args.seeds} seeds = {runs_count} runs of 20 + {args.loops} x 20 labels; "
        f"{cores} cores; alcli at {alcli_revision()}"
    )
    work = Path(tempfile.mkdtemp(prefix="sweep_wall."))
    try:
        sweep_file = work / "sweep.yaml"
        sweep_file.write_text(
            SWEEP.format(loops=args.loops, seeds=args.seeds, strategies=", ".join(STRATEGIES))
        )

        def turn(side: str, label: str) -> Measured:
            sweep_dir = work / "sweep"
            shutil.rmtree(sweep_dir, ignore_errors=True)
            os.sync()
            command = [
                sys.executable,
                *("-m", "alcli", "sweep", str(sweep_file)),
                *("--sweep-dir", str(sweep_dir), "--jobs", str(jobs[side]), "--quiet"),
            ]
            print(f"  {label:<8} {side:<8} ...", end=" ", flush=True)
            log = out / f"{side.replace(' ', '-')}.log"
            result = run_child(label, side, command, env, log)
            runs, compute, curves = read_sweep(sweep_dir)
            if runs != runs_count:
                raise SystemExit(f"{sweep_dir}: {runs} runs, expected {runs_count}")
            load = os.getloadavg()[0]
            slowdown = probe(args.jobs, probe_env)
            print(
                f"wall {result.wall:6.2f} s   cpu {result.cpu:6.2f} s   compute {compute:6.2f} s"
                f"   load {load:4.2f}   probe {slowdown:4.2f}",
                flush=True,
            )
            return Measured(result, runs, compute, curves, load, slowdown)

        _, turns = in_turns(sides, args.repeats, args.warmup, turn)
    finally:
        shutil.rmtree(work, ignore_errors=True)

    def of(side: str) -> list[Measured]:
        return [m for m in turns if m.turn.side == side]

    def median(values) -> float:
        return statistics.median(list(values))

    wall = {side: median(m.turn.wall for m in of(side)) for side in sides}
    compute = {side: median(m.compute for m in of(side)) for side in sides}
    cpu = {side: median(m.turn.cpu for m in of(side)) for side in sides}
    ratio = wall[sides[1]] / (wall[sides[0]] / args.jobs)
    per_repeat = [
        n.turn.wall / (one.turn.wall / args.jobs)
        for one, n in zip(of(sides[0]), of(sides[1]), strict=True)
    ]
    quiet_repeats = [
        max(one.probe, n.probe) <= QUIET for one, n in zip(of(sides[0]), of(sides[1]), strict=True)
    ]
    probes = [m.probe for m in turns]
    same = all(m.curves == turns[0].curves for m in turns)
    print()
    print(f"{'':<10}{'wall s: median (min-max)':>28}{'compute s':>12}{'cpu s':>9}")
    for side in sides:
        walls = [m.turn.wall for m in of(side)]
        spread = f"{wall[side]:.2f} ({min(walls):.2f}-{max(walls):.2f})"
        print(f"{side:<10}{spread:>28}{compute[side]:>12.2f}{cpu[side]:>9.2f}")
    print()
    n = args.jobs
    print(
        f"wall({n} jobs) / (wall(1 job) / {n}) = {ratio:.3f}   target <= {TARGET}"
        f"   (per repeat: {', '.join(f'{r:.3f}' for r in per_repeat)})"
    )
    print(
        f"  probe: {n} copies of a fixed sklearn workload side by side took "
        f"{median(probes):.2f}x one alone (min {min(probes):.2f}, max {max(probes):.2f}; "
        f"1.00 = {n} free cores)"
    )
    quiet = [r for r, q in zip(per_repeat, quiet_repeats, strict=True) if q]
    print(
        f"  quiet repeats (probe <= {QUIET} after both turns): {len(quiet)} of {len(per_repeat)}"
        + (f", ratio {median(quiet):.3f}" if quiet else "")
    )
    print(
        f"  compute {n} jobs / 1 job = {compute[sides[1]] / compute[sides[0]]:.3f} (the runs' "
        f"steps, slowed by sharing the cores); cpu {n} jobs / 1 job = "
        f"{cpu[sides[1]] / cpu[sides[0]]:.3f} (work added: workers' start-up)"
    )
    print(f"  1 job: {wall[sides[0]] - compute[sides[0]]:.2f} s of wall time beyond the compute")
    print(
        f"every run completed ({runs_count} a turn); same curves on every turn: "
        f"{'yes' if same else 'NO'}"
    )
    met = ratio <= TARGET and same
    print(f"target: {'met' if met else 'MISSED'}")
    return 0 if met else 1


if __name__ == "__main__":
    sys.exit(main())
