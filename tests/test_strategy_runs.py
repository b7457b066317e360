"""Every registered strategy, run from YAML on breast_cancer and digits, stopped after a loop
and resumed: the resumed run picks exactly what the run left alone picked.

The SIGKILL tests in test_resume.py cover the strategies that keep state between loops in
separate processes; here the stop is a Ctrl-C raised between two loops, in-process, so that
every strategy on both datasets stays affordable.
"""

from __future__ import annotations

import numpy as np
import pytest
import yaml

from alcli import engine
from alcli.config import load_config
from alcli.errors import Interrupted
from alcli.models import ModelConfig
from alcli.strategies import STRATEGIES

from .conftest import TINY, merge, read_csv

# Keep the expensive strategies affordable in a test; their defaults are for real runs.
FAST_PARAMS = {
    "expected_error_reduction": {"candidates": 10, "estimate_on": 100},
    "qbc": {"members": 3},
}
FOREST = {
    "estimator": "sklearn.ensemble.RandomForestClassifier",
    "params": {"n_estimators": 10, "max_depth": 6},
}
DATASETS = ["sklearn:breast_cancer", "sklearn:digits"]


def config_for(name: str, source: str) -> dict:
    strategy_cls = STRATEGIES[name]
    strategy = strategy_cls(**FAST_PARAMS.get(name, {}))
    model = TINY["model"]
    if strategy.check_model(ModelConfig(**model).build()) is not None:
        model = FOREST
    return merge(
        {**TINY, "model": model},
        {
            "name": name.replace("_", "-"),
            "data": {"source": source, "test_size": 0.3},
            "strategy": {"name": name, **FAST_PARAMS.get(name, {})},
            "init": {"size": 20},
            "loop_size": {"size": 10},
            "stop": {"max_loops": 3},
        },
    )


class StopAfter:
    """An event sink that presses Ctrl-C once loop ``loop`` is checkpointed."""

    def __init__(self, loop: int):
        self.loop = loop

    def __call__(self, event: dict) -> None:
        if event.get("event") == "loop" and event["loop"] == self.loop:
            raise KeyboardInterrupt


@pytest.mark.parametrize("source", DATASETS, ids=lambda s: s.split(":")[1])
@pytest.mark.parametrize("name", sorted(STRATEGIES))
def test_stopped_and_resumed_run_picks_what_the_run_left_alone_picked(name, source, tmp_path):
    path = tmp_path / "c.yaml"
    path.write_text(yaml.safe_dump(config_for(name, source), sort_keys=False))
    config = load_config(path)

    alone = engine.start(config, tmp_path / "alone")
    assert alone.status == "completed" and alone.last_loop == 3

    with pytest.raises(Interrupted):
        engine.start(config, tmp_path / "stopped", on_event=StopAfter(1))
    resumed = engine.resume(tmp_path / "stopped")
    assert resumed.status == "completed"

    for loop in range(4):
        ours = tmp_path / "stopped" / "loops" / f"{loop:04d}"
        theirs = tmp_path / "alone" / "loops" / f"{loop:04d}"
        assert read_csv(ours / "selected.csv") == read_csv(theirs / "selected.csv"), loop
        with np.load(ours / "state.npz") as a, np.load(theirs / "state.npz") as b:
            assert a.files == b.files
            for key in a.files:
                np.testing.assert_array_equal(a[key], b[key], err_msg=f"{loop}: {key}")
    picked = read_csv(tmp_path / "alone" / "loops" / "0002" / "selected.csv")
    assert len(picked) == 10 and len({row["id"] for row in picked}) == 10
