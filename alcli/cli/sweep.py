"""`alcli sweep`, `alcli compare` and `alcli check`: many runs, compared, and gated in CI."""

from __future__ import annotations

import math
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.console import Console
from rich.markup import escape
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn
from rich.table import Table

from alcli.cli.common import (
    AddressOpt,
    BackendOpt,
    Format,
    HtmlOpt,
    JobsOpt,
    PlotOpt,
    QuietOpt,
    ReferenceOpt,
    SetOpt,
    TargetOpt,
    backend_override,
    err,
    out,
    plot_problem,
    user_errors,
)

PathsArg = Annotated[
    list[Path],
    typer.Argument(
        help="Sweep directories, run directories or folders of runs (any mix).",
        show_default=False,
    ),
]


def sweep(
    sweep_file: Annotated[Path, typer.Argument(help="The sweep's YAML file.", show_default=False)],
    sweep_dir: Annotated[
        Path | None,
        typer.Option(
            "--sweep-dir",
            help="The sweep directory to create (default: sweeps/<name>).",
            show_default=False,
        ),
    ] = None,
    jobs: JobsOpt = None,
    backend: BackendOpt = None,
    address: AddressOpt = None,
    set_: SetOpt = None,
    quiet: QuietOpt = False,
) -> None:
    """Run every cell of a sweep's grid over its seeds, with a matched random baseline, then
    compare them; the sweep directory's path is printed on stdout."""
    with user_errors():
        from alcli.experiments import start_sweep

        with SweepProgress(err, quiet) as progress:
            result = start_sweep(
                sweep_file,
                sweep_dir,
                jobs,
                set_ or [],
                on_event=progress,
                backend=backend_override(backend, address),
            )
        finish_sweep(result, quiet)


def resume_sweep(
    path: Path, jobs: int | None, quiet: bool, backend: dict[str, Any] | None = None
) -> None:
    """`alcli resume SWEEP_DIR` (called by `alcli resume`)."""
    from alcli.experiments import resume_sweep as resume

    with SweepProgress(err, quiet) as progress:
        result = resume(path, jobs, on_event=progress, backend=backend)
    finish_sweep(result, quiet)


def finish_sweep(result, quiet: bool) -> None:
    for key, message in result.failures.items():
        err.print(f"[bold red]failed:[/] {escape(key)}: {escape(message.splitlines()[0])}")
    if result.comparison is not None and not quiet:
        print_table(err, comparison_table(result.comparison))
    if result.report is not None and not quiet:
        err.print(f"report: {escape(str(result.report))}")
    out.out(str(result.path))
    failed_checks = [c for c in result.checks if not c.passed]
    for check in result.checks:
        if not check.passed:
            err.print(f"[bold red]check failed:[/] {escape(check.message)}")
        elif not quiet:
            err.print(f"[green]check ok:[/] {escape(check.message)}")
    if result.failures:
        err.print(
            f"{len(result.failures)} of {result.runs} runs failed; fix the cause and "
            f"`alcli resume {escape(str(result.path))}`."
        )
        raise typer.Exit(1)
    if failed_checks:
        raise typer.Exit(1)


def compare(
    paths: PathsArg,
    by: Annotated[
        list[str] | None,
        typer.Option(
            "--by",
            metavar="KEY",
            help="Group by this config key (repeatable; default: every "
            "key that differs between the runs).",
        ),
    ] = None,
    reference: ReferenceOpt = "random",
    metric: Annotated[
        str | None,
        typer.Option(
            "--metric", help="The metric compared (default: the runs' first).", show_default=False
        ),
    ] = None,
    target: TargetOpt = None,
    x: Annotated[
        str, typer.Option("--x", help="The plots' x axis: labels, cost or seconds.")
    ] = "labels",
    format_: Annotated[Format, typer.Option("--format", "-f", help="table, json or csv.")] = (
        Format.table
    ),
    html: HtmlOpt = None,
    plot: PlotOpt = None,
) -> None:
    """Compare runs: groups, paired differences from the reference with 95% intervals,
    wins/ties/losses over seeds, labels to reach a target."""
    with user_errors():
        comparison = _comparison(paths, by, reference, metric, target)
        _check_outputs(plot, x)
        _emit(comparison, format_)
        _write_outputs(comparison, html, plot, x)


