"""Every user mistake is refused before anything is written.

Each case in ``CASES`` is one mistake in a config, a data file or a ``--set`` option. Through
``alcli run`` and ``alcli validate`` alike it must end in exit code 2 and one message on stderr
that names the offending key or file (and the YAML line, or "(from --set)", when there is one),
with no traceback, nothing on stdout and no run directory.
"""

from __future__ import annotations

import re
import traceback
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pytest
import yaml
from typer.testing import CliRunner

from alcli.cli import app

IRIS = "data: {source: sklearn:iris}\n"
CSV = (
    "id,a,b,target\n"
    "1,1.0,2.0,0\n"
    "2,1.5,2.5,1\n"
    "3,0.5,1.0,0\n"
    "4,2.0,3.0,1\n"
    "5,0.1,0.2,0\n"
    "6,2.2,3.1,1\n"
    "7,0.3,0.4,0\n"
    "8,2.5,3.3,1\n"
)
ON_CSV = "data: {path: data.csv, test_size: 0.5}\ninit: {size: 2}\nstop: {max_loops: 1}\n"

FileContent = str | bytes | dict[str, np.ndarray]  # text, raw bytes, or the arrays of an .npz


@dataclass(frozen=True)
class Case:
    id: str
    config: str | bytes | None  # experiment.yaml; None: the file is not written
    pattern: str  # searched in stderr with re.MULTILINE ("." stays within a line)
    files: dict[str, FileContent] = field(default_factory=dict)
    args: tuple[str, ...] = ()


