"""Learning-curve figures: one run's, and a comparison's (each group's mean with its band, and
the paired difference from the reference).

matplotlib's object API only (``Figure``, never pyplot): no global figure registry, no display
needed, nothing to close. Settings apply through ``rc_context`` and never leak out. matplotlib and
scipy load when a figure is drawn, not when this module is imported: a sweep's workers and
`alcli resume` never draw, and would pay a second of imports for nothing.
"""

from __future__ import annotations

import io
import math
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from alcli.atomic import write_atomic
from alcli.reporting.comparison import Comparison, Group, RunCurve
from alcli.rundir import step_seconds

if TYPE_CHECKING:
    from matplotlib.axes import Axes
    from matplotlib.figure import Figure
    from matplotlib.lines import Line2D

#: File suffix -> the format matplotlib writes.
FORMATS = {".png": "png", ".svg": "svg"}
#: What a curve can be drawn against, and the axis label.
X_AXES = {"labels": "labels", "cost": "cost", "seconds": "compute seconds"}
_COST_WITHOUT_PRICES = "cost (no prices: 1 per label)"

_DPI = 120
#: A data label may hold ``$``: drawn as typed, never as mathtext.
_DRAW_RC = {"text.parse_math": False}
#: A fixed salt for the SVG's element ids and no date: the same data gives the same bytes.
_SVG_RC = {"svg.hashsalt": "alcli"}
#: No metadata block at all: it would carry a date, a version and URLs into inlined HTML.
_SVG_METADATA = {"Date": None, "Creator": None, "Format": None, "Type": None}
_BAND_ALPHA = 0.18


def mean_band(
    curves: Sequence[tuple[np.ndarray, np.ndarray]], confidence: float = 0.95
) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """The mean of several runs' curves and a confidence band around it.

    When every run's x values are a prefix of the longest run's (one schedule; runs may stop
    at different loops), the exact x values are kept and each point averages the runs that
    have it. Otherwise every run is interpolated linearly onto the union of the x values
    inside the range all runs cover (no extrapolation).

    Parameters
    ----------
    curves : sequence of (x, y), each an ndarray of shape (n_points_i,)
        One curve per run, x ascending. NaN values in y are left out of the statistics.
    confidence : float, default=0.95
        Coverage of the band, in (0, 1).

    Returns
    -------
    x, mean, low, high : ndarray of shape (n_points,)
        Empty when the runs share no range of x. ``low`` and ``high`` are
        ``mean -/+ t * sd / sqrt(n)``, with ``t`` the Student t quantile at
        ``(1 + confidence) / 2`` with ``n - 1`` degrees of freedom (seeds are few: the normal
        1.96 would draw the band too narrow) and ``sd`` the sample standard deviation
        (``ddof=1``) of the ``n`` runs at that point. Where one run has a point,
        ``low == high == mean``.

    Raises
    ------
    ValueError
        No curves, a curve whose x and y differ in length, or a confidence outside (0, 1).
    """
    if not curves:
        raise ValueError("mean_band needs at least one curve; got none.")
    if not 0 < confidence < 1:
        raise ValueError(f"The confidence must be a float in (0, 1). Got {confidence!r} instead.")
    runs = [(np.asarray(x, dtype=float), np.asarray(y, dtype=float)) for x, y in curves]
    for x, y in runs:
        if x.shape != y.shape or x.ndim != 1:
            raise ValueError(
                f"Each curve needs x and y of the same shape (n_points,). Got {x.shape} and "
                f"{y.shape}."
            )
    x, stack = _on_shared_x(runs) if _shares_x(runs) else _on_common_range(runs)
    return (x, *_band(stack, confidence))


def _shares_x(runs: list[tuple[np.ndarray, np.ndarray]]) -> bool:
    longest = max((x for x, _ in runs), key=len)
    return all(np.array_equal(x, longest[: len(x)]) for x, _ in runs)


def _on_shared_x(runs: list[tuple[np.ndarray, np.ndarray]]) -> tuple[np.ndarray, np.ndarray]:
    """The longest x and the runs' y, shape (n_runs, n_points); NaN past a run's end."""
    x = max((x for x, _ in runs), key=len)
    stack = np.full((len(runs), len(x)), np.nan)
    for row, (_, y) in zip(stack, runs, strict=True):
        row[: len(y)] = y
    return x, stack


