"""The command line: parse arguments, call the engine or the reports, print. No logic.

One file per command group; each command is registered here, in the order ``--help`` lists
them.
"""

from __future__ import annotations

from typing import Annotated

import typer

from alcli import __version__
from alcli.cli import catalog, doctor, report, run, sweep
from alcli.cli.common import out

app = typer.Typer(
    add_completion=False,
    no_args_is_help=True,
    pretty_exceptions_enable=False,
    help="Run active-learning experiments: select, label, train, infer, checkpoint, report.",
)
app.command()(run.run)
app.command()(run.resume)
app.command()(report.report)
app.command()(run.validate)
app.command()(sweep.sweep)
app.command()(sweep.compare)
app.command()(sweep.check)
app.command()(doctor.doctor)
app.command()(catalog.strategies)
app.command(name="stop-criteria")(catalog.stop_criteria)


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
