"""The expectations ``alcli check`` holds a comparison to: their grammar, read from text.

A sweep file may list them too (``expect: [EXPR, ...]``). Every expectation that holds: exit 0.
One that fails: exit 1, with one line per failure naming the value found. One that cannot be
read, or names a metric or key the runs do not have: exit 2, before anything is checked.

A summary against a number
--------------------------
``[SELECTOR:] SUMMARY OP NUMBER``, OP one of ``>=  >  <=  <  ==  !=``; NUMBER any number,
``inf`` included. SUMMARY, per group of runs:

- ``final.METRIC``: mean over the runs of METRIC's last value;
- ``aulc.METRIC``: mean normalized area under the learning curve (nAULC) over labels;
- ``aulc_loops.METRIC``: the same with each loop as one step;
- ``labels_to_target``: median labels to reach the comparison's target (``inf``: never);
- ``seconds_per_run``, ``seconds_per_loop``: mean compute seconds;
- ``runs``: how many runs the group has.

Without a SELECTOR, every group must meet it; each group that does not is one failure. A
SELECTOR is terms separated by commas, all of which must match: ``KEY=VALUE`` (the group's KEY
has that value) or a bare ``VALUE`` (one of the group's compared keys has it). A selector that
matches no group is a failure. Examples::

    final.accuracy >= 0.9
    margin: aulc.accuracy > 0.8
    strategy.name=margin,loop_size.size=10: labels_to_target <= 200
    runs == 5

One group beating another
-------------------------
``A > B`` or ``A < B``, A and B selectors. ``margin > random`` holds when, for every group
matching ``margin``, its paired nAULC difference (the comparison's metric) from the group matching
``random`` has a 95% bootstrap interval above 0 (``<``: below 0). The two groups must agree on
every compared key outside the config sections their selectors name (``strategy.*`` for
``margin``), so with loop sizes 10 and 20 margin-10 is held against random-10 and margin-20
against random-20. When ``B`` matches several such groups, ``A`` must beat each. Runs pair when
they share the seed and the initial set; fewer than 2 pairs give no interval, a failure. A value
that is a number needs its key: ``loop_size.size=10 > loop_size.size=20``.

Whether the right side reads as a number tells the two forms apart.
"""

from __future__ import annotations

import difflib
import math
import operator
import re
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import Any

from alcli.errors import ConfigError
from alcli.reporting.comparison import Group

OPERATORS: dict[str, Callable[[float, float], bool]] = {
    ">=": operator.ge,
    ">": operator.gt,
    "<=": operator.le,
    "<": operator.lt,
    "==": operator.eq,
    "!=": operator.ne,
}
#: Summaries written ``NAME.METRIC``, and those written alone (with an example of each).
WITH_METRIC = ("final", "aulc", "aulc_loops")
WITHOUT_METRIC = {
    "labels_to_target": "labels_to_target <= 200",
    "seconds_per_run": "seconds_per_run < 60",
    "seconds_per_loop": "seconds_per_loop < 2",
    "runs": "runs >= 5",
}
SUMMARIES = ", ".join([*(f"{name}.<metric>" for name in WITH_METRIC), *WITHOUT_METRIC])
EXAMPLES = "e.g. final.accuracy >= 0.9, margin: aulc.accuracy > 0.8, margin > random"
SELECTOR_FORM = (
    "VALUE or KEY=VALUE terms separated by commas "
    "(e.g. strategy.name=margin,loop_size.size=10: final.accuracy >= 0.9)"
)
# Two-character operators first, so that '>=' is not read as '>' followed by '='.
_OPERATOR = re.compile(r"(>=|<=|==|!=|>|<)")
#: A key a group does not have (None is a value).
MISSING = object()
_FLIPPED = {">=": "<=", ">": "<", "<=": ">=", "<": ">", "==": "==", "!=": "!="}


@dataclass(frozen=True)
class Term:
    """One term of a selector: ``key=value``, or a bare ``value`` (``key`` is None)."""

    key: str | None
    value: str

    def keys_matched(self, group: Group) -> set[str]:
        """The group's compared keys this term matches (empty: it does not match)."""
        keys = group.keys if self.key is None else {self.key: group.keys.get(self.key, MISSING)}
        return {key for key, value in keys.items() if self.value in _spellings(value)}


