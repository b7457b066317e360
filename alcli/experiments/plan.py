"""A sweep's plan: the grid expanded into cells, the matched baseline's cells, every run
(cell x seed), each cell's config validated before anything runs.

A cell is named from its own keys (``strategy.name=margin,loop_size.size=10``), so adding a
value to the grid names no existing cell differently. The baseline replaces the sections its
mapping names (``strategy`` by default) and keeps every other grid key: it runs once per seed
and per combination of those keys, and shares each seed's test split and initial set with
the cells it is compared with, because both depend only on the seed, the data and ``init``,
which the baseline may not change.
"""

from __future__ import annotations

import copy
import difflib
import hashlib
import itertools
import json
import re
from collections.abc import Iterator
from dataclasses import dataclass
from functools import cached_property
from pathlib import Path
from typing import Any

import yaml

from alcli.config import ExperimentConfig, freeze, validate_config
from alcli.engine import prepare
from alcli.errors import ConfigError, UserInputError
from alcli.experiments.run_spec import RunSpec
from alcli.experiments.sweep_file import SweepFile
from alcli.labelers import first_with

#: What the baseline may not replace: they fix the test split and the initial set.
SHARED_SECTIONS = ("data", "init", "seed", "metrics")
BASELINE_LABEL = "baseline"
#: The one cell of a sweep with no grid (the base config over seeds).
BASE_LABEL = "base"
_UNSAFE = re.compile(r"[^A-Za-z0-9._=,+-]")
MAX_DIR_NAME = 120


@dataclass(frozen=True)
class Cell:
    """One combination of grid values (or the baseline's for one combination of the others)."""

    id: str
    #: Its folder under runs/ (the id, made safe and short enough for a file name).
    dir: str
    #: Grid key path -> value, in the grid's order (the baseline's: the keys it keeps).
    overrides: dict[str, Any]
    baseline: bool
    #: The frozen config as a mapping, without seed and name (set per run).
    config: dict[str, Any]


@dataclass(frozen=True)
class Plan:
    name: str
    cells: list[Cell]
    seeds: list[int]

    @cached_property
    def runs(self) -> list[RunSpec]:
        """Seeds outermost: with fewer jobs than runs, the first seeds of every cell finish
        first, so a sweep stopped early can already be compared."""
        return [
            RunSpec(
                cell=cell.id,
                seed=seed,
                path=f"runs/{cell.dir}/seed-{seed}",
                config={**cell.config, "seed": seed, "name": _run_name(self.name, seed)},
            )
            for seed in self.seeds
            for cell in self.cells
        ]

    def to_json(self) -> str:
        return json.dumps(
            {
                "name": self.name,
                "seeds": self.seeds,
                "cells": [
                    {
                        "id": c.id,
                        "dir": c.dir,
                        "overrides": c.overrides,
                        "baseline": c.baseline,
                        "config": c.config,
                    }
                    for c in self.cells
                ],
            },
            indent=1,
        )

    @classmethod
    def from_json(cls, text: str) -> Plan:
        raw = json.loads(text)
        cells = [Cell(**cell) for cell in raw["cells"]]
        return cls(name=raw["name"], cells=cells, seeds=[int(s) for s in raw["seeds"]])


