"""The synthetic pool the scale benchmarks share (pool_scale.py, strategy_cost.py):
make_classification data written as alcli reads it, and a process's own peak memory."""

from __future__ import annotations

from pathlib import Path

POOL_FILE = "pool.npz"
TEST_FILE = "test.npz"
IDS_FILE = "init_ids.txt"


def write_pool(
    out: Path, n_pool: int, n_test: int, n_features: int, n_classes: int, n_init: int, seed: int
):
    """Write pool.npz and test.npz (X float32, y int64; no ids, so ids are row numbers) and
    init_ids.txt (``n_init`` seeded pool rows). Returns the pool's labels and the initial rows."""
    import numpy as np
    from sklearn.datasets import make_classification

    X, y = make_classification(
        n_samples=n_pool + n_test,
        n_features=n_features,
        n_informative=20,
        n_redundant=10,
        n_classes=n_classes,
        random_state=seed,
    )
    X, y = X.astype(np.float32), y.astype(np.int64)
    out.mkdir(parents=True, exist_ok=True)
    np.savez(out / POOL_FILE, X=X[:n_pool], y=y[:n_pool])
    np.savez(out / TEST_FILE, X=X[n_pool:], y=y[n_pool:])
    init = np.random.default_rng(seed).choice(n_pool, size=n_init, replace=False)
    (out / IDS_FILE).write_text("".join(f"{i}\n" for i in init))
    return y[:n_pool], init


def peak_kib() -> int:
    """This process's peak resident set (VmHWM), in KiB."""
    status = Path("/proc/self/status").read_text()
    return int(status.split("VmHWM:")[1].split()[0])
