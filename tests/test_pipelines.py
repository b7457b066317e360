"""Models as pipelines (``model.steps``) and as factories (``model.factory``), through the CLI:
everything that works with a classifier works with a pipeline ending in one."""

from __future__ import annotations

import re
import sys
import textwrap
from pathlib import Path

import joblib
import numpy as np
import pytest
import yaml
from sklearn.datasets import load_iris, load_wine
from sklearn.linear_model import LogisticRegression
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler

from alcli.models import Learner, ModelConfig, build_model, fit_model
from alcli.seeding import MODEL, random_state_for
from alcli.strategies import SelectionContext
from alcli.strategies.distances import space

from .conftest import TINY, loop_dirs, merge, read_csv, run_into, write_csv

SCALER = {"estimator": "sklearn.preprocessing.StandardScaler"}
LOGREG = {"estimator": "sklearn.linear_model.LogisticRegression", "params": {"max_iter": 1000}}
SCALED_LOGREG = {"steps": [SCALER, LOGREG]}

MYPKG = '''
"""A user's own models, next to the config file."""

from sklearn.base import BaseEstimator, TransformerMixin
from sklearn.linear_model import LinearRegression, LogisticRegression
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler


def make_model(C=1.0, max_iter=1000):
    return make_pipeline(StandardScaler(), LogisticRegression(C=C, max_iter=max_iter))


def plain_model():
    return LogisticRegression(max_iter=1000)


def fixed_seed():
    return LogisticRegression(max_iter=1000, random_state=7)


def broken(**params):
    raise RuntimeError("no GPU on this machine")


def regressor():
    return LinearRegression()


def nothing():
    return None


def ends_in_a_scaler():
    return make_pipeline(LogisticRegression(), StandardScaler())


class ScaleFirst(BaseEstimator, TransformerMixin):
    """Multiplies the first feature by ``factor``."""

    def __init__(self, factor=1.0):
        self.factor = factor

    def fit(self, X, y=None):
        return self

    def transform(self, X):
        X = X.copy()
        X[:, 0] *= self.factor
        return X
'''


def with_mypkg(folder: Path, source: str = MYPKG) -> Path:
    """``folder/mypkg/models.py`` (a package of the user's own, beside a config)."""
    package = folder / "mypkg"
    package.mkdir(parents=True, exist_ok=True)
    (package / "__init__.py").write_text("")
    (package / "models.py").write_text(textwrap.dedent(source))
    return folder


def model_config(model: dict, **changes) -> dict:
    """TINY with ``model`` as its model section."""
    return {**merge(TINY, changes), "model": model}


def write(folder: Path, config: dict, name: str = "c.yaml") -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / name
    path.write_text(yaml.safe_dump(config, sort_keys=False))
    return path


def picks(run_dir: Path) -> list[list[str]]:
    """The ids each loop labeled, in order."""
    return [[row["id"] for row in read_csv(loop / "labels.csv")] for loop in loop_dirs(run_dir)]


def scores(run_dir: Path) -> list[dict[str, str]]:
    """metrics.csv without its timings."""
    return [
        {k: v for k, v in row.items() if not k.endswith("_s")}
        for row in read_csv(run_dir / "metrics.csv")
    ]


def last_model(run_dir: Path):
    return joblib.load(loop_dirs(run_dir)[-1] / "model.joblib")


# --- steps and factories run ------------------------------------------------------------------


def test_a_steps_pipeline_runs_and_equals_the_same_pipeline_from_a_factory(cli, tmp_path):
    steps = run_into(cli, write(tmp_path, model_config(SCALED_LOGREG)), tmp_path / "steps")
    with_mypkg(tmp_path)
    factory = {"factory": "mypkg.models:make_model", "params": {"max_iter": 1000}}
    made = run_into(cli, write(tmp_path, model_config(factory), "f.yaml"), tmp_path / "made")

    assert picks(steps) == picks(made) and len(picks(steps)) == 4
    assert scores(steps) == scores(made)
    model = last_model(steps)
    assert [type(step).__name__ for _, step in model.steps] == [
        "StandardScaler",
        "LogisticRegression",
    ]
    frozen = yaml.safe_load((steps / "config.yaml").read_text())["model"]
    assert frozen["steps"][1] == LOGREG and "estimator" not in frozen
    assert yaml.safe_load((made / "config.yaml").read_text())["model"]["code_dir"] == str(
        tmp_path.resolve()
    )


