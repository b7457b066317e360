"""Import a model's classes and factory by path, a user's own module from the config's folder
first, and suggest the nearest path when one does not import."""

from __future__ import annotations

import contextlib
import difflib
import importlib
import importlib.machinery
import pkgutil
import sys
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from alcli.registry import import_object

_LOCK = threading.RLock()

#: Top-level modules imported from a config's folder, by name, and that folder. A config in
#: another folder must not pick them up by name: its own module of that name is imported
#: afresh, and without one the name is imported as if they had never been.
_FROM_FOLDER: dict[str, Path] = {}


def top_module(path: str) -> str:
    """The top-level package of an import path: ``mypkg`` for ``mypkg.models:make``."""
    module = path.partition(":")[0] if ":" in path else path.rpartition(".")[0]
    return (module or path).split(".")[0]


def lives_in(folder: Path, path: str) -> bool:
    """Whether ``path``'s top-level package is a module or package of the user's own in
    ``folder``: one that imports from elsewhere too (installed, standard library, on
    PYTHONPATH) does not count, so a folder named ``sklearn`` beside a config cannot replace
    scikit-learn."""
    top = top_module(path)
    if top in sys.builtin_module_names:
        return False
    try:
        if importlib.machinery.PathFinder.find_spec(top, [str(folder)]) is None:
            return False
        here = folder.resolve()
        elsewhere = [entry for entry in sys.path if _resolved(entry) != here]
        return importlib.machinery.PathFinder.find_spec(top, elsewhere) is None
    except (ImportError, ValueError, OSError):
        return False


def _resolved(entry: str) -> Path | None:
    try:
        return Path(entry).resolve()  # "" is the working folder
    except (OSError, RuntimeError):
        return None


def import_from(path: str, code_dir: Path | None = None) -> Any:
    """:func:`alcli.registry.import_object`, finding a module that lives in ``code_dir`` (the
    config file's folder) there.

    ``sys.path`` is changed only while importing, so no other config sees ``code_dir``. A
    module imported from there stays in ``sys.modules`` (a saved model of a class defined
    in it must unpickle), but a config from another folder gets its own module of that name,
    and one without such a module does not get it. The folder wins over a module of the same
    name imported from elsewhere, as a script's folder does in Python, except over installed
    and standard library packages.

    Raises
    ------
    ImportError
        Saying which part failed to import.
    """
    top = top_module(path)
    with _LOCK:
        if code_dir is not None and _FROM_FOLDER.get(top) == code_dir and top in sys.modules:
            # Imported already (every loop builds the model): its submodules are found
            # through the package itself, without the folder on sys.path.
            return import_object(path)
        if code_dir is not None and lives_in(code_dir, path):
            if top in sys.modules and not _is_under(sys.modules[top], code_dir):
                _forget(top)  # a module of that name from elsewhere (another config's folder)
            with _first_on_path(code_dir):
                found = import_object(path)
            _FROM_FOLDER[top] = code_dir
            return found
        if top in _FROM_FOLDER:
            _forget(top)
        return import_object(path)


def _is_under(module: Any, folder: Path) -> bool:
    """Whether ``module`` was loaded from a file (or, a package, a folder) in ``folder``."""
    spec = getattr(module, "__spec__", None)
    places = [getattr(spec, "origin", None)]
    places += list(getattr(spec, "submodule_search_locations", None) or [])
    return any(place and Path(place).resolve().is_relative_to(folder.resolve()) for place in places)


def _forget(top: str) -> None:
    """Drop a package imported from a config's folder (and its submodules) from the cache."""
    _FROM_FOLDER.pop(top, None)
    for name in [n for n in sys.modules if n == top or n.startswith(top + ".")]:
        del sys.modules[name]
    importlib.invalidate_caches()


@contextlib.contextmanager
def _first_on_path(folder: Path) -> Iterator[None]:
    entry = str(folder)
    sys.path.insert(0, entry)
    importlib.invalidate_caches()  # the module may have been written a moment ago
    try:
        yield
    finally:
        sys.path.remove(entry)


def nearest_path(path: str, code_dir: Path | None = None) -> str | None:
    """An import path close to ``path`` that imports, or None.

    A misspelled class is looked up among its module's names, a misspelled module among its
    package's modules, and a class name alone (or one in the wrong module of scikit-learn)
    among scikit-learn's estimators.
    """
    with _LOCK:
        own = code_dir is not None and lives_in(code_dir, path)
        with _first_on_path(code_dir) if own else contextlib.nullcontext():
            try:
                for candidate in _candidates(path):
                    with contextlib.suppress(ImportError):
                        import_object(candidate)
                        return candidate
            finally:
                if own and top_module(path) in sys.modules:
                    _FROM_FOLDER[top_module(path)] = code_dir
    return None


def _candidates(path: str) -> Iterator[str]:
    sep = ":" if ":" in path else "."
    module_name, _, attr = path.partition(":") if sep == ":" else path.rpartition(".")
    if not module_name:
        yield from _sklearn_paths(path)
        return
    try:
        module = importlib.import_module(module_name)
    except ImportError:
        module = None
    if module is not None:
        names = [n for n in dir(module) if not n.startswith("_")]
        for close in difflib.get_close_matches(attr, names, n=1, cutoff=0.6):
            yield f"{module_name}{sep}{close}"
    else:
        fixed = _fix_module(module_name)
        if fixed is not None:
            yield f"{fixed}{sep}{attr}"
            fixed_module = importlib.import_module(fixed)
            names = [n for n in dir(fixed_module) if not n.startswith("_")]
            for close in difflib.get_close_matches(attr, names, n=1, cutoff=0.6):
                yield f"{fixed}{sep}{close}"
    if top_module(path) == "sklearn":  # a class in the wrong module of scikit-learn
        yield from _sklearn_paths(attr.rsplit(".", 1)[-1])


def _fix_module(module_name: str) -> str | None:
    """``module_name`` with its first part that does not import replaced by the nearest
    module of its package (None when the top-level package is the part missing)."""
    parts = module_name.split(".")
    for i in range(1, len(parts) + 1):
        try:
            importlib.import_module(".".join(parts[:i]))
        except ImportError:
            if i == 1:
                return None
            parent = importlib.import_module(".".join(parts[: i - 1]))
            names = [m.name for m in pkgutil.iter_modules(getattr(parent, "__path__", []))]
            close = difflib.get_close_matches(parts[i - 1], names, n=1, cutoff=0.6)
            if not close:
                return None
            fixed = ".".join([*parts[: i - 1], close[0], *parts[i:]])
            try:
                importlib.import_module(fixed)
            except ImportError:
                return None
            return fixed
    return module_name


def _sklearn_paths(name: str) -> Iterator[str]:
    """The public import path of the scikit-learn estimator nearest ``name`` by class name."""
    import warnings

    from sklearn.utils import all_estimators

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        estimators = dict(all_estimators())
    by_lower = {n.lower(): n for n in estimators}
    for close in difflib.get_close_matches(name.lower(), list(by_lower), n=1, cutoff=0.75):
        cls = estimators[by_lower[close]]
        parts = cls.__module__.split(".")
        public = ".".join(parts[: next((i for i, p in enumerate(parts) if p[:1] == "_"), None)])
        yield f"{public}.{cls.__name__}"
