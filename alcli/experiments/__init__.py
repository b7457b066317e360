"""Many runs: sweeps, comparisons and checks for CI."""

from __future__ import annotations

from alcli.experiments.compare import collect_runs, compare
from alcli.experiments.sweep import SweepResult, plan_sweep, resume_sweep, start_sweep
from alcli.experiments.sweep_dir import is_sweep_dir

__all__ = [
    "SweepResult",
    "collect_runs",
    "compare",
    "is_sweep_dir",
    "plan_sweep",
    "resume_sweep",
    "start_sweep",
]
