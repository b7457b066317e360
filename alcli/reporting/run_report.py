"""Read a run directory into a report (run, summary, loops) as data, JSON or CSV. Reads CSV,
JSON and YAML only: never unpickles anything."""

from __future__ import annotations

import json
from collections.abc import Iterable
from pathlib import Path
from typing import Any

import numpy as np
import yaml

from alcli.data.config import has_test_set
from alcli.errors import RunDirError
from alcli.metrics import aulc, labels_to_reach
from alcli.reporting.replay import replay
from alcli.rundir import RunDir, read_metrics_csv, step_seconds
from alcli.rundir.integrity import inspect_run, raise_if_damaged
from alcli.rundir.tables import VOTES_FILE, read_votes, rows_of_records


def load_report(path: Path) -> dict[str, Any]:
    """The run's metadata, a summary, and one dict per complete loop (metrics.csv's keys)."""
    rundir = RunDir.open(path)
    meta = rundir.read_meta()
    if not rundir.is_busy():  # a run going on may be between a loop folder and its row
        raise_if_damaged(inspect_run(path, deep=False), "a report")
    try:
        config = yaml.safe_load(rundir.config_path.read_text())
    except (OSError, yaml.YAMLError) as exc:
        raise RunDirError(f"{rundir.config_path} cannot be read: {exc}") from None
    metric_names = config.get("metrics") if isinstance(config, dict) else None
    if not isinstance(metric_names, list):
        raise RunDirError(f"{rundir.config_path} has no list of metrics; it was changed by hand")
    data = config.get("data") or {}
    if not has_test_set(data.get("test_path"), data.get("test_size")):
        metric_names = []  # no test set: nothing was scored
    loops = read_metrics_csv(path / "metrics.csv", metric_names)
    loops += _rows_not_written_yet(rundir, loops, metric_names)
    where = (
        _where_it_stopped(path) if meta.get("status") in ("stopped", "failed", "running") else None
    )
    summary = _summary(loops, metric_names, (config.get("stop") or {}).get("target"))
    waiting = [meta["pending_loop"]] if meta.get("status") == "awaiting_labels" else []
    summary["warnings"] = warning_summary(
        _warning_events(path), [row["loop"] for row in loops], [w for w in waiting if w is not None]
    )
    report = {
        "run": {"path": str(path), **meta, **({"stopped_in": where} if where else {})},
        "summary": summary,
        "loops": loops,
        "replay": replay(loops, metric_names),
    }
    voted = [rundir.loop_path(k) / VOTES_FILE for k in rundir.complete_loops()]
    voted = [votes for votes in voted if votes.exists()]
    if voted:
        report["labeling_functions"] = labeling_function_stats(voted)
    return report


#: The columns of the labeling functions' table, as :func:`functions_rows` fills them.
FUNCTION_COLUMNS = ("function", "votes", "coverage", "conflicts", "accuracy")


def functions_rows(stats: dict[str, Any]) -> list[list[str]]:
    """One row per labeling function, formatted for people (FUNCTION_COLUMNS)."""
    return [
        [
            row["function"],
            str(row["votes"]),
            f"{row['coverage']:.1%}",
            f"{row['conflicts']:.1%}",
            "unknown" if row["accuracy"] is None else f"{row['accuracy']:.1%}",
        ]
        for row in stats["functions"]
    ]


def functions_said(stats: dict[str, Any]) -> tuple[str, str]:
    """The labeling functions' result in words (what they labeled, what the fallback took),
    and what the columns of their table mean: the same for the terminal and the HTML."""
    passed = ", ".join(f"{n} {reason}" for reason, n in sorted(stats["passed_on"].items()))
    accuracy = stats["accuracy"]
    said = (
        f"{stats['records']} records asked; {stats['labeled']} labeled by the functions"
        + ("" if accuracy is None else f" ({accuracy:.1%} right)")
        + f", {sum(stats['passed_on'].values())} left to the fallback"
        + (f" ({passed})" if passed else "")
        + "."
    )
    columns = (
        "coverage: share of the records a function voted on; conflicts: share of its votes "
        "where another function voted another class; accuracy: share of its votes that match "
        "the data's label (unknown where the data holds none)."
    )
    return said, columns