def test_a_plain_estimator_config_freezes_as_before(cli, write_config, tmp_path):
    run_dir = run_into(cli, write_config(), tmp_path / "r")
    frozen = yaml.safe_load((run_dir / "config.yaml").read_text())["model"]
    assert set(frozen) == {"estimator", "params", "retrain", "chunk_size", "n_jobs", "blas_threads"}


def test_validate_prints_the_pipeline(cli, tmp_path):
    with_mypkg(tmp_path)
    result = cli("validate", write(tmp_path, model_config(SCALED_LOGREG)))
    assert result.exit_code == 0, result.output
    assert "model StandardScaler -> LogisticRegression," in result.output

    factory = model_config({"factory": "mypkg.models:make_model"})
    result = cli("validate", write(tmp_path, factory, "f.yaml"))
    assert result.exit_code == 0, result.output
    assert (
        "model StandardScaler -> LogisticRegression (from mypkg.models:make_model)" in result.output
    )


def test_a_factory_may_return_a_plain_classifier(cli, tmp_path):
    with_mypkg(tmp_path)
    made = run_into(
        cli,
        write(tmp_path, model_config({"factory": "mypkg.models:plain_model"})),
        tmp_path / "made",
    )
    plain = run_into(cli, write(tmp_path, model_config(LOGREG), "plain.yaml"), tmp_path / "plain")
    assert picks(made) == picks(plain) and scores(made) == scores(plain)


# --- the config's folder ----------------------------------------------------------------------


def test_a_resumed_factory_run_imports_from_the_recorded_folder(cli, tmp_path, monkeypatch):
    folder = with_mypkg(tmp_path / "project")
    config = write(
        folder,
        model_config({"factory": "mypkg.models:make_model"}, stop={"max_loops": 2}),
    )
    run_dir = run_into(cli, config, tmp_path / "r")
    # A new process in another folder: mypkg is not imported yet, and not on sys.path.
    for name in [n for n in sys.modules if n == "mypkg" or n.startswith("mypkg.")]:
        monkeypatch.delitem(sys.modules, name)
    monkeypatch.chdir(tmp_path)
    result = cli("resume", run_dir, "--set", "stop.max_loops=3", "--quiet")
    assert result.exit_code == 0, result.output
    assert len(picks(run_dir)) == 4


def test_each_config_imports_its_own_folders_module(cli, tmp_path):
    first = with_mypkg(tmp_path / "first")
    second = with_mypkg(
        tmp_path / "second",
        "from sklearn.naive_bayes import GaussianNB\n\n\ndef make_model():\n"
        "    return GaussianNB()\n",
    )
    factory = model_config({"factory": "mypkg.models:make_model"})
    for folder, name in ((first, "StandardScaler -> LogisticRegression"), (second, "GaussianNB")):
        result = cli("validate", write(folder, factory))
        assert result.exit_code == 0, result.output
        assert f"model {name} (from" in result.output
    # A config whose folder has no mypkg does not get another folder's by name.
    result = cli("validate", write(tmp_path / "third", factory))
    assert result.exit_code == 2
    assert "model.factory (line" in result.output and "cannot import" in result.output
    assert str(tmp_path) not in sys.path


def test_a_users_own_step_class_from_the_configs_folder(cli, tmp_path):
    with_mypkg(tmp_path)
    model = {"steps": [{"estimator": "mypkg.models:ScaleFirst", "params": {"factor": 2}}, LOGREG]}
    run_dir = run_into(cli, write(tmp_path, model_config(model)), tmp_path / "r")
    assert type(last_model(run_dir).steps[0][1]).__name__ == "ScaleFirst"


# --- warm start and seeding -------------------------------------------------------------------

SGD = {"estimator": "sklearn.linear_model.SGDClassifier", "params": {"loss": "log_loss"}}


def test_warm_start_continues_the_pipelines_last_step(cli, tmp_path):
    config = model_config(
        {"steps": [SCALER, SGD], "retrain": "warm_start"}, output={"keep_models": "all"}
    )
    first = run_into(cli, write(tmp_path, config), tmp_path / "a")
    again = run_into(cli, write(tmp_path, config), tmp_path / "b")
    assert picks(first) == picks(again) and scores(first) == scores(again)
    assert last_model(first).steps[-1][1].warm_start is True


