"""``alcli check``: expectations held against a comparison, for CI.

Every expectation that holds: exit 0. One that fails: exit 1, with one line per failure naming
the value found (:func:`evaluate`); :func:`junit_xml` renders the same outcomes for CI test
reports. One that cannot be read (:func:`parse_expectations`), or that names a metric or key the
runs do not have (:func:`check_names`): exit 2, before anything is checked. The grammar is in
:mod:`alcli.experiments.expectations`.
"""

from __future__ import annotations

import difflib
import math
import re
import xml.etree.ElementTree as ET
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from alcli.errors import ConfigError, plural, preview
from alcli.experiments.expectations import (
    MISSING,
    OPERATORS,
    Expectation,
    Selector,
    parse_expectation,
    parse_expectations,
)
from alcli.metrics import aulc
from alcli.reporting.comparison import Comparison, Group, RunCurve

__all__ = [
    "Expectation",
    "Outcome",
    "check_names",
    "check_names_in",
    "evaluate",
    "junit_xml",
    "paired_interval",
    "parse_expectation",
    "parse_expectations",
]

# Characters XML 1.0 cannot hold at all, not even escaped (control characters from a label).
_NOT_XML = re.compile("[^\t\n\r\x20-\ud7ff\ue000-\ufffd\U00010000-\U0010ffff]")
# About 8 MB of resample indices at a time, whatever the number of pairs.
_DRAWS_PER_BLOCK = 2**20


@dataclass(frozen=True)
class Outcome:
    """One expectation checked on one group."""

    expectation: str
    #: The group's label, or None when no group matched.
    group: str | None
    passed: bool
    #: One line naming the value found, for passes as for failures.
    message: str
    #: The group it was held against (``A > B``), or None.
    against: str | None = None


# --- names the comparison must have -----------------------------------------------------------


def check_names(expectations: Sequence[Expectation], comparison: Comparison) -> None:
    """Refuse expectations that name what the comparison does not have.

    A metric no run recorded, a selector key that is not compared, or ``labels_to_target``
    without a target is bad input (exit 2), not a failed check.

    Raises
    ------
    ConfigError
        One line per problem, with the names available.
    """
    recorded = sorted({name for run in comparison.runs for name in run.values})
    keys = list(
        dict.fromkeys([*comparison.group_keys, *(k for g in comparison.groups for k in g.keys)])
    )
    check_names_in(expectations, recorded, keys, comparison.metric, comparison.target is not None)


def check_names_in(
    expectations: Sequence[Expectation],
    recorded: list[str],
    keys: list[str],
    metric: str,
    has_target: bool = True,
) -> None:
    """:func:`check_names` on the names a comparison has (or will have: a sweep checks its
    expectations against its plan before any run starts).

    Parameters
    ----------
    expectations : sequence of Expectation
    recorded : list of str
        The metrics the runs record.
    keys : list of str
        The compared keys (selectors' ``KEY=VALUE`` must name one).
    metric : str
        The comparison's metric, for the example in a message.
    has_target : bool
        Whether the comparison has a target (``labels_to_target`` needs one).

    Raises
    ------
    ConfigError
        One line per problem, with the names available.
    """
    problems, sources = [], []
    for expectation in expectations:
        found = []
        name = expectation.metric
        if name is not None and name not in recorded:
            found.append(
                f"no run recorded the metric '{name}'{_did_you_mean(name, recorded)}; "
                f"recorded: {preview(recorded, 10) or 'none'}"
            )
        if expectation.summary == "labels_to_target" and not has_target:
            found.append(
                "labels_to_target needs the comparison's target, and it has none; check a "
                f"metric instead (e.g. final.{metric} >= 0.9)"
            )
        for selector in (expectation.selector, expectation.versus):
            for term in selector.terms if selector else ():
                if term.key is not None and term.key not in keys:
                    found.append(
                        f"'{term.key}' is not a compared key{_did_you_mean(term.key, keys)}; "
                        f"compared: {preview(keys, 10) or 'none'} (e.g. "
                        f"{keys[0] if keys else 'strategy.name'}=VALUE)"
                    )
        problems += [f"'{expectation.text}': {problem}" for problem in found]
        sources += [expectation.source] if found else []
    if problems:
        raise ConfigError(", ".join(dict.fromkeys(sources)), problems)


