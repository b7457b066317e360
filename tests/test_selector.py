"""Properties of the shared selector and of the uncertainty measures."""

from __future__ import annotations

import numpy as np
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra.numpy import arrays

from alcli.strategies import select_top
from alcli.strategies.uncertainty import entropy, least_confidence, margin

scores_arrays = arrays(
    np.float64,
    st.integers(1, 200),
    elements=st.one_of(st.floats(-1e6, 1e6), st.just(np.nan), st.sampled_from([0.0, 1.0])),
)


@given(scores=scores_arrays, n=st.integers(0, 250), seed=st.integers(0, 2**32 - 1))
@settings(max_examples=200, deadline=None)
def test_selector_returns_the_n_best_distinct_candidates(scores, n, seed):
    candidates = np.arange(1000, 1000 + scores.shape[0]) * 3
    selection = select_top(scores, candidates, n, np.random.default_rng(seed))
    k = min(n, scores.shape[0])
    assert selection.indices.shape == (k,)
    assert np.unique(selection.indices).shape == (k,)
    assert np.isin(selection.indices, candidates).all()
    ranked = np.where(np.isnan(scores), -np.inf, scores)
    chosen = np.isin(candidates, selection.indices)
    if 0 < k < scores.shape[0]:
        assert ranked[chosen].min() >= ranked[~chosen].max()


def test_selector_rejects_scores_of_the_wrong_length():
    try:
        select_top(np.zeros(3), np.arange(4), 2, np.random.default_rng(0))
    except ValueError as exc:
        assert "3 scores for 4 candidates" in str(exc)
    else:
        raise AssertionError("expected a ValueError")


probabilities = (
    st.integers(2, 6)
    .flatmap(lambda k: arrays(np.float64, (5, k), elements=st.floats(0.001, 1.0)))
    .map(lambda a: a / a.sum(axis=1, keepdims=True))
)


@given(proba=probabilities, seed=st.integers(0, 1000))
@settings(max_examples=100, deadline=None)
def test_uncertainty_is_invariant_to_the_order_of_classes(proba, seed):
    permuted = proba[:, np.random.default_rng(seed).permutation(proba.shape[1])]
    for measure in (least_confidence, margin, entropy):
        np.testing.assert_allclose(measure(proba), measure(permuted), atol=1e-12)


def test_uncertainty_ranks_a_coin_flip_above_a_sure_thing():
    proba = np.array([[0.5, 0.5, 0.0], [0.98, 0.01, 0.01]])
    for measure in (least_confidence, margin, entropy):
        scores = measure(proba)
        assert scores[0] > scores[1]


def test_single_column_probabilities_from_a_one_class_model():
    proba = np.ones((4, 1))
    for measure in (least_confidence, margin, entropy):
        np.testing.assert_allclose(measure(proba), 0.0)
