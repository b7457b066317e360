"""bandit and mixture: strategies made of strategies.

The bandit's EXP3 probabilities, its learning from rewards, its checkpointed state; the
mixture's shares, its reduced candidate sets and its fill-up; nested config errors through the
CLI; both from YAML; and a bandit run killed and resumed against the same run left alone.
"""

from __future__ import annotations

import itertools
import re
import signal
from dataclasses import replace
from pathlib import Path

import numpy as np
import pytest
import yaml

from alcli.strategies import STRATEGIES, Selection, SelectionContext, Strategy
from alcli.strategies.bandit import Bandit
from alcli.strategies.mixture import Mixture, largest_remainder
from tests.conftest import merge, read_csv

from .conftest import checkpointed

N_POOL, N_FEATURES = 40, 3


def context(
    labeled: np.ndarray | None = None,
    loop: int = 1,
    seed: int = 0,
    model=None,
    n_classes: int = 2,
    proba: bool = True,
) -> SelectionContext:
    """A pool of N_POOL records whose probabilities make record i's margin score i / N_POOL
    (higher index = more uncertain), so a margin pick is known in advance."""
    labeled = np.arange(4) if labeled is None else labeled
    candidates = np.setdiff1d(np.arange(N_POOL), labeled)
    gap = 1.0 - candidates / N_POOL  # margin score = 1 - gap
    probabilities = np.column_stack([(1 + gap) / 2, (1 - gap) / 2]) if proba else None
    features = np.arange(N_POOL * N_FEATURES, dtype=float).reshape(N_POOL, N_FEATURES)
    return SelectionContext(
        candidates=candidates,
        proba=probabilities,
        features=features,
        model=model,
        loop=loop,
        rng=np.random.default_rng([seed, loop]),
        labeled=labeled,
        labels=labeled % n_classes,
        classes=np.arange(n_classes),
    )


class ParityModel:
    """Predicts class ``index % 2`` from a record's first feature (= 3 * index): right on
    every record whose label is its index parity."""

    def predict(self, X):
        return (np.asarray(X)[:, 0] / N_FEATURES).astype(int) % 2


class ConstantModel:
    def predict(self, X):
        return np.zeros(np.asarray(X).shape[0], dtype=int)


# --- bandit -----------------------------------------------------------------------------------


@pytest.mark.parametrize("gamma", [0.05, 0.1, 0.5, 1.0])
@pytest.mark.parametrize(
    "log_weights", [[0.0, 0.0, 0.0], [5.0, -3.0, 0.1], [800.0, 0.0, -800.0], [1e6, 1e6, 0.0]]
)
def test_bandit_probabilities_sum_to_one_with_every_arm_at_least_gamma_over_k(gamma, log_weights):
    bandit = Bandit(
        strategies=[{"name": "margin"}, {"name": "random"}, {"name": "entropy"}], gamma=gamma
    )
    bandit.log_weights_ = np.array(log_weights)
    p = bandit.probabilities()
    assert np.isfinite(p).all()
    assert p.sum() == pytest.approx(1.0)
    assert (p >= gamma / 3 - 1e-12).all()


def test_bandit_probability_of_the_rewarded_arm_grows():
    bandit = Bandit(strategies=[{"name": "margin"}, {"name": "random"}], gamma=0.1)
    # A scripted reward: margin's batches earn 1, random's 0.
    bandit.reward = lambda ctx: 1.0 if bandit.last_arm_ == 0 else 0.0
    history = [bandit.probabilities()[0]]
    labeled = np.arange(4)
    for loop in range(1, 31):
        ctx = context(labeled, loop=loop, model=ConstantModel())
        bandit.observe(ctx)
        history.append(bandit.probabilities()[0])
        labeled = np.concatenate([labeled, bandit.select(ctx, 1).indices])
    assert history[-1] > 0.75 > history[0] == 0.5
    assert all(b >= a for a, b in itertools.pairwise(history))


def test_bandit_reward_is_the_importance_weighted_accuracy_on_its_own_picks():
    bandit = Bandit()
    bandit.importance_ = np.zeros(N_POOL)
    bandit.importance_[[10, 11]] = 2.0  # one right (10 is even, label 0), one wrong
    bandit.importance_[12] = 4.0  # right
    labeled = np.array([0, 1, 2, 10, 11, 12])  # 0, 1, 2: the initial set, not the bandit's
    labels = np.array([0, 1, 0, 0, 0, 0])
    ctx = SelectionContext(
        candidates=np.setdiff1d(np.arange(N_POOL), labeled),
        proba=None,
        features=context().features,
        model=ParityModel(),
        loop=2,
        rng=np.random.default_rng(0),
        labeled=labeled,
        labels=labels,
        classes=np.array([0, 1]),
    )
    assert bandit.reward(ctx) == pytest.approx((2.0 + 4.0) / 8.0)
    bandit.importance_[:] = 0
    assert bandit.reward(ctx) is None


