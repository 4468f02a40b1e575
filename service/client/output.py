"""The one way a command prints records: `-o table` (fits 80 columns), `json` or `yaml`."""

import json
import shutil
import sys
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

import yaml
from rich import box
from rich.console import Console
from rich.table import Table

FORMATS = ("table", "json", "yaml")
TABLE_WIDTH = 80


@dataclass(frozen=True)
class Column:
    """A table column: its header and how to read the value from a record."""

    header: str
    value: Callable[[dict[str, Any]], object]


def field(header: str, key: str | None = None) -> Column:
    name = key or header.lower().replace(" ", "_")
    return Column(header, lambda record: record.get(name))


def console() -> Console:
    """Rich on stdout, at most 80 columns wide (the terminal's width if narrower)."""
    width = min(shutil.get_terminal_size((TABLE_WIDTH, 24)).columns, TABLE_WIDTH)
    return Console(file=sys.stdout, width=width, highlight=False)


def _cell(value: object) -> str:
    if value is None:
        return "-"
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, list):
        return ", ".join(_cell(item) for item in value)
    if isinstance(value, dict):
        return json.dumps(value)
    return str(value)


def emit(data: Any, fmt: str, columns: Sequence[Column] | None = None) -> None:
    """Print `data` (a record or a list of them): json and yaml print it whole; a table shows
    `columns` of a list, or the fields of one record as name/value rows."""
    if fmt == "json":
        print(json.dumps(data, indent=2))
    elif fmt == "yaml":
        print(yaml.safe_dump(data, sort_keys=False, allow_unicode=True), end="")
    elif isinstance(data, list):
        table = Table(box=box.SIMPLE_HEAD, show_edge=False, pad_edge=False)
        for column in columns or ():
            table.add_column(column.header, overflow="fold")
        for record in data:
            table.add_row(*(_cell(column.value(record)) for column in columns or ()))
        console().print(table)
    else:
        table = Table(box=None, show_header=False, pad_edge=False)
        table.add_column(style="bold", no_wrap=True)
        table.add_column(overflow="fold")
        for name, value in data.items():
            table.add_row(name, _cell(value))
        console().print(table)
