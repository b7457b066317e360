"""Behaviour of the strategies that learn across loops (prediction_flips, uncertainty_trend)
and of the look-ahead strategy expected_error_reduction."""

from __future__ import annotations

from dataclasses import dataclass, field
from types import SimpleNamespace

import numpy as np
import pytest

from alcli.models import Learner, ModelConfig
from alcli.strategies import STRATEGIES, SelectionContext
from alcli.strategies.expected_error_reduction import ExpectedErrorReduction
from alcli.strategies.prediction_flips import PredictionFlips
from alcli.strategies.uncertainty_trend import UncertaintyTrend

from .conftest import checkpointed

LOGISTIC = ModelConfig(estimator="sklearn.linear_model.LogisticRegression")


def ctx_of(proba, candidates, loop, n_pool=None, model=None, classes=None, decision=None, seed=0):
    candidates = np.asarray(candidates)
    n_pool = n_pool or int(candidates.max()) + 1
    return SelectionContext(
        candidates=candidates,
        proba=None if proba is None else np.asarray(proba, dtype=float),
        features=np.zeros((n_pool, 2)),
        model=model,
        loop=loop,
        rng=np.random.default_rng(seed),
        decision=None if decision is None else np.asarray(decision, dtype=float),
        classes=np.arange(3) if classes is None else classes,
    )


# --- prediction_flips ----------------------------------------------------------------------

A, B = [0.8, 0.2], [0.3, 0.7]  # predicts column 0, column 1


def test_flips_are_counted_over_a_scripted_sequence():
    strategy = PredictionFlips()
    script = [
        # loop: candidates, their probabilities
        (1, [0, 1, 2, 3], [A, A, B, A]),
        (2, [0, 1, 2, 3], [B, A, A, A]),  # 0 and 2 flip
        (3, [0, 2, 3], [A, B, A]),  # 1 is labeled now; 0 and 2 flip again
        (4, [0, 2, 3], [A, B, B]),  # 3 flips
    ]
    for loop, candidates, proba in script:
        strategy.observe(ctx_of(proba, candidates, loop, n_pool=5))
    state = strategy.state()
    np.testing.assert_array_equal(state["flips"], [2, 0, 2, 1, 0])
    np.testing.assert_array_equal(state["last_class"], [0, 0, 1, 1, -1])
    assert state["flips"].dtype == np.int32 and state["last_class"].dtype == np.int32
    assert int(state["last_loop"]) == 4
    scores = strategy.score(ctx_of([A, B, B], [0, 2, 3], 4, n_pool=5))
    np.testing.assert_array_equal(np.floor(scores), [2, 2, 1])


def test_flips_read_columns_as_the_model_classes():
    # Early loops: the model has seen classes 0 and 2 only, so column 1 is class 2.
    strategy = PredictionFlips()
    early = SimpleNamespace(classes_=np.array([0, 2]))
    full = SimpleNamespace(classes_=np.array([0, 1, 2]))
    strategy.observe(ctx_of([B, A], [0, 1], 1, model=early))
    np.testing.assert_array_equal(strategy.state()["last_class"], [2, 0])
    # Column 2 of the full model is the same class 2: no flip; class 1 for record 1 is one.
    strategy.observe(ctx_of([[0.1, 0.2, 0.7], [0.1, 0.6, 0.3]], [0, 1], 2, model=full))
    np.testing.assert_array_equal(strategy.state()["flips"], [0, 1])


def test_flips_from_decision_values():
    strategy = PredictionFlips()
    model = SimpleNamespace(classes_=np.array([0, 1]))
    strategy.observe(ctx_of(None, [0, 1], 1, model=model, decision=[-1.0, 2.0]))
    strategy.observe(ctx_of(None, [0, 1], 2, model=model, decision=[0.5, 3.0]))
    np.testing.assert_array_equal(strategy.state()["flips"], [1, 0])
    np.testing.assert_array_equal(strategy.state()["last_class"], [1, 1])