CASES = [
    # --- the config file itself ---------------------------------------------------------------
    Case("missing config file", None, r"experiment\.yaml: 1 problem:\n +file not found"),
    Case("empty file", "", r"experiment\.yaml: 1 problem:\n +the file is empty"),
    Case("not a mapping", "- data\n- seed\n", r"top level must be a mapping .*got a list"),
    Case(
        "malformed YAML",
        "data:\n  source: sklearn:iris\n  test_size: [0.2\nseed: 1\n",
        r"line 4, column \d+: malformed YAML",
    ),
    Case(
        "not UTF-8", "name: caf\xe9\n".encode("latin-1") + IRIS.encode(), r"cannot be read: .*utf-8"
    ),
    Case(
        "duplicate key",
        IRIS + "seed: 1\nstop: {max_loops: 1}\nseed: 2\n",
        r"(?i)^(?=.*\bseed\b)(?=.*\bline [24]\b)(?=.*(twice|duplicate|more than once))",
    ),
    # --- keys and values ----------------------------------------------------------------------
    Case(
        "unknown top-level key",
        IRIS + "stategy: {name: margin}\n",
        r"stategy \(line 2\): unknown key \(did you mean 'strategy'\?\); valid keys here: .*",
    ),
    Case(
        "unknown nested key",
        IRIS + "init:\n  sise: 5\n",
        r"init\.sise \(line 3\): unknown key \(did you mean 'size'\?\); "
        r"valid keys here: method, size",
    ),
    Case(
        "unknown deeply nested key",
        IRIS + "stop:\n  target: {metrc: accuracy, value: 0.9}\n",
        r"stop\.target\.metrc \(line 3\): unknown key \(did you mean 'metric'\?\)",
    ),
    Case(
        "unknown strategy",
        IRIS + "strategy: {name: margn}\n",
        r"strategy\.name \(line 2\): Unknown strategy 'margn' \(did you mean 'margin'\?\)\. "
        r"Available: bald, bandit, .*, margin, .*, random, .*uncertainty_trend\. Your own "
        r"strategy is named by import path",
    ),
    Case(
        "unknown strategy parameter",
        IRIS + "strategy: {name: margin, batch: 3}\n",
        r"strategy \(line 2\): strategy 'margin': batch: unknown key",
    ),
    Case(
        "strategy import path that does not import",
        IRIS + "strategy: {name: 'nosuchpkg.strategies:Mine'}\n",
        r"strategy\.name \(line 2\): cannot import strategy 'nosuchpkg\.strategies:Mine'.*"
        r"package\.module:Class",
    ),
    Case(
        "strategy import path to something that is not a strategy",
        IRIS + "strategy: {name: 'sklearn.linear_model:LogisticRegression'}\n",
        r"strategy\.name \(line 2\): 'sklearn\.linear_model:LogisticRegression' is not a "
        r"strategy: it must be a subclass of alcli\.strategies\.Strategy",
    ),
    Case(
        "strategy import path to an abstract strategy",
        IRIS + "strategy: {name: 'alcli.strategies:ScoreStrategy'}\n",
        r"strategy\.name \(line 2\): strategy 'alcli\.strategies:ScoreStrategy' does not "
        r"implement score",
    ),
    Case(
        "a user's strategy whose constructor fails",
        IRIS + "strategy: {name: 'tests.user_strategy:FailsToBuild'}\n",
        r"strategy\.name \(line 2\): 'tests\.user_strategy:FailsToBuild' cannot be built with "
        r"these parameters: RuntimeError: no GPU found",
    ),
    Case(
        "a user's strategy without a name",
        IRIS + "strategy: {name: 'tests.user_strategy:Nameless'}\n",
        r"strategy\.name \(line 2\): strategy 'tests\.user_strategy:Nameless' needs a class "
        r"attribute name",
    ),
    Case(
        "a user's strategy whose Params is not a pydantic model",
        IRIS + "strategy: {name: 'tests.user_strategy:PlainParams'}\n",
        r"strategy\.name \(line 2\): strategy 'tests\.user_strategy:PlainParams': Params must "
        r"be a pydantic BaseModel",
    ),
    Case(
        "a bandit arm that is not a mapping",
        IRIS + "strategy: {name: bandit, strategies: [margin, random]}\n",
        r"strategy \(line 2\): strategy 'bandit': strategies\.0: must be a mapping like "
        r"\{name: margin\}; got 'margin'",
    ),
    Case(
        "missing feature values with a distance strategy",
        "data: {path: data.csv, test_size: 0.5}\ninit: {size: 2}\nstop: {max_loops: 1}\n"
        "model: {estimator: sklearn.ensemble.HistGradientBoostingClassifier}\n"
        "strategy: {name: kcenter}\n",
        r"data\.csv: missing feature values in 1 record \(ids 3\), and strategy 'kcenter' \(it "
        r"measures distances between records\) cannot take NaN",
        files={"data.csv": CSV.replace("3,0.5,1.0,0", "3,,1.0,0")},
    ),
    Case(
        "missing feature values with a selection model that cannot take them",
        "data: {path: data.csv, test_size: 0.5}\ninit: {size: 2}\nstop: {max_loops: 1}\n"
        "model: {estimator: sklearn.ensemble.HistGradientBoostingClassifier}\n"
        "strategy: {name: margin, model: {estimator: sklearn.linear_model.LogisticRegression}}\n",
        r"data\.csv: missing feature values in 1 record \(ids 3\), and LogisticRegression "
        r"\(strategy\.model\) cannot take NaN",
        files={"data.csv": CSV.replace("3,0.5,1.0,0", "3,,1.0,0")},
    ),
    Case(
        "strategy name and phases both given",
        IRIS + "strategy: {name: margin, phases: [{name: random}]}\n",
        r"strategy\.phases \(line 2\): give either name \(one strategy\) or phases",
    ),
    Case(
        "a leading phase without loops",
        IRIS + "strategy:\n  phases: [{name: random}, {name: margin}]\n",
        r"strategy\.phases \(line 3\): phase 1 \(random\) needs loops",
    ),
    Case(
        "the last phase with loops",
        IRIS + "strategy:\n  phases: [{name: random, loops: 2}, {name: margin, loops: 3}]\n",
        r"strategy\.phases \(line 3\): the last phase \(margin\) runs until the run stops; "
        r"remove its loops",
    ),
    Case(
        "an unknown strategy inside a phase",
        IRIS + "strategy:\n  phases: [{name: random, loops: 2}, {name: margn}]\n",
        r"strategy\.phases\.1\.name \(line 3\): Unknown strategy 'margn' \(did you mean "
        r"'margin'\?\)",
    ),
    Case(
        "zero loops in a phase",
        IRIS + "strategy:\n  phases: [{name: random, loops: 0}, {name: margin}]\n",
        r"strategy\.phases\.0\.loops \(line 3\): .*greater than 0",
    ),
    Case(
        "strategy parameters beside phases",
        IRIS + "strategy:\n  phases: [{name: random, loops: 2}, {name: margin}]\n  beta: 2\n",
        r"strategy\.beta \(line 4\): with phases, a strategy's keys go inside its phase",
    ),
    Case(
        "a selection model without the scores its strategy needs",
        IRIS + "strategy:\n  name: entropy\n  model: {estimator: sklearn.svm.LinearSVC}\n",
        r"strategy\.model \(line \d\): 'entropy' scores records with predict_proba, which "
        r"LinearSVC does not offer",
    ),
    Case(
        "a selection model that is not a classifier",
        IRIS + "strategy:\n  name: margin\n  model: {estimator: sklearn.linear_model.Ridge}\n",
        r"strategy\.model.*Ridge is not a classifier",
    ),
    Case(
        "a price for a class the data does not have",
        IRIS + "labeler: {kind: oracle, cost: {per_label: 1, per_class: {7: 3}}}\n",
        r"labeler\.cost\.per_class \(oracle\): 7 is not a class of the data; the classes are "
        r"0, 1, 2",
    ),
    Case(
        "unknown dataset",
        "data: {source: sklearn:digit}\n",
        r"data\.source \(line 1\): Unknown dataset 'sklearn:digit' \(did you mean "
        r"'sklearn:digits'\?\)\. Available: .*sklearn:iris",
    ),
    Case(
        "unknown schedule",
        IRIS + "loop_size: {schedule: constent, size: 5}\n",
        r"loop_size\.schedule \(line 2\): Unknown schedule 'constent' \(did you mean "
        r"'constant'\?\)\. Available: constant, geometric, linear, list\.",
    ),
    Case(
        "unknown init method",
        IRIS + "init: {method: kmean}\n",
        r"init\.method \(line 2\): Unknown method 'kmean' \(did you mean 'kmeans'\?\)\. "
        r"Available: ids, kmeans, labeled, random\.",
    ),
    Case(
        "unknown labeler",
        IRIS + "labeler: {kind: human}\n",
        r"labeler\.kind \(line 2\): Unknown kind 'human'\. Available: file, label_studio, model, "
        r"noisy_oracle, oracle, rules, terminal\.",
    ),
    Case(
        "seed not a number",
        "seed: abc\n" + IRIS,
        r"seed \(line 1\): Input should be a valid integer.*; got 'abc'",
    ),
    Case(
        "loop size not a number",
        IRIS + "loop_size: {size: many}\n",
        r"loop_size\.size \(line 2\): Input should be a valid integer.*; got 'many'",
    ),
    Case(
        "name with spaces",
        "name: my run!\n" + IRIS,
        r"name \(line 1\): String should match pattern .*; got 'my run!'",
    ),
    Case(
        "loop size 0",
        IRIS + "loop_size: {size: 0}\n",
        r"loop_size\.size \(line 2\): Input should be greater than 0; got 0",
    ),
    Case(
        "init size 0",
        IRIS + "init: {size: 0}\n",
        r"init\.size \(line 2\): Input should be greater than 0; got 0",
    ),
    Case(
        "geometric factor 1",
        IRIS + "loop_size: {schedule: geometric, size: 5, factor: 1}\n",
        r"loop_size\.factor \(line 2\): Input should be greater than 1; got 1",
    ),
    Case(
        "negative max_loops",
        IRIS + "stop: {max_loops: -1}\n",
        r"stop\.max_loops \(line 2\): Input should be greater than or equal to 0; got -1",
    ),
    Case(
        "budget below init size",
        IRIS + "init: {size: 10}\nstop: {budget: 5}\n",
        r"stop\.budget \(line 3\): 5 is below init\.size \(10\)",
    ),
    Case(
        "negative test_size",
        "data: {source: sklearn:iris, test_size: -0.2}\n",
        r"data\.test_size \(line 1\): Input should be greater than or equal to 0; got -0\.2",
    ),
    Case(
        "test_size 1",
        "data: {source: sklearn:iris, test_size: 1}\n",
        r"data\.test_size \(line 1\): Input should be less than 1; got 1",
    ),
    Case(
        "both data.source and data.path",
        "data: {source: sklearn:iris, path: data.csv}\n",
        r"data \(line 1\): give exactly one of data\.source .* or data\.path",
        files={"data.csv": CSV},
    ),
    Case(
        "neither data.source nor data.path",
        "data: {test_size: 0.3}\n",
        r"data \(line 1\): give exactly one of data\.source .* or data\.path",
    ),
    Case(
        "both test_size and test_path",
        "data: {path: data.csv, test_size: 0.2, test_path: data.csv}\n",
        r"data\.test_path \(line 1\): give either data\.test_size or data\.test_path, not both",
        files={"data.csv": CSV},
    ),
    Case(
        "init ids without a path",
        IRIS + "init: {method: ids}\n",
        r"init\.path \(line 2\): required key is missing",
    ),
    Case(
        "stop target metric not in metrics",
        IRIS + "stop: {target: {metric: roc_auc_ovr, value: 0.9}}\n",
        r"stop\.target\.metric 'roc_auc_ovr' is not in metrics \(accuracy, f1_macro\)",
    ),
    Case(
        "unknown metric",
        IRIS + "metrics: [accuracy, f1_makro]\n",
        r"metrics \(line 2\): Unknown metric 'f1_makro' \(did you mean 'f1_macro'\?\)",
    ),
    Case(
        "metric listed twice",
        IRIS + "metrics: [accuracy, accuracy]\n",
        r"metrics \(line 2\): a metric is listed twice",
    ),
    # --- the model ----------------------------------------------------------------------------
    Case(
        "estimator class does not exist",
        IRIS + "model: {estimator: sklearn.linear_model.NoSuch}\n",
        r"model\.estimator \(line 2\): cannot import 'sklearn\.linear_model\.NoSuch': module "
        r"'sklearn\.linear_model' has no attribute 'NoSuch'",
    ),
    Case(
        "estimator package does not exist",
        IRIS + "model: {estimator: nosuchpkg.Model}\n",
        r"model\.estimator \(line 2\): cannot import 'nosuchpkg\.Model': module 'nosuchpkg' "
        r"cannot be imported",
    ),
    Case(
        "estimator is a function",
        IRIS + "model: {estimator: sklearn.metrics.accuracy_score}\n",
        r"model\.estimator \(line 2\): 'sklearn\.metrics\.accuracy_score' is not an "
        r"estimator class",
    ),
    Case(
        "estimator is a regressor",
        IRIS + "model: {estimator: sklearn.linear_model.LinearRegression}\n"
        "strategy: {name: random}\nstop: {max_loops: 1}\n",
        r"model\.estimator.*LinearRegression.*classifier",
    ),
    Case(
        "estimator param it does not take",
        IRIS + "model: {params: {bogus: 1}}\n",
        r"model\.params \(line 2\): they do not fit LogisticRegression: .*unexpected keyword "
        r"argument 'bogus'",
    ),
    Case(
        "estimator param value it refuses",
        IRIS + "model: {params: {C: -1}}\nstop: {max_loops: 1}\n",
        r"^(?=.*model)(?=.*LogisticRegression)(?=.*'C')(?=.*-1)",
    ),
    Case(
        "no predict_proba for strategy entropy",
        IRIS + "model: {estimator: sklearn.svm.LinearSVC}\nstrategy: {name: entropy}\n",
        r"strategy\.name \(line \d\): 'entropy' scores records with predict_proba, which "
        r"LinearSVC does not offer",
    ),
    Case(
        "neither predict_proba nor decision_function for margin",
        IRIS + "model: {estimator: tests.flaky_model:PredictsOnly}\nstrategy: {name: margin}\n",
        r"strategy\.name \(line \d\): 'margin' scores records with predict_proba or "
        r"decision_function, which PredictsOnly does not offer",
    ),
    Case(
        "no predict_proba for metric neg_log_loss",
        IRIS + "model: {estimator: sklearn.svm.LinearSVC}\nstrategy: {name: random}\n"
        "metrics: [accuracy, neg_log_loss]\nstop: {max_loops: 1}\n",
        r"^(?=.*metrics)(?=.*neg_log_loss)(?=.*LinearSVC)(?=.*predict_proba)",
    ),
    Case(
        "binary metric on 3 classes",
        IRIS + "metrics: [accuracy, roc_auc]\nstop: {max_loops: 1}\n",
        r"^(?=.*\broc_auc\b)(?=.*(binary|2 classes|two classes|3 classes|multiclass))",
    ),
    Case(
        "warm_start without a warm_start parameter",
        IRIS + "model: {estimator: sklearn.naive_bayes.GaussianNB, retrain: warm_start}\n",
        r"model\.retrain \(line \d\): warm_start needs an estimator with a warm_start "
        r"parameter and GaussianNB has none",
    ),
    # --- data files ---------------------------------------------------------------------------
    Case(
        "missing data file",
        "data: {path: missing.csv}\n",
        r"missing\.csv: file not found \(data\.path / data\.test_path\)",
    ),
    Case(
        "unsupported data file type",
        "data: {path: data.txt}\n",
        r"data\.txt: unsupported file type '\.txt'",
        files={"data.txt": CSV},
    ),
    Case("empty CSV", ON_CSV, r"data\.csv: the file is empty", files={"data.csv": ""}),
    Case(
        "CSV with a header only",
        ON_CSV,
        r"data\.csv: the file has a header but no records",
        files={"data.csv": "id,a,b,target\n"},
    ),
    Case(
        "CSV neither UTF-8 nor cp1252",
        ON_CSV,
        r"data\.csv: cannot be read as CSV: line 1 .*utf-8 or cp1252.*save it as CSV UTF-8",
        files={"data.csv": CSV.replace(",a,", ",caf\x81,").encode("latin-1")},
    ),
    Case(
        "CSV without the target column",
        "data: {path: data.csv, target: label}\n",
        r"data\.csv: no 'label' column \(data\.target\)\. Columns: id, a, b, target",
        files={"data.csv": CSV},
    ),
    Case(
        "CSV without an explicitly named id column",
        ON_CSV.replace("test_size", "id: record_id, test_size"),
        r"^(?=.*data\.csv)(?=.*'record_id')(?=.*data\.id)",
        files={"data.csv": CSV},
    ),
    Case(
        "data.features names a missing column",
        "data: {path: data.csv, features: [a, c]}\n",
        r"data\.csv: data\.features names columns it lacks: c",
        files={"data.csv": CSV},
    ),
    Case(
        "data.features includes the target",
        ON_CSV.replace("test_size", "features: [a, target], test_size"),
        r"^(?=.*data\.features)(?=.*\btarget\b)",
        files={"data.csv": CSV},
    ),
    Case(
        "CSV row with too few fields",
        ON_CSV,
        r"data\.csv, line 4: 3 fields where the header has 4",
        files={"data.csv": CSV.replace("3,0.5,1.0,0", "3,0.5,0")},
    ),
    Case(
        "CSV with a non-numeric feature and data.preprocess: none",
        ON_CSV.replace("test_size: 0.5}", "test_size: 0.5, preprocess: none}"),
        r"data\.csv, line 3, column 'b': 'abc' is not a number.*data\.preprocess: auto",
        files={"data.csv": CSV.replace("2,1.5,2.5,1", "2,1.5,abc,1")},
    ),
    Case(
        "CSV with a column declared numeric that holds a word",
        ON_CSV.replace("test_size: 0.5}", "test_size: 0.5, preprocess: {columns: {b: numeric}}}"),
        r"data\.csv, column 'b': declared numeric, but 'abc' is not a number",
        files={"data.csv": CSV.replace("2,1.5,2.5,1", "2,1.5,abc,1")},
    ),
    Case(
        "CSV with an empty feature column, preprocessed",
        ON_CSV.replace("test_size: 0.5}", "test_size: 0.5, preprocess: {}}"),
        r"data\.csv, column 'b': every cell is empty",
        files={"data.csv": "id,a,b,target\n1,1.0,,0\n2,1.5,,1\n3,2.0,,0\n4,2.5,,1\n"},
    ),
    Case(
        "CSV with an infinite feature",
        ON_CSV,
        r"^(?=.*data\.csv)(?=.*line 3)(?=.*column 'b')(?=.*(?i:inf))",
        files={"data.csv": CSV.replace("2,1.5,2.5,1", "2,1.5,inf,1")},
    ),
    Case(
        "CSV with one class only",
        ON_CSV,
        r"data\.csv: active learning needs at least 2 classes in 'target'; found only '0'",
        files={"data.csv": CSV.replace(",1\n", ",0\n")},
    ),
    Case(
        "CSV with NaN and a model that cannot take it",
        ON_CSV,
        r"data\.csv: missing feature values in 1 record \(ids 8\), and LogisticRegression "
        r"\(model\) cannot take NaN",
        files={"data.csv": CSV.replace("8,2.5,3.3,1", "8,2.5,,1")},
    ),
    Case(
        "CSV with unlabeled records and the oracle labeler",
        ON_CSV,
        r"data\.csv: the oracle labeler reveals the target .* 1 pool record lacks one \(ids 9\)",
        files={"data.csv": CSV + "9,1.0,1.0,\n"},
    ),
    Case(
        "CSV with duplicate ids",
        ON_CSV,
        r"data\.csv: ids must be unique; repeated: 2",
        files={"data.csv": CSV.replace("\n3,", "\n2,")},
    ),
    Case(
        "test set too small to stratify",
        ON_CSV.replace("0.5", "0.1"),
        r"data\.csv: cannot hold out a stratified test set of test_size=0\.1",
        files={"data.csv": CSV},
    ),
    Case(
        "test_path with unlabeled records",
        "data: {path: data.csv, test_path: test.csv}\ninit: {size: 2}\n",
        r"test\.csv: the test set must be labeled, but 1 record lacks a target \(ids 11\)",
        files={"data.csv": CSV, "test.csv": "id,a,b,target\n10,1,2,0\n11,2,3,\n12,1,1,1\n"},
    ),
    Case(
        "test_path with other columns",
        "data: {path: data.csv, test_path: test.csv}\ninit: {size: 2}\n",
        r"test\.csv: its feature columns \(a, c\) differ from .*data\.csv's \(a, b\)",
        files={"data.csv": CSV, "test.csv": "id,a,c,target\n10,1,2,0\n12,1,1,1\n"},
    ),
    Case(
        "NPZ without X",
        "data: {path: data.npz}\n",
        r"data\.npz: no array 'X'; .* It has: Z, y",
        files={"data.npz": {"Z": np.zeros((8, 2)), "y": np.array([0, 1] * 4)}},
    ),
    Case(
        "NPZ with a 1-D X",
        "data: {path: data.npz}\n",
        r"data\.npz: X must be 2-D and y 1-D .*got X \(8,\) and y \(8,\)",
        files={"data.npz": {"X": np.zeros(8), "y": np.array([0, 1] * 4)}},
    ),
    Case(
        "NPZ that is not an NPZ",
        "data: {path: data.npz}\n",
        r"data\.npz: cannot be read as NPZ",
        files={"data.npz": "X,y\n1,0\n"},
    ),
    # --- data against the config --------------------------------------------------------------
    Case(
        "init size larger than the pool",
        IRIS + "init: {size: 500}\n",
        r"init\.size \(500\) is larger than the pool \(112 records",
    ),
    Case(
        "init ids not in the pool",
        ON_CSV.replace("{size: 2}", "{method: ids, path: ids.txt}"),
        r"ids\.txt: ids not in the pool \(init\.path\): zzz",
        files={"data.csv": CSV, "ids.txt": "1\nzzz\n"},
    ),
    Case(
        "init ids file missing",
        ON_CSV.replace("{size: 2}", "{method: ids, path: ids.txt}"),
        r"ids\.txt: file not found \(init\.path\)",
        files={"data.csv": CSV},
    ),
    Case(
        "init ids listed twice",
        ON_CSV.replace("{size: 2}", "{method: ids, path: ids.txt}"),
        r"ids\.txt: an id is listed twice \(init\.path\)",
        files={"data.csv": CSV, "ids.txt": "1\n1\n"},
    ),
    Case(
        "ids init over the budget",
        "data: {path: data.csv, test_size: 0.5}\ninit: {method: ids, path: ids.txt}\n"
        "stop: {budget: 2}\n",
        r"stop\.budget \(2\) is below the initial set \(3 records from init\.method ids\)",
        files={"data.csv": CSV, "ids.txt": "1\n2\n3\n"},
    ),
    Case(
        "labeled init with the oracle",
        "data: {path: data.csv, test_size: 0.5}\ninit: {method: labeled}\n",
        r"init\.method: labeled takes the records whose target the data already holds",
        files={"data.csv": CSV},
    ),
    Case(
        "inference threads of 0",
        IRIS + "model: {n_jobs: 0}\n",
        r"model\.n_jobs \(line 2\): must be a positive number of threads, or -1",
    ),
    Case(
        "a section that is not a mapping",
        IRIS + "init: 5\n",
        r"init \(line 2\): must be a mapping like \{method: random, size: 20\}; got 5",
    ),
    Case(
        "CSV with a repeated column name",
        ON_CSV,
        r"data\.csv: the header row has repeated column names: a",
        files={"data.csv": "id,a,a,target\n" + "".join(f"{i},1,2,{i % 2}\n" for i in range(8))},
    ),
    Case(
        "NPZ with a continuous y",
        "data: {path: data.npz}\n",
        r"data\.npz: y holds numbers that are not whole .* alcli needs class labels",
        files={"data.npz": {"X": np.ones((8, 2)), "y": np.linspace(0, 1, 8)}},
    ),
    Case(
        "NPZ with complex features",
        "data: {path: data.npz}\n",
        r"data\.npz: X must hold real numbers; got dtype complex128",
        files={"data.npz": {"X": np.ones((8, 2), dtype=complex), "y": np.arange(8) % 2}},
    ),
    Case(
        "NPZ with no feature columns",
        "data: {path: data.npz}\n",
        r"data\.npz: X has no feature columns",
        files={"data.npz": {"X": np.ones((8, 0)), "y": np.arange(8) % 2}},
    ),
    # --- --set --------------------------------------------------------------------------------
    Case(
        "--set without =",
        "seed: 0\n" + IRIS,
        r"--set 'seed': expected key\.path=value",
        args=("--set", "seed"),
    ),
    Case(
        "--set without a key",
        IRIS,
        r"--set '=3': expected key\.path=value",
        args=("--set", "=3"),
    ),
    Case(
        "--set onto a scalar",
        "seed: 0\n" + IRIS,
        r"--set 'seed\.x=1': seed is an? int, not a section",
        args=("--set", "seed.x=1"),
    ),
    Case(
        "--set an unknown strategy",
        IRIS,
        r"strategy\.name \(from --set\): Unknown strategy 'margn' \(did you mean 'margin'\?\)",
        args=("--set", "strategy.name=margn"),
    ),
    Case(
        "--set a bad value",
        IRIS + "init: {size: 5}\n",
        r"init\.size \(from --set\): Input should be greater than 0; got 0",
        args=("--set", "init.size=0"),
    ),
    Case(
        "--set an unknown key",
        IRIS,
        r"stategy \(from --set\): unknown key \(did you mean 'strategy'\?\)",
        args=("--set", "stategy.name=margin"),
    ),
]


