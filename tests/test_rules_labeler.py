"""Labeling functions (labeler kind rules): vote combination, a run and its report with
numbers checked by hand, and the bad inputs (a function that does not import, raises, or
returns something that is not a class)."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
import yaml

from alcli.classes import UNANSWERED
from alcli.data import DataConfig
from alcli.labelers import LABELER_CONFIGS, LabelerContext, LabelRequest, build_labeler
from alcli.labelers.rules import NO_VOTE, NO_VOTES, TIE, TOO_FEW, agreement_weights, combine_votes
from tests.conftest import read_csv, write_csv
from tests.processes import alcli

N = NO_VOTE

# --- combining votes ------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("votes", "min_votes", "codes", "reasons"),
    [
        ([[0, 0, 1]], 1, [0], [""]),  # the majority
        ([[0, 1, N]], 1, [N], [TIE]),  # a tie abstains
        ([[N, N, N]], 1, [N], [NO_VOTES]),
        ([[2, N, N]], 1, [2], [""]),  # one vote is enough by default
        ([[2, N, N]], 2, [N], [TOO_FEW]),
        ([[2, 2, N]], 2, [2], [""]),
        ([[1, 1, 0], [N, 0, N], [0, 1, 2]], 1, [1, 0, N], ["", "", TIE]),
    ],
)
def test_majority_ties_and_min_votes(votes, min_votes, codes, reasons):
    got, why = combine_votes(np.array(votes, dtype=np.int64), 3, min_votes)
    assert got.tolist() == codes and why == reasons


def test_weighted_votes_follow_the_functions_that_agree_with_the_majority():
    # Functions 0 and 1 agree with the majority everywhere; function 2 never does.
    votes = np.array([[0, 0, 1], [1, 1, 0], [0, 0, 1], [1, 1, 0], [0, N, 1]])
    weights = agreement_weights(votes, 2)
    assert weights[0] > 0 and weights[1] > 0 and weights[2] == 0
    # A one-against-one tie under majority is won by the function that agrees more.
    tie = np.array([[N, 1, 0]])
    assert combine_votes(tie, 2)[0].tolist() == [N]
    assert combine_votes(tie, 2, weights=weights)[0].tolist() == [1]
    # Voters that weigh nothing decide nothing.
    assert combine_votes(np.array([[N, N, 1]]), 2, weights=weights)[1] == [TIE]


# --- the labeler: votes, fallback, wrong functions ------------------------------------------

X = np.array([[0.0], [1.0], [2.0], [3.0], [4.0]])
CLASSES = np.array(["neg", "pos"])
TRUTH = np.array([0, 1, 1, 0, 0])


def labeler_in(folder: Path, body: str, **keys):
    (folder / "lfs_unit.py").write_text(body)
    cfg = LABELER_CONFIGS["rules"].model_validate(
        {
            "kind": "rules",
            "functions": ["lfs_unit:low", "lfs_unit:high", "lfs_unit:odd"],
            "code_dir": str(folder),
            "fallback": {"kind": "oracle", "cost": {"per_label": 2.0}},
            **keys,
        }
    )
    context = LabelerContext(TRUTH, CLASSES, DataConfig(source="sklearn:iris"), seed=0)
    return build_labeler(cfg, context)


def ask(labeler, pending_dir=None):
    indices = np.arange(5)
    request = LabelRequest(
        loop=1,
        indices=indices,
        ids=np.array(["r0", "r1", "r2", "r3", "r4"]),
        classes=CLASSES,
        answers=np.full(5, UNANSWERED, dtype=np.int64),
        features=X,
        pending_dir=pending_dir,
    )
    return labeler.label(request)


FUNCTIONS = """
def low(record):
    return "neg" if record["x0"] < 2 else None

def high(record):
    return "pos" if record["x0"] >= 1 else None

def odd(record):
    return "pos" if record["x0"] % 2 == 1 else None