def _on_common_range(
    runs: list[tuple[np.ndarray, np.ndarray]],
) -> tuple[np.ndarray, np.ndarray]:
    """Every run interpolated onto the union of x values inside the range all runs cover."""
    runs = [(x, y) for x, y in runs if x.size]  # all empty shares x: never here with none
    start = max(x[0] for x, _ in runs)
    end = min(x[-1] for x, _ in runs)
    union = np.unique(np.concatenate([x for x, _ in runs]))
    grid = union[(union >= start) & (union <= end)]
    return grid, np.array([np.interp(grid, x, y) for x, y in runs])


def _band(stack: np.ndarray, confidence: float) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Mean and t-interval per column of ``stack`` (n_runs, n_points), ignoring NaN."""
    present = np.isfinite(stack)
    n = present.sum(axis=0)
    values = np.where(present, stack, 0.0)
    with np.errstate(invalid="ignore", divide="ignore"):  # columns with no or one value
        mean = np.where(n > 0, values.sum(axis=0) / n, np.nan)
        squares = np.where(present, (stack - mean) ** 2, 0.0).sum(axis=0)
        sd = np.sqrt(squares / (n - 1))
        from scipy import stats

        t = stats.t.ppf((1 + confidence) / 2, np.maximum(n - 1, 1))
        half = np.where(n > 1, t * sd / np.sqrt(n), 0.0)
    return mean, mean - half, mean + half


# --- comparison ---------------------------------------------------------------------------


def comparison_figure(comparison: Comparison, x: str = "labels") -> Figure:
    """The comparison's learning curves and, when groups are paired with a reference, their
    paired differences from it.

    Parameters
    ----------
    comparison : Comparison
    x : {"labels", "cost", "seconds"}, default="labels"
        The left panel's x axis. The right panel is always against labels.

    Returns
    -------
    Figure
        Left: per group, the mean of its runs' ``comparison.metric`` with its band (at
        ``comparison.confidence``), reference groups dashed, nAULC in the legend. Right (only
        when some group has pairs): per non-reference group, the mean paired difference from
        the reference with its band, and a line at 0. One legend below both.
    """
    import matplotlib
    from matplotlib.figure import Figure

    _check_axis(x)
    paired = [g for g in comparison.groups if g.pairs and not g.is_reference]
    colors = _colors(len(comparison.groups))
    legend_rows = math.ceil(len(comparison.groups) / _legend_columns(comparison.groups))
    with matplotlib.rc_context(_DRAW_RC):
        figure = Figure(
            figsize=(12.0 if paired else 7.5, 4.6 + 0.26 * legend_rows),
            dpi=_DPI,
            layout="constrained",
        )
        axes = figure.subplots(1, 2 if paired else 1, squeeze=False)[0]
        handles = []
        for group, color in zip(comparison.groups, colors, strict=True):
            curves = [(run.x(x), run.values[comparison.metric]) for run in _nonempty(group.runs)]
            label = f"{group.label} (nAULC {group.aulc:.3f})"
            style = "--" if group.is_reference else "-"
            handle = _draw_mean(axes[0], curves, comparison.confidence, color, style)
            if handle is not None:
                handles.append((handle, label))
        axes[0].set_xlabel(_axis_label(x, comparison.runs))
        axes[0].set_ylabel(comparison.metric)
        axes[0].set_title(f"{comparison.metric}: mean over runs, {comparison.confidence:.0%} band")
        if paired:
            by_label = dict(zip((g.label for g in comparison.groups), colors, strict=True))
            _draw_differences(axes[1], paired, comparison, by_label)
        for ax in axes:
            ax.grid(alpha=0.3)
        if handles:
            figure.legend(
                *zip(*handles, strict=True),
                loc="outside lower center",
                ncols=_legend_columns(comparison.groups),
                frameon=False,
            )
    return figure


def plot_comparison(comparison: Comparison, path: Path, x: str = "labels") -> None:
    """Write :func:`comparison_figure` to ``path``, PNG or SVG by its suffix.

    Raises
    ------
    ValueError
        ``path`` ends in neither ``.png`` nor ``.svg``, or ``x`` is not an axis.
    """
    _format(path)
    save_figure(comparison_figure(comparison, x), path)


def paired_difference(
    mine: RunCurve, reference: RunCurve, metric: str
) -> tuple[np.ndarray, np.ndarray]:
    """``mine``'s metric minus ``reference``'s, at ``mine``'s label counts.

    Paired runs share the schedule in the usual design, so their label counts coincide and the
    difference is exact. When they do not (different loop sizes), the reference's curve is
    read at ``mine``'s label counts by linear interpolation, within the range both cover.

    Returns
    -------
    x, difference : ndarray of shape (n_points,)
    """
    if not mine.loops or not reference.loops:
        return np.empty(0), np.empty(0)
    start = max(mine.n_labeled[0], reference.n_labeled[0])
    end = min(mine.n_labeled[-1], reference.n_labeled[-1])
    inside = (mine.n_labeled >= start) & (mine.n_labeled <= end)
    x = mine.n_labeled[inside].astype(float)
    theirs = np.interp(x, reference.n_labeled.astype(float), reference.values[metric])
    return x, mine.values[metric][inside] - theirs


def _draw_differences(
    ax: Axes, paired: list[Group], comparison: Comparison, colors: dict[str, Any]
) -> None:
    for group in paired:
        curves = [paired_difference(a, b, comparison.metric) for a, b in group.pairs]
        _draw_mean(ax, curves, comparison.confidence, colors[group.label], "-")
    ax.axhline(0.0, color="0.25", linewidth=1.0)
    ax.set_xlabel(X_AXES["labels"])
    ax.set_ylabel(f"{comparison.metric} difference")
    ax.set_title(f"{comparison.metric}: paired difference from the reference")


def _draw_mean(
    ax: Axes,
    curves: list[tuple[np.ndarray, np.ndarray]],
    confidence: float,
    color: Any,
    style: str,
) -> Line2D | None:
    """The mean curve and its band; the line drawn (for the legend), None without data."""
    curves = [(x, y) for x, y in curves if len(x)]
    if not curves:
        return None
    x, mean, low, high = mean_band(curves, confidence)
    if x.size == 0:
        # The runs share no range of x (compute seconds of very different runs): each is
        # drawn thin rather than leaving the group out.
        lines = [ax.plot(cx, cy, color=color, linestyle=style, linewidth=0.8) for cx, cy in curves]
        return lines[0][0]
    (line,) = ax.plot(
        x, mean, color=color, linestyle=style, linewidth=1.8, marker="o" if x.size == 1 else None
    )
    ax.fill_between(x, low, high, color=color, alpha=_BAND_ALPHA, linewidth=0)
    return line


def _nonempty(runs: list[RunCurve]) -> list[RunCurve]:
    return [run for run in runs if run.loops]


def _colors(n: int) -> list[Any]:
    """Distinct colours: tab10, or for more groups tab20's ten dark shades before its light
    ones (in its own order each dark shade sits beside its light twin)."""
    import matplotlib

    if n <= 10:
        palette = list(matplotlib.colormaps["tab10"].colors)
    else:
        shades = matplotlib.colormaps["tab20"].colors
        palette = [*shades[0::2], *shades[1::2]]
    return [palette[i % len(palette)] for i in range(n)]


def _legend_columns(groups: list[Group]) -> int:
    """Fewer, wider columns for long labels, so a dozen groups stay readable."""
    longest = max((len(g.label) for g in groups), default=0)
    return 1 if longest > 60 else 2 if longest > 30 else 3


def _axis_label(x: str, runs: list[RunCurve]) -> str:
    if x == "cost" and all(run.cost is None for run in runs):
        return _COST_WITHOUT_PRICES
    return X_AXES[x]


# --- one run ------------------------------------------------------------------------------


def run_figure(report: dict[str, Any], x: str = "labels") -> Figure:
    """One run's learning curve for each of its metrics, one panel each.

    Parameters
    ----------
    report : dict
        As :func:`alcli.reporting.load_report` returns it.
    x : {"labels", "cost", "seconds"}, default="labels"
        Labels so far, cost so far (1 per label without prices), or compute seconds so far.

    Raises
    ------
    ValueError
        The run has no test metrics or no complete loop, or ``x`` is not an axis.
    """
    import matplotlib
    from matplotlib.figure import Figure

    _check_axis(x)
    metric_names = report["summary"]["metric_names"]
    loops = report["loops"]
    if not metric_names:
        raise ValueError(
            "The run has no test metrics to plot: it has no test set, so nothing was scored."
        )
    if not loops:
        raise ValueError("The run has no complete loop to plot yet.")
    xs = _run_x(loops, x)
    columns = min(len(metric_names), 3)
    rows = math.ceil(len(metric_names) / columns)
    with matplotlib.rc_context(_DRAW_RC):
        figure = Figure(figsize=(4.4 * columns, 3.4 * rows), dpi=_DPI, layout="constrained")
        axes = figure.subplots(rows, columns, squeeze=False).ravel()
        for ax, metric in zip(axes, metric_names, strict=False):
            ax.plot(xs, [row[metric] for row in loops], marker="o" if len(loops) <= 50 else None)
            ax.set_title(metric)
            ax.set_xlabel(
                _COST_WITHOUT_PRICES if x == "cost" and "cost" not in loops[0] else X_AXES[x]
            )
            ax.set_ylabel(metric)
            ax.grid(alpha=0.3)
        for ax in axes[len(metric_names) :]:
            figure.delaxes(ax)
        name = report["run"].get("name")
        if name:
            figure.suptitle(str(name))
    return figure


def plot_run(report: dict[str, Any], path: Path, x: str = "labels") -> None:
    """Write :func:`run_figure` to ``path``, PNG or SVG by its suffix.

    Raises
    ------
    ValueError
        ``path`` ends in neither ``.png`` nor ``.svg``, the run has nothing to plot, or ``x``
        is not an axis.
    """
    _format(path)
    save_figure(run_figure(report, x), path)


def _run_x(loops: list[dict[str, Any]], x: str) -> np.ndarray:
    """Labels, cost or compute seconds so far, per loop (metrics.csv holds each loop's own)."""
    if x == "labels" or (x == "cost" and "cost" not in loops[0]):
        return np.array([row["n_labeled"] for row in loops], dtype=float)
    if x == "cost":
        return np.cumsum([row["cost"] or 0.0 for row in loops])
    return np.cumsum([step_seconds(row) for row in loops])


# --- output -------------------------------------------------------------------------------


def save_figure(figure: Figure, path: Path) -> None:
    """Write ``figure`` as PNG or SVG by ``path``'s suffix, atomically.

    Raises
    ------
    ValueError
        ``path`` ends in neither ``.png`` nor ``.svg``.
    """
    write_atomic(path, _render(figure, _format(path)), sync=False)


def svg_text(figure: Figure) -> str:
    """``figure`` as an ``<svg>`` element to inline in HTML: no XML prolog, no doctype, no
    metadata; text drawn as paths, so it needs no fonts."""
    text = _render(figure, "svg").decode("utf-8")
    return text[text.index("<svg") :]


def _render(figure: Figure, fmt: str) -> bytes:
    import matplotlib

    buffer = io.BytesIO()
    with matplotlib.rc_context(_SVG_RC):
        figure.savefig(
            buffer, format=fmt, dpi=_DPI, metadata=_SVG_METADATA if fmt == "svg" else None
        )
    return buffer.getvalue()


def _format(path: Path) -> str:
    fmt = FORMATS.get(Path(path).suffix.lower())
    if fmt is None:
        raise ValueError(
            f"Cannot write a plot to '{path}': the file name must end in "
            f"{' or '.join(FORMATS)}. Got '{Path(path).suffix}' instead."
        )
    return fmt


def _check_axis(x: str) -> None:
    if x not in X_AXES:
        raise ValueError(f"The x axis must be one of {', '.join(X_AXES)}. Got {x!r} instead.")
