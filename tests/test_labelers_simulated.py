"""The labelers that need no person: the noisy oracle and the model labeler (with chains)."""

from __future__ import annotations

import csv
import json
import re
from pathlib import Path

import joblib
import numpy as np
import pytest
from pydantic import ValidationError
from sklearn.datasets import load_iris
from sklearn.linear_model import LogisticRegression

from alcli.data import DataConfig
from alcli.errors import DataError
from alcli.labelers import (
    SKIPPED,
    UNANSWERED,
    Answers,
    Labeler,
    LabelerContext,
    LabelRequest,
    build_labeler,
)
from alcli.labelers.model import ModelLabelerConfig as ModelLabeler
from alcli.labelers.noisy_oracle import NoisyOracleConfig as NoisyOracleLabeler
from tests.conftest import read_csv, write_csv

X, Y = load_iris(return_X_y=True)
IRIS = np.array([0, 1, 2])
NAMES = np.array(["setosa", "versicolor", "virginica"])  # iris as a CSV with text labels
IRIS_DATA = DataConfig(source="sklearn:iris")
TRAIN_ROWS = np.arange(0, 150, 3)  # a third of iris trains the labeling model


def context(truth=Y, classes=IRIS, data_cfg=IRIS_DATA, seed=0) -> LabelerContext:
    return LabelerContext(truth=np.asarray(truth), classes=classes, data_cfg=data_cfg, seed=seed)


def request(indices, classes=IRIS, answers=None, seed=0, features=X) -> LabelRequest:
    indices = np.asarray(indices, dtype=np.int64)
    if answers is None:
        answers = np.full(indices.shape[0], UNANSWERED, dtype=np.int64)
    return LabelRequest(
        loop=1,
        indices=indices,
        ids=indices,
        classes=classes,
        answers=np.asarray(answers, dtype=np.int64),
        features=features,
        rng=np.random.default_rng(seed),
    )


def noisy(ctx=None, **cfg):
    return build_labeler(
        NoisyOracleLabeler.model_validate({"kind": "noisy_oracle", **cfg}), ctx or context()
    )


def model_labeler(ctx=None, **cfg):
    return build_labeler(ModelLabeler.model_validate({"kind": "model", **cfg}), ctx or context())


def train_csv(path: Path, rows=TRAIN_ROWS, labels=None) -> Path:
    labels = Y[rows] if labels is None else labels
    header = [f"x{i}" for i in range(X.shape[1])] + ["target"]
    return write_csv(path, header, [[*X[r], label] for r, label in zip(rows, labels, strict=True)])


def trained(tmp_path: Path, **cfg) -> dict:
    """A model labeler config trained on a third of iris."""
    return {
        "model": {"params": {"max_iter": 500}},
        "train_path": str(train_csv(tmp_path / "train.csv")),
        **cfg,
    }


# --- noisy oracle -----------------------------------------------------------------------------


def test_flip_rate_zero_is_the_truth():
    answers = noisy(flip_rate=0).label(request(np.arange(150)))
    assert answers.codes.tolist() == Y.tolist()
    assert answers.truth.tolist() == Y.tolist()
    assert set(answers.labeler) == {"noisy_oracle"}


def test_flips_at_the_rate_and_never_to_the_true_class():
    n, n_classes, rate = 20000, 4, 0.25
    truth = np.arange(n) % n_classes
    labeler = noisy(context(truth, np.arange(n_classes)), flip_rate=rate)
    answers = labeler.label(request(np.arange(n), classes=np.arange(n_classes)))
    wrong = answers.codes != truth
    assert abs(wrong.mean() - rate) < 4 * np.sqrt(rate * (1 - rate) / n)
    assert answers.truth.tolist() == truth.tolist()  # the truth is recorded beside the answer
    # A wrong answer is uniform among the other classes: each of 3 gets about a third.
    offsets = (answers.codes[wrong] - truth[wrong]) % n_classes
    shares = np.bincount(offsets, minlength=n_classes)[1:] / wrong.sum()
    assert np.allclose(shares, 1 / 3, atol=0.03), shares


