"""The rules DESIGN.md sets for the code itself, checked so they stay true."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

PACKAGE = Path(__file__).parents[1] / "alcli"
PURE = [
    *sorted((PACKAGE / "strategies").glob("*.py")),
    PACKAGE / "schedules.py",
    PACKAGE / "stopping.py",
    PACKAGE / "metrics.py",
    PACKAGE / "pool.py",
    PACKAGE / "seeding.py",
    PACKAGE / "initialization.py",
    PACKAGE / "classes.py",
]
IO_CALLS = {"open", "print", "input"}
IO_MODULES = {"rich", "typer", "click", "os", "shutil", "pathlib", "csv", "json", "yaml", "joblib"}


def imported_modules(tree: ast.AST) -> set[str]:
    names = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            names |= {alias.name.split(".")[0] for alias in node.names}
        elif isinstance(node, ast.ImportFrom) and node.module:
            names.add(node.module.split(".")[0])
    return names


@pytest.mark.parametrize("path", PURE, ids=lambda p: str(p.relative_to(PACKAGE)))
def test_pure_modules_do_no_io(path):
    tree = ast.parse(path.read_text())
    calls = {
        node.func.id
        for node in ast.walk(tree)
        if isinstance(node, ast.Call) and isinstance(node.func, ast.Name)
    }
    assert not calls & IO_CALLS, f"{path.name} calls {calls & IO_CALLS}"
    assert not imported_modules(tree) & IO_MODULES, f"{path.name} imports I/O modules"


@pytest.mark.parametrize("path", sorted(PACKAGE.rglob("*.py")), ids=lambda p: p.name)
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
    for path in PACKAGE.rglob("*.py"):
        if path.name in ("cli.py", "console.py", "__main__.py"):
            continue
        source = path.read_text()
        assert "sys.exit" not in source and "typer.Exit" not in source, path.name
        assert "print(" not in source, path.name
