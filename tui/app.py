"""The dashboard app: wires the panels, the keys and the refresh timer to a SimControl.

Every ``1 / ui_hz`` seconds a timer asks the control for the latest Snapshot and, if it is a new
one, sets the app's ``snapshot`` reactive, to which every panel is bound (``data_bind``); each
panel repaints only when the part it draws changed. Nothing else reads the simulation. Keys
become SimControl commands, sent by name; what they asked for that the Snapshots do not show
yet is the app's ``asked`` reactive (``tui.policy.Asked``), bound to the status bar and the book.
Quitting asks the run to stop, waits for it on a thread worker (never on the event loop), then
exits; ``App.run()`` returns True when the run stopped, False if ``stop_timeout`` ran out first.

Attached to a run started elsewhere (``attached``, an ``Attachment``: ``simulate.py dashboard
--attach``), quitting only closes the view and the run goes on; ``x`` asks the run to stop,
with control. Without control the header says READ ONLY and the steering keys are hidden. When
the run ends, its final report is shown (``tui.widgets.report``) until the user quits.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from typing import Protocol

from textual import work
from textual.app import App, ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal
from textual.reactive import var
from textual.widgets import TabbedContent, TabPane, Tabs
from textual.worker import get_current_worker

from simulator.control import SimControl
from simulator.stats import RunState, Snapshot
from tui.format import fmt_target_rate
from tui.help import prepare_help
from tui.palette import PaletteActions, RunCommands
from tui.policy import Asked, neighbour_symbol, pause_command, rate_down, rate_up
from tui.tape_format import step_summary
from tui.widgets import (
    AccountsPanel,
    BookPanel,
    LogPanel,
    MarketTable,
    PriceChart,
    ProcessTable,
    StatusBar,
    TapePanel,
    ThroughputPanel,
    TotalsPanel,
)
from tui.widgets.footer import SteadyFooter
from tui.widgets.order_form import OrderForm
from tui.widgets.report import ReportScreen
from tui.your_orders import ACTIONS as YOUR_ACTIONS
from tui.your_orders import BINDINGS as YOUR_BINDINGS
from tui.your_orders import YourOrderActions, open_ids

STOP_POLL_S = 0.2  # how often the stop worker checks whether the app is going away
STEERING_ACTIONS = {"next_account", "step_order", "toggle_pause", "pause_flow", "resume_flow", "faster",
                    "slower", "previous_symbol", "next_symbol", "kill_broker", "kill_switch",
                    "order_form", "tape_all"} | YOUR_ACTIONS  # fmt: skip
READ_ONLY_NOTE = "READ ONLY"
PANEL_TITLES = {
    "totals": "Orders",
    "processes": "Processes",
    "tape": "Tape",
    "log": "Log",
    "market-tape": "Tape",
    "symbols-table": "Symbols",
    "all-processes": "Processes",
    "full-log": "Log",
    "accounts-panel": "Accounts by P&L (marked to the last price)",
}
TABS = ("overview", "market", "symbols", "accounts", "procs")


class Attachment(Protocol):
    """A run the dashboard watches but did not start (``simulator.attach.AttachedRun``)."""

    @property
    def where(self) -> str:
        """Where the run is (its API's URL), for the title."""

    @property
    def read_only(self) -> str | None:
        """Why the keys cannot steer the run, or None when they can."""

    @property
    def detached(self) -> bool:
        """The view was asked to close (a stop signal here): the app exits, the run goes on."""

    def final(self) -> tuple[dict | None, str | None] | None:
        """Once the run has ended: (its report, None), or (None, why there is none)."""


class DashboardApp(PaletteActions, YourOrderActions, App[bool]):
    """One screen of panels over a SimControl; the keys are listed in ``BINDINGS`` and on the
    help screen (``?``). Steering keys do nothing before the first Snapshot or once stopping."""

    CSS_PATH = "app.tcss"
    COMMANDS = App.COMMANDS | {RunCommands}
    AUTO_FOCUS = None  # nothing focused at start: the arrows step symbols until a panel is focused
    HORIZONTAL_BREAKPOINTS = [(0, "-narrow"), (100, "-wide")]
    VERTICAL_BREAKPOINTS = [(0, "-short"), (30, "-tall")]

    BINDINGS = [
        Binding("q", "stop_and_quit", "Quit"),
        Binding("ctrl+q", "stop_and_quit", "Quit", show=False, priority=True),
        Binding("ctrl+c", "stop_and_quit", "Quit", show=False, priority=True),
        # one of the two is shown (check_action): the footer says what p will do
        Binding("p", "pause_flow", "Pause"),
        Binding("p", "resume_flow", "Resume"),
        Binding("space", "toggle_pause", "Pause", show=False),
        Binding("+", "faster", "Faster"),
        Binding("=", "faster", "Faster", show=False),
        Binding("-", "slower", "Slower"),
        Binding("[", "previous_symbol", "Prev"),
        Binding("left", "previous_symbol", "Prev", show=False),
        Binding("]", "next_symbol", "Next"),
        Binding("right", "next_symbol", "Next", show=False),
        Binding("n", "step_order", "Step"),
        Binding("a", "next_account", "Account", show=False),  # while paused only (check_action)
        Binding("t", "hold_tape", "Hold tape"),
        Binding("T", "tape_all", "All symbols", show=False),  # in ? and the palette
        Binding("k", "kill_broker", "Kill broker"),
        Binding("K", "kill_switch", "Kill switch", show=False),  # asks first; in ? and the palette
        Binding("o", "order_form", "Order"),
        *YOUR_BINDINGS,
        Binding("x", "stop_run", "Stop run"),  # attached with control only (check_action)
        Binding("?", "show_help", "Help"),
        *(Binding(str(n), f"show_tab('{tab}')", tab, show=False) for n, tab in enumerate(TABS, 1)),
    ]

    snapshot: var[Snapshot | None] = var(None, always_update=True)
    """The latest Snapshot shown; None until the first one. Set only with a new one."""
    asked: var[Asked] = var(Asked)
    """What the keys asked for that the Snapshots do not show yet."""

    def __init__(
        self,
        control: SimControl,
        *,
        ui_hz: float = 10.0,
        title: str = "Stock-order simulator",
        stop_timeout: float = 120.0,
        attached: Attachment | None = None,
        exit_on_finish: bool = False,
        signalled: threading.Event | None = None,
    ) -> None:
        if ui_hz <= 0:
            raise ValueError(f"ui_hz must be positive, got {ui_hz!r}")
        super().__init__()
        self.control = control
        self.ui_hz = ui_hz
        self.title = title if attached is None else f"{title} @ {attached.where}"
        self.stop_timeout = stop_timeout
        self.attached = attached
        self.exit_on_finish = exit_on_finish
        # set by a stop signal (SIGTERM, SIGHUP: the terminal may be gone): the end closes
        self.signalled = signalled or threading.Event()
        self.run_ended = False  # set once the run stopped without the quit key
        self._shown_state: tuple[RunState, bool] | None = None  # what the footer shows
        self.awaiting_step: int | None = None  # after n: the id stepped before it, until it shows

    def compose(self) -> ComposeResult:
        snapshot, asked = DashboardApp.snapshot, DashboardApp.asked
        note = READ_ONLY_NOTE if self.read_only else ""
        yield StatusBar(title=self.title, note=note, id="status").data_bind(snapshot, asked)
        with TabbedContent(initial="overview", id="tabs"):
            with TabPane("1 Overview", id="overview"):
                with Horizontal(id="top"):
                    yield TotalsPanel(id="totals").data_bind(snapshot)
                    yield ThroughputPanel(id="throughput").data_bind(snapshot)
                yield ProcessTable(id="processes").data_bind(snapshot)
                with Horizontal(id="bottom"):
                    yield TapePanel(id="tape").data_bind(snapshot)
                    yield BookPanel(id="book").data_bind(snapshot, asked)
                yield LogPanel(id="log").data_bind(snapshot)
            with TabPane("2 Book & tape", id="market"):
                with Horizontal(id="market-top"):
                    yield TapePanel(id="market-tape").data_bind(snapshot)
                    yield BookPanel(id="market-book").data_bind(snapshot, asked)
                yield PriceChart(id="chart").data_bind(snapshot)
            with TabPane("3 Symbols", id="symbols"):
                yield MarketTable(id="symbols-table").data_bind(snapshot)
            with TabPane("4 Accounts", id="accounts"):
                yield AccountsPanel(id="accounts-panel").data_bind(snapshot)
            with TabPane("5 Processes", id="procs"):
                yield ProcessTable(id="all-processes").data_bind(snapshot)
                yield LogPanel(id="full-log").data_bind(snapshot)
        yield OrderForm(id="order-form")
        yield SteadyFooter()

    def on_mount(self) -> None:
        self.query_one(Tabs).can_focus = False  # 1-4 switch tabs; left/right stay the symbol keys
        for widget_id, title in PANEL_TITLES.items():
            self.query_one(f"#{widget_id}").border_title = title
        self.poll_snapshot()
        self.set_interval(1 / self.ui_hz, self.poll_snapshot, name="snapshot-poll")
        if self.attached is not None and self.attached.read_only:
            self.notify(self.attached.read_only, timeout=6)

    def on_resize(self) -> None:
        prepare_help(self)  # the help text's layout at the new width, ahead of the ? key

    @property
    def stopping(self) -> bool:
        """A quit key was pressed (the run may not say STOPPING yet)."""
        return self.asked.stopping

    @property
    def read_only(self) -> bool:
        """Attached without control: the keys cannot steer the run."""
        return self.attached is not None and self.attached.read_only is not None

    # -- refresh -------------------------------------------------------------------------------

    def poll_snapshot(self) -> None:
        if self.attached is not None:
            self.poll_attached(self.attached)
            return
        if not self.run_ended and not self.stopping and self.control.wait_stopped(timeout=0):
            # the run ended by itself (--duration, --orders, a signal, a fatal error)
            self.run_ended = True
            if self.exit_on_finish or self.signalled.is_set():
                self.exit(True)  # the summary is printed on the normal terminal
                return
            self.show_finished()
        # a request the bank did not follow within its hold stops showing
        self.asked = self.asked.expired(time.monotonic())
        snapshot = self.control.snapshot()
        if snapshot is None or snapshot is self.snapshot or len(self.screen_stack) > 1:
            # under a box (help) the panels keep their last frame: redrawn from cache when it closes
            return
        self.apply_snapshot(snapshot)

    def poll_attached(self, attached: Attachment) -> None:
        """The latest Snapshot of a run watched from here; its report once it ended."""
        if attached.detached:
            self.exit(True)
            return
        snapshot = self.control.snapshot()
        if snapshot is not None and snapshot is not self.snapshot:
            self.apply_snapshot(snapshot)
        final = attached.final()
        if final is not None and not self.run_ended:
            self.run_ended = True
            self.show_finished(final)

    def show_finished(self, final: tuple[dict | None, str | None] | None = None) -> None:
        """The run is over: FINISHED in the header, its final report over the panels until q."""
        if final is None:
            finishing = getattr(self.control, "final", None)
            final = finishing() if finishing is not None else None
        self.query_one(StatusBar).finished = True
        self.refresh_bindings()
        snapshot = self.control.snapshot()
        if snapshot is not None and snapshot is not self.snapshot:
            self.apply_snapshot(snapshot)  # the last one, STOPPED
        self.push_screen(ReportScreen(*(final or (None, "the run ended; its report did not arrive"))))

    def apply_snapshot(self, snapshot: Snapshot) -> None:
        """Show ``snapshot`` (each panel redraws only if the part it draws changed)."""
        first = self.snapshot is None
        self.asked = self.asked.seen(snapshot)
        self.snapshot = snapshot
        if self.awaiting_step is not None:
            self.show_step(snapshot)
        shown = (snapshot.state, bool(open_ids(snapshot.you)))
        if first or shown != self._shown_state:
            # greyed out until the first Snapshot; Pause or Resume as the state says; c while
            # you have an open order
            self._shown_state = shown
            self.refresh_bindings()

    # -- commands ------------------------------------------------------------------------------

    def steerable_snapshot(self) -> Snapshot | None:
        """The Snapshot steering keys start from, or None when they must do nothing."""
        return None if self.stopping or self.read_only or self.run_ended else self.snapshot

    def check_action(self, action: str, parameters: tuple[object, ...]) -> bool | None:
        if action == "stop_run" and (self.attached is None or self.read_only):
            return False  # not in the footer: quitting stops a run of our own
        if action in STEERING_ACTIONS and self.read_only:
            return False  # not in the footer: the header says READ ONLY
        if action in ("pause_flow", "resume_flow", "step_order"):
            snapshot = self.snapshot
            reported = snapshot.state if snapshot is not None else RunState.STARTING
            paused = self.asked.pause_toggled_from(reported) is RunState.PAUSED
            if paused != (action in ("resume_flow", "step_order")):
                return False  # the other one of the pair is in the footer; n only when paused
        if action == "cancel_yours" and not open_ids(self.snapshot.you if self.snapshot else None):
            return False  # in the footer only while you have an open order
        if action in STEERING_ACTIONS | {"stop_run"} and self.steerable_snapshot() is None:
            return None  # shown greyed out in the footer
        return True

    def action_stop_run(self) -> None:
        """Attached with control: ask the run to stop; its report shows when it has."""
        if self.attached is None or self.steerable_snapshot() is None:
            return
        self.asked = self.asked.ask_stop()
        self.refresh_bindings()
        self.control.request_stop("stop asked from an attached dashboard")
        self.notify("Stopping the run; its report follows", timeout=3)

    def action_stop_and_quit(self) -> None:
        if self.attached is not None or self.run_ended:
            self.exit(True)  # close this view only: the run goes on
            return
        if self.stopping:
            return
        self.asked = self.asked.ask_stop()
        self.refresh_bindings()
        self.control.request_stop("user quit")
        self.wait_for_stop_then_exit()

    async def action_quit(self) -> None:
        """The command palette's Quit: the same clean stop as the keys."""
        self.action_stop_and_quit()

    @work(thread=True, exclusive=True, group="stop", name="wait-stopped")
    def wait_for_stop_then_exit(self) -> None:
        worker = get_current_worker()
        deadline = time.monotonic() + self.stop_timeout
        stopped = False
        while not worker.is_cancelled and time.monotonic() < deadline:
            if self.control.wait_stopped(timeout=STOP_POLL_S):
                stopped = True
                break
        if worker.is_cancelled:
            return
        try:
            self.call_from_thread(self.exit, stopped)
        except RuntimeError:
            pass  # the app is already gone

    def action_toggle_pause(self) -> None:
        snapshot = self.steerable_snapshot()
        if snapshot is None:
            return
        now = time.monotonic()
        asked = self.asked.expired(now)
        command = pause_command(asked.pause_toggled_from(snapshot.state))
        if command is None:
            return
        self.control.command(command)
        pausing = command == "pause"
        self.asked = asked.ask_state(RunState.PAUSED if pausing else RunState.RUNNING, now)
        self.refresh_bindings()  # the footer's p says the other one now
        self.notify("Pausing order generation" if pausing else "Resuming order generation", timeout=2)
        self.expedite()

    def action_pause_flow(self) -> None:
        self.action_toggle_pause()

    def action_resume_flow(self) -> None:
        self.action_toggle_pause()

    def action_step_order(self) -> None:
        """While paused: place the flow's next order; the tape and a note show what it did."""
        snapshot = self.steerable_snapshot()
        if snapshot is None or snapshot.state is not RunState.PAUSED:
            return
        self.control.command("step")
        self.awaiting_step = snapshot.stepped
        self.expedite()

    def show_step(self, snapshot: Snapshot) -> None:
        """Once the stepped order's events are on the tape, say what it did."""
        if self.awaiting_step is None or snapshot.stepped == self.awaiting_step:
            return
        summary = step_summary(snapshot.tape_events, snapshot.stepped)
        if summary is not None:
            self.awaiting_step = None
            self.notify(summary, title="Step", timeout=8)

    def action_hold_tape(self) -> None:
        """Hold the tape where it is (new events are kept), or let it follow again."""
        held = False
        for tape in self.query(TapePanel):
            held = tape.toggle_hold()
        self.notify("Tape held: t or end follows again" if held else "Tape follows the newest", timeout=2)

    def action_faster(self) -> None:
        self.step_rate(rate_up)

    def action_slower(self) -> None:
        self.step_rate(rate_down)

    def step_rate(self, step: Callable[[float], float]) -> None:
        snapshot = self.steerable_snapshot()
        if snapshot is None:
            return
        now = time.monotonic()
        asked = self.asked.expired(now)
        rate = asked.target_rate(snapshot.rate)
        new = step(rate)
        if new == rate:
            self.notify(f"Target rate stays {fmt_target_rate(rate)}", timeout=2)
            return
        self.control.command("rate", new)
        self.asked = asked.ask_rate(new, now)
        self.notify(f"Target rate {fmt_target_rate(new)}", timeout=2)

    def action_kill_broker(self) -> None:
        """Fault drill: kill -9 the broker that owns the symbol shown in the book panel."""
        snapshot = self.steerable_snapshot()
        if snapshot is None or snapshot.selected_symbol is None:
            return
        for row in snapshot.processes:
            if snapshot.selected_symbol in row.symbols:
                self.control.command("kill", row.name)
                self.notify(
                    f"kill -9 {row.name} (it owns {snapshot.selected_symbol}); it will be restarted",
                    severity="warning",
                    timeout=3,
                )
                return

    def action_previous_symbol(self) -> None:
        self.step_symbol(-1)

    def action_next_symbol(self) -> None:
        self.step_symbol(+1)

    def step_symbol(self, step: int) -> None:
        snapshot = self.steerable_snapshot()
        if snapshot is None:
            return
        now = time.monotonic()
        asked = self.asked.expired(now)
        current = asked.selected_symbol(snapshot.selected_symbol)
        symbol = neighbour_symbol(snapshot.symbols, current, step)
        if symbol is None or symbol == current:
            return
        self.control.command("select", symbol)
        self.asked = asked.ask_symbol(symbol, now)
        self.expedite()

    def expedite(self) -> None:
        """After a command, look for the Snapshot that shows it sooner than the next tick (the
        bank publishes one right after it applied a command)."""
        for delay in (0.03, 0.07):
            self.set_timer(delay, self.poll_snapshot)

    def action_show_tab(self, tab: str) -> None:
        self.query_one(TabbedContent).active = tab
