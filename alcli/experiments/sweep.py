"""Many runs: ``start_sweep`` plans a sweep file into a sweep directory and runs it;
``resume_sweep`` goes on with one (completed runs are skipped, stopped and failed ones
resumed). When every run has ended, the results and the report are written from the runs."""

from __future__ import annotations

import math
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from pydantic import ValidationError

from alcli.atomic import csv_text
from alcli.config.wording import describe
from alcli.errors import ConfigError, Interrupted
from alcli.experiments.backends import Backend, build_backend
from alcli.experiments.checks import (
    Expectation,
    check_names,
    check_names_in,
    evaluate,
    parse_expectations,
)
from alcli.experiments.checks import Outcome as CheckOutcome
from alcli.experiments.compare import collect_runs, compare, differing_keys
from alcli.experiments.plan import Plan, make_plan
from alcli.experiments.sweep_dir import SweepDir
from alcli.experiments.sweep_file import SweepFile, backend_config, load_sweep_file
from alcli.experiments.worker import Outcome
from alcli.reporting.comparison import (
    CURVE_COLUMNS,
    SUMMARY_COLUMNS,
    Comparison,
    curve_rows,
    summary_rows,
)
from alcli.reporting.html import comparison_html
from alcli.reporting.runs import describing_keys, library_versions, recorded_metrics
from alcli.tracking import TrackingConfig, sweep_tracking

SweepEvents = Callable[[dict[str, Any]], None]
ENDED = ("completed",)


@dataclass
class SweepResult:
    path: Path
    runs: int
    #: run key -> state after this invocation (completed, stopped, failed)
    states: dict[str, str]
    failures: dict[str, str] = field(default_factory=dict)
    comparison: Comparison | None = None
    checks: list[CheckOutcome] = field(default_factory=list)
    report: Path | None = None

    @property
    def completed(self) -> int:
        return sum(state == "completed" for state in self.states.values())


def default_sweep_path(name: str) -> Path:
    return Path("sweeps") / name


def plan_sweep(path: Path, overrides: list[str] = ()) -> tuple[SweepFile, Plan, dict[str, Any]]:
    """Read and validate a sweep file and every config of its grid (nothing written).

    Raises
    ------
    ConfigError
        One message listing every invalid cell and every invalid expectation.
    """
    sweep, base, base_dir = load_sweep_file(path, overrides)
    base = _with_tracking(base, sweep, path)
    expectations = parse_expectations(sweep.expect, f"{path}: expect")
    plan = make_plan(sweep, base, base_dir, str(path))
    _check_expectation_names(expectations, plan)
    frozen = {
        "name": sweep.name,
        "config": base,
        "base_dir": str(base_dir),
        "grid": sweep.grid,
        "seeds": sweep.seed_list,
        "baseline": sweep.baseline if sweep.baseline is not None else "none",
        "jobs": sweep.jobs,
        "backend": sweep.backend.model_dump(),
        "expect": sweep.expect,
        "set": list(overrides),
    }
    return sweep, plan, frozen


def _check_expectation_names(expectations: list[Expectation], plan: Plan) -> None:
    """Refuse an expectation naming a metric or key the sweep's comparison will not have
    (known from the plan) before the first run starts, not after the last."""
    if not expectations:
        return
    configs = [cell.config for cell in plan.cells]
    recorded = sorted({m for config in configs for m in recorded_metrics(config)})
    keys = differing_keys([describing_keys(config) for config in configs])
    compared = (recorded_metrics(configs[0]) or ["accuracy"])[0]
    check_names_in(expectations, recorded, keys, compared)


def start_sweep(
    path: Path,
    sweep_path: Path | None = None,
    jobs: int | None = None,
    overrides: list[str] = (),
    on_event: SweepEvents | None = None,
    backend: dict[str, Any] | None = None,
) -> SweepResult:
    """Plan the sweep file, make its sweep directory and run it. ``backend`` (a mapping
    like the sweep file's ``backend:``) replaces the file's."""
    sweep, plan, frozen = plan_sweep(path, overrides)
    chosen = sweep.backend if backend is None else backend_config(backend, "--backend")
    frozen["backend"] = chosen.model_dump()
    runner = build_backend(chosen, jobs or sweep.jobs)
    with runner.connected():  # an unreachable cluster is said before anything is written
        sweep_dir = SweepDir.create(sweep_path or default_sweep_path(sweep.name), frozen, plan)
        return _execute(sweep_dir, plan, runner, sweep.expect, on_event)


def resume_sweep(
    path: Path,
    jobs: int | None = None,
    on_event: SweepEvents | None = None,
    backend: dict[str, Any] | None = None,
) -> SweepResult:
    """Go on with a sweep directory: on the backend it was started with, or ``backend``."""
    sweep_dir = SweepDir.open(path)
    frozen = sweep_dir.read_sweep()
    plan = sweep_dir.read_plan()
    given = backend if backend is not None else frozen.get("backend") or {"kind": "local"}
    source = "--backend" if backend is not None else f"{sweep_dir.path / 'sweep.yaml'}"
    runner = build_backend(backend_config(given, source), jobs or int(frozen.get("jobs") or 1))
    with runner.connected():
        return _execute(sweep_dir, plan, runner, list(frozen.get("expect") or []), on_event)