@dataclass(frozen=True)
class Selector:
    """Which groups an expectation is about: every term must match."""

    text: str
    terms: tuple[Term, ...]

    def matches(self, group: Group) -> bool:
        return all(term.keys_matched(group) for term in self.terms)

    def sections(self, group: Group) -> set[str]:
        """The config sections (``strategy`` of ``strategy.name``) where it matched."""
        return {key.split(".")[0] for term in self.terms for key in term.keys_matched(group)}


@dataclass(frozen=True)
class Expectation:
    """One parsed expectation: a summary against a number, or a group against a group."""

    #: As written, with runs of whitespace made one space.
    text: str
    op: str
    #: The groups a summary is checked on (None: every group), or the ``A`` of ``A > B``.
    selector: Selector | None
    #: ``final``, ``aulc``, ``aulc_loops``, ``labels_to_target``, ... (None for ``A > B``).
    summary: str | None = None
    #: The metric of ``final``, ``aulc`` and ``aulc_loops``.
    metric: str | None = None
    number: float | None = None
    #: The ``B`` of ``A > B``; None for a summary against a number.
    versus: Selector | None = None
    #: Where it was written (``--expect``, or ``expect`` in a sweep file), for error messages.
    source: str = "--expect"

    @property
    def compares_groups(self) -> bool:
        return self.versus is not None


class _Invalid(Exception):
    """One unreadable expression; parse_expectations gathers them into one ConfigError."""


# --- parsing ----------------------------------------------------------------------------------


def parse_expectation(text: str, source: str = "--expect") -> Expectation:
    """Read one expectation (the grammar is in the module's docstring).

    Raises
    ------
    ConfigError
        With one line quoting the expression, what is allowed and an example.
    """
    return parse_expectations([text], source)[0]


def parse_expectations(texts: Iterable[str], source: str) -> list[Expectation]:
    """Read every expectation, reporting every unreadable one at once.

    Parameters
    ----------
    texts : iterable of str
    source : str
        Where they were written: ``--expect``, or ``expect`` for a sweep file's list.

    Returns
    -------
    list of Expectation, in the order given.

    Raises
    ------
    ConfigError
        One line per unreadable expression, each quoting it, saying what is allowed and
        giving an example.
    """
    parsed, problems = [], []
    for text in texts:
        try:
            parsed.append(_parse(text, source))
        except _Invalid as invalid:
            problems.append(str(invalid))
    if problems:
        raise ConfigError(source, problems)
    return parsed