"""


def test_the_fallback_gets_abstentions_and_ties_and_the_votes_are_recorded(tmp_path):
    # r0: low -> neg. r1: low neg, high pos, odd pos -> pos. r2: high -> pos.
    # r3: high pos, odd pos -> pos. r4: high -> pos. With min_votes 2: r0, r2, r4 go on.
    answers = ask(labeler_in(tmp_path, FUNCTIONS, min_votes=2), tmp_path / "pending")
    assert answers.labeler.tolist() == ["oracle", "rules", "oracle", "rules", "oracle"]
    assert CLASSES[answers.codes].tolist() == ["neg", "pos", "pos", "pos", "neg"]
    assert answers.cost.tolist() == [2.0, 0.0, 2.0, 0.0, 2.0]  # the rules are free
    rows = read_csv(tmp_path / "pending" / "votes.csv")
    assert [(r["id"], r["label"], r["reason"], r["true_label"]) for r in rows] == [
        ("r0", "", TOO_FEW, "neg"),
        ("r1", "pos", "", "pos"),
        ("r2", "", TOO_FEW, "pos"),
        ("r3", "pos", "", "neg"),
        ("r4", "", TOO_FEW, "neg"),
    ]
    assert [r["lfs_unit:low"] for r in rows] == ["neg", "neg", "", "", ""]


def test_a_tie_goes_to_the_fallback(tmp_path):
    body = FUNCTIONS.replace('"pos" if record["x0"] % 2 == 1', "None if True")
    answers = ask(labeler_in(tmp_path, body))
    # r1: low neg against high pos.
    assert answers.labeler.tolist() == ["rules", "oracle", "rules", "rules", "rules"]


@pytest.mark.parametrize(
    ("body", "expected"),
    [
        (
            FUNCTIONS.replace("None\n\ndef odd", "1 / 0\n\ndef odd"),
            "lfs_unit:high raised on record r0: ZeroDivisionError: division by zero",
        ),
        (
            FUNCTIONS.replace('"neg" if', '"negative" if'),
            "lfs_unit:low returned 'negative' for record r0, which is not a class of the run; "
            "return one of neg, pos, or None",
        ),
        (FUNCTIONS.replace('"neg" if', "True if"), "lfs_unit:low returned True for record r0"),
    ],
)
def test_a_wrong_function_is_named_with_the_record(tmp_path, body, expected):
    from alcli.errors import DataError

    with pytest.raises(DataError) as caught:
        ask(labeler_in(tmp_path, body))
    assert expected in str(caught.value)


def test_a_module_level_abstain_constant_abstains(tmp_path):
    body = "ABSTAIN = 'none'\n" + FUNCTIONS.replace("else None", "else ABSTAIN")
    answers = ask(labeler_in(tmp_path, body))
    assert answers.labeler.tolist() == ["rules", "rules", "rules", "rules", "rules"]


# --- a run through the CLI, and its report --------------------------------------------------

# Pool records, each with its true label and the functions' votes (good -> pos, great -> pos,
# bad -> neg):            votes                  combined
POOL = [
    ["a", "good great", "pos"],  # good pos, great pos   pos
    ["b", "good", "pos"],  # good pos                   pos
    ["c", "bad", "neg"],  # bad neg                     neg
    ["d", "bad great", "neg"],  # great pos, bad neg    tie
    ["e", "great", "neg"],  # great pos (wrong)         pos
    ["f", "nothing", "pos"],  # none                    no votes
    ["g", "good bad", "pos"],  # good pos, bad neg      tie
    ["h", "awful", "neg"],  # none                      no votes
]
TEST = [["t1", "good good", "pos"], ["t2", "bad bad", "neg"], ["t3", "great", "pos"]]
LFS = """
def says_good(record):
    return "pos" if "good" in record["text"].split() else None

def says_great(record):
    return "pos" if "great" in record["text"].split() else None

def says_bad(record):
    return "neg" if "bad" in record["text"].split() else None
