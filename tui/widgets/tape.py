"""The live tape: the latest sampled orders and fills, newest on top, one Text per refresh."""
from __future__ import annotations

from rich.text import Text
from textual.app import RenderResult

from simulator.orders import Side
from simulator.stats import Snapshot, TapeEntry
from tui.format import tape_line
from tui.widgets.base import SnapshotView


class TapePanel(SnapshotView):
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

    def slice_of(self, snapshot: Snapshot) -> tuple[tuple[TapeEntry, ...], int]:
        width = max((len(s) for s in snapshot.symbols), default=4)
        return snapshot.tape, width

    def render_slice(self, slice: tuple[tuple[TapeEntry, ...], int]) -> RenderResult:
        entries, symbol_width = slice
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
            text.append(tape_line(entry, symbol_width), style)
        return text