def check(
    paths: PathsArg,
    expect: Annotated[
        list[str],
        typer.Option(
            "--expect",
            "-e",
            metavar="EXPR",
            help="An expectation, e.g. 'final.accuracy >= 0.9' or 'margin > random' (repeatable).",
        ),
    ],
    junit: Annotated[
        Path | None,
        typer.Option(
            "--junit", metavar="FILE", help="Write JUnit XML results.", show_default=False
        ),
    ] = None,
    reference: ReferenceOpt = "random",
    target: TargetOpt = None,
) -> None:
    """Exit 0 when every expectation holds, 1 with one line per failure (for CI)."""
    with user_errors():
        from alcli.atomic import write_atomic
        from alcli.experiments.checks import check_names, evaluate, junit_xml, parse_expectations

        expectations = parse_expectations(expect, "--expect")
        comparison = _comparison(paths, None, reference, None, target)
        check_names(expectations, comparison)
        outcomes = evaluate(expectations, comparison)
        if junit is not None:
            write_atomic(junit, junit_xml(outcomes), sync=False)
        for outcome in outcomes:
            mark = "[green]ok[/]" if outcome.passed else "[bold red]FAILED[/]"
            (out if outcome.passed else err).print(f"{mark} {escape(outcome.message)}")
        if not all(o.passed for o in outcomes):
            raise typer.Exit(1)


# --- shared ----------------------------------------------------------------------------------


def _comparison(paths, by, reference, metric, target):
    from alcli.experiments import collect_runs, compare

    runs, notes = collect_runs(paths)
    return compare(runs, by=by, reference=reference, metric=metric, target=target, notes=notes)


def _check_outputs(plot: Path | None, x: str) -> None:
    from alcli.errors import ConfigError

    problems = []
    if x not in ("labels", "cost", "seconds"):
        problems.append(f"--x '{x}': the x axis is labels, cost or seconds")
    if problem := plot_problem(plot):
        problems.append(problem)
    if problems:
        raise ConfigError("compare", problems)


def _emit(comparison, format_: Format) -> None:
    from alcli.atomic import csv_text
    from alcli.reporting.comparison import SUMMARY_COLUMNS, summary_rows, to_json

    if format_ is Format.json:
        out.out(to_json(comparison), end="")
    elif format_ is Format.csv:
        rows = [list(r.values()) for r in summary_rows(comparison)]
        out.out(csv_text(SUMMARY_COLUMNS, rows), end="")
    else:
        print_table(out, comparison_table(comparison))


def _write_outputs(comparison, html: Path | None, plot: Path | None, x: str) -> None:
    from alcli.atomic import write_atomic
    from alcli.reporting.html import comparison_html
    from alcli.reporting.plots import plot_comparison
    from alcli.reporting.runs import library_versions

    if plot is not None:
        plot_comparison(comparison, plot, x=x)
        err.print(f"plot: {escape(str(plot))}")
    if html is not None:
        configs = {g.label: (g.runs[0].path / "config.yaml").read_text() for g in comparison.groups}
        page = comparison_html(comparison, "alcli compare", configs, library_versions())
        write_atomic(html, page, sync=False)
        err.print(f"report: {escape(str(html))}")


def print_table(console: Console, table: Table) -> None:
    if not console.is_terminal:
        # Piped to a file or a CI log a console is 80 columns, which would squeeze the table.
        console = Console(file=console.file, width=200, highlight=False, soft_wrap=True)
    console.print(table)


