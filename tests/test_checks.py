"""``alcli check``'s core: expectations read from text, held against a comparison built here
from RunCurve and Group objects, the paired bootstrap interval, and the JUnit XML."""

from __future__ import annotations

import math
import re
import xml.etree.ElementTree as ET
from pathlib import Path

import numpy as np
import pytest

from alcli.errors import ConfigError
from alcli.experiments.checks import (
    Outcome,
    check_names,
    evaluate,
    junit_xml,
    paired_interval,
    parse_expectation,
    parse_expectations,
)
from alcli.metrics import aulc
from alcli.reporting.comparison import Comparison, Group, RunCurve

LABELS = np.array([10, 20, 40])
CURVE = np.array([0.5, 0.7, 0.9])


def make_run(seed, accuracy=CURVE, *, initial=(0, 1), f1=None, keys=None) -> RunCurve:
    values = {"accuracy": np.asarray(accuracy, dtype=float)}
    if f1 is not None:
        values["f1_macro"] = np.asarray(f1, dtype=float)
    return RunCurve(
        path=Path(f"runs/{seed}"),
        seed=seed,
        status="finished",
        keys=dict(keys or {}),
        metric_names=list(values),
        n_labeled=LABELS,
        cost=None,
        seconds=np.array([1.0, 2.0, 3.0]),
        values=values,
        data_fingerprint="data",
        initial=initial,
    )


def make_group(keys: dict, runs: list[RunCurve], **statistics) -> Group:
    label = ",".join(f"{key}={value}" for key, value in keys.items())
    return Group(label=label, keys=keys, runs=runs, **statistics)


def make_comparison(groups: list[Group], target: float | None = 0.9) -> Comparison:
    return Comparison(
        metric="accuracy",
        group_keys=list(dict.fromkeys(k for g in groups for k in g.keys)),
        groups=groups,
        target=target,
        target_rule="",
        reference_value="random",
        tie_tolerance=0.005,
    )


def strategies(**overrides) -> Comparison:
    """margin, random (the reference) and entropy, five seeds each; margin's curve is
    0.020 + 0.001 * seed above entropy's, and random's runs start from another initial set, so
    only compare's precomputed difference can pair margin with random."""
    margin = [
        make_run(s, CURVE + 0.020 + 0.001 * s, f1=[0.2, 0.4, 0.6 + 0.1 * s]) for s in range(5)
    ]
    entropy = [make_run(s) for s in range(5)]
    random = [make_run(s, initial=(7, 8)) for s in range(5)]
    stats = {"final": 0.92, "aulc": 0.85, "aulc_loops": 0.84, "labels_to_target": 40.0}
    stats |= {"reached": 5, "seconds_per_run": 3.0, "seconds_per_loop": 1.0}
    groups = [
        make_group({"strategy.name": "margin"}, margin, **stats),
        make_group({"strategy.name": "random"}, random, **{**stats, "final": 0.8734}),
        make_group({"strategy.name": "entropy"}, entropy, **{**stats, "final": 0.95}),
    ]
    margin_group = groups[0]
    margin_group.reference = "strategy.name=random"
    margin_group.pairs = list(zip(margin, random, strict=True))
    margin_group.diff, margin_group.ci_low, margin_group.ci_high = 0.0123, -0.0031, 0.0270
    groups[1].is_reference = True
    for name, value in overrides.items():
        setattr(margin_group, name, value)
    return make_comparison(groups)


def check(texts, comparison) -> list[Outcome]:
    return evaluate(parse_expectations(texts, "--expect"), comparison)


