"""An NPY pool is memory-mapped, never read whole: a pool larger than memory runs."""

from __future__ import annotations

import numpy as np
import pytest
import yaml
from sklearn.datasets import make_classification

from alcli import engine
from alcli.config import load_config
from alcli.pool import release_rows, row_chunks
from tests.conftest import read_csv


@pytest.fixture
def npy_pool(tmp_path):
    X, y = make_classification(
        n_samples=1300, n_features=8, n_classes=3, n_informative=5, random_state=1
    )
    X = X.astype(np.float32)
    np.save(tmp_path / "X.npy", X[:1000])
    np.save(tmp_path / "y.npy", y[:1000])
    np.savez(tmp_path / "pool.npz", X=X[:1000], y=y[:1000])
    np.savez(tmp_path / "test.npz", X=X[1000:], y=y[1000:])
    return tmp_path


def write(folder, data: dict, name: str = "c.yaml"):
    config = {
        "name": "npy",
        "data": data,
        "init": {"size": 15},
        "loop_size": {"size": 10},
        "stop": {"max_loops": 3},
        "model": {"params": {"max_iter": 300}},
    }
    (folder / name).write_text(yaml.safe_dump(config))
    return folder / name


def picks(run_dir):
    return [
        [row["index"] for row in read_csv(run_dir / "loops" / f"{k:04d}" / "selected.csv")]
        for k in range(4)
    ]


def test_an_npy_pool_is_memory_mapped_and_picks_as_the_same_data_in_memory(npy_pool):
    npy = load_config(
        write(npy_pool, {"path": "X.npy", "labels_path": "y.npy", "test_path": "test.npz"})
    )
    npz = load_config(write(npy_pool, {"path": "pool.npz", "test_path": "test.npz"}, "z.yaml"))
    assert isinstance(engine.prepare(npy).data.X, np.memmap)
    engine.start(npy, npy_pool / "npy")
    engine.start(npz, npy_pool / "npz")
    assert picks(npy_pool / "npy") == picks(npy_pool / "npz")


@pytest.mark.parametrize(
    ("data", "message"),
    [
        (
            {"path": "X.npy", "labels_path": "y.npy"},
            "an NPY pool is memory-mapped, and holding out a test set",
        ),
        (
            {"path": "pool.npz", "labels_path": "y.npy", "test_path": "test.npz"},
            "it gives the labels of an NPY pool",
        ),
    ],
)
def test_npy_config_errors(cli, npy_pool, data, message):
    result = cli("validate", write(npy_pool, data))
    assert result.exit_code == 2 and message in result.output, result.output


def test_npy_data_errors(cli, npy_pool):
    np.save(npy_pool / "short.npy", np.zeros(5))
    np.save(npy_pool / "F.npy", np.asfortranarray(np.load(npy_pool / "X.npy")))
    cases = [
        ({"labels_path": "short.npy"}, "data.labels_path needs one label per row"),
        ({"path": "F.npy"}, "stored in Fortran order"),
        ({"path": "short.npy"}, "an NPY pool must be a 2-D array"),
    ]
    for change, message in cases:
        data = {"path": "X.npy", "labels_path": "y.npy", "test_path": "test.npz", **change}
        result = cli("validate", write(npy_pool, data))
        assert result.exit_code == 2, result.output
        assert message in result.output and "Traceback" not in result.output


def test_an_unlabeled_npy_pool_is_refused_for_an_oracle(cli, npy_pool):
    result = cli("validate", write(npy_pool, {"path": "X.npy", "test_path": "test.npz"}))
    assert result.exit_code == 2 and "lack one" in result.output


def test_passes_over_a_memory_mapped_pool_release_their_pages(npy_pool):
    X = np.load(npy_pool / "X.npy", mmap_mode="r")
    total = sum(block.sum(dtype=np.float64) for _, block in row_chunks(X, 100))
    assert total == pytest.approx(np.load(npy_pool / "X.npy").sum(dtype=np.float64))
    release_rows(X, 0, X.shape[0])  # the whole range at once, and past its end: no error
    release_rows(np.zeros((3, 2)), 0, 3)  # not a memmap: nothing to do