def test_bandit_observes_once_per_loop_and_rewards_once_per_pull():
    bandit = Bandit(gamma=0.2)
    labeled = np.arange(4)
    ctx = context(labeled, loop=1, model=ParityModel())
    bandit.observe(ctx)
    picked = bandit.select(ctx, 4)
    assert set(picked.picked_by) == {bandit.parts[bandit.last_arm_][0]}
    assert picked.picked_by.shape == (4,)
    ctx = context(np.concatenate([labeled, picked.indices]), loop=2, model=ParityModel())
    bandit.observe(ctx)
    after = checkpointed(bandit.state())
    assert not np.array_equal(after["log_weights"], np.zeros(2))
    bandit.observe(ctx)  # the same loop again: nothing changes
    for key, value in checkpointed(bandit.state()).items():
        np.testing.assert_array_equal(value, after[key])
    # A later loop without a select in between (a phase that ended) earns no second reward.
    bandit.observe(context(ctx.labeled, loop=3, model=ParityModel()))
    np.testing.assert_array_equal(bandit.log_weights_, after["log_weights"])


def test_bandit_without_a_model_does_not_update():
    bandit = Bandit()
    labeled = np.arange(4)
    for loop in (1, 2, 3):
        ctx = context(labeled, loop=loop, model=None)
        bandit.observe(ctx)
        labeled = np.concatenate([labeled, bandit.select(ctx, 3).indices])
    np.testing.assert_array_equal(bandit.log_weights_, np.zeros(2))
    assert bandit.last_loop_ == 3


def run_bandit(loops: range, bandit: Bandit, labeled: np.ndarray):
    """Loops of observe + select with a parity model; returns arms, picks, labeled, state."""
    arms, picks = [], []
    for loop in loops:
        ctx = context(labeled, loop=loop, model=ParityModel(), n_classes=2)
        bandit.observe(ctx)
        selection = bandit.select(ctx, 3)
        arms.append(selection.picked_by[0])
        picks.append(selection.indices.tolist())
        labeled = np.concatenate([labeled, selection.indices])
    return arms, picks, labeled


def test_bandit_restored_from_its_state_continues_exactly_as_left_alone():
    arms = [{"name": "margin"}, {"name": "random"}, {"name": "entropy"}]
    straight = Bandit(strategies=arms, gamma=0.3)
    arms_all, picks_all, _ = run_bandit(range(1, 9), straight, np.arange(4))

    first = Bandit(strategies=arms, gamma=0.3)
    arms_a, picks_a, labeled = run_bandit(range(1, 5), first, np.arange(4))
    resumed = Bandit(strategies=arms, gamma=0.3)
    resumed.restore(checkpointed(first.state()))
    arms_b, picks_b, _ = run_bandit(range(5, 9), resumed, labeled)

    assert arms_a + arms_b == arms_all
    assert picks_a + picks_b == picks_all
    assert len(set(arms_all)) > 1, "every loop drew the same arm; the test shows little"
    final, expected = checkpointed(resumed.state()), checkpointed(straight.state())
    assert final.keys() == expected.keys()
    for key in expected:
        np.testing.assert_array_equal(final[key], expected[key], err_msg=key)


def test_bandit_names_a_repeated_strategy_by_position():
    bandit = Bandit(strategies=[{"name": "margin"}, {"name": "random"}, {"name": "margin"}])
    assert [label for label, _ in bandit.parts] == ["margin#1", "random", "margin#2"]


# --- mixture ----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("shares", "n", "sizes"),
    [
        ([0.5, 0.5], 7, [4, 3]),
        ([0.8, 0.2], 20, [16, 4]),
        ([0.8, 0.2], 7, [6, 1]),
        ([0.8, 0.2], 1, [1, 0]),
        ([1 / 3, 1 / 3, 1 / 3], 10, [4, 3, 3]),
        ([0.2, 0.3, 0.5], 0, [0, 0, 0]),
        ([0.05, 0.95], 3, [0, 3]),
    ],
)
def test_part_sizes_by_largest_remainder(shares, n, sizes):
    assert largest_remainder(shares, n).tolist() == sizes


