"""A bandit over strategies: each loop one strategy picks the batch, chosen by EXP3 (ALBL)."""

from __future__ import annotations

from typing import Any

import numpy as np
from pydantic import BaseModel, ConfigDict, Field, field_validator

from alcli.strategies.base import (
    CompositeStrategy,
    Selection,
    SelectionContext,
    credited,
    part_labels,
)
from alcli.strategies.spec import StrategySpec


def _default_arms() -> list[StrategySpec]:
    return [StrategySpec(name="margin"), StrategySpec(name="random")]


class BanditParams(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)
    strategies: list[StrategySpec] = Field(
        default_factory=_default_arms,
        description="The arms: strategies as in strategy (name plus its own keys), e.g. "
        "[{name: margin}, {name: random}]; one of them picks each loop's batch.",
    )
    gamma: float = Field(
        0.1,
        gt=0,
        le=1,
        description="EXP3's exploration rate: every arm is drawn with probability at least "
        "gamma / (number of arms); 1 draws the arms uniformly.",
    )

    @field_validator("strategies")
    @classmethod
    def _two_arms_at_least(cls, arms: list[StrategySpec]) -> list[StrategySpec]:
        if len(arms) < 2:
            raise ValueError(
                f"a bandit chooses between strategies and got {len(arms)}; list at least two, "
                "e.g. [{name: margin}, {name: random}]"
            )
        return arms


