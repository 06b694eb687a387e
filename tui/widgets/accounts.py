"""The accounts tab: the accounts of highest P&L, and the selected account's open orders.

P&L is cash plus the positions marked to each symbol's last price (``simulator.accounts``),
refreshed once a second. ``a`` selects the next account of the list (the palette: any account
by number, ``account 42``); its row is marked and its open orders are listed below. Your
account's latest orders follow the list, each with its state (a reject's reason, what became
of your cancel); ``y`` and ``c`` pick and cancel one (``tui.your_orders``).
"""

from __future__ import annotations

from rich.text import Text
from textual.app import RenderResult
from textual.reactive import reactive

from simulator.orders import format_price
from simulator.stats import AccountRow, OpenOrder, Snapshot, YourAccount
from tui.format import Column, fit_columns, table_line
from tui.tape_format import TIF_NAMES, TYPE_NAMES, order_id, side_word
from tui.widgets.base import WAITING_TEXT, SnapshotPanel
from tui.your_orders import pick, state_words

ACCOUNT_COLUMNS = (
    Column("acct", 7, 0, right=True),
    Column("P&L $", 14, 0, right=True),
    Column("cash $", 15, 1, right=True),
    Column("value $", 15, 1, right=True),
    Column("positions (largest)", 20, 2, flex=True),
)
ORDER_COLUMNS = (
    Column("order", 10, 0),
    Column("symbol", 8, 0),
    Column("side", 4, 0),
    Column("type", 7, 1),
    Column("qty @ price", 17, 0, right=True),
    Column("left", 8, 1, right=True),
    Column("state", 7, 2),
)


def dollars(ticks_x_shares: int) -> str:
    """An amount in ticks x shares as signed dollars: 123456 -> '+1,234.56'."""
    sign = "-" if ticks_x_shares < 0 else "+" if ticks_x_shares > 0 else ""
    whole, cents = divmod(abs(ticks_x_shares), 100)
    return f"{sign}{whole:,}.{cents:02d}"


def account_cells(row: AccountRow) -> tuple[str, ...]:
    held = " ".join(f"{symbol} {qty:+,}" for symbol, qty in row.positions)
    if row.symbols_held > len(row.positions):
        held += f" (+{row.symbols_held - len(row.positions)})"
    return (str(row.account), dollars(row.pnl), dollars(row.cash), dollars(row.value), held or "-")


def order_cells(order: OpenOrder) -> tuple[str, ...]:
    price = "market" if order.otype == 1 else format_price(order.price)
    kind = f"{TYPE_NAMES.get(order.otype, '?')} {TIF_NAMES.get(order.tif, '?')}"
    return (order_id(order.oid), order.symbol, side_word(order.side), kind, f"{order.qty:,} @ {price}",
            f"{order.leaves:,}", order.state)  # fmt: skip


def your_lines(text: Text, you: YourAccount, picked: int | None = None) -> None:
    """Your account's line (marked * in the list above) and your latest orders, the open one
    ``c`` cancels marked."""
    text.append(f"\nYour account ({you.account}): ", "bold")
    text.append(
        f"P&L {dollars(you.pnl)}, {you.placed:,} orders: {you.filled:,} filled, {you.cancelled:,} "
        f"cancelled, {you.rejected:,} rejected, {you.open:,} open; {you.filled_qty:,} shares traded\n"
    )
    marked = pick(you, picked)
    for o in you.orders[-5:]:
        price = "market" if o.otype == 1 else format_price(o.price)
        mark = "\u25b6 " if o.oid == marked else "  "
        text.append(f"{mark}{order_id(o.oid)} {side_word(o.side)} {o.qty:,} {o.symbol} @ {price}: ", "dim")
        style = "red" if o.state == "rejected" or o.cancel == "refused" else "green" if o.filled else ""
        text.append(f"{state_words(o)}, {o.filled:,} filled\n", style)
    if marked is not None:
        text.append(f"  c: cancel {order_id(marked)}; y: your next open order\n", "dim")


class AccountsPanel(SnapshotPanel):
    """Top accounts by P&L, the selected one marked, then its open orders."""

    DEFAULT_CSS = """
    AccountsPanel {
        height: 1fr;
        text-wrap: nowrap;
        text-overflow: ellipsis;
    }
    """

    accounts: reactive[tuple[AccountRow, ...]] = reactive(())
    """The accounts of highest P&L, best first."""
    selected: reactive[AccountRow | None] = reactive(None)
    """The account whose open orders are listed."""
    orders: reactive[tuple[OpenOrder, ...]] = reactive(())
    """Its open orders, oldest first."""
    you: reactive[YourAccount | None] = reactive(None)
    """Your account and your latest orders (``o`` places one)."""
    picked: reactive[int | None] = reactive(None)
    """Your open order ``y`` picked, that ``c`` cancels (None: your newest open one)."""

    def watch_snapshot(self, snapshot: Snapshot | None) -> None:
        if snapshot is not None:
            self.accounts = snapshot.accounts
            self.selected = snapshot.selected_account
            self.orders = snapshot.account_orders
            self.you = snapshot.you

    def render(self) -> RenderResult:
        if self.snapshot is None:
            return WAITING_TEXT
        width = self.content_size.width or 80
        fitted = fit_columns(width - 2, ACCOUNT_COLUMNS)
        text = Text(end="")
        text.append(
            "  " + table_line([c.title for c in ACCOUNT_COLUMNS], fitted, ACCOUNT_COLUMNS) + "\n", "dim bold"
        )
        chosen = self.selected.account if self.selected else None
        rows = list(self.accounts)
        if self.selected is not None and all(r.account != chosen for r in rows):
            rows.append(self.selected)
        yours = self.you.account if self.you is not None else None
        for row in rows:
            mark = "\u25b6 " if row.account == chosen else "  "
            mark = mark[0] + "*" if row.account == yours else mark
            style = "green" if row.pnl > 0 else "red" if row.pnl < 0 else ""
            if row.account == chosen:
                style += " bold"
            text.append(mark + table_line(account_cells(row), fitted, ACCOUNT_COLUMNS) + "\n", style)
        if not rows:
            text.append("no account has traded yet\n", "dim")
        if self.you is not None and self.you.placed:
            your_lines(text, self.you, self.picked)
        if self.selected is None:
            return text
        whose = "your account" if chosen == yours else f"account {chosen}"
        text.append(f"\nOpen orders of {whose}", "bold")
        text.append("  (a: next account; palette: account N)\n", "dim")
        if not self.orders:
            text.append("none\n", "dim")
            return text
        fitted = fit_columns(width, ORDER_COLUMNS)
        text.append(table_line([c.title for c in ORDER_COLUMNS], fitted, ORDER_COLUMNS) + "\n", "dim bold")
        for order in self.orders:
            style = "green" if order.side > 0 else "red"
            text.append(table_line(order_cells(order), fitted, ORDER_COLUMNS) + "\n", style)
        return text