"""
# Per function: votes, coverage, conflicts, accuracy (worked out from POOL above).
EXPECTED = {
    "lfs:says_good": (3, 3 / 8, 1 / 3, 3 / 3),
    "lfs:says_great": (3, 3 / 8, 1 / 3, 1 / 3),
    "lfs:says_bad": (3, 3 / 8, 2 / 3, 2 / 3),
}


def experiment(folder: Path, functions: str = LFS, names=tuple(EXPECTED)) -> Path:
    write_csv(folder / "pool.csv", ["id", "text", "label"], POOL)
    write_csv(folder / "test.csv", ["id", "text", "label"], TEST)
    (folder / "loop0.txt").write_text("a\nb\nc\nd\n")
    (folder / "lfs.py").write_text(functions)
    config = {
        "name": "rules",
        "seed": 0,
        "data": {
            "path": "pool.csv",
            "test_path": "test.csv",
            "target": "label",
            "preprocess": {"columns": {"text": "text"}, "text": {"min_df": 1}},
        },
        "init": {"method": "ids", "path": "loop0.txt"},
        "strategy": {"name": "margin"},
        "loop_size": {"schedule": "constant", "size": 4},
        "labeler": {
            "kind": "rules",
            "functions": list(names),
            "fallback": {"kind": "oracle", "cost": {"per_label": 1.0}},
        },
        "stop": {"max_loops": 1},
    }
    path = folder / "rules.yaml"
    path.write_text(yaml.safe_dump(config, sort_keys=False))
    return path


def test_a_run_records_the_votes_and_the_report_shows_each_function(cli, tmp_path):
    run_dir = tmp_path / "run"
    result = cli("run", experiment(tmp_path), "--run-dir", run_dir, "--quiet")
    assert result.exit_code == 0, result.output
    assert [p.name for p in sorted((run_dir / "loops").iterdir())] == ["0000", "0001"]
    labels = {
        row["id"]: (row["label"], row["labeler"])
        for loop in ("0000", "0001")
        for row in read_csv(run_dir / "loops" / loop / "labels.csv")
    }
    assert labels["a"] == ("pos", "rules") and labels["e"] == ("pos", "rules")  # e: wrong
    assert labels["d"] == ("neg", "oracle") and labels["f"] == ("pos", "oracle")
    votes = read_csv(run_dir / "loops" / "0000" / "votes.csv")
    assert [r["id"] for r in votes] == ["a", "b", "c", "d"]
    assert votes[3] == {
        "id": "d",
        "label": "",
        "reason": "tie",
        "true_label": "neg",
        "lfs:says_good": "",
        "lfs:says_great": "pos",
        "lfs:says_bad": "neg",
    }
    manifest = json.loads((run_dir / "loops" / "0000" / "manifest.json").read_text())
    assert "votes.csv" in manifest["files"]
    assert not (run_dir / "pending").exists()

    report = cli("report", run_dir, "--format", "json")
    assert report.exit_code == 0, report.output
    stats = json.loads(report.output)["labeling_functions"]
    assert (stats["records"], stats["labeled"], stats["accuracy"]) == (8, 4, 0.75)
    assert stats["passed_on"] == {"tie": 2, "no votes": 2}
    got = {
        row["function"]: (row["votes"], row["coverage"], row["conflicts"], row["accuracy"])
        for row in stats["functions"]
    }
    assert got.keys() == EXPECTED.keys()
    for name, numbers in EXPECTED.items():
        assert got[name] == pytest.approx(numbers), name

    table = cli("report", run_dir)
    assert table.exit_code == 0, table.output
    lines = [line for line in table.output.splitlines() if "lfs:says_" in line]
    assert [[cell for cell in line.split() if cell != "│"][:5] for line in lines] == [
        ["lfs:says_good", "3", "37.5%", "33.3%", "100.0%"],
        ["lfs:says_great", "3", "37.5%", "33.3%", "33.3%"],
        ["lfs:says_bad", "3", "37.5%", "66.7%", "66.7%"],
    ]
    assert "8 records asked; 4 labeled by the functions (75.0% right), 4 left" in table.output

    page = tmp_path / "report.html"
    assert cli("report", run_dir, "--html", page).exit_code == 0
    html = page.read_text()
    assert "<h2>Labeling functions</h2>" in html
    assert "8 records asked; 4 labeled by the functions (75.0% right)" in html
    for name, cells in (("says_good", "100.0%"), ("says_great", "33.3%"), ("says_bad", "66.7%")):
        row = html[html.index(f"lfs:{name}") :].split("</tr>")[0]
        assert "37.5%" in row and cells in row, row


def test_votes_outlast_a_wait_for_people_and_accuracy_is_unknown_without_labels(cli, tmp_path):
    # The pool holds no labels: people (a file) label what the rules leave open.
    config = experiment(tmp_path)
    write_csv(tmp_path / "pool.csv", ["id", "text", "label"], [[i, t, ""] for i, t, _ in POOL])
    raw = yaml.safe_load(config.read_text())
    raw["labeler"]["fallback"] = {"kind": "file"}
    config.write_text(yaml.safe_dump(raw))
    run_dir = tmp_path / "run"
    assert cli("run", config, "--run-dir", run_dir, "--quiet").exit_code == 0
    status = lambda: json.loads((run_dir / "run.json").read_text())["status"]  # noqa: E731
    assert status() == "awaiting_labels"  # loop 0: d, a tie
    write_csv(tmp_path / "d.csv", ["id", "label"], [["d", "neg"]])
    resumed = cli("resume", run_dir, "--labels", tmp_path / "d.csv", "--quiet")
    assert resumed.exit_code == 0, resumed.output
    assert status() == "awaiting_labels"  # loop 1: the rules label e; f, g, h wait
    write_csv(tmp_path / "f.csv", ["id", "label"], [["f", "pos"]])
    assert cli("resume", run_dir, "--labels", tmp_path / "f.csv", "--quiet").exit_code == 0
    write_csv(tmp_path / "gh.csv", ["id", "label"], [["g", "pos"], ["h", "neg"]])
    resumed = cli("resume", run_dir, "--labels", tmp_path / "gh.csv", "--quiet")
    assert resumed.exit_code == 0, resumed.output
    assert status() == "completed"
    votes = read_csv(run_dir / "loops" / "0001" / "votes.csv")
    selected = read_csv(run_dir / "loops" / "0001" / "selected.csv")
    assert [r["id"] for r in votes] == [r["id"] for r in selected]  # batch order
    assert {r["id"]: (r["label"], r["reason"]) for r in votes} == {
        "e": ("pos", ""),
        "f": ("", "no votes"),
        "g": ("", "tie"),
        "h": ("", "no votes"),
    }
    stats = json.loads(cli("report", run_dir, "--format", "json").output)["labeling_functions"]
    assert stats["accuracy"] is None
    assert [row["accuracy"] for row in stats["functions"]] == [None, None, None]
    table = cli("report", run_dir).output
    rows = [line for line in table.splitlines() if "lfs:says_" in line]
    assert len(rows) == 3 and all(line.split()[-2] == "unknown" for line in rows), rows
    assert "4 labeled by the functions, 4 left" in table


# --- bad input: one message, exit 2, nothing lost --------------------------------------------


def test_a_function_that_does_not_import_is_refused_before_anything_is_written(cli, tmp_path):
    config = experiment(tmp_path, names=["lfs:says_good", "lfs:says_graet"])
    result = cli("run", config, "--run-dir", tmp_path / "run")
    assert result.exit_code == 2
    assert "labeler.functions.1" in result.output and "lfs:says_graet" in result.output
    assert "did you mean 'lfs:says_great'?" in result.output
    assert "Traceback" not in result.output
    assert not (tmp_path / "run").exists()


def test_a_function_returning_no_class_names_value_record_and_classes(cli, tmp_path):
    functions = LFS + "\ndef shouty(record):\n    return record['text'].upper()\n"
    config = experiment(tmp_path, functions, names=["lfs:says_good", "lfs:shouty"])
    result = cli("run", config, "--run-dir", tmp_path / "run")
    assert result.exit_code == 2, result.output
    assert (
        "lfs:shouty returned 'GOOD GREAT' for record a, which is not a class of the run; "
        "return one of neg, pos, or None to abstain"
    ) in " ".join(result.output.split())
    assert "Traceback" not in result.output


@pytest.mark.slow
def test_a_raising_function_stops_the_run_and_resume_goes_on_once_it_is_fixed(tmp_path):
    straight = tmp_path / "straight"
    straight.mkdir()
    assert alcli("run", experiment(straight), "--run-dir", "run", cwd=straight).returncode == 0

    broken = LFS.replace(
        'return "pos" if "great"',
        'assert record["text"] != "great", "no"\n    return "pos" if "great"',
    )
    config = experiment(tmp_path, broken)
    failed = alcli("run", config, "--run-dir", "run", cwd=tmp_path)
    assert failed.returncode == 2, failed.stderr
    message = " ".join(failed.stderr.split())
    assert "lfs:says_great raised on record e: AssertionError: no" in message
    assert f"alcli resume {tmp_path / 'run'}" in message and "Traceback" not in message
    assert [p.name for p in (tmp_path / "run" / "loops").iterdir()] == ["0000"]  # kept

    (tmp_path / "lfs.py").write_text(LFS)
    resumed = alcli("resume", "run", cwd=tmp_path)
    assert resumed.returncode == 0, resumed.stderr
    for name in ("selected.csv", "labels.csv", "votes.csv"):
        for loop in ("0000", "0001"):
            assert read_csv(tmp_path / "run" / "loops" / loop / name) == read_csv(
                straight / "run" / "loops" / loop / name
            ), (loop, name)
