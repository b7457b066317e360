"""`alcli compare` and `alcli check` as a user meets them, on a sweep directory and on run
directories made with `alcli run`, and a sweep file's `expect:`.

The runs are tiny (iris, 3 loops of 5): margin and random over seeds 0-2 made one by one, and a
sweep of margin with loop sizes 5 and 10 over the same seeds with its random baseline.
"""

from __future__ import annotations

import csv
import io
import json
import re
import xml.etree.ElementTree as ET
from dataclasses import dataclass
from pathlib import Path

import pytest
import yaml
from typer.testing import CliRunner

from alcli.cli import app
from alcli.reporting.comparison import SUMMARY_COLUMNS
from tests.conftest import TINY, merge, read_csv

SEEDS = [0, 1, 2]
SWEEP = {
    "name": "margin",
    "base": "base.yaml",
    "grid": {"strategy.name": ["margin"], "loop_size.size": [5, 10]},
    "seeds": len(SEEDS),
    "jobs": 1,
    # Checks that hold: the sweep exits 0 with them.
    "expect": ["runs == 3", "final.accuracy > 0.5"],
}
SWEEP_GROUPS = [
    "strategy.name=random,loop_size.size=10",
    "strategy.name=random,loop_size.size=5",
    "strategy.name=margin,loop_size.size=10",
    "strategy.name=margin,loop_size.size=5",
]
PAIRED = ("diff", "ci_low", "ci_high", "wins", "ties", "losses")


def invoke(*args: object):
    return CliRunner().invoke(app, [str(a) for a in args], terminal_width=120)


def ok(*args: object):
    """``alcli ARGS``, which must succeed."""
    result = invoke(*args)
    assert result.exit_code == 0, result.output
    return result


def as_json(*args: object) -> dict:
    return json.loads(ok("compare", *args, "--format", "json").stdout)


def groups(report: dict) -> dict[str, dict]:
    return {group["group"]: group for group in report["groups"]}


def run(folder: Path, run_dir: Path, changes: dict | None = None) -> Path:
    """``alcli run`` of TINY with ``changes`` into ``run_dir``."""
    config = folder / f"{run_dir.name}.yaml"
    config.write_text(yaml.safe_dump(merge(TINY, changes or {}), sort_keys=False))
    ok("run", config, "--run-dir", run_dir, "--quiet")
    return run_dir


@dataclass
class Made:
    folder: Path
    sweep: Path
    #: margin-s0..2 and random-s0..2, made with `alcli run`
    runs: Path


@pytest.fixture(scope="module")
def made(tmp_path_factory) -> Made:
    folder = tmp_path_factory.mktemp("compare")
    (folder / "base.yaml").write_text(yaml.safe_dump(TINY, sort_keys=False))
    (folder / "sweep.yaml").write_text(yaml.safe_dump(SWEEP, sort_keys=False))
    result = invoke("sweep", folder / "sweep.yaml", "--sweep-dir", folder / "sweep", "--quiet")
    assert result.exit_code == 0, result.output
    for strategy in ("margin", "random"):
        for seed in SEEDS:
            name = f"{strategy}-s{seed}"
            run(folder, folder / "runs" / name, {"strategy": {"name": strategy}, "seed": seed})
    return Made(folder, folder / "sweep", folder / "runs")


# --- a sweep directory -------------------------------------------------------------------------


def test_the_table_shows_every_group_against_its_reference(made):
    result = ok("compare", made.sweep)
    assert result.stdout.startswith("accuracy: 12 runs in 4 groups")
    for label in SWEEP_GROUPS:
        assert label in result.stdout
    assert result.stdout.count("(reference)") == 2
    assert "95% bootstrap interval" in result.stdout


def test_json_has_each_groups_paired_difference_interval_and_wins(made):
    report = as_json(made.sweep)
    assert report["metric"] == "accuracy"
    assert report["group_keys"] == ["strategy.name", "loop_size.size"]
    by_label = groups(report)
    assert sorted(by_label) == sorted(SWEEP_GROUPS)
    for size in (5, 10):
        margin = by_label[f"strategy.name=margin,loop_size.size={size}"]
        # Paired with the baseline of its own loop size, on every seed.
        assert margin["reference"] == f"strategy.name=random,loop_size.size={size}"
        assert all(margin[key] is not None for key in PAIRED), margin
        assert margin["wins"] + margin["ties"] + margin["losses"] == len(SEEDS)
        assert margin["ci_low"] <= margin["diff"] <= margin["ci_high"]
        assert margin["runs"] == len(SEEDS) and len(margin["runs_paths"]) == len(SEEDS)
        random = by_label[f"strategy.name=random,loop_size.size={size}"]
        assert random["reference"] == "(reference)"
        assert all(random[key] is None for key in PAIRED), random


