"""`alcli strategies` and `alcli stop-criteria`: every registered component of those kinds,
what it needs and its parameters."""

from __future__ import annotations

import json
from typing import Annotated

import typer
from rich.markup import escape
from rich.table import Table

from alcli.cli.common import Format, out, user_errors
from alcli.errors import ConfigError

NameArg = Annotated[
    str | None,
    typer.Argument(
        help="Show one (a registered name or an import path) in full.", show_default=False
    ),
]
FormatOpt = Annotated[Format, typer.Option("--format", "-f", help="table or json.")]


def strategies(name: NameArg = None, format_: FormatOpt = Format.table) -> None:
    """List the querying strategies: what each does, what it needs, its parameters."""
    from alcli.strategies import STRATEGIES, strategy_info  # on use

    _show(
        "strategies",
        STRATEGIES,
        strategy_info,
        name,
        format_,
        title="strategy: {name: <strategy>, <parameter>: <value>, ...}",
        caption="Switch strategies by loop with strategy: {phases: [{loops: 3, name: kcenter}, "
        "{name: margin}]}.\nYour own: strategy: {name: mypkg.strategies:MyStrategy}. "
        "Details: alcli strategies NAME.",
    )


def stop_criteria(name: NameArg = None, format_: FormatOpt = Format.table) -> None:
    """List the stop criteria: what each watches, what it needs, its parameters."""
    from alcli.stopping import STOP_CRITERIA, criterion_info  # on use

    _show(
        "stop-criteria",
        STOP_CRITERIA,
        criterion_info,
        name,
        format_,
        title="stop: {when: [{name: <criterion>, <parameter>: <value>, ...}]}",
        caption="The limits have keys of their own too: stop: {max_loops: 20, budget: 500, "
        "budget_cost: 100.0, target: {metric: accuracy, value: 0.9}}.\nYour own: "
        "{name: mypkg.stopping:MyCriterion}. Details: alcli stop-criteria NAME.",
    )


def _show(command, registry, info, name, format_, title: str, caption: str) -> None:
    with user_errors():
        if name is None:
            infos = [info(key, cls) for key, cls in sorted(registry.items())]
        else:
            try:
                infos = [info(name, registry.resolve(name))]
            except LookupError as exc:
                raise ConfigError(f"alcli {command}", [str(exc)]) from None
        if format_ is Format.json:
            out.out(json.dumps(infos, indent=2, default=str))
            return
        if format_ is Format.csv:
            raise ConfigError(
                f"alcli {command}", ["--format csv is for reports; use table or json"]
            )
        full = name is not None
        out.print(
            _table(infos, full, registry.noun, None if full else title, None if full else caption)
        )


def _table(infos: list[dict], full: bool, noun: str, title: str | None, caption: str | None):
    table = Table(show_lines=True, title=title, caption=caption)
    table.add_column(noun, style="bold", no_wrap=True)
    table.add_column("what it does")
    table.add_column("parameters (default)")
    for info in infos:
        params = (
            "\n".join(
                f"{p['name']}: {p['type']} ({_inline_yaml(p['default'])})"
                + (f" - {p['description']}" if full else "")
                for p in info["params"]
            )
            or "-"
        )
        what = info["description"]
        if info["needs"]:
            what += f"\nneeds: {', '.join(info['needs'])}"
        if full and info["references"]:
            what += f"\n{info['references']}"
        table.add_row(escape(info["name"]), escape(what), escape(params))
    return table


def _inline_yaml(value) -> str:
    """A default as a user would write it in the config: [{name: margin, share: 0.8}]."""
    if isinstance(value, dict | list):
        import yaml

        return yaml.safe_dump(value, default_flow_style=True, sort_keys=False, width=10**6).strip()
    return "null" if value is None else str(value)