def comparison_table(comparison) -> Table:
    """The comparison as a rich table, its statistics explained in the caption."""
    from alcli.reporting.comparison import summary_rows

    metric = comparison.metric
    table = Table(
        title=f"{metric}: {len(comparison.runs)} runs in {len(comparison.groups)} groups",
        title_justify="left",
        caption=_caption(comparison),
        caption_justify="left",
    )
    columns = [
        ("group", "left"),
        ("runs", "right"),
        (f"final {metric}", "right"),
        ("nAULC", "right"),
        ("labels to target", "right"),
        ("diff vs ref", "right"),
        ("95% interval", "right"),
        ("W/T/L", "right"),
        ("", "left"),
    ]
    if comparison.dataset_keys:
        columns.append(("mean rank", "right"))
    columns += [("s/run", "right"), ("s/loop", "right")]
    for name, justify in columns:
        table.add_column(name, justify=justify)
    for row, group in zip(summary_rows(comparison), comparison.groups, strict=True):
        cells = [
            escape(row["group"]) + (" [dim](reference)[/]" if group.is_reference else ""),
            str(row["runs"]),
            f"{row['final']:.4f}",
            f"{row['aulc']:.4f}",
            _labels(row),
            _signed(row["diff"]),
            f"[{row['ci_low']:+.4f}, {row['ci_high']:+.4f}]" if row["ci_low"] is not None else "",
            f"{row['wins']}/{row['ties']}/{row['losses']}" if row["wins"] is not None else "",
            _verdict(group.verdict()),
        ]
        if comparison.dataset_keys:
            cells.append(f"{row['mean_rank']:.2f}" if row["mean_rank"] is not None else "")
        cells += [f"{row['seconds_per_run']:.2f}", f"{row['seconds_per_loop']:.3f}"]
        table.add_row(*cells)
    return table


def _caption(comparison) -> str:
    lines = [
        f"nAULC: mean {comparison.metric} over the labeled range. Target: "
        f"{comparison.target_rule}.",
        "diff: mean paired nAULC difference from the reference over seeds, 95% bootstrap "
        f"interval; W/T/L: seeds won, tied (|diff| <= {comparison.tie_tolerance:g}), lost.",
    ]
    lines += comparison.notes
    return escape("\n".join(lines))


def _labels(row: dict[str, Any]) -> str:
    value = row["labels_to_target"]
    if value is None:
        return f"never ({row['reached']}/{row['runs']})"
    shown = f"{value:.0f}" if float(value).is_integer() else f"{value:.1f}"
    return f"{shown} ({row['reached']}/{row['runs']})"


def _signed(value: float | None) -> str:
    return "" if value is None or math.isnan(value) else f"{value:+.4f}"


def _verdict(verdict: str) -> str:
    return {"better": "[green]better[/]", "worse": "[red]worse[/]"}.get(verdict, verdict)


class SweepProgress:
    """One bar over a sweep's runs and loops on a terminal; a line per run otherwise."""

    def __init__(self, console: Console, quiet: bool = False):
        self.console = console
        self.quiet = quiet
        self._progress: Progress | None = None
        self._task = None
        self._max: dict[str, int] = {}
        self._seen: dict[str, int] = {}
        self._runs = 0
        self._ended = 0

    def __enter__(self) -> SweepProgress:
        if self.console.is_terminal and not self.quiet:
            self._progress = Progress(
                TextColumn("[bold]{task.fields[runs]}"),
                BarColumn(),
                MofNCompleteColumn(),
                TextColumn("loops"),
                TimeElapsedColumn(),
                console=self.console,
            )
            self._progress.start()
        return self

    def __exit__(self, *exc: object) -> None:
        if self._progress is not None:
            self._progress.stop()

    def __call__(self, event: dict[str, Any]) -> None:
        if self.quiet:
            return
        kind = event["event"]
        if kind == "sweep":
            self._max = dict(event["loops"])
            self._runs = event["runs"]
            self._ended = len(event["done"])
            self._seen = {key: self._max[key] for key in event["done"]}
            if self._progress is not None:
                self._task = self._progress.add_task(
                    "sweep",
                    total=sum(self._max.values()),
                    completed=sum(self._seen.values()),
                    runs=self._runs_text(),
                )
            elif event["todo"] < event["runs"]:
                self.console.print(
                    f"{event['runs'] - event['todo']} of {event['runs']} runs already completed"
                )
        elif kind == "loop":
            self._seen[event["run"]] = max(self._seen.get(event["run"], 0), event["loop"] + 1)
        elif kind == "run_end":
            self._ended += 1
            if event["state"] == "completed":
                # A run that stopped before its max_loops frees the rest of its share.
                self._max[event["run"]] = self._seen.get(event["run"], 0)
            if self._progress is None:
                self.console.print(
                    f"[{self._ended}/{self._runs}] {escape(event['run'])}: {event['state']}"
                )
        if self._progress is not None and self._task is not None:
            self._progress.update(
                self._task,
                total=sum(self._max.values()),
                completed=sum(self._seen.values()),
                runs=self._runs_text(),
            )

    def _runs_text(self) -> str:
        return f"runs {self._ended}/{self._runs}"
