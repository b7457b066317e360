"""The sweep file: a base config, a grid of config keys, seeds, a matched baseline, checks.

```yaml
name: digits-strategies
base: quickstart.yaml            # a config file, relative to this file (or `config:` inline)
grid:                            # config key paths (the --set syntax) -> lists of values
  strategy.name: [margin, entropy, kcenter]
  loop_size.size: [10, 40]
seeds: 10                        # seeds 0..9, or a list of seeds
baseline: {strategy: {name: random}}   # the default; `baseline: none` turns it off
jobs: 2                          # runs at a time (default: one per core)
backend: {kind: dask, address: tcp://scheduler:8786}   # where runs execute (default: local)
expect: ["margin > random"]      # checks as `alcli check` takes them; failing ones exit 1
```
"""

from __future__ import annotations

import os
import re
from pathlib import Path
from typing import Any

import yaml
from pydantic import Field, TypeAdapter, ValidationError, field_validator, model_validator

from alcli.config import apply_overrides, read_yaml_mapping
from alcli.errors import ConfigError
from alcli.experiments.backends import BACKENDS, BackendConfig
from alcli.experiments.backends.local import LocalBackendConfig
from alcli.schema import Section, did_you_mean

#: What `baseline: none` (or null) means.
NO_BASELINE = ("none", None)
DEFAULT_BASELINE = {"strategy": {"name": "random"}}
#: A sweep's name becomes a folder name; a run's name adds a seed to it.
NAME_PATTERN = r"^[A-Za-z0-9][A-Za-z0-9._-]{0,79}$"


def default_jobs() -> int:
    return len(os.sched_getaffinity(0))


class SweepFile(Section):
    """A sweep file as validated (before its grid is expanded)."""

    name: str = Field(pattern=NAME_PATTERN, description="The sweep's name (its folder name).")
    base: Path | None = Field(None, description="The base config file, relative to the sweep file.")
    config: dict[str, Any] | None = Field(None, description="The base config, inline.")
    grid: dict[str, list[Any]] = Field(
        default_factory=dict,
        description="Config key paths (as --set takes them) -> the values to try; every "
        "combination is a cell.",
    )
    seeds: int | list[int] = Field(
        5, description="How many seeds (0..N-1), or the list of seeds; every cell runs each."
    )
    baseline: dict[str, Any] | None = Field(
        default_factory=lambda: dict(DEFAULT_BASELINE),
        description="Config sections that replace the base's for the matched baseline, run "
        "once per seed and per combination of the grid keys it leaves alone; none: no baseline.",
    )
    jobs: int = Field(default_factory=default_jobs, ge=1, le=1024, description="Runs at a time.")
    backend: BackendConfig = Field(  # type: ignore[valid-type]
        default_factory=LocalBackendConfig,
        description="Where the runs execute: local (this machine's processes, the default) "
        "or {kind: dask, address: tcp://HOST:PORT} (a dask.distributed cluster).",
    )
    expect: list[str] = Field(
        default_factory=list, description="Checks (the `alcli check --expect` syntax)."
    )
    tracking: dict[str, Any] | None = Field(
        None,
        description="The runs' tracking section (mlflow: {...}, as in a config), for every run; "
        "the sweep itself is tracked as their parent run.",
    )

    @field_validator("baseline", mode="before")
    @classmethod
    def _no_baseline(cls, value: Any) -> Any:
        return None if value in NO_BASELINE else value

    @field_validator("backend", mode="before")
    @classmethod
    def _backend_by_name(cls, value: Any) -> Any:
        return {"kind": value} if isinstance(value, str) else value

    @field_validator("grid")
    @classmethod
    def _grid(cls, grid: dict[str, list[Any]]) -> dict[str, list[Any]]:
        for key, values in grid.items():
            if not re.fullmatch(r"[A-Za-z_][A-Za-z0-9_]*(\.[A-Za-z0-9_]+)*", key):
                raise ValueError(f"grid key '{key}' is not a config key path like strategy.name")
            if key in ("name", "seed"):
                raise ValueError(
                    f"grid key '{key}' is set by the sweep itself (use seeds: for seeds)"
                )
            if not values:
                raise ValueError(f"grid.{key} is an empty list; give at least one value")
            if len({yaml.safe_dump(v, sort_keys=True) for v in values}) < len(values):
                raise ValueError(f"grid.{key} lists a value twice")
        return grid

    @field_validator("seeds")
    @classmethod
    def _seeds(cls, seeds: int | list[int]) -> list[int]:
        if isinstance(seeds, int):
            if not 1 <= seeds <= 100_000:
                raise ValueError(f"seeds: {seeds} must be between 1 and 100000 (a count)")
            return list(range(seeds))
        if not seeds:
            raise ValueError("seeds: the list is empty; give at least one seed")
        if any(s < 0 for s in seeds) or len(set(seeds)) < len(seeds):
            raise ValueError("seeds: the list must hold distinct non-negative integers")
        return seeds

    @model_validator(mode="after")
    def _one_base(self) -> SweepFile:
        if (self.base is None) == (self.config is None):
            raise ValueError(
                "give the base config either as a file (base: config.yaml) or inline "
                "(config: {...}), not both and not neither"
            )
        return self

    @property
    def seed_list(self) -> list[int]:
        return list(self.seeds)  # validated into a list


