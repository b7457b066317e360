"""Resolve a dotted import path (``pkg.mod.Name`` or ``pkg.mod:Name``) to an object."""

from __future__ import annotations

import importlib
from typing import Any


def import_object(path: str) -> Any:
    """Import ``pkg.mod.Name`` or ``pkg.mod:Name``.

    Raises
    ------
    ImportError
        With a message that says which part failed to import.
    """
    if ":" in path:
        module_name, _, attr = path.partition(":")
    else:
        module_name, _, attr = path.rpartition(".")
    if not module_name or not attr:
        raise ImportError(f"'{path}' is not an import path like 'package.module.Name'")
    try:
        module = importlib.import_module(module_name)
    except ImportError as exc:
        raise ImportError(f"module '{module_name}' cannot be imported ({exc})") from exc
    obj = module
    for part in attr.split("."):
        try:
            obj = getattr(obj, part)
        except AttributeError:
            raise ImportError(f"module '{module_name}' has no attribute '{attr}'") from None
    return obj
