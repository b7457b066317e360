"""Query by committee: label the records a committee of models disagrees on most."""

from __future__ import annotations

from dataclasses import replace
from typing import Any, Literal

import numpy as np
from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    ValidationError,
    ValidationInfo,
    field_validator,
    model_validator,
)
from pydantic_core import PydanticCustomError

from alcli.models import ModelConfig, describe_model
from alcli.strategies import uncertainty
from alcli.strategies.base import ScoreStrategy, SelectionContext, UnsupportedInput
from alcli.strategies.spec import STRATEGY_CONTEXT

# Disagreements below this are rounding noise of members that agree; zeroing them makes
# agreeing records tie exactly, so the shared selector breaks those ties with the seed.
NOISE = 1e-12


DEFAULT_MEMBERS = 5


class QueryByCommitteeParams(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    disagreement: Literal["vote_entropy", "kl_divergence"] = Field(
        "vote_entropy",
        description="vote_entropy: entropy of the members' hard votes (any classifier); "
        "kl_divergence: mean KL divergence of each member's predicted distribution from the "
        "committee's mean (every member needs predict_proba).",
    )
    members: int | None = Field(
        None,
        ge=2,
        description="Committee size: bagged copies of the selection model, each fit on a "
        "bootstrap resample of the labeled set (5 when neither members nor models is given). "
        "Not with models.",
    )
    models: list[ModelConfig] | None = Field(
        None,
        min_length=2,
        description="Instead of bagged copies, one member per model config (as the model "
        "section: {estimator, params}, {steps} for a pipeline or {factory, params}), each fit "
        "on the whole labeled set. Not with members.",
        json_schema_extra={"type_text": "list of model configs"},
    )

    @field_validator("models", mode="before")
    @classmethod
    def _model_configs(cls, value: Any, info: ValidationInfo) -> Any:
        # One message per entry that names it, rather than pydantic's per-key errors.
        if not isinstance(value, list):
            return value
        # The context holds the config's folder, where a member's factory may live.
        context = info.context if info.context is not None else STRATEGY_CONTEXT.get()
        configs = []
        for k, entry in enumerate(value):
            try:
                configs.append(ModelConfig.model_validate(entry, context=context))
            except ValidationError as exc:
                problems = "; ".join(
                    ".".join(str(p) for p in err["loc"])
                    + (": " if err["loc"] else "")
                    + err["msg"].removeprefix("Value error, ")
                    for err in exc.errors()
                )
                raise PydanticCustomError(
                    "committee_model",
                    "entry {k} is not a model config ({problems}); each entry is a mapping "
                    "as the model section is (an estimator and its params, steps, or a factory)",
                    {"k": k + 1, "problems": problems},
                ) from None
        return configs

    @model_validator(mode="after")
    def _members_or_models(self) -> QueryByCommitteeParams:
        if self.models is not None and self.members is not None:
            raise PydanticCustomError(
                "committee_size",
                "give either members (that many bagged copies of the selection model) or "
                "models (one member per model config), not both",
            )
        if self.models is None and self.members is None:
            # The committee size is filled in, so the frozen config records it.
            object.__setattr__(self, "members", DEFAULT_MEMBERS)
        return self


class QueryByCommittee(ScoreStrategy):
    """Fits a committee of K models on the labeled set and scores each candidate by how much
    the members disagree on it.

    The committee is K bagged copies of the selection model (``members``), each fit on a
    bootstrap resample of the labeled set (a resample always holds two classes when the
    labeled set does), or one member per entry of ``models``, each fit on the whole labeled
    set. Members are seeded from the run seed, the loop and their member number; bootstrap
    resamples are drawn from the loop's generator.

    - ``vote_entropy``: -sum_c (V(c)/K) log(V(c)/K), V(c) the members voting for class c
      (hard votes, so any classifier works). From 0 (unanimous) to log(min(K, n_classes)).
    - ``kl_divergence``: (1/K) sum_k KL(p_k || p_mean), p_mean the members' mean distribution;
      equal to H(p_mean) - (1/K) sum_k H(p_k). Every member needs ``predict_proba``.

    Until the labeled set holds two classes every member is the same constant model, so
    every candidate scores 0 and the picks are the selector's seeded random tie-break.

    Cost per loop: K fits on the labeled set (the bagged copies in parallel threads through
    the Learner; ``models`` entries one after another) and K chunked predictions on the n
    candidates: O(K * (fit(n_labeled) + n * predict)). Memory O(n * n_classes) for the
    vote counts or summed distributions, plus the K bootstrap copies of the labeled rows
    while fitting.

    References: Seung, Opper & Sompolinsky, "Query by committee", COLT 1992; Dagan &
    Engelson, "Committee-based sampling for training probabilistic classifiers", ICML 1995
    (vote entropy); McCallum & Nigam, "Employing EM and pool-based active learning for text
    classification", ICML 1998 (KL divergence to the mean).
    """

    name = "qbc"
    description = "Query by committee: where K models fit on the labels disagree most."
    requires = "predict_proba for kl_divergence"
    needs_proba = False
    Params = QueryByCommitteeParams

    def check_model(self, estimator: Any) -> str | None:
        if self.params.disagreement != "kl_divergence":
            return None
        fix = (
            "use disagreement: vote_entropy (hard votes, any classifier) or a classifier with "
            "predict_proba (e.g. LogisticRegression, or SVC with probability: true)"
        )
        if self.params.models is None:
            if hasattr(estimator, "predict_proba"):
                return None
            return (
                "'qbc' with disagreement: kl_divergence compares the members' predict_proba, "
                f"which {describe_model(estimator)} does not offer with these params; {fix}"
            )
        for k, cfg in enumerate(self.params.models):
            member = cfg.build()
            if not hasattr(member, "predict_proba"):
                return (
                    "'qbc' with disagreement: kl_divergence compares the members' "
                    f"predict_proba, which models entry {k + 1} ({describe_model(member)}) does "
                    f"not offer with these params; {fix}"
                )
        return None

    def score(self, ctx: SelectionContext) -> np.ndarray:
        n = ctx.candidates.shape[0]
        if n == 0 or np.unique(ctx.labels).shape[0] < 2:
            return np.zeros(n)
        if ctx.learner is None:
            raise UnsupportedInput(
                "strategy 'qbc' fits its own committee and needs a Learner in the selection "
                "context (ctx.learner); the engine always gives one"
            )
        committee = self.committee(ctx)
        if self.params.disagreement == "vote_entropy":
            counts = np.zeros((n, ctx.learner.n_classes))
            rows = np.arange(n)
            for learner, member in committee:
                votes = learner.predict(member, ctx.features, ctx.candidates)
                counts[rows, votes.astype(np.int64)] += 1.0
            scores = uncertainty.entropy(counts / len(committee))
            scores[scores < NOISE] = 0.0
            return scores
        consensus = Consensus(n, ctx.learner.n_classes)
        for learner, member in committee:
            consensus.add(learner.proba(member, ctx.features, ctx.candidates))
        return consensus.disagreement()

    def committee(self, ctx: SelectionContext) -> list[tuple[Any, Any]]:
        """The fitted members, each with the Learner that predicts with it.

        Returns
        -------
        list of (Learner, fitted estimator)
            Members are fit on class codes, so their votes and aligned probabilities are
            class codes / columns in code order.
        """
        labeled = np.asarray(ctx.labeled)
        codes = np.asarray(ctx.labels)
        if self.params.models is not None:
            X = ctx.features[labeled]
            committee = []
            for k, cfg in enumerate(self.params.models):
                learner = replace(ctx.learner, cfg=cfg)
                committee.append((learner, learner.fit(X, codes, member=k)))
            return committee
        jobs = []
        for _ in range(self.params.members):
            rows = bootstrap(codes, ctx.rng)
            jobs.append((ctx.features[labeled[rows]], codes[rows]))
        return [(ctx.learner, member) for member in ctx.learner.fit_many(jobs)]


def bootstrap(codes: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """Row numbers of a bootstrap resample of ``codes`` holding two classes if ``codes`` does.

    Parameters
    ----------
    codes : ndarray of shape (n,)
    rng : numpy.random.Generator

    Returns
    -------
    ndarray of shape (n,)
        Rows drawn with replacement; when the draw holds a single class and ``codes`` more,
        its first row is swapped for a random record of another class (a one-class member
        would be a constant and only dilute the committee).
    """
    n = codes.shape[0]
    rows = rng.integers(0, n, size=n)
    drawn = codes[rows]
    if (drawn == drawn[0]).all():
        others = np.flatnonzero(codes != drawn[0])
        if others.shape[0]:
            rows[0] = others[rng.integers(others.shape[0])]
    return rows


class Consensus:
    """Running sums of K members' class distributions, for the mean KL divergence of each
    member from the committee's mean (the committee's mutual information), added member by
    member so that only one member's distributions are held at a time.

    Parameters
    ----------
    n, n_classes : int
        Records scored, and the width of every member's distribution (columns aligned).
    """

    def __init__(self, n: int, n_classes: int):
        self.total = np.zeros((n, n_classes))
        self.entropy = np.zeros(n)
        self.k = 0

    def add(self, proba: np.ndarray) -> None:
        """One member's distributions, shape (n, n_classes)."""
        self.total += proba
        self.entropy += uncertainty.entropy(proba)
        self.k += 1

    def disagreement(self) -> np.ndarray:
        """(1/K) sum_k KL(p_k || p_mean) = H(p_mean) - (1/K) sum_k H(p_k), shape (n,), >= 0."""
        scores = uncertainty.entropy(self.total / self.k) - self.entropy / self.k
        scores[scores < NOISE] = 0.0
        return scores
