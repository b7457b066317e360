"""`alcli doctor`: check run directories end to end, and repair what can be redone."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer
from rich.markup import escape

from alcli.cli.common import err, out, user_errors


def doctor(
    path: Annotated[
        Path,
        typer.Argument(
            help="A run directory, a sweep directory or a folder of runs.", show_default=False
        ),
    ],
    repair: Annotated[
        bool,
        typer.Option(
            "--repair",
            help="Move damaged loops (and the ones after them) aside into damaged/ so that "
            "`alcli resume` redoes them, and remove what killed writes left.",
        ),
    ] = False,
) -> None:
    """Check that run directories are what alcli wrote: every loop file against the
    checksums recorded when its loop completed, metrics.csv and run.json against the loops.
    Exit 0 when nothing is damaged, 1 when something is."""
    with user_errors():
        from alcli.engine.run import PERSON_KINDS
        from alcli.errors import RunDirError
        from alcli.reporting.runs import run_dirs_under
        from alcli.rundir import RunDir
        from alcli.rundir.integrity import answers_by, inspect_run

        runs = list(run_dirs_under(path))
        if not runs:
            raise RunDirError(f"{path} holds no run directory (no run.json and config.yaml).")
        damaged = 0
        for run_path in runs:
            found = inspect_run(run_path, deep=True)
            if found.damage:
                damaged += 1
            mark = "[bold red]damaged[/]" if found.damage else "[green]ok[/]"
            out.print(f"{mark} {escape(str(run_path))} ({len(found.loops)} loops checked)")
            for finding in found.findings:
                kind = "note" if finding.severity == "note" else "damage"
                out.print(f"  {kind}: {escape(finding.line())}")
            if not repair or not found.findings:
                continue
            rundir = RunDir(run_path)
            with rundir.lock():
                rundir.discard_partial()
                first = found.first_damaged_loop
                if first is not None:
                    people = answers_by(run_path, first, PERSON_KINDS)
                    aside = rundir.set_aside_loops(first)
                    asked = f"; {people} answers people gave must be given again" if people else ""
                    out.print(
                        f"  repaired: loops from {first:04d} moved to {escape(str(aside))}{asked}"
                        f". `alcli resume {escape(str(run_path))}` redoes them."
                    )
                elif found.damage:
                    out.print(f"  `alcli resume {escape(str(run_path))}` rewrites metrics.csv.")
        if damaged:
            err.print(f"{damaged} of {len(runs)} run directories damaged.")
            raise typer.Exit(1)