def test_mixture_splits_a_batch_by_share_without_duplicates():
    mixture = Mixture(parts=[{"name": "random", "share": 0.5}, {"name": "margin", "share": 0.5}])
    ctx = context()
    selection = mixture.select(ctx, 7)
    assert selection.indices.shape == (7,) == selection.scores.shape
    assert np.unique(selection.indices).shape == (7,)
    assert np.isin(selection.indices, ctx.candidates).all()
    assert selection.picked_by.tolist() == ["random"] * 4 + ["margin"] * 3
    # margin scores from probability rows aligned with the candidates random left: the three
    # highest indices among them.
    left = np.setdiff1d(ctx.candidates, selection.indices[:4])
    assert sorted(selection.indices[4:].tolist()) == left[-3:].tolist()
    assert selection.scores[4:].tolist() == pytest.approx((left[-3:][::-1] / N_POOL).tolist())


def test_mixture_passes_decision_values_aligned_too():
    mixture = Mixture(parts=[{"name": "random", "share": 0.5}, {"name": "margin", "share": 0.5}])
    ctx = context(proba=False)
    ctx = replace(ctx, decision=ctx.candidates.astype(float) - 100.0)
    selection = mixture.select(ctx, 6)
    left = np.setdiff1d(ctx.candidates, selection.indices[:3])
    # margin of a binary decision is minus the distance to the boundary, |index - 100|: the
    # highest indices random left are nearest.
    assert sorted(selection.indices[3:].tolist()) == left[-3:].tolist()


class FirstOne(Strategy):
    """Returns one record whatever it is asked for: a part that runs short."""

    name = "first_one"
    description = "The first candidate only."

    def select(self, ctx: SelectionContext, n: int) -> Selection:
        return Selection(ctx.candidates[: min(n, 1)], np.ones(min(n, 1)))


class Nothing(Strategy):
    name = "nothing"
    description = "Never picks."

    def select(self, ctx: SelectionContext, n: int) -> Selection:
        return Selection(np.empty(0, dtype=np.int64), np.empty(0))


SHORT = f"{__name__}:FirstOne"
EMPTY = f"{__name__}:Nothing"


def test_mixture_fills_up_when_a_part_runs_short():
    mixture = Mixture(parts=[{"name": SHORT, "share": 0.6}, {"name": "margin", "share": 0.4}])
    ctx = context()
    selection = mixture.select(ctx, 10)
    assert selection.indices.shape == (10,)
    assert np.unique(selection.indices).shape == (10,)
    assert selection.picked_by.tolist() == [SHORT] + ["margin"] * 9
    # The last part runs short: the rest is a random fill, no part is asked twice.
    mixture = Mixture(parts=[{"name": "margin", "share": 0.5}, {"name": SHORT, "share": 0.5}])
    selection = mixture.select(ctx, 8)
    assert selection.picked_by.tolist() == ["margin"] * 4 + [SHORT] + ["random"] * 3
    assert np.unique(selection.indices).shape == (8,)


def test_mixture_of_parts_that_pick_nothing_still_returns_the_batch():
    mixture = Mixture(parts=[{"name": EMPTY, "share": 0.5}, {"name": SHORT, "share": 0.5}])
    ctx = context()
    selection = mixture.select(ctx, 5)
    assert np.unique(selection.indices).shape == (5,)
    assert np.isin(selection.indices, ctx.candidates).all()
    # One from FirstOne, the rest at random.
    assert selection.picked_by.tolist() == [SHORT] + ["random"] * 4


def test_mixture_asked_for_more_than_the_candidates_returns_them_all():
    mixture = Mixture()
    ctx = context(labeled=np.arange(N_POOL - 3))
    selection = mixture.select(ctx, 10)
    assert sorted(selection.indices.tolist()) == ctx.candidates.tolist()


def test_nested_composites_label_records_by_both_names():
    mixture = Mixture(
        parts=[
            {"name": "bandit", "share": 0.5, "strategies": [{"name": "random"}, {"name": EMPTY}]},
            {"name": "margin", "share": 0.5},
        ]
    )
    labels = set(mixture.select(context(), 6).picked_by.tolist())
    assert labels <= {"bandit/random", "bandit/" + EMPTY, "margin", "random"}
    assert "margin" in labels


# --- config errors through the CLI ------------------------------------------------------------


