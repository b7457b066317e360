"""The one exception tree. Library code raises these; only the CLI turns them into exit codes."""

from __future__ import annotations

from collections.abc import Iterable


def preview(values: Iterable[object], k: int = 5) -> str:
    """The first ``k`` values for a message: ``a, b, c and 12 more``."""
    values = [str(v) for v in values]
    more = f" and {len(values) - k} more" if len(values) > k else ""
    return ", ".join(values[:k]) + more


def agree(n: int, one: str, many: str) -> str:
    """The verb form for a count: ``agree(1, "lacks", "lack")``."""
    return one if n == 1 else many


def plural(n: int, noun: str) -> str:
    """``1 record``, ``3 records``."""
    return f"{n} {noun}" if n == 1 else f"{n} {noun}s"


class AlcliError(Exception):
    """Base of every error alcli reports to a user. ``exit_code`` is what the CLI exits with."""

    exit_code = 1


class UserInputError(AlcliError):
    """A mistake in what the user gave us (config, data, run directory): exit code 2."""

    exit_code = 2


class ConfigError(UserInputError):
    """The experiment config is invalid. ``problems`` holds one line per problem."""

    def __init__(self, source: str, problems: list[str]):
        self.source = source
        self.problems = problems
        lines = "\n".join(f"  {p}" for p in problems)
        noun = "problem" if len(problems) == 1 else "problems"
        super().__init__(f"{source}: {len(problems)} {noun}:\n{lines}")


class DataError(UserInputError):
    """The data named by the config cannot be used as it is."""


class RunDirError(UserInputError):
    """The run directory is missing, busy, already used, or does not match its data."""


class RunBusy(RunDirError):
    """Another process holds the run directory's lock (it is running that run)."""


class ExperimentFailed(AlcliError):
    """A step failed while the experiment ran (the run directory records it as failed)."""


class StorageFull(AlcliError):
    """The run directory's storage refused a write (full disk, quota, read-only folder); the
    run is stopped after its last complete loop and resumes once there is room."""


class Interrupted(AlcliError):
    """The user stopped the run (Ctrl-C or SIGTERM); it is checkpointed and resumable."""

    exit_code = 130
