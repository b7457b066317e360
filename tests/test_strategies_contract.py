"""The contract every registered strategy keeps. A new strategy is added to the registry and
runs through all of this without a line of new test code."""

from __future__ import annotations

import numpy as np
import pytest

from alcli.strategies import STRATEGIES, SelectionContext, build_strategy

N_POOL, N_CLASSES = 60, 3


def context(candidates: np.ndarray, seed: int = 0, proba: np.ndarray | None = None):
    data_rng = np.random.default_rng(123)
    if proba is None:
        proba = data_rng.dirichlet(np.ones(N_CLASSES), size=candidates.shape[0])
    return SelectionContext(
        candidates=candidates,
        proba=proba,
        features=data_rng.normal(size=(N_POOL, 4)),
        model=None,
        loop=1,
        rng=np.random.default_rng(seed),
    )


def unlabeled(labeled: int = 20) -> np.ndarray:
    return np.arange(labeled, N_POOL)


@pytest.fixture(params=sorted(STRATEGIES))
def strategy(request):
    return build_strategy(request.param, {})


def test_returns_n_distinct_unlabeled_indices(strategy):
    candidates = unlabeled()
    selection = strategy.select(context(candidates), 7)
    assert selection.indices.shape == (7,)
    assert np.unique(selection.indices).shape == (7,)
    assert np.isin(selection.indices, candidates).all()
    assert selection.scores.shape == (7,)


def test_scores_come_out_best_first(strategy):
    selection = strategy.select(context(unlabeled()), 10)
    assert (np.diff(selection.scores) <= 0).all()


def test_deterministic_for_a_seed(strategy):
    first = strategy.select(context(unlabeled(), seed=5), 9)
    again = strategy.select(context(unlabeled(), seed=5), 9)
    np.testing.assert_array_equal(first.indices, again.indices)


def test_asking_for_more_than_the_pool_returns_every_candidate(strategy):
    candidates = unlabeled(labeled=55)
    selection = strategy.select(context(candidates), 50)
    assert sorted(selection.indices.tolist()) == candidates.tolist()


def test_one_candidate(strategy):
    selection = strategy.select(context(np.array([42])), 3)
    assert selection.indices.tolist() == [42]


def test_zero_requested(strategy):
    assert strategy.select(context(unlabeled()), 0).indices.shape == (0,)


def test_ties_are_broken_by_the_seed_not_by_position(strategy):
    candidates = unlabeled()
    flat = np.full((candidates.shape[0], N_CLASSES), 1.0 / N_CLASSES)
    picks = {
        tuple(sorted(strategy.select(context(candidates, seed, flat), 5).indices.tolist()))
        for seed in range(6)
    }
    assert len(picks) > 1, "equal scores always gave the same records"
    lowest = tuple(candidates[:5].tolist())
    assert picks != {lowest}


def test_registered_under_its_own_name_with_docs(strategy):
    cls = type(strategy)
    assert STRATEGIES[cls.name] is cls
    assert cls.description.strip()
    assert "References:" in (cls.__doc__ or ""), f"{cls.name} needs a References line"


def test_proba_free_strategies_ignore_missing_probabilities(strategy):
    if strategy.needs_proba:
        pytest.skip("this strategy needs probabilities")
    candidates = unlabeled()
    ctx = context(candidates)
    ctx = SelectionContext(candidates, None, ctx.features, None, 1, np.random.default_rng(0))
    assert strategy.select(ctx, 4).indices.shape == (4,)
