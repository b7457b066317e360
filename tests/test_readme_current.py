"""The README is the user's manual: every command, sweep key, compare column and file of the
sweep directory it documents is one the code has (and the other way round)."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
import yaml

from alcli.cli import app
from alcli.experiments.sweep_dir import STATUS_COLUMNS
from alcli.experiments.sweep_file import SweepFile
from alcli.reporting.comparison import CURVE_COLUMNS, SUMMARY_COLUMNS

README = (Path(__file__).parents[1] / "README.md").read_text()


def section(heading: str) -> str:
    start = README.index(heading)
    level = heading.split(" ")[0]
    rest = README[start + len(heading) :]
    end = re.search(rf"^{level} ", rest, re.MULTILINE)
    return rest[: end.start()] if end else rest


def table_keys(text: str) -> list[str]:
    """The names in backticks in the first column of every markdown table row."""
    keys = []
    for row in re.finditer(r"^\| ([^|]+)\|", text, re.MULTILINE):
        keys += re.findall(r"`([^`]+)`", row.group(1))
    return keys


@pytest.mark.parametrize(
    "command", sorted(c.name or c.callback.__name__ for c in app.registered_commands)
)
def test_every_command_is_in_the_commands_table(command):
    assert f"| `alcli {command}" in section("## Commands"), command


def test_every_sweep_key_is_documented_and_nothing_else():
    documented = set(table_keys(section("## Sweeps and comparisons").split("### ")[0]))
    assert documented == set(SweepFile.model_fields), documented ^ set(SweepFile.model_fields)


def test_every_compare_column_is_explained():
    explained = " ".join(table_keys(section("### Comparing runs")))
    for column in SUMMARY_COLUMNS:
        if column != "group":
            assert f"{column}" in explained, column


def test_the_sweep_directory_lists_its_files_and_columns():
    layout = section("### The sweep directory")
    for name in (
        "sweep.yaml",
        "plan.json",
        "status.csv",
        "curves.csv",
        "summary.csv",
        "report.html",
    ):
        assert name in layout, name
    for column in (*STATUS_COLUMNS, *CURVE_COLUMNS):
        assert column in layout, column


def test_the_readme_sweep_example_is_a_valid_sweep_file():
    block = re.search(r"```yaml\n(.*?)```", section("## Sweeps and comparisons"), re.DOTALL)
    SweepFile.model_validate(yaml.safe_load(block.group(1)))
