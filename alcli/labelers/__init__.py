"""Labelers: who answers the LABEL step. One module per kind plus this registry."""

from __future__ import annotations

from types import MappingProxyType

from alcli.labelers.base import Labeler
from alcli.labelers.oracle import Oracle

LABELERS: MappingProxyType[str, type[Labeler]] = MappingProxyType({"oracle": Oracle})


def build_labeler(cfg, truth) -> Labeler:
    """The labeler a ``labeler`` config section names, given the data's ground truth codes."""
    return LABELERS[cfg.kind](truth=truth, **cfg.model_dump(exclude={"kind"}))


__all__ = ["LABELERS", "Labeler", "build_labeler"]
