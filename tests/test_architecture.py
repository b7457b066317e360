"""The rules DESIGN.md sets for the code itself ("Layers"), checked so they stay true."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

PACKAGE = Path(__file__).parents[1] / "alcli"
MODULES = sorted(PACKAGE.rglob("*.py"))

#: Floors, bottom up: a module imports only from its own floor or the floors below.
FLOORS = {
    "ground": 0,  # schema, registry, errors, seeding, classes, atomic, pool, metrics
    "models": 1,
    "data": 1,
    "rundir": 1,
    "strategies": 2,
    "labelers": 2,
    "stopping": 2,
    "schedules": 2,
    "initialization": 2,
    "config": 3,
    "engine": 4,
    "reporting": 4,
    "tracking": 2,
    "experiments": 5,
    "cli": 6,
    "__main__": 7,
}
#: What nothing below config/ may import.
UPPER = ("config", "engine", "experiments", "cli")
#: Function-level `alcli` imports outside cli/, each with its reason.
LATE_IMPORTS = {
    "strategies/spec.py": "composite strategies (bandit, mixture) hold specs that name other "
    "strategies, and the registry imports the composites",
}
PURE = [
    *sorted((PACKAGE / "strategies").glob("*.py")),
    *sorted((PACKAGE / "stopping").glob("*.py")),
    PACKAGE / "schedules.py",
    PACKAGE / "initialization.py",
    PACKAGE / "metrics.py",
    PACKAGE / "pool.py",
    PACKAGE / "seeding.py",
    PACKAGE / "classes.py",
    PACKAGE / "schema.py",
]
IO_CALLS = {"open", "print", "input"}
IO_MODULES = {"rich", "typer", "click", "os", "shutil", "csv", "json", "yaml", "joblib"}


def name_of(path: Path) -> str:
    return str(path.relative_to(PACKAGE))


def area(module: str) -> str:
    """The floor name of a dotted module under alcli (``alcli.engine.steps.label`` -> engine)."""
    parts = module.split(".")
    if len(parts) == 1:
        return "ground"
    head = parts[1]
    return head if head in FLOORS else "ground"


def module_of(path: Path) -> str:
    parts = path.relative_to(PACKAGE.parent).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


KNOWN = {module_of(p) for p in MODULES}


def imports(path: Path) -> list[tuple[str, bool]]:
    """Every module ``path`` imports, and whether the import is at module level."""
    tree = ast.parse(path.read_text())
    top = {id(node) for node in tree.body}
    found = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            found += [(alias.name, id(node) in top) for alias in node.names]
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            # `from alcli.cli import report` imports the module alcli.cli.report; `from
            # alcli.cli import app` imports from the package alcli.cli.
            submodules = [f"{node.module}.{a.name}" for a in node.names]
            named = [m for m in submodules if m in KNOWN]
            if len(named) < len(submodules):
                named.append(node.module)
            found += [(name, id(node) in top) for name in named]
    return found


def alcli_imports(path: Path, module_level_only: bool = True) -> set[str]:
    return {
        name
        for name, at_top in imports(path)
        if name in KNOWN and (at_top or not module_level_only)
    }


@pytest.mark.parametrize("path", MODULES, ids=name_of)
def test_imports_point_down(path):
    here = area(module_of(path))
    for target in alcli_imports(path, module_level_only=False):
        there = area(target)
        assert FLOORS[there] <= FLOORS[here], f"{name_of(path)} ({here}) imports {target}"


@pytest.mark.parametrize("path", MODULES, ids=name_of)
def test_nothing_below_config_imports_the_upper_floors(path):
    if FLOORS[area(module_of(path))] >= FLOORS["config"]:
        return
    for target in alcli_imports(path, module_level_only=False):
        assert area(target) not in UPPER, f"{name_of(path)} imports {target}"


def test_no_import_circle():
    graph = {module_of(p): alcli_imports(p) for p in MODULES}
    # A package's __init__ re-exports its modules: an edge from a module to its own package
    # is an import of a sibling, which is fine as long as no circle runs through them.
    state: dict[str, int] = {}
    stack: list[str] = []

    def visit(node: str) -> None:
        state[node] = 1
        stack.append(node)
        for nxt in sorted(graph.get(node, ())):
            if nxt == node:
                continue
            if state.get(nxt) == 1:
                cycle = [*stack[stack.index(nxt) :], nxt]
                raise AssertionError("import circle: " + " -> ".join(cycle))
            if nxt not in state:
                visit(nxt)
        stack.pop()
        state[node] = 2

    for node in sorted(graph):
        if node not in state:
            visit(node)


@pytest.mark.parametrize("path", MODULES, ids=name_of)
def test_only_the_cli_imports_typer_or_rich(path):
    if area(module_of(path)) in ("cli", "__main__"):
        return
    used = {name.split(".")[0] for name, _ in imports(path)}
    assert not used & {"typer", "rich", "click"}, f"{name_of(path)} imports {used}"


@pytest.mark.parametrize("path", sorted((PACKAGE / "reporting").rglob("*.py")), ids=name_of)
def test_reporting_never_unpickles(path):
    used = {name.split(".")[0] for name, _ in imports(path)}
    assert not used & {"joblib", "pickle"}, f"{name_of(path)} imports {used}"


@pytest.mark.parametrize("path", MODULES, ids=name_of)
def test_no_function_level_alcli_import_outside_the_cli(path):
    if area(module_of(path)) in ("cli", "__main__") or name_of(path) in LATE_IMPORTS:
        return
    late = alcli_imports(path, module_level_only=False) - alcli_imports(path)
    assert not late, f"{name_of(path)} imports {late} inside a function: a wall is misplaced"


def test_late_imports_listed_still_exist():
    for name in LATE_IMPORTS:
        path = PACKAGE / name
        assert alcli_imports(path, False) - alcli_imports(path), f"{name} needs no entry"


@pytest.mark.parametrize("path", PURE, ids=name_of)
def test_pure_modules_do_no_io(path):
    tree = ast.parse(path.read_text())
    calls = {
        node.func.id
        for node in ast.walk(tree)
        if isinstance(node, ast.Call) and isinstance(node.func, ast.Name)
    }
    assert not calls & IO_CALLS, f"{path.name} calls {calls & IO_CALLS}"
    used = {name.split(".")[0] for name, _ in imports(path)}
    assert not used & IO_MODULES, f"{path.name} imports I/O modules"


@pytest.mark.parametrize("path", MODULES, ids=name_of)
def test_no_global_numpy_randomness(path):
    # Randomness is an argument: a Generator derived from seed and loop, never np.random's state.
    source = path.read_text()
    for banned in (
        "np.random.seed",
        "np.random.rand",
        "np.random.choice",
        "np.random.shuffle",
        "np.random.permutation",
        "np.random.normal",
        "np.random.randint",
    ):
        assert banned not in source, f"{path.name} uses {banned}"


def test_only_the_cli_exits_or_prints():
    for path in MODULES:
        if area(module_of(path)) in ("cli", "__main__"):
            continue
        source = path.read_text()
        assert "sys.exit" not in source and "typer.Exit" not in source, path.name
        assert "print(" not in source, path.name


def test_no_module_is_a_grab_bag():
    # DESIGN.md: no module in alcli/ over about 500 lines.
    for path in MODULES:
        lines = len(path.read_text().splitlines())
        assert lines <= 560, f"{name_of(path)} has {lines} lines; split it by responsibility"
