"""Recent log lines of the run, newest at the bottom, appended as they arrive."""
from __future__ import annotations

from collections import deque

from rich.text import Text
from textual.app import RenderResult

from simulator.stats import Snapshot
from tui.format import new_log_lines
from tui.widgets.base import SnapshotView

LEVEL_STYLES = (("CRITICAL", "bold red"), ("ERROR", "bold red"), ("WARNING", "yellow"))


def line_style(line: str) -> str:
    for word, style in LEVEL_STYLES:
        if word in line:
            return style
    return ""


class LogPanel(SnapshotView):
    """The last lines of ``Snapshot.log_lines`` that fit, warnings yellow, errors red.

    ``log_lines`` is a window on the run's log; only the lines not seen in the previous window
    are appended to the panel's own history (``kept`` lines). Drawn as one Text per refresh:
    a ``Log`` widget re-lays out the whole screen on every write (its virtual size changes),
    which made it the most expensive panel.
    """

    DEFAULT_CSS = """
    LogPanel {
        height: 1fr;
        text-wrap: nowrap;
        text-overflow: ellipsis;
    }
    """

    EMPTY_TEXT = "no log lines yet"

    def __init__(self, *, kept: int = 500, id: str | None = None,
                 classes: str | None = None) -> None:
        super().__init__(id=id, classes=classes)
        self.lines: deque[str] = deque(maxlen=kept)
        self.window: tuple[str, ...] = ()

    def show_snapshot(self, snapshot: Snapshot) -> None:
        latest = snapshot.log_lines
        if latest is self.window or latest == self.window:
            return
        self.lines.extend(new_log_lines(self.window, latest))
        self.window = latest
        self.slice = len(self.lines), self.lines[-1] if self.lines else None
        self.refresh()

    def render_slice(self, slice: object) -> RenderResult:
        if not self.lines:
            return Text(self.EMPTY_TEXT, "dim")
        height = self.content_size.height or len(self.lines)
        shown = list(self.lines)[-height:]
        text = Text(end="")
        for n, line in enumerate(shown):
            if n:
                text.append("\n")
            text.append(line, line_style(line))
        return text
