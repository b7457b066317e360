"""Behaviour of the density and diversity strategies (information_density, kcenter, kmeans,
cluster_margin, ranked_batch) and of the blocked distance helpers they share."""

from __future__ import annotations

import numpy as np
import pytest
from scipy import sparse
from scipy.spatial.distance import cdist, pdist
from sklearn.discriminant_analysis import LinearDiscriminantAnalysis
from sklearn.linear_model import LogisticRegression
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler

from alcli.config import load_config
from alcli.errors import ConfigError
from alcli.models import Learner, ModelConfig
from alcli.strategies import SelectionContext, UnsupportedInput, distances
from alcli.strategies.cluster_margin import ClusterMargin, condensed_distances, round_robin
from alcli.strategies.information_density import InformationDensity
from alcli.strategies.kcenter import KCenter
from alcli.strategies.kmeans import KMeansSampling
from alcli.strategies.ranked_batch import RankedBatch


def ctx_for(X, labeled, proba=None, seed=0, **extra) -> SelectionContext:
    labeled = np.asarray(labeled, dtype=np.int64)
    candidates = np.setdiff1d(np.arange(X.shape[0]), labeled)
    if proba is None:
        proba = np.full((candidates.shape[0], 2), 0.5)
    return SelectionContext(
        candidates=candidates,
        proba=proba,
        features=X,
        model=extra.pop("model", None),
        loop=extra.pop("loop", 1),
        rng=np.random.default_rng(seed),
        labeled=labeled,
        **extra,
    )


def blobs(n_blobs: int, per_blob: int, seed: int = 0, spread: float = 0.3, dim: int = 2):
    rng = np.random.default_rng(seed)
    centres = rng.normal(scale=10.0, size=(n_blobs, dim))
    which = np.repeat(np.arange(n_blobs), per_blob)
    return centres[which] + rng.normal(scale=spread, size=(which.shape[0], dim)), which


def naive_kcenter(X, labeled, candidates, n):
    min_d = cdist(X[candidates], X[labeled]).min(axis=1)
    picks = []
    for _ in range(n):
        best = int(np.argmax(min_d))
        picks.append(int(candidates[best]))
        min_d = np.minimum(min_d, cdist(X[candidates], X[[candidates[best]]])[:, 0])
        min_d[best] = -1
    return picks


# --- the shared distance helpers ------------------------------------------------------------


@pytest.mark.parametrize("as_sparse", [False, True])
def test_blocked_min_distances_match_brute_force(as_sparse):
    X = np.random.default_rng(1).normal(size=(50, 3))
    rows, targets = np.arange(5, 50, 2), np.array([0, 3, 7, 9, 44])
    M = sparse.csr_matrix(X) if as_sparse else X
    got = distances.min_sq_distances(M, rows, targets, chunk=4)
    want = cdist(X[rows], X[targets], "sqeuclidean").min(axis=1)
    np.testing.assert_allclose(got, want, atol=1e-9)
    everything = distances.min_sq_distances(M, None, targets, chunk=7)
    want = cdist(X, X[targets], "sqeuclidean").min(axis=1)
    np.testing.assert_allclose(everything, want, atol=1e-9)


def test_folding_labels_in_batches_equals_all_at_once():
    X = np.random.default_rng(2).normal(size=(40, 3))
    labeled = np.array([3, 17, 8, 30, 21])
    folded = distances.LabeledDistances()
    folded.update(X, labeled[:2])
    folded.update(X, labeled)
    folded.update(X, labeled)  # idempotent
    at_once = distances.LabeledDistances().update(X, labeled)
    np.testing.assert_allclose(folded.min_sq, at_once, atol=1e-12)
    assert folded.folded == 5


def test_condensed_distances_match_scipy():
    X = np.random.default_rng(3).normal(size=(30, 4))
    rows = np.arange(1, 30, 2)
    np.testing.assert_allclose(condensed_distances(X, rows), pdist(X[rows]), atol=1e-9)


def test_each_centroid_gets_its_own_nearest_row():
    X = np.array([[0.0, 0.0], [0.1, 0.0], [5.0, 5.0], [5.2, 5.0]])
    centroids = np.array([[0.05, 0.0], [5.1, 5.0], [0.06, 0.0], [100.0, 100.0]])
    nearest, sizes = distances.nearest_to_centroids(X, np.arange(4), centroids)
    picked = nearest[nearest >= 0]
    assert np.unique(picked).shape == picked.shape
    assert sizes.sum() == 4 and nearest[3] == -1


# --- kcenter and ranked_batch ---------------------------------------------------------------


