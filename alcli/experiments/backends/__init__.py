"""Where a sweep's runs execute: one module per backend (the backend and its config section
side by side) plus one line in :data:`BACKENDS`. See :mod:`.base` for the contract."""

from __future__ import annotations

from alcli.experiments.backends.base import Backend
from alcli.experiments.backends.dask import DaskBackend
from alcli.experiments.backends.local import LocalBackend
from alcli.registry import Registry

BACKENDS: Registry[Backend] = Registry(
    "kind",
    {
        "local": LocalBackend,
        "dask": DaskBackend,
    },
    base=Backend,
)

#: The sweep file's ``backend`` section, picked by ``kind``; local when absent.
BackendConfig = BACKENDS.section("local")


def build_backend(config, jobs: int) -> Backend:
    return BACKENDS[config.kind](config, jobs)


__all__ = ["BACKENDS", "Backend", "BackendConfig", "DaskBackend", "LocalBackend", "build_backend"]
