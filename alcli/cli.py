"""The command line: parse arguments, call the engine or the report, print. No logic."""

from __future__ import annotations

import contextlib
import signal
from collections.abc import Iterator
from enum import StrEnum
from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console
from rich.markup import escape

from alcli import __version__
from alcli.errors import AlcliError

app = typer.Typer(
    add_completion=False,
    no_args_is_help=True,
    pretty_exceptions_enable=False,
    help="Run active-learning experiments: select, label, train, infer, checkpoint, report.",
)
out = Console(highlight=False, soft_wrap=True)
err = Console(stderr=True, highlight=False, soft_wrap=True)

ConfigArg = Annotated[
    Path, typer.Argument(help="The experiment's YAML config.", show_default=False)
]
RunDirArg = Annotated[
    Path, typer.Argument(help="A run directory made by `alcli run`.", show_default=False)
]
SetOpt = Annotated[
    list[str] | None,
    typer.Option(
        "--set",
        metavar="KEY.PATH=VALUE",
        help="Override a config key, e.g. --set strategy.name=entropy (repeatable).",
    ),
]
QuietOpt = Annotated[bool, typer.Option("--quiet", "-q", help="No progress output.")]


class Format(StrEnum):
    table = "table"
    json = "json"
    csv = "csv"


@contextlib.contextmanager
def user_errors() -> Iterator[None]:
    """The one place library errors become a message and an exit code."""
    previous = signal.signal(signal.SIGTERM, _terminate)
    try:
        yield
    except AlcliError as exc:
        prefix = "[bold red]error:[/] " if exc.exit_code == 2 else ""
        err.print(prefix + escape(str(exc)))
        raise typer.Exit(exc.exit_code) from None
    except KeyboardInterrupt:
        # Before a run directory exists (loading config or data) there is nothing to save.
        err.print("Interrupted; nothing was written.")
        raise typer.Exit(130) from None
    finally:
        signal.signal(signal.SIGTERM, previous)


def _terminate(signum, frame):
    # SIGTERM (a scheduler, `kill`) stops a run as cleanly as Ctrl-C does.
    raise KeyboardInterrupt


@app.command()
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
    from alcli import engine
    from alcli.config import load_config
    from alcli.console import ProgressPrinter

    with user_errors():
        cfg = load_config(config, set_ or [])
        with ProgressPrinter(err, quiet, live=not engine.asks_a_person(cfg)) as progress:
            result = engine.start(cfg, run_dir, on_event=progress)
        _finish(result, quiet)


@app.command()
def resume(
    run_dir: RunDirArg,
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
    quiet: QuietOpt = False,
) -> None:
    """Continue a stopped, failed or killed run after its last complete loop, or give a
    waiting run its labels."""
    from alcli import engine
    from alcli.console import ProgressPrinter

    with user_errors():
        live = not engine.asks_a_person_in(run_dir)
        with ProgressPrinter(err, quiet, live=live) as progress:
            result = engine.resume(run_dir, on_event=progress, labels=labels)
        _finish(result, quiet)


@app.command()
def report(
    run_dir: RunDirArg,
    format_: Annotated[Format, typer.Option("--format", "-f", help="table, json or csv.")] = (
        Format.table
    ),
) -> None:
    """Show a run's loops and summary (reads CSV and JSON only; never unpickles)."""
    from alcli import report as reporting

    with user_errors():
        if format_ is Format.csv:
            out.out(reporting.to_csv(run_dir), end="")
            return
        data = reporting.load_report(run_dir)
        if format_ is Format.json:
            out.out(reporting.to_json(data), end="")
        else:
            out.print(reporting.to_table(data))


