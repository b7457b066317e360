"""Committee strategies: qbc (a committee it fits itself) and bald (an ensemble's own members)."""

from __future__ import annotations

import json
import re
from dataclasses import dataclass, replace
from pathlib import Path

import numpy as np
import pytest
import yaml
from sklearn.ensemble import BaggingClassifier, RandomForestClassifier
from sklearn.neighbors import KNeighborsClassifier
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler
from sklearn.svm import SVC

from alcli.config import freeze, validate_config
from alcli.errors import ConfigError
from alcli.models import Learner, ModelConfig
from alcli.strategies import SelectionContext, UnsupportedInput, build_strategy
from alcli.strategies.bald import BALD
from alcli.strategies.qbc import QueryByCommittee, bootstrap
from alcli.strategies.uncertainty import entropy

from .conftest import TINY, merge, read_csv

N_CLASSES = 3


# --- contexts ---------------------------------------------------------------------------------


def blobs(n: int = 90, spread: float = 1.0, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """Three blobs in 2-D and their class codes."""
    rng = np.random.default_rng(seed)
    codes = np.arange(n) % N_CLASSES
    centres = np.array([[0.0, 0.0], [4.0, 0.0], [2.0, 3.5]])
    return centres[codes] + rng.normal(scale=spread, size=(n, 2)), codes


def real_context(
    n_labeled: int = 30,
    seed: int = 0,
    model: ModelConfig | None = None,
    fitted=None,
    spread: float = 1.0,
    n_jobs: int = 1,
) -> SelectionContext:
    X, codes = blobs(spread=spread)
    cfg = model or ModelConfig(params={"max_iter": 500})
    learner = Learner(cfg, seed=3, loop=1, n_classes=N_CLASSES, n_jobs=n_jobs)
    labeled = np.arange(n_labeled)
    return SelectionContext(
        candidates=np.arange(n_labeled, X.shape[0]),
        proba=None,
        features=X,
        model=None if fitted is None else fitted.fit(X[labeled], codes[labeled]),
        loop=1,
        rng=np.random.default_rng(seed),
        labeled=labeled,
        labels=codes[labeled],
        classes=np.arange(N_CLASSES),
        learner=learner,
        seed=seed,
    )


@dataclass(frozen=True)
class FixedCommittee:
    """A stand-in Learner whose k-th member votes ``votes[k]`` and predicts ``probas[k]``."""

    votes: np.ndarray  # (K, n_candidates) class codes
    probas: np.ndarray | None = None  # (K, n_candidates, n_classes)
    n_classes: int = N_CLASSES

    def fit_many(self, jobs):
        return list(range(len(jobs)))

    def predict(self, member, X, indices):
        return self.votes[member]

    def proba(self, member, X, indices):
        return self.probas[member]


def fixed_context(learner: FixedCommittee, seed: int = 0) -> SelectionContext:
    n = learner.votes.shape[1]
    return SelectionContext(
        candidates=np.arange(6, 6 + n),
        proba=None,
        features=np.zeros((6 + n, 2)),
        model=None,
        loop=1,
        rng=np.random.default_rng(seed),
        labeled=np.arange(6),
        labels=np.arange(6) % N_CLASSES,
        classes=np.arange(N_CLASSES),
        learner=learner,
    )


# --- qbc: the disagreement measures -----------------------------------------------------------


def test_vote_entropy_is_zero_when_members_agree_and_highest_when_split():
    votes = np.array(
        [
            [0, 1, 2, 0, 0],
            [0, 1, 0, 1, 1],
            [0, 1, 1, 2, 0],
        ]
    )
    scores = QueryByCommittee(members=3).score(fixed_context(FixedCommittee(votes)))
    expected = [0.0, 0.0, np.log(3), np.log(3), -(2 / 3) * np.log(2 / 3) - np.log(1 / 3) / 3]
    np.testing.assert_allclose(scores, expected)
    assert scores[2] == scores[3] == scores.max()


def test_kl_divergence_is_zero_for_identical_members():
    proba = np.random.default_rng(0).dirichlet(np.ones(N_CLASSES), size=8)
    committee = FixedCommittee(np.zeros((4, 8), dtype=int), np.stack([proba] * 4))
    scores = QueryByCommittee(members=4, disagreement="kl_divergence").score(
        fixed_context(committee)
    )
    np.testing.assert_array_equal(scores, np.zeros(8))


def test_kl_divergence_is_the_mean_kl_of_each_member_from_the_mean():
    probas = np.random.default_rng(1).dirichlet(np.ones(N_CLASSES), size=(3, 10))
    committee = FixedCommittee(np.zeros((3, 10), dtype=int), probas)
    scores = QueryByCommittee(members=3, disagreement="kl_divergence").score(
        fixed_context(committee)
    )
    mean = probas.mean(axis=0)
    expected = np.mean([(p * np.log(p / mean)).sum(axis=1) for p in probas], axis=0)
    np.testing.assert_allclose(scores, expected)
    assert (scores > 0).all()


def test_bootstrap_resamples_keep_two_classes():
    codes = np.array([0, 1, 1, 1, 1, 1, 1, 1])
    for seed in range(200):
        rows = bootstrap(codes, np.random.default_rng(seed))
        assert rows.shape == codes.shape
        assert np.unique(codes[rows]).shape[0] >= 2


def test_bootstrap_of_one_class_stays_one_class():
    rows = bootstrap(np.zeros(5, dtype=int), np.random.default_rng(0))
    assert rows.shape == (5,)


# --- qbc: real committees ---------------------------------------------------------------------


@pytest.mark.parametrize("disagreement", ["vote_entropy", "kl_divergence"])
def test_qbc_prefers_records_between_the_classes(disagreement):
    strategy = QueryByCommittee(members=5, disagreement=disagreement)
    ctx = real_context()
    scores = strategy.score(ctx)
    assert scores.shape == ctx.candidates.shape and (scores >= 0).all() and scores.max() > 0
    # Records far from every boundary (deep in their blob) score lower than the top pick.
    centres = np.array([[0.0, 0.0], [4.0, 0.0], [2.0, 3.5]])
    X = ctx.features[ctx.candidates]
    depth = np.min(np.linalg.norm(X[:, None, :] - centres[None], axis=2), axis=1)
    assert scores[np.argmin(depth)] < scores.max()


def test_qbc_with_a_list_of_models_fits_one_member_per_model():
    strategy = QueryByCommittee(
        models=[
            {"estimator": "sklearn.naive_bayes.GaussianNB"},
            {"estimator": "sklearn.tree.DecisionTreeClassifier", "params": {"max_depth": 2}},
        ]
    )
    assert all(isinstance(cfg, ModelConfig) for cfg in strategy.params.models)
    ctx = real_context(spread=2.0)
    committee = strategy.committee(ctx)
    assert [type(member).__name__ for _, member in committee] == [
        "GaussianNB",
        "DecisionTreeClassifier",
    ]
    scores = strategy.score(ctx)
    # Two voters: they agree (0) or split (log 2), and on overlapping blobs they do both.
    assert set(np.round(scores, 12)) == {0.0, round(np.log(2), 12)}
    selection = strategy.select(replace(ctx, rng=np.random.default_rng(0)), 5)
    np.testing.assert_allclose(selection.scores, np.log(2))


def test_qbc_is_deterministic_for_a_seed_and_the_thread_count():
    strategy = QueryByCommittee(members=4, disagreement="kl_divergence")
    first = strategy.select(real_context(seed=5), 10)
    again = strategy.select(real_context(seed=5), 10)
    threaded = strategy.select(real_context(seed=5, n_jobs=2), 10)
    np.testing.assert_array_equal(first.indices, again.indices)
    np.testing.assert_array_equal(first.scores, again.scores)
    np.testing.assert_array_equal(first.indices, threaded.indices)
    np.testing.assert_allclose(first.scores, threaded.scores)
    other = strategy.score(real_context(seed=6))
    assert not np.allclose(other, strategy.score(real_context(seed=5))), "bootstrap ignored rng"


@pytest.mark.parametrize("strategy", [QueryByCommittee(), BALD()], ids=["qbc", "bald"])
def test_until_two_classes_are_labeled_every_candidate_ties_at_zero(strategy):
    ctx = real_context()
    one_class = replace(ctx, labeled=ctx.labeled[::3], labels=ctx.labels[::3], learner=None)
    np.testing.assert_array_equal(strategy.score(one_class), np.zeros(ctx.candidates.shape[0]))


def test_qbc_without_a_learner_says_so():
    with pytest.raises(UnsupportedInput, match="needs a Learner"):
        QueryByCommittee().score(replace(real_context(), learner=None))


# --- bald -------------------------------------------------------------------------------------


def mutual_information(ensemble, members, X) -> np.ndarray:
    """H(the ensemble's own averaged proba) - mean entropy of its members, computed apart."""
    own = entropy(ensemble.predict_proba(X))
    return own - np.mean([entropy(member.predict_proba(X)) for member in members], axis=0)


def test_bald_is_zero_for_identical_members():
    ctx = real_context(fitted=RandomForestClassifier(n_estimators=5, random_state=0), spread=2.0)
    ctx.model.estimators_ = [ctx.model.estimators_[0]] * 5
    np.testing.assert_array_equal(BALD().score(ctx), np.zeros(ctx.candidates.shape[0]))


def test_bald_is_positive_where_forest_members_disagree():
    forest = RandomForestClassifier(n_estimators=20, max_depth=3, random_state=0)
    ctx = real_context(fitted=forest, spread=2.0)
    scores = BALD().score(ctx)
    X = ctx.features[ctx.candidates]
    np.testing.assert_allclose(scores, mutual_information(forest, forest.estimators_, X), atol=1e-9)
    assert (scores >= 0).all() and (scores > 0).any()
    votes = np.stack([tree.predict(X.astype(np.float32)) for tree in forest.estimators_])
    unanimous = (votes == votes[0]).all(axis=0)
    assert scores[~unanimous].min() > 0


def test_bald_aligns_members_that_missed_a_class_and_bagged_features():
    # Tiny bootstrap samples: some members never see a class; each sees one feature of two.
    bagging = BaggingClassifier(
        KNeighborsClassifier(n_neighbors=1),
        n_estimators=12,
        max_samples=3,
        max_features=1,
        random_state=0,
    )
    ctx = real_context(fitted=bagging, spread=2.0)
    assert any(len(member.classes_) < N_CLASSES for member in bagging.estimators_)
    scores = BALD().score(ctx)
    X = ctx.features[ctx.candidates]
    members_h = np.mean(
        [
            entropy(member.predict_proba(X[:, columns]))
            for member, columns in zip(
                bagging.estimators_, bagging.estimators_features_, strict=True
            )
        ],
        axis=0,
    )
    np.testing.assert_allclose(scores, entropy(bagging.predict_proba(X)) - members_h, atol=1e-9)


def test_bald_counts_members_without_probabilities_as_votes():
    bagging = BaggingClassifier(SVC(), n_estimators=6, random_state=0)
    ctx = real_context(fitted=bagging, spread=2.0)
    scores = BALD().score(ctx)
    np.testing.assert_allclose(
        scores, entropy(bagging.predict_proba(ctx.features[ctx.candidates])), atol=1e-9
    )


def test_bald_scores_a_pipeline_ending_in_a_forest_on_transformed_features():
    pipeline = make_pipeline(StandardScaler(), RandomForestClassifier(8, random_state=0))
    ctx = real_context(fitted=pipeline, spread=2.0)
    X = pipeline[:-1].transform(ctx.features[ctx.candidates])
    forest = pipeline[-1]
    np.testing.assert_allclose(
        BALD().score(ctx), mutual_information(forest, forest.estimators_, X), atol=1e-9
    )


def test_bald_chunks_and_threads_give_the_same_scores():
    forest = RandomForestClassifier(n_estimators=6, random_state=0)
    ctx = real_context(fitted=forest, spread=2.0)
    whole = BALD().score(ctx)
    small = replace(ctx, learner=replace(ctx.learner, chunk_size=7, n_jobs=2))
    np.testing.assert_allclose(BALD().score(small), whole)


def test_bald_on_a_model_that_is_no_ensemble_says_what_works():
    ctx = real_context(fitted=KNeighborsClassifier())
    with pytest.raises(UnsupportedInput, match=r"RandomForestClassifier.*strategy: qbc"):
        BALD().score(ctx)


# --- what each strategy refuses ---------------------------------------------------------------

SVC_NO_PROBA = "sklearn.svm.SVC"
CHECKS = [
    ("qbc", {}, SVC_NO_PROBA, None),
    ("qbc", {"disagreement": "kl_divergence"}, "sklearn.linear_model.LogisticRegression", None),
    ("qbc", {"disagreement": "kl_divergence"}, SVC_NO_PROBA, "kl_divergence.*SVC.*vote_entropy"),
    (
        "qbc",
        {
            "disagreement": "kl_divergence",
            "models": [
                {"estimator": "sklearn.naive_bayes.GaussianNB"},
                {"estimator": SVC_NO_PROBA},
            ],
        },
        "sklearn.linear_model.LogisticRegression",
        "models entry 2 \\(SVC\\)",
    ),
    ("bald", {}, "sklearn.ensemble.RandomForestClassifier", None),
    ("bald", {}, "sklearn.ensemble.ExtraTreesClassifier", None),
    ("bald", {}, "sklearn.ensemble.BaggingClassifier", None),
    ("bald", {}, "sklearn.linear_model.LogisticRegression", "LogisticRegression.*qbc"),
    ("bald", {}, "sklearn.ensemble.GradientBoostingClassifier", "RandomForestClassifier, Extra"),
]


@pytest.mark.parametrize(("name", "params", "estimator", "problem"), CHECKS)
def test_check_model(name, params, estimator, problem):
    message = build_strategy(name, params).check_model(ModelConfig(estimator=estimator).build())
    if problem is None:
        assert message is None
    else:
        assert message is not None and "\n" not in message
        assert re.search(problem, message), message


def test_bald_accepts_a_pipeline_ending_in_a_forest_and_refuses_a_one_tree_forest():
    assert BALD().check_model(make_pipeline(StandardScaler(), RandomForestClassifier())) is None
    assert "at least 2" in BALD().check_model(RandomForestClassifier(n_estimators=1))


def config(strategy: dict, **changes) -> dict:
    return merge(TINY, {"strategy": strategy, **changes})


BAD_CONFIGS = [
    (
        {"name": "qbc", "members": 3, "models": [{"estimator": SVC_NO_PROBA}] * 2},
        "either members .* or models",
    ),
    (
        {"name": "qbc", "models": [{"estimator": "sklearn.svm.SVX"}, {}]},
        "models: entry 1 is not a model config .*cannot import 'sklearn.svm.SVX'",
    ),
    ({"name": "qbc", "models": [{"estimator": SVC_NO_PROBA}]}, "models: .*at least 2"),
    ({"name": "qbc", "members": 1}, "members: .*greater than or equal to 2"),
    ({"name": "bald"}, "strategy.name: 'bald' compares the members of an ensemble"),
]


@pytest.mark.parametrize(("strategy", "pattern"), BAD_CONFIGS)
def test_bad_configs_are_refused_with_the_key(strategy, pattern):
    with pytest.raises(ConfigError, match=pattern):
        validate_config(config(strategy), "c.yaml", Path("."))


def test_a_committee_of_models_survives_the_frozen_config():
    models = [
        {"estimator": "sklearn.naive_bayes.GaussianNB"},
        {"estimator": "sklearn.svm.SVC", "params": {"C": 0.5, "probability": True}},
    ]
    cfg = validate_config(
        config({"name": "qbc", "disagreement": "kl_divergence", "models": models}),
        "c.yaml",
        Path("."),
    )
    _, frozen = freeze(cfg)
    assert frozen == cfg
    strategy = frozen.strategy.build()
    assert [m.estimator for m in strategy.params.models] == [m["estimator"] for m in models]
    assert strategy.params.models[1].params == {"C": 0.5, "probability": True}


# --- end to end from YAML ---------------------------------------------------------------------

FOREST = {
    "estimator": "sklearn.ensemble.RandomForestClassifier",
    "params": {"n_estimators": 20, "max_depth": 6},
}
RUNS = [
    (
        "breast_cancer",
        {
            "name": "qbc",
            "disagreement": "vote_entropy",
            "models": [
                {"estimator": "sklearn.naive_bayes.GaussianNB"},
                {"estimator": "sklearn.tree.DecisionTreeClassifier", "params": {"max_depth": 3}},
                {
                    "estimator": "sklearn.linear_model.LogisticRegression",
                    "params": {"max_iter": 5000},
                },
            ],
        },
        None,
    ),
    ("digits", {"name": "qbc", "members": 3, "disagreement": "kl_divergence"}, None),
    ("breast_cancer", {"name": "bald"}, FOREST),
    ("digits", {"name": "bald"}, FOREST),
]


@pytest.mark.parametrize(("dataset", "strategy", "model"), RUNS, ids=lambda v: str(v)[:20])
def test_runs_from_yaml(cli, tmp_path, dataset, strategy, model):
    changes = {
        "name": strategy["name"],
        "data": {"source": f"sklearn:{dataset}", "test_size": 0.3},
        "init": {"size": 20},
        "loop_size": {"size": 10},
        "stop": {"max_loops": 2},
    }
    raw = config(strategy, **changes)
    raw["model"] = model or {"params": {"max_iter": 2000}}
    path = tmp_path / "c.yaml"
    path.write_text(yaml.safe_dump(raw, sort_keys=False))
    run_dir = tmp_path / "run"
    result = cli("run", path, "--run-dir", run_dir, "-q")
    assert result.exit_code == 0, result.output
    assert json.loads((run_dir / "run.json").read_text())["status"] == "completed"
    for loop in ("0001", "0002"):
        picked = read_csv(run_dir / "loops" / loop / "selected.csv")
        assert len(picked) == 10 and {row["strategy"] for row in picked} == {strategy["name"]}
        assert all(float(row["score"]) >= 0 for row in picked)
    frozen = yaml.safe_load((run_dir / "config.yaml").read_text())["strategy"]
    assert contains(frozen, strategy), frozen  # as written, every default filled in


def contains(full, given) -> bool:
    """Whether ``full`` holds everything ``given`` says (dicts may hold more keys)."""
    if isinstance(given, dict):
        return isinstance(full, dict) and all(
            k in full and contains(full[k], v) for k, v in given.items()
        )
    if isinstance(given, list):
        return (
            isinstance(full, list)
            and len(full) == len(given)
            and all(contains(f, g) for f, g in zip(full, given, strict=True))
        )
    return full == given


def test_cli_refuses_bald_on_a_linear_model(cli, tmp_path):
    path = tmp_path / "c.yaml"
    path.write_text(yaml.safe_dump(config({"name": "bald"}), sort_keys=False))
    result = cli("run", path, "--run-dir", tmp_path / "run", "-q")
    assert result.exit_code != 0
    assert "ensemble" in result.output and "qbc" in result.output
    assert not (tmp_path / "run").exists()
