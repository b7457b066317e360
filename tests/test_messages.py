"""Messages in the user's terms: the warnings scikit-learn and numpy raise inside a run's steps
are summarized once per run in alcli's words (never dumped), class names (not codes) in data
messages, and an install without deprecation banners."""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
import tomllib
import warnings
from pathlib import Path

import numpy as np
import pytest
import yaml
from sklearn.datasets import load_iris
from sklearn.exceptions import ConvergenceWarning

from alcli.engine.warned import Caught, estimator_name, first_words
from alcli.reporting.run_report import warning_line, warning_summary
from tests.conftest import write_csv

ROOT = Path(__file__).parents[1]

#: Unscaled digits with 3 iterations: LogisticRegression cannot converge in any loop.
NO_CONVERGENCE = {
    "name": "noconv",
    "seed": 0,
    "data": {"source": "sklearn:digits", "test_size": 0.25},
    "model": {
        "estimator": "sklearn.linear_model.LogisticRegression",
        "params": {"max_iter": 3},
    },
    "init": {"method": "random", "size": 20},
    "strategy": {"name": "margin"},
    "loop_size": {"schedule": "constant", "size": 10},
    "stop": {"max_loops": 3},
}
CONVERGENCE_FIX = (
    "scale the features (data.preprocess, or a StandardScaler step in model.steps) or raise "
    "model.params.max_iter"
)
SUMMARY = re.compile(
    r"^warning: TRAIN: LogisticRegression did not converge in (\d+) of (\d+) fits "
    r"\(ConvergenceWarning\); " + re.escape(CONVERGENCE_FIX) + "$"
)


def alcli(*args: object, cwd: Path) -> subprocess.CompletedProcess:
    """The CLI in a fresh interpreter with Python's default warnings filters (as a user's)."""
    env = {k: v for k, v in os.environ.items() if k != "PYTHONWARNINGS"}
    return subprocess.run(
        [sys.executable, "-m", "alcli", *map(str, args)],
        cwd=cwd,
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
    )


def assert_nothing_dumped(stderr: str) -> None:
    """No warning as Python prints it: ``path.py:599: ConvergenceWarning: ...`` and its
    source line."""
    assert not re.search(r"\.py:\d+: \w*Warning", stderr), stderr
    for marker in ("warnings.warn", "site-packages", "_check_optimize_result", "Traceback"):
        assert marker not in stderr, stderr


def warnings_events(run: Path) -> list[dict]:
    lines = (run / "events.jsonl").read_text().splitlines()
    return [e for e in map(json.loads, lines) if e["event"] == "warnings"]


def write_yaml(path: Path, content: dict) -> Path:
    path.write_text(yaml.safe_dump(content, sort_keys=False))
    return path


# --- a run whose model cannot converge ------------------------------------------------------


def test_a_run_that_cannot_converge_says_so_once_in_alcli_words(tmp_path, cli):
    config = write_yaml(tmp_path / "noconv.yaml", NO_CONVERGENCE)
    run = tmp_path / "run"

    done = alcli("run", config, "--run-dir", run, cwd=tmp_path)

    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == str(run)
    assert_nothing_dumped(done.stderr)
    said = [line for line in done.stderr.splitlines() if line.startswith("warning:")]
    assert len(said) == 1, done.stderr
    assert SUMMARY.match(said[0]).groups() == ("4", "4"), said[0]
    lines = done.stderr.splitlines()
    assert lines.index(said[0]) < next(i for i, x in enumerate(lines) if x.startswith("completed"))

    # events.jsonl: one `warnings` event per loop, with step, category, count, first message.
    events = warnings_events(run)
    assert [e["loop"] for e in events] == [0, 1, 2, 3]
    for event in events:
        (item,) = event["warnings"]
        assert item["step"] == "train"
        assert item["category"] == "ConvergenceWarning"
        assert item["source"] == "LogisticRegression"
        assert item["count"] >= 1
        assert item["message"].startswith("lbfgs failed to converge")
        assert "\n" not in item["message"]

    # The report says it too: a `warnings` list in the JSON summary, a line in the caption.
    result = cli("report", run, "--format", "json")
    assert result.exit_code == 0, result.output
    (entry,) = json.loads(result.stdout)["summary"]["warnings"]
    assert entry["step"] == "train"
    assert entry["category"] == "ConvergenceWarning"
    assert (entry["loops"], entry["of"]) == (4, 4)
    assert entry["count"] == sum(e["warnings"][0]["count"] for e in events)
    assert "warning: " + entry["text"] == said[0]
    table = cli("report", run)
    assert table.exit_code == 0, table.output
    assert "warning: TRAIN: LogisticRegression did not converge in 4 of 4 fits" in table.stdout

    # Extended on resume: the refits that rebuild the last loop warn again, silently (they
    # were counted); the two new loops are summarized.
    more = alcli("resume", run, "--set", "stop.max_loops=5", cwd=tmp_path)
    assert more.returncode == 0, more.stderr
    assert_nothing_dumped(more.stderr)
    said = [line for line in more.stderr.splitlines() if line.startswith("warning:")]
    assert len(said) == 1 and SUMMARY.match(said[0]).groups() == ("2", "2"), more.stderr
    (entry,) = json.loads(cli("report", run, "--format", "json").stdout)["summary"]["warnings"]
    assert (entry["loops"], entry["of"]) == (6, 6)