def test_mistakes_are_seeded():
    labeler = noisy(flip_rate=0.4)
    first = labeler.label(request(np.arange(150), seed=7)).codes
    again = labeler.label(request(np.arange(150), seed=7)).codes
    other = labeler.label(request(np.arange(150), seed=8)).codes
    assert first.tolist() == again.tolist()
    assert first.tolist() != other.tolist()


def test_fills_only_open_positions():
    answers_in = np.array([2, SKIPPED, UNANSWERED, UNANSWERED, 0])
    answers = noisy(flip_rate=0).label(request([0, 1, 60, 120, 149], answers=answers_in))
    assert answers.codes.tolist() == [2, SKIPPED, 1, 2, 0]
    assert answers.labeler.tolist() == ["", "", "noisy_oracle", "noisy_oracle", ""]
    assert answers.truth.tolist() == [UNANSWERED, UNANSWERED, 1, 2, UNANSWERED]


def test_confusion_row_moves_only_its_class():
    n = 6000
    truth = np.arange(n) % 3
    labeler = noisy(context(truth), confusion={0: {1: 0.5}, 2: {2: 0.6, 0: 0.4}})
    answers = labeler.label(request(np.arange(n)))
    zeros, ones, twos = (answers.codes[truth == k] for k in range(3))
    assert set(zeros.tolist()) == {0, 1} and abs((zeros == 1).mean() - 0.5) < 0.05
    assert set(ones.tolist()) == {1}  # no row: always right
    assert set(twos.tolist()) == {0, 2} and abs((twos == 0).mean() - 0.4) < 0.05


def test_confusion_leftover_stays_on_the_true_class_and_labels_match_as_text():
    truth = np.arange(3000) % 3
    ctx = context(truth, NAMES)
    labeler = noisy(ctx, confusion={"setosa": {"virginica": 0.2}, "virginica": {"setosa": 1.0}})
    answers = labeler.label(request(np.arange(3000), classes=NAMES))
    setosa = answers.codes[truth == 0]
    assert abs((setosa == 2).mean() - 0.2) < 0.04 and set(setosa.tolist()) == {0, 2}
    assert set(answers.codes[truth == 2].tolist()) == {0}
    # A YAML key 1 names the class 1 of data whose labels were read as text "1".
    labeler = noisy(context(Y, np.array(["0", "1", "2"])), confusion={1: {2: 1.0}})
    assert set(labeler.label(request(np.arange(50, 100))).codes.tolist()) == {2}


@pytest.mark.parametrize(
    ("confusion", "pattern"),
    [
        ({"bird": {"cat": 0.1}}, r"labeler\.confusion\.bird: 'bird' is not a class"),
        ({"setosa": {"sestosa": 0.1}}, r"labeler\.confusion\.setosa\.sestosa: 'sestosa' is not"),
        ({"setosa": {"virginica": 0.1}, "3": {}}, r"'3' is not a class of the data; the classes"),
    ],
    ids=["unknown true class", "unknown given class", "unknown number"],
)
def test_confusion_naming_unknown_classes_is_refused_when_built(confusion, pattern):
    with pytest.raises(DataError, match=pattern) as raised:
        noisy(context(Y, NAMES), confusion=confusion)
    assert "setosa, versicolor, virginica" in str(raised.value)


def test_noisy_oracle_refuses_records_without_a_target():
    truth = Y.copy()
    truth[[3, 9]] = -1
    with pytest.raises(DataError, match=r"2 pool records lack one \(pool positions 3, 9\)"):
        noisy(context(truth), flip_rate=0.1)


