"""`alcli run`, `alcli resume` and `alcli validate`: one run, from a config or a run directory.

The library is imported inside each command, so that a command loads only what it uses (the
start-up of a short run counts).
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer
from rich.markup import escape

from alcli.cli.common import (
    AddressOpt,
    BackendOpt,
    ConfigArg,
    JobsOpt,
    QuietOpt,
    SetOpt,
    backend_override,
    err,
    out,
    user_errors,
)


def run(
    config: ConfigArg,
    run_dir: Annotated[
        Path | None,
        typer.Option(
            "--run-dir",
            help="The run directory to create (default: runs/<name>-<timestamp>).",
            show_default=False,
        ),
    ] = None,
    set_: SetOpt = None,
    quiet: QuietOpt = False,
) -> None:
    """Run an experiment; its run directory's path is printed on stdout."""
    with user_errors():
        from alcli import engine  # on use, inside the boundary: Ctrl-C here ends cleanly too
        from alcli.cli.progress import ProgressPrinter
        from alcli.config import load_config

        cfg = load_config(config, set_ or [])
        with ProgressPrinter(err, quiet, live=not engine.asks_a_person(cfg)) as progress:
            result = engine.start(cfg, run_dir, on_event=progress)
        _finish(result, quiet)


def resume(
    run_dir: Annotated[
        Path,
        typer.Argument(
            help="A run directory (made by `alcli run`) or a sweep directory (`alcli sweep`).",
            show_default=False,
        ),
    ],
    labels: Annotated[
        Path | None,
        typer.Option(
            "--labels",
            metavar="FILE",
            help="Answers for the batch waiting for labels: the filled to_label.csv, a CSV "
            "with id and label columns, or a Label Studio export (JSON, JSON-MIN or CSV).",
            show_default=False,
        ),
    ] = None,
    set_: Annotated[
        list[str] | None,
        typer.Option(
            "--set",
            metavar="stop.KEY=VALUE",
            help="Extend the run: change a stop key (e.g. --set stop.max_loops=40), also for a "
            "completed run, which then goes on as if started with it (repeatable).",
        ),
    ] = None,
    jobs: JobsOpt = None,
    backend: BackendOpt = None,
    address: AddressOpt = None,
    quiet: QuietOpt = False,
) -> None:
    """Continue a stopped, failed or killed run after its last complete loop, give a
    waiting run its labels, or extend a run with other stop keys. Given a sweep directory,
    go on with the sweep: completed runs are skipped, the others resumed or started."""
    with user_errors():
        from alcli import engine
        from alcli.experiments import is_sweep_dir

        if is_sweep_dir(run_dir):
            from alcli.cli.sweep import resume_sweep

            if labels is not None or set_:
                raise typer.BadParameter("--labels and --set apply to a run, not a sweep")
            resume_sweep(run_dir, jobs, quiet, backend_override(backend, address))
            return
        if backend is not None or address is not None:
            raise typer.BadParameter("--backend and --address apply to a sweep, not a run")
        from alcli.cli.progress import ProgressPrinter

        live = not engine.asks_a_person_in(run_dir)
        with ProgressPrinter(err, quiet, live=live) as progress:
            result = engine.resume(run_dir, on_event=progress, labels=labels, overrides=set_ or [])
        _finish(result, quiet)


def validate(config: ConfigArg, set_: SetOpt = None) -> None:
    """Check a config and its data without running anything."""
    with user_errors():
        from alcli import engine
        from alcli.config import load_config
        from alcli.labelers import labeler_chain

        cfg = load_config(config, set_ or [])
        experiment = engine.prepare(cfg)
        data = experiment.data
        out.print(
            f"{config}: valid. {data.ids.shape[0]} pool records, {data.y_test.shape[0]} test "
            f"records, {data.X.shape[1]} features, {data.classes.shape[0]} classes; model "
            f"{cfg.model.summary()}, init {cfg.init.method}, strategy "
            f"{cfg.strategy.summary()}, labeler "
            f"{' then '.join(link.kind for link in labeler_chain(cfg.labeler))}, up to "
            f"{cfg.stop.max_loops} loops."
        )
        if data.column_kinds:
            out.print(_kinds_table(data.column_kinds, data.feature_names))
        if experiment.warnings:
            from alcli.reporting.run_report import warning_summary

            event = {"loop": None, "warnings": list(experiment.warnings)}
            for entry in warning_summary([event], []):
                err.print(f"warning: {escape(entry['text'])}")


def _kinds_table(kinds: dict[str, str], feature_names: list[str]):
    """Each column, the kind it was taken as, and how many features it became."""
    from rich.table import Table

    how = {
        "numeric": "imputed, scaled",
        "categorical": "one-hot",
        "text": "TF-IDF word and character n-grams",
        "date": "date components",
    }
    table = Table(
        title="Columns, by kind (override one with data.preprocess.columns: {NAME: KIND})",
        title_justify="left",
    )
    for header in ("column", "kind", "features", "as"):
        table.add_column(header, justify="right" if header == "features" else "left")
    for name, kind in kinds.items():
        made = sum(_made_from(feature, name, kind) for feature in feature_names)
        table.add_row(escape(name), kind, str(made), how[kind])
    return table


def _made_from(feature: str, column: str, kind: str) -> bool:
    # The preprocessor names a feature "<part>__<column or column_value>" (scikit-learn's form).
    part, _, rest = feature.partition("__")
    if kind in ("text", "date"):
        return part == f"{kind}_{column}"
    return rest == column or rest.startswith(f"{column}_")


def _finish(result, quiet: bool) -> None:
    if result.status == "awaiting_labels":
        # Not an error: a person has the batch. Said even with --quiet: it is the next step.
        err.print(escape(result.message.strip()))
        out.out(str(result.path))
        return
    if not quiet:
        if result.message:
            err.print(escape(result.message.strip()))
        metrics = "".join(f"; {k} {v:.4f}" for k, v in result.metrics.items())
        err.print(
            f"{result.status}: {result.path} after loop {result.last_loop} "
            f"({result.n_labeled} labels{metrics}; stop: {result.stop_reason}). "
            f"See `alcli report {result.path}`."
        )
    out.out(str(result.path))