def test_csv_is_the_sweeps_summary(made):
    text = ok("compare", made.sweep, "--format", "csv").stdout
    assert text.splitlines()[0] == ",".join(SUMMARY_COLUMNS)
    assert len(list(csv.DictReader(io.StringIO(text)))) == len(SWEEP_GROUPS)
    assert text == (made.sweep / "results" / "summary.csv").read_text()


def test_by_pools_the_other_keys_and_pairs_each_run_with_its_like(made):
    """--by strategy.name puts both loop sizes in one group: each margin run is paired with the
    baseline run of its seed and loop size (6 pairs, not one per seed)."""
    pooled = groups(as_json(made.sweep, "--by", "strategy.name"))
    assert sorted(pooled) == ["strategy.name=margin", "strategy.name=random"]
    margin = pooled["strategy.name=margin"]
    assert margin["runs"] == 2 * len(SEEDS)
    assert margin["wins"] + margin["ties"] + margin["losses"] == 2 * len(SEEDS)
    apart = groups(as_json(made.sweep))
    diffs = [apart[f"strategy.name=margin,loop_size.size={n}"]["diff"] for n in (5, 10)]
    assert margin["diff"] == pytest.approx(sum(diffs) / 2)


def test_a_reference_no_group_has_gives_a_note_and_no_difference(made):
    report = as_json(made.sweep, "--reference", "nope")
    assert any("no group has the value 'nope'" in note for note in report["notes"])
    for group in report["groups"]:
        assert group["reference"] is None
        assert all(group[key] is None for key in PAIRED), group


def test_another_metric_is_compared_when_asked(made):
    assert as_json(made.sweep, "--metric", "f1_macro")["metric"] == "f1_macro"


def test_an_unknown_metric_is_refused_with_the_metrics_listed(made):
    result = invoke("compare", made.sweep, "--metric", "acc")
    assert result.exit_code == 2, result.output
    assert result.stderr.startswith("error: --metric")
    assert "'acc' is not a metric of every run; the runs have accuracy, f1_macro" in result.stderr
    assert result.stdout == ""


@pytest.mark.parametrize("kind", ["empty folder", "missing path"])
def test_paths_without_runs_are_refused(kind, tmp_path):
    path = tmp_path / "nothing"
    if kind == "empty folder":
        path.mkdir()
    result = invoke("compare", path)
    assert result.exit_code == 2, result.output
    assert f"{path} holds no run directory" in result.stderr
    assert result.stdout == ""


def test_plots_are_written_as_png_or_svg(made, tmp_path):
    png, svg = tmp_path / "curves.png", tmp_path / "curves.svg"
    assert f"plot: {png}" in ok("compare", made.sweep, "--plot", png).stderr
    ok("compare", made.sweep, "--plot", svg)
    assert png.read_bytes().startswith(b"\x89PNG\r\n\x1a\n")
    assert "<svg" in svg.read_text()


def test_a_plot_format_other_than_png_or_svg_is_refused_before_anything_is_printed(made, tmp_path):
    pdf = tmp_path / "curves.pdf"
    result = invoke("compare", made.sweep, "--plot", pdf)
    assert result.exit_code == 2, result.output
    assert f"--plot {pdf}: give a file name ending in .png or .svg" in result.stderr
    assert result.stdout == ""
    assert not pdf.exists()


def test_the_html_report_is_one_self_contained_file(made, tmp_path):
    page_path = tmp_path / "report.html"
    assert f"report: {page_path}" in ok("compare", made.sweep, "--html", page_path).stderr
    page = page_path.read_text()
    assert page.lstrip().lower().startswith("<!doctype html")
    for label in SWEEP_GROUPS:
        assert label in page
    assert not re.search(r"""(src|href)=["']?https?://""", page), "the report loads from the net"


# --- run directories made with `alcli run` -----------------------------------------------------