def _parse(text: Any, source: str) -> Expectation:
    if isinstance(text, dict) and len(text) == 1:
        # YAML reads an unquoted `- margin: final.accuracy >= 0.9` as a mapping.
        written = "{}: {}".format(*next(iter(text.items())))
        raise _Invalid(f"{text!r}: quote the expression in YAML: '{written}'")
    if not isinstance(text, str):
        raise _Invalid(f"{text!r}: an expectation is text ({EXAMPLES})")
    text = " ".join(text.split())
    quoted = f"'{text}'"
    if not text:
        raise _Invalid(f"'': empty; write SUMMARY OP NUMBER or GROUP > GROUP ({EXAMPLES})")
    parts = _OPERATOR.split(text)
    if len(parts) == 1:
        raise _Invalid(
            f"{quoted}: no comparison; write SUMMARY OP NUMBER, OP one of >=, >, <=, <, ==, "
            f"!=, or GROUP > GROUP ({EXAMPLES})"
        )
    if len(parts) > 3:
        raise _Invalid(
            f"{quoted}: one comparison per expectation; write a range as two "
            "(e.g. final.accuracy > 0.8 and final.accuracy < 0.95)"
        )
    left, op, right = (part.strip() for part in parts)
    if not left or not right:
        raise _Invalid(
            f"{quoted}: nothing {'left' if not left else 'right'} of '{op}' ({EXAMPLES})"
        )
    number = _number(right)
    if number is not None:
        if math.isnan(number):
            raise _Invalid(f"{quoted}: NaN compares with nothing; give a number ({EXAMPLES})")
        selector = None
        if ":" in left:
            # The last colon: a value may hold one (mypkg.strategies:MyStrategy), a summary not.
            selector_text, _, left = (part.strip() for part in left.rpartition(":"))
            selector = _selector(selector_text, quoted)
        summary, metric = _summary(left, quoted)
        return Expectation(text, op, selector, summary, metric, number, source=source)
    if _number(left) is not None and _is_summary(right):
        raise _Invalid(
            f"{quoted}: put the summary on the left (e.g. {right} {_FLIPPED[op]} {left})"
        )
    if any(_is_summary(side.rpartition(":")[2].strip()) for side in (left, right)):
        raise _Invalid(
            f"{quoted}: a summary is compared with a number, and '{right}' is not one "
            "(e.g. final.accuracy >= 0.9); groups are compared with each other as GROUP > "
            "GROUP (e.g. margin > random)"
        )
    if op not in (">", "<"):
        raise _Invalid(
            f"{quoted}: groups are compared with > or < only (e.g. {left} > {right}); a summary "
            f"is compared with a number (e.g. final.accuracy {op} 0.9)"
        )
    return Expectation(
        text, op, _selector(left, quoted), versus=_selector(right, quoted), source=source
    )


def _number(text: str) -> float | None:
    try:
        return float(text)
    except ValueError:
        return None


def _is_summary(text: str) -> bool:
    head = text.partition(".")[0]
    return head in WITH_METRIC or head in WITHOUT_METRIC


def _summary(text: str, quoted: str) -> tuple[str, str | None]:
    head, dot, metric = text.partition(".")
    if head in WITH_METRIC:
        if not metric:
            raise _Invalid(
                f"{quoted}: {head} needs a metric: {head}.<metric> (e.g. {head}.accuracy >= 0.9)"
            )
        return head, metric
    if head in WITHOUT_METRIC:
        if dot:
            raise _Invalid(
                f"{quoted}: {head} takes no metric (e.g. {WITHOUT_METRIC[head]}); "
                "labels_to_target uses the comparison's metric and target"
            )
        return head, None
    hint = ""
    if _number(text) is not None:
        hint = (
            "; a group named by a number needs its key (e.g. loop_size.size=10 > loop_size.size=5)"
        )
    raise _Invalid(
        f"{quoted}: unknown summary '{text}'{_suggest_summary(text)}; allowed: {SUMMARIES} "
        f"({EXAMPLES}){hint}"
    )


def _suggest_summary(text: str) -> str:
    head, _, metric = text.partition(".")
    close = difflib.get_close_matches(head, [*WITH_METRIC, *WITHOUT_METRIC], n=1, cutoff=0.6)
    if not close:
        return ""
    name = close[0]
    return (
        f" (did you mean '{name}.{metric or 'accuracy'}'?)"
        if name in WITH_METRIC
        else (f" (did you mean '{name}'?)")
    )


def _selector(text: str, quoted: str) -> Selector:
    terms = []
    for part in text.split(","):
        key, eq, value = (piece.strip() for piece in part.partition("="))
        if not key or (eq and not value):
            raise _Invalid(f"{quoted}: the group selector '{text}' is not {SELECTOR_FORM}")
        terms.append(Term(key, value) if eq else Term(None, key))
    return Selector(text, tuple(terms))


def _spellings(value: Any) -> set[str]:
    """How a user may write a compared key's value: as Python prints it, or as compare's group
    labels show it (YAML's true/false/null, a scikit-learn class by its own name)."""
    return set() if value is MISSING else {str(value), _label_value(value)}


def _label_value(value: Any) -> str:
    if isinstance(value, bool) or value is None:
        return {True: "true", False: "false", None: "null"}[value]
    if isinstance(value, list):
        return "[" + ",".join(_label_value(v) for v in value) + "]"
    return str(value).rsplit(".", 1)[-1] if str(value).startswith("sklearn.") else str(value)
