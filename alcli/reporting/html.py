"""One self-contained HTML page for a comparison or for one run: tables, the figures inlined
as ``<svg>``, the configs and the versions.

No JavaScript and no network: the CSS is embedded, the figures are inline and draw their text
as paths. Every string that comes from data goes through ``html.escape``.
"""

from __future__ import annotations

import math
from collections import Counter
from collections.abc import Callable, Sequence
from html import escape
from typing import Any

from alcli.reporting.comparison import Comparison, Group
from alcli.reporting.plots import X_AXES, comparison_figure, run_figure, svg_text
from alcli.reporting.run_report import FUNCTION_COLUMNS, functions_rows, functions_said

_CSS = """
body { margin: 0; color: #1b1b1b; background: #fff;
       font: 15px/1.45 system-ui, -apple-system, "Segoe UI", Roboto, sans-serif; }
main { max-width: 1240px; margin: 0 auto; padding: 1.5rem; }
h1 { font-size: 1.6rem; margin: 0 0 .3rem; }
h2 { font-size: 1.2rem; margin: 2rem 0 .5rem; padding-bottom: .2rem;
     border-bottom: 1px solid #ddd; }
.muted, figcaption { color: #555; }
.scroll { overflow-x: auto; }
/* Group labels are long key=value lists without spaces: let them wrap. */
td:first-child { overflow-wrap: anywhere; min-width: 10em; max-width: 20em; }
table { border-collapse: collapse; margin: .5rem 0; font-size: .92rem;
        font-variant-numeric: tabular-nums; }
th, td { padding: .3rem .55rem; border-bottom: 1px solid #e4e4e4; text-align: left;
         vertical-align: top; }
th { background: #f3f4f6; font-weight: 600; }
td.num { text-align: right; white-space: nowrap; }
tr.reference td { background: #fafafa; font-style: italic; }
td.better { color: #0b6b2e; font-weight: 600; }
td.worse { color: #a4161a; font-weight: 600; }
ul.notes { color: #333; font-size: .92rem; padding-left: 1.2rem; }
figure { margin: 1rem 0; }
figure svg { max-width: 100%; height: auto; }
figcaption { font-size: .9rem; }
pre { background: #f6f7f9; padding: .75rem; overflow-x: auto; font-size: .85rem; }
details { margin: .4rem 0; }
summary { cursor: pointer; font-weight: 600; }
@media print {
  main { max-width: none; padding: 0; }
  .scroll { overflow: visible; }
  h2 { break-after: avoid; }
  figure, tr, details { break-inside: avoid; }
}
"""

#: An empty table cell: no value, or it means nothing for this row.
_NONE = "\u2014"

#: A table cell: its text, or its text and a CSS class.
Cell = str | tuple[str, str]


# --- comparison ---------------------------------------------------------------------------


def comparison_html(
    comparison: Comparison,
    title: str,
    configs: dict[str, str],
    versions: dict[str, str],
    x: str = "labels",
) -> str:
    """The comparison as one self-contained HTML page.

    Parameters
    ----------
    comparison : Comparison
    title : str
        The page's title and heading.
    configs : dict of str to str
        Group label -> that group's config as YAML text.
    versions : dict of str to str
        Package (``alcli``, ``python``, ``numpy``, ...) -> version.
    x : {"labels", "cost", "seconds"}, default="labels"
        The x axis of the learning curves.

    Returns
    -------
    str
        The page: summary table and what its columns mean, the figure, the configs, versions
        and data fingerprints.
    """
    body = [
        f"<h1>{escape(title)}</h1>",
        _paragraph(_lede(comparison), "muted"),
        "<h2>Summary</h2>",
        _summary_table(comparison),
        _list(_explanations(comparison) + comparison.notes, "notes"),
        "<h2>Learning curves</h2>",
        _figure(svg_text(comparison_figure(comparison, x)), _figure_caption(comparison, x)),
        "<h2>Configs</h2>",
        *_configs(comparison, configs),
        "<h2>Versions and data</h2>",
        _table(["package", "version"], [[k, str(v)] for k, v in versions.items()]),
        _fingerprints(comparison),
    ]
    return _page(title, body)