# --- parsing ----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "text, selector, summary, metric, op, number, versus",
    [
        ("final.accuracy >= 0.9", None, "final", "accuracy", ">=", 0.9, None),
        ("margin: aulc.accuracy > 0.5", "margin", "aulc", "accuracy", ">", 0.5, None),
        (
            "strategy.name=margin,loop_size.size=10:aulc_loops.f1_macro<=1e-1",
            "strategy.name=margin,loop_size.size=10",
            "aulc_loops",
            "f1_macro",
            "<=",
            0.1,
            None,
        ),
        ("labels_to_target < inf", None, "labels_to_target", None, "<", math.inf, None),
        ("seconds_per_run != 2", None, "seconds_per_run", None, "!=", 2.0, None),
        ("  runs   ==  5 ", None, "runs", None, "==", 5.0, None),
        # A value may hold a colon (a user's strategy named by import path): the last one counts.
        ("mypkg.s:Mine: runs >= 1", "mypkg.s:Mine", "runs", None, ">=", 1.0, None),
        ("margin > random", "margin", None, None, ">", None, "random"),
        ("strategy.name=margin < random", "strategy.name=margin", None, None, "<", None, "random"),
        ("mypkg.s:Mine > random", "mypkg.s:Mine", None, None, ">", None, "random"),
    ],
)
def test_valid_expectations_parse(text, selector, summary, metric, op, number, versus):
    expectation = parse_expectation(text)
    assert expectation.text == " ".join(text.split())
    assert (expectation.selector.text if expectation.selector else None) == selector
    assert (expectation.summary, expectation.metric, expectation.op) == (summary, metric, op)
    assert expectation.number == number
    assert (expectation.versus.text if expectation.versus else None) == versus
    assert expectation.compares_groups == (versus is not None)


def test_selector_terms_are_bare_values_or_key_value_pairs():
    selector = parse_expectation("margin, loop_size.size = 10: runs >= 1").selector
    assert [(t.key, t.value) for t in selector.terms] == [
        (None, "margin"),
        ("loop_size.size", "10"),
    ]


INVALID = [
    ("", r"^'': empty"),
    ("final.accuracy 0.9", r"no comparison; write SUMMARY OP NUMBER, OP one of >=, >, <=,"),
    ("0.8 < final.accuracy < 0.9", r"one comparison per expectation"),
    ("final.accuracy >=", r"nothing right of '>='"),
    ("> 0.9", r"nothing left of '>'"),
    ("fnal.accuracy >= 0.9", r"unknown summary 'fnal.accuracy' \(did you mean 'final.accuracy'"),
    ("label_to_target <= 100", r"did you mean 'labels_to_target'\?\); allowed: final.<metric>"),
    ("10 > 5", r"unknown summary '10'.*needs its key \(e.g. loop_size.size=10 >"),
    ("final >= 0.9", r"final needs a metric: final.<metric> \(e.g. final.accuracy >= 0.9\)"),
    ("runs.accuracy >= 3", r"runs takes no metric \(e.g. runs >= 5\)"),
    ("final.accuracy >= nan", r"NaN compares with nothing"),
    ("final.accuracy > random", r"a summary is compared with a number, and 'random' is not one"),
    ("margin: final.accuracy > 90%", r"'90%' is not one"),
    ("0.9 <= final.accuracy", r"put the summary on the left \(e.g. final.accuracy >= 0.9\)"),
    ("margin >= random", r"groups are compared with > or < only \(e.g. margin > random\)"),
    ("margin,,x > random", r"the group selector 'margin,,x' is not VALUE or KEY=VALUE terms"),
    (": final.accuracy >= 0.9", r"the group selector '' is not"),
    ("strategy.name=: runs >= 1", r"the group selector 'strategy.name=' is not"),
]


@pytest.mark.parametrize("text, pattern", INVALID, ids=[t or "empty" for t, _ in INVALID])
def test_each_invalid_expression_gives_one_line_that_quotes_it_and_shows_an_example(text, pattern):
    with pytest.raises(ConfigError) as raised:
        parse_expectation(text)
    (problem,) = raised.value.problems
    assert re.search(pattern, problem), problem
    assert problem.startswith(f"'{' '.join(text.split())}': ")
    assert "e.g." in problem and "\n" not in problem
    assert raised.value.exit_code == 2


def test_every_bad_expression_is_reported_in_one_error():
    texts = ["final.accuracy >= 0.9", "fnal.accuracy >= 0.9", "margin > random", "runs 3"]
    with pytest.raises(ConfigError) as raised:
        parse_expectations(texts, "expect")
    error = raised.value
    assert error.source == "expect"
    assert [p.split(":")[0] for p in error.problems] == ["'fnal.accuracy >= 0.9'", "'runs 3'"]
    assert str(error).startswith("expect: 2 problems:\n  'fnal.accuracy >= 0.9': ")


