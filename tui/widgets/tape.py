"""The tape: every event of the watched symbol in the order its book made them, scrollable;
or, ``T``, a sample of every symbol's in the order they were placed (``simulator.tape_feed``),
each line naming its symbol.

``Snapshot.tape_events`` is a window on the run's tape (its latest events, each numbered); the
panel appends the ones it has not seen to a history of its own (``kept`` events) and draws only
the lines on screen (Textual's line API), so a long history costs nothing per frame. It follows
the newest line at the bottom unless the user scrolled up or held it (``t``): then the view
stays put and the title counts what arrived meanwhile; ``end`` or ``t`` again follows again.
"""

from __future__ import annotations

from collections import deque

from rich.segment import Segment
from rich.style import Style
from textual.binding import Binding
from textual.geometry import Size
from textual.reactive import reactive
from textual.scroll_view import ScrollView
from textual.strip import Strip

from simulator.stats import Snapshot, TapeEvent
from tui.tape_format import clock_fits, fit_pieces, id_width, tape_pieces
from tui.widgets.base import WAITING_TEXT

TAPE_TITLE = "Tape"
SYMBOL_WIDTH = 5  # the all-symbols tape's symbol column (a longer one pushes the line on)
GROWTH = 512  # lines the tape's virtual height grows by (see ``TapePanel.virtual_height``)


