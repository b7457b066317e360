"""What every sweep backend is: a config section (picked by ``kind`` in the sweep file's
``backend:``) and ``launch(specs, root, progress)``, which yields one
:class:`~alcli.experiments.worker.Outcome` per run as runs end. Wherever a backend runs a
run, it only ever calls :func:`~alcli.experiments.worker.execute_run`."""

from __future__ import annotations

import contextlib
from abc import ABC, abstractmethod
from collections.abc import Iterator
from pathlib import Path
from typing import ClassVar

from alcli.experiments.run_spec import RunSpec
from alcli.experiments.worker import Outcome, Progress
from alcli.schema import Section


class Backend(ABC):
    Config: ClassVar[type[Section]]

    def __init__(self, config: Section, jobs: int):
        self.config = config
        self.jobs = jobs

    def connected(self) -> contextlib.AbstractContextManager:
        """Hold what ``launch`` needs from outside (a cluster's client) for the block, so
        that a backend that cannot be reached is found before the sweep directory is made."""
        return contextlib.nullcontext()

    @abstractmethod
    def launch(
        self, specs: list[RunSpec], root: Path, progress: Progress | None = None
    ) -> Iterator[Outcome]:
        """Bring every run of ``specs`` (run directories under ``root``) to its end; a
        KeyboardInterrupt in the consumer stops the runs in progress after a checkpoint."""
