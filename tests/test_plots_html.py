"""Plots (PNG/SVG) and the self-contained HTML reports, down to a real headless browser."""

from __future__ import annotations

import re
import shutil
import subprocess
from html import escape
from html.parser import HTMLParser
from pathlib import Path

import numpy as np
import pytest
import yaml
from matplotlib.image import imread
from scipy import stats

from alcli.metrics import aulc
from alcli.reporting import load_report
from alcli.reporting.comparison import Comparison, Group, RunCurve
from alcli.reporting.html import comparison_html, run_html
from alcli.reporting.plots import (
    mean_band,
    paired_difference,
    plot_comparison,
    plot_run,
    svg_text,
)
from tests.conftest import run_into

#: A group label a user could write, which must reach the page as text, never as markup.
HOSTILE = "<script>alert(1)</script> & \"quoted\" 'single' $1 and $2"
VERSIONS = {"alcli": "0.1.0", "python": "3.11.9", "numpy": "2.0.0", "scikit-learn": "1.6.0"}
SEEDS = range(5)
CHROMIUM = shutil.which("chromium")
#: Namespaces an inline SVG names; a browser fetches nothing from them.
SVG_NAMESPACES = {"http://www.w3.org/2000/svg", "http://www.w3.org/1999/xlink"}


# --- synthetic comparisons ------------------------------------------------------------------


def run_curve(seed: int, skill: float, loops: int = 12, priced: bool = False) -> RunCurve:
    """A noisy rising learning curve: 20 initial labels, then 10 per loop."""
    rng = np.random.default_rng([seed, int(skill * 1000)])
    n_labeled = 20 + 10 * np.arange(loops)
    accuracy = 0.95 - (0.95 - 0.4) * np.exp(-skill * n_labeled / 40)
    accuracy = np.clip(accuracy + rng.normal(0, 0.015, loops), 0, 1)
    return RunCurve(
        path=Path(f"runs/{skill}/seed-{seed}"),
        seed=seed,
        status="completed",
        keys={"strategy.name": str(skill)},
        metric_names=["accuracy"],
        n_labeled=n_labeled,
        cost=1.5 * n_labeled if priced else None,
        seconds=np.cumsum(rng.uniform(0.01, 0.03, loops)),
        values={"accuracy": accuracy},
        data_fingerprint=("0123456789abcdef" * 4) if seed < 3 else ("fedcba9876543210" * 4),
        initial=(seed, seed + 1),
    )


def group(label: str, runs: list[RunCurve], reference: Group | None = None) -> Group:
    g = Group(label=label, keys={"strategy.name": label}, runs=runs)
    g.final = float(np.mean([r.values["accuracy"][-1] for r in runs]))
    g.aulc = float(np.mean([aulc(r.n_labeled, r.values["accuracy"]) for r in runs]))
    g.aulc_loops = g.aulc
    g.seconds_per_run = float(np.mean([r.seconds[-1] for r in runs]))
    g.seconds_per_loop = g.seconds_per_run / 12
    if reference is None:
        g.is_reference = True
        g.labels_to_target, g.reached = 80.0, 5
        return g
    g.reference = reference.label
    g.pairs = list(zip(runs, reference.runs, strict=True))
    g.diff, g.ci_low, g.ci_high = g.aulc - reference.aulc, 0.01, 0.03
    g.wins, g.ties, g.losses = 4, 1, 0
    g.labels_to_target, g.reached = float("inf"), 1
    return g


def comparison(priced: bool = False) -> Comparison:
    random = group("random", [run_curve(s, 1.0, priced=priced) for s in SEEDS])
    margin = group("margin", [run_curve(s, 1.6, priced=priced) for s in SEEDS], random)
    # One run stopped early: the group's curves are prefixes of each other.
    hostile_runs = [run_curve(s, 1.3, loops=8 if s == 0 else 12, priced=priced) for s in SEEDS]
    hostile = group(HOSTILE, hostile_runs, random)
    return Comparison(
        metric="accuracy",
        group_keys=["strategy.name"],
        groups=[random, margin, hostile],
        target=0.9,
        target_rule="95% of the best group's final accuracy",
        reference_value="random",
        tie_tolerance=0.005,
        notes=[f"Note from data: {HOSTILE}"],
    )


def configs() -> dict[str, str]:
    return {
        g: yaml.safe_dump({"strategy": {"name": g}, "comment": "a < b & c > d"})
        for g in ("random", "margin", HOSTILE)
    }


