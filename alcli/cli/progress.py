"""Progress on stderr: a rich progress bar on a terminal, plain lines otherwise; at the end,
one line per kind of warning the run's steps raised (none with --quiet: they stay in
events.jsonl and `alcli report`)."""

from __future__ import annotations

from typing import Any

from rich.console import Console
from rich.markup import escape
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

from alcli.rundir import step_seconds


class ProgressPrinter:
    """Renders the engine's events. Use as a context manager; call it with each event."""

    def __init__(self, console: Console, quiet: bool = False, live: bool = True):
        self.console = console
        self.quiet = quiet
        # No live bar while a person types at the terminal: it would redraw over the prompt.
        self.live = live and console.is_terminal and not quiet
        self._progress: Progress | None = None
        self._task = None
        self._warnings: list[dict[str, Any]] = []  # the `warnings` events of this command
        self._loops: set[int] = set()  # complete
        self._waiting: set[int] = set()  # with people

    def __enter__(self) -> ProgressPrinter:
        if self.live:
            self._progress = Progress(
                TextColumn("[bold]loop"),
                MofNCompleteColumn(),
                BarColumn(),
                TextColumn("{task.fields[status]}"),
                TimeElapsedColumn(),
                console=self.console,
                transient=False,
            )
            self._progress.start()
        return self

    def __exit__(self, *exc: object) -> None:
        if self._progress is not None:
            self._progress.stop()
        if self._warnings:
            # Completed, waiting for labels, stopped or failed: said once, before the outcome.
            from alcli.reporting.run_report import warning_summary

            for entry in warning_summary(self._warnings, self._loops, self._waiting):
                self.console.print(f"warning: {escape(entry['text'])}", highlight=False)

    def __call__(self, event: dict[str, Any]) -> None:
        if self.quiet:
            return
        kind = event["event"]
        if kind == "warnings":
            self._warnings.append(event)
        elif kind == "loop":
            self._loops.add(event["loop"])
        elif kind == "awaiting_labels":
            self._waiting.add(event["loop"])
        if kind == "repaired":
            # Said even on a terminal with a bar: the user should know the loops were redone.
            self.console.print(
                f"damaged loops were moved to {event['moved_to']} and are done again",
                highlight=False,
            )
        if kind in ("start", "resume"):
            total = event["max_loops"] + 1
            done = event.get("from_loop", 0)
            if self._progress is not None:
                self._task = self._progress.add_task("run", total=total, completed=done, status="")
            elif kind == "resume":
                self.console.print(f"resuming at loop {done}", highlight=False)
        elif kind == "loop":
            status = _loop_line(event)
            if self._progress is not None and self._task is not None:
                self._progress.update(self._task, completed=event["loop"] + 1, status=status)
            else:
                self.console.print(f"loop {event['loop']:>4}  {status}", highlight=False)
        elif kind == "done" and self._progress is not None and self._task is not None:
            self._progress.update(self._task, total=event["loop"] + 1, completed=event["loop"] + 1)


def _loop_line(event: dict[str, Any]) -> str:
    metrics = "  ".join(f"{k} {v:.4f}" for k, v in event["metrics"].items())
    seconds = step_seconds(event)
    return f"labeled {event['n_labeled']:>6}  {metrics}  ({seconds:.2f} s)"