def test_quiet_prints_no_summary_but_the_run_keeps_it(tmp_path):
    """With -q stderr stays empty (scripts); events.jsonl and `alcli report` keep the count."""
    config = write_yaml(tmp_path / "noconv.yaml", NO_CONVERGENCE)
    run = tmp_path / "run"

    done = alcli("run", config, "--run-dir", run, "-q", cwd=tmp_path)

    assert done.returncode == 0, done.stderr
    assert done.stderr == ""
    assert done.stdout.strip() == str(run)
    assert len(warnings_events(run)) == 4


def test_a_sweep_of_such_runs_dumps_nothing(tmp_path):
    write_yaml(tmp_path / "noconv.yaml", {**NO_CONVERGENCE, "stop": {"max_loops": 1}})
    sweep = write_yaml(
        tmp_path / "sweep.yaml",
        {"name": "noconv", "base": "noconv.yaml", "seeds": 2, "jobs": 2},
    )

    done = alcli("sweep", sweep, "--sweep-dir", tmp_path / "sweep", cwd=tmp_path)

    assert done.returncode == 0, done.stderr
    assert_nothing_dumped(done.stderr)
    assert "ConvergenceWarning" not in done.stderr
    runs = sorted((tmp_path / "sweep" / "runs").rglob("events.jsonl"))
    assert len(runs) >= 2  # the seeds (and the matched random baseline)
    for events in runs:
        assert [e["loop"] for e in warnings_events(events.parent)] == [0, 1]


def test_the_labeling_models_fit_is_counted_once_per_start(tmp_path, cli):
    """A model labeler is fit when the run starts, before any loop: its warnings come as a
    `warnings` event with loop null, and a LABEL line that names labeler.model."""
    iris = load_iris()
    header = [f"f{i}" for i in range(4)] + ["target"]
    rows = [
        [*(x * 1000 for x in row), str(iris.target_names[y])]
        for row, y in zip(iris.data.tolist(), iris.target.tolist(), strict=True)
    ]
    write_csv(tmp_path / "data.csv", header, rows[::2])
    write_csv(tmp_path / "train.csv", header, rows[1::2])
    config = {
        **NO_CONVERGENCE,
        "data": {"path": "data.csv", "test_size": 0.3},
        "model": {"estimator": "sklearn.naive_bayes.GaussianNB"},
        "init": {"method": "random", "size": 9},
        "loop_size": {"schedule": "constant", "size": 5},
        "stop": {"max_loops": 1},
        "labeler": {
            "kind": "model",
            "model": {
                "estimator": "sklearn.linear_model.LogisticRegression",
                "params": {"max_iter": 1},
            },
            "train_path": "train.csv",
            "threshold": 0.01,
        },
    }
    path = write_yaml(tmp_path / "labeler.yaml", config)

    result = cli("run", path, "--run-dir", tmp_path / "run")

    assert result.exit_code == 0, result.output
    (event,) = [e for e in warnings_events(tmp_path / "run") if e["loop"] is None]
    (item,) = event["warnings"]
    assert (item["step"], item["category"], item["key"]) == (
        "label",
        "ConvergenceWarning",
        "labeler.model",
    )
    assert (
        "warning: LABEL: the labeling model LogisticRegression did not converge when it was "
        "fit (ConvergenceWarning); scale the features (data.preprocess, or a StandardScaler "
        "step in labeler.model.steps) or raise labeler.model.params.max_iter"
    ) in result.stderr


# --- the words -------------------------------------------------------------------------------


def entry(step: str, category: str, message: str = "", **fields) -> dict:
    return {
        "step": step,
        "category": category,
        "source": fields.pop("source", "LogisticRegression"),
        "key": fields.pop("key", "model"),
        "message": message,
        "loops": fields.pop("loops", 37),
        "of": fields.pop("of", 40),
        **fields,
    }