@pytest.mark.parametrize(
    ("strategy", "message"),
    [
        (
            {"name": "bandit", "strategies": [{"name": "margn"}, {"name": "random"}]},
            r"strategy 'bandit': strategies\.0\.name: Unknown strategy 'margn' \(did you mean "
            r"'margin'\?\)\. Available: .*margin.*random",
        ),
        (
            {"name": "bandit", "strategies": [{"name": "margin", "fo": 1}, {"name": "random"}]},
            r"strategies\.0: strategy 'margin': fo: unknown key",
        ),
        ({"name": "bandit", "gamma": 0}, r"gamma: Input should be greater than 0"),
        ({"name": "bandit", "strategies": [{"name": "margin"}]}, r"list at least two"),
        (
            {"name": "mixture", "parts": [{"name": "margin", "share": 0.5}, {"name": "random"}]},
            r"parts\.1\.share: required key is missing",
        ),
        (
            {
                "name": "mixture",
                "parts": [{"name": "margin", "share": 0.5}, {"name": "random", "share": 0.3}],
            },
            r"the shares must sum to 1, and 0\.5 \(margin\) \+ 0\.3 \(random\) = 0\.8",
        ),
        (
            {"name": "mixture", "parts": [{"name": "entrpy", "share": 1}]},
            r"parts\.0\.name: Unknown strategy 'entrpy'",
        ),
    ],
)
def test_bad_nested_strategies_are_one_readable_line(cli, write_config, strategy, message):
    result = cli("validate", write_config({"strategy": strategy}))
    assert result.exit_code == 2, result.output
    assert "Traceback" not in result.output
    problems = [line for line in result.output.splitlines() if line.startswith("  ")]
    assert len(problems) == 1, result.output
    assert problems[0].strip().startswith("strategy (line")
    assert re.search(message, problems[0]), result.output


# --- end to end -------------------------------------------------------------------------------


@pytest.mark.parametrize("source", ["sklearn:breast_cancer", "sklearn:digits"])
@pytest.mark.parametrize(
    ("strategy", "names"),
    [
        ({"name": "bandit"}, {"margin", "random"}),
        ({"name": "mixture"}, {"margin", "random"}),
        (
            {"name": "bandit", "strategies": [{"name": "entropy"}, {"name": "least_confidence"}]},
            {"entropy", "least_confidence"},
        ),
    ],
    ids=["bandit", "mixture", "bandit-2"],
)
def test_composites_run_from_yaml(cli, write_config, tmp_path, source, strategy, names):
    config = write_config(
        {
            "data": {"source": source, "test_size": 0.25},
            "model": {"params": {"max_iter": 2000}},
            "strategy": strategy,
            "loop_size": {"size": 10},
            "stop": {"max_loops": 3},
        }
    )
    result = cli("run", config, "--run-dir", tmp_path / "run", "-q")
    assert result.exit_code == 0, result.output
    rows = read_csv(tmp_path / "run" / "metrics.csv")
    assert [int(r["n_labeled"]) for r in rows] == [10, 20, 30, 40]
    for loop in (1, 2, 3):
        picked = read_csv(tmp_path / "run" / "loops" / f"{loop:04d}" / "selected.csv")
        assert len(picked) == 10 and len({r["index"] for r in picked}) == 10
        by = [r["strategy"] for r in picked]
        assert set(by) <= names
        if strategy["name"] == "bandit":
            assert len(set(by)) == 1, "one arm per loop"
            assert rows[loop]["strategy"] == by[0]
        else:
            assert by == ["margin"] * 8 + ["random"] * 2
            assert rows[loop]["strategy"] == "margin+random"
    # The frozen config keeps the nested specs as written, and resume reads them back.
    frozen = yaml.safe_load((tmp_path / "run" / "config.yaml").read_text())
    assert {k: v for k, v in frozen["strategy"].items() if k in strategy} == strategy
    assert cli("resume", tmp_path / "run", "-q").exit_code == 0


# --- killed and resumed -----------------------------------------------------------------------


@pytest.mark.slow
def test_bandit_killed_and_resumed_picks_as_the_run_left_alone(tmp_path):
    from tests.test_resume import CONFIG, Background, assert_same_run, read_state, run_with_kills

    config = tmp_path / "c.yaml"
    strategy = {
        "name": "bandit",
        "gamma": 0.3,
        "strategies": [{"name": "margin"}, {"name": "entropy"}, {"name": "random"}],
    }
    config.write_text(
        yaml.safe_dump(merge(CONFIG, {"name": "bandit", "strategy": strategy}), sort_keys=False)
    )
    reference = Background(config, tmp_path / "ref")
    run_dir = tmp_path / "run"
    try:
        history = run_with_kills(config, run_dir, ["loop:0002", "loop:0005"], seed=2)
        ref = reference.result()
    finally:
        reference.stop()
    assert history[0][2] == -signal.SIGKILL, history  # killed as loop 2 landed
    # Every loops/*/selected.csv, labels.csv and state.npz array (the bandit's among them).
    assert_same_run(run_dir, ref)
    last = read_state(Path(run_dir) / "loops" / "0008" / "state.npz")
    assert {"strategy.log_weights", "strategy.importance", "strategy.last_loop"} <= set(last)
    arms = {
        r["strategy"]
        for loop in range(1, 9)
        for r in read_csv(run_dir / "loops" / f"{loop:04d}" / "selected.csv")
    }
    assert arms <= {"margin", "entropy", "random"}


def test_the_registry_holds_both():
    assert STRATEGIES["bandit"] is Bandit and STRATEGIES["mixture"] is Mixture