def make_plan(sweep: SweepFile, base: dict[str, Any], base_dir: Path, source: str) -> Plan:
    """Expand the grid and the baseline into cells and validate every cell's config.

    Raises
    ------
    ConfigError
        One line per invalid cell (and per grid key that is not a config key), all at once.
    """
    if problems := _unknown_grid_keys(sweep, base, base_dir):
        raise ConfigError(source, problems)
    problems: list[tuple[str, str]] = []  # (cell, problem); cell "" for the sweep as a whole
    cells: list[Cell] = []
    raws: list[tuple[str, dict[str, Any], dict[str, Any], bool]] = []
    grid_keys = list(sweep.grid)
    for values in itertools.product(*sweep.grid.values()):
        overrides = dict(zip(grid_keys, values, strict=True))
        raws.append(
            (_cell_id(overrides, grid_keys, sweep.grid) or BASE_LABEL, overrides, base, False)
        )
    if sweep.baseline is not None:
        problems += [("", p) for p in _baseline_problems(sweep.baseline)]
        kept = [k for k in grid_keys if k.split(".")[0] not in sweep.baseline]
        replaced = {**base, **copy.deepcopy(sweep.baseline)}
        seen_configs = [_with(base, o) for _, o, _, _ in raws]
        for values in itertools.product(*(sweep.grid[k] for k in kept)):
            overrides = dict(zip(kept, values, strict=True))
            cell_id = ",".join([BASELINE_LABEL, _cell_id(overrides, kept, sweep.grid)]).strip(",")
            if _with(replaced, overrides) in seen_configs:
                continue  # the grid already has this config (e.g. random in strategy.name)
            raws.append((cell_id, overrides, replaced, True))
    for cell_id, overrides, start, is_baseline in raws:
        try:
            config = _cell_config(start, overrides, base_dir, f"{source} [{cell_id}]")
        except ConfigError as exc:
            problems += [(cell_id, p) for p in exc.problems]
            continue
        if problem := _needs_a_person(config) or _preflight_problem(config):
            problems.append((cell_id, problem))
            continue
        frozen = yaml.safe_load(freeze(config)[0])
        frozen.pop("seed", None)
        frozen.pop("name", None)
        cells.append(Cell(cell_id, "", overrides, is_baseline, frozen))
    if problems:
        raise ConfigError(source, _unique(problems))
    return Plan(name=sweep.name, cells=_with_dirs(cells), seeds=sweep.seed_list)


def _cell_config(
    start: dict[str, Any], overrides: dict[str, Any], base_dir: Path, source: str
) -> ExperimentConfig:
    raw = _with(start, overrides)
    raw["seed"] = 0
    raw.setdefault("name", "sweep")
    return validate_config(raw, source, base_dir=base_dir)


def _with(start: dict[str, Any], overrides: dict[str, Any]) -> dict[str, Any]:
    """A deep copy of ``start`` with the grid's key paths set (as --set sets them)."""
    raw = copy.deepcopy(start)
    raw.pop("seed", None)
    raw.pop("name", None)
    for key, value in overrides.items():
        node = raw
        parts = key.split(".")
        for part in parts[:-1]:
            child = node.get(part)
            if not isinstance(child, dict):
                child = node[part] = {}
            node = child
        node[parts[-1]] = copy.deepcopy(value)
    return raw


def _needs_a_person(config: ExperimentConfig) -> str | None:
    """A sweep runs unattended: a labeler that waits for people cannot be part of it."""
    link = first_with(config.labeler, "needs_tty") or first_with(config.labeler, "may_wait")
    if link is None:
        return None
    return (
        f"labeler: {link.kind} waits for a person, and a sweep runs unattended; sweep with "
        "a simulated labeler (oracle, noisy_oracle, model) and label by hand in single runs"
    )


def _preflight_problem(config: ExperimentConfig) -> str | None:
    """What `alcli run` would refuse once it held the config against its data (an initial
    set larger than the pool, a metric the classes do not allow, ...)."""
    try:
        prepare(config)
    except UserInputError as exc:
        return str(exc).strip()
    return None


def _baseline_problems(baseline: dict[str, Any]) -> list[str]:
    shared = [key for key in baseline if key in SHARED_SECTIONS]
    if not shared:
        return []
    return [
        f"baseline: changes {', '.join(shared)}, so it would not share each seed's test split "
        "and initial set with the strategies (the paired design); give it only the sections "
        "that differ, e.g. baseline: {strategy: {name: random}}"
    ]


def _cell_id(overrides: dict[str, Any], keys: list[str], grid: dict[str, list[Any]]) -> str:
    return ",".join(f"{key}={_value_label(overrides[key], grid[key])}" for key in keys)