def test_without_flips_prediction_flips_picks_as_margin_does():
    rng = np.random.default_rng(4)
    proba = rng.dirichlet(np.ones(3), size=40)
    ctx = ctx_of(proba, np.arange(40), 1)
    strategy = PredictionFlips()
    strategy.observe(ctx)
    ours = strategy.select(ctx, 8).indices
    margin = STRATEGIES["margin"]().select(ctx_of(proba, np.arange(40), 1), 8).indices
    np.testing.assert_array_equal(ours, margin)
    assert ((strategy.score(ctx) > 0) & (strategy.score(ctx) <= 0.5)).all()


# --- uncertainty_trend ---------------------------------------------------------------------


def test_trend_is_the_decay_weighted_mean_of_past_uncertainty():
    first, second, third = [[0.9, 0.1]], [[0.5, 0.5]], [[0.7, 0.3]]
    u = [1 - 0.8, 1 - 0.0, 1 - 0.4]  # margins
    for decay, expected in [
        (0.5, (0.25 * u[0] + 0.5 * u[1] + u[2]) / 1.75),
        (1.0, sum(u) / 3),
    ]:
        strategy = UncertaintyTrend(decay=decay)
        strategy.observe(ctx_of(first, [0], 1))
        # Seen once: its own uncertainty, not shrunk.
        assert strategy.state()["trend"][0] == pytest.approx(u[0])
        strategy.observe(ctx_of(second, [0], 2))
        strategy.observe(ctx_of(third, [0], 3))
        assert strategy.score(ctx_of(third, [0], 3))[0] == pytest.approx(expected)


@pytest.mark.parametrize("kind", ["margin", "entropy", "least_confidence"])
def test_first_loop_trend_is_the_uncertainty_itself(kind):
    proba = np.random.default_rng(1).dirichlet(np.ones(3), size=30)
    ctx = ctx_of(proba, np.arange(30), 1)
    strategy = UncertaintyTrend(uncertainty=kind)
    strategy.observe(ctx)
    direct = STRATEGIES[kind]().score(ctx)
    np.testing.assert_allclose(strategy.score(ctx), direct)


def test_trend_with_entropy_refuses_a_model_without_probabilities():
    from sklearn.svm import LinearSVC

    problem = UncertaintyTrend(uncertainty="entropy").check_model(LinearSVC())
    assert "entropy needs predict_proba" in problem and "LinearSVC" in problem
    assert UncertaintyTrend(uncertainty="margin").check_model(LinearSVC()) is None


# --- both history strategies ---------------------------------------------------------------


def loops_of_probabilities(n_pool: int = 50, n_loops: int = 6, seed: int = 0):
    """Probabilities for a shrinking candidate set over ``n_loops`` loops."""
    rng = np.random.default_rng(seed)
    candidates = np.arange(n_pool)
    for loop in range(1, n_loops + 1):
        yield loop, candidates, rng.dirichlet(np.ones(3) * 0.7, size=candidates.shape[0])
        candidates = np.delete(candidates, rng.choice(candidates.shape[0], 4, replace=False))


HISTORY = [PredictionFlips, UncertaintyTrend]


@pytest.mark.parametrize("cls", HISTORY, ids=lambda c: c.name)
def test_observing_the_same_loop_twice_changes_nothing(cls):
    strategy = cls()
    for loop, candidates, proba in loops_of_probabilities(n_loops=3):
        strategy.observe(ctx_of(proba, candidates, loop, n_pool=50))
    before = {k: v.copy() for k, v in strategy.state().items()}
    strategy.observe(ctx_of(proba[::-1], candidates, loop, n_pool=50))  # a repeat of loop 3
    after = strategy.state()
    assert before.keys() == after.keys()
    for key in before:
        np.testing.assert_array_equal(before[key], after[key])


@pytest.mark.parametrize("cls", HISTORY, ids=lambda c: c.name)
def test_restored_state_continues_exactly_like_the_uninterrupted_run(cls):
    def run(restart_after: int | None) -> list[list[int]]:
        strategy, picks = cls(), []
        for loop, candidates, proba in loops_of_probabilities():
            ctx = ctx_of(proba, candidates, loop, n_pool=50, seed=loop)
            strategy.observe(ctx)
            picks.append(strategy.select(ctx, 5).indices.tolist())
            if loop == restart_after:
                saved = checkpointed(strategy.state())
                strategy = cls()
                strategy.restore(saved)
        return picks

    straight = run(None)
    for restart_after in range(1, 6):
        assert run(restart_after) == straight


