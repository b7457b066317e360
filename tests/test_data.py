"""Data as users have it: CSV from a spreadsheet, NPZ, bundled datasets."""

from __future__ import annotations

import numpy as np
import pytest

from alcli.data import UNLABELED, DataConfig, load_dataset
from tests.conftest import read_csv, write_csv

FRUIT_ROWS = [
    [f"r{i}", i % 7 * 0.5, (i * 3) % 11, ["apple", "pear", "fig"][i % 3]] for i in range(60)
]


def fruit_config(path, **extra) -> DataConfig:
    return DataConfig(path=path, **extra)


def test_csv_string_labels_ids_and_spreadsheet_quirks(tmp_path):
    # What a spreadsheet writes: a byte-order mark, CRLF line ends, every field quoted.
    path = write_csv(
        tmp_path / "fruit.csv",
        ["id", "weight", "size", "target"],
        FRUIT_ROWS,
        encoding="utf-8-sig",
        lineterminator="\r\n",
        quoting=1,
    )
    data = load_dataset(fruit_config(path), seed=0)
    assert data.classes.tolist() == ["apple", "fig", "pear"]
    assert data.X.shape[1] == 2 and data.feature_names == ["weight", "size"]
    assert data.ids.shape[0] + data.y_test.shape[0] == 60
    assert set(data.ids.tolist()) <= {row[0] for row in FRUIT_ROWS}


def test_csv_features_subset_and_row_number_ids(tmp_path):
    rows = [[r[1], r[2], r[3]] for r in FRUIT_ROWS]
    path = write_csv(tmp_path / "fruit.csv", ["weight", "size", "target"], rows)
    data = load_dataset(fruit_config(path, features=["size"]), seed=0)
    assert data.feature_names == ["size"]
    assert set(data.ids.tolist()) <= set(range(60)), "without an id column, ids are row numbers"


def test_integer_like_labels_in_a_csv_are_integers(tmp_path):
    rows = [[i, i % 2] for i in range(40)]
    data = load_dataset(fruit_config(write_csv(tmp_path / "b.csv", ["x", "target"], rows)), 0)
    assert data.classes.tolist() == [0, 1]


def test_stratified_split_is_seeded_and_keeps_class_shares():
    cfg = DataConfig(source="sklearn:breast_cancer", test_size=0.25)
    first, again, other = load_dataset(cfg, 1), load_dataset(cfg, 1), load_dataset(cfg, 2)
    np.testing.assert_array_equal(first.ids, again.ids)
    assert first.fingerprint == again.fingerprint
    assert first.fingerprint != other.fingerprint
    share = lambda y: np.bincount(y) / y.shape[0]  # noqa: E731
    np.testing.assert_allclose(share(first.y), share(first.y_test), atol=0.02)


def test_unlabeled_rows_stay_in_the_pool(tmp_path):
    rows = [[r[0], r[1], r[2], r[3] if i < 30 else ""] for i, r in enumerate(FRUIT_ROWS)]
    path = write_csv(tmp_path / "fruit.csv", ["id", "weight", "size", "target"], rows)
    data = load_dataset(fruit_config(path, test_size=0.2), seed=0)
    assert (data.y == UNLABELED).sum() == 30
    assert (data.y_test != UNLABELED).all()


def test_npz_with_and_without_ids(tmp_path):
    rng = np.random.default_rng(0)
    X, y = rng.normal(size=(50, 3)).astype(np.float32), np.arange(50) % 2
    np.savez(tmp_path / "a.npz", X=X, y=y)
    np.savez(tmp_path / "b.npz", X=X, y=y, ids=np.array([f"doc-{i}" for i in range(50)]))
    plain = load_dataset(DataConfig(path=tmp_path / "a.npz"), 0)
    named = load_dataset(DataConfig(path=tmp_path / "b.npz"), 0)
    assert plain.X.dtype == np.float32, "the pool keeps the file's dtype (no float64 copy)"
    assert plain.ids.dtype.kind == "i" and named.ids[0].startswith("doc-")


def test_test_path_keeps_the_pool_whole(tmp_path):
    rng = np.random.default_rng(0)
    np.savez(tmp_path / "pool.npz", X=rng.normal(size=(40, 2)), y=np.arange(40) % 2)
    np.savez(tmp_path / "test.npz", X=rng.normal(size=(10, 2)), y=np.arange(10) % 2)
    data = load_dataset(DataConfig(path=tmp_path / "pool.npz", test_path=tmp_path / "test.npz"), 0)
    assert data.X.shape == (40, 2) and data.X_test.shape == (10, 2)


def test_fingerprint_changes_when_one_value_changes(tmp_path):
    rows = [[r[0], r[1], r[2], r[3]] for r in FRUIT_ROWS]
    path = write_csv(tmp_path / "fruit.csv", ["id", "weight", "size", "target"], rows)
    before = load_dataset(fruit_config(path), 0).fingerprint
    rows[5][1] = 99.0
    write_csv(path, ["id", "weight", "size", "target"], rows)
    assert load_dataset(fruit_config(path), 0).fingerprint != before


@pytest.mark.parametrize("labels_kind", ["strings", "integers"])
def test_labels_stay_as_they_are_in_every_output(tmp_path, cli, write_config, labels_kind):
    names = ["spam", "ham"] if labels_kind == "strings" else ["7", "3"]
    rows = [[f"m{i}", i % 5, (i * 7) % 3, names[i % 2]] for i in range(80)]
    write_csv(tmp_path / "mail.csv", ["id", "a", "b", "target"], rows)
    config = write_config({"data": {"source": None, "path": "mail.csv"}, "stop": {"max_loops": 1}})
    result = cli("run", config, "--run-dir", tmp_path / "run", "--quiet")
    assert result.exit_code == 0, result.output
    labels = read_csv(tmp_path / "run" / "loops" / "0001" / "labels.csv")
    assert {row["label"] for row in labels} <= set(names)
    assert all(row["id"].startswith("m") for row in labels)


def test_holding_out_a_test_set_moves_the_pool_in_place_without_a_copy():
    from alcli.data.dataset import _compact_rows

    rng = np.random.default_rng(0)
    X = rng.normal(size=(1000, 3))
    rows = np.sort(rng.choice(1000, 700, replace=False))
    expected = X[rows].copy()
    base = X
    pool = _compact_rows(X, rows, chunk_rows=64)
    np.testing.assert_array_equal(pool, expected)
    assert pool.base is base or np.shares_memory(pool, base)