def test_a_warm_started_pipeline_run_extended_ends_as_the_run_made_in_one_go(cli, tmp_path):
    config = model_config({"steps": [SCALER, PCA, SGD], "retrain": "warm_start"})
    straight = run_into(cli, write(tmp_path, config), tmp_path / "straight")
    short = model_config(
        {"steps": [SCALER, PCA, SGD], "retrain": "warm_start"}, stop={"max_loops": 1}
    )
    extended = run_into(cli, write(tmp_path, short, "short.yaml"), tmp_path / "extended")
    result = cli("resume", extended, "--set", "stop.max_loops=3", "--quiet")
    assert result.exit_code == 0, result.output
    assert picks(extended) == picks(straight) and scores(extended) == scores(straight)


def test_warm_start_refits_the_same_pipeline_object():
    X, y = load_iris(return_X_y=True)
    cfg = ModelConfig(steps=[SCALER, SGD], retrain="warm_start")
    first = fit_model(cfg, None, X[::6], y[::6], seed=0, loop=0)
    second = fit_model(cfg, first, X[::2], y[::2], seed=0, loop=1)
    assert second is first
    assert second[-1].random_state == random_state_for(0, "model-step-1", 1)
    assert second[-1].warm_start is True


def test_warm_start_is_refused_when_the_last_step_has_none(cli, tmp_path):
    naive_bayes = {"estimator": "sklearn.naive_bayes.GaussianNB"}
    config = write(
        tmp_path, model_config({"steps": [SCALER, naive_bayes], "retrain": "warm_start"})
    )
    result = cli("run", config, "--run-dir", tmp_path / "r")
    assert result.exit_code == 2
    assert re.search(
        r"model\.retrain \(line \d+\): warm_start needs an estimator with a warm_start parameter "
        r"and GaussianNB \(the pipeline's last step\) has none",
        result.output,
    ), result.output
    assert not (tmp_path / "r").exists()


PCA = {"estimator": "sklearn.decomposition.PCA", "params": {"n_components": 3}}
FOREST = {"estimator": "sklearn.ensemble.RandomForestClassifier", "params": {"n_estimators": 5}}


def test_every_step_that_takes_random_state_gets_its_own_seed():
    pipeline = build_model(ModelConfig(steps=[SCALER, PCA, FOREST]), seed=4, loop=2)
    assert pipeline[1].random_state == random_state_for(4, f"{MODEL}-step-1", 2)
    assert pipeline[2].random_state == random_state_for(4, f"{MODEL}-step-2", 2)
    assert pipeline[1].random_state != pipeline[2].random_state
    members = Learner(ModelConfig(steps=[SCALER, PCA, FOREST]), seed=4, loop=2, n_classes=3)
    assert members.build(0)[2].random_state != members.build(1)[2].random_state

    kept = [SCALER, {**PCA, "params": {"n_components": 3, "random_state": 11}}, FOREST]
    assert build_model(ModelConfig(steps=kept), seed=4, loop=2)[1].random_state == 11


def test_a_factorys_unset_random_state_is_seeded_and_a_set_one_kept(tmp_path):
    with_mypkg(tmp_path)
    made = ModelConfig.model_validate(
        {"factory": "mypkg.models:plain_model"}, context={"base_dir": tmp_path}
    )
    assert build_model(made, seed=1, loop=3).random_state == random_state_for(1, MODEL, 3)
    fixed = ModelConfig.model_validate(
        {"factory": "mypkg.models:fixed_seed"}, context={"base_dir": tmp_path}
    )
    assert build_model(fixed, seed=1, loop=3).random_state == 7


def test_two_runs_of_a_seeded_pipeline_are_identical(cli, tmp_path):
    config = model_config({"steps": [SCALER, PCA, FOREST]}, seed=5)
    first = run_into(cli, write(tmp_path, config), tmp_path / "a")
    again = run_into(cli, write(tmp_path, config), tmp_path / "b")
    assert picks(first) == picks(again) and scores(first) == scores(again)
    model = last_model(first)
    assert model[1].random_state == random_state_for(5, f"{MODEL}-step-1", 3)
    assert model[2].random_state == random_state_for(5, f"{MODEL}-step-2", 3)