def test_kcenters_first_pick_is_the_candidate_farthest_from_the_labeled_set():
    X = np.random.default_rng(4).normal(size=(80, 5))
    labeled = np.arange(10)
    ctx = ctx_for(X, labeled)
    strategy = KCenter()
    strategy.observe(ctx)
    selection = strategy.select(ctx, 6)
    far = cdist(X[ctx.candidates], X[labeled]).min(axis=1)
    assert selection.indices[0] == ctx.candidates[np.argmax(far)]
    assert selection.scores[0] == pytest.approx(far.max())
    assert selection.indices.tolist() == naive_kcenter(X, labeled, ctx.candidates, 6)
    assert (np.diff(selection.scores) <= 0).all()


def test_kcenter_on_sparse_features_picks_as_on_dense():
    X = np.random.default_rng(5).normal(size=(60, 6))
    X[X < 0.3] = 0.0
    dense = KCenter().select(ctx_for(X, np.arange(8)), 5)
    sparse_pick = KCenter().select(ctx_for(sparse.csr_matrix(X), np.arange(8)), 5)
    assert dense.indices.tolist() == sparse_pick.indices.tolist()


def test_ranked_batch_with_alpha_1_picks_like_kcenter():
    X = np.random.default_rng(6).normal(size=(70, 4))
    proba = np.random.default_rng(7).dirichlet([1, 1, 1], size=60)
    ctx = ctx_for(X, np.arange(10), proba=proba, seed=3)
    kcenter = KCenter().select(ctx, 8)
    ranked = RankedBatch(alpha=1.0).select(ctx_for(X, np.arange(10), proba=proba, seed=3), 8)
    assert ranked.indices.tolist() == kcenter.indices.tolist()


def test_ranked_batch_with_alpha_0_is_uncertainty_sampling():
    X = np.random.default_rng(8).normal(size=(50, 3))
    proba = np.random.default_rng(9).dirichlet([1, 1, 1], size=40)
    selection = RankedBatch(alpha=0.0).select(ctx_for(X, np.arange(10), proba=proba), 5)
    most_uncertain = 10 + np.argsort(proba.max(axis=1))[:5]
    assert sorted(selection.indices.tolist()) == sorted(most_uncertain.tolist())


def test_ranked_batch_default_alpha_balances_by_the_labeled_share():
    # Few labeled records: alpha = 40/50 favours the far record over the uncertain one.
    X = np.zeros((50, 2))
    X[:, 0] = np.arange(50) * 0.01
    X[49] = [10.0, 10.0]  # far, but the model is sure of it
    proba = np.full((40, 2), 0.5)
    proba[-1] = [1.0, 0.0]
    assert RankedBatch().select(ctx_for(X, np.arange(10), proba=proba), 1).indices[0] == 49


# --- kmeans and cluster_margin --------------------------------------------------------------


def test_kmeans_picks_one_record_per_well_separated_blob():
    X, which = blobs(5, 30, seed=10)
    ctx = ctx_for(X, [0, 30], seed=1)
    selection = KMeansSampling().select(ctx, 5)
    assert sorted(which[selection.indices].tolist()) == [0, 1, 2, 3, 4]
    assert (np.diff(selection.scores) <= 0).all()


def test_kmeans_on_a_sample_still_covers_every_blob():
    X, which = blobs(4, 200, seed=11)
    selection = KMeansSampling(sample_factor=5).select(ctx_for(X, [0], seed=2), 4)
    assert sorted(which[selection.indices].tolist()) == [0, 1, 2, 3]


def test_cluster_margin_spreads_its_picks_over_clusters():
    X, which = blobs(3, 20, seed=12)
    labeled = np.array([0, 20, 40])
    candidates = np.setdiff1d(np.arange(60), labeled)
    # Blob 0 holds the most uncertain records: margin alone would take all three from it.
    gap = np.where(which[candidates] == 0, 0.01, 0.2) + 0.001 * np.arange(candidates.shape[0])
    proba = np.stack([(1 + gap) / 2, (1 - gap) / 2], axis=1)
    # candidates_factor 19: all 57 candidates are clustered.
    selection = ClusterMargin(candidates_factor=19).select(ctx_for(X, labeled, proba=proba), 3)
    assert sorted(which[selection.indices].tolist()) == [0, 1, 2]
    assert (np.diff(selection.scores) <= 0).all()


def test_round_robin_takes_the_smallest_cluster_first_and_the_most_uncertain_of_each():
    labels = np.array([0, 0, 1, 0, 2, 2, 1, 0])  # positions in preference order
    # sizes: 0 -> 4, 1 -> 2, 2 -> 2 (1 comes first: its best member is earlier)
    assert round_robin(labels, 5).tolist() == [2, 4, 0, 6, 5]