def _did_you_mean(name: str, choices: list[str]) -> str:
    close = difflib.get_close_matches(name, choices, n=1, cutoff=0.6)
    return f" (did you mean '{close[0]}'?)" if close else ""


# --- evaluation -------------------------------------------------------------------------------


def evaluate(expectations: Sequence[Expectation], comparison: Comparison) -> list[Outcome]:
    """Check each expectation on the groups it is about.

    Parameters
    ----------
    expectations : sequence of Expectation
    comparison : Comparison

    Returns
    -------
    list of Outcome
        Per expectation in order: one per group checked (a summary), one per pair of groups
        (``A > B``), or one failure when no group matches a selector.

    Raises
    ------
    ConfigError
        From :func:`check_names`, before anything is checked.
    """
    check_names(expectations, comparison)
    outcomes: list[Outcome] = []
    for expectation in expectations:
        if expectation.compares_groups:
            outcomes += _versus_outcomes(expectation, comparison)
        else:
            outcomes += _summary_outcomes(expectation, comparison)
    return outcomes


def _matching(selector: Selector | None, comparison: Comparison) -> list[Group]:
    if selector is None:
        return list(comparison.groups)
    return [group for group in comparison.groups if selector.matches(group)]


def _unmatched(
    expectation: Expectation, selector: Selector | None, comparison: Comparison
) -> Outcome:
    labels = [group.label for group in comparison.groups]
    if selector is None:
        message = f"{expectation.text} failed: the comparison has no groups"
    else:
        message = (
            f"{expectation.text} failed: no group matches '{selector.text}'; groups: "
            f"{preview(labels, 10)}"
        )
    return Outcome(expectation.text, None, False, message)


def _summary_outcomes(expectation: Expectation, comparison: Comparison) -> list[Outcome]:
    groups = _matching(expectation.selector, comparison)
    if not groups:
        return [_unmatched(expectation, expectation.selector, comparison)]
    outcomes = []
    for group in groups:
        value, how = _summary_value(expectation, group, comparison)
        how = f" ({how})" if how else ""
        if math.isnan(value):
            passed, found = False, f"found no value{how}"
        else:
            passed = OPERATORS[expectation.op](value, expectation.number)
            found = f"found {_shown(value, passed, expectation.op, expectation.number)}{how}"
        verb = "holds" if passed else "failed"
        message = f"{expectation.text} {verb} for {group.label}: {found}"
        outcomes.append(Outcome(expectation.text, group.label, passed, message))
    return outcomes


def _summary_value(
    expectation: Expectation, group: Group, comparison: Comparison
) -> tuple[float, str]:
    """The group's value of the summary, and how it was found (for the message)."""
    summary, metric, runs = expectation.summary, expectation.metric, plural(group.n_runs, "run")
    if summary == "runs":
        return float(group.n_runs), ""
    if summary == "seconds_per_run":
        return group.seconds_per_run, f"mean of {runs}"
    if summary == "seconds_per_loop":
        return group.seconds_per_loop, f"mean over {runs}"
    if summary == "labels_to_target":
        target = f"{comparison.target:g}" if comparison.target is not None else "no target"
        return group.labels_to_target, f"median of {runs}; {group.reached} reached {target}"
    if metric == comparison.metric:
        # compare's own statistics: the same numbers its table shows.
        return getattr(group, summary), f"mean of {runs}"
    per_run = [_run_summary(run, summary, metric) for run in group.runs if metric in run.values]
    value = float(np.mean(per_run)) if per_run else float("nan")
    return value, f"mean of {plural(len(per_run), 'run')}"


def _run_summary(run: RunCurve, summary: str, metric: str) -> float:
    values = run.values[metric]
    if summary == "final":
        return float(values[-1])
    return aulc(run.n_labeled if summary == "aulc" else np.arange(run.loops), values)


def _shown(value: float, passed: bool, op: str, number: float) -> str:
    """The value with at least 4 significant digits, and as many more as it takes to show why
    it passed or failed (0.89996 against 0.9, not 0.9)."""
    if math.isinf(value) or (value.is_integer() and abs(value) < 1e15):
        return str(int(value)) if math.isfinite(value) else str(value)
    for digits in range(4, 18):
        text = f"{value:.{digits}g}"
        if OPERATORS[op](float(text), number) == passed:
            return text
    return repr(value)