def synthetic_report(metric_names: list[str] | None = None) -> dict:
    """A report as load_report returns it, without a run directory."""
    metric_names = ["accuracy", "f1_macro"] if metric_names is None else metric_names
    loops = [
        {
            "loop": k,
            "n_labeled": 10 + 5 * k,
            "loop_size": 10 if k == 0 else 5,
            "strategy": "random" if k == 0 else "margin",
            **{m: 0.5 + 0.04 * k for m in metric_names},
            "cost": 2.0,
            "n_predictions": 100 - 5 * k,
            **{f"{step}_s": 0.001 * (k + 1) for step in ("select", "label", "train", "infer")},
        }
        for k in range(8)
    ]
    return {
        "run": {"name": HOSTILE, "path": "runs/x", "status": "completed", "stop_reason": "max"},
        "summary": {
            "loops": 8,
            "n_labeled": 45,
            "metric_names": metric_names,
            "final": {m: 0.78 for m in metric_names},
            "aulc": {m: 0.64 for m in metric_names},
            "seconds": 0.144,
            "cost": 16.0,
        },
        "loops": loops,
        "replay": [],
    }


# --- mean_band ------------------------------------------------------------------------------


def test_mean_band_on_shared_x_averages_each_point_with_a_t_interval():
    x = np.array([10.0, 20.0, 30.0])
    curves = [(x, np.array([0.1, 0.5, 0.7])), (x, np.array([0.3, 0.7, 0.9]))]
    got_x, mean, low, high = mean_band(curves, confidence=0.95)
    np.testing.assert_array_equal(got_x, x)
    np.testing.assert_allclose(mean, [0.2, 0.6, 0.8])
    half = stats.t.ppf(0.975, 1) * np.std([0.1, 0.3], ddof=1) / np.sqrt(2)
    np.testing.assert_allclose(high - mean, half)
    np.testing.assert_allclose(mean - low, half)


def test_mean_band_on_prefixes_averages_the_runs_that_reached_each_point():
    long = (np.array([10, 20, 30, 40]), np.array([0.2, 0.4, 0.6, 0.8]))
    short = (np.array([10, 20]), np.array([0.4, 0.6]))
    x, mean, low, high = mean_band([short, long])
    np.testing.assert_array_equal(x, [10, 20, 30, 40])
    np.testing.assert_allclose(mean, [0.3, 0.5, 0.6, 0.8])
    assert np.all(low[:2] < mean[:2]) and np.all(high[:2] > mean[:2])
    # One run left: no band, the run itself.
    np.testing.assert_array_equal(low[2:], mean[2:])
    np.testing.assert_array_equal(high[2:], mean[2:])


def test_mean_band_of_one_run_is_the_run():
    x, y = np.array([1.0, 2.0, 3.0]), np.array([0.5, 0.6, 0.9])
    got = mean_band([(x, y)])
    for array in got[1:]:
        np.testing.assert_array_equal(array, y)


def test_mean_band_on_different_x_interpolates_within_the_common_range():
    a = (np.array([0.0, 10.0, 20.0]), np.array([0.0, 1.0, 2.0]))
    b = (np.array([5.0, 15.0, 25.0]), np.array([1.0, 1.0, 1.0]))
    x, mean, low, high = mean_band([a, b])
    np.testing.assert_array_equal(x, [5.0, 10.0, 15.0, 20.0])
    np.testing.assert_allclose(mean, (np.array([0.5, 1.0, 1.5, 2.0]) + 1.0) / 2)
    assert np.all(low <= mean) and np.all(mean <= high)


def test_mean_band_of_runs_sharing_no_range_is_empty():
    a = (np.array([0.0, 1.0]), np.array([0.1, 0.2]))
    b = (np.array([2.0, 3.0]), np.array([0.3, 0.4]))
    assert all(array.size == 0 for array in mean_band([a, b]))


def test_mean_band_band_narrows_as_confidence_falls():
    x = np.arange(4.0)
    rng = np.random.default_rng(0)
    curves = [(x, rng.normal(size=4)) for _ in range(6)]
    _, _, low95, high95 = mean_band(curves, 0.95)
    _, _, low50, high50 = mean_band(curves, 0.5)
    assert np.all(high95 - low95 > high50 - low50)


@pytest.mark.parametrize(
    ("curves", "confidence", "message"),
    [
        ([], 0.95, "at least one curve"),
        ([(np.arange(3), np.arange(3))], 1.5, r"confidence must be a float in \(0, 1\)"),
        ([(np.arange(3), np.arange(2))], 0.95, "same shape"),
    ],
)
def test_mean_band_bad_input(curves, confidence, message):
    with pytest.raises(ValueError, match=message):
        mean_band(curves, confidence)