# --- strategies in the pipeline's space, committees, the selection model -----------------------


def wine_csv(path: Path, scale_first: float = 1.0) -> Path:
    X, y = load_wine(return_X_y=True)
    X = X.copy()
    X[:, 0] *= scale_first
    header = [f"x{i}" for i in range(X.shape[1])] + ["target"]
    return write_csv(path, header, [[*row, label] for row, label in zip(X, y, strict=True)])


@pytest.mark.parametrize(("where", "same"), [("features", False), ("model", True)])
def test_kcenter_in_model_space_measures_after_the_pipelines_transformers(
    cli, tmp_path, where, same
):
    """Scaling a feature by 1000 moves feature-space distances, not those after the scaler."""
    runs = []
    for factor in (1.0, 1000.0):
        folder = tmp_path / str(factor)
        folder.mkdir()
        wine_csv(folder / "wine.csv", factor)
        config = model_config(
            SCALED_LOGREG,
            data={"source": None, "path": "wine.csv"},
            strategy={"name": "kcenter", "space": where},
        )
        runs.append(run_into(cli, write(folder, config), folder / "r"))
    assert (picks(runs[0]) == picks(runs[1])) is same


def test_space_model_hands_the_strategy_the_transformed_features():
    X, y = load_iris(return_X_y=True)
    learner = Learner(ModelConfig(**SCALED_LOGREG), seed=0, loop=1, n_classes=3)
    labeled = np.arange(0, 150, 5)
    model = learner.fit(X[labeled], y[labeled])
    ctx = SelectionContext(
        candidates=np.setdiff1d(np.arange(150), labeled),
        proba=None,
        features=X,
        model=model,
        loop=1,
        rng=np.random.default_rng(0),
        labeled=labeled,
        labels=y[labeled],
        classes=np.arange(3),
        learner=learner,
        seed=0,
    )
    expected = StandardScaler().fit(X[labeled]).transform(X)
    np.testing.assert_allclose(space(ctx, "model"), expected)
    np.testing.assert_allclose(space(ctx, "model", labeled[:4]), expected[labeled[:4]])


def test_qbc_with_pipeline_members(cli, tmp_path):
    with_mypkg(tmp_path)
    members = [
        SCALED_LOGREG,
        {"factory": "mypkg.models:make_model", "params": {"C": 0.1}},
        {"steps": [SCALER, {"estimator": "sklearn.naive_bayes.GaussianNB"}]},
    ]
    strategy = {"name": "qbc", "models": members, "disagreement": "kl_divergence"}
    first = run_into(cli, write(tmp_path, merge(TINY, {"strategy": strategy})), tmp_path / "a")
    again = run_into(cli, write(tmp_path, merge(TINY, {"strategy": strategy})), tmp_path / "b")
    assert picks(first) == picks(again) and len(picks(first)) == 4
    # Bagged copies of a pipeline model.
    bagged = model_config(SCALED_LOGREG, strategy={"name": "qbc", "members": 3})
    run_into(cli, write(tmp_path, bagged, "bagged.yaml"), tmp_path / "bagged")


def test_qbc_kl_divergence_names_the_member_pipeline_without_probabilities(cli, tmp_path):
    svc = {"steps": [SCALER, {"estimator": "sklearn.svm.LinearSVC"}]}
    strategy = {"name": "qbc", "models": [SCALED_LOGREG, svc], "disagreement": "kl_divergence"}
    result = cli("validate", write(tmp_path, merge(TINY, {"strategy": strategy})))
    assert result.exit_code == 2
    assert "models entry 2 (StandardScaler -> LinearSVC) does not offer" in result.output


def test_a_pipeline_as_the_selection_model(cli, tmp_path):
    config = model_config(FOREST, strategy={"name": "margin", "model": SCALED_LOGREG})
    path = write(tmp_path, config)
    result = cli("validate", path)
    assert result.exit_code == 0, result.output
    assert "strategy margin (scored by StandardScaler -> LogisticRegression)" in result.output
    run_dir = run_into(cli, path, tmp_path / "r")
    assert type(last_model(run_dir)).__name__ == "RandomForestClassifier"