@pytest.mark.parametrize(
    ("labeler", "pattern"),
    [
        (
            {"kind": "noisy_oracle", "confusion": {"cat": {"dog": 0.7, "fox": 0.5}}},
            r"labeler\.confusion \(line \d+\): the row of true class 'cat' sums to 1\.2; ",
        ),
        (
            {"kind": "noisy_oracle", "confusion": {"cat": {"dog": 1.5}}},
            r"labeler\.confusion\.cat\.dog \(line \d+\): Input should be less than or equal to 1",
        ),
        (
            {"kind": "noisy_oracle", "flip_rate": 0.2, "confusion": {"cat": {"dog": 0.5}}},
            r"labeler\.flip_rate \(line \d+\): give either flip_rate or confusion, not both",
        ),
        (
            {"kind": "noisy_oracle", "flip_rate": 1.0},
            r"labeler\.flip_rate \(line \d+\): Input should be less than 1",
        ),
        (
            {"kind": "model", "path": "model.joblib"},
            r"labeler\.path \(line \d+\): loading a model file runs code it contains; set "
            r"labeler\.trust: true if you trust .*model\.joblib.*, or use labeler\.model with "
            r"labeler\.train_path",
        ),
        (
            {"kind": "model", "threshold": 0.8},
            r"labeler \(line \d+\): give exactly one of labeler\.path .* or labeler\.model",
        ),
        (
            {"kind": "model", "path": "m.joblib", "trust": True, "model": {}},
            r"give exactly one of labeler\.path",
        ),
        (
            {"kind": "model", "model": {}},
            r"labeler\.train_path \(line \d+\): labeler\.model needs a labeled file",
        ),
        (
            {"kind": "model", "path": "m.joblib", "trust": True, "train_path": "t.csv"},
            r"labeler\.train_path \(line \d+\): it trains labeler\.model, but labeler\.path",
        ),
    ],
    ids=[
        "confusion row over 1",
        "confusion probability over 1",
        "flip_rate and confusion",
        "flip_rate 1",
        "path without trust",
        "neither path nor model",
        "both path and model",
        "model without train_path",
        "train_path with path",
    ],
)
def test_bad_labeler_configs_fail_validate(write_config, cli, labeler, pattern):
    result = cli("validate", write_config({"labeler": labeler}))
    assert result.exit_code == 2, result.output
    assert "Traceback" not in result.output
    assert len(re.findall(pattern, result.output)) == 1, result.output


def test_bad_confusion_in_a_fallback_is_refused_by_the_config():
    raw = {"kind": "model", "model": {}, "train_path": "t.csv"}
    raw["fallback"] = {"kind": "noisy_oracle", "confusion": {"a": {"b": 0.9, "c": 0.2}}}
    with pytest.raises(ValidationError, match=r"the row of true class 'a' sums to 1\.1"):
        ModelLabeler.model_validate(raw)


# --- model labeler ----------------------------------------------------------------------------


def test_threshold_splits_answers_between_model_and_fallback(tmp_path):
    fallback = {"kind": "noisy_oracle", "flip_rate": 0, "cost": {"per_label": 5.0}}
    labeler = model_labeler(
        **trained(tmp_path, threshold=0.9, fallback=fallback, cost={"per_label": 0.1})
    )
    answers = labeler.label(request(np.arange(150)))
    proba = labeler.estimator_.predict_proba(X)
    sure = proba.max(axis=1) >= 0.9
    assert 10 < sure.sum() < 140  # both sides are exercised
    assert (answers.labeler[sure] == "model").all()
    assert (answers.labeler[~sure] == "noisy_oracle").all()
    assert answers.codes[sure].tolist() == proba[sure].argmax(axis=1).tolist()
    assert answers.codes[~sure].tolist() == Y[~sure].tolist()  # ground truth on the rest
    assert np.allclose(answers.cost, np.where(sure, 0.1, 5.0))
    # The fallback's truth is recorded; the model's answers have none to show.
    assert answers.truth[~sure].tolist() == Y[~sure].tolist()
    assert (answers.truth[sure] == UNANSWERED).all()
    assert answers.complete


