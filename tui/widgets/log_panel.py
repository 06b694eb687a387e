"""Recent log lines of the run, newest at the bottom, appended as they arrive."""

from __future__ import annotations

from collections import deque

from rich.text import Text
from textual.app import RenderResult
from textual.reactive import reactive

from simulator.stats import Snapshot
from tui.format import new_log_lines
from tui.widgets.base import SnapshotPanel

NO_LINES_TEXT = "no log lines yet"
LEVEL_STYLES = (("CRITICAL", "bold red"), ("ERROR", "bold red"), ("WARNING", "yellow"))


def line_style(line: str) -> str:
    """The style of a log line: by the first level word it contains."""
    for word, style in LEVEL_STYLES:
        if word in line:
            return style
    return ""


class LogPanel(SnapshotPanel):
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

    window: reactive[tuple[str, ...]] = reactive((), repaint=False)
    """The latest ``Snapshot.log_lines``; the lines new in it are appended to ``lines``."""

    def __init__(self, *, kept: int = 500, id: str | None = None, classes: str | None = None) -> None:
        super().__init__(id=id, classes=classes)
        self.lines: deque[str] = deque(maxlen=kept)
        """The panel's own history, oldest first."""

    def watch_snapshot(self, snapshot: Snapshot | None) -> None:
        if snapshot is not None:
            self.window = snapshot.log_lines

    def watch_window(self, old: tuple[str, ...], new: tuple[str, ...]) -> None:
        self.lines.extend(new_log_lines(old, new))
        self.refresh()

    def render(self) -> RenderResult:
        if not self.lines:
            return NO_LINES_TEXT
        height = self.content_size.height or len(self.lines)
        shown = list(self.lines)[-height:]
        text = Text(end="")
        for n, line in enumerate(shown):
            if n:
                text.append("\n")
            text.append(line, line_style(line))
        return text