def load_sweep_file(path: Path, overrides: list[str] = ()) -> tuple[SweepFile, dict, Path]:
    """Read a sweep file: the validated sweep, its base config as a raw mapping (with
    ``--set`` overrides applied), and the folder the base's relative paths start from.

    Raises
    ------
    ConfigError
        One line per problem, naming the key.
    """
    source = str(path)
    raw = read_yaml_mapping(path, what="sweep", example="'base: config.yaml' and 'grid: {...}'")
    raw.setdefault("name", re.sub(r"[^A-Za-z0-9._-]", "-", path.stem).strip("-._")[:80] or "sweep")
    try:
        sweep = SweepFile.model_validate(raw)
    except ValidationError as exc:
        raise ConfigError(source, [_worded(err) for err in exc.errors()]) from None
    if sweep.base is not None:
        base_path = sweep.base if sweep.base.is_absolute() else path.parent / sweep.base
        base = read_yaml_mapping(base_path, what="config", example="'data: {source: ...}'")
        base_dir = base_path.resolve().parent
    else:
        base, base_dir = dict(sweep.config), path.resolve().parent
    apply_overrides(base, list(overrides), source)
    return sweep, base, base_dir


def backend_config(raw: dict[str, Any], source: str):
    """A ``backend:`` mapping (from ``--backend``/``--address`` or a frozen sweep.yaml),
    validated as the sweep file's key is."""
    try:
        return _BACKEND.validate_python(SweepFile._backend_by_name(raw))
    except ValidationError as exc:
        problems = [_worded({**err, "loc": ("backend", *err["loc"])}) for err in exc.errors()]
        raise ConfigError(source, problems) from None


_BACKEND = TypeAdapter(BackendConfig)


def _worded(err: dict) -> str:
    loc = list(err["loc"])
    if loc[:1] == ["backend"] and len(loc) > 2:
        del loc[1]  # the union's tag (backend.dask.address is backend.address)
    key = ".".join(str(part) for part in loc)
    message = err["msg"].removeprefix("Value error, ")
    if err["type"] == "extra_forbidden" and key.startswith("backend."):
        kind = err["loc"][1]
        valid = sorted(BACKENDS[kind].Config.model_fields)
        return f"{key}: not a key of the {kind} backend; its keys are {', '.join(valid)}"
    if err["type"] == "string_pattern_mismatch" and key == "backend.address":
        return (
            f"{key}: '{err['input']}' is not a dask scheduler address; give one like "
            "tcp://10.0.0.5:8786"
        )
    if err["type"] == "extra_forbidden":
        fields = [f for f in SweepFile.model_fields if f not in ("model_config",)]
        return (
            f"{key}: not a sweep key{did_you_mean(key, fields)}; sweep keys are {', '.join(fields)}"
        )
    if err["type"] == "string_pattern_mismatch":
        return (
            f"{key}: '{err['input']}' cannot name a folder; use letters, digits, '.', '_' and "
            "'-' (at most 80 characters)"
        )
    if err["type"] in ("union_tag_invalid", "union_tag_not_found"):
        given = (err.get("ctx") or {}).get("tag", "")
        return f"{key}.kind: {BACKENDS.unknown(given)}"
    if err["type"] == "missing" and key.startswith("backend."):
        return f"{key}: required key is missing, e.g. backend: {{kind: dask, address: tcp://HOST:8786}}"
    if err["type"] in ("list_type", "dict_type") and key.startswith("grid."):
        return f"{key}: the values to try must be a list, e.g. [margin, entropy]"
    return f"{key}: {message}" if key else message
