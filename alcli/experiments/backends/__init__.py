"""Where a sweep's runs execute. A backend's ``launch(specs, root, progress)`` yields one
:class:`~alcli.experiments.worker.Outcome` per run as runs end; its workers only ever call
:func:`~alcli.experiments.worker.execute_run`."""

from __future__ import annotations

from alcli.experiments.backends.local import LocalBackend

BACKENDS = {"local": LocalBackend}

__all__ = ["BACKENDS", "LocalBackend"]