def test_without_fallback_the_unsure_records_are_skipped(tmp_path):
    labeler = model_labeler(**trained(tmp_path, threshold=0.95, cost={"per_label": 0.5}))
    answers = labeler.label(request(np.arange(150)))
    sure = labeler.estimator_.predict_proba(X).max(axis=1) >= 0.95
    assert (answers.codes[~sure] == SKIPPED).all() and (~sure).any()
    assert (answers.codes[sure] >= 0).all()
    assert set(answers.labeler) == {"model"}
    assert np.allclose(answers.cost, 0.5)  # a skip costs the per-label price too
    assert answers.truth is None


def test_fallback_sees_only_what_the_model_left_open(tmp_path):
    seen = []

    class Person(Labeler):
        kind = "person"

        def label(self, request):
            seen.append(request.open.copy())
            return Answers.start(request)  # answers nothing yet

    labeler = model_labeler(**trained(tmp_path, threshold=0.9))
    labeler.fallback_ = Person(None)
    already = np.full(150, UNANSWERED)
    already[:5] = 1
    answers = labeler.label(request(np.arange(150), answers=already))
    unsure = labeler.estimator_.predict_proba(X).max(axis=1) < 0.9
    unsure[:5] = False
    assert seen[0].tolist() == np.flatnonzero(unsure).tolist()
    assert answers.codes[:5].tolist() == [1] * 5  # already answered: untouched
    assert (answers.codes[unsure] == UNANSWERED).all()  # a person has them: the run waits


def test_trusted_model_file_labels_and_maps_its_classes(tmp_path):
    path = tmp_path / "model.joblib"
    rows = TRAIN_ROWS
    # Fitted on the text labels, a subset of the data's classes.
    keep = Y[rows] != 0
    joblib.dump(LogisticRegression(max_iter=500).fit(X[rows][keep], NAMES[Y[rows][keep]]), path)
    labeler = model_labeler(context(classes=NAMES), path=str(path), trust=True, threshold=0.5)
    assert labeler.codes_.tolist() == [1, 2]
    answers = labeler.label(request(np.arange(50, 150), classes=NAMES))
    assert set(answers.codes.tolist()) <= {1, 2, SKIPPED}
    assert (answers.codes == Y[50:150]).mean() > 0.8


@pytest.mark.parametrize(
    ("make", "pattern"),
    [
        (
            lambda p: joblib.dump(LogisticRegression(max_iter=500).fit(X, Y + 10), p),
            r"labeler\.path \(.*\): 3 labels in its classes_ are not a class of the data: 10, "
            r"11, 12; the data's classes are 0, 1, 2",
        ),
        (
            lambda p: joblib.dump(LogisticRegression().fit(X[:, :2], Y), p),
            r"expects 2 features, but the data has 4",
        ),
        (
            lambda p: joblib.dump({"not": "a model"}, p),
            r"holds a dict without predict_proba or classes_",
        ),
        (lambda p: p.write_text("not a pickle"), r"cannot be loaded as a joblib/pickle file"),
        (lambda p: None, r"labeler\.path: .*model\.joblib: file not found"),
    ],
    ids=["unknown classes", "other features", "not a model", "not a pickle", "missing file"],
)
def test_bad_model_files_are_refused(tmp_path, make, pattern):
    path = tmp_path / "model.joblib"
    make(path)
    with pytest.raises(DataError, match=pattern):
        model_labeler(path=str(path), trust=True).label(request(np.arange(10)))


def test_a_model_file_is_not_loaded_without_trust(tmp_path):
    # The config refuses it; a labeler built from an unchecked config must not load either.
    cfg = ModelLabeler.model_construct(kind="model", path=tmp_path / "m.joblib", trust=False)
    with pytest.raises(DataError, match="loading a model file runs code"):
        build_labeler(cfg, context())