def test_an_unquoted_yaml_selector_is_told_to_quote_it():
    with pytest.raises(ConfigError, match=r"quote the expression in YAML: 'margin: runs >= 1'"):
        parse_expectations([{"margin": "runs >= 1"}], "expect")


def test_no_expectations_parse_to_none():
    assert parse_expectations([], "--expect") == []


# --- names the comparison must have -----------------------------------------------------------


@pytest.mark.parametrize(
    "text, pattern",
    [
        (
            "final.f1_marco >= 0.5",
            r"^'final.f1_marco >= 0.5': no run recorded the metric 'f1_marco' \(did you mean "
            r"'f1_macro'\?\); recorded: accuracy, f1_macro$",
        ),
        (
            "aulc.f1 >= 0.5",
            r"^'aulc.f1 >= 0.5': no run recorded the metric 'f1'; recorded: accuracy, f1_macro$",
        ),
        (
            "strategy.nam=margin: runs >= 1",
            r"'strategy.nam' is not a compared key \(did you mean 'strategy.name'\?\); "
            r"compared: strategy.name",
        ),
        ("margin > strategy.nam=random", r"'strategy.nam' is not a compared key"),
    ],
)
def test_names_the_runs_lack_are_bad_input(text, pattern):
    expectations = parse_expectations(["runs >= 1", text], "--expect")
    for call in (check_names, evaluate):
        with pytest.raises(ConfigError) as raised:
            call(expectations, strategies())
        (problem,) = raised.value.problems
        assert re.search(pattern, problem), problem


def test_labels_to_target_needs_a_target():
    comparison = strategies()
    comparison.target = None
    with pytest.raises(ConfigError, match=r"labels_to_target needs the comparison's target"):
        check_names([parse_expectation("labels_to_target < 100")], comparison)


def test_names_problems_from_both_sources_are_reported_together():
    expectations = [
        *parse_expectations(["final.f1 >= 0.5"], "--expect"),
        *parse_expectations(["aulc.recall > 0.5"], "expect"),
    ]
    with pytest.raises(ConfigError) as raised:
        check_names(expectations, strategies())
    assert raised.value.source == "--expect, expect"
    assert len(raised.value.problems) == 2


# --- a summary against a number ---------------------------------------------------------------


def test_without_a_selector_every_group_must_hold_and_each_failure_is_one_outcome():
    outcomes = check(["final.accuracy >= 0.9"], strategies())
    assert [(o.group, o.passed) for o in outcomes] == [
        ("strategy.name=margin", True),
        ("strategy.name=random", False),
        ("strategy.name=entropy", True),
    ]
    assert outcomes[1].message == (
        "final.accuracy >= 0.9 failed for strategy.name=random: found 0.8734 (mean of 5 runs)"
    )
    assert outcomes[0].message == (
        "final.accuracy >= 0.9 holds for strategy.name=margin: found 0.92 (mean of 5 runs)"
    )


@pytest.mark.parametrize(
    "text, groups, passed",
    [
        ("margin: final.accuracy >= 0.95", ["strategy.name=margin"], [False]),
        ("strategy.name=entropy: final.accuracy >= 0.95", ["strategy.name=entropy"], [True]),
        ("random: aulc.accuracy > 0.8", ["strategy.name=random"], [True]),
        (
            "runs == 5",
            ["strategy.name=margin", "strategy.name=random", "strategy.name=entropy"],
            [True] * 3,
        ),
    ],
)
def test_a_selector_picks_the_groups_checked(text, groups, passed):
    outcomes = check([text], strategies())
    assert [o.group for o in outcomes] == groups
    assert [o.passed for o in outcomes] == passed


def test_a_selector_that_matches_no_group_is_one_failure_naming_the_groups():
    (outcome,) = check(["lstm: final.accuracy >= 0.5"], strategies())
    assert not outcome.passed and outcome.group is None
    assert outcome.message == (
        "lstm: final.accuracy >= 0.5 failed: no group matches 'lstm'; groups: "
        "strategy.name=margin, strategy.name=random, strategy.name=entropy"
    )