class Bandit(CompositeStrategy):
    """Treats the strategies as the arms of an adversarial bandit and learns, loop by loop,
    which one picks the records that make the model better.

    Each loop draws ONE arm with ``ctx.rng`` from EXP3's probabilities
    ``p = (1 - gamma) * w / sum(w) + gamma / K`` (K arms, weights ``w`` kept as logarithms),
    and that arm picks the whole batch (``picked_by`` is its name, so ``selected.csv`` and
    the ``strategy`` column of ``metrics.csv`` show the arm of every loop). Each record it
    picks gets the importance weight ``1 / p_arm``. At the next loop, once the model has been
    trained on that batch, the arm is rewarded with the model's importance-weighted accuracy
    (IW-ACC) on every record the bandit has picked so far, and
    ``w_arm *= exp(gamma * reward / (p_arm * K))``.

    How the batch setting adapts ALBL: ALBL queries one record per round, drawn from a
    mixture of the strategies' recommendations (EXP4.P), and rewards every query. Here the
    strategies are EXP3's arms: one arm per batch, one reward per loop (the arm's whole batch
    shares its weight ``1 / p_arm``). IW-ACC is self-normalised (divided by the sum of the
    weights rather than ALBL's pool size times budget) so the reward lies in [0, 1], as EXP3
    needs, without knowing the budget in advance. Records of the initial set are not the
    bandit's and do not count. Without a model (``ctx.model`` None) there is no reward and
    the weights stay as they are. As in ALBL the accuracy is measured on records the model
    was trained on: a model that fits its training set perfectly earns every arm a reward of
    1, and the weights then drift at random; only its mistakes on them tell the arms apart.

    Cost per loop: the chosen arm's cost, plus one ``predict`` over the bandit's picked
    records (O(n_picked)) and O(K) for the draw; memory O(pool) for the importance weights.
    The weights, the last arm and its probability, the importance weights and the last loop
    observed are checkpointed, so a resumed run draws and rewards exactly as one left alone.

    References: Hsu & Lin, "Active learning by learning", AAAI 2015; Auer, Cesa-Bianchi,
    Freund & Schapire, "The nonstochastic multiarmed bandit problem", SIAM Journal on
    Computing 2002; Baram, El-Yaniv & Luz, "Online choice of active learning algorithms",
    JMLR 2004.
    """

    name = "bandit"
    description = "Picks one strategy per loop by EXP3, rewarded by importance-weighted accuracy."
    Params = BanditParams

    def __init__(self, **params: Any):
        super().__init__(**params)
        specs = self.params.strategies
        labels = part_labels([spec.name for spec in specs])
        self.parts = [(label, spec.build()) for label, spec in zip(labels, specs, strict=True)]
        self.log_weights_ = np.zeros(len(self.parts))
        self.last_arm_ = -1  # the arm whose batch awaits its reward (-1: none)
        # No NaN in the state (a checkpoint compares equal to itself): 0 and -1 mean "none".
        self.last_prob_ = 0.0
        self.last_reward_ = -1.0  # the reward of the last loop observed, -1 if there was none
        self.last_loop_ = -1
        self.importance_: np.ndarray | None = None  # (n_pool,), 0 for records not picked

    def probabilities(self) -> np.ndarray:
        """EXP3's probabilities of drawing each arm, shape (K,): sum 1, each >= gamma / K."""
        gamma, k = self.params.gamma, len(self.parts)
        w = np.exp(self.log_weights_ - self.log_weights_.max())
        p = (1.0 - gamma) * w / w.sum() + gamma / k
        return p / p.sum()

    def observe(self, ctx: SelectionContext) -> None:
        super().observe(ctx)
        if ctx.loop <= self.last_loop_:
            return
        self.last_loop_ = ctx.loop
        self.last_reward_ = -1.0
        if self.last_arm_ < 0:
            return
        reward = self.reward(ctx)
        if reward is not None:
            self.last_reward_ = reward
            k = len(self.parts)
            self.log_weights_[self.last_arm_] += self.params.gamma * reward / (self.last_prob_ * k)
        # One reward per pull: a loop in which the bandit does not select (a phase that
        # ended) must not reward the same arm again.
        self.last_arm_, self.last_prob_ = -1, 0.0

    def reward(self, ctx: SelectionContext) -> float | None:
        """The model's importance-weighted accuracy on the records the bandit picked, in
        [0, 1]; None without a model or before any picked record is labeled."""
        if ctx.model is None or self.importance_ is None or ctx.labeled.shape[0] == 0:
            return None
        weights = self.importance_[ctx.labeled]
        mine = weights > 0
        if not mine.any():
            return None
        rows, weights = ctx.labeled[mine], weights[mine]
        if ctx.learner is not None:
            correct = ctx.learner.predict(ctx.model, ctx.features, rows) == ctx.labels[mine]
        else:
            predicted = np.asarray(ctx.model.predict(ctx.features[rows]))
            correct = predicted == ctx.classes[ctx.labels[mine]]
        return min(float(np.dot(weights, correct) / weights.sum()), 1.0)

    def select(self, ctx: SelectionContext, n: int) -> Selection:
        if n <= 0 or ctx.candidates.shape[0] == 0:
            return Selection(np.empty(0, dtype=np.int64), np.empty(0), np.empty(0, dtype=object))
        p = self.probabilities()
        arm = int(ctx.rng.choice(p.shape[0], p=p))
        label, strategy = self.parts[arm]
        selection = strategy.select(ctx, n)
        if self.importance_ is None:
            self.importance_ = np.zeros(ctx.n_pool)
        self.importance_[selection.indices] = 1.0 / p[arm]
        self.last_arm_, self.last_prob_ = arm, float(p[arm])
        return credited(label, selection)

    def state(self) -> dict[str, np.ndarray]:
        importance = self.importance_ if self.importance_ is not None else np.zeros(0)
        return {
            **super().state(),
            "log_weights": self.log_weights_.copy(),
            "last_arm": np.array(self.last_arm_, dtype=np.int64),
            "last_prob": np.array(self.last_prob_, dtype=np.float64),
            "last_reward": np.array(self.last_reward_, dtype=np.float64),
            "last_loop": np.array(self.last_loop_, dtype=np.int64),
            "importance": importance.copy(),
        }

    def restore(self, state: dict[str, np.ndarray]) -> None:
        super().restore(state)
        if "log_weights" not in state:
            return
        self.log_weights_ = np.array(state["log_weights"], dtype=np.float64)
        self.last_arm_ = int(state["last_arm"])
        self.last_prob_ = float(state["last_prob"])
        self.last_reward_ = float(state["last_reward"])
        self.last_loop_ = int(state["last_loop"])
        importance = np.array(state["importance"], dtype=np.float64)
        self.importance_ = importance if importance.shape[0] else None