def test_training_file_with_text_labels_matches_the_data_classes(tmp_path):
    path = train_csv(tmp_path / "train.csv", labels=NAMES[Y[TRAIN_ROWS]])
    labeler = model_labeler(
        context(classes=NAMES), model={"params": {"max_iter": 500}}, train_path=str(path)
    )
    answers = labeler.label(request(np.arange(150), classes=NAMES))
    labeled = answers.codes >= 0
    assert (answers.codes[labeled] == Y[labeled]).mean() > 0.9


@pytest.mark.parametrize(
    ("labels", "pattern"),
    [
        (
            lambda y: np.where(y == 2, "bird", NAMES[y]),
            r"labeler\.train_path: .*train\.csv: 1 label in its labels is not a class of the "
            r"data: bird; the data's classes are setosa, versicolor, virginica",
        ),
        (
            lambda y: np.where(np.arange(y.shape[0]) < 2, "", NAMES[y]),
            r"must be labeled, but 2 records lack a target \(ids 0, 1\)",
        ),
        (lambda y: np.full(y.shape[0], "setosa"), r"it holds only the class setosa"),
    ],
    ids=["unknown label", "unlabeled rows", "one class"],
)
def test_bad_training_files_are_refused_when_built(tmp_path, labels, pattern):
    path = train_csv(tmp_path / "train.csv", labels=labels(Y[TRAIN_ROWS]))
    with pytest.raises(DataError, match=pattern):
        model_labeler(context(classes=NAMES), model={}, train_path=str(path))


def test_training_is_seeded_from_the_run_seed(tmp_path):
    cfg = trained(tmp_path, model={"estimator": "sklearn.ensemble.RandomForestClassifier"})
    cfg["model"]["params"] = {"n_estimators": 5}
    first = model_labeler(context(seed=1), **cfg).estimator_.predict_proba(X)
    again = model_labeler(context(seed=1), **cfg).estimator_.predict_proba(X)
    other = model_labeler(context(seed=2), **cfg).estimator_.predict_proba(X)
    assert np.array_equal(first, again) and not np.array_equal(first, other)


def test_model_chains_nest(tmp_path):
    inner = trained(tmp_path, threshold=0.6, cost={"per_label": 1.0})
    inner["fallback"] = {"kind": "noisy_oracle", "flip_rate": 0, "cost": {"per_label": 9.0}}
    labeler = model_labeler(
        **trained(tmp_path, threshold=0.99, fallback={"kind": "model", **inner})
    )
    answers = labeler.label(request(np.arange(150)))
    assert answers.complete
    assert set(answers.labeler) == {"model", "noisy_oracle"}
    assert labeler.needs_truth and not labeler.may_wait
    by_oracle = answers.labeler == "noisy_oracle"
    assert answers.codes[by_oracle].tolist() == Y[by_oracle].tolist()
    assert np.allclose(answers.cost[by_oracle], 9.0)


# --- through the CLI --------------------------------------------------------------------------


def run(cli, config: Path, run_dir: Path) -> Path:
    result = cli("run", config, "--run-dir", run_dir, "--quiet")
    assert result.exit_code == 0, result.output
    return run_dir


def loop_labels(run_dir: Path) -> list[list[dict]]:
    return [read_csv(d / "labels.csv") for d in sorted((run_dir / "loops").iterdir())]


def test_noisy_oracle_run_records_both_labels_and_counts_the_mistakes(cli, write_config, tmp_path):
    labeler = {"kind": "noisy_oracle", "flip_rate": 0.3}
    run_dir = run(cli, write_config({"labeler": labeler}), tmp_path / "noisy")
    rows = [row for loop in loop_labels(run_dir) for row in loop]
    assert all(row["labeler"] == "noisy_oracle" for row in rows)
    wrong = sum(row["label"] != row["true_label"] for row in rows)
    assert 0 < wrong < len(rows)
    counted = sum(int(row["label_errors"]) for row in read_csv(run_dir / "metrics.csv"))
    assert counted == wrong