def test_other_metrics_are_computed_from_the_runs():
    comparison = strategies()
    margin = comparison.groups[0]
    finals = [run.values["f1_macro"][-1] for run in margin.runs]
    areas = [aulc(run.n_labeled, run.values["f1_macro"]) for run in margin.runs]
    by_loop = [aulc(np.arange(3), run.values["f1_macro"]) for run in margin.runs]
    texts = [
        "margin: final.f1_macro > 0",
        "margin: aulc.f1_macro > 0",
        "margin: aulc_loops.f1_macro > 0",
    ]
    outcomes = check(texts, comparison)
    for outcome, expected in zip(outcomes, (finals, areas, by_loop), strict=True):
        assert f"found {np.mean(expected):.4g} (mean of 5 runs)" in outcome.message
    # entropy's runs have no f1_macro: no value, a failure
    (entropy,) = check(["entropy: final.f1_macro > 0"], comparison)
    assert not entropy.passed and "found no value (mean of 0 runs)" in entropy.message


def test_labels_to_target_names_how_many_runs_reached_it():
    comparison = strategies()
    comparison.groups[1].labels_to_target, comparison.groups[1].reached = math.inf, 2
    outcomes = check(["labels_to_target < inf"], comparison)
    assert [o.passed for o in outcomes] == [True, False, True]
    assert outcomes[1].message.endswith("found inf (median of 5 runs; 2 reached 0.9)")


def test_a_missing_value_fails_whatever_the_operator():
    comparison = strategies()
    comparison.groups[0].seconds_per_run = math.nan
    (outcome,) = check(["margin: seconds_per_run != 3"], comparison)
    assert not outcome.passed and outcome.message.endswith("found no value (mean of 5 runs)")


def test_the_value_shown_has_the_digits_that_explain_the_verdict():
    comparison = strategies()
    comparison.groups[0].final = 0.89996
    (outcome,) = check(["margin: final.accuracy >= 0.9"], comparison)
    assert outcome.message.endswith("found 0.89996 (mean of 5 runs)")


def test_values_match_as_printed_or_as_yaml_writes_them():
    groups = [
        make_group({"model.warm_start": True, "strategy.name": "my.pkg:Mine"}, [make_run(0)]),
        make_group({"model.warm_start": None, "strategy.name": "margin"}, [make_run(0)]),
    ]
    comparison = make_comparison(groups)
    for text, label in [
        ("model.warm_start=true: runs == 1", groups[0].label),
        ("model.warm_start=True: runs == 1", groups[0].label),
        ("model.warm_start=null: runs == 1", groups[1].label),
        ("my.pkg:Mine: runs == 1", groups[0].label),
    ]:
        assert [o.group for o in check([text], comparison)] == [label], text


# --- one group against another ----------------------------------------------------------------


def test_against_the_reference_compares_precomputed_difference_is_used():
    (outcome,) = check(["margin > random"], strategies())
    assert not outcome.passed
    assert (outcome.group, outcome.against) == ("strategy.name=margin", "strategy.name=random")
    assert outcome.message == (
        "margin > random failed for strategy.name=margin vs strategy.name=random: accuracy nAULC "
        "difference +0.0123 (5 paired seeds), 95% interval [-0.0031, +0.0270] includes 0"
    )
    (outcome,) = check(["margin > random"], strategies(ci_low=0.004))
    assert outcome.passed and outcome.message.endswith("[+0.0040, +0.0270] is above 0")


def test_the_reference_on_the_left_uses_the_negated_precomputed_interval():
    (outcome,) = check(["random < margin"], strategies(ci_low=0.004))
    assert outcome.passed
    assert outcome.message.endswith(
        "difference -0.0123 (5 paired seeds), 95% interval [-0.0270, -0.0040] is below 0"
    )
    (outcome,) = check(["random > margin"], strategies(ci_low=0.004))
    assert not outcome.passed and outcome.message.endswith("is below 0")