def test_paired_difference_reads_the_reference_at_my_label_counts():
    c = comparison()
    mine, ref = c.groups[1].pairs[0]
    x, diff = paired_difference(mine, ref, "accuracy")
    np.testing.assert_array_equal(x, mine.n_labeled)
    np.testing.assert_allclose(diff, mine.values["accuracy"] - ref.values["accuracy"])
    # The early-stopped run of the hostile group: only the loops it has.
    short, ref = c.groups[2].pairs[0]
    x, diff = paired_difference(short, ref, "accuracy")
    assert x.size == short.loops == 8


# --- figures --------------------------------------------------------------------------------


def distinct_colours(png: Path) -> int:
    image = imread(png)
    return len(np.unique(image.reshape(-1, image.shape[-1]), axis=0))


@pytest.mark.parametrize("x", ["labels", "cost", "seconds"])
def test_comparison_png_is_written_and_not_blank(tmp_path, x):
    path = tmp_path / "compare.png"
    plot_comparison(comparison(priced=x == "cost"), path, x=x)
    assert path.stat().st_size > 10_000
    assert distinct_colours(path) > 50  # lines, bands, text: far from a blank canvas


def test_comparison_svg_is_written_and_deterministic(tmp_path):
    first, second = tmp_path / "a.svg", tmp_path / "b.svg"
    plot_comparison(comparison(), first)
    plot_comparison(comparison(), second)
    text = first.read_text()
    assert "<svg" in text and "<path" in text
    assert first.read_bytes() == second.read_bytes()


def test_inline_svg_has_no_prolog_and_no_metadata():
    from alcli.reporting.plots import comparison_figure

    svg = svg_text(comparison_figure(comparison()))
    assert svg.startswith("<svg")
    assert "<?xml" not in svg and "<!DOCTYPE" not in svg and "<metadata" not in svg
    assert svg == svg_text(comparison_figure(comparison()))


def test_plot_without_pairs_has_one_panel(tmp_path):
    c = comparison()
    for g in c.groups:
        g.pairs = []
    plot_comparison(c, tmp_path / "one.png")
    wide = imread(tmp_path / "one.png").shape[1]
    plot_comparison(comparison(), tmp_path / "two.png")
    assert imread(tmp_path / "two.png").shape[1] > wide


def test_a_dozen_groups_fit_the_legend(tmp_path):
    c = comparison()
    reference = c.groups[0]
    c.groups += [
        group(f"strategy.name=s{i}, loop_size.size={i}", reference.runs, reference)
        for i in range(9)
    ]
    plot_comparison(c, tmp_path / "many.png")
    assert distinct_colours(tmp_path / "many.png") > 50


@pytest.mark.parametrize("name", ["plot.pdf", "plot", "plot.jpeg"])
def test_unknown_plot_format_is_refused_before_drawing(tmp_path, name):
    with pytest.raises(ValueError, match=r"must end in \.png or \.svg"):
        plot_comparison(comparison(), tmp_path / name)
    assert not (tmp_path / name).exists()


def test_unknown_x_axis_is_refused(tmp_path):
    with pytest.raises(ValueError, match="labels, cost, seconds"):
        plot_comparison(comparison(), tmp_path / "p.png", x="loops")


@pytest.mark.parametrize("x", ["labels", "cost", "seconds"])
@pytest.mark.parametrize("suffix", [".png", ".svg"])
def test_run_plot_is_written(tmp_path, x, suffix):
    path = tmp_path / f"run{suffix}"
    plot_run(synthetic_report(), path, x=x)
    assert path.stat().st_size > 5_000
    if suffix == ".png":
        assert distinct_colours(path) > 50


def test_run_without_metrics_has_no_plot(tmp_path):
    with pytest.raises(ValueError, match="no test metrics to plot"):
        plot_run(synthetic_report(metric_names=[]), tmp_path / "run.png")


# --- HTML -----------------------------------------------------------------------------------


class TagBalance(HTMLParser):
    """Counts open elements (void ones aside): a well-formed page ends with none open."""

    VOID = frozenset({"meta", "br", "hr", "img", "input", "link", "col", "wbr"})

    def __init__(self):
        super().__init__()
        self.stack: list[str] = []
        self.errors: list[str] = []

    def handle_starttag(self, tag, attrs):
        if tag not in self.VOID:
            self.stack.append(tag)

    def handle_endtag(self, tag):
        if not self.stack or self.stack[-1] != tag:
            self.errors.append(f"</{tag}> closes {self.stack[-1:] or 'nothing'}")
        else:
            self.stack.pop()


def assert_self_contained(page: str) -> None:
    parser = TagBalance()
    parser.feed(page)
    assert parser.errors == [] and parser.stack == []
    assert "<script" not in page.lower()
    for tag in ("<link", "<img", "<iframe", "<object", "@import"):
        assert tag not in page
    # Only same-document references (#id): nothing for a browser to fetch.
    assert re.findall(r"""(?:src|href)\s*=\s*(?!["']?#)""", page) == []
    assert re.findall(r"url\((?!#)", page) == []
    assert set(re.findall(r"https?://[^\s\"'<>]*", page)) <= SVG_NAMESPACES