def _execute(
    sweep_dir: SweepDir,
    plan: Plan,
    backend: Backend,
    expect: list[str],
    on_event: SweepEvents | None,
) -> SweepResult:
    emit = on_event or (lambda event: None)
    expectations = parse_expectations(expect, f"{sweep_dir.path / 'sweep.yaml'}: expect")
    with sweep_dir.lock(), sweep_tracking(sweep_dir.path, plan.name, _tracking(plan)) as parent:
        specs = plan.runs
        states = {spec.key: sweep_dir.run_state(spec) for spec in specs}
        attempts = sweep_dir.read_attempts()
        todo = [spec for spec in specs if states[spec.key] not in ENDED]
        emit(
            {
                "event": "sweep",
                "runs": len(specs),
                "todo": len(todo),
                "loops": {spec.key: _max_loops(spec) for spec in specs},
                "done": [spec.key for spec in specs if spec not in todo],
            }
        )
        failures: dict[str, str] = {}
        counted: set[str] = set()
        status = _Throttled(lambda: sweep_dir.write_status(plan, states, attempts))

        def progress(event: dict[str, Any]) -> None:
            # A run is running (and its attempt counts) from its start, not from the sweep's.
            key = event.get("run")
            if event.get("event") in ("start", "resume") and key in states and key not in counted:
                counted.add(key)
                states[key] = "running"
                attempts[key] = attempts.get(key, 0) + 1
                status.write()
            emit(event)

        try:
            for outcome in backend.launch(todo, sweep_dir.path, progress):
                _record(outcome, states, attempts, failures, counted)
                status.write()
                emit({"event": "run_end", "run": outcome.key, "state": outcome.state})
        except KeyboardInterrupt:
            for spec in todo:
                states[spec.key] = sweep_dir.run_state(spec)
            sweep_dir.write_status(plan, states, attempts)
            done = sum(s == "completed" for s in states.values())
            raise Interrupted(
                f"Sweep stopped with {done} of {len(specs)} runs completed; the others are "
                f"checkpointed. Resume with `alcli resume {sweep_dir.path}`."
            ) from None
        status.flush()
        result = SweepResult(sweep_dir.path, len(specs), states, failures)
        if result.completed == len(specs):
            _write_results(sweep_dir, result, expectations)
            parent.finished([sweep_dir.path / "results" / "summary.csv", result.report])
        return result


class _Throttled:
    """status.csv is a view for people (each run's own run.json is the truth): rewritten at
    most once a second while runs start and end, so a sweep of thousands of short runs does
    not spend its time rewriting it; ``flush`` writes what is pending."""

    def __init__(self, write: Callable[[], None], every: float = 1.0):
        self._write, self._every = write, every
        self._last, self._due = -math.inf, False

    def write(self) -> None:
        self._due = True
        if time.monotonic() - self._last >= self._every:
            self.flush()

    def flush(self) -> None:
        if self._due:
            self._write()
            self._last, self._due = time.monotonic(), False


def _record(
    outcome: Outcome, states: dict, attempts: dict, failures: dict, counted: set[str]
) -> None:
    states[outcome.key] = outcome.state
    if outcome.attempted and outcome.key not in counted:
        # An attempt that ended before its run started (a config or data error).
        counted.add(outcome.key)
        attempts[outcome.key] = attempts.get(outcome.key, 0) + 1
    if outcome.state == "failed":
        failures[outcome.key] = outcome.message
    else:
        failures.pop(outcome.key, None)


def _max_loops(spec) -> int:
    return int((spec.config.get("stop") or {}).get("max_loops", 1)) + 1


def _write_results(sweep_dir: SweepDir, result: SweepResult, expectations: list) -> None:
    runs, notes = collect_runs([sweep_dir.path / "runs"])
    comparison = compare(runs, notes=notes)
    sweep_dir.write_result(
        "results/summary.csv",
        csv_text(SUMMARY_COLUMNS, [list(r.values()) for r in summary_rows(comparison)]),
    )
    sweep_dir.write_result(
        "results/curves.csv",
        csv_text(CURVE_COLUMNS, list(curve_rows(comparison, root=sweep_dir.path))),
    )
    configs = {g.label: (g.runs[0].path / "config.yaml").read_text() for g in comparison.groups}
    html = comparison_html(
        comparison,
        title=f"Sweep {sweep_dir.path.name}",
        configs=configs,
        versions=library_versions(),
    )
    result.report = sweep_dir.write_result("report.html", html)
    result.comparison = comparison
    if expectations:
        check_names(expectations, comparison)
        result.checks = evaluate(expectations, comparison)


def _with_tracking(base: dict[str, Any], sweep: SweepFile, path: Path) -> dict[str, Any]:
    """The base config with the sweep's ``tracking:`` (checked once here, not once per cell;
    its experiment is the sweep's name unless it names one, so the runs nest under the
    sweep's own run)."""
    if sweep.tracking is None:
        return base
    context = {"base_dir": path.resolve().parent}
    try:
        section = TrackingConfig.model_validate(sweep.tracking, context=context)
    except ValidationError as exc:
        problems = [
            describe(err, TrackingConfig, ("tracking", *map(str, err["loc"])))
            for err in exc.errors()
        ]
        raise ConfigError(str(path), problems) from None
    tracking = section.model_dump(mode="json", exclude_none=True)
    for settings in tracking.values():
        settings.setdefault("experiment", sweep.name)
    return {**base, "tracking": tracking}


def _tracking(plan: Plan) -> dict[str, Any] | None:
    """The runs' tracking section (the same in every cell)."""
    return plan.cells[0].config.get("tracking") if plan.cells else None