def test_groups_without_a_reference_are_paired_by_seed_and_initial_set():
    comparison = strategies()
    diffs = 0.020 + 0.001 * np.arange(5)
    low, high = paired_interval(diffs)
    (better,) = check(["margin > entropy"], comparison)
    assert better.passed
    assert better.message == (
        "margin > entropy holds for strategy.name=margin vs strategy.name=entropy: accuracy "
        f"nAULC difference +0.0220 (5 paired seeds), 95% interval [{low:+.4f}, {high:+.4f}] "
        "is above 0"
    )
    (worse,) = check(["entropy > margin"], comparison)
    assert not worse.passed and worse.message.endswith("is below 0")
    (flipped,) = check(["entropy < margin"], comparison)
    assert flipped.passed


@pytest.mark.parametrize(
    "entropy_runs, reason",
    [
        ([make_run(0)], "only 1 paired seed: no interval"),
        ([make_run(s, initial=(3, 4)) for s in range(5)], "only 0 paired seeds: no interval"),
    ],
)
def test_fewer_than_two_pairs_give_no_interval(entropy_runs, reason):
    comparison = strategies()
    comparison.groups[2].runs = entropy_runs
    (outcome,) = check(["margin > entropy"], comparison)
    assert not outcome.passed and reason in outcome.message


def grid() -> Comparison:
    """strategy.name x loop_size.size; margin beats random by 0.03 at size 10, and by nothing
    clear at size 20 (per-seed differences -0.0015 to +0.0015); no precomputed differences."""
    groups = []
    for size, lift in ((10, 0.03), (20, 0.0)):
        for name in ("margin", "random"):
            keys = {"strategy.name": name, "loop_size.size": size}
            shift = lift if name == "margin" else 0.0
            jitter = [0.001 * (s - 1.5) * (name == "margin") for s in range(4)]
            runs = [make_run(s, CURVE + shift + jitter[s]) for s in range(4)]
            groups.append(make_group(keys, runs))
    return make_comparison(groups)


def test_groups_are_paired_on_every_key_outside_the_selected_ones():
    outcomes = check(["margin > random"], grid())
    assert [(o.group, o.against, o.passed) for o in outcomes] == [
        ("strategy.name=margin,loop_size.size=10", "strategy.name=random,loop_size.size=10", True),
        ("strategy.name=margin,loop_size.size=20", "strategy.name=random,loop_size.size=20", False),
    ]
    outcomes = check(["loop_size.size=10 > loop_size.size=20"], grid())
    assert [(o.group, o.against) for o in outcomes] == [
        ("strategy.name=margin,loop_size.size=10", "strategy.name=margin,loop_size.size=20"),
        ("strategy.name=random,loop_size.size=10", "strategy.name=random,loop_size.size=20"),
    ]


def test_a_strategys_own_parameters_do_not_prevent_pairing():
    # As compare pairs a group with its reference: random has no strategy.params.k.
    runs = [make_run(s, CURVE + 0.02 + 0.001 * s) for s in range(3)]
    margin = make_group({"strategy.name": "margin", "strategy.params.k": 5}, runs)
    random = make_group({"strategy.name": "random"}, [make_run(s) for s in range(3)])
    (outcome,) = check(["margin > random"], make_comparison([margin, random]))
    assert outcome.passed and outcome.against == "strategy.name=random"


def test_a_group_with_no_partner_fails_and_says_why():
    comparison = grid()
    comparison.groups = [comparison.groups[0], comparison.groups[3]]  # margin-10, random-20
    (outcome,) = check(["margin > random"], comparison)
    assert not outcome.passed
    assert outcome.message == (
        "margin > random failed for strategy.name=margin,loop_size.size=10: no other group "
        "matching 'random' agrees with it on the keys outside strategy.*; matching: "
        "strategy.name=random,loop_size.size=20"
    )


@pytest.mark.parametrize("text, missing", [("lstm > random", "lstm"), ("margin > lstm", "lstm")])
def test_a_side_that_matches_no_group_is_a_failure(text, missing):
    (outcome,) = check([text], strategies())
    assert not outcome.passed and outcome.group is None
    assert f"no group matches '{missing}'; groups: strategy.name=margin" in outcome.message


# --- the paired bootstrap interval ------------------------------------------------------------


def test_constant_differences_give_a_zero_width_interval_at_that_value():
    assert paired_interval(np.full(7, 0.1)) == (0.1, 0.1)


