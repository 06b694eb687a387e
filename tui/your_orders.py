"""Your orders on the dashboard: which of your open orders is picked, and cancelling it.

``y`` picks your next open order (the accounts tab marks it ``>``), ``c`` cancels the one
picked (none picked: your newest open one); the palette offers ``cancel #you3`` for each of
your open orders, and reads it typed. The cancel is the ``cancel`` command: the bank places it
behind the pending orders of the order's broker, and its CANCELLED (or the book's reject, if
the order filled meanwhile) shows on the tape and beside the order in the accounts tab.
``pick``, ``open_ids`` and ``cancel_commands`` are plain functions of a Snapshot, tested
without an app.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any

from textual.binding import Binding

from simulator.outside_ids import order_label
from simulator.own_order import BadOrder, your_id
from simulator.stats import Snapshot, YourAccount, YourOrder
from tui.tape_format import reason_text, side_word

OPEN_STATES = ("sent", "resting")
BINDINGS = (
    Binding("y", "next_yours", "Yours", show=False),  # in ? and the palette
    Binding("c", "cancel_yours", "Cancel yours"),  # in the footer while you have an open order
)
ACTIONS = frozenset({"next_yours", "cancel_yours"})


def open_ids(you: YourAccount | None) -> list[int]:
    """Your open orders (sent or resting) among the latest, oldest first."""
    if you is None:
        return []
    return [o.oid for o in you.orders if o.state in OPEN_STATES and o.cancel != "sent"]


def pick(you: YourAccount | None, picked: int | None, step: int = 0) -> int | None:
    """The open order of yours to mark: ``picked`` while it is open, else your newest open
    one (``step`` 1: the next one after that, round); None when you have none."""
    ids = open_ids(you)
    if not ids:
        return None
    at = ids.index(picked) if picked in ids else len(ids) - 1
    return ids[(at + step) % len(ids)]


def state_words(order: YourOrder) -> str:
    """'resting', 'rejected: price band', 'filled; cancel refused: order not resting'..."""
    words = order.state
    if order.state == "rejected" and order.reason:
        words += f": {reason_text(order.reason)}"
    if order.cancel == "sent":
        words += ", cancel sent"
    elif order.cancel == "refused":
        words += f"; cancel refused: {reason_text(order.reason)}" if order.reason else "; cancel refused"
    return words


def parse_cancel(text: str) -> int | None:
    """The order in 'cancel #you3' (or 'cancel 1099511627779'), or None when it is not one."""
    words = text.split()
    if len(words) != 2 or words[0].lower() != "cancel":
        return None
    try:
        return your_id(words[1])
    except BadOrder:
        return None


def cancel_commands(typed: str, snapshot: Snapshot | None) -> Iterator[tuple[str, str, str, tuple]]:
    """The palette's cancels: (text, help, action, args) for 'cancel #you3' as typed, and one
    for each open order of yours."""
    oid = parse_cancel(typed)
    if oid is not None:
        yield typed, f"cancel your order {order_label(oid)}", "cancel_order", (oid,)
    else:
        yield "cancel #youN", "cancel an order of yours: type e.g. cancel #you3", "notify_usage", ("cancel",)
    you = snapshot.you if snapshot is not None else None
    for order in you.orders if you is not None else ():
        if order.oid in open_ids(you) and order.oid != oid:
            what = f"{side_word(order.side)} {order.qty:,} {order.symbol}, {order.state}"
            label = order_label(order.oid)
            yield f"cancel {label}", f"cancel your order ({what})", "cancel_order", (order.oid,)


class YourOrderActions:
    """The dashboard's keys for your orders (mixed into ``DashboardApp``)."""

    control: Any
    expedite: Callable[[], None]
    steerable_snapshot: Callable[[], Snapshot | None]
    notify: Callable[..., None]
    picked_order: int | None = None  # the open order of yours that c cancels (None: the newest)

    def action_next_yours(self) -> None:
        """y: pick your next open order (the accounts tab marks it)."""
        snapshot = self.steerable_snapshot()
        if snapshot is None:
            return
        self.picked_order = pick(snapshot.you, self.picked_order, 1)
        if self.picked_order is None:
            self.notify("You have no open order: o places one", timeout=3)
            return
        self.show_pick()

    def show_pick(self) -> None:
        self.query_one("#accounts-panel").picked = self.picked_order  # type: ignore[attr-defined]

    def action_cancel_yours(self) -> None:
        """c: cancel the open order of yours picked (or your newest open one)."""
        snapshot = self.steerable_snapshot()
        oid = pick(snapshot.you, self.picked_order) if snapshot is not None else None
        if oid is None:
            if snapshot is not None:
                self.notify("You have no open order to cancel", timeout=3)
            return
        self.cancel_order(oid)

    def cancel_order(self, oid: int) -> None:
        """Send the cancel of your order ``oid``; the tape and the accounts tab show its end."""
        if self.steerable_snapshot() is None:
            return
        self.control.command("cancel", oid)
        self.notify(f"Cancel of your order {order_label(oid)} sent", title="Cancel", timeout=4)
        self.expedite()