def test_a_pipeline_as_the_labeling_model(cli, tmp_path):
    X, y = load_iris(return_X_y=True)
    header = [f"x{i}" for i in range(4)] + ["target"]
    write_csv(tmp_path / "pool.csv", header, [[*X[i], y[i]] for i in range(1, 150, 3)])
    write_csv(tmp_path / "train.csv", header, [[*X[i], y[i]] for i in range(0, 150, 3)])
    labeler = {
        "kind": "model",
        "model": SCALED_LOGREG,
        "train_path": "train.csv",
        "threshold": 0.5,
        "fallback": {"kind": "oracle"},
    }
    config = merge(
        TINY, {"data": {"source": None, "path": "pool.csv", "test_size": 0.3}, "labeler": labeler}
    )
    run_dir = run_into(cli, write(tmp_path, config), tmp_path / "r")
    labelers = {
        row["labeler"] for loop in loop_dirs(run_dir) for row in read_csv(loop / "labels.csv")
    }
    assert "model" in labelers


# --- bad input ----------------------------------------------------------------------------------

BAD = [
    (
        "an unknown step estimator, the nearest suggested",
        {"steps": [{"estimator": "sklearn.preprocessing.StandardScalar"}, LOGREG]},
        r"model\.steps\.0\.estimator \(line \d+\): cannot import "
        r"'sklearn\.preprocessing\.StandardScalar': .*\(did you mean "
        r"'sklearn\.preprocessing\.StandardScaler'\?\)",
    ),
    (
        "a misspelt module in a step",
        {"steps": [SCALER, {"estimator": "sklearn.linear_modle.LogisticRegression"}]},
        r"model\.steps\.1\.estimator \(line \d+\): cannot import .*\(did you mean "
        r"'sklearn\.linear_model\.LogisticRegression'\?\)",
    ),
    (
        "a class name alone",
        {"steps": [{"estimator": "StandardScaler"}, LOGREG]},
        r"model\.steps\.0\.estimator .*did you mean 'sklearn\.preprocessing\.StandardScaler'",
    ),
    (
        "a last step that is not a classifier",
        {"steps": [LOGREG, SCALER]},
        r"model\.steps\.0\.estimator \(line \d+\): LogisticRegression is not a transformer "
        r"\(it has no transform method\), and a classifier goes last",
    ),
    (
        "a pipeline of transformers only",
        {"steps": [SCALER, PCA]},
        r"model\.steps\.1\.estimator \(line \d+\): PCA is not a classifier; a pipeline's last "
        r"step is the classifier",
    ),
    (
        "a step that is not a transformer",
        {"steps": [{"estimator": "sklearn.naive_bayes.GaussianNB"}, LOGREG]},
        r"model\.steps\.0\.estimator \(line \d+\): GaussianNB is not a transformer",
    ),
    (
        "an empty steps list",
        {"steps": []},
        r"model\.steps \(line \d+\): a pipeline needs at least one step, the classifier last",
    ),
    (
        "both estimator and steps",
        {"estimator": "sklearn.svm.SVC", **SCALED_LOGREG},
        r"model\.steps \(line \d+\): give one of estimator .*, not both estimator and steps",
    ),
    (
        "params beside steps",
        {**SCALED_LOGREG, "params": {"C": 2}},
        r"model\.params \(line \d+\): with steps, each step has its own params",
    ),
    (
        "a step's params it does not take",
        {"steps": [{**SCALER, "params": {"with_means": False}}, LOGREG]},
        r"model\.steps\.0\.params \(line \d+\): they do not fit StandardScaler: .*'with_means'",
    ),
    (
        "a step's param value it refuses",
        {"steps": [SCALER, {**LOGREG, "params": {"C": -1}}]},
        r"model\.steps\.1\.params \(line \d+\): they do not fit LogisticRegression: .*'C'",
    ),
    (
        "a step without an estimator",
        {"steps": [{"params": {}}, LOGREG]},
        r"model\.steps\.0\.estimator \(line \d+\): required key is missing",
    ),
    (
        "Pipeline as the estimator",
        {"estimator": "sklearn.pipeline.Pipeline", "params": {"steps": []}},
        r"model\.estimator \(line \d+\): a pipeline is given as model steps, .*steps: "
        r"\[\{estimator: sklearn\.preprocessing\.StandardScaler\}",
    ),
    (
        "a factory that raises",
        {"factory": "mypkg.models:broken"},
        r"model\.factory \(line \d+\): mypkg\.models:broken failed when called with model\.params "
        r"\{\}: RuntimeError: no GPU on this machine",
    ),
    (
        "a factory that returns a regressor",
        {"factory": "mypkg.models:regressor"},
        r"model\.factory \(line \d+\): mypkg\.models:regressor returned a LinearRegression, not "
        r"a classifier; a factory returns a scikit-learn classifier or a Pipeline ending in one",
    ),
    (
        "a factory that returns nothing",
        {"factory": "mypkg.models:nothing"},
        r"model\.factory \(line \d+\): mypkg\.models:nothing returned None, not a classifier",
    ),
    (
        "a factory whose pipeline ends in a transformer",
        {"factory": "mypkg.models:ends_in_a_scaler"},
        r"model\.factory \(line \d+\): .*returned a pipeline \(LogisticRegression -> "
        r"StandardScaler\) whose step 0: LogisticRegression is not a transformer",
    ),
    (
        "a factory given params it does not take",
        {"factory": "mypkg.models:make_model", "params": {"alpha": 1}},
        r"model\.factory \(line \d+\): .*failed when called with model\.params \{'alpha': 1\}: "
        r"TypeError: .*'alpha'",
    ),
    (
        "a factory function that does not exist",
        {"factory": "mypkg.models:make_modle"},
        r"model\.factory \(line \d+\): cannot import 'mypkg\.models:make_modle': module "
        r"'mypkg\.models' has no attribute 'make_modle' \(did you mean "
        r"'mypkg\.models:make_model'\?\)",
    ),
    (
        "a factory module that does not exist",
        {"factory": "nosuchpkg.models:make_model"},
        r"model\.factory \(line \d+\): cannot import 'nosuchpkg\.models:make_model': module "
        r"'nosuchpkg\.models' cannot be imported.*config file's folder or installed",
    ),
]