def _versus_outcomes(expectation: Expectation, comparison: Comparison) -> list[Outcome]:
    text, better, other = expectation.text, expectation.selector, expectation.versus
    lefts, rights = _matching(better, comparison), _matching(other, comparison)
    if not lefts or not rights:
        return [_unmatched(expectation, better if not lefts else other, comparison)]
    outcomes = []
    for mine in lefts:
        partners = [theirs for theirs in rights if _alike(mine, theirs, better, other)]
        if not partners:
            candidates = preview([g.label for g in rights if g is not mine], 10) or "none"
            outside = ", ".join(f"{section}.*" for section in sorted(better.sections(mine)))
            message = (
                f"{text} failed for {mine.label}: no other group matching '{other.text}' agrees "
                f"with it on the keys outside {outside}; matching: {candidates}"
            )
            outcomes.append(Outcome(text, mine.label, False, message))
        outcomes += [_versus(expectation, mine, theirs, comparison) for theirs in partners]
    return outcomes


def _alike(mine: Group, theirs: Group, better: Selector, other: Selector) -> bool:
    """Whether two groups differ only in the config sections the selectors name: as compare
    pairs a group with its reference (margin's own parameters are not random's)."""
    if mine is theirs:
        return False
    free = {*mine.keys, *theirs.keys}
    named = better.sections(mine) | other.sections(theirs)
    return all(
        mine.keys.get(key, MISSING) == theirs.keys.get(key, MISSING)
        for key in free
        if key.split(".")[0] not in named
    )


def _versus(
    expectation: Expectation, mine: Group, theirs: Group, comparison: Comparison
) -> Outcome:
    diff, low, high, n = _paired_difference(mine, theirs, comparison)
    where = f"for {mine.label} vs {theirs.label}"
    if n < 2 or math.isnan(low) or math.isnan(high):
        reason = (
            f"only {plural(n, 'paired seed')}: no interval (runs pair when they share the seed "
            "and the initial set)"
            if n < 2
            else f"no interval from {plural(n, 'paired seed')}"
        )
        message = f"{expectation.text} failed {where}: {reason}"
        return Outcome(expectation.text, mine.label, False, message, theirs.label)
    passed = low > 0 if expectation.op == ">" else high < 0
    side = "is above 0" if low > 0 else "is below 0" if high < 0 else "includes 0"
    message = (
        f"{expectation.text} {'holds' if passed else 'failed'} {where}: {comparison.metric} "
        f"nAULC difference {diff:+.4f} ({plural(n, 'paired seed')}), "
        f"{comparison.confidence * 100:g}% interval [{low:+.4f}, {high:+.4f}] {side}"
    )
    return Outcome(expectation.text, mine.label, passed, message, theirs.label)


def _paired_difference(
    mine: Group, theirs: Group, comparison: Comparison
) -> tuple[float, float, float, int]:
    """Mean per-seed nAULC difference (mine - theirs), its interval, and the number of pairs:
    compare's when one group is the other's reference, else computed here."""
    for group, ref, sign in ((mine, theirs, 1.0), (theirs, mine, -1.0)):
        if group.reference == ref.label and None not in (group.diff, group.ci_low, group.ci_high):
            # Negating every difference negates each resampled mean: the interval flips exactly.
            low, high = sorted((sign * group.ci_low, sign * group.ci_high))
            return sign * group.diff, low, high, len(group.pairs)
    theirs_by_start = {}
    for run in theirs.runs:
        theirs_by_start.setdefault((run.seed, run.initial), run)
    diffs = []
    for start in sorted({(run.seed, run.initial) for run in mine.runs}):
        mine_run = next(run for run in mine.runs if (run.seed, run.initial) == start)
        theirs_run = theirs_by_start.get(start)
        if theirs_run is None or comparison.metric not in theirs_run.values:
            continue
        diff = _run_summary(mine_run, "aulc", comparison.metric) - _run_summary(
            theirs_run, "aulc", comparison.metric
        )
        if math.isfinite(diff):
            diffs.append(diff)
    if not diffs:
        return float("nan"), float("nan"), float("nan"), 0
    low, high = paired_interval(np.array(diffs), comparison.resamples, comparison.confidence)
    return float(np.mean(diffs)), low, high, len(diffs)