def labeling_function_stats(paths: list[Path]) -> dict[str, Any]:
    """How labeling functions did over the ``votes.csv`` files at ``paths``.

    Returns
    -------
    dict
        ``records`` (the records the functions were asked about), ``labeled`` (those their
        votes labeled), ``accuracy`` of those labels (None when no true label is known),
        ``passed_on`` (records left to the fallback, by reason), and ``functions``: per
        function its ``votes``, ``coverage`` (share of the records it voted on),
        ``conflicts`` (share of its votes where another function voted another class) and
        ``accuracy`` (share of its votes that match the true label, among records whose true
        label is known; None when none is).
    """
    functions: list[str] = []
    rows: list[dict[str, str]] = []
    for path in paths:
        names, loop_rows = read_votes(path)
        functions += [name for name in names if name not in functions]
        rows += loop_rows
    stats = {name: {"votes": 0, "conflicts": 0, "known": 0, "right": 0} for name in functions}
    passed_on: dict[str, int] = {}
    labeled = labeled_known = labeled_right = 0
    for row in rows:
        votes = {name: row.get(name) or "" for name in functions}
        given = {vote for vote in votes.values() if vote}
        truth = row.get("true_label") or ""
        for name, vote in votes.items():
            if not vote:
                continue
            entry = stats[name]
            entry["votes"] += 1
            entry["conflicts"] += len(given - {vote}) > 0
            if truth:
                entry["known"] += 1
                entry["right"] += vote == truth
        if row.get("label"):
            labeled += 1
            labeled_known += bool(truth)
            labeled_right += row["label"] == truth
        else:
            reason = row.get("reason") or "no votes"
            passed_on[reason] = passed_on.get(reason, 0) + 1
    n = len(rows)
    return {
        "records": n,
        "labeled": labeled,
        "accuracy": labeled_right / labeled_known if labeled_known else None,
        "passed_on": passed_on,
        "functions": [
            {
                "function": name,
                "votes": entry["votes"],
                "coverage": entry["votes"] / n if n else 0.0,
                "conflicts": entry["conflicts"] / entry["votes"] if entry["votes"] else 0.0,
                "accuracy": entry["right"] / entry["known"] if entry["known"] else None,
            }
            for name, entry in stats.items()
        ],
    }


def _rows_not_written_yet(
    rundir: RunDir, loops: list[dict[str, Any]], metric_names: list[str]
) -> list[dict[str, Any]]:
    """The complete loops metrics.csv has no row for yet (a kill fell between a loop's folder
    and its row), from their metrics.json."""
    complete = rundir.complete_loops()
    missing = complete[len(loops) :]
    if not missing:
        return []
    header = list(loops[0]) if loops else None
    return rows_of_records([rundir.read_loop_metrics(k) for k in missing], metric_names, header)


#: Events written after a step began that do not end it (the stop itself, a resume, the
#: warnings of a run's set-up).
_NOT_AN_END = {"interrupted", "failed", "storage_full", "resume", "start", "repaired", "warnings"}


def _where_it_stopped(path: Path) -> dict[str, Any] | None:
    """The loop and step a stopped run was in (its last step that began and never ended),
    from the tail of events.jsonl."""
    events = path / "events.jsonl"
    try:
        with events.open("rb") as handle:
            handle.seek(0, 2)
            handle.seek(max(0, handle.tell() - 65536))
            tail = handle.read().decode("utf-8", errors="replace").splitlines()
    except OSError:
        return None
    for line in reversed(tail):
        try:
            event = json.loads(line)
        except ValueError:
            continue  # a line torn by a kill, or cut by the tail's start
        kind = event.get("event") if isinstance(event, dict) else None
        if kind == "begin":
            return {"loop": event.get("loop"), "step": event.get("step")}
        if kind not in _NOT_AN_END:
            return None
    return None


def _warning_events(path: Path) -> list[dict[str, Any]]:
    """The ``warnings`` events of events.jsonl (other lines are not parsed)."""
    found = []
    try:
        with (path / "events.jsonl").open("rb") as handle:
            for line in handle:
                if b'"event": "warnings"' not in line:
                    continue
                try:
                    event = json.loads(line)
                except ValueError:
                    continue  # a line torn by a kill
                if isinstance(event, dict) and isinstance(event.get("warnings"), list):
                    found.append(event)
    except OSError:
        return []
    return found


# --- warnings: what the steps warned, in alcli's words ----------------------------------------

