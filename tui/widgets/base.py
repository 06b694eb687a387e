"""The shared shape of a panel: take a Snapshot, keep only its own slice, redraw when it changed."""
from __future__ import annotations

from typing import Any

from textual.app import RenderResult
from textual.widget import Widget

from simulator.stats import Snapshot


class SnapshotView(Widget):
    """A panel drawing one slice of a Snapshot.

    ``show_snapshot`` is called about ten times a second. It cuts the panel's slice out of the
    Snapshot (``slice_of``) and only asks for a repaint when that slice differs from the one on
    screen, so a paused or idle run costs almost nothing. ``render_slice`` draws a slice at the
    panel's current size; a resize redraws without a new Snapshot.
    """

    EMPTY_TEXT = "waiting for the first snapshot\u2026"

    def __init__(self, *, id: str | None = None, classes: str | None = None) -> None:
        super().__init__(id=id, classes=classes)
        self.slice: Any = None

    def show_snapshot(self, snapshot: Snapshot) -> None:
        new = self.slice_of(snapshot)
        if new == self.slice:
            return
        old, self.slice = self.slice, new
        self.refresh(layout=self.changes_layout(old, new))

    def slice_of(self, snapshot: Snapshot) -> Any:
        """The part of ``snapshot`` this panel draws; compared with ``==`` to skip redraws."""
        raise NotImplementedError

    def changes_layout(self, old: Any, new: Any) -> bool:
        """True when going from ``old`` to ``new`` may change the panel's height (always from
        the placeholder: the first real slice usually has another height)."""
        return old is None

    def render(self) -> RenderResult:
        if self.slice is None:
            return self.EMPTY_TEXT
        return self.render_slice(self.slice)

    def render_slice(self, slice: Any) -> RenderResult:
        raise NotImplementedError
