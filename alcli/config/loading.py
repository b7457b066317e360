"""Load a YAML config: read it (line numbers kept for messages), apply --set overrides,
validate, and freeze it as the run directory records it."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import yaml
from pydantic import ValidationError

from alcli.atomic import file_problem
from alcli.config.experiment import ExperimentConfig
from alcli.config.wording import describe, from_override, key_and_message
from alcli.errors import ConfigError


def load_config(path: str | Path, overrides: list[str] = ()) -> ExperimentConfig:
    """Read, override and validate a config file.

    Parameters
    ----------
    path
        The YAML file. Relative paths inside it are resolved against its folder.
    overrides
        ``key.path=value`` strings; the value is read as YAML (``3``, ``true``, ``[a, b]``).

    Raises
    ------
    ConfigError
        One line per problem, naming the key and, when known, its line in the file.
    """
    path = Path(path)
    source = str(path)
    raw, lines = read_yaml_document(path, what="config", example="'data: {source: sklearn:digits}'")
    overridden = apply_overrides(raw, overrides, source)
    raw.setdefault("name", _default_name(path))
    return validate_config(
        raw, source, base_dir=path.resolve().parent, lines=lines, overridden=overridden
    )


def read_yaml_mapping(path: Path, what: str, example: str) -> dict[str, Any]:
    """A YAML file whose top level is a mapping (a config, a sweep file), read with the same
    limits and messages as a config.

    Raises
    ------
    ConfigError
        When the file is missing, too big, malformed, empty or not a mapping.
    """
    return read_yaml_document(path, what, example)[0]


def read_yaml_document(
    path: Path, what: str, example: str
) -> tuple[dict[str, Any], dict[tuple, int]]:
    """:func:`read_yaml_mapping`, and the line of every key (for messages)."""
    path = Path(path)
    source = str(path)
    problem = file_problem(path, MAX_CONFIG_BYTES)
    if problem:
        raise ConfigError(source, [problem])
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise ConfigError(source, [f"file not found; give the path of a YAML {what}"]) from None
    except (OSError, UnicodeDecodeError) as exc:
        raise ConfigError(source, [f"cannot be read: {exc}"]) from None
    try:
        document = yaml.compose(text)
        if _expanded_size(document) > MAX_CONFIG_VALUES:
            raise ConfigError(
                source,
                [
                    f"the YAML expands to more than {MAX_CONFIG_VALUES:,} values (aliases that "
                    f"repeat aliases); a {what} is a few dozen keys: write it out without them"
                ],
            )
        if (problem := _shape_problem(document, what)) is not None:
            raise ConfigError(source, [problem])
        raw = yaml.safe_load(text)
        lines = _line_numbers(document)
    except RecursionError:
        raise ConfigError(
            source,
            [f"the YAML nests too deep to read; a {what} nests a few levels at most"],
        ) from None
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f"line {mark.line + 1}, column {mark.column + 1}: " if mark else ""
        problem = getattr(exc, "problem", None) or str(exc)
        raise ConfigError(source, [f"{where}malformed YAML: {problem}"]) from None
    except DuplicateKey as exc:
        raise ConfigError(source, [str(exc)]) from None
    if raw is None:
        raise ConfigError(
            source,
            [f"the file is empty; a {what} is a mapping of keys, e.g. {example}"],
        )
    if not isinstance(raw, dict):
        raise ConfigError(
            source,
            [
                f"the top level must be a mapping of keys (a {what}, e.g. {example}), "
                f"got {_a(type(raw).__name__)}"
            ],
        )
    return raw, lines


def validate_config(
    raw: dict[str, Any],
    source: str,
    base_dir: Path,
    lines: dict[tuple, int] | None = None,
    overridden: set[tuple] = frozenset(),
    checked: bool = False,
) -> ExperimentConfig:
    """Validate a raw mapping; turn every pydantic error into one readable line.

    ``checked`` skips the checks that build the model and the strategy (for a config read
    back from the text of one that passed them).
    """
    try:
        return ExperimentConfig.model_validate(
            raw, context={"base_dir": base_dir, "checked": checked}
        )
    except ValidationError as exc:
        problems = []
        for err in exc.errors():
            key, message = key_and_message(err)
            where = ""
            if from_override(key, overridden, lines or {}):
                where = " (from --set)"
            elif lines and nearest_line(lines, key) is not None:
                where = f" (line {nearest_line(lines, key)})"
            problems.append(describe(err, ExperimentConfig, key, message, where))
        raise ConfigError(source, problems) from None


def apply_overrides(raw: dict[str, Any], overrides: list[str], source: str) -> set[tuple]:
    """Apply ``key.path=value`` overrides in place; return the key paths they touched."""
    touched = set()
    for item in overrides:
        key, sep, value_text = item.partition("=")
        if not sep or not key.strip():
            raise ConfigError(
                source, [f"--set '{item}': expected key.path=value, e.g. --set seed=3"]
            )
        keys = tuple(key.strip().split("."))
        try:
            value = yaml.safe_load(value_text) if value_text.strip() else ""
        except yaml.YAMLError:
            value = value_text
        node = raw
        for depth, part in enumerate(keys[:-1]):
            child = node.setdefault(part, {})
            if not isinstance(child, dict):
                prefix = ".".join(keys[: depth + 1])
                raise ConfigError(
                    source,
                    [f"--set '{item}': {prefix} is {_a(type(child).__name__)}, not a section"],
                )
            node = child
        node[keys[-1]] = value
        touched.add(keys)
    return touched


def freeze(config: ExperimentConfig) -> tuple[str, ExperimentConfig]:
    """The resolved config as YAML (every default filled in, data paths absolute), and the
    config read back from that text: a run executes what its run directory records.

    Raises
    ------
    ConfigError
        When a value does not survive the round trip (resume could not reproduce the run).
    """
    text = yaml.safe_dump(_plain(config.model_dump(mode="python")), sort_keys=False)
    frozen = validate_config(
        yaml.safe_load(text), "the frozen config", base_dir=Path.cwd(), checked=True
    )
    if frozen != config:
        raise ConfigError(
            "the frozen config",
            [
                "a value does not survive being saved as YAML, so the run could not be resumed "
                "exactly; use plain numbers, strings, lists and mappings in model.params"
            ],
        )
    return text, frozen


def _plain(value: Any) -> Any:
    """Paths as strings, everything else as YAML can hold it."""
    if isinstance(value, dict):
        return {k: _plain(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_plain(v) for v in value]
    if isinstance(value, Path):
        return str(value)
    return value


def _a(noun: str) -> str:
    return f"an {noun}" if noun[:1] in "aeiou" else f"a {noun}"


def _default_name(path: Path) -> str:
    return re.sub(r"[^A-Za-z0-9._-]", "-", path.stem).strip("-._")[:100] or "run"


#: A config is a few kilobytes; a bigger file is the wrong file (or a hostile one).
MAX_CONFIG_BYTES = 1_000_000
#: The values a config may expand to once YAML aliases are followed (a "billion laughs"
#: file is 1 KB and expands to gigabytes).
MAX_CONFIG_VALUES = 100_000


#: A config nests a handful of levels (model.params.x); a string is a name or a path.
MAX_DEPTH = 32
MAX_STRING = 10_000


def _shape_problem(document: yaml.Node | None, what: str) -> str | None:
    """Nesting deeper, or a key or value longer, than any config needs (walked without
    recursion, so a hostile file cannot exhaust the stack here)."""
    stack = [(document, 1)] if document is not None else []
    seen: set[int] = set()
    while stack:
        node, depth = stack.pop()
        if id(node) in seen:
            continue  # an alias: its node was (or will be) walked once
        seen.add(id(node))
        if depth > MAX_DEPTH:
            return (
                f"line {node.start_mark.line + 1}: nested {MAX_DEPTH} levels deep; a {what} "
                "nests a few levels at most"
            )
        if isinstance(node, yaml.ScalarNode):
            if len(node.value) > MAX_STRING:
                return (
                    f"line {node.start_mark.line + 1}: a value of {len(node.value):,} "
                    f"characters; names, paths and numbers in a {what} are at most "
                    f"{MAX_STRING:,}"
                )
        elif isinstance(node, yaml.SequenceNode):
            stack += [(child, depth + 1) for child in node.value]
        elif isinstance(node, yaml.MappingNode):
            stack += [(part, depth + 1) for pair in node.value for part in pair]
    return None


def _expanded_size(node: yaml.Node | None, memo: dict[int, int] | None = None) -> int:
    """How many values ``node`` stands for with every alias expanded (computed once per
    distinct node, so in time linear in the file, however much it would expand)."""
    if node is None:
        return 0
    memo = {} if memo is None else memo
    if id(node) in memo:
        return memo[id(node)]
    memo[id(node)] = 1  # a recursive alias counts once instead of looping
    size = 1
    if isinstance(node, yaml.SequenceNode):
        size += sum(_expanded_size(child, memo) for child in node.value)
    elif isinstance(node, yaml.MappingNode):
        size += sum(_expanded_size(k, memo) + _expanded_size(v, memo) for k, v in node.value)
    memo[id(node)] = min(size, MAX_CONFIG_VALUES + 1)
    return memo[id(node)]


class DuplicateKey(ValueError):
    def __init__(self, key: str, first: int, second: int):
        super().__init__(
            f"{key} (line {second}): the key appears twice (first at line {first}); keep one"
        )


def _line_numbers(node: yaml.Node | None, prefix: tuple = ()) -> dict[tuple, int]:
    """Map every key path of a composed YAML document to its 1-based line."""
    lines: dict[tuple, int] = {}
    if isinstance(node, yaml.MappingNode):
        for key_node, value_node in node.value:
            path = (*prefix, key_node.value)
            if path in lines:
                # yaml.safe_load would keep the last value silently.
                raise DuplicateKey(
                    ".".join(map(str, path)), lines[path], key_node.start_mark.line + 1
                )
            lines[path] = key_node.start_mark.line + 1
            lines.update(_line_numbers(value_node, path))
    return lines


def nearest_line(lines: dict[tuple, int], key: tuple) -> int | None:
    """The line of ``key``, or of its closest ancestor that is in the file."""
    for depth in range(len(key), 0, -1):
        if key[:depth] in lines:
            return lines[key[:depth]]
    return None