@pytest.mark.parametrize(("model", "pattern"), [c[1:] for c in BAD], ids=[c[0] for c in BAD])
@pytest.mark.parametrize("command", ["validate", "run"])
def test_a_bad_model_is_one_message_naming_the_key(cli, tmp_path, command, model, pattern):
    with_mypkg(tmp_path)
    config = write(tmp_path, model_config(model))
    args = ("--run-dir", tmp_path / "r") if command == "run" else ()
    result = cli(command, config, *args)
    assert result.exit_code == 2, result.output
    assert re.search(pattern, result.output), result.output
    assert "Traceback" not in result.output
    assert not (tmp_path / "r").exists() and not (tmp_path / "runs").exists()


def test_a_bad_step_elsewhere_is_named_by_its_full_key(cli, tmp_path):
    bad_steps = {"steps": [SCALER, {"estimator": "sklearn.preprocessing.MinMaxScaler"}]}
    config = merge(TINY, {"strategy": {"name": "margin", "model": bad_steps}})
    result = cli("validate", write(tmp_path, config))
    assert result.exit_code == 2
    assert re.search(
        r"strategy\.model\.steps\.1\.estimator \(line \d+\): MinMaxScaler is not a classifier",
        result.output,
    ), result.output

    committee = {"name": "qbc", "models": [SCALED_LOGREG, bad_steps]}
    result = cli("validate", write(tmp_path, merge(TINY, {"strategy": committee})))
    assert result.exit_code == 2
    assert re.search(
        r"models: entry 2 is not a model config \(steps\.1\.estimator: MinMaxScaler is not a "
        r"classifier",
        result.output,
    ), result.output


def test_the_pipeline_built_equals_the_one_written_in_python():
    X, y = load_iris(return_X_y=True)
    built = fit_model(ModelConfig(**SCALED_LOGREG), None, X, y, seed=0, loop=0)
    by_hand = make_pipeline(
        StandardScaler(),
        LogisticRegression(max_iter=1000, random_state=random_state_for(0, "model-step-1", 0)),
    ).fit(X, y)
    np.testing.assert_array_equal(built.predict_proba(X), by_hand.predict_proba(X))