@app.command()
def validate(config: ConfigArg, set_: SetOpt = None) -> None:
    """Check a config and its data without running anything."""
    from alcli import engine
    from alcli.config import load_config
    from alcli.labelers import labeler_chain

    with user_errors():
        cfg = load_config(config, set_ or [])
        experiment = engine.prepare(cfg)
        data = experiment.data
        out.print(
            f"{config}: valid. {data.ids.shape[0]} pool records, {data.y_test.shape[0]} test "
            f"records, {data.X.shape[1]} features, {data.classes.shape[0]} classes; model "
            f"{cfg.model.estimator.rsplit('.', 1)[-1]}, init {cfg.init.method}, strategy "
            f"{cfg.strategy.summary()}, labeler "
            f"{' then '.join(link.kind for link in labeler_chain(cfg.labeler))}, up to "
            f"{cfg.stop.max_loops} loops."
        )


@app.command()
def strategies(
    name: Annotated[
        str | None,
        typer.Argument(
            help="Show one strategy (a registered name or an import path) in full.",
            show_default=False,
        ),
    ] = None,
    format_: Annotated[Format, typer.Option("--format", "-f", help="table or json.")] = (
        Format.table
    ),
) -> None:
    """List the querying strategies: what each does, what it needs, its parameters."""
    import json

    from alcli.errors import ConfigError
    from alcli.strategies import STRATEGIES, resolve_strategy
    from alcli.strategies.catalog import strategy_info

    with user_errors():
        if name is None:
            infos = [strategy_info(key, cls) for key, cls in sorted(STRATEGIES.items())]
        else:
            try:
                infos = [strategy_info(name, resolve_strategy(name))]
            except LookupError as exc:
                raise ConfigError("alcli strategies", [str(exc)]) from None
        if format_ is Format.json:
            out.out(json.dumps(infos, indent=2, default=str))
            return
        if format_ is Format.csv:
            raise ConfigError(
                "alcli strategies", ["--format csv is for reports; use table or json"]
            )
        out.print(_strategy_table(infos, full=name is not None))


def _strategy_table(infos: list[dict], full: bool):
    from rich.table import Table

    table = Table(
        show_lines=True,
        title=None if full else "strategy: {name: <strategy>, <parameter>: <value>, ...}",
        caption=None
        if full
        else "Switch strategies by loop with strategy: {phases: [{loops: 3, name: kcenter}, "
        "{name: margin}]}.\nYour own: strategy: {name: mypkg.strategies:MyStrategy}. "
        "Details: alcli strategies NAME.",
    )
    table.add_column("strategy", style="bold", no_wrap=True)
    table.add_column("what it does")
    table.add_column("parameters (default)")
    for info in infos:
        params = (
            "\n".join(
                f"{p['name']}: {p['type']} ({_inline_yaml(p['default'])})"
                + (f" - {p['description']}" if full else "")
                for p in info["params"]
            )
            or "-"
        )
        what = info["description"]
        if info["needs"]:
            what += f"\nneeds: {', '.join(info['needs'])}"
        if full and info["references"]:
            what += f"\n{info['references']}"
        table.add_row(escape(info["name"]), escape(what), escape(params))
    return table


def _inline_yaml(value) -> str:
    """A default as a user would write it in the config: [{name: margin, share: 0.8}]."""
    if isinstance(value, dict | list):
        import yaml

        return yaml.safe_dump(value, default_flow_style=True, sort_keys=False, width=10**6).strip()
    return "null" if value is None else str(value)


def _finish(result, quiet: bool) -> None:
    if result.status == "awaiting_labels":
        # Not an error: a person has the batch. Said even with --quiet: it is the next step.
        err.print(escape(result.message.strip()))
        out.out(str(result.path))
        return
    if not quiet:
        metrics = ", ".join(f"{k} {v:.4f}" for k, v in result.metrics.items())
        err.print(
            f"{result.status}: {result.path} after loop {result.last_loop} "
            f"({result.n_labeled} labels; {metrics}; stop: {result.stop_reason}). "
            f"See `alcli report {result.path}`."
        )
    out.out(str(result.path))


def _version(value: bool) -> None:
    if value:
        out.out(f"alcli {__version__}")
        raise typer.Exit()


@app.callback()
def _main(
    version: Annotated[
        bool,
        typer.Option(
            "--version", callback=_version, is_eager=True, help="Print the version and exit."
        ),
    ] = False,
) -> None:
    """Run active-learning experiments from a YAML config."""


def main() -> None:
    app()
