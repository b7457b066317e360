"""One registry type for every component kind: strategies, labelers, schedules, init methods
and stop criteria.

A registry maps short names to classes. Looking a name up is the one place that words "unknown
name" (with the available names and the nearest) and that resolves a user's own component by
import path (``mypkg.module:Class``), checked to be the right kind before use.
"""

from __future__ import annotations

import importlib
from collections.abc import Callable, Iterator, Mapping
from types import MappingProxyType
from typing import Any, Generic, TypeVar

from pydantic import BaseModel, ConfigDict, ValidationError, field_validator, model_validator
from pydantic_core import PydanticCustomError

from alcli.schema import did_you_mean, tagged_union

T = TypeVar("T")


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


def is_import_path(name: str) -> bool:
    """Whether ``name`` names a user's own component rather than a registered one."""
    return ":" in name or "." in name


class Registry(Mapping[str, type[T]], Generic[T]):
    """Named component classes of one kind.

    Parameters
    ----------
    noun : str
        What a name names, in messages: ``Unknown {noun} 'x'``.
    members : dict of str to class
        The registered components (read-only once built).
    base : class
        What a user's own component must subclass.
    own_example : str or None
        An import path to show in the "unknown" message, when users may name their own.
    must_be : str or None
        What a user's own class must be, in the message when it is not (default: a
        subclass of ``base``).
    check : callable or None
        Further checks of a user's own class: returns a problem, or None.
    """

    def __init__(
        self,
        noun: str,
        members: dict[str, type[T]],
        base: type[T],
        own_example: str | None = None,
        must_be: str | None = None,
        check: Callable[[str, type[T]], str | None] | None = None,
    ):
        self.noun = noun
        self._members = MappingProxyType(dict(members))
        self.base = base
        self.own_example = own_example
        self.must_be = must_be or f"a subclass of {base.__module__}.{base.__name__}"
        self._check = check

    def __getitem__(self, name: str) -> type[T]:
        return self._members[name]

    def __iter__(self) -> Iterator[str]:
        return iter(self._members)

    def __len__(self) -> int:
        return len(self._members)

    def names(self) -> list[str]:
        return sorted(self._members)

    def configs(self) -> dict[str, type[BaseModel]]:
        """Each registered component's config section (its ``Config``), by name."""
        return {name: cls.Config for name, cls in self._members.items()}  # type: ignore[attr-defined]

    def section(self, default: str) -> Any:
        """The config section that is one of these components, picked by the key named as
        the registry's noun (``kind``, ``schedule``, ``method``); ``default`` when absent."""
        return tagged_union(self.configs(), self.noun, default)

    def unknown(self, name: object) -> str:
        """The one wording of an unknown name: the nearest, then every available name."""
        message = (
            f"Unknown {self.noun} '{name}'{did_you_mean(name, self._members)}. "
            f"Available: {', '.join(self.names())}."
        )
        if self.own_example:
            message += f" Your own {self.noun} is named by import path, e.g. {self.own_example}."
        return message

    def resolve(self, name: str) -> type[T]:
        """The class of a registered name, or of an import path (``pkg.mod:Class``).

        Raises
        ------
        LookupError
            Naming the registered components, or why the import path is not one.
        """
        if name in self._members:
            return self._members[name]
        if not (self.own_example and is_import_path(name)):
            raise LookupError(self.unknown(name))
        try:
            found = import_object(name)
        except ImportError as exc:
            raise LookupError(
                f"cannot import {self.noun} '{name}': {exc}. Check the import path "
                "(package.module:Class) and that the package is installed or on PYTHONPATH"
            ) from None
        if not (isinstance(found, type) and issubclass(found, self.base)):
            raise LookupError(f"'{name}' is not a {self.noun}: it must be {self.must_be}")
        missing = getattr(found, "__abstractmethods__", None)
        if missing:
            missing_text = ", ".join(sorted(missing))
            raise LookupError(f"{self.noun} '{name}' does not implement {missing_text}")
        problem = self._check(name, found) if self._check else None
        if problem:
            raise LookupError(problem)
        return found


class ComponentSpec(BaseModel):
    """A component as a config names it: ``name`` (registered, or an import path) and the
    component's own parameters as the other keys, checked against its ``Params``.

    Subclasses say which registry names resolve in (:meth:`registry`).
    """

    model_config = ConfigDict(extra="allow", frozen=True)
    name: str

    @classmethod
    def registry(cls) -> Registry:
        raise NotImplementedError

    @field_validator("name")
    @classmethod
    def _known(cls, value: str) -> str:
        return cls.check_name(value)

    @classmethod
    def check_name(cls, value: str) -> str:
        """``value`` if it names a component; else a validation error listing the choices."""
        try:
            cls.registry().resolve(value)
        except LookupError as exc:
            raise PydanticCustomError(
                f"unknown_{cls.registry().noun.replace(' ', '_')}", "{reason}", {"reason": str(exc)}
            ) from None
        return value

    @model_validator(mode="after")
    def _params_fit(self) -> ComponentSpec:
        return self.check_params()

    @property
    def params(self) -> dict[str, Any]:
        """The component's own keys (everything but ``name`` and the spec's declared fields)."""
        return dict(self.model_extra or {})

    def component(self) -> type:
        return self.registry().resolve(self.name)

    def build(self) -> Any:
        """A new instance of the component with these parameters."""
        return self.component()(**self.params)

    def check_params(self) -> ComponentSpec:
        """This spec, if its extra keys are valid parameters of its component; every
        parameter, defaults included, is kept, so a frozen config records what a run uses
        (a later version's different default cannot change a resumed run)."""
        params_model = self.component().Params
        try:
            validated = params_model.model_validate(self.params)
        except ValidationError as exc:
            problems = "; ".join(describe_param_error(err, params_model) for err in exc.errors())
            raise PydanticCustomError(
                "component_params",
                "{noun} '{name}': {problems}",
                {"noun": self.registry().noun, "name": self.name, "problems": problems},
            ) from None
        object.__setattr__(self, "__pydantic_extra__", validated.model_dump(mode="python"))
        return self


def describe_param_error(err: dict, params_model: type[BaseModel]) -> str:
    """One ``key: problem`` line for an error in a component's parameters."""
    key = ".".join(str(part) for part in err["loc"]) or "(parameters)"
    message = err["msg"].removeprefix("Value error, ")
    if err["type"] == "extra_forbidden":
        valid = sorted(params_model.model_fields) if len(err["loc"]) == 1 else []
        listing = f"; valid keys here: {', '.join(valid)}" if valid else ""
        if not params_model.model_fields and len(err["loc"]) == 1:
            listing = "; this strategy takes no parameters"
        return f"{key}: unknown key{listing}"
    if err["type"] == "model_type":
        return f"{key}: must be a mapping like {{name: margin}}; got {err.get('input')!r}"
    if err["type"] == "missing":
        return f"{key}: required key is missing"
    if (
        "input" in err
        and not isinstance(err["input"], dict | list)
        and not err["type"].startswith(("unknown_", "component_params"))
    ):
        return f"{key}: {message}; got {err['input']!r}"
    return f"{key}: {message}"