def paired_interval(
    diffs: np.ndarray, resamples: int = 10_000, confidence: float = 0.95, seed: int = 0
) -> tuple[float, float]:
    """Percentile bootstrap interval of the mean of paired differences.

    The pairs (seeds) are resampled with replacement ``resamples`` times; the interval runs
    between the ``(1 - confidence) / 2`` and ``(1 + confidence) / 2`` quantiles of the
    resampled means. The same input always gives the same interval.

    Parameters
    ----------
    diffs : ndarray of shape (n_pairs,)
        Finite per-pair differences, in a fixed order (the order changes the draws).
    resamples : int, default 10_000
    confidence : float in (0, 1), default 0.95
    seed : int, default 0
        Seeds the ``numpy.random.Generator`` that draws the resamples.

    Returns
    -------
    (low, high) : tuple of float
        ``(nan, nan)`` with fewer than 2 pairs: one seed gives no interval. Both equal the
        value when every difference is the same.

    Raises
    ------
    ValueError
        When ``diffs`` is not 1-D or not finite, ``resamples < 1`` or ``confidence`` is
        outside (0, 1).
    """
    diffs = np.asarray(diffs, dtype=float)
    if diffs.ndim != 1 or not np.isfinite(diffs).all():
        raise ValueError(f"diffs must be a 1-D array of finite numbers; got shape {diffs.shape}")
    if resamples < 1 or not 0 < confidence < 1:
        raise ValueError(
            f"resamples must be >= 1 and confidence in (0, 1); got {resamples}, {confidence}"
        )
    n = diffs.shape[0]
    if n < 2:
        return float("nan"), float("nan")
    if (diffs == diffs[0]).all():
        # Exactly the value: a float mean of n copies can be off in the last digit.
        return float(diffs[0]), float(diffs[0])
    rng = np.random.default_rng(seed)
    means = np.empty(resamples)
    # In blocks: 10,000 resamples of 5,000 pairs would be 400 MB of indices at once.
    block = max(1, _DRAWS_PER_BLOCK // n)
    for start in range(0, resamples, block):
        stop = min(start + block, resamples)
        means[start:stop] = diffs[rng.integers(0, n, size=(stop - start, n))].mean(axis=1)
    tail = (1 - confidence) / 2
    low, high = np.quantile(means, [tail, 1 - tail])
    return float(low), float(high)


# --- JUnit XML --------------------------------------------------------------------------------


def junit_xml(outcomes: Sequence[Outcome], suite_name: str = "alcli check") -> str:
    """The outcomes as JUnit XML, as GitLab, Jenkins and GitHub test reporters read it.

    One ``<testcase>`` per outcome, named by the expectation and its group; a failure holds
    its message in ``<failure message=...>`` and as text, a pass in ``<system-out>``.

    Parameters
    ----------
    outcomes : sequence of Outcome
    suite_name : str

    Returns
    -------
    str
        The document, XML declaration included; write it encoded as UTF-8.
    """
    suite_name = _xml_text(suite_name)
    counts = {
        "tests": str(len(outcomes)),
        "failures": str(sum(not outcome.passed for outcome in outcomes)),
        "errors": "0",
    }
    root = ET.Element("testsuites", name=suite_name, **counts, time="0")
    suite = ET.SubElement(root, "testsuite", name=suite_name, **counts, skipped="0", time="0")
    for outcome in outcomes:
        name = outcome.expectation
        if outcome.group is not None:
            name += f" for {outcome.group}"
        if outcome.against is not None:
            name += f" vs {outcome.against}"
        case = ET.SubElement(
            suite, "testcase", classname=suite_name, name=_xml_text(name), time="0"
        )
        message = _xml_text(outcome.message)
        if outcome.passed:
            ET.SubElement(case, "system-out").text = message
        else:
            ET.SubElement(case, "failure", message=message, type="ExpectationFailed").text = message
    ET.indent(root)
    return '<?xml version="1.0" encoding="UTF-8"?>\n' + ET.tostring(root, encoding="unicode") + "\n"


def _xml_text(text: str) -> str:
    """ElementTree escapes ``<&"``; characters XML cannot hold at all become U+FFFD."""
    return _NOT_XML.sub("\ufffd", text)
