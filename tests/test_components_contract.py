"""The contracts every registered init method and stop criterion keeps, and the one Registry
they (and strategies, labelers, schedules) are looked up in. A component registered without
an example here fails the suite."""

from __future__ import annotations

import numpy as np
import pytest
from pydantic import BaseModel

from alcli import engine
from alcli.config import load_config
from alcli.data import DataConfig, load_dataset
from alcli.errors import Interrupted
from alcli.initialization import INIT_METHODS, GivenInit, InitMethod, build_init
from alcli.labelers import LABELERS
from alcli.registry import Registry
from alcli.schedules import SCHEDULES
from alcli.stopping import STOP_CRITERIA, Progress, StopCriterion
from alcli.strategies import STRATEGIES

from .conftest import checkpointed, progress_after, read_csv, readme_code

# --- the registry ------------------------------------------------------------------------

REGISTRIES = {
    "strategy": STRATEGIES,
    "kind": LABELERS,
    "schedule": SCHEDULES,
    "method": INIT_METHODS,
    "stop criterion": STOP_CRITERIA,
}


@pytest.mark.parametrize("noun", sorted(REGISTRIES))
def test_one_wording_of_an_unknown_name(noun):
    registry = REGISTRIES[noun]
    name = registry.names()[0]
    typo = name[:-1] + ("x" if name[-1] != "x" else "y")
    message = registry.unknown(typo)
    assert message.startswith(f"Unknown {noun} '{typo}' (did you mean '{name}'?). Available: ")
    assert ", ".join(registry.names()) in message
    with pytest.raises(LookupError, match="Available"):
        registry.resolve(typo)


@pytest.mark.parametrize("noun", sorted(REGISTRIES))
def test_registered_names_resolve_to_their_kind(noun):
    registry = REGISTRIES[noun]
    for name in registry:
        assert issubclass(registry.resolve(name), registry.base)


def test_own_components_by_import_path_are_checked_to_be_the_right_kind():
    assert STOP_CRITERIA.resolve("tests.user_criterion:Plateau").name == "plateau_test"
    with pytest.raises(LookupError, match="is not a stop criterion: it must be a subclass"):
        STOP_CRITERIA.resolve("tests.user_strategy:FarthestFromOrigin")
    with pytest.raises(LookupError, match=r"cannot import stop criterion 'nope\.mod:X'"):
        STOP_CRITERIA.resolve("nope.mod:X")


def test_a_registry_without_own_components_refuses_import_paths():
    with pytest.raises(LookupError, match=r"Unknown schedule 'mypkg\.mod:Mine'"):
        SCHEDULES.resolve("mypkg.mod:Mine")


def test_a_registry_is_read_only():
    registry = Registry("thing", {"a": int}, base=int)
    with pytest.raises(TypeError):
        registry["b"] = float  # type: ignore[index]
    assert list(registry) == ["a"] and len(registry) == 1


# --- init methods -----------------------------------------------------------------------

IRIS = DataConfig(source="sklearn:iris", test_size=0.3)


def _ids_file(folder, data):
    path = folder / "ids.txt"
    path.write_text("\n".join(str(i) for i in data.ids[[3, 50, 90, 7]]) + "\n")
    return {"method": "ids", "path": str(path)}


# Per method, a config (given a folder and the data) and how many records it picks.
INIT_EXAMPLES = {
    "random": (lambda folder, data: {"method": "random", "size": 12}, 12),
    "kmeans": (lambda folder, data: {"method": "kmeans", "size": 6}, 6),
    "ids": (_ids_file, 4),
    "labeled": (lambda folder, data: {"method": "labeled"}, None),
}


@pytest.fixture(params=sorted(INIT_METHODS))
def init_case(request, tmp_path):
    name = request.param
    if name not in INIT_EXAMPLES:
        pytest.fail(f"init method '{name}' has no contract example: add it to INIT_EXAMPLES")
    data = load_dataset(IRIS, seed=0)
    make, size = INIT_EXAMPLES[name]
    cfg = INIT_METHODS.configs()[name].model_validate(make(tmp_path, data))
    return build_init(cfg), data, size


