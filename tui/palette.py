"""The command palette's run commands (ctrl+p): watch a symbol by typing its name, set the rate,
kill a broker, cancel an order of yours (``cancel #you3``), save a screenshot, and every key's
action.

Commands that take a value read it from what was typed: ``rate 2500`` (0: as fast as it goes),
``screenshot /tmp/run.svg`` (into a directory that exists; otherwise the palette says so and
saves nothing). ``palette_hits`` is a plain function of the typed text and the latest Snapshot,
tested without an app; ``RunCommands`` only hands its hits to Textual.
"""

from __future__ import annotations

import os
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, cast

from textual.app import App
from textual.command import DiscoveryHit, Hit, Hits, Provider

from simulator.config import MOST_RATE
from simulator.own_order import describe
from simulator.stats import Snapshot
from tui.format import fmt_target_rate
from tui.help import HelpScreen
from tui.widgets.kill_switch import KillSwitchScreen
from tui.widgets.order_form import OrderForm
from tui.your_orders import cancel_commands

if TYPE_CHECKING:
    from tui.app import DashboardApp

MOST_SYMBOL_HITS = 50  # with thousands of symbols, the first that match are enough


@dataclass(frozen=True, slots=True)
class PaletteCommand:
    """One line of the palette: its text, what it does, and the action (app method and args)."""

    text: str
    help: str
    action: str
    args: tuple = ()


KEY_COMMANDS = (
    PaletteCommand("Pause / resume", "p: pause or resume order generation", "action_toggle_pause"),
    PaletteCommand("Step", "n: while paused, place the flow's next order", "action_step_order"),
    PaletteCommand("Faster", "+: double the target rate", "action_faster"),
    PaletteCommand("Slower", "-: halve the target rate", "action_slower"),
    PaletteCommand("Next symbol", "]: watch the next symbol", "action_next_symbol"),
    PaletteCommand("Previous symbol", "[: watch the previous symbol", "action_previous_symbol"),
    PaletteCommand(
        "Hold / follow the tape", "t: hold the tape where it is, or follow it", "action_hold_tape"
    ),
    PaletteCommand(
        "Tape: all symbols / watched",
        "T: every symbol's tape, sampled; or the watched one's",
        "action_tape_all",
    ),  # fmt: skip
    PaletteCommand("Kill the watched symbol's broker", "k: kill -9 it (a drill)", "action_kill_broker"),
    PaletteCommand(
        "Kill switch", "K: cancel an account's (or all) resting orders, refuse new ones", "action_kill_switch"
    ),
    PaletteCommand("Your order", "o: place an order of your own on the watched symbol", "action_order_form"),
    PaletteCommand("Your account", "the accounts tab lists your account's orders", "select_your_account"),
    PaletteCommand("Your next open order", "y: pick it in the accounts tab", "action_next_yours"),
    PaletteCommand("Cancel your order", "c: cancel your open order picked", "action_cancel_yours"),
    PaletteCommand("Help", "?: every key, panel and column explained", "action_show_help"),
    PaletteCommand("Tab: overview", "1", "action_show_tab", ("overview",)),
    PaletteCommand("Tab: book & tape", "2", "action_show_tab", ("market",)),
    PaletteCommand("Tab: symbols", "3", "action_show_tab", ("symbols",)),
    PaletteCommand("Tab: accounts", "4", "action_show_tab", ("accounts",)),
    PaletteCommand("Tab: processes", "5", "action_show_tab", ("procs",)),
    PaletteCommand(
        "Next account", "a: the accounts tab lists the next account's orders", "action_next_account"
    ),
)


def parse_rate(text: str) -> float | None:
    """The rate in 'rate 2500' (orders/s, 0 = max), or None when it is not one."""
    words = text.split()
    if len(words) != 2 or words[0].lower() != "rate":
        return None
    try:
        rate = float(words[1].rstrip("/s"))
    except ValueError:
        return None
    return rate if 0 <= rate <= MOST_RATE else None


def screenshot_problem(path: str) -> str | None:
    """Why a screenshot cannot be saved at ``path``, or None when it can."""
    if not path:
        return "give a path: screenshot /tmp/run.svg"
    if os.path.isdir(path):
        return f"{path} is a directory: give a file name in it"
    folder = os.path.dirname(os.path.abspath(path))
    if not os.path.isdir(folder):
        return f"directory {folder} does not exist"
    if not os.access(folder, os.W_OK):
        return f"directory {folder} is not writable"
    return None


