"""The final report of a run the dashboard watched but did not start, shown when the run ends.

An attached dashboard (``simulate.py dashboard --attach``) cannot print the summary on the
terminal after it closes, as the dashboard of its own run does: the run ended elsewhere, and
the viewer may be a browser tab. So the summary (``simulator.report.summary_text``, the same
lines a headless run prints) is drawn over the dashboard until the user quits; escape goes back
to the last Snapshot.
"""

from __future__ import annotations

from rich.text import Text
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import VerticalScroll
from textual.screen import ModalScreen
from textual.widgets import Static

from simulator.report import summary_text


def report_text(report: dict | None, error: str | None) -> Text:
    """The run's summary (or why there is none) and how to go on; plain text, no markup."""
    text = Text(end="")
    if report is not None:
        try:
            body = summary_text(report)
        except (KeyError, TypeError, ValueError) as exc:  # a report of another version
            body = f"the report cannot be read here ({type(exc).__name__}: {exc})"
        *lines, verdict = body.splitlines() or [""]
        # the verdict (reconciled, exit status) first: a long report may not fit the screen
        text.append("The run has ended. ", "bold")
        text.append(verdict + "\n\n", "bold")
        text.append("\n".join(lines))
    else:
        text.append("The run has ended without a report.\n\n", "bold")
        text.append(error or "no reason given")
    text.append("\n\nq quits; escape shows the last snapshot", "dim")
    return text


class ReportScreen(ModalScreen[None]):
    """The final report over the dashboard; q quits the dashboard, escape closes this."""

    BINDINGS = [
        Binding("escape", "dismiss", "Back"),
        Binding("q", "app.stop_and_quit", "Quit"),
    ]

    DEFAULT_CSS = """
    ReportScreen {
        align: center middle;
    }
    ReportScreen > VerticalScroll {
        width: auto;
        max-width: 100%;
        height: auto;
        max-height: 100%;
        border: round $success;
        border-title-color: $text-accent;
        padding: 1 2;
        background: $panel;
    }
    ReportScreen #report-text {
        width: auto;
        max-width: 100%;
        height: auto;
    }
    """

    def __init__(self, report: dict | None, error: str | None = None) -> None:
        super().__init__()
        self.report = report
        self.error = error

    def compose(self) -> ComposeResult:
        with VerticalScroll() as box:  # a report taller than the screen scrolls
            box.border_title = "Final report"
            yield Static(report_text(self.report, self.error), id="report-text")