def test_noisy_oracle_without_noise_runs_as_the_oracle(cli, write_config, tmp_path):
    oracle = run(cli, write_config(), tmp_path / "oracle")
    exact = run(
        cli, write_config({"labeler": {"kind": "noisy_oracle", "flip_rate": 0}}), tmp_path / "n"
    )
    answers = [[(r["id"], r["label"]) for r in loop] for loop in loop_labels(oracle)]
    assert answers == [[(r["id"], r["label"]) for r in loop] for loop in loop_labels(exact)]


def test_model_then_noisy_oracle_run_records_who_labeled_and_what_it_cost(
    cli, write_config, tmp_path
):
    labeler = trained(
        tmp_path,
        threshold=0.9,
        cost={"per_label": 0.1},
        fallback={"kind": "noisy_oracle", "flip_rate": 0, "cost": {"per_label": 2.0}},
    )
    run_dir = run(cli, write_config({"labeler": {"kind": "model", **labeler}}), tmp_path / "m")
    rows = [row for loop in loop_labels(run_dir) for row in loop]
    assert {row["labeler"] for row in rows} == {"model", "noisy_oracle"}
    for row in rows:
        assert float(row["cost"]) == (0.1 if row["labeler"] == "model" else 2.0)
    total = sum(float(row["cost"]) for row in read_csv(run_dir / "metrics.csv"))
    assert total == pytest.approx(sum(float(row["cost"]) for row in rows))


def test_a_chain_counts_mistakes_only_where_the_truth_is_known(cli, write_config, tmp_path):
    labeler = trained(tmp_path, threshold=0.9, fallback={"kind": "noisy_oracle", "flip_rate": 0})
    run_dir = run(cli, write_config({"labeler": {"kind": "model", **labeler}}), tmp_path / "m")
    rows = [row for loop in loop_labels(run_dir) for row in loop]
    by_oracle = [row for row in rows if row["labeler"] == "noisy_oracle"]
    assert all(row["label"] == row["true_label"] for row in by_oracle)
    assert sum(int(row["label_errors"]) for row in read_csv(run_dir / "metrics.csv")) == 0


def test_a_confusion_naming_no_class_is_refused_before_anything_is_written(
    cli, write_config, tmp_path
):
    labeler = {"kind": "noisy_oracle", "confusion": {"cat": {"dog": 0.5}}}
    result = cli("run", write_config({"labeler": labeler}), "--run-dir", tmp_path / "r")
    assert result.exit_code == 2
    assert "labeler.confusion.cat: 'cat' is not a class of the data; the classes are 0, 1, 2" in (
        result.output
    )
    assert not (tmp_path / "r").exists()


def test_model_then_people_waits_only_for_what_the_model_left(cli, write_config, tmp_path):
    labeler = trained(tmp_path, threshold=0.9, fallback={"kind": "file"})
    config = write_config({"labeler": {"kind": "model", **labeler}, "stop": {"max_loops": 1}})
    run_dir = tmp_path / "chain"
    result = cli("run", config, "--run-dir", run_dir, "--quiet")
    assert result.exit_code == 0, result.output
    assert json.loads((run_dir / "run.json").read_text())["status"] == "awaiting_labels"
    with (run_dir / "pending" / "loop-0000" / "to_label.csv").open(encoding="utf-8-sig") as f:
        waiting = list(csv.DictReader(f))  # with a byte-order mark, for Excel
    assert 0 < len(waiting) < 10  # init.size 10: the model answered the rest
    answers = write_csv(
        tmp_path / "answers.csv", ["id", "label"], [[r["id"], Y[int(r["id"])]] for r in waiting]
    )
    result = cli("resume", run_dir, "--labels", answers, "--quiet")
    assert result.exit_code == 0, result.output
    loop0 = read_csv(run_dir / "loops" / "0000" / "labels.csv")
    assert {r["labeler"] for r in loop0} == {"model", "file"}
    assert sorted(r["id"] for r in loop0 if r["labeler"] == "file") == sorted(
        r["id"] for r in waiting
    )