def palette_commands(query: str, snapshot: Snapshot | None) -> Iterator[PaletteCommand]:
    """The run's commands for what was typed (everything, for an empty query)."""
    yield from KEY_COMMANDS
    typed = query.strip()
    rate = parse_rate(typed)
    if rate is not None:
        yield PaletteCommand(
            f"{typed}", f"set the target rate to {fmt_target_rate(rate)}", "set_rate", (rate,)
        )
    else:
        yield PaletteCommand(
            "rate R", "set the target rate: type e.g. rate 2500 (0: max)", "notify_usage", ("rate",)
        )
    words = typed.split()
    if len(words) == 2 and words[0].lower() == "account" and words[1].isdigit():
        yield PaletteCommand(
            typed, f"list account {words[1]}'s open orders", "select_account", (int(words[1]),)
        )
    else:
        yield PaletteCommand(
            "account N", "list account N's open orders: type e.g. account 42", "notify_usage", ("account",)
        )
    yield from kill_switch_commands(words)
    yield from (PaletteCommand(*c) for c in cancel_commands(typed, snapshot))
    if typed.lower().startswith("screenshot"):
        path = os.path.expanduser(typed[len("screenshot") :].strip())
        problem = screenshot_problem(path)
        if problem is None:
            yield PaletteCommand(typed, f"save this screen as SVG to {path}", "save_screen", (path,))
        else:
            yield PaletteCommand(typed, f"cannot: {problem}", "notify_usage", (problem,))
    else:
        yield PaletteCommand(
            "screenshot PATH",
            "save the screen as SVG: type screenshot /tmp/run.svg",
            "notify_usage",
            ("screenshot",),
        )
    if snapshot is None:
        return
    for row in snapshot.processes:
        if row.name != "bank":
            owns = ",".join(row.symbols[:4]) + ("..." if len(row.symbols) > 4 else "")
            yield PaletteCommand(
                f"kill {row.name}", f"kill -9 {row.name} ({owns}); it restarts", "kill_named", (row.name,)
            )
    needle = typed.upper().removeprefix("WATCH").strip()
    shown = 0
    for symbol in snapshot.symbols:
        if needle in symbol or not needle:
            yield PaletteCommand(
                f"watch {symbol}", f"show {symbol}'s book, tape and chart", "watch_symbol", (symbol,)
            )
            shown += 1
            if shown >= MOST_SYMBOL_HITS:
                return


def kill_switch_commands(words: list[str]) -> Iterator[PaletteCommand]:
    """'kill switch all', 'kill switch 42', 'release all', 'release 42' (typed, or as hints)."""
    head = [w.lower() for w in words]
    typed = " ".join(words)
    last = head[-1] if head else ""
    account = -1 if last == "all" else int(last) if last.isdigit() else None
    who = "every account" if account == -1 else f"account {account}"
    if account is not None and head[:2] == ["kill", "switch"] and len(words) == 3:
        yield PaletteCommand(
            typed, f"cancel {who}'s resting orders, refuse new ones", "engage_kill_switch", (account,)
        )
    elif account is not None and head[:1] == ["release"] and len(words) == 2:
        yield PaletteCommand(typed, f"let {who}'s orders through again", "release_kill_switch", (account,))
    else:
        hint = "type kill switch 42 (or all): cancel and block an account"
        yield PaletteCommand("kill switch N", hint, "notify_usage", ("kill",))
        hint = "type release 42 (or all): lift the kill switch"
        yield PaletteCommand("release N", hint, "notify_usage", ("release",))


