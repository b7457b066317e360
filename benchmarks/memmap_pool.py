"""A pool larger than a process should hold: 10,000,000 x 64 float32 (2.6 GB) as an NPY file
that alcli memory-maps, labeled by margin in 10 loops of 500; its peak resident memory.

The data: five Gaussian classes around seeded centres, written chunk by chunk (the writer never
holds the pool either) to X.npy and y.npy, with a 10,000-record test.npz and 100 seeded initial
ids. alcli runs as a child process (``python -m alcli run``) with BLAS pinned to one thread, and
its peak resident set is read from wait4 (see harness.py): the mapped pages of the pool count
in it while they are mapped, so the figure shows that no pass holds the pool.

Target: peak RSS <= 1.5 GB. ``--check`` exits 1 when it is missed; ``--n`` and ``--features``
make a smaller pool for a quick look.

    .venv/bin/python benchmarks/memmap_pool.py [--n 10000000] [--features 64] [--check]
"""

from __future__ import annotations

import argparse
import shutil
import subprocess
import sys
from pathlib import Path

from harness import alcli_revision, child_env, run_child

N_CLASSES = 5
N_TEST = 10_000
N_INIT = 100
CHUNK = 500_000
SEED = 0
PEAK_TARGET_MIB = 1536
DEFAULT_OUT = Path(__file__).resolve().parent / "out" / "memmap_pool"

CONFIG = """\
# Written by benchmarks/memmap_pool.py; paths are relative to this file.
name: memmap_pool
data: {path: X.npy, labels_path: y.npy, test_path: test.npz}
model: {params: {max_iter: 200}}
init: {method: ids, path: ids.txt}
strategy: {name: margin}
loop_size: {size: 500}
stop: {max_loops: 10}
metrics: [accuracy]
"""


def make_data(out: Path, n: int, d: int) -> None:
    import numpy as np
    from numpy.lib.format import open_memmap

    out.mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng(SEED)
    centres = rng.normal(scale=0.6, size=(N_CLASSES, d)).astype(np.float32)

    def draw(rows: int):
        y = rng.integers(N_CLASSES, size=rows)
        X = centres[y] + rng.standard_normal((rows, d), dtype=np.float32)
        return X, y

    X = open_memmap(out / "X.npy", mode="w+", dtype=np.float32, shape=(n, d))
    y = open_memmap(out / "y.npy", mode="w+", dtype=np.int64, shape=(n,))
    for start in range(0, n, CHUNK):
        rows = min(CHUNK, n - start)
        X[start : start + rows], y[start : start + rows] = draw(rows)
    X.flush()
    y.flush()
    X_test, y_test = draw(N_TEST)
    np.savez(out / "test.npz", X=X_test, y=y_test)
    labels = np.asarray(y)
    while True:
        init = rng.choice(n, N_INIT, replace=False)
        if np.unique(labels[init]).shape[0] == N_CLASSES:
            break
    (out / "ids.txt").write_text("".join(f"{i}\n" for i in init))
    (out / "config.yaml").write_text(CONFIG)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--out", type=Path, default=DEFAULT_OUT, help="Folder for data and run.")
    parser.add_argument("--n", type=int, default=10_000_000, help="Pool records.")
    parser.add_argument("--features", type=int, default=64, help="Features per record.")
    parser.add_argument("--check", action="store_true", help="Exit 1 when the target is missed.")
    parser.add_argument("--make-data", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    out = args.out.resolve()
    if args.make_data:
        make_data(out, args.n, args.features)
        return 0
    script = str(Path(__file__).resolve())
    size_gib = args.n * args.features * 4 / 2**30
    print(
        f"writing a {args.n:,} x {args.features} float32 pool ({size_gib:.2f} GiB) ...", flush=True
    )
    subprocess.run(
        [
            *(sys.executable, script, "--make-data", "--out", str(out)),
            *("--n", str(args.n), "--features", str(args.features)),
        ],
        check=True,
    )
    run_dir = out / "run"
    shutil.rmtree(run_dir, ignore_errors=True)
    command = [sys.executable, "-m", "alcli", "run", str(out / "config.yaml")]
    print("alcli run (margin, 10 loops of 500) ...", flush=True)
    turn = run_child(
        "1",
        "alcli",
        [*command, "--run-dir", str(run_dir), "-q"],
        child_env(out, 1),
        out / "alcli.log",
    )
    met = turn.peak_mib <= PEAK_TARGET_MIB
    print()
    print(
        f"memmap_pool: {args.n:,} x {args.features} float32 NPY pool ({size_gib:.2f} GiB), "
        f"alcli at {alcli_revision()}"
    )
    print(f"  wall {turn.wall:.1f} s, cpu {turn.cpu:.1f} s")
    print(
        f"  peak RSS {turn.peak_mib:,.0f} MiB   target <= {PEAK_TARGET_MIB:,} MiB: "
        f"{'met' if met else 'MISSED'}"
    )
    print(
        f"  the pool is {size_gib * 1024:,.0f} MiB: peak / pool = "
        f"{turn.peak_mib / (size_gib * 1024):.2f}"
    )
    return 1 if args.check and not met else 0


if __name__ == "__main__":
    sys.exit(main())