@pytest.mark.parametrize(
    ("given", "said"),
    [
        (
            entry("train", "ConvergenceWarning", "lbfgs failed to converge"),
            "TRAIN: LogisticRegression did not converge in 37 of 40 fits (ConvergenceWarning); "
            + CONVERGENCE_FIX,
        ),
        (
            entry("train", "ConvergenceWarning", key="strategy.model", source="SVC"),
            "TRAIN: the selection model SVC did not converge in 37 of 40 fits "
            "(ConvergenceWarning); scale the features (data.preprocess, or a StandardScaler "
            "step in strategy.model.steps) or raise strategy.model.params.max_iter",
        ),
        (
            entry("select", "ConvergenceWarning", source="qbc"),
            "SELECT: the models strategy qbc fits did not converge in 37 of 40 loops "
            "(ConvergenceWarning); " + CONVERGENCE_FIX,
        ),
        (
            entry(
                "infer",
                "UndefinedMetricWarning",
                "Precision is ill-defined and being set to 0.0 in labels with no predicted "
                "samples. Use `zero_division` parameter to control this behavior.",
            ),
            "INFER: Precision was ill-defined in 37 of 40 loops: a class was never predicted "
            "(UndefinedMetricWarning); it counts as 0 there; usual while few labels are in; a "
            "larger init.size (or init.method: kmeans) brings every class in sooner",
        ),
        (
            entry("train", "RuntimeWarning", "overflow encountered in exp"),
            "TRAIN: LogisticRegression overflowed or divided by zero in 37 of 40 fits "
            "(RuntimeWarning: overflow encountered in exp); scale the features "
            "(data.preprocess, or a StandardScaler step in model.steps)",
        ),
        (
            entry(
                "train",
                "UserWarning",
                "The least populated class in y has only 1 members, which is less than n_splits=5.",
                source="LogisticRegressionCV",
            ),
            "TRAIN: LogisticRegressionCV had too few labels of a class in 37 of 40 fits "
            "(UserWarning: The least populated class in y has only 1 members, which is less "
            "than n_splits=5.); usual while few labels are in; a larger init.size (or "
            "init.method: kmeans) brings every class in sooner",
        ),
        (
            entry("train", "FitFailedWarning", "2 fits failed out of a total of 5.", source="X"),
            "TRAIN: fits inside the cross-validation of X failed in 37 of 40 fits "
            "(FitFailedWarning: 2 fits failed out of a total of 5.); those scores count as "
            "NaN; change the parameter values the message names",
        ),
        (
            entry("infer", "FutureWarning", "'x' will change in 1.9", source="SVC"),
            "INFER: SVC predicting warned in 37 of 40 loops (FutureWarning: 'x' will change "
            "in 1.9)",
        ),
        (
            entry("data", "UserWarning", "odd file", key="data", loops=None, of=None, times=2),
            "DATA: reading the data warned 2 times (UserWarning: odd file)",
        ),
    ],
    ids=lambda value: value["category"] + "-" + value["step"] if isinstance(value, dict) else "",
)
def test_each_kind_is_said_with_its_step_how_often_and_the_usual_fix(given, said):
    assert warning_line(given) == said


def test_the_summary_counts_loops_not_repeats():
    """A kind counts once per loop however many events name it (a loop that waited for
    labels has two); TRAIN counts among complete loops, SELECT among every loop begun."""
    train = {"step": "train", "category": "ConvergenceWarning", "source": "M", "key": "model"}
    select = {**train, "step": "select", "source": "qbc"}
    events = [
        {"loop": 0, "warnings": [{**train, "count": 1, "message": "first"}]},
        {"loop": 1, "warnings": [{**select, "count": 2, "message": "a"}]},
        {"loop": 1, "warnings": [{**train, "count": 1, "message": "second"}]},
        {"loop": 2, "warnings": [{**select, "count": 1, "message": "b"}]},  # waits for labels
    ]

    summary = warning_summary(events, loops=[0, 1], begun=[2])

    assert [(e["step"], e["loops"], e["of"], e["count"]) for e in summary] == [
        ("select", 2, 3, 3),
        ("train", 2, 2, 2),
    ]
    assert summary[1]["message"] == "first"


# --- catching --------------------------------------------------------------------------------