def _lede(comparison: Comparison) -> str:
    runs = comparison.runs
    words = [
        f"{_count(len(comparison.groups), 'group')}, {_count(len(runs), 'run')}, "
        f"metric {comparison.metric}"
    ]
    if comparison.group_keys:
        words.append("grouped by " + ", ".join(comparison.group_keys))
    if comparison.reference_value is not None:
        words.append(f"reference: {comparison.reference_value}")
    if comparison.dataset_keys:
        words.append("datasets told apart by " + ", ".join(comparison.dataset_keys))
    return "; ".join(words) + "."


def _summary_table(comparison: Comparison) -> str:
    groups = comparison.groups
    columns: list[tuple[str, Callable[[Group], Cell]]] = [
        ("group", lambda g: g.label + (" (reference)" if g.is_reference else "")),
        ("runs", lambda g: (str(g.n_runs), "num")),
        (f"final {comparison.metric}", lambda g: (_number(g.final), "num")),
        ("nAULC", lambda g: (_number(g.aulc), "num")),
        ("nAULC (loops)", lambda g: (_number(g.aulc_loops), "num")),
        ("labels to target", lambda g: (_labels_to_target(g, comparison), "num")),
    ]
    if len({g.reference for g in groups if g.reference}) > 1:
        columns.append(("compared with", lambda g: g.reference or _NONE))
    columns += [
        ("difference vs reference", lambda g: (_difference(g), "num")),
        ("wins / ties / losses", lambda g: (_wins(g), "num")),
        ("verdict", lambda g: (g.verdict() or _NONE, _verdict_class(g.verdict()))),
    ]
    if any(g.rank is not None for g in groups):
        columns.append(("rank", lambda g: (_number(g.rank, 1), "num")))
    if any(g.mean_rank is not None for g in groups):
        columns.append(("mean rank", lambda g: (_number(g.mean_rank, 2), "num")))
    columns += [
        ("seconds per run", lambda g: (_number(g.seconds_per_run, 3), "num")),
        ("seconds per loop", lambda g: (_number(g.seconds_per_loop, 4), "num")),
    ]
    rows = [[cell(g) for _, cell in columns] for g in groups]
    row_classes = ["reference" if g.is_reference else "" for g in groups]
    return _table([header for header, _ in columns], rows, row_classes)


def _labels_to_target(group: Group, comparison: Comparison) -> str:
    if comparison.target is None:
        return _NONE
    value = "never" if math.isinf(group.labels_to_target) else f"{group.labels_to_target:g}"
    return f"{value} ({group.reached}/{group.n_runs} reached)"


def _difference(group: Group) -> str:
    if group.is_reference:
        return "reference"
    if group.diff is None:
        return _NONE
    if group.ci_low is None or group.ci_high is None:
        return f"{group.diff:+.4f}"
    return f"{group.diff:+.4f} [{group.ci_low:+.4f}, {group.ci_high:+.4f}]"


def _wins(group: Group) -> str:
    if group.is_reference or not (group.wins or group.ties or group.losses):
        return _NONE
    return f"{group.wins} / {group.ties} / {group.losses}"


def _verdict_class(verdict: str) -> str:
    return {"better": "better", "worse": "worse"}.get(verdict, "")


def _explanations(comparison: Comparison) -> list[str]:
    """What the table's columns mean, in plain words."""
    metric = comparison.metric
    tolerance = f"{comparison.tie_tolerance:g}"
    notes = [
        f"final {metric}: the mean over the group's runs of {metric} after their last loop.",
        f"nAULC: the mean {metric} over the labeled range, that is the area under the learning "
        "curve (trapezoids between loops) divided by the range of label counts. Runs with "
        "different loop sizes compare fairly on it.",
        "nAULC (loops): the same area with every loop counted as one step, whatever its size; "
        "it equals nAULC when all loops are the same size.",
    ]
    if comparison.target is None:
        notes.append("labels to target: no target was set.")
    else:
        notes.append(
            f"labels to target: the median label count at which the runs first reached "
            f"{metric} {comparison.target:.4f} ({comparison.target_rule}); \u201cnever\u201d "
            "when most runs did not reach it. (reached/runs) counts the runs that did."
        )
    notes += [
        f"difference vs reference: the group's nAULC minus its reference's, paired by seed "
        f"(each pair shares the test split and the initial labeled set). [low, high] is a "
        f"{comparison.confidence:.0%} paired bootstrap interval over seeds "
        f"({comparison.resamples:,} resamples). Verdict: better when the whole interval is "
        "above 0, worse when it is below 0, otherwise no difference shown.",
        f"wins / ties / losses: the seeds on which the group's nAULC was higher than, within "
        f"{tolerance} of, or lower than its reference's (a tie is |difference| \u2264 "
        f"{tolerance}).",
    ]
    if any(g.rank is not None or g.mean_rank is not None for g in comparison.groups):
        notes.append(
            "rank: the group's nAULC rank among the groups on the same data (1 = best); "
            "mean rank: that rank averaged over the datasets."
        )
    notes.append(
        "seconds: compute seconds (every step of every loop), per run and per loop, averaged "
        "over the group's runs."
    )
    return notes


