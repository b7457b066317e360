"""The contract every registered strategy keeps. A new strategy is added to the registry and
runs through all of this without a line of new test code.

Each strategy sees a context like the engine builds: a labeled part of a small pool, a model
fit on it (one the strategy accepts), its probabilities for the candidates, and a Learner.
"""

from __future__ import annotations

from dataclasses import replace

import numpy as np
import pytest
from scipy import sparse

from alcli.models import Learner, ModelConfig
from alcli.strategies import STRATEGIES, SelectionContext, Strategy, UnsupportedInput

from .conftest import checkpointed

N_POOL, N_CLASSES, N_FEATURES = 60, 3, 4
# Models tried in turn: each strategy gets the first its check_model accepts.
MODELS = [
    ModelConfig(estimator="sklearn.linear_model.LogisticRegression"),
    ModelConfig(
        estimator="sklearn.ensemble.RandomForestClassifier",
        params={"n_estimators": 8, "max_depth": 3},
    ),
    ModelConfig(estimator="sklearn.discriminant_analysis.LinearDiscriminantAnalysis"),
]


def model_for(strategy: Strategy) -> ModelConfig:
    for cfg in MODELS:
        if strategy.check_model(cfg.build()) is None:
            return cfg
    pytest.fail(f"{strategy.name} accepts none of the contract suite's models")


def pool(seed: int = 123) -> tuple[np.ndarray, np.ndarray]:
    """Three blobs in 4-D and their class codes."""
    rng = np.random.default_rng(seed)
    codes = np.arange(N_POOL) % N_CLASSES
    centres = rng.normal(scale=3.0, size=(N_CLASSES, N_FEATURES))
    return centres[codes] + rng.normal(size=(N_POOL, N_FEATURES)), codes


def context(
    strategy: Strategy,
    labeled: np.ndarray,
    seed: int = 0,
    loop: int = 1,
    features=None,
    flat: bool = False,
) -> SelectionContext:
    """The context of ``loop``: a model fit on ``labeled``, its outputs on the rest."""
    X, codes = pool()
    if features is None:
        features = X
    cfg = model_for(strategy)
    learner = Learner(cfg, seed=7, loop=loop, n_classes=N_CLASSES)
    model = learner.fit(features[labeled], codes[labeled])
    candidates = np.setdiff1d(np.arange(N_POOL), labeled)
    proba = None
    if strategy.needs_proba:
        proba = model.predict_proba(features[candidates])
        if flat:
            proba = np.full_like(proba, 1.0 / proba.shape[1])
    return SelectionContext(
        candidates=candidates,
        proba=proba,
        features=features,
        model=model,
        loop=loop,
        rng=np.random.default_rng(seed),
        labeled=labeled,
        labels=codes[labeled],
        classes=np.arange(N_CLASSES),
        learner=learner,
        seed=seed,
    )


def first(k: int = 20) -> np.ndarray:
    """The first ``k`` records (every class among them) as the labeled set."""
    return np.arange(k)


def pick(strategy: Strategy, ctx: SelectionContext, n: int):
    strategy.observe(ctx)
    return strategy.select(ctx, n)


@pytest.fixture(params=sorted(STRATEGIES))
def name(request) -> str:
    return request.param


def make(name: str) -> Strategy:
    return STRATEGIES[name]()


def test_returns_n_distinct_unlabeled_indices(name):
    strategy = make(name)
    ctx = context(strategy, first())
    selection = pick(strategy, ctx, 7)
    assert selection.indices.shape == (7,)
    assert np.unique(selection.indices).shape == (7,)
    assert np.isin(selection.indices, ctx.candidates).all()
    assert selection.scores.shape == (7,)
    if selection.picked_by is not None:
        assert selection.picked_by.shape == (7,)


def test_scores_come_out_best_first(name):
    strategy = make(name)
    selection = pick(strategy, context(strategy, first()), 10)
    scores = np.where(np.isnan(selection.scores), -np.inf, selection.scores)
    if selection.picked_by is None or len(set(selection.picked_by.tolist())) == 1:
        assert (np.diff(scores) <= 0).all()


def test_deterministic_for_a_seed(name):
    picks = []
    for _ in range(2):
        strategy = make(name)
        picks.append(pick(strategy, context(strategy, first(), seed=5), 9).indices)
    np.testing.assert_array_equal(*picks)


def test_asking_for_more_than_the_pool_returns_every_candidate(name):
    strategy = make(name)
    ctx = context(strategy, first(55))
    selection = pick(strategy, ctx, 50)
    assert sorted(selection.indices.tolist()) == ctx.candidates.tolist()


