"""Labelers: who answers the LABEL step. One module per kind (the labeler and its config
section side by side) plus one line in :data:`LABELERS`."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, replace
from typing import Any

import numpy as np

from alcli.classes import SKIPPED, UNANSWERED
from alcli.labelers.base import Answers, LabelCost, Labeler, LabelRequest, prices
from alcli.labelers.file import FileLabeler
from alcli.labelers.label_studio import LabelStudioLabeler
from alcli.labelers.model import ModelLabeler, ModelLabelerConfig
from alcli.labelers.noisy_oracle import NoisyOracle
from alcli.labelers.oracle import Oracle, OracleConfig
from alcli.labelers.rules import RulesLabeler, RulesLabelerConfig
from alcli.labelers.terminal import TerminalLabeler
from alcli.registry import Registry

LABELERS: Registry[Labeler] = Registry(
    "kind",
    {
        "oracle": Oracle,
        "noisy_oracle": NoisyOracle,
        "model": ModelLabeler,
        "terminal": TerminalLabeler,
        "file": FileLabeler,
        "label_studio": LabelStudioLabeler,
        "rules": RulesLabeler,
    },
    base=Labeler,
)

#: The ``labeler`` section: one of the registered labelers' configs, picked by ``kind``.
LABELER_CONFIGS = LABELERS.configs()
LabelerConfig = LABELERS.section("oracle")
DEFAULT_LABELER = OracleConfig
# A labeling model's fallback is itself a labeler section.
ModelLabelerConfig.model_rebuild(_types_namespace={"LabelerConfig": LabelerConfig})
RulesLabelerConfig.model_rebuild(_types_namespace={"LabelerConfig": LabelerConfig})


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
    build : callable
        Builds another labeler from its config and a context (a chain's fallback).
    """

    truth: np.ndarray
    classes: np.ndarray
    data_cfg: Any
    seed: int
    build: Callable[[Any, LabelerContext], Labeler] | None = None


def labeler_chain(cfg: Any) -> list[Any]:
    """A labeler config and the fallbacks behind it, in order (model -> file -> ...)."""
    chain = [cfg]
    while getattr(chain[-1], "fallback", None) is not None:
        chain.append(chain[-1].fallback)
    return chain


def chain_has(cfg: Any, capability: str) -> bool:
    """Whether a labeler in the chain of ``cfg`` has ``capability`` (a class attribute such
    as ``may_wait``, ``needs_tty``, ``needs_truth``)."""
    return first_with(cfg, capability) is not None


def first_with(cfg: Any, capability: str) -> Any | None:
    """The first labeler config in the chain of ``cfg`` whose kind has ``capability``."""
    return next(
        (link for link in labeler_chain(cfg) if getattr(LABELERS[link.kind], capability)), None
    )


def max_price(cfg: Any) -> float:
    """The most one answer can cost anywhere in a labeler chain."""
    most = 0.0
    for link in labeler_chain(cfg):
        cost = getattr(link, "cost", None)
        if cost is not None:
            most = max(most, float(cost.per_label), *map(float, cost.per_class.values()))
    return most


def build_labeler(cfg: Any, context: LabelerContext) -> Labeler:
    """The labeler a ``labeler`` config section names (with its fallbacks)."""
    return LABELERS[cfg.kind](cfg, replace(context, build=build_labeler))


__all__ = [
    "DEFAULT_LABELER",
    "LABELERS",
    "LABELER_CONFIGS",
    "SKIPPED",
    "UNANSWERED",
    "Answers",
    "LabelCost",
    "LabelRequest",
    "Labeler",
    "LabelerConfig",
    "LabelerContext",
    "build_labeler",
    "chain_has",
    "first_with",
    "labeler_chain",
    "max_price",
    "prices",
]
