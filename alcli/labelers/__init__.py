"""Labelers: who answers the LABEL step. One module per kind plus this registry."""

from __future__ import annotations

from dataclasses import dataclass
from types import MappingProxyType
from typing import Any

import numpy as np

from alcli.labelers.base import (
    SKIPPED,
    UNANSWERED,
    Answers,
    Labeler,
    LabelRequest,
    labeler_chain,
    max_price,
    prices,
)
from alcli.labelers.file import FileLabeler
from alcli.labelers.model import LabelingModel
from alcli.labelers.noisy_oracle import NoisyOracle
from alcli.labelers.oracle import Oracle
from alcli.labelers.terminal import TerminalLabeler

LABELERS: MappingProxyType[str, type[Labeler]] = MappingProxyType(
    {
        "oracle": Oracle,
        "noisy_oracle": NoisyOracle,
        "model": LabelingModel,
        "terminal": TerminalLabeler,
        "file": FileLabeler,
    }
)


@dataclass(frozen=True)
class LabelerContext:
    """What a labeler may need from the run when it is built.

    Attributes
    ----------
    truth : ndarray of int64, shape (n_pool,)
        The data's class codes (UNLABELED where it holds none): only oracles read them.
    classes : ndarray of shape (n_classes,)
    data_cfg : DataConfig
        How the data was read (a labeling model's training file is read the same way).
    seed : int
    """

    truth: np.ndarray
    classes: np.ndarray
    data_cfg: Any
    seed: int


def chain_has(cfg: Any, capability: str) -> bool:
    """Whether a labeler in the chain of ``cfg`` has ``capability`` (a class attribute such
    as ``may_wait``, ``needs_tty``, ``needs_truth``)."""
    return any(getattr(LABELERS[link.kind], capability) for link in labeler_chain(cfg))


def first_with(cfg: Any, capability: str) -> Any | None:
    """The first labeler config in the chain of ``cfg`` whose kind has ``capability``."""
    return next(
        (link for link in labeler_chain(cfg) if getattr(LABELERS[link.kind], capability)), None
    )


def build_labeler(cfg: Any, context: LabelerContext) -> Labeler:
    """The labeler a ``labeler`` config section names."""
    return LABELERS[cfg.kind](cfg, context)


__all__ = [
    "LABELERS",
    "SKIPPED",
    "UNANSWERED",
    "Answers",
    "LabelRequest",
    "Labeler",
    "LabelerContext",
    "build_labeler",
    "chain_has",
    "first_with",
    "labeler_chain",
    "max_price",
    "prices",
]
