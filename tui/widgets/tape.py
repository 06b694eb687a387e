"""The live tape: the latest sampled orders and fills, newest on top, one Text per refresh."""

from __future__ import annotations

from rich.text import Text
from textual.app import RenderResult
from textual.reactive import reactive

from simulator.orders import Side
from simulator.stats import Snapshot, TapeEntry
from tui.format import tape_line
from tui.widgets.base import WAITING_TEXT, SnapshotPanel


class TapePanel(SnapshotPanel):
    """``Snapshot.tape`` (oldest first) drawn newest first; buys green, sells red, fills bold.

    Lines that do not fit are the oldest and are simply not drawn.
    """

    DEFAULT_CSS = """
    TapePanel {
        height: 1fr;
        text-wrap: nowrap;
        text-overflow: clip;
    }
    """

    entries: reactive[tuple[TapeEntry, ...]] = reactive(())
    """The sampled orders and fills, oldest first."""
    symbol_width: reactive[int] = reactive(4)
    """Width of the symbol column: the longest symbol of the run."""

    def watch_snapshot(self, snapshot: Snapshot | None) -> None:
        if snapshot is None:
            return
        self.entries = snapshot.tape
        self.symbol_width = max((len(s) for s in snapshot.symbols), default=4)

    def render(self) -> RenderResult:
        if self.snapshot is None:
            return WAITING_TEXT
        entries = self.entries
        if not entries:
            return Text("no orders yet", "dim")
        lines = self.content_size.height or len(entries)
        text = Text(no_wrap=True, overflow="crop", end="")
        for n, entry in enumerate(reversed(entries[-lines:])):
            if n:
                text.append("\n")
            style = "green" if entry.side == Side.BUY else "red"
            if entry.kind == "fill":
                style = "bold " + style
            text.append(tape_line(entry, self.symbol_width), style)
        return text