#: The steps in the order a run takes them, as the summary names them.
_STEP_NAMES = {
    "data": "DATA",
    "select": "SELECT",
    "label": "LABEL",
    "train": "TRAIN",
    "infer": "INFER",
}
_SCALE = "scale the features (data.preprocess, or a StandardScaler step in {key}.steps)"
_FEW_LABELS = (
    "usual while few labels are in; a larger init.size (or init.method: kmeans) brings every "
    "class in sooner"
)


def warning_summary(
    events: Iterable[dict[str, Any]], loops: Iterable[int], begun: Iterable[int] = ()
) -> list[dict]:
    """One entry per kind of warning (step, category, source) in ``events`` (the engine's
    ``warnings`` events), with how often it came and a ``text`` line that says it in alcli's
    words: which step, in how many of the loops, the usual fix.

    ``loops`` are the complete loops, ``begun`` loops that ran SELECT and wait for labels: a
    kind of TRAIN or INFER counts among the complete loops, one of SELECT or LABEL among all.

    A kind of the run's set-up (event loop null: reading the data, training a labeling
    model) counts the times it came (once per start or resume) instead of loops.
    """
    kinds: dict[tuple, dict[str, Any]] = {}
    complete = set(loops)
    every = complete | set(begun)
    for event in events:
        loop = event.get("loop")
        if loop is not None:
            every.add(loop)
        for item in event.get("warnings") or ():
            if not isinstance(item, dict) or "step" not in item or "category" not in item:
                continue
            kind = (item["step"], item["category"], item.get("source", ""), item.get("key", ""))
            kind += (loop is None,)
            entry = kinds.setdefault(
                kind,
                {
                    "step": item["step"],
                    "category": item["category"],
                    "source": item.get("source", ""),
                    "key": item.get("key", ""),
                    "loops": set(),
                    "times": 0,
                    "count": 0,
                    "message": item.get("message", ""),
                },
            )
            if loop is None:
                entry["times"] += 1
            else:
                entry["loops"].add(loop)
            entry["count"] += int(item.get("count") or 1)
    summary = []
    for (*_, setup), entry in kinds.items():
        if setup:
            entry["loops"] = entry["of"] = None
        else:
            among = complete if entry["step"] in ("train", "infer") else every
            entry["loops"] = len(entry.pop("loops"))
            entry["of"] = max(len(among), entry["loops"])
            entry.pop("times")
        entry["text"] = warning_line(entry)
        summary.append(entry)
    order = list(_STEP_NAMES)
    return sorted(summary, key=lambda e: order.index(e["step"]) if e["step"] in order else 99)


def warning_line(entry: dict[str, Any]) -> str:
    """``TRAIN: LogisticRegression did not converge in 37 of 40 fits (ConvergenceWarning);
    scale the features (...) or raise model.params.max_iter``."""
    step, category, message = entry["step"], entry["category"], entry.get("message", "")
    key = entry.get("key") or "model"
    model_key = key if key in ("model", "strategy.model", "labeler.model") else "model"
    subject = _subject(entry)
    often = _how_often(entry)
    lowered = message.lower()
    detail, fix = message, ""
    if category == "ConvergenceWarning":
        if step == "select" and key == model_key:
            subject = f"the models {subject} fits"
        what, detail = f"{subject} did not converge{often}", ""
        if key == model_key:
            fix = f"{_SCALE.format(key=key)} or raise {key}.params.max_iter"
        else:
            fix = "scale the features (data.preprocess)"
    elif category == "UndefinedMetricWarning":
        metric, ill, _ = message.partition(" is ill-defined")
        metric = metric if ill and len(metric) < 40 else "a metric"
        if "no true" in lowered:
            what = f"{metric} was ill-defined{often}: a class is missing from the test set"
            fix = "give a test set with every class (data.test_path, or a larger data.test_size)"
        else:
            what = f"{metric} was ill-defined{often}: a class was never predicted"
            fix = f"it counts as 0 there; {_FEW_LABELS}"
        detail = ""
    elif category == "FitFailedWarning":
        what = f"fits inside the cross-validation of {subject} failed{often}"
        fix = "those scores count as NaN; change the parameter values the message names"
    elif category == "RuntimeWarning" and "encountered" in lowered:
        what = f"{subject} overflowed or divided by zero{often}"
        fix = _SCALE.format(key=model_key)
    elif category == "UserWarning" and "class" in lowered:
        if step in ("train", "select", "label"):
            what = f"{subject} had too few labels of a class{often}"
        else:
            what = f"a class was missing from the test set or the predictions{often}"
        fix = _FEW_LABELS
    else:
        what = f"{subject} warned{often}"
    said = f"{category}: {detail}" if detail else category
    line = f"{_STEP_NAMES.get(step, step.upper())}: {what} ({said})"
    return f"{line}; {fix}" if fix else line


