"""What every command shares: the consoles, the option types, and the one boundary where
library errors become a message and an exit code."""

from __future__ import annotations

import contextlib
import signal
from collections.abc import Iterator
from enum import StrEnum
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.console import Console
from rich.markup import escape

from alcli.errors import AlcliError

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
HtmlOpt = Annotated[
    Path | None,
    typer.Option(
        "--html", metavar="FILE", help="Write a self-contained HTML report.", show_default=False
    ),
]
PlotOpt = Annotated[
    Path | None,
    typer.Option(
        "--plot",
        metavar="FILE",
        help="Write the learning curves (.png or .svg).",
        show_default=False,
    ),
]
ReferenceOpt = Annotated[
    str, typer.Option("--reference", help="The value that marks the reference groups.")
]
BackendOpt = Annotated[
    str | None,
    typer.Option(
        "--backend",
        metavar="KIND",
        help="Where a sweep's runs execute: local or dask (default: the sweep file's backend).",
        show_default=False,
    ),
]
AddressOpt = Annotated[
    str | None,
    typer.Option(
        "--address",
        metavar="tcp://HOST:PORT",
        help="The dask scheduler for --backend dask (implies it).",
        show_default=False,
    ),
]


def backend_override(backend: str | None, address: str | None) -> dict[str, Any] | None:
    """The ``backend:`` mapping ``--backend``/``--address`` ask for (None: the file's)."""
    if backend is None and address is None:
        return None
    chosen: dict[str, Any] = {"kind": backend or "dask"}
    if address is not None:
        chosen["address"] = address
    return chosen


JobsOpt = Annotated[
    int | None,
    typer.Option(
        "--jobs",
        "-j",
        min=1,
        help="A sweep's runs at a time (default: the sweep file's jobs).",
        show_default=False,
    ),
]
TargetOpt = Annotated[
    float | None,
    typer.Option(
        "--target",
        help="The metric value 'labels to target' counts up to "
        "(default: 95% of the best group's final value).",
        show_default=False,
    ),
]
PLOT_SUFFIXES = (".png", ".svg")


def plot_problem(plot: Path | None) -> str | None:
    """Why ``--plot FILE`` cannot be written, checked before anything is."""
    if plot is not None and plot.suffix.lower() not in PLOT_SUFFIXES:
        return f"--plot {plot}: give a file name ending in .png or .svg"
    return None


class Format(StrEnum):
    table = "table"
    json = "json"
    csv = "csv"


@contextlib.contextmanager
def user_errors() -> Iterator[None]:
    """The one place library errors become a message and an exit code."""
    previous = signal.signal(signal.SIGTERM, _terminate)
    previous_int = signal.getsignal(signal.SIGINT)
    stopping = False
    try:
        yield
    except AlcliError as exc:
        if exc.exit_code == 130:
            stopping = _ignore_further_interrupts()
        prefix = "[bold red]error:[/] " if exc.exit_code == 2 else ""
        err.print(prefix + escape(str(exc)))
        raise typer.Exit(exc.exit_code) from None
    except OSError as exc:
        from alcli.atomic import is_storage_error, storage_message

        if not is_storage_error(exc):
            raise
        # A write outside a loop (creating, resuming, recording answers): nothing was
        # half-written (every write is atomic); say where and why, not a traceback.
        err.print(f"[bold red]error:[/] {escape(storage_message(exc, Path.cwd()))}")
        raise typer.Exit(1) from None
    except KeyboardInterrupt:
        stopping = _ignore_further_interrupts()
        # Before a run directory exists (loading config or data) there is nothing to save.
        err.print("Interrupted; nothing was written.")
        raise typer.Exit(130) from None
    finally:
        if not (stopping and EXITS_AFTER_THE_COMMAND):
            signal.signal(signal.SIGTERM, previous)
            signal.signal(signal.SIGINT, previous_int)


#: Set by the `alcli` entry point: the process ends with the command. (In-process callers,
#: such as tests through CliRunner, get their signal handlers back.)
EXITS_AFTER_THE_COMMAND = False


def _ignore_further_interrupts() -> bool:
    # Stopping is decided and recorded: a second Ctrl-C now would only cut the exit short
    # (a traceback, or death by signal instead of exit code 130).
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    signal.signal(signal.SIGTERM, signal.SIG_IGN)
    return True


def _terminate(signum, frame):
    # SIGTERM (a scheduler, `kill`) stops a run as cleanly as Ctrl-C does.
    raise KeyboardInterrupt