def test_a_clearly_positive_sample_has_an_interval_above_zero_around_its_mean():
    diffs = np.linspace(0.05, 0.15, 10)
    low, high = paired_interval(diffs)
    assert 0 < low < diffs.mean() < high < 0.15


@pytest.mark.parametrize("diffs", [[], [0.3]])
def test_fewer_than_two_differences_give_no_interval(diffs):
    low, high = paired_interval(np.array(diffs))
    assert math.isnan(low) and math.isnan(high)


def test_it_is_the_textbook_percentile_bootstrap_and_seeded():
    diffs = np.array([0.03, -0.01, 0.02, 0.05, 0.0, 0.01, 0.04, -0.02])
    rng = np.random.default_rng(0)
    means = diffs[rng.integers(0, diffs.size, size=(10_000, diffs.size))].mean(axis=1)
    assert paired_interval(diffs) == tuple(np.quantile(means, [0.025, 0.975]))
    assert paired_interval(diffs) == paired_interval(diffs)
    continuous = np.random.default_rng(5).normal(size=8)
    assert paired_interval(continuous, seed=1) != paired_interval(continuous)
    wide, narrow = paired_interval(diffs, confidence=0.99), paired_interval(diffs, confidence=0.5)
    assert wide[0] < narrow[0] < narrow[1] < wide[1]


def test_many_pairs_are_resampled_in_blocks():
    diffs = np.random.default_rng(3).normal(0.01, 0.05, size=5_000)
    low, high = paired_interval(diffs, resamples=2_000)
    standard_error = diffs.std() / math.sqrt(diffs.size)
    assert low < diffs.mean() < high
    assert high - low == pytest.approx(2 * 1.96 * standard_error, rel=0.15)


@pytest.mark.parametrize(
    "diffs, options",
    [
        (np.ones((2, 2)), {}),
        (np.array([0.1, np.nan]), {}),
        (np.array([0.1, 0.2]), {"confidence": 1.0}),
        (np.array([0.1, 0.2]), {"resamples": 0}),
    ],
)
def test_bad_arguments_are_programming_errors(diffs, options):
    with pytest.raises(ValueError):
        paired_interval(diffs, **options)


# --- JUnit XML --------------------------------------------------------------------------------


def test_junit_xml_has_one_testcase_per_outcome_and_counts_the_failures():
    outcomes = check(["final.accuracy >= 0.9", "margin > random", "lstm: runs > 1"], strategies())
    root = ET.fromstring(junit_xml(outcomes))
    assert root.tag == "testsuites"
    (suite,) = root.findall("testsuite")
    for element in (root, suite):
        assert (element.get("tests"), element.get("failures"), element.get("errors")) == (
            "5",
            "3",
            "0",
        )
    cases = suite.findall("testcase")
    assert [case.get("name") for case in cases] == [
        "final.accuracy >= 0.9 for strategy.name=margin",
        "final.accuracy >= 0.9 for strategy.name=random",
        "final.accuracy >= 0.9 for strategy.name=entropy",
        "margin > random for strategy.name=margin vs strategy.name=random",
        "lstm: runs > 1",
    ]
    assert all(case.get("classname") == "alcli check" and case.get("time") for case in cases)
    failed = [case for case in cases if case.find("failure") is not None]
    assert len(failed) == 3
    assert failed[0].find("failure").get("message") == outcomes[1].message
    assert failed[0].find("failure").text == outcomes[1].message
    assert cases[0].find("system-out").text == outcomes[0].message


def test_junit_xml_escapes_what_a_message_holds():
    message = 'found <0.8> & "less" \x1b[31m'
    outcome = Outcome('a<b & "c"', "k=<v>", False, message)
    text = junit_xml([outcome], suite_name="s&<")
    assert text.startswith('<?xml version="1.0" encoding="UTF-8"?>\n')
    case = ET.fromstring(text.encode()).find("testsuite/testcase")
    assert case.get("name") == 'a<b & "c" for k=<v>'
    assert case.find("failure").get("message") == message.replace("\x1b", "\ufffd")
    assert case.get("classname") == "s&<"


def test_junit_xml_with_nothing_checked():
    root = ET.fromstring(junit_xml([]))
    assert root.find("testsuite").get("tests") == "0"
