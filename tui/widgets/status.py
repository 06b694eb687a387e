"""The header strip: run state badge, elapsed time, seed, target rate, stop reason; for a run
watched from elsewhere, whether the keys can steer it."""

from __future__ import annotations

from rich.text import Text
from textual.app import RenderResult
from textual.reactive import reactive

from simulator.stats import RunState, Snapshot
from tui.format import header_fields
from tui.policy import Asked
from tui.widgets.base import WAITING_TEXT, SnapshotPanel

STATE_STYLES = {
    RunState.STARTING: "bold black on cyan",
    RunState.RUNNING: "bold black on green",
    RunState.PAUSED: "bold black on yellow",
    RunState.STOPPING: "bold black on dark_orange",
    RunState.STOPPED: "bold white on red",
}
WAITING_STYLE = "bold black on cyan"
FINISHED_STYLE = "bold white on blue"
NOTE_STYLE = "bold white on dark_magenta"


class StatusBar(SnapshotPanel):
    """One line (two when narrow) at the top: where the run stands.

    The badge shows what was just asked (a pause, a stop) before the Snapshots do. ``note``
    (e.g. READ ONLY, for a dashboard attached without control) stands between the title and
    the badge.
    """

    DEFAULT_CSS = """
    StatusBar {
        height: auto;
        padding: 0 1;
    }
    """

    asked: reactive[Asked] = reactive(Asked, repaint=False)
    """What the keys asked for, bound to the app's."""
    state: reactive[RunState | None] = reactive(None)
    """The state the badge shows; None (WAITING) until there is one."""
    finished: reactive[bool] = reactive(False)
    """The run is over and the dashboard stays to show it: the badge says FINISHED."""
    fields: reactive[tuple[tuple[str, str], ...]] = reactive(())
    """(label, value) pairs after the badge; the label may be empty."""

    def __init__(
        self, *, title: str = "", note: str = "", id: str | None = None, classes: str | None = None
    ) -> None:
        super().__init__(id=id, classes=classes)
        self.title = title
        self.note = note

    def watch_snapshot(self, snapshot: Snapshot | None) -> None:
        self.show_state()
        if snapshot is not None:
            self.fields = tuple(header_fields(snapshot))

    def watch_asked(self) -> None:
        self.show_state()

    def watch_fields(self, old: tuple[tuple[str, str], ...], new: tuple[tuple[str, str], ...]) -> None:
        if len(old) != len(new):
            self.refresh(layout=True)  # a stop reason may take the strip to a second line

    def show_state(self) -> None:
        self.state = self.asked.run_state(self.snapshot.state if self.snapshot else None)

    def render(self) -> RenderResult:
        text = Text(no_wrap=False, end="")
        if self.title:
            text.append(self.title, "bold")
            text.append("  ")
        if self.note:
            text.append(f" {self.note} ", NOTE_STYLE)
            text.append("  ")
        state = self.state
        if state is None:
            text.append(" WAITING ", WAITING_STYLE)
            text.append("  " + WAITING_TEXT, "dim")
            return text
        if self.finished:
            text.append(" FINISHED ", FINISHED_STYLE)
        else:
            text.append(f" {state.value} ", STATE_STYLES[state])
        # each field is kept whole on one line: a narrow strip breaks between fields, never
        # inside one (a stop reason longer than the line is the one that may still wrap)
        width = self.content_size.width or 80
        used = text.cell_len
        for label, value in self.fields:
            field = f"{label} {value}" if label else value
            if used + 2 + len(field) > width and used:
                text.append("\n")
                used = 0
            elif used:
                text.append("  ")
                used += 2
            if label:
                text.append(f"{label} ", "dim")
            text.append(value, "bold red" if label == "stop" else "bold")
            used += len(field)
        return text