def picks(method: InitMethod, data, candidates=None, seed=0) -> np.ndarray:
    if method.given:
        return method.given_indices(data, IRIS)
    return method.draw(data.X, candidates, np.random.default_rng(seed))


def test_init_picks_distinct_pool_indices(init_case):
    method, data, size = init_case
    chosen = picks(method, data)
    assert chosen.dtype == np.int64 and chosen.ndim == 1
    assert np.unique(chosen).shape[0] == chosen.shape[0]
    assert chosen.min() >= 0 and chosen.max() < data.ids.shape[0]
    assert chosen.shape[0] == (size if size is not None else data.ids.shape[0])


def test_init_is_deterministic_for_a_seed(init_case):
    method, data, _ = init_case
    assert np.array_equal(picks(method, data, seed=3), picks(method, data, seed=3))


def test_drawn_methods_draw_again_among_the_candidates_left(init_case):
    method, data, size = init_case
    if method.given:
        # A given set cannot be drawn: its class has no draw at all.
        assert isinstance(method, GivenInit) and not hasattr(method, "draw")
        return
    candidates = np.arange(data.ids.shape[0])[::3]
    chosen = picks(method, data, candidates=candidates)
    assert np.isin(chosen, candidates).all() and chosen.shape[0] == size


def test_every_init_method_has_a_documented_config(init_case):
    method, _, _ = init_case
    for field in type(method.cfg).model_fields.values():
        assert field.description, f"{type(method.cfg).__name__}: a key without description"


# --- stop criteria ----------------------------------------------------------------------


def progress(**changes) -> Progress:
    return progress_after(**{"spent": 10.0, "affordable": True, **changes})


# Per criterion: its parameters, a progress it lets go on, one it stops at, and optionally the
# loops it observes before either (a history the decision depends on).
STOP_EXAMPLES = {
    "target": ({"metric": "accuracy", "value": 0.9}, {}, {"metrics": {"accuracy": 0.95}}),
    "max_loops": ({"max_loops": 5}, {}, {"loop": 5}),
    "budget": ({"budget": 100}, {}, {"n_labeled": 100}),
    "budget_cost": ({"budget_cost": 50.0}, {}, {"affordable": False}),
    "pool_exhausted": ({}, {}, {"n_unlabeled": 0}),
    "schedule_exhausted": ({}, {}, {"next_size": 0}),
    "stabilizing_predictions": (
        {"window": 1, "agreement": 0.95},
        {"signals": {"kappa": 0.5}},
        {"signals": {"kappa": 0.97}},
    ),
    "classification_change": (
        {"threshold": 0.01},
        {"signals": {"changed": float("nan")}},
        {"signals": {"changed": 0.0}},
    ),
    "overall_uncertainty": (
        {"threshold": 0.1},
        {"signals": {"uncertainty": 0.4}},
        {"signals": {"uncertainty": 0.05}},
    ),
    "max_confidence": (
        {"threshold": 0.9},
        {"signals": {"batch_confidence": float("nan")}},
        {"signals": {"batch_confidence": 0.95}},
    ),
    "plateau": (
        {"patience": 1, "min_delta": 0.01},
        {"metrics": {"accuracy": 0.95}},
        {"metrics": {"accuracy": 0.905}},
        [{"metrics": {"accuracy": 0.9}}],
    ),
}


@pytest.fixture(params=sorted(STOP_CRITERIA))
def criterion_case(request):
    name = request.param
    if name not in STOP_EXAMPLES:
        pytest.fail(f"stop criterion '{name}' has no contract example: add it to STOP_EXAMPLES")
    params, go_on, stop, *history = STOP_EXAMPLES[name]
    earlier = [progress(**changes) for changes in (history[0] if history else [])]
    return STOP_CRITERIA[name], params, progress(**go_on), progress(**stop), earlier


def test_a_criterion_stops_with_its_own_name_or_lets_the_run_go_on(criterion_case):
    cls, params, go_on, stop, earlier = criterion_case
    for at, expected in ((go_on, None), (stop, cls.name)):
        criterion = cls(**params)
        for before in earlier:
            criterion.observe(before)
        criterion.observe(at)
        assert criterion.check(at) == expected