def _figure_caption(comparison: Comparison, x: str) -> str:
    caption = (
        f"Left: {comparison.metric} against {X_AXES[x]}, the mean of each group's runs with a "
        f"{comparison.confidence:.0%} band (Student t over the runs); reference groups dashed."
    )
    if any(g.pairs and not g.is_reference for g in comparison.groups):
        caption += (
            " Right: each group's paired difference from its reference at each label count, "
            "mean and band over the seeds."
        )
    return caption


def _configs(comparison: Comparison, configs: dict[str, str]) -> list[str]:
    """One collapsed config per group, in the table's order, then any others."""
    order = [g.label for g in comparison.groups if g.label in configs]
    order += [label for label in configs if label not in order]
    if not order:
        return [_paragraph("No configs were given.", "muted")]
    return [
        f"<details><summary>{escape(label)}</summary><pre>{escape(configs[label])}</pre></details>"
        for label in order
    ]


def _fingerprints(comparison: Comparison) -> str:
    counts = Counter(run.data_fingerprint[:12] for run in comparison.runs)
    return _table(
        ["data fingerprint", "runs"],
        [[fingerprint, (str(n), "num")] for fingerprint, n in sorted(counts.items())],
    )


# --- one run ------------------------------------------------------------------------------


def run_html(report: dict[str, Any], config_text: str, versions: dict[str, str]) -> str:
    """One run as a self-contained HTML page.

    Parameters
    ----------
    report : dict
        As :func:`alcli.reporting.load_report` returns it.
    config_text : str
        The run's frozen ``config.yaml``.
    versions : dict of str to str
        Package -> version.

    Returns
    -------
    str
        The page: status and summary, the learning curves (when the run has test metrics and
        a complete loop), the per-loop table, the config, versions and data fingerprint.
    """
    run, summary, loops = report["run"], report["summary"], report["loops"]
    name = str(run.get("name") or run.get("path") or "run")
    body = [
        f"<h1>{escape(name)}</h1>",
        _paragraph(str(run.get("path", "")), "muted"),
        "<h2>Summary</h2>",
        _table(None, _run_summary(run, summary)),
        "<h2>Learning curves</h2>",
        _run_plot(report),
        "<h2>Loops</h2>",
        _loops_table(loops, summary["metric_names"]) if loops else _paragraph("No loop yet."),
        *_functions_section(report.get("labeling_functions")),
        "<h2>Config</h2>",
        f"<pre>{escape(config_text)}</pre>",
        "<h2>Versions and data</h2>",
        _table(
            ["package", "version"],
            [[k, str(v)] for k, v in versions.items()]
            + [["data fingerprint", str(run.get("data_fingerprint") or _NONE)]],
        ),
    ]
    return _page(f"alcli run {name}", body)


def _functions_section(stats: dict[str, Any] | None) -> list[str]:
    """The labeling functions' coverage, conflicts and accuracy (a run labeled by rules)."""
    if not stats:
        return []
    said, columns = functions_said(stats)
    return [
        "<h2>Labeling functions</h2>",
        _paragraph(f"{said} {columns[0].upper()}{columns[1:]}"),
        _table(list(FUNCTION_COLUMNS), functions_rows(stats)),
    ]


def _run_summary(run: dict[str, Any], summary: dict[str, Any]) -> list[list[Cell]]:
    rows: list[list[Cell]] = [
        ["status", str(run.get("status", _NONE))],
        ["stop reason", str(run.get("stop_reason") or _NONE)],
        ["loops", str(summary["loops"])],
        ["labels", str(summary["n_labeled"])],
    ]
    rows += [[f"final {m}", _number(v)] for m, v in summary["final"].items()]
    rows += [[f"AULC {m}", _number(v)] for m, v in summary["aulc"].items()]
    if "labels_to_target" in summary:
        reached = summary["labels_to_target"]
        rows.append(["labels to target", "not reached" if reached is None else str(reached)])
    if "cost" in summary:
        rows.append(["cost", _number(summary["cost"], 2)])
    if "label_errors" in summary:
        rows.append(
            ["wrong labels", f"{summary['label_errors']} ({summary['label_error_rate']:.1%})"]
        )
    if "n_skipped" in summary:
        rows.append(["skipped", str(summary["n_skipped"])])
    rows.append(["compute seconds", _number(summary["seconds"], 3)])
    if run.get("error"):
        rows.append(["error", str(run["error"])])
    for key in ("started", "updated"):
        if run.get(key):
            rows.append([key, str(run[key])])
    return rows


