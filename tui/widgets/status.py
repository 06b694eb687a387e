"""The header strip: run state badge, elapsed time, seed, target rate, stop reason."""
from __future__ import annotations

from typing import Any, NamedTuple

from rich.text import Text
from textual.app import RenderResult

from simulator.stats import RunState, Snapshot
from tui.format import header_fields
from tui.policy import shown_state
from tui.widgets.base import SnapshotView

STATE_STYLES = {
    RunState.STARTING: "bold black on cyan",
    RunState.RUNNING: "bold black on green",
    RunState.PAUSED: "bold black on yellow",
    RunState.STOPPING: "bold black on dark_orange",
    RunState.STOPPED: "bold white on red",
}


class StatusSlice(NamedTuple):
    state: RunState
    fields: tuple[tuple[str, str], ...]


class StatusBar(SnapshotView):
    """One line (two when narrow) at the top: where the run stands."""

    DEFAULT_CSS = """
    StatusBar {
        height: auto;
        padding: 0 1;
    }
    """

    def __init__(self, *, title: str = "", id: str | None = None,
                 classes: str | None = None) -> None:
        super().__init__(id=id, classes=classes)
        self.title = title
        self.stopping = False
        """Set by the app the moment a quit key is pressed, before Snapshots report it."""
        self.requested: RunState | None = None
        """PAUSED or RUNNING as just asked with the pause key, shown until a Snapshot agrees."""

    def request_state(self, state: RunState) -> None:
        self.requested = state
        self.refresh()

    def slice_of(self, snapshot: Snapshot) -> StatusSlice:
        return StatusSlice(snapshot.state, tuple(header_fields(snapshot)))

    def changes_layout(self, old: Any, new: Any) -> bool:
        return old is None or len(old.fields) != len(new.fields)

    def mark_stopping(self) -> None:
        self.stopping = True
        self.refresh()

    def render(self) -> RenderResult:
        state = shown_state(self.slice.state if self.slice else None, self.stopping)
        if self.requested is not None:
            if state == self.requested or state not in (RunState.RUNNING, RunState.PAUSED):
                self.requested = None  # the Snapshots caught up (or the run moved on)
            else:
                state = self.requested
        text = Text(no_wrap=False, end="")
        if self.title:
            text.append(self.title, "bold")
            text.append("  ")
        if state is None:
            text.append(" WAITING ", "bold black on cyan")
            text.append("  " + self.EMPTY_TEXT, "dim")
            return text
        text.append(f" {state.value} ", STATE_STYLES[state])
        for label, value in self.slice.fields:
            text.append("  ")
            if label:
                text.append(f"{label} ", "dim")
            text.append(value, "bold red" if label == "stop" else "bold")
        return text
