"""Text at scale: 100,000 short support tickets vectorized once per run (TF-IDF word and
character n-grams), and a loop's INFER on the sparse pool against a plain scikit-learn loop
doing the same work.

The tickets come from configs/data/make_tickets.py's generator (seeded). alcli runs the text
column alone (data.features: [text]) with its default text settings, LogisticRegression, margin,
50 initial records and 5 loops of 100, as a subprocess; its INFER seconds per loop are read from
metrics.csv. The plain loop, in this process with BLAS pinned to one thread as alcli pins it,
vectorizes the same column with the same TfidfVectorizer settings, then per loop fits on the
labeled rows, predicts the test set and predict_proba's the unlabeled pool, and picks the
smallest margins with argpartition. Both sides split 25% of the records off as a test set.

Target: the median INFER per loop within 1.2x of the plain loop's. Exit 1 above it.

    .venv/bin/python benchmarks/text_pool.py [--n 100000] [--loops 5]
"""

from __future__ import annotations

import argparse
import csv
import importlib.util
import json
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
TARGET = 1.2


def tickets(n: int, folder: Path) -> Path:
    spec = importlib.util.spec_from_file_location(
        "make_tickets", ROOT / "configs/data/make_tickets.py"
    )
    maker = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(maker)
    rng = np.random.default_rng(0)
    labels = rng.choice(list(maker.SUBJECTS), size=n, p=[0.3, 0.3, 0.25, 0.15])
    path = folder / "tickets.csv"
    with path.open("w", newline="") as handle:
        writer = csv.writer(handle)
        writer.writerow(["id", "text", "label"])
        for i, label in enumerate(labels):
            writer.writerow([f"t{i}", maker.ticket(rng, label), label])
    return path


def run_alcli(data: Path, loops: int, folder: Path) -> tuple[float, list[float]]:
    config = folder / "text.yaml"
    config.write_text(
        json.dumps(
            {
                "name": "text-bench",
                "seed": 0,
                "data": {
                    "path": str(data),
                    "target": "label",
                    "features": ["text"],
                    "preprocess": {},
                },
                "model": {
                    "estimator": "sklearn.linear_model.LogisticRegression",
                    "params": {"max_iter": 1000},
                },
                "init": {"method": "random", "size": 50},
                "strategy": {"name": "margin"},
                "loop_size": {"schedule": "constant", "size": 100},
                "stop": {"max_loops": loops},
                "metrics": ["accuracy"],
                "output": {"keep_models": "none"},
            }
        )
    )
    began = time.perf_counter()
    subprocess.run(
        [sys.executable, "-m", "alcli", "run", str(config), "--run-dir", str(folder / "run"), "-q"],
        check=True,
    )
    wall = time.perf_counter() - began
    with (folder / "run" / "metrics.csv").open() as handle:
        infer = [float(row["infer_s"]) for row in csv.DictReader(handle)][:-1]  # last: no INFER
    return wall, infer


def run_plain(data: Path, loops: int) -> tuple[float, list[float]]:
    from sklearn.feature_extraction.text import TfidfVectorizer
    from sklearn.linear_model import LogisticRegression
    from sklearn.model_selection import train_test_split
    from sklearn.pipeline import FeatureUnion
    from threadpoolctl import threadpool_limits

    with data.open() as handle:
        rows = list(csv.DictReader(handle))
    texts = np.array([r["text"] for r in rows], dtype=object)
    y = np.unique([r["label"] for r in rows], return_inverse=True)[1]
    pool, test = train_test_split(np.arange(len(rows)), test_size=0.25, stratify=y, random_state=0)
    common = {"max_features": 50_000, "min_df": 1, "lowercase": True, "sublinear_tf": True}
    vectorizer = FeatureUnion(
        [
            ("words", TfidfVectorizer(ngram_range=(1, 2), **common)),
            ("chars", TfidfVectorizer(analyzer="char_wb", ngram_range=(2, 4), **common)),
        ]
    )
    began = time.perf_counter()
    X = vectorizer.fit_transform(texts[pool]).tocsr()
    X_test = vectorizer.transform(texts[test]).tocsr()
    vectorize = time.perf_counter() - began
    rng = np.random.default_rng(0)
    labeled = np.zeros(X.shape[0], dtype=bool)
    labeled[rng.choice(X.shape[0], 50, replace=False)] = True
    infer = []
    with threadpool_limits(1):
        for _ in range(loops):
            model = LogisticRegression(max_iter=1000).fit(X[labeled], y[pool][labeled])
            began = time.perf_counter()
            model.predict(X_test)
            unlabeled = np.flatnonzero(~labeled)
            proba = model.predict_proba(X[unlabeled])
            top2 = np.partition(proba, -2, axis=1)[:, -2:]
            margin = top2[:, 1] - top2[:, 0]
            infer.append(time.perf_counter() - began)
            labeled[unlabeled[np.argpartition(margin, 100)[:100]]] = True
    return vectorize, infer


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--n", type=int, default=100_000)
    parser.add_argument("--loops", type=int, default=5)
    args = parser.parse_args(argv)
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        data = tickets(args.n, folder)
        wall, alcli_infer = run_alcli(data, args.loops, folder)
        vectorize, plain_infer = run_plain(data, args.loops)
    ratio = float(np.median(alcli_infer) / np.median(plain_infer))
    print(f"{args.n:,} tickets, {args.loops} loops of 100 (margin, LogisticRegression)")
    print(f"  alcli run, wall (vectorizing once, every loop): {wall:.1f} s")
    print(f"  plain TF-IDF fit_transform of the pool and the test set: {vectorize:.1f} s")
    print(
        f"  INFER per loop, median: alcli {np.median(alcli_infer):.3f} s, "
        f"plain {np.median(plain_infer):.3f} s, ratio {ratio:.2f} (target {TARGET})"
    )
    return 0 if ratio <= TARGET else 1


if __name__ == "__main__":
    sys.exit(main())
