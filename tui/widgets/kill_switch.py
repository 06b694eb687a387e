"""The kill switch's confirmation: `K` opens it, a second key says what to do.

The kill switch cancels every resting order of one account or of all, and refuses their new
orders until released (``simulator.risk``): too strong for one key. ``K`` shows what it would
do; ``y`` engages it for every account, ``a`` for the account the accounts tab lists, ``r``
releases what it holds; anything else (escape, ``n``) changes nothing. The screen returns the
command to send, ``(name, account)``, or None.
"""

from __future__ import annotations

from rich.text import Text
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Vertical
from textual.screen import ModalScreen
from textual.widgets import Static

from tui.format import blocked_text


def confirm_text(account: int | None, blocked: tuple[int, ...]) -> Text:
    text = Text(end="")
    text.append("Kill switch\n\n", "bold red")
    text.append("Cancels every resting order of the accounts it holds, and refuses their new\n")
    text.append("orders (reason KILL_SWITCH) until it is released.\n\n")
    if blocked:
        text.append(f"It holds {blocked_text(blocked)} now.\n\n", "bold")
    text.append("y", "bold")
    text.append("  engage it for every account\n")
    if account is not None:
        text.append("a", "bold")
        text.append(f"  engage it for account {account} only (the accounts tab's)\n")
    if blocked:
        text.append("r", "bold")
        text.append("  release every account\n")
    text.append("n", "bold")
    text.append(", escape  change nothing", "dim")
    return text


class KillSwitchScreen(ModalScreen[tuple[str, int] | None]):
    """Asks before the kill switch does anything; dismissed with the command, or None."""

    BINDINGS = [
        Binding("y", "choose('kill_switch', -1)", "Every account"),
        Binding("a", "choose_account", "This account"),
        Binding("r", "choose('release', -1)", "Release all"),
        Binding("n,escape", "dismiss(None)", "Cancel"),
    ]

    DEFAULT_CSS = """
    KillSwitchScreen {
        align: center middle;
    }
    KillSwitchScreen > Vertical {
        width: auto;
        height: auto;
        border: heavy $error;
        padding: 1 2;
        background: $panel;
    }
    """

    def __init__(self, *, account: int | None, blocked: tuple[int, ...]) -> None:
        super().__init__()
        self.account = account  # the accounts tab's selected account, if any
        self.blocked = blocked

    def compose(self) -> ComposeResult:
        with Vertical():
            yield Static(confirm_text(self.account, self.blocked), id="kill-switch-text")

    def action_choose(self, name: str, account: int) -> None:
        if name == "release" and not self.blocked:
            return
        self.dismiss((name, account))

    def action_choose_account(self) -> None:
        if self.account is not None:
            self.dismiss(("kill_switch", self.account))
