"""What the benchmarks that time alcli against a plain loop share: one child process per side,
measured as it ran (wall time, peak memory from wait4, CPU), and the revision measured."""

from __future__ import annotations

# Standard library only: the driver never holds the data, so its own peak memory stays far
# below every child's (see run_child).
import os
import resource
import subprocess
import time
from dataclasses import dataclass
from pathlib import Path


@dataclass
class Turn:
    label: str  # "warm-up", or the repeat's number
    side: str
    wall: float  # seconds, spawn to reap
    peak_mib: float  # the child's peak resident set
    cpu: float  # user + system seconds of the child
    stdout: str


def run_child(label: str, side: str, cmd: list[str], env: dict[str, str], log: Path) -> Turn:
    """Run one child to completion and measure it.

    Peak memory is the ``ru_maxrss`` that ``os.wait4`` returns for this one child (Linux: KiB).
    Why this and not the alternatives:

    * ``getrusage(RUSAGE_CHILDREN).ru_maxrss`` is the maximum over every child reaped so far,
      not a sum, so a before/after delta says nothing about a child smaller than an earlier one.
    * A child's ``ru_maxrss`` (from ``wait4``, or read by the child itself with
      ``RUSAGE_SELF`` at exit) starts at the *parent's* peak RSS: at ``exec`` Linux folds the
      high-water mark of the old address space (the parent's, after fork/vfork) into the new
      process's ``maxrss``, so it reads max(parent peak, child peak). (Checked: a parent holding
      400 MiB starts a `python -c` whose VmHWM is 11 MiB; its ru_maxrss reads 412 MiB.)
      This driver keeps its own peak tiny (standard library only; the data is made in a
      child), prints it, and refuses to report a child whose figure does not clear it by far:
      then the figure is the child's own peak.
    * ``VmHWM`` in /proc/self/status is per address space and exact, but it has to be read
      inside the child, and alcli runs unmodified (``python -m alcli run ...``). The plain child
      does report its VmHWM, which is printed next to its wait4 figure as a cross-check.
    """
    with log.open("w") as sink:
        began = time.perf_counter()
        process = subprocess.Popen(cmd, stdout=sink, stderr=subprocess.STDOUT, env=env)
        _, status, usage = os.wait4(process.pid, 0)
        wall = time.perf_counter() - began
    process.returncode = os.waitstatus_to_exitcode(status)  # reaped here, not by Popen
    output = log.read_text()
    if process.returncode != 0:
        raise SystemExit(f"{side} failed (exit {process.returncode}):\n{output}")
    floor = driver_peak_kib()
    if usage.ru_maxrss < 4 * floor:
        raise SystemExit(
            f"{side}: its peak RSS reads {usage.ru_maxrss} KiB, too close to the driver's own "
            f"{floor} KiB to be the child's; keep the driver small"
        )
    cpu = usage.ru_utime + usage.ru_stime
    return Turn(label, side, wall, usage.ru_maxrss / 1024, cpu, output)


def alcli_revision() -> str:
    """The commit the measured alcli is at (and whether alcli/ has local changes), if known."""
    repo = Path(__file__).resolve().parents[1]

    def git(*args: str) -> str:
        return subprocess.run(
            ["git", "-C", str(repo), *args], capture_output=True, text=True, check=True
        ).stdout.strip()

    try:
        head = git("rev-parse", "--short", "HEAD")
        dirty = git("status", "--porcelain", "alcli")
    except (OSError, subprocess.CalledProcessError):
        return "unknown"
    return f"{head} + local changes" if dirty else head


def driver_peak_kib() -> int:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss


def child_env(out: Path, threads: int) -> dict[str, str]:
    """The environment of both sides: cached bytecode under ``out`` (as an installed package
    has: with PYTHONDONTWRITEBYTECODE set, an editable alcli would recompile its modules on
    every start, ~25 ms), and BLAS/OpenMP pinned to ``threads`` (0: left as they are)."""
    env = dict(os.environ)
    env.pop("PYTHONDONTWRITEBYTECODE", None)
    env["PYTHONPYCACHEPREFIX"] = str(out / "pycache")
    if threads > 0:
        for name in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS"):
            env[name] = str(threads)
    return env


def race(
    config: Path,
    run_dir: Path,
    plain: list[str],
    env: dict[str, str],
    logs: Path,
    repeats: int,
    warmup: int,
) -> tuple[list[Turn], list[Turn]]:
    """``alcli run CONFIG`` and the ``plain`` command in turns (see :func:`in_turns`); returns
    the warm-up turns and the timed ones. Before each turn the run directory of the last is
    removed and the disk written back (os.sync), outside the timed span: neither side pays for
    the other's disk work."""
    import shutil
    import sys

    logs.mkdir(parents=True, exist_ok=True)
    commands = {
        "alcli": [
            sys.executable,
            *("-m", "alcli", "run", str(config)),
            *("--run-dir", str(run_dir), "--quiet"),
        ],
        "plain": plain,
    }

    def turn(side: str, label: str) -> Turn:
        if side == "alcli":
            shutil.rmtree(run_dir, ignore_errors=True)
        os.sync()
        print(f"  {label:<8} {side:<5} ...", end=" ", flush=True)
        result = run_child(label, side, commands[side], env, logs / f"{side}.log")
        print(f"{result.wall:.2f} s, {result.peak_mib:.1f} MiB", flush=True)
        return result

    return in_turns(("alcli", "plain"), repeats, warmup, turn)


def in_turns(sides: tuple[str, str], repeats: int, warmup: int, turn) -> tuple[list, list]:
    """Untimed warm-up turns of each side, then ``repeats`` timed turns of each, the order
    alternating every repeat (A B, B A, ...). ``turn(side, label)`` runs one."""
    warmups = [turn(side, "warm-up") for _ in range(warmup) for side in sides]
    turns = []
    for repeat in range(repeats):
        order = sides if repeat % 2 == 0 else sides[::-1]
        turns.extend(turn(side, str(repeat + 1)) for side in order)
    return warmups, turns
