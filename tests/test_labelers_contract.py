"""Every registered labeler that can answer without a person, through the same checks.

A new labeler kind must be added to CONFIGS (a config that runs it here) or to PEOPLE (why
it cannot run here); a kind in neither fails the suite.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from sklearn.datasets import load_iris

from alcli.data import DataConfig
from alcli.labelers import (
    LABELER_CONFIGS,
    LABELERS,
    SKIPPED,
    UNANSWERED,
    LabelerContext,
    LabelRequest,
    build_labeler,
)
from tests.conftest import write_csv

X, Y = load_iris(return_X_y=True)
CLASSES = np.array([0, 1, 2])
BATCH = np.array([0, 7, 51, 60, 77, 99, 100, 120, 130, 149, 25, 88])
# Already answered before the labeler is asked: a class, a skip, another class.
ANSWERED = {1: 2, 4: SKIPPED, 9: 0}


def _train_file(folder: Path) -> str:
    header = [f"x{i}" for i in range(X.shape[1])] + ["target"]
    rows = np.arange(0, 150, 4)
    return str(write_csv(folder / "train.csv", header, [[*X[r], Y[r]] for r in rows]))


def _rules_module(folder: Path) -> str:
    """Labeling functions on iris's features (x0..x3 in a request built by hand)."""
    (folder / "contract_rules.py").write_text(
        "def long_petals(record):\n    return 2 if record['x2'] > 5.0 else None\n\n"
        "def short_petals(record):\n    return 0 if record['x2'] < 2.5 else None\n\n"
        "def wide_petals(record):\n    return 1 if 1.0 <= record['x3'] < 1.6 else None\n"
    )
    return str(folder)


# Per kind, a config (given a folder for files) under which it answers without a person.
CONFIGS = {
    "oracle": lambda folder: {"kind": "oracle", "cost": {"per_label": 1.0}},
    "noisy_oracle": lambda folder: {
        "kind": "noisy_oracle",
        "flip_rate": 0.4,
        "cost": {"per_label": 1.0, "per_class": {2: 3.0}},
    },
    "model": lambda folder: {
        "kind": "model",
        "model": {"params": {"max_iter": 300}},
        "train_path": _train_file(folder),
        "threshold": 0.8,
        "cost": {"per_label": 0.1},
        "fallback": {"kind": "noisy_oracle", "flip_rate": 0.4, "cost": {"per_label": 2.0}},
    },
    "rules": lambda folder: {
        "kind": "rules",
        "functions": [
            "contract_rules:long_petals",
            "contract_rules:short_petals",
            "contract_rules:wide_petals",
        ],
        "code_dir": _rules_module(folder),
        "fallback": {"kind": "noisy_oracle", "flip_rate": 0.4, "cost": {"per_label": 2.0}},
    },
}
PEOPLE = {
    "file": "hands the batch to people through files; tested with resume --labels",
    "terminal": "a person types the answers; tested through a pseudo-terminal",
    "label_studio": "people label in a Label Studio server; tested against a real one in "
    "test_label_studio_live.py",
}


@pytest.fixture(params=sorted(LABELERS))
def make(request, tmp_path):
    """Builds the labeler of one registered kind."""
    kind = request.param
    if kind in PEOPLE:
        pytest.skip(f"{kind}: {PEOPLE[kind]}")
    if kind not in CONFIGS:
        pytest.fail(f"labeler '{kind}' has no contract config: add it to CONFIGS or PEOPLE")
    cfg = LABELER_CONFIGS[kind].model_validate(CONFIGS[kind](tmp_path))
    context = LabelerContext(
        truth=Y, classes=CLASSES, data_cfg=DataConfig(source="sklearn:iris"), seed=0
    )
    return lambda: build_labeler(cfg, context)


def ask(labeler, answers=None, seed=0):
    if answers is None:
        answers = np.full(BATCH.shape[0], UNANSWERED, dtype=np.int64)
    req = LabelRequest(
        loop=2,
        indices=BATCH,
        ids=BATCH.astype(str),
        classes=CLASSES,
        answers=answers,
        features=X,
        rng=np.random.default_rng(seed),
    )
    return req, labeler.label(req)


def partly_answered() -> np.ndarray:
    answers = np.full(BATCH.shape[0], UNANSWERED, dtype=np.int64)
    for position, code in ANSWERED.items():
        answers[position] = code
    return answers


def test_fills_exactly_the_open_positions_with_valid_codes(make):
    _, out = ask(make())
    n = BATCH.shape[0]
    assert out.codes.shape == out.labeler.shape == out.cost.shape == (n,)
    assert out.codes.dtype.kind == "i"
    assert np.isin(out.codes, [*range(CLASSES.shape[0]), SKIPPED]).all(), out.codes
    assert (out.labeler != "").all()  # every answer names who gave it
    if out.truth is not None:
        assert out.truth.shape == (n,)


def test_respects_positions_already_answered(make):
    before = partly_answered()
    req, out = ask(make(), answers=before.copy())
    kept = np.array(sorted(ANSWERED))
    assert out.codes[kept].tolist() == before[kept].tolist()
    assert (out.labeler[kept] == "").all() and (out.cost[kept] == 0).all()
    assert (out.codes[req.open] != UNANSWERED).all()
    assert req.answers.tolist() == before.tolist()  # the request itself is not changed


def test_nothing_open_means_nothing_new(make):
    answers = Y[BATCH].copy()
    answers[3] = SKIPPED
    _, out = ask(make(), answers=answers.copy())
    assert out.codes.tolist() == answers.tolist()
    assert (out.cost == 0).all() and (out.labeler == "").all()


def test_costs_are_non_negative_numbers(make):
    _, out = ask(make())
    assert out.cost.dtype.kind == "f" and (out.cost >= 0).all()


def test_answers_are_deterministic_per_rng_seed(make):
    labeler = make()
    _, first = ask(labeler, seed=3)
    _, again = ask(make(), seed=3)  # a labeler built again from the same config, too
    _, same_object = ask(labeler, seed=3)
    for other in (again, same_object):
        assert first.codes.tolist() == other.codes.tolist()
        assert first.labeler.tolist() == other.labeler.tolist()
        assert first.cost.tolist() == other.cost.tolist()
        assert (first.truth is None) == (other.truth is None)
        if first.truth is not None:
            assert first.truth.tolist() == other.truth.tolist()
