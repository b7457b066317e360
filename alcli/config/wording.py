"""Validation errors worded for people: one line per problem, naming the key (and its line
in the file, or --set), what is allowed and what was given."""

from __future__ import annotations

import re
from typing import Any

from pydantic import BaseModel

from alcli.config.experiment import ExperimentConfig
from alcli.initialization import INIT_METHODS
from alcli.labelers import LABELERS
from alcli.registry import Registry
from alcli.schedules import SCHEDULES
from alcli.schema import did_you_mean

#: Sections that are one of a registry's components, picked by a tag key (the registry's noun).
UNION_SECTIONS: dict[str, Registry] = {
    "init": INIT_METHODS,
    "loop_size": SCHEDULES,
    "labeler": LABELERS,
}


def _configs(section: str) -> dict[str, type[BaseModel]]:
    return {tag: cls.Config for tag, cls in UNION_SECTIONS.get(section, {}).items()}


def from_override(key: tuple, overridden: set[tuple], lines: dict[tuple, int]) -> bool:
    """Whether an error at ``key`` comes from a --set override (at, above or below it)."""
    for override in overridden:
        if key[: len(override)] == override:
            return True
        if override[: len(key)] == key and key not in lines:
            return True
    return False


def display_loc(loc: tuple) -> tuple:
    """Drop the union tag pydantic inserts (``init.random.size`` -> ``init.size``)."""
    if len(loc) > 1 and loc[0] in UNION_SECTIONS and loc[1] in UNION_SECTIONS[loc[0]]:
        return (loc[0], *loc[2:])
    return tuple(loc)


def section_class(root: type[BaseModel], loc: tuple) -> type[BaseModel] | None:
    """The model class that holds the last key of ``loc`` (to list its valid keys)."""
    if root is not ExperimentConfig:
        return root if len(loc) == 1 else None
    if len(loc) == 1:
        return ExperimentConfig
    head = loc[0]
    if head in UNION_SECTIONS:
        return _configs(head).get(loc[1]) if len(loc) == 3 else None
    cls: Any = ExperimentConfig
    for part in loc[:-1]:
        field = getattr(cls, "model_fields", {}).get(part)
        if field is None:
            return None
        annotation = field.annotation
        candidates = [
            a
            for a in getattr(annotation, "__args__", (annotation,))
            if isinstance(a, type) and issubclass(a, BaseModel)
        ]
        if not candidates:
            return None
        cls = candidates[0]
    return cls


KEY_FIRST = re.compile(r"^([a-z_]+(?:\.[a-z_0-9]+)*): (.*)$", re.DOTALL)


def key_and_message(err: dict) -> tuple[tuple, str]:
    """The key an error is about, and its message without that key.

    Checks that span a section or the whole config name their key first ("stop.budget: ..."),
    so the message can point at that key (and its line) instead of the section.
    """
    loc = display_loc(tuple(err["loc"]))
    message = err["msg"].removeprefix("Value error, ")
    named = KEY_FIRST.match(message)
    if named:
        key = tuple(named.group(1).split("."))
        if key[: len(loc)] == loc:
            return key, named.group(2)
    return loc, message


def describe(
    err: dict, root: type[BaseModel], key_path: tuple = (), message: str = "", where: str = ""
) -> str:
    loc = tuple(err["loc"])
    key_path = key_path or display_loc(loc)
    message = message or err["msg"].removeprefix("Value error, ")
    key = ".".join(str(p) for p in key_path) or "(top level)"
    kind = err["type"]
    if kind == "extra_forbidden":
        parent = section_class(root, loc)
        valid = sorted(parent.model_fields) if parent else []
        hint = did_you_mean(loc[-1], valid)
        listing = f"; valid keys here: {', '.join(valid)}" if valid else ""
        return f"{key}{where}: unknown key{hint}{listing}"
    if kind == "missing":
        return f"{key}{where}: required key is missing"
    if kind in ("union_tag_invalid", "union_tag_not_found") and not isinstance(
        err.get("input"), dict
    ):
        example = {
            "init": "{method: random, size: 20}",
            "loop_size": "{schedule: constant, size: 20}",
            "labeler": "{kind: oracle}",
        }.get(loc[0] if loc else "", "{...}")
        return f"{key}{where}: must be a mapping like {example}; got {err.get('input')!r}"
    if kind in ("union_tag_invalid", "union_tag_not_found"):
        section = loc[0] if loc else ""
        registry = UNION_SECTIONS.get(section, LABELERS)
        given = (err.get("ctx") or {}).get("tag", "")
        return f"{key}.{registry.noun}{where}: {registry.unknown(given)}"
    if kind.startswith(
        (
            "greater",
            "less",
            "string_",
            "int_",
            "float_",
            "bool_",
            "list_",
            "too_",
            "literal_",
            "dict_",
            "model_type",
            "path_type",
            "bytes_",
        )
    ):
        return f"{key}{where}: {message}; got {err.get('input')!r}"
    return f"{key}{where}: {message}"
