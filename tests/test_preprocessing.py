"""Preprocessing by column kind: kinds inferred from the values (or declared, and checked
against them), each kind turned into numbers the same way for pool and test, and a CSV with
text, category and date columns run end to end through the CLI."""

from __future__ import annotations

import json
import re
from pathlib import Path

import numpy as np
import pytest
import scipy.sparse as sp

from alcli.data.preprocessing import (
    PreprocessConfig,
    build_preprocessor,
    column_kinds,
    fit_transform,
    infer_kind,
)
from alcli.errors import DataError


def cells(*values: str) -> np.ndarray:
    return np.array(values, dtype=str)


@pytest.mark.parametrize(
    ("values", "kind"),
    [
        (("1", "2.5", "", "-3e2"), "numeric"),
        (("2026-01-02", "2025/12/31", "2026-03-04 10:30"), "date"),
        (("email", "chat", "email", "phone", "chat", "email"), "categorical"),
        (("my parcel has not arrived", "the app keeps crashing", "refund please now"), "text"),
        # Many distinct short values are text too (names, titles), not a huge one-hot.
        (tuple(f"name{i}" for i in range(200)), "text"),
    ],
)
def test_kinds_are_inferred_from_the_values(values, kind):
    assert infer_kind(cells(*values)) == kind


def test_a_declared_kind_wins_and_is_checked_against_the_values():
    table = np.array([["1", "a"], ["2", "b"], ["3", "a"]], dtype=str)
    kinds = column_kinds(["n", "c"], table, {"n": "categorical"}, "data.csv")
    assert kinds == {"n": "categorical", "c": "categorical"}
    with pytest.raises(DataError, match="column 'c': declared numeric, but 'a' is not a number"):
        column_kinds(["n", "c"], table, {"c": "numeric"}, "data.csv")
    with pytest.raises(DataError, match="names nope, not a feature column"):
        column_kinds(["n", "c"], table, {"nope": "text"}, "data.csv")


def test_an_empty_column_and_a_text_column_with_no_text_are_refused():
    with pytest.raises(DataError, match="column 'e': every cell is empty"):
        column_kinds(["e"], np.array([[""], [""]], dtype=str), {}, "data.csv")
    with pytest.raises(DataError, match="declared a date, but 'soon' is not one"):
        column_kinds(["d"], np.array([["2026-01-01"], ["soon"]], dtype=str), {"d": "date"}, "x")


def test_pool_and_test_are_transformed_alike_and_unseen_categories_are_handled():
    names = ["n", "c", "t", "d"]
    pool = np.array(
        [
            ["1", "red", "the cat sat", "2026-01-01"],
            ["", "blue", "a dog ran", "2026-02-01"],
            ["3", "red", "the dog sat", ""],
            ["4", "green", "a cat ran", "2026-03-15"],
        ],
        dtype=str,
    )
    test = np.array([["2", "purple", "a bird flew", "2026-01-05"]], dtype=str)
    kinds = {"n": "numeric", "c": "categorical", "t": "text", "d": "date"}
    preprocessor = build_preprocessor(names, kinds, PreprocessConfig())
    X, X_test = fit_transform(preprocessor, pool, test)
    assert sp.isspmatrix_csr(X) and X.dtype == np.float64
    assert X.shape[1] == X_test.shape[1] and X_test.shape[0] == 1
    assert np.isfinite(X.toarray()).all() and np.isfinite(X_test.toarray()).all()
    # The same data and config give the same numbers: what resume recomputes.
    again, _ = fit_transform(build_preprocessor(names, kinds, PreprocessConfig()), pool, test)
    assert (again != X).nnz == 0


def test_numbers_only_stay_dense_and_are_scaled():
    pool = np.array([["1", "10"], ["2", "20"], ["3", ""]], dtype=str)
    kinds = {"a": "numeric", "b": "numeric"}
    X, _ = fit_transform(build_preprocessor(["a", "b"], kinds, PreprocessConfig()), pool, pool[:0])
    assert isinstance(X, np.ndarray)
    assert np.allclose(X.mean(axis=0), 0) and np.allclose(X[:, 0].std(), 1)


def test_dates_as_components():
    from alcli.data.preprocessing import _date_components

    parts = _date_components(np.array([["2026-11-30 06:00"], [""]], dtype=str))
    assert parts[0].tolist() == [2026, 11, 30, 0, 334, 6.0]  # a Monday, day 334
    assert np.isnan(parts[1]).all()


# --- through the CLI, as a user would -------------------------------------------------------

TICKETS = Path(__file__).parents[1] / "configs" / "data" / "tickets.csv"


@pytest.fixture
def tickets(tmp_path) -> Path:
    """The first 400 tickets: text, a category, a date, a label."""
    lines = TICKETS.read_text().splitlines(keepends=True)
    path = tmp_path / "tickets.csv"
    path.write_text("".join(lines[:401]))
    return path


def ticket_config(write_config, tickets: Path, **data) -> Path:
    return write_config(
        {
            "data": {"source": None, "path": str(tickets), "target": "label", **data},
            "model": {"params": {"max_iter": 500}},
            "init": {"size": 20},
            "loop_size": {"size": 10},
        }
    )