class TapePanel(ScrollView, can_focus=True):
    """The watched symbol's tape, oldest at the top, newest at the bottom."""

    BINDINGS = [
        # no sideways scrolling here: left and right stay the symbol keys
        Binding("left", "app.previous_symbol", show=False),
        Binding("right", "app.next_symbol", show=False),
        Binding("end", "follow", "Follow", show=False),
        Binding("home", "oldest", "Oldest", show=False),
    ]

    DEFAULT_CSS = """
    TapePanel {
        height: 1fr;
        overflow-x: hidden;
        scrollbar-size-vertical: 1;
    }
    """

    snapshot: reactive[Snapshot | None] = reactive(None, repaint=False)
    """The latest Snapshot, bound to the app's; None until the first one."""
    held: reactive[bool] = reactive(False, repaint=False)
    """The user held the tape (``t``): new events are kept, the view does not move."""

    def __init__(self, *, kept: int = 5_000, id: str | None = None, classes: str | None = None) -> None:
        super().__init__(id=id, classes=classes)
        self.events: deque[TapeEvent] = deque(maxlen=kept)
        """The panel's own history, oldest first."""
        self.last_seq = 0
        self.skipped = 0
        self.unseen = 0  # events that arrived while held or scrolled up
        self.top = 0  # blank lines above the oldest event (see ``virtual_height``)
        self.sticky = True  # follows the newest line: until the user scrolls up (see watch_scroll_y)
        self._id_width = 4
        self._all = False  # the all-symbols tape was shown last
        self._styles: dict[str, Style] = {}

    # -- data ----------------------------------------------------------------------------------

    def watch_snapshot(self, snapshot: Snapshot | None) -> None:
        if snapshot is None:
            return
        events = snapshot.tape_events
        if events and events[-1].seq < self.last_seq:
            # another run's numbering (a view attached again): start again
            self.events.clear()
            self.last_seq = 0
        new = [e for e in events if e.seq > self.last_seq]
        skipped_changed = snapshot.tape_skipped != self.skipped or snapshot.tape_all != self._all
        self._all = snapshot.tape_all
        self.skipped = snapshot.tape_skipped
        if new:
            self.add_events(new)
        elif skipped_changed:
            self.show_title()

    def add_events(self, new: list[TapeEvent]) -> None:
        following = self.following
        before, top = len(self.events), self.top
        self.events.extend(new)
        self.last_seq = new[-1].seq
        dropped = before + len(new) - len(self.events)
        width = max(self._id_width, id_width(new))
        if width != self._id_width:
            self._id_width = width
        self.place_lines()
        if not following:
            self.unseen += len(new)
            # keep showing the same lines: they moved up by what came in below them
            moved = (top - self.top) + dropped
            if moved:
                self.scroll_to(y=max(self.scroll_y - moved, 0), animate=False, immediate=True)
        else:
            self.stay_at_end()
        self.show_title()
        self.refresh()

    def stay_at_end(self) -> None:
        """Show the newest line; after a change of height, again once it is laid out (a
        ScrollView only scrolls as far as its scrollbars allow, which the layout decides)."""
        self.scroll_end(animate=False, immediate=True, x_axis=False)
        if self.scroll_y < self.max_scroll_y:
            self.call_after_refresh(self._end_laid_out)

    def _end_laid_out(self) -> None:
        if self.following:
            self.scroll_end(animate=False, immediate=True, x_axis=False)

    def virtual_height(self, events: int, fresh: bool = False) -> int:
        """The tape's height in lines. Changing it re-lays out the whole screen (a Textual
        ScrollView's virtual size is a layout reactive), which cost more than the tape's own
        drawing at every Snapshot: so it grows by ``GROWTH`` lines at a time once the events
        overflow the view, the newest line at the bottom and blank lines above the oldest."""
        view = self.scrollable_content_region.height or self.size.height
        if events <= view:
            return events
        grown = view if fresh else max(self.virtual_size.height, view)
        while grown < events:
            grown += GROWTH
        return min(grown, max(self.events.maxlen or events, events))

    def place_lines(self, fresh: bool = False) -> None:
        """Size the virtual area for the events (rarely changing it) and where they start;
        ``fresh``: for a new view size."""
        height = self.virtual_height(len(self.events), fresh)
        self.top = height - len(self.events)
        if height != self.virtual_size.height:
            self.virtual_size = Size(0, height)

    @property
    def following(self) -> bool:
        """True when the view shows the newest line and goes on showing it: not held, and
        not scrolled up by the user (a scroll that only waits for its layout still follows)."""
        return not self.held and self.sticky

    @property
    def symbol_width(self) -> int:
        """The symbol column's width: on the all-symbols tape only (0: none)."""
        return SYMBOL_WIDTH if self.snapshot is not None and self.snapshot.tape_all else 0

    def show_title(self) -> None:
        symbol = self.snapshot.selected_symbol if self.snapshot else None
        title = f"{TAPE_TITLE} {symbol}" if symbol else TAPE_TITLE
        if self.symbol_width:
            title = f"{TAPE_TITLE}: all symbols, sampled"
        if self.held:
            title += " \u2016 HELD"
        self.border_title = title
        notes = []
        if self.skipped:
            notes.append(f"{self.skipped:,} events skipped")
        if self.unseen and not self.following:
            notes.append(f"{self.unseen:,} new below")
        self.border_subtitle = " \u00b7 ".join(notes)

    # -- drawing -------------------------------------------------------------------------------

    def style_of(self, name: str) -> Style:
        style = self._styles.get(name)
        if style is None:
            style = self._styles[name] = Style.parse(name) if name else Style()
        return style

    def render_line(self, y: int) -> Strip:
        width = self.scrollable_content_region.width
        index = self.scroll_offset.y + y - self.top
        base = self.rich_style
        if self.snapshot is None:
            if y == 0:
                return Strip([Segment(WAITING_TEXT, base)]).crop_extend(0, width, base)
            return Strip.blank(width, base)
        if not self.events:
            if y == 0:
                text = "no events of the watched symbol yet"
                return Strip([Segment(text, base + self.style_of("dim"))]).crop_extend(0, width, base)
            return Strip.blank(width, base)
        if not 0 <= index < len(self.events):
            return Strip.blank(width, base)
        clock = clock_fits(width, self._id_width)
        event = self.events[index]
        pieces = fit_pieces(tape_pieces(event, self._id_width, clock, self.symbol_width), width)
        segments = [Segment(text, base + self.style_of(style)) for text, style in pieces]
        return Strip(segments).extend_cell_length(width, base)

    def on_resize(self) -> None:
        following = self.following
        self.place_lines(fresh=True)
        if following:
            self.stay_at_end()

    def watch_scroll_y(self, old: float, new: float) -> None:
        super().watch_scroll_y(old, new)
        if new < old and new < self.max_scroll_y:
            self.sticky = False  # scrolled up, by the user (or to keep their lines in view)
        elif new >= self.max_scroll_y:
            self.sticky = True  # down to the newest: follow again
        if self.following and self.unseen:
            self.unseen = 0
            self.show_title()

    # -- actions -------------------------------------------------------------------------------

    def toggle_hold(self) -> bool:
        """Hold the view, or let it follow the newest line again; True when now held."""
        self.held = not self.held
        if not self.held:
            self.action_follow()
        self.show_title()
        return self.held

    def action_oldest(self) -> None:
        """The oldest event kept (the blank lines above it are only room to grow)."""
        self.scroll_to(y=self.top, animate=False, immediate=True)

    def action_follow(self) -> None:
        self.held = False
        self.sticky = True
        self.unseen = 0
        self.scroll_end(animate=False, immediate=True, x_axis=False)
        self.show_title()
