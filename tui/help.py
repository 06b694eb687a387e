"""The help screen: every key of the dashboard and what the rate keys do."""

from __future__ import annotations

from rich.text import Text
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Vertical
from textual.screen import ModalScreen
from textual.widgets import Static

from tui.format import fmt_rate
from tui.policy import MAX_FINITE_RATE, MIN_RATE, RATE_BELOW_MAX

KEYS = (
    ("q  ctrl+q  ctrl+c", "stop cleanly (every order answered), then quit"),
    ("p  space", "pause / resume order generation"),
    ("+  =", f"double the rate (past {fmt_rate(MAX_FINITE_RATE)}: max)"),
    ("-", f"halve the rate (min {fmt_rate(MIN_RATE)}; from max: {fmt_rate(RATE_BELOW_MAX)})"),
    ("]  right", "book of the next symbol"),
    ("[  left", "book of the previous symbol"),
    ("k", "kill -9 the shown symbol's broker (a drill: it restarts)"),
    ("x", "attached (dashboard --attach) with control: stop the run; q only closes the view"),
    ("ctrl+p", "command palette"),
    ("?", "this help"),
)


NOTES = (
    "Rates are orders per second; 'max' (0) means as fast as possible.",
    "A '!' before a process state marks a hung, dead or failed process.",
    "Close with escape, ? or q.",
)


def help_text() -> Text:
    """The keys in bold, what they do beside them, then the notes (no markup: keys hold '[')."""
    width = max(len(key) for key, _ in KEYS)
    text = Text(end="")
    for key, what in KEYS:
        text.append(f"{key:<{width}}", "bold")
        text.append(f"  {what}\n")
    text.append("\n" + "\n".join(NOTES), "dim")
    return text


class HelpScreen(ModalScreen[None]):
    """A box over the dashboard listing the keys; escape, ? or q closes it."""

    BINDINGS = [
        Binding("escape", "close_help", "Close"),
        Binding("question_mark", "close_help", "Close", show=False),
        Binding("q", "close_help", "Close", show=False),
    ]

    DEFAULT_CSS = """
    HelpScreen {
        align: center middle;
        /* opaque: a see-through modal makes every frame re-draw the busy dashboard under it */
        background: $background;
    }
    HelpScreen > Vertical {
        width: auto;
        max-width: 90%;
        height: auto;
        max-height: 90%;
        border: round $accent;
        border-title-color: $accent;
        background: $surface;
        padding: 0 1;
    }
    HelpScreen Static {
        width: auto;
    }
    """

    def compose(self) -> ComposeResult:
        with Vertical() as box:
            box.border_title = "Keys"
            yield Static(help_text(), id="help-text")

    def action_close_help(self) -> None:
        self.dismiss(None)
