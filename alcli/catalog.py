"""What `alcli strategies` and `alcli stop-criteria` show: each component's description, what it
needs, its parameters and references, as data."""

from __future__ import annotations

import re
import types
import typing
from typing import Any

from pydantic.fields import FieldInfo

from alcli.registry import ComponentSpec


def component_info(name: str, cls: type, needs: list[str]) -> dict[str, Any]:
    """A component's entry: name, description, what it needs, parameters (from its
    ``Params``), references (the docstring's ``References:`` paragraph)."""
    doc = cls.__doc__ or ""
    references = re.search(r"References:\s*(.+?)(?:\n\s*\n|$)", doc, re.DOTALL)
    return {
        "name": name,
        "description": cls.description,
        "needs": needs,
        "params": [
            {
                "name": key,
                "type": type_text(field),
                "default": _default(field),
                "description": field.description or "",
            }
            for key, field in cls.Params.model_fields.items()
        ],
        "references": " ".join(references.group(1).split()) if references else "",
    }


def type_text(field: FieldInfo) -> str:
    """A short, readable type: ``margin | entropy``, ``int > 0``, ``list of strategies``."""
    extra = field.json_schema_extra if isinstance(field.json_schema_extra, dict) else {}
    text = extra.get("type_text") or _annotation_text(field.annotation)
    bounds = []
    for item in field.metadata:
        for attr, sign in (("gt", ">"), ("ge", ">="), ("lt", "<"), ("le", "<=")):
            value = getattr(item, attr, None)
            if value is not None:
                bounds.append(f"{sign} {value}")
    return f"{text} {', '.join(bounds)}" if bounds else text


def _annotation_text(annotation: Any) -> str:
    origin = typing.get_origin(annotation)
    args = typing.get_args(annotation)
    if origin is typing.Literal:
        return " | ".join(str(a) for a in args)
    if origin in (typing.Union, types.UnionType):
        return " | ".join(_annotation_text(a) for a in args if a is not type(None)) + (
            " or null" if type(None) in args else ""
        )
    if origin is list:
        return f"list of {_annotation_text(args[0])}" if args else "list"
    if origin is typing.Annotated:
        return _annotation_text(args[0])
    if isinstance(annotation, type) and issubclass(annotation, ComponentSpec):
        return annotation.registry().noun
    if isinstance(annotation, type):
        return {"ModelConfig": "model config"}.get(annotation.__name__, annotation.__name__)
    return str(annotation)


def _default(field: FieldInfo) -> Any:
    if field.is_required():
        return "required"
    factory = field.default_factory
    return _plain(factory() if factory is not None else field.default)


def _plain(value: Any) -> Any:
    if hasattr(value, "model_dump"):
        return {k: v for k, v in value.model_dump().items() if v is not None}
    if isinstance(value, list | tuple):
        return [_plain(v) for v in value]
    return value