def _run_plot(report: dict[str, Any]) -> str:
    if not report["summary"]["metric_names"]:
        return _paragraph("No plot: the run has no test set, so nothing was scored.", "muted")
    if not report["loops"]:
        return _paragraph("No plot: the run has no complete loop yet.", "muted")
    caption = "Each test metric after each loop, against the labels so far."
    return _figure(svg_text(run_figure(report)), caption)


def _loops_table(loops: list[dict[str, Any]], metric_names: list[str]) -> str:
    """One row per loop: counts, metrics, the optional columns the run has, step seconds."""
    first = loops[0]
    optional = [k for k in ("cost", "label_errors", "n_skipped") if k in first]
    steps = [k for k in first if k.endswith("_s")]
    header = ["loop", "labels", "loop size", "strategy", *metric_names, *optional, *steps]
    rows = [
        [
            (str(row["loop"]), "num"),
            (str(row["n_labeled"]), "num"),
            (str(row.get("loop_size", _NONE)), "num"),
            str(row.get("strategy", _NONE)),
            *((_number(row[m]), "num") for m in metric_names),
            *((_plain(row[k]), "num") for k in optional),
            *((_number(row[k], 4), "num") for k in steps),
        ]
        for row in loops
    ]
    return _table(header, rows)


# --- HTML pieces --------------------------------------------------------------------------


def _page(title: str, body: list[str]) -> str:
    return (
        "<!DOCTYPE html>\n"
        '<html lang="en">\n<head>\n<meta charset="utf-8">\n'
        '<meta name="viewport" content="width=device-width, initial-scale=1">\n'
        f"<title>{escape(title)}</title>\n<style>{_CSS}</style>\n</head>\n"
        "<body>\n<main>\n" + "\n".join(body) + "\n</main>\n</body>\n</html>\n"
    )


def _table(
    header: Sequence[str] | None,
    rows: Sequence[Sequence[Cell]],
    row_classes: Sequence[str] | None = None,
) -> str:
    """A table of escaped text (no header row when ``header`` is None), scrolling sideways
    on a narrow screen rather than squeezing its columns."""
    head = ""
    if header is not None:
        head = "<thead><tr>" + "".join(f"<th>{escape(h)}</th>" for h in header) + "</tr></thead>"
    classes = row_classes or [""] * len(rows)
    lines = [
        (f'<tr class="{css}">' if css else "<tr>") + "".join(_cell(c) for c in row) + "</tr>"
        for row, css in zip(rows, classes, strict=True)
    ]
    return (
        f'<div class="scroll"><table>{head}<tbody>\n'
        + "\n".join(lines)
        + "\n</tbody></table></div>"
    )


def _cell(cell: Cell) -> str:
    text, css = (cell, "") if isinstance(cell, str) else cell
    return f'<td class="{css}">{escape(text)}</td>' if css else f"<td>{escape(text)}</td>"


def _figure(svg: str, caption: str) -> str:
    return f"<figure>\n{svg}\n<figcaption>{escape(caption)}</figcaption>\n</figure>"


def _paragraph(text: str, css: str = "") -> str:
    return f'<p class="{css}">{escape(text)}</p>' if css else f"<p>{escape(text)}</p>"


def _list(items: list[str], css: str) -> str:
    lines = "".join(f"<li>{escape(item)}</li>" for item in items)
    return f'<ul class="{css}">{lines}</ul>'


def _count(n: int, noun: str) -> str:
    return f"{n} {noun}" if n == 1 else f"{n} {noun}s"


def _number(value: float | None, digits: int = 4) -> str:
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return _NONE
    return f"{value:.{digits}f}"


def _plain(value: Any) -> str:
    return _NONE if value is None else f"{value:g}" if isinstance(value, float) else str(value)