def test_runs_made_one_by_one_are_grouped_by_what_differs(made):
    report = as_json(made.runs)
    assert report["group_keys"] == ["strategy.name"]
    margin = groups(report)["strategy.name=margin"]
    assert margin["reference"] == "strategy.name=random"
    assert margin["wins"] + margin["ties"] + margin["losses"] == len(SEEDS)
    # The same configs and seeds as the sweep's loop size 5: the same paired difference.
    sweep = groups(as_json(made.sweep))["strategy.name=margin,loop_size.size=5"]
    assert (margin["diff"], margin["ci_low"], margin["ci_high"]) == (
        sweep["diff"],
        sweep["ci_low"],
        sweep["ci_high"],
    )


def test_paths_may_mix_run_directories_and_folders(made):
    paths = [made.runs / f"margin-s{seed}" for seed in SEEDS] + [made.runs]
    report = as_json(*paths)
    assert sum(group["runs"] for group in report["groups"]) == 2 * len(SEEDS)  # none twice


@pytest.mark.parametrize(
    "other, problem",
    [
        ({"data": {"source": "sklearn:wine"}}, "ran on different data"),
        ({"init": {"size": 15}}, "started from different initial sets"),
    ],
    ids=["data", "init"],
)
@pytest.mark.filterwarnings("ignore:lbfgs failed to converge")  # wine, unscaled
def test_runs_that_did_not_start_alike_cannot_be_paired(made, tmp_path, other, problem):
    """Two seed-0 runs, margin and random, that differ in their data or initial set: grouped by
    strategy only, they would be paired, and compare refuses naming both."""
    margin = made.runs / "margin-s0"
    random = run(tmp_path, tmp_path / "random-other", {"strategy": {"name": "random"}, **other})
    result = invoke("compare", margin, random, "--by", "strategy.name")
    assert result.exit_code == 2, result.output
    assert "did not start alike" in result.stderr
    assert f"{margin} and {random} (seed 0) {problem}" in result.stderr
    if problem == "ran on different data":
        prints = [
            json.loads((r / "run.json").read_text())["data_fingerprint"][:12]
            for r in (margin, random)
        ]
        assert f"(fingerprints {prints[0]} and {prints[1]})" in result.stderr
    assert result.stdout == ""


# --- check -------------------------------------------------------------------------------------


def test_expectations_that_hold_exit_0_with_one_line_each(made):
    result = ok("check", made.sweep, "--expect", "final.accuracy >= 0.5", "-e", "runs == 3")
    lines = result.stdout.splitlines()
    assert len(lines) == 2 * len(SWEEP_GROUPS)
    assert all(line.startswith("ok ") for line in lines), lines
    assert result.stderr == ""


def test_a_failing_expectation_exits_1_with_one_line_naming_the_value_found(made):
    final = groups(as_json(made.runs))["strategy.name=margin"]["final"]
    result = invoke("check", made.runs, "--expect", "margin: final.accuracy >= 1.1")
    assert result.exit_code == 1, result.output
    assert result.stderr.splitlines() == [
        "FAILED margin: final.accuracy >= 1.1 failed for strategy.name=margin: "
        f"found {final:.4g} (mean of 3 runs)"
    ]


def test_junit_counts_the_failures(made, tmp_path):
    junit = tmp_path / "checks.xml"
    result = invoke(
        "check",
        made.runs,
        "-e",
        "final.accuracy >= 0.5",
        "-e",
        "final.accuracy >= 1.1",
        "--junit",
        junit,
    )
    assert result.exit_code == 1, result.output
    suites = ET.parse(junit).getroot()
    suite = suites.find("testsuite")
    cases = suite.findall("testcase")
    failures = [case.find("failure") for case in cases if case.find("failure") is not None]
    assert (suites.get("tests"), suites.get("failures")) == ("4", "2")
    assert (suite.get("tests"), suite.get("failures")) == ("4", "2")
    assert len(cases) == 4 and len(failures) == 2
    assert all("final.accuracy >= 1.1 failed" in f.get("message") for f in failures)
    assert all("found 0." in f.get("message") for f in failures)


@pytest.mark.parametrize(
    "expression, message",
    [
        ("hello", "'hello': no comparison"),
        ("final.accuracy >= ", "nothing right of '>='"),
        ("final.acc >= 0.5", "'final.acc >= 0.5': no run recorded the metric 'acc'"),
        ("stratgy.name=margin: runs >= 1", "'stratgy.name' is not a compared key"),
    ],
)
def test_an_expectation_that_does_not_parse_or_names_nothing_is_bad_input(
    made, tmp_path, expression, message
):
    junit = tmp_path / "checks.xml"
    result = invoke("check", made.runs, "--expect", expression, "--junit", junit)
    assert result.exit_code == 2, result.output
    assert result.stderr.startswith("error: --expect: 1 problem:")
    assert message in result.stderr
    assert result.stdout == ""
    assert not junit.exists()


