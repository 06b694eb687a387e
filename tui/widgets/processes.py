"""The process table: the bank and every broker, one line each, warnings marked.

Drawn as text lines in one render (not a DataTable): one Static-like repaint is cheaper than
``update_cell`` on every cell, and columns are dropped by priority when the panel is narrow.
"""

from __future__ import annotations

from rich.text import Text
from textual.app import RenderResult
from textual.geometry import Size
from textual.reactive import reactive

from simulator.stats import ProcessRow, Snapshot
from tui.format import (
    HOST_COLUMNS,
    PROCESS_COLUMNS,
    bank_first,
    fit_columns,
    process_cells,
    rows_to_show,
    table_line,
)
from tui.widgets.base import WAITING_TEXT, SnapshotPanel

STATE_COLUMN = 2
STATE_STYLES = {
    "RUNNING": "green",
    "STARTING": "yellow",
    "STOPPING": "yellow",
    "EXITED": "dim",
}
WARNING_STYLE = "bold red reverse"


class ProcessTable(SnapshotPanel):
    """A header line and one line per ProcessRow, bank first.

    Rows whose ``warning`` is true are drawn in reverse red and their state starts with '!'.
    When there are more rows than lines, the bank and the warning rows are kept and the last
    line says how many are hidden.
    """

    DEFAULT_CSS = """
    ProcessTable {
        height: auto;
        text-wrap: nowrap;
        text-overflow: clip;
    }
    """

    rows: reactive[tuple[ProcessRow, ...]] = reactive(())
    """The processes, bank first."""

    def watch_snapshot(self, snapshot: Snapshot | None) -> None:
        if snapshot is not None:
            self.rows = tuple(bank_first(snapshot.processes))

    def watch_rows(self, old: tuple[ProcessRow, ...], new: tuple[ProcessRow, ...]) -> None:
        if len(old) != len(new):
            self.refresh(layout=True)  # one line per row: the height follows the count

    def get_content_height(self, container: Size, viewport: Size, width: int) -> int:
        return 1 + len(self.rows)

    def render(self) -> RenderResult:
        if self.snapshot is None:
            return WAITING_TEXT
        rows = self.rows
        hosts = self.snapshot.transport != "pipe"  # brokers anywhere: say where each one runs
        columns = HOST_COLUMNS if hosts else PROCESS_COLUMNS
        fitted = fit_columns(self.content_size.width, columns)
        titles = [c.title for c in columns]
        text = Text(no_wrap=True, end="", overflow="crop")
        text.append(table_line(titles, fitted, columns), "bold")
        height = self.content_size.height or len(rows) + 1
        room = height - 1 if len(rows) <= height - 1 else height - 2  # header, "more" line
        shown, hidden = rows_to_show(rows, room)
        state_span = _column_span(fitted, STATE_COLUMN + hosts)
        for row in shown:
            text.append("\n")
            line = table_line(process_cells(row, host=hosts), fitted, columns)
            if row.warning:
                text.append(line, WARNING_STYLE)
                continue
            start = len(text)
            text.append(line)
            style = STATE_STYLES.get(row.state)
            if style and state_span:
                text.stylize(style, start + state_span[0], start + state_span[1])
        if hidden:
            warnings = sum(1 for row in rows if row.warning) - sum(1 for r in shown if r.warning)
            note = f"\u2026 {hidden} more" + (f", {warnings} need a look" if warnings else "")
            text.append("\n")
            text.append(note, "bold red" if warnings else "dim")
        return text


def _column_span(fitted: list[tuple[int, int]], column: int) -> tuple[int, int] | None:
    """Where ``column`` sits in a line built by ``table_line`` (start, end), if it is shown."""
    offset = 0
    for index, width in fitted:
        if index == column:
            return offset, offset + width
        offset += width + 1
    return None