def test_comparison_page_is_self_contained_and_escapes_data():
    page = comparison_html(comparison(), f"Compare {HOSTILE}", configs(), VERSIONS)
    assert_self_contained(page)
    assert escape(HOSTILE) in page
    assert page.count(f"<details><summary>{escape(HOSTILE)}</summary>") == 1
    assert "a &lt; b &amp; c &gt; d" in page  # config text
    assert page.count("<svg") == 1


def test_comparison_page_summary_table():
    c = comparison()
    page = comparison_html(c, "Compare", configs(), VERSIONS)
    summary = page[page.index("<h2>Summary</h2>") : page.index("<h2>Learning curves</h2>")]
    assert summary.count("<tr") == 1 + len(c.groups)  # header + one row per group
    assert "random (reference)" in summary
    margin = c.groups[1]
    assert f"{margin.diff:+.4f} [+0.0100, +0.0300]" in summary
    assert "4 / 1 / 0" in summary and "better" in summary
    assert "never (1/5 reached)" in summary and "80 (5/5 reached)" in summary
    for words in ("10,000 resamples", "|difference| \u2264 0.005", "95% paired bootstrap"):
        assert words in summary
    for name, version in VERSIONS.items():
        assert f"<td>{name}</td><td>{version}</td>" in page
    assert "<td>0123456789ab</td>" in page and "<td>fedcba987654</td>" in page


def test_mean_rank_column_only_when_ranked():
    c = comparison()
    assert "mean rank" not in comparison_html(c, "t", {}, {})
    c.groups[1].mean_rank = 1.5
    assert "mean rank" in comparison_html(c, "t", {}, {})


def test_run_page_of_a_real_run(cli, write_config, tmp_path):
    run_dir = run_into(cli, write_config(), tmp_path / "run")
    report = load_report(run_dir)
    page = run_html(report, (run_dir / "config.yaml").read_text(), VERSIONS)
    assert_self_contained(page)
    assert page.count("<svg") == 1
    loops = page[page.index("<h2>Loops</h2>") : page.index("<h2>Config</h2>")]
    assert loops.count("<tr") == 1 + len(report["loops"])
    assert "select_s" in loops and "accuracy" in loops
    assert report["run"]["data_fingerprint"] in page
    assert report["run"]["stop_reason"] in page


def test_run_page_without_metrics_says_why_there_is_no_plot():
    page = run_html(synthetic_report(metric_names=[]), "seed: 0\n", VERSIONS)
    assert_self_contained(page)
    assert "<svg" not in page and "no test set" in page
    assert escape(HOSTILE) in page


# --- a real browser -------------------------------------------------------------------------


def chromium(*args: str) -> subprocess.CompletedProcess:
    # Root (CI containers) needs --no-sandbox; dbus warnings on stderr are harmless.
    return subprocess.run(
        [CHROMIUM, "--headless", "--no-sandbox", "--disable-gpu", *args],
        capture_output=True,
        text=True,
        timeout=60,
        check=True,
    )


@pytest.mark.skipif(CHROMIUM is None, reason="chromium is not installed (apt install chromium)")
@pytest.mark.parametrize("page", ["comparison", "run"])
def test_a_headless_browser_renders_the_page(tmp_path, page):
    c = comparison()
    if page == "comparison":
        text, rows = comparison_html(c, "Compare", configs(), VERSIONS), len(c.groups)
    else:
        report = synthetic_report()
        text, rows = run_html(report, "seed: 0\n", VERSIONS), len(report["loops"])
    html_path = tmp_path / "report.html"
    html_path.write_text(text)
    url = html_path.as_uri()

    dom = chromium("--dump-dom", url).stdout
    assert "<svg" in dom and "<table" in dom
    assert "<script" not in dom
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in dom
    first_table = dom[dom.index("<table") : dom.index("</table>")]
    body_rows = first_table[first_table.index("<tbody") :] if page == "comparison" else ""
    if page == "comparison":
        assert body_rows.count("<tr") == rows
    else:
        loops = dom[dom.index("<h2>Loops</h2>") :]
        loops = loops[: loops.index("</table>")]
        assert loops.count("<tr") == 1 + rows

    shot = tmp_path / "shot.png"
    chromium(f"--screenshot={shot}", "--window-size=1200,2000", url)
    assert shot.exists()
    assert distinct_colours(shot) > 100  # text, table rules and the figure's colours