# --- information_density --------------------------------------------------------------------


def test_information_density_prefers_dense_records_at_equal_uncertainty():
    rng = np.random.default_rng(13)
    dense = rng.normal(scale=0.2, size=(60, 2))
    outliers = rng.uniform(-20, 20, size=(20, 2))
    X = np.vstack([dense, outliers])
    labeled = np.array([0, 60])
    selection = InformationDensity().select(ctx_for(X, labeled), 10)
    assert (selection.indices < 60).all()


def test_information_density_beta_0_is_plain_uncertainty():
    X = np.random.default_rng(14).normal(size=(40, 2))
    proba = np.random.default_rng(15).dirichlet([1, 1], size=38)
    selection = InformationDensity(beta=0).select(ctx_for(X, [0, 1], proba=proba), 4)
    gap = np.abs(proba[:, 0] - proba[:, 1])
    assert sorted(selection.indices.tolist()) == sorted((2 + np.argsort(gap)[:4]).tolist())


def test_information_density_is_cached_and_recomputes_to_the_same_values():
    X = np.random.default_rng(16).normal(size=(300, 3))
    proba = np.random.default_rng(17).dirichlet([1, 1], size=290)
    strategy = InformationDensity(sample=50)
    first = strategy.score(ctx_for(X, np.arange(10), proba=proba, seed=4))
    cached = strategy._density
    strategy.score(ctx_for(X, np.arange(10), proba=proba, seed=4))
    assert strategy._density is cached
    fresh = InformationDensity(sample=50).score(ctx_for(X, np.arange(10), proba=proba, seed=4))
    np.testing.assert_array_equal(first, fresh)


# --- space: model ---------------------------------------------------------------------------


ALL = [InformationDensity, KCenter, KMeansSampling, ClusterMargin, RankedBatch]


@pytest.mark.parametrize("cls", ALL, ids=lambda c: c.name)
def test_space_model_is_refused_for_a_model_without_an_embedding(cls):
    problem = cls(space="model").check_model(LogisticRegression())
    assert "LogisticRegression" in problem and "LinearDiscriminantAnalysis" in problem
    assert "space: features" in problem
    assert cls(space="model").check_model(LinearDiscriminantAnalysis()) is None
    assert (
        cls(space="model").check_model(make_pipeline(StandardScaler(), LogisticRegression()))
        is None
    )
    assert cls().check_model(LogisticRegression()) is None


def test_the_config_refuses_space_model_for_a_model_without_an_embedding(tmp_path):
    path = tmp_path / "c.yaml"
    path.write_text("data: {source: sklearn:iris}\nstrategy: {name: kcenter, space: model}\n")
    with pytest.raises(ConfigError, match="LinearDiscriminantAnalysis"):
        load_config(path)


def lda_context(strategy, seed=0):
    X, which = blobs(3, 40, seed=20, dim=5)
    labeled = np.array([0, 1, 40, 41, 80, 81])
    cfg = ModelConfig(estimator="sklearn.discriminant_analysis.LinearDiscriminantAnalysis")
    learner = Learner(cfg, seed=0, loop=1, n_classes=3)
    model = learner.fit(X[labeled], which[labeled])
    candidates = np.setdiff1d(np.arange(X.shape[0]), labeled)
    proba = model.predict_proba(X[candidates]) if strategy.needs_proba else None
    ctx = ctx_for(
        X,
        labeled,
        proba=proba,
        seed=seed,
        model=model,
        learner=learner,
        labels=which[labeled],
        classes=np.arange(3),
    )
    return ctx, model


@pytest.mark.parametrize("cls", ALL, ids=lambda c: c.name)
def test_space_model_works_with_linear_discriminant_analysis(cls):
    strategy = cls(space="model")
    ctx, _ = lda_context(strategy)
    strategy.observe(ctx)
    selection = strategy.select(ctx, 5)
    assert np.unique(selection.indices).shape == (5,)
    assert np.isin(selection.indices, ctx.candidates).all()


def test_kcenter_in_model_space_measures_in_the_embedding():
    strategy = KCenter(space="model")
    ctx, model = lda_context(strategy)
    E = model.transform(ctx.features)
    selection = strategy.select(ctx, 4)
    assert selection.indices.tolist() == naive_kcenter(E, ctx.labeled, ctx.candidates, 4)
    assert strategy.state() == {}


def test_space_model_without_a_model_is_refused_clearly():
    X = np.random.default_rng(21).normal(size=(20, 2))
    with pytest.raises(UnsupportedInput, match="space: features"):
        KCenter(space="model").select(ctx_for(X, [0, 1]), 2)
