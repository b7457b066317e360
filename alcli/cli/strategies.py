"""`alcli strategies`: every querying strategy, what it needs and its parameters."""

from __future__ import annotations

import json
from typing import Annotated

import typer
from rich.markup import escape
from rich.table import Table

from alcli.cli.common import Format, out, user_errors
from alcli.errors import ConfigError


def strategies(
    name: Annotated[
        str | None,
        typer.Argument(
            help="Show one strategy (a registered name or an import path) in full.",
            show_default=False,
        ),
    ] = None,
    format_: Annotated[Format, typer.Option("--format", "-f", help="table or json.")] = (
        Format.table
    ),
) -> None:
    """List the querying strategies: what each does, what it needs, its parameters."""
    from alcli.strategies import STRATEGIES, resolve_strategy  # on use
    from alcli.strategies.catalog import strategy_info

    with user_errors():
        if name is None:
            infos = [strategy_info(key, cls) for key, cls in sorted(STRATEGIES.items())]
        else:
            try:
                infos = [strategy_info(name, resolve_strategy(name))]
            except LookupError as exc:
                raise ConfigError("alcli strategies", [str(exc)]) from None
        if format_ is Format.json:
            out.out(json.dumps(infos, indent=2, default=str))
            return
        if format_ is Format.csv:
            raise ConfigError(
                "alcli strategies", ["--format csv is for reports; use table or json"]
            )
        out.print(_strategy_table(infos, full=name is not None))


def _strategy_table(infos: list[dict], full: bool):
    table = Table(
        show_lines=True,
        title=None if full else "strategy: {name: <strategy>, <parameter>: <value>, ...}",
        caption=None
        if full
        else "Switch strategies by loop with strategy: {phases: [{loops: 3, name: kcenter}, "
        "{name: margin}]}.\nYour own: strategy: {name: mypkg.strategies:MyStrategy}. "
        "Details: alcli strategies NAME.",
    )
    table.add_column("strategy", style="bold", no_wrap=True)
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
