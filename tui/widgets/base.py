"""The shared shape of a panel: bound to the app's Snapshot, a placeholder until the first one."""

from __future__ import annotations

from textual.reactive import reactive
from textual.widget import Widget

from simulator.stats import Snapshot

WAITING_TEXT = "waiting for the first snapshot\u2026"


class SnapshotPanel(Widget):
    """A panel drawing parts of the latest Snapshot.

    ``snapshot`` is bound to the app's (``data_bind``) and is set about ten times a second; it
    repaints nothing by itself. Each panel's ``watch_snapshot`` copies the parts it draws into
    reactives of its own, and only a change of those repaints it, so a paused or idle run
    costs almost nothing. ``render`` draws at the panel's current size, so a resize redraws
    without a new Snapshot; before the first Snapshot it draws ``WAITING_TEXT``.
    """

    snapshot: reactive[Snapshot | None] = reactive(None, repaint=False)
    """The latest Snapshot, bound to the app's; None until the first one."""

    def _watch_snapshot(self, old: Snapshot | None, new: Snapshot | None) -> None:
        if old is None and new is not None:
            # the placeholder's one line gives way to the panel's own height
            self.refresh(layout=True)
