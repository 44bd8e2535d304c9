"""What the CLI shows a person: rich tables and colour on a terminal, plain text when piped."""
from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import TextIO

from rich import box
from rich.console import Console
from rich.table import Table
from rich.text import Text

# A run's final status at a glance on a terminal; piped, the word alone.
STATUS_STYLES = {"finished": "green", "failed": "red", "diverged": "yellow", "stopped": "magenta",
                 "interrupted": "magenta", "running": "cyan", "queued": "dim"}
PIPED_WIDTH = 10_000  # piped, a row is one line however long (rich would wrap at 80 columns)


@dataclass(frozen=True)
class Column:
    header: str
    right: bool = False  # numbers align right


def _console(stream: TextIO) -> Console:
    """rich's console for `stream`: colour only on a terminal (and never with NO_COLOR set)."""
    tty = stream.isatty()
    # no_color None on a terminal: rich then reads NO_COLOR (False would override it)
    return Console(file=stream, highlight=False, width=None if tty else PIPED_WIDTH, no_color=None if tty else True,
                   force_terminal=tty or None)


def render(columns: Sequence[Column], rows: Sequence[Sequence[str | Text]], stream: TextIO,
           footer: Sequence[str] | None = None) -> str:
    """The table as `stream` should get it: on a terminal a rule under a bold header and cells in colour;
    piped, plain columns two spaces apart, no escape codes, no trailing spaces."""
    tty = stream.isatty()
    console = _console(stream)
    table = Table(box=box.SIMPLE_HEAD if tty else None, show_edge=False, pad_edge=False,
                  header_style="bold" if tty else "", show_footer=footer is not None)
    for i, col in enumerate(columns):
        table.add_column(col.header, justify="right" if col.right else "left",
                         footer=footer[i] if footer is not None else "", no_wrap=not tty)
    for row in rows:
        # Text, not markup: a run named "[red]" must show as typed.
        table.add_row(*(cell if isinstance(cell, Text) else Text(cell) for cell in row))
    with console.capture() as captured:
        console.print(table)
    return "\n".join(line.rstrip() for line in captured.get().rstrip("\n").splitlines())


def show(columns: Sequence[Column], rows: Sequence[Sequence[str | Text]], stream: TextIO,
         footer: Sequence[str] | None = None) -> None:
    print(render(columns, rows, stream, footer), file=stream, flush=True)


def status(word: str) -> Text:
    """A status cell: coloured on a terminal (render drops the colour when piped)."""
    return Text(word, style=STATUS_STYLES.get(word, ""))


def error(message: str, stream: TextIO) -> str:
    """An error line, its 'error:' in red on a terminal."""
    console = _console(stream)
    with console.capture() as captured:
        console.print(Text.assemble(("error:", "bold red"), f" {message}"), end="", soft_wrap=True)
    return captured.get()