def test_a_step_records_its_warnings_instead_of_printing_them(capsys):
    caught = Caught()
    with caught.step("train", key="model") as source:
        warnings.warn(
            "lbfgs failed\nSTOP: LIMIT\n\nIncrease max_iter", ConvergenceWarning, stacklevel=1
        )
        np.exp(np.array([1000.0]))
        source.name = "LogisticRegression"
    with caught.step("infer"):
        pass

    assert capsys.readouterr().err == ""
    assert caught.items() == [
        {
            "step": "train",
            "category": "ConvergenceWarning",
            "source": "LogisticRegression",
            "key": "model",
            "count": 1,
            "message": "lbfgs failed STOP: LIMIT",
        },
        {
            "step": "train",
            "category": "RuntimeWarning",
            "source": "LogisticRegression",
            "key": "model",
            "count": 1,
            "message": "overflow encountered in exp",
        },
    ]


def test_the_users_filters_still_apply_and_nothing_is_swallowed_outside_a_step():
    caught = Caught()
    with warnings.catch_warnings():
        warnings.simplefilter("error", ConvergenceWarning)
        with pytest.raises(ConvergenceWarning), caught.step("train"):
            warnings.warn("did not converge", ConvergenceWarning, stacklevel=1)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        with caught.step("train"):
            warnings.warn("did not converge", ConvergenceWarning, stacklevel=1)
    assert not caught
    with pytest.warns(UserWarning, match="the user's own"):
        warnings.warn("the user's own", UserWarning, stacklevel=1)


def test_helpers_name_the_model_and_keep_the_first_paragraph():
    from sklearn.linear_model import LogisticRegression
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import StandardScaler

    assert estimator_name(LogisticRegression()) == "LogisticRegression"
    assert estimator_name(make_pipeline(StandardScaler(), LogisticRegression())) == (
        "LogisticRegression"
    )
    assert first_words("a\n  b\n\nc") == "a b"
    assert len(first_words("x" * 1000)) == 240


# --- class names, not codes ------------------------------------------------------------------


def test_a_stratified_split_that_cannot_be_made_names_the_classes(tmp_path, cli, write_config):
    rows = [[i, i % 3, "versicolor" if i % 2 else "virginica"] for i in range(20)]
    write_csv(tmp_path / "flowers.csv", ["a", "b", "species"], [*rows, [0.5, 1, "setosa"]])
    config = write_config({"data": {"source": None, "path": "flowers.csv", "target": "species"}})

    result = cli("validate", config)

    assert result.exit_code == 2, result.output
    message = " ".join(result.stderr.split())
    assert "class 'setosa' has 1 record; a stratified split needs at least 2 records" in message
    assert "least populated" not in message
    assert "data.test_path" in message


def test_a_split_with_more_classes_than_test_records_lists_them_capped(tmp_path, cli, write_config):
    rows = [[i, i % 5, f"kind-{i % 8:02d}"] for i in range(40)]
    write_csv(tmp_path / "kinds.csv", ["a", "b", "kind"], rows)
    config = write_config(
        {"data": {"source": None, "path": "kinds.csv", "target": "kind", "test_size": 0.1}}
    )

    result = cli("validate", config)

    assert result.exit_code == 2, result.output
    message = " ".join(result.stderr.split())
    assert (
        "10% of the 40 labeled records is 4 records, fewer than the 8 classes ('kind-00', "
        "'kind-01', 'kind-02', 'kind-03', 'kind-04' and 3 more)"
    ) in message
    assert "raise data.test_size to at least 0.20" in message


def test_many_rare_classes_are_capped(tmp_path, cli, write_config):
    rows = [[i, i, "common"] for i in range(10)] + [[i, i, f"rare-{i}"] for i in range(7)]
    write_csv(tmp_path / "rare.csv", ["a", "b", "label"], rows)
    config = write_config({"data": {"source": None, "path": "rare.csv", "target": "label"}})

    result = cli("validate", config)

    assert result.exit_code == 2, result.output
    message = " ".join(result.stderr.split())
    assert "class 'rare-0' has 1 record, class 'rare-1' has 1 record" in message
    assert "(and 2 more such classes)" in message


# --- the install ------------------------------------------------------------------------------


def test_the_license_is_an_spdx_string_with_a_setuptools_that_takes_it():
    """`license = { text = ... }` makes setuptools print a deprecation banner on every
    install; the SPDX string needs setuptools 77."""
    pyproject = tomllib.loads((ROOT / "pyproject.toml").read_text())
    assert pyproject["project"]["license"] == "MIT"
    (setuptools,) = [r for r in pyproject["build-system"]["requires"] if "setuptools" in r]
    assert re.fullmatch(r"setuptools>=(\d+).*", setuptools)
    assert int(re.fullmatch(r"setuptools>=(\d+).*", setuptools).group(1)) >= 77
