"""`alcli report`: a run's loops and summary as a table, JSON or CSV."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Any

import typer
from rich.markup import escape
from rich.table import Table

from alcli.cli.common import (
    Format,
    HtmlOpt,
    PlotOpt,
    RunDirArg,
    err,
    out,
    plot_problem,
    user_errors,
)


def report(
    run_dir: RunDirArg,
    format_: Annotated[Format, typer.Option("--format", "-f", help="table, json or csv.")] = (
        Format.table
    ),
    html: HtmlOpt = None,
    plot: PlotOpt = None,
) -> None:
    """Show a run's loops and summary (reads CSV and JSON only; never unpickles)."""
    from alcli import reporting  # on use: a command loads only what it needs

    with user_errors():
        if html is not None or plot is not None:
            _write_files(run_dir, html, plot)
        if format_ is Format.csv:
            out.out(reporting.to_csv(run_dir), end="")
            return
        data = reporting.load_report(run_dir)
        if format_ is Format.json:
            out.out(reporting.to_json(data), end="")
        else:
            out.print(to_table(data))
            if "labeling_functions" in data:
                out.print(functions_table(data["labeling_functions"]))
            if data["replay"]:
                out.print(replay_table(data["replay"], "cost" in (data["loops"] or [{}])[0]))


def _write_files(run_dir: Path, html: Path | None, plot: Path | None) -> None:
    """The run's HTML report and plot, checked before anything is written."""
    from alcli import reporting
    from alcli.atomic import write_atomic
    from alcli.errors import ConfigError, UserInputError
    from alcli.reporting.html import run_html
    from alcli.reporting.plots import plot_run
    from alcli.reporting.runs import library_versions

    if problem := plot_problem(plot):
        raise ConfigError("report", [problem])
    data = reporting.load_report(run_dir)
    if plot is not None:
        if not data["summary"]["metric_names"] or not data["loops"]:
            raise UserInputError(
                f"{run_dir} has no test metrics to plot (no test set, or no loop yet)"
            )
        plot_run(data, plot)
        err.print(f"plot: {escape(str(plot))}")
    if html is not None:
        page = run_html(data, (run_dir / "config.yaml").read_text(), library_versions())
        write_atomic(html, page, sync=False)
        err.print(f"report: {escape(str(html))}")


def to_table(report: dict[str, Any]) -> Table:
    """A rich table: one row per loop, the summary in the caption."""
    from alcli import reporting
    from alcli.rundir import OPTIONAL_COLUMNS, step_seconds

    run, loops, summary = report["run"], report["loops"], report["summary"]
    title = f"{run.get('name', '')}  ·  {run['status']}"
    if run.get("stop_reason"):
        title += f" ({run['stop_reason']})"
    if run.get("stopped_in"):
        title += f" (in loop {run['stopped_in']['loop']}, {run['stopped_in']['step']})"
    table = Table(
        title=title,
        caption=reporting.caption(summary),
        title_justify="left",
        caption_justify="left",
    )
    if not loops:
        table.add_column("no loop has completed yet")
        return table
    metric_names = summary["metric_names"]
    # Columns the run has: skips (people), cumulative cost (prices), wrong labels (noise).
    extra = [key for key in OPTIONAL_COLUMNS if key in loops[0]]
    titles = {"n_skipped": "skipped", "cost": "total cost", "label_errors": "wrong labels"}
    for column in ("loop", "labeled", "size", "strategy", *metric_names):
        table.add_column(column, justify="left" if column == "strategy" else "right")
    for key in extra:
        table.add_column(titles[key], justify="right")
    table.add_column("seconds", justify="right")
    spent = 0.0
    for row in loops:
        seconds = step_seconds(row)
        spent += row.get("cost", 0.0)
        cells = {
            "n_skipped": str(row.get("n_skipped", "")),
            "cost": f"{spent:.2f}",
            "label_errors": str(row.get("label_errors", "")),
        }
        table.add_row(
            str(row["loop"]),
            str(row["n_labeled"]),
            str(row["loop_size"]),
            row["strategy"],
            *(f"{row[m]:.4f}" for m in metric_names),
            *(cells[key] for key in extra),
            f"{seconds:.2f}",
        )
    return table


def functions_table(stats: dict[str, Any]) -> Table:
    """Each labeling function's coverage, conflicts and accuracy over the run's votes."""
    from alcli.reporting.run_report import FUNCTION_COLUMNS, functions_rows, functions_said

    said, columns = functions_said(stats)
    table = Table(
        title="Labeling functions",
        title_justify="left",
        caption=f"{said}\n{columns}",
        caption_justify="left",
    )
    table.add_column(FUNCTION_COLUMNS[0])
    for column in FUNCTION_COLUMNS[1:]:
        table.add_column(column, justify="right")
    for name, *numbers in functions_rows(stats):
        table.add_row(escape(name), *numbers)
    return table


def replay_table(rows: list[dict[str, Any]], with_cost: bool) -> Table:
    """What each label-free criterion would have stopped at, replayed over the run's signals."""
    metric = rows[0]["metric"]
    caption = "Set one in stop.when to stop there next time; `alcli stop-criteria` lists them."
    if all(row["criterion"] == "plateau" for row in rows):
        caption += (
            "\nThe label-free criteria show here too when the run records their signals "
            "(stop.record_signals: true)."
        )
    table = Table(
        title="Had the run stopped earlier (stop criteria replayed over the recorded loops)",
        title_justify="left",
        caption=caption,
    )
    for column in ("criterion", "parameter", "stops at loop", "labels", "labels saved"):
        table.add_column(
            column, justify="left" if column in ("criterion", "parameter") else "right"
        )
    if with_cost:
        table.add_column("cost saved", justify="right")
    if metric:
        table.add_column(f"{metric} there", justify="right")
        table.add_column("given up", justify="right")
    for row in rows:
        parameter = ", ".join(f"{k} {v}" for k, v in row["params"].items() if k != "metric")
        stopped = row["stop_loop"] is not None
        cells = [
            row["criterion"],
            parameter,
            str(row["stop_loop"]) if stopped else "never",
            str(row["labels"]) if stopped else "-",
            str(row["labels_saved"]),
        ]
        if with_cost:
            cells.append(f"{row['cost_saved']:.2f}")
        if metric:
            cells += [
                f"{row['value']:.4f}" if stopped else "-",
                f"{row['given_up']:.4f}" if stopped else "-",
            ]
        table.add_row(*cells)
    return table