def test_asking_for_exactly_the_pool_returns_every_candidate(name):
    strategy = make(name)
    ctx = context(strategy, first(50))
    selection = pick(strategy, ctx, 10)
    assert sorted(selection.indices.tolist()) == ctx.candidates.tolist()


def test_one_candidate(name):
    strategy = make(name)
    ctx = context(strategy, first(N_POOL - 1))
    assert pick(strategy, ctx, 3).indices.tolist() == [N_POOL - 1]


def test_zero_requested(name):
    strategy = make(name)
    assert pick(strategy, context(strategy, first()), 0).indices.shape == (0,)


def test_ties_are_broken_by_the_seed_not_by_position(name):
    # Identical candidates and flat probabilities: every record scores the same.
    X, _ = pool()
    features = X.copy()
    features[20:] = features[20]
    picks = set()
    for seed in range(6):
        strategy = make(name)
        ctx = context(strategy, first(), seed=seed, features=features, flat=True)
        picks.add(tuple(sorted(pick(strategy, ctx, 5).indices.tolist())))
    assert len(picks) > 1, "equal scores always gave the same records"
    assert picks != {tuple(range(20, 25))}


def test_sparse_features_work_or_are_refused_clearly(name):
    strategy = make(name)
    X, _ = pool()
    features = sparse.csr_matrix(X)
    try:
        ctx = context(strategy, first(), features=features)
    except (TypeError, ValueError) as exc:  # the model itself refuses sparse input
        pytest.skip(f"the contract model cannot fit sparse features: {exc}")
    if strategy.accepts_sparse:
        selection = pick(strategy, ctx, 5)
        assert np.unique(selection.indices).shape == (5,)
        assert np.isin(selection.indices, ctx.candidates).all()
    else:
        with pytest.raises(UnsupportedInput, match=f"'{strategy.name}'.*dense"):
            pick(strategy, ctx, 5)


def test_stopping_and_resuming_between_any_two_loops_gives_the_same_picks(name):
    """Four loops straight through, against the same loops with the strategy rebuilt from
    its saved state (through an npz round trip, as a checkpoint holds it) after each one."""

    def run(restart_after: int | None) -> list[list[int]]:
        strategy = make(name)
        labeled, picks = first(12), []
        for loop in range(1, 5):
            ctx = context(strategy, labeled, seed=loop, loop=loop)
            selection = pick(strategy, ctx, 4)
            picks.append(selection.indices.tolist())
            labeled = np.concatenate([labeled, selection.indices])
            if loop == restart_after:
                saved = checkpointed(strategy.state())
                strategy = make(name)
                strategy.restore(saved)
        return picks

    straight = run(None)
    for restart_after in (1, 2, 3):
        assert run(restart_after) == straight, f"picks changed after a resume at {restart_after}"


def test_observing_a_loop_twice_changes_nothing(name):
    strategy = make(name)
    ctx = context(strategy, first(), seed=3)
    strategy.observe(ctx)
    once = checkpointed(strategy.state())
    strategy.observe(ctx)
    twice = checkpointed(strategy.state())
    assert once.keys() == twice.keys()
    for key in once:
        np.testing.assert_array_equal(once[key], twice[key])


def test_registered_under_its_own_name_with_docs(name):
    cls = STRATEGIES[name]
    assert cls.name == name
    assert cls.description.strip() and "\n" not in cls.description
    assert "References:" in (cls.__doc__ or ""), f"{name} needs a References line"
    for field_name, field in cls.Params.model_fields.items():
        assert field.description, f"{name}'s parameter {field_name} needs a description"
    assert cls.Params.model_config.get("extra") == "forbid"


def test_proba_free_strategies_ignore_missing_probabilities(name):
    strategy = make(name)
    if strategy.needs_proba:
        pytest.skip("this strategy needs probabilities")
    ctx = replace(context(strategy, first()), proba=None)
    assert pick(strategy, ctx, 4).indices.shape == (4,)


def test_strategies_that_accept_decision_values_work_on_them(name):
    strategy = make(name)
    if not (strategy.needs_proba and strategy.accepts_decision):
        pytest.skip("this strategy does not take decision values")
    ctx = context(strategy, first())
    decision = ctx.model.decision_function(ctx.features[ctx.candidates])
    selection = pick(strategy, replace(ctx, proba=None, decision=decision), 6)
    assert np.unique(selection.indices).shape == (6,)