class PaletteActions:
    """The dashboard's methods the palette's commands call (mixed into ``DashboardApp``)."""

    control: Any
    asked: Any
    expedite: Callable[[], None]
    steerable_snapshot: Callable[[], Snapshot | None]
    notify: Callable[..., None]

    def watch_symbol(self, symbol: str) -> None:
        """Watch ``symbol``: its book, tape and chart (the palette's 'watch AAPL')."""
        snapshot = self.steerable_snapshot()
        if snapshot is None or symbol not in snapshot.symbols:
            return
        self.control.command("select", symbol)
        self.asked = self.asked.expired(time.monotonic()).ask_symbol(symbol, time.monotonic())
        self.expedite()

    def set_rate(self, rate: float) -> None:
        snapshot = self.steerable_snapshot()
        if snapshot is None:
            return
        self.control.command("rate", rate)
        self.asked = self.asked.expired(time.monotonic()).ask_rate(rate, time.monotonic())
        self.notify(f"Target rate {fmt_target_rate(rate)}", timeout=2)

    def action_tape_all(self) -> None:
        """T: the tape of every symbol (sampled, in placement order), or the watched one's again."""
        snapshot = self.steerable_snapshot()
        if snapshot is None:
            return
        self.control.command("tape", "watched" if snapshot.tape_all else "all")
        what = "the watched symbol's" if snapshot.tape_all else "every symbol's, sampled"
        self.notify(f"The tape shows {what}", timeout=2)
        self.expedite()

    def action_next_account(self) -> None:
        """The accounts tab lists the next account's open orders."""
        snapshot = self.steerable_snapshot()
        if snapshot is None or not snapshot.accounts:
            return
        ids = [row.account for row in snapshot.accounts]
        if snapshot.you is not None and snapshot.you.placed and snapshot.you.account not in ids:
            ids.append(snapshot.you.account)  # yours, once you placed an order
        current = snapshot.selected_account.account if snapshot.selected_account else None
        after = ids[(ids.index(current) + 1) % len(ids)] if current in ids else ids[0]
        self.control.command("account", after)
        self.expedite()

    def action_order_form(self) -> None:
        """Open the form for an order of yours on the watched symbol (``o``)."""
        snapshot = self.steerable_snapshot()
        if snapshot is None or snapshot.selected_symbol is None:
            return
        symbol = self.asked.expired(time.monotonic()).selected_symbol(snapshot.selected_symbol)
        cast(App, self).query_one(OrderForm).open_for(symbol, snapshot.symbols)

    def on_order_form_placed(self, message: OrderForm.Placed) -> None:
        """A valid order from the form: send it; the tape and the accounts tab show it."""
        if self.steerable_snapshot() is None:
            self.notify("not sent: the run no longer takes orders", severity="warning", timeout=3)
            return
        self.control.command("order", message.order.as_fields())
        self.notify(f"Your order: {describe(message.order)}", title="Sent", timeout=4)
        self.expedite()

    def select_your_account(self) -> None:
        snapshot = self.steerable_snapshot()
        if snapshot is not None and snapshot.you is not None:
            self.select_account(snapshot.you.account)

    def select_account(self, account: int) -> None:
        if self.steerable_snapshot() is None:
            return
        self.control.command("account", account)
        self.expedite()

    def kill_named(self, name: str) -> None:
        if self.steerable_snapshot() is None:
            return
        self.control.command("kill", name)
        self.notify(f"kill -9 {name}; it will be restarted", severity="warning", timeout=3)

    def action_kill_switch(self) -> None:
        """K: ask, then engage or release the kill switch (``tui.widgets.kill_switch``)."""
        snapshot = self.steerable_snapshot()
        if snapshot is None:
            return
        account = snapshot.selected_account.account if snapshot.selected_account else None
        screen = KillSwitchScreen(account=account, blocked=snapshot.blocked)

        def chosen(choice: tuple[str, int] | None) -> None:
            if choice is not None and choice[0] == "kill_switch":
                self.engage_kill_switch(choice[1])
            elif choice is not None:
                self.release_kill_switch(choice[1])

        cast(App, self).push_screen(screen, chosen)

    def engage_kill_switch(self, account: int) -> None:
        if self.steerable_snapshot() is None:
            return
        self.control.command("kill_switch", account)
        who = "every account" if account < 0 else f"account {account}"
        self.notify(f"Kill switch: cancelling {who}'s resting orders; new ones refused", severity="warning")
        self.expedite()

    def release_kill_switch(self, account: int) -> None:
        if self.steerable_snapshot() is None:
            return
        self.control.command("release", account)
        who = "every account" if account < 0 else f"account {account}"
        self.notify(f"Kill switch released for {who}", timeout=3)
        self.expedite()

    def save_screen(self, path: str) -> None:
        problem = screenshot_problem(path)
        if problem is None:
            try:
                folder, name = os.path.split(os.path.abspath(path))
                cast(App, self).save_screenshot(name, folder)
            except OSError as exc:
                problem = f"cannot write {path}: {exc.strerror}"
        if problem is None:
            self.notify(f"Screenshot saved to {path}", timeout=3)
        else:
            self.notify(problem, severity="error", timeout=4)

    def action_show_help(self) -> None:
        app = cast(App, self)
        if not isinstance(app.screen, HelpScreen):
            # made once and kept (installed): its long text is laid out on the first open only
            if not app.is_screen_installed("help"):
                app.install_screen(HelpScreen(), "help")
            app.push_screen("help")

    def notify_usage(self, what: str) -> None:
        usage = {
            "rate": "type: rate 2500 (orders/s; 0: max)",
            "screenshot": "type: screenshot /tmp/run.svg",
            "account": "type: account 42",
            "kill": "type: kill switch 42, or kill switch all",
            "release": "type: release 42, or release all",
            "cancel": "type: cancel #you3 (one of your open orders)",
        }
        self.notify(
            usage.get(what, what), timeout=4, severity="warning" if what not in usage else "information"
        )


class RunCommands(Provider):
    """The palette's provider of the run's commands."""

    @property
    def dashboard(self) -> DashboardApp:
        return self.app  # type: ignore[return-value]

    def _callback(self, command: PaletteCommand) -> Callable[[], object]:
        method = getattr(self.dashboard, command.action)
        return lambda: method(*command.args)

    async def discover(self) -> Hits:
        for command in palette_commands("", self.dashboard.snapshot):
            yield DiscoveryHit(command.text, self._callback(command), help=command.help)

    async def search(self, query: str) -> Hits:
        matcher = self.matcher(query)
        for command in palette_commands(query, self.dashboard.snapshot):
            score = matcher.match(command.text)
            if command.text == query.strip():
                score = 1.0
            if score > 0:
                yield Hit(
                    score,
                    matcher.highlight(command.text),
                    self._callback(command),
                    command.text,
                    command.help,
                )