def _value_label(value: Any, all_values: list[Any]) -> str:
    """How a value shows in a cell's name: scalars as YAML writes them; a mapping by its
    name (``kind``, ``method`` ...) when that tells it from the grid's other values."""
    if isinstance(value, dict):
        name = _named(value)
        same_name = [v for v in all_values if isinstance(v, dict) and _named(v) == name]
        if name is not None and len(same_name) == 1:
            return str(name).rsplit(".", 1)[-1]
        digest = hashlib.sha256(json.dumps(value, sort_keys=True).encode()).hexdigest()[:8]
        return f"{str(name).rsplit('.', 1)[-1] if name else 'value'}-{digest}"
    if isinstance(value, list):
        return "[" + ",".join(_value_label(v, []) for v in value) + "]"
    text = yaml.safe_dump(value, default_flow_style=True).strip()
    return text.removesuffix("\n...").strip()


def _named(value: dict[str, Any]) -> Any:
    """A mapping's short name: its name, kind, method or estimator; a pipeline's steps
    (``StandardScaler->LogisticRegression``); a factory's function."""
    steps = value.get("steps")
    if isinstance(steps, list) and all(isinstance(s, dict) for s in steps):
        return "->".join(str(s.get("estimator", "?")).rsplit(".", 1)[-1] for s in steps)
    if isinstance(value.get("factory"), str):
        return value["factory"].replace(":", ".")
    return next((value[k] for k in ("name", "kind", "method", "estimator") if k in value), None)


def _with_dirs(cells: list[Cell]) -> list[Cell]:
    """Each cell's folder: its id with unsafe characters replaced, shortened with a hash when
    long, and unique."""
    taken: set[str] = set()
    named = []
    for cell in cells:
        folder = _UNSAFE.sub("_", cell.id) or "cell"
        if len(folder) > MAX_DIR_NAME or folder in taken or folder.startswith("."):
            digest = hashlib.sha256(cell.id.encode()).hexdigest()[:10]
            folder = f"{folder.lstrip('.')[: MAX_DIR_NAME - 11]}-{digest}"
        taken.add(folder)
        named.append(Cell(cell.id, folder, cell.overrides, cell.baseline, cell.config))
    return named


def _run_name(sweep_name: str, seed: int) -> str:
    return f"{sweep_name}-s{seed}"[:100]


def _unique(problems: list[tuple[str, str]]) -> list[str]:
    """The same problem in many cells is said once, with the cells it is in."""
    by_problem: dict[str, list[str]] = {}
    for cell, problem in problems:
        by_problem.setdefault(problem, []).append(cell)
    lines = []
    for problem, cells in by_problem.items():
        if not cells[0]:
            lines.append(problem)
            continue
        where = "; ".join(cells[:3]) + (f" and {len(cells) - 3} more" if len(cells) > 3 else "")
        lines.append(f"[{where}] {problem}")
    return lines


def _unknown_grid_keys(sweep: SweepFile, base: dict[str, Any], base_dir: Path) -> list[str]:
    """Grid keys that look like a typo of a key the base config has (``strategy.nmae``).

    A key the base lacks may still be right (``strategy.space`` belongs to kcenter, not to the
    base's margin), so only a near miss is refused here; the cells' validation says the rest.
    """
    try:
        frozen = yaml.safe_load(freeze(_cell_config(base, {}, base_dir, "base"))[0])
    except ConfigError:
        return []  # the cells' validation will say what is wrong with the base
    known = list(_flat_keys(frozen))
    problems = []
    for key in sweep.grid:
        if key in known or any(k.startswith(key + ".") for k in known):
            continue
        close = difflib.get_close_matches(key, known, n=1, cutoff=0.8)
        if close:
            problems.append(
                f"grid.{key}: not a config key (did you mean '{close[0]}'?); grid keys are "
                "config key paths as --set takes them"
            )
    return problems


def _flat_keys(node: Any, prefix: str = "") -> Iterator[str]:
    if isinstance(node, dict):
        for key, value in node.items():
            yield from _flat_keys(value, f"{prefix}.{key}" if prefix else str(key))
    elif prefix:
        yield prefix