# --- a sweep file's expect: --------------------------------------------------------------------


def test_a_sweep_whose_expectations_hold_exits_0(made):
    # The fixture's sweep ran with `runs == 3` and `final.accuracy > 0.5`.
    assert {row["state"] for row in read_csv(made.sweep / "status.csv")} == {"completed"}


def test_a_sweep_whose_expectation_fails_exits_1_after_writing_its_results(tmp_path):
    (tmp_path / "base.yaml").write_text(yaml.safe_dump(TINY, sort_keys=False))
    sweep = {
        **SWEEP,
        "name": "failing",
        "grid": {"strategy.name": ["margin"]},
        "seeds": 2,
        "expect": ["final.accuracy >= 1.1", "runs == 2"],
    }
    (tmp_path / "sweep.yaml").write_text(yaml.safe_dump(sweep, sort_keys=False))
    sweep_dir = tmp_path / "sweep"

    result = invoke("sweep", tmp_path / "sweep.yaml", "--sweep-dir", sweep_dir, "--quiet")

    assert result.exit_code == 1, result.output
    assert result.stdout == f"{sweep_dir}\n"
    failed = [line for line in result.stderr.splitlines() if line.startswith("check failed:")]
    assert len(failed) == 2, result.stderr  # margin and its random baseline
    for line in failed:
        assert re.fullmatch(
            r"check failed: final\.accuracy >= 1\.1 failed for strategy\.name=(margin|random): "
            r"found (1|0\.\d+) \(mean of 2 runs\)",
            line,
        ), line
    assert "runs == 2" not in result.stderr
    assert {row["state"] for row in read_csv(sweep_dir / "status.csv")} == {"completed"}
    for name in ("results/summary.csv", "results/curves.csv", "report.html"):
        assert (sweep_dir / name).is_file(), name

    again = invoke("resume", sweep_dir, "--quiet")
    assert again.exit_code == 1, again.output
    assert again.stderr.count("check failed:") == 2


# --- grouping rules on synthetic runs ---------------------------------------------------------


def synthetic(keys: dict, seed: int, level: float):
    import numpy as np

    from alcli.reporting.comparison import RunCurve

    n = np.array([10, 20, 30])
    return RunCurve(
        path=Path(f"/runs/{'-'.join(map(str, keys.values()))}/{seed}"),
        seed=seed,
        status="completed",
        keys=keys,
        metric_names=["accuracy"],
        n_labeled=n,
        cost=None,
        seconds=np.array([0.1, 0.2, 0.3]),
        values={"accuracy": np.array([0.5, level, level + 0.1]) + 0.001 * seed},
        data_fingerprint=f"data-{keys.get('data.path')}-{seed}",
        initial=(seed,),
    )


def test_random_as_an_init_method_is_not_taken_for_the_reference():
    from alcli.experiments.compare import compare

    runs = [
        synthetic({"init.method": init, "strategy.name": strategy}, seed, level)
        for init in ("random", "kmeans")
        for strategy, level in (("margin", 0.8), ("random", 0.7))
        for seed in range(3)
    ]
    comparison = compare(runs)
    references = {g.label for g in comparison.groups if g.is_reference}
    assert references == {
        "init.method=random,strategy.name=random",
        "init.method=kmeans,strategy.name=random",
    }
    margin = comparison.group("init.method=kmeans,strategy.name=margin")
    assert margin.reference == "init.method=kmeans,strategy.name=random"
    assert margin.diff is not None and margin.diff > 0


def test_mean_rank_spans_datasets_whose_budgets_differ():
    from alcli.experiments.compare import compare

    budgets = {"a.npz": 10, "b.npz": 20}  # loop size changes with the dataset, not the method
    runs = [
        synthetic(
            {"data.path": path, "loop_size.size": size, "strategy.name": strategy}, seed, level
        )
        for path, size in budgets.items()
        for strategy, level in (("margin", 0.8 if path == "a.npz" else 0.6), ("random", 0.7))
        for seed in range(3)
    ]
    comparison = compare(runs)
    margins = [g for g in comparison.groups if g.keys["strategy.name"] == "margin"]
    assert sorted(g.rank for g in margins) == [1.0, 2.0]  # best on a, worst on b
    assert {g.mean_rank for g in margins} == {1.5}  # one method, averaged over both datasets