def test_a_csv_with_text_runs_end_to_end(cli, write_config, tickets, tmp_path):
    config = ticket_config(write_config, tickets)
    validated = cli("validate", config)
    assert validated.exit_code == 0, validated.output
    for column, kind in (("text", "text"), ("channel", "categorical"), ("opened", "date")):
        assert re.search(rf"{column}\s*│\s*{kind}\s*│", validated.output), validated.output
    run = tmp_path / "run"
    result = cli("run", config, "--run-dir", run, "-q")
    assert result.exit_code == 0, result.output
    # Resume recomputes the same features: the fingerprint matches, the run goes on.
    assert cli("resume", run, "--set", "stop.max_loops=4", "-q").exit_code == 0
    assert len(list((run / "loops").iterdir())) == 5


def test_people_see_the_text_of_the_records_they_label(cli, write_config, tickets, tmp_path):
    config = ticket_config(write_config, tickets)
    config.write_text(config.read_text() + "labeler: {kind: file}\n")
    run = tmp_path / "run"
    result = cli("run", config, "--run-dir", run)
    assert result.exit_code == 0, result.output
    sheet = next((run / "pending").glob("*/to_label.csv")).read_text()
    header = sheet.splitlines()[0]
    assert "text" in header and "channel" in header
    assert any(word in sheet for word in ("parcel", "invoice", "password", "app"))


def test_a_declared_kind_that_does_not_fit_is_one_message(cli, write_config, tickets):
    config = ticket_config(write_config, tickets, preprocess={"columns": {"channel": "numeric"}})
    result = cli("validate", config)
    assert result.exit_code == 2
    assert "column 'channel': declared numeric, but" in result.output
    assert "Traceback" not in result.output


def test_preprocess_none_refuses_text_with_the_fix(cli, write_config, tickets):
    result = cli("validate", ticket_config(write_config, tickets, preprocess="none"))
    assert result.exit_code == 2
    assert "is not a number" in result.output and "data.preprocess: auto" in result.output


def test_a_model_that_needs_dense_features_is_refused_up_front(cli, write_config, tickets):
    config = ticket_config(write_config, tickets)
    text = config.read_text().replace(
        "sklearn.linear_model.LogisticRegression", "sklearn.ensemble.HistGradientBoostingClassifier"
    )
    config.write_text(text.replace("max_iter: 500", "max_iter: 20"))
    result = cli("validate", config)
    assert result.exit_code == 2, result.output
    assert "needs dense features" in result.output and "LogisticRegression" in result.output


def test_numeric_data_is_untouched_by_default_and_scaled_on_request(cli, write_config, tmp_path):
    plain = cli("run", write_config(), "--run-dir", tmp_path / "a", "-q")
    again = cli(
        "run", write_config({"data": {"preprocess": "auto"}}), "--run-dir", tmp_path / "b", "-q"
    )
    assert plain.exit_code == again.exit_code == 0
    fingerprint = [json.loads((tmp_path / r / "run.json").read_text()) for r in "ab"]
    assert fingerprint[0]["data_fingerprint"] == fingerprint[1]["data_fingerprint"]


def test_every_kind_with_missing_values_runs_from_yaml_without_editing_the_file(
    cli, write_config, tmp_path
):
    """Numbers, a category, a date and text, each with gaps, as a spreadsheet exports them."""
    rng = np.random.default_rng(0)
    topics = {"billing": "my invoice shows the wrong amount", "shipping": "my parcel is late"}
    lines = ["id,amount,channel,opened,text,label"]
    for i in range(240):
        label = "billing" if i % 2 else "shipping"
        amount = "" if i % 7 == 0 else f"{rng.normal(50 if label == 'billing' else 20, 5):.2f}"
        channel = "" if i % 11 == 0 else str(rng.choice(["email", "chat", "phone"]))
        opened = "" if i % 13 == 0 else f"2026-{1 + i % 12:02d}-{1 + i % 28:02d}"
        text = "" if i % 17 == 0 else topics[label] + " " + str(rng.choice(["please", "today"]))
        lines.append(f"r{i},{amount},{channel},{opened},{text},{label}")
    data = tmp_path / "mixed.csv"
    data.write_text("\n".join(lines) + "\n")
    config = write_config(
        {"data": {"source": None, "path": str(data), "target": "label"}, "init": {"size": 10}}
    )
    validated = cli("validate", config)
    assert validated.exit_code == 0, validated.output
    for column, kind in (
        ("amount", "numeric"),
        ("channel", "categorical"),
        ("opened", "date"),
        ("text", "text"),
    ):
        assert re.search(rf"{column}\s*│\s*{kind}\s*│", validated.output), validated.output
    result = cli("run", config, "--run-dir", tmp_path / "run", "-q")
    assert result.exit_code == 0, result.output


def test_preprocessing_parameters_the_transformer_refuses_name_the_key(cli, write_config, tickets):
    config = ticket_config(write_config, tickets, preprocess={"text": {"min_df": 100000}})
    result = cli("validate", config)
    assert result.exit_code == 2, result.output
    assert "data.preprocess" in result.output and "Traceback" not in result.output
    reversed_range = ticket_config(
        write_config, tickets, preprocess={"text": {"word_ngrams": [3, 1]}}
    )
    result = cli("validate", reversed_range)
    assert result.exit_code == 2 and "word_ngrams" in result.output