def test_a_criterion_declares_itself_and_its_params(criterion_case):
    cls, params, *_ = criterion_case
    assert isinstance(cls.name, str) and cls.description
    assert issubclass(cls.Params, BaseModel)
    with pytest.raises(ValueError):
        cls(**params, surely_not_a_parameter=1)


def test_a_criterion_state_survives_a_checkpoint(criterion_case):
    cls, params, go_on, stop, earlier = criterion_case
    left_alone, resumed = cls(**params), cls(**params)
    for before in [*earlier, go_on]:
        left_alone.observe(before)
        resumed.observe(before)
    restored = cls(**params)
    restored.restore(checkpointed(resumed.state()))
    for criterion in (left_alone, restored):
        criterion.observe(stop)
    assert left_alone.check(stop) == restored.check(stop)
    assert all(isinstance(v, np.ndarray) for v in left_alone.state().values())


def test_own_stateful_criterion_survives_a_resume(tmp_path, write_config):
    from .test_strategy_runs import StopAfter  # the Ctrl-C between two loops

    config = load_config(
        write_config(
            {
                "stop": {
                    "max_loops": 30,
                    "when": [{"name": "tests.user_criterion:Plateau", "patience": 2}],
                },
            }
        )
    )
    alone = engine.start(config, tmp_path / "alone")
    assert alone.stop_reason == "plateau_test" and alone.last_loop < 30
    with pytest.raises(Interrupted):
        engine.start(config, tmp_path / "stopped", on_event=StopAfter(alone.last_loop - 1))
    resumed = engine.resume(tmp_path / "stopped")
    assert (resumed.stop_reason, resumed.last_loop) == (alone.stop_reason, alone.last_loop)
    strip = ("select_s", "label_s", "train_s", "infer_s")
    rows = [
        [{k: v for k, v in row.items() if k not in strip} for row in read_csv(p / "metrics.csv")]
        for p in (tmp_path / "alone", tmp_path / "stopped")
    ]
    assert rows[0] == rows[1]


def test_stop_when_lists_registered_criteria(tmp_path, write_config):
    config = load_config(
        write_config({"stop": {"max_loops": 30, "when": [{"name": "budget", "budget": 25}]}})
    )
    result = engine.start(config, tmp_path / "run")
    assert (result.stop_reason, result.n_labeled) == ("budget", 25)


@pytest.mark.parametrize(
    ("when", "message"),
    [
        ([{"name": "budgte", "budget": 3}], "Unknown stop criterion 'budgte' (did you mean"),
        ([{"name": "budget"}], "stop criterion 'budget': budget: required key is missing"),
        ([{"name": "budget", "budget": 3, "x": 1}], "x: unknown key; valid keys here: budget"),
        ([{"name": "pool_exhausted"}] * 2, "a criterion is listed twice"),
    ],
)
def test_stop_when_errors_name_the_criterion(cli, write_config, when, message):
    result = cli("validate", write_config({"stop": {"when": when}}))
    assert result.exit_code == 2, result.output
    assert message in result.output
    assert "Traceback" not in result.output


def test_limits_are_stop_criteria_of_their_own_file():
    assert isinstance(STOP_CRITERIA["max_loops"](max_loops=3), StopCriterion)


def test_the_readme_stop_criterion_example_works_as_written(cli, write_config, tmp_path):
    import sys

    code = readme_code("### A stop criterion")
    package = tmp_path / "mystop"
    package.mkdir()
    (package / "__init__.py").write_text("")
    (package / "stopping.py").write_text(code)
    sys.path.insert(0, str(tmp_path))
    try:
        config = write_config(
            {
                "stop": {
                    "max_loops": 40,
                    "when": [{"name": "mystop.stopping:Plateau", "patience": 2}],
                }
            }
        )
        result = cli("run", config, "--run-dir", tmp_path / "run", "-q")
    finally:
        sys.path.remove(str(tmp_path))
    assert result.exit_code == 0, result.output
    meta = (tmp_path / "run" / "run.json").read_text()
    assert '"stop_reason": "plateau"' in meta
