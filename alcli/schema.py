"""The strict base of every config section, and the helpers sections share.

Every component's config class (a strategy's Params, a labeler's Config, a schedule's, ...)
derives from :class:`Section`, so unknown keys are errors everywhere and configs are frozen.
"""

from __future__ import annotations

import difflib
from collections.abc import Iterable
from pathlib import Path
from typing import Annotated, Any, Union

from pydantic import BaseModel, ConfigDict, Discriminator, Tag, ValidationInfo


class Section(BaseModel):
    """A config section: unknown keys are refused, values cannot change after validation,
    and no number is NaN or infinite (YAML's .nan and .inf parse as floats)."""

    model_config = ConfigDict(extra="forbid", frozen=True, allow_inf_nan=False)


def resolve_path(value: Path | None, info: ValidationInfo) -> Path | None:
    """Paths in a config are relative to the config file's folder (``base_dir`` in the
    validation context)."""
    if value is None:
        return None
    base = (info.context or {}).get("base_dir")
    path = Path(value).expanduser()
    if not path.is_absolute() and base is not None:
        path = Path(base) / path
    return path.resolve()


def did_you_mean(value: object, choices: Iterable[str]) -> str:
    """`` (did you mean 'margin'?)`` for the nearest choice, or an empty string."""
    close = difflib.get_close_matches(str(value), list(choices), n=1, cutoff=0.6)
    return f" (did you mean '{close[0]}'?)" if close else ""


def tagged_union(members: dict[str, type[BaseModel]], key: str, default: str) -> Any:
    """A union of ``members`` picked by the value of ``key`` (``default`` when absent)."""

    def pick(value: Any) -> str | None:
        if isinstance(value, dict):
            return value.get(key, default)
        return getattr(value, key, None)

    tagged = tuple(Annotated[cls, Tag(tag)] for tag, cls in members.items())
    return Annotated[Union[tagged], Discriminator(pick)]  # noqa: UP007 - built at run time


def flatten(config: dict[str, Any], skip: tuple[str, ...] = ()) -> dict[str, Any]:
    """A nested mapping as dotted key paths (``strategy.name``); lists stay values."""
    flat: dict[str, Any] = {}

    def walk(node: Any, prefix: str) -> None:
        if isinstance(node, dict) and node:
            for key, value in node.items():
                walk(value, f"{prefix}.{key}" if prefix else str(key))
        else:
            flat[prefix] = node

    for key, value in config.items():
        if key not in skip:
            walk(value, str(key))
    return flat