def write_files(folder: Path, files: dict[str, FileContent]) -> None:
    for name, content in files.items():
        path = folder / name
        if isinstance(content, dict):
            with path.open("wb") as handle:  # np.savez would append .npz to a str path
                np.savez(handle, **content)
        elif isinstance(content, bytes):
            path.write_bytes(content)
        else:
            path.write_text(content, encoding="utf-8")


def invoke(*args: str | Path):
    return CliRunner().invoke(app, [str(a) for a in args])


@pytest.mark.parametrize("command", ["run", "validate"])
@pytest.mark.parametrize("case", CASES, ids=lambda case: case.id)
def test_user_mistake_is_refused_with_a_clear_message(case, command, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)  # a stray default runs/ folder would land here too
    config = tmp_path / "experiment.yaml"
    if isinstance(case.config, bytes):
        config.write_bytes(case.config)
    elif case.config is not None:
        config.write_text(case.config, encoding="utf-8")
    write_files(tmp_path, case.files)
    runs = tmp_path / "runs"
    args = ["--run-dir", runs / "x"] if command == "run" else []

    result = invoke(command, config, *args, *case.args)

    crashed = result.exception is not None and not isinstance(result.exception, SystemExit)
    crash = "".join(traceback.format_exception(*result.exc_info)) if crashed else ""
    shown = f"exit {result.exit_code}\nstderr:\n{result.stderr}\n{crash}"
    assert result.exit_code == 2, shown
    assert result.stderr.startswith("error: "), shown
    assert re.search(case.pattern, result.stderr, re.MULTILINE), shown
    assert "Traceback" not in result.output, shown
    assert result.stdout == "", shown
    assert not runs.exists() or not any(runs.iterdir()), f"a run directory was written\n{shown}"


def test_set_overrides_reach_the_frozen_config(tmp_path):
    config = tmp_path / "experiment.yaml"
    config.write_text(IRIS + "seed: 0\nstrategy: {name: margin}\nstop: {max_loops: 1}\n")
    run_dir = tmp_path / "runs" / "x"

    result = invoke(
        "run", config, "--run-dir", run_dir, "--set", "strategy.name=entropy", "--set", "seed=3"
    )

    assert result.exit_code == 0, result.output
    frozen = yaml.safe_load((run_dir / "config.yaml").read_text())
    assert frozen["strategy"]["name"] == "entropy"
    assert frozen["seed"] == 3