def _subject(entry: dict[str, Any]) -> str:
    """Who warned, as the summary names it."""
    step, source, key = entry["step"], entry.get("source", ""), entry.get("key", "")
    if step == "train":
        name = source or "the model"
        return f"the selection model {name}" if key == "strategy.model" else name
    if step == "select":
        if key == "init":
            return f"init.method {source}" if source else "the initial selection"
        return f"strategy {source}" if source else "the strategy"
    if step == "label":
        if key == "labeler.model":
            return f"the labeling model {source}".rstrip()
        return "the labeler"
    if step == "infer":
        return f"{source} predicting" if source else "the model predicting"
    return "reading the data" if step == "data" else step


def _how_often(entry: dict[str, Any]) -> str:
    """`` in 37 of 40 fits`` (TRAIN fits each model once a loop), `` in 3 of 40 loops``; for
    the set-up, when it came."""
    if entry.get("loops") is None:
        times = entry.get("times", 1)
        if entry["step"] == "label":
            return " when it was fit" + (f", {times} times" if times > 1 else "")
        return f" {times} times" if times > 1 else ""
    unit = "fits" if entry["step"] == "train" else "loops"
    return f" in {entry['loops']} of {entry['of']} {unit}"


def to_json(report: dict[str, Any]) -> str:
    return json.dumps(report, indent=2) + "\n"


def to_csv(path: Path) -> str:
    """metrics.csv as it is on disk (an empty string before the first loop completes)."""
    metrics = RunDir.open(path).path / "metrics.csv"
    return metrics.read_text() if metrics.exists() else ""


def _summary(loops: list[dict], metric_names: list[str], target: dict | None) -> dict[str, Any]:
    summary: dict[str, Any] = {
        "loops": len(loops),
        "n_labeled": loops[-1]["n_labeled"] if loops else 0,
        "metric_names": metric_names,
        "final": {m: loops[-1][m] for m in metric_names} if loops else {},
        "aulc": {},
        "seconds": sum(step_seconds(row) for row in loops),
    }
    if loops and "cost" in loops[0]:
        summary["cost"] = sum(row["cost"] for row in loops)
    if loops and "label_errors" in loops[0]:
        wrong = sum(row["label_errors"] or 0 for row in loops)
        summary["label_errors"] = wrong
        summary["label_error_rate"] = wrong / max(summary["n_labeled"], 1)
    if loops and "n_skipped" in loops[0]:
        summary["n_skipped"] = sum(row["n_skipped"] or 0 for row in loops)
    if loops:
        n_labeled = np.array([row["n_labeled"] for row in loops])
        for m in metric_names:
            summary["aulc"][m] = aulc(n_labeled, np.array([row[m] for row in loops]))
        if target:
            values = np.array([row[target["metric"]] for row in loops])
            summary["labels_to_target"] = labels_to_reach(n_labeled, values, target["value"])
    return summary


def caption(summary: dict[str, Any]) -> str:
    parts = [
        f"{summary['n_labeled']} labels in {summary['loops']} loops",
        f"{summary['seconds']:.1f} s",
    ]
    parts += [f"AULC {m} {v:.4f}" for m, v in summary["aulc"].items()]
    if "cost" in summary:
        parts.append(f"cost {summary['cost']:.2f}")
    if "label_errors" in summary:
        parts.append(
            f"{summary['label_errors']} wrong labels "
            f"({summary['label_error_rate']:.1%} of all labels)"
        )
    if summary.get("n_skipped"):
        parts.append(f"{summary['n_skipped']} skipped")
    if "labels_to_target" in summary:
        reached = summary["labels_to_target"]
        parts.append("target not reached" if reached is None else f"target at {reached} labels")
    lines = [f"warning: {entry['text']}" for entry in summary.get("warnings") or ()]
    return "\n".join(["  ·  ".join(parts), *lines])