@pytest.mark.parametrize("cls", HISTORY, ids=lambda c: c.name)
def test_select_counts_the_current_loop_even_if_observe_was_skipped(cls):
    observed, skipped = cls(), cls()
    for loop, candidates, proba in loops_of_probabilities(n_loops=4):
        ctx = ctx_of(proba, candidates, loop, n_pool=50)
        observed.observe(ctx)
        if loop < 4:
            skipped.observe(ctx)
    np.testing.assert_array_equal(observed.score(ctx), skipped.score(ctx))


@pytest.mark.parametrize("cls", HISTORY, ids=lambda c: c.name)
def test_state_is_one_value_per_pool_record(cls):
    strategy = cls()
    assert strategy.state() == {}
    for loop, candidates, proba in loops_of_probabilities(n_loops=4):
        strategy.observe(ctx_of(proba, candidates, loop, n_pool=50))
    for key, value in strategy.state().items():
        assert value.shape == (() if key == "last_loop" else (50,)), key


# --- expected_error_reduction --------------------------------------------------------------


@dataclass(frozen=True)
class CountingLearner(Learner):
    fits: list = field(default_factory=list)

    def fit_many(self, jobs, members=None):
        self.fits.extend(codes.shape[0] for _, codes in jobs)
        return super().fit_many(jobs, members)


def boundary_problem():
    """Two labeled records per class along x; a tight unlabeled cluster a little on the
    class-1 side; and one lone record far out along y, exactly on the current boundary."""
    rng = np.random.default_rng(0)
    labeled_X = np.array([[-2.0, 0.0], [-2.5, 0.3], [2.0, 0.0], [2.5, -0.3]])
    labels = np.array([0, 0, 1, 1])
    learner = CountingLearner(LOGISTIC, seed=0, loop=1, n_classes=2)
    model = learner.fit(labeled_X, labels)
    (w1, w2), b = model.coef_[0], model.intercept_[0]
    lone = [-(b + w2 * 40.0) / w1, 40.0]
    cluster = np.column_stack([0.6 + 0.1 * rng.normal(size=30), 0.1 * rng.normal(size=30)])
    X = np.vstack([labeled_X, cluster, [lone]])
    candidates = np.arange(4, X.shape[0])
    return SelectionContext(
        candidates=candidates,
        proba=model.predict_proba(X[candidates]),
        features=X,
        model=model,
        loop=1,
        rng=np.random.default_rng(0),
        labeled=np.arange(4),
        labels=labels,
        classes=np.arange(2),
        learner=learner,
    )


@pytest.mark.parametrize("loss", ["log", "zero_one"])
def test_eer_prefers_the_label_that_most_reduces_the_error(loss):
    ctx = boundary_problem()
    lone = ctx.candidates[-1]
    # Margin asks for the lone record: it sits on the boundary...
    assert STRATEGIES["margin"]().select(ctx, 1).indices[0] == lone
    # ...but its label moves the model little where the unlabeled records are.
    scores = ExpectedErrorReduction(loss=loss).score(ctx)
    assert np.argmin(scores) == ctx.candidates.shape[0] - 1
    assert ExpectedErrorReduction(loss=loss).select(ctx, 1).indices[0] != lone


def test_eer_fits_one_model_per_candidate_and_possible_label():
    ctx = boundary_problem()
    ExpectedErrorReduction(candidates=7).score(ctx)
    assert ctx.learner.fits == [5] * (7 * 2)  # 4 labeled + the candidate, two labels each


def test_eer_returns_n_distinct_records_beyond_its_candidates():
    ctx = boundary_problem()
    selection = ExpectedErrorReduction(candidates=5, estimate_on=10).select(ctx, 12)
    assert np.unique(selection.indices).shape == (12,)
    assert np.isin(selection.indices, ctx.candidates).all()
    assert np.isfinite(selection.scores[:5]).all()
    assert np.isneginf(selection.scores[5:]).all()
    every = ExpectedErrorReduction(candidates=5).select(ctx, 100)
    assert sorted(every.indices.tolist()) == ctx.candidates.tolist()
