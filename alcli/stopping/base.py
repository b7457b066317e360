"""The stop-criterion interface: after each loop, criteria look at where the run stands and
may give a reason to stop."""

from __future__ import annotations

from abc import ABC, abstractmethod
from dataclasses import dataclass, field
from typing import Any, ClassVar

import numpy as np
from pydantic import BaseModel, ConfigDict, create_model


@dataclass(frozen=True)
class Progress:
    """Where a run stands after a loop.

    Attributes
    ----------
    loop : int
    n_labeled : int
    metrics : dict of str to float
        This loop's test metrics.
    next_size : int
        What the next loop would label, already capped by pool and budget (0: nothing).
    n_unlabeled : int
        Records that can still be selected.
    spent : float
        What the labels so far cost.
    affordable : bool
        Whether one more answer, at the dearest price, fits stop.budget_cost.
    signals : dict of str to float
        What INFER measured for the label-free criteria that asked (see :data:`SIGNALS`);
        a signal is absent when nothing asked for it, or NaN where it is not defined yet
        (no previous model in loop 0).
    """

    loop: int
    n_labeled: int
    metrics: dict[str, float]
    next_size: int
    n_unlabeled: int
    spent: float = 0.0
    affordable: bool = True
    signals: dict[str, float] = field(default_factory=dict)


#: Signals a label-free criterion can ask INFER to measure after each loop's TRAIN.
SIGNALS = {
    "kappa": "Cohen's kappa between this model's and the last model's predictions on the stop "
    "set (a seeded sample of the pool, drawn once per run)",
    "changed": "share of the unlabeled pool whose predicted class changed since the last loop",
    "uncertainty": "mean normalized entropy of the predictions over the unlabeled pool",
    "batch_confidence": "the lowest confidence (top probability) among this loop's batch, "
    "as the model that selected it predicted",
}
#: The signals measured on the selection model's probabilities (it needs predict_proba).
PROBA_SIGNALS = frozenset({"changed", "uncertainty", "batch_confidence"})
#: What a criterion that watches test metrics needs (not a signal: the test set).
TEST_SET = "test set"


class NoParams(BaseModel):
    """Parameters of a criterion that takes none."""

    model_config = ConfigDict(extra="forbid", frozen=True)


def limit_params(key: str, kind: Any) -> type[BaseModel]:
    """The Params of a limit: one value, named as its key in the ``stop`` section."""
    return create_model(
        f"{key}_params", __config__=ConfigDict(extra="forbid", frozen=True), **{key: (kind, ...)}
    )


class StopCriterion(ABC):
    """Advises stopping after a loop. The constructor stores the validated ``Params``.

    ``observe`` sees every loop's progress (for criteria that keep a history, saved through
    ``state``/``restore`` in each loop's state.npz); ``check`` gives the stop reason (the
    criterion's ``name``) or None.
    """

    name: ClassVar[str]
    description: ClassVar[str]
    Params: ClassVar[type[BaseModel]] = NoParams
    #: The signals (names in :data:`SIGNALS`) it watches, or TEST_SET for test metrics.
    needs: ClassVar[frozenset[str]] = frozenset()
    #: Parameter values `alcli report` replays a finished run with (one parameter, a few
    #: values): where each would have stopped. Empty for the limits.
    replay_grid: ClassVar[dict[str, list]] = {}

    def __init__(self, **params: Any):
        self.params = self.Params(**params)

    def observe(self, progress: Progress) -> None:  # noqa: B027 - optional hook
        """Take note of a loop (called once per loop, before ``check``)."""

    @abstractmethod
    def check(self, progress: Progress) -> str | None:
        """The reason to stop after this loop, or None to go on."""

    def state(self) -> dict[str, np.ndarray]:
        """Arrays that resume needs (a history); empty for a criterion without one."""
        return {}

    def restore(self, state: dict[str, np.ndarray]) -> None:  # noqa: B027 - optional hook
        """Take back what :meth:`state` returned."""
