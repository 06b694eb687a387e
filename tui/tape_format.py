"""Text for the tape panel: one line per event of the watched symbol, as styled pieces.

Plain functions of ``stats.TapeEvent`` (tested without an app in tests/tui/test_tape_format.py).
A line reads time, order id, what happened::

    0:01.37  #23   NEW    SELL LMT DAY 200 @ 409.51  acct 92
    0:01.37  #23   ACK
    0:01.37  #23   FILL   200 @ 409.51 SELL hits #9     (a buyer lifts the resting offer)
    0:01.87  #13   CXLD   600 left unfilled
    0:02.02  #20   REJECT price not positive

The aggressor is the incoming order (its id leads the line): a SELL that trades "hits" the
resting bid, a BUY "lifts" the resting offer. Buys are green, sells red, fills bold, rejects
magenta, acks and cancels dim; when a line is too wide the account goes first, then the time.
"""

from __future__ import annotations

from collections.abc import Sequence

from simulator.orders import OrderType, RejectReason, TimeInForce, format_price
from simulator.outside_ids import is_outside
from simulator.outside_ids import order_label as order_id
from simulator.stats import TapeEvent
from simulator.tape import ALL_SYMBOLS

Piece = tuple[str, str]  # (text, style)
OPTIONAL = "dim italic"  # the style of a piece left out first when a line does not fit

ELLIPSIS = "\u2026"
TYPE_NAMES = {int(OrderType.LIMIT): "LMT", int(OrderType.MARKET): "MKT", int(OrderType.CANCEL): "CXL"}
TYPE_NAMES |= {int(OrderType.STOP): "STP", int(OrderType.STOP_LIMIT): "STPLMT", int(OrderType.ICEBERG): "ICE"}
TIF_NAMES = {int(t): t.name for t in TimeInForce}
KIND_LABELS = {
    "new": "NEW",
    "ack": "ACK",
    "fill": "FILL",
    "cancelled": "CXLD",
    "cancel_done": "CXL OK",
    "reject": "REJECT",
    "amended": "AMEND",
    "triggered": "STOP",
    "shown": "SHOWN",
}
LABEL_WIDTH = max(map(len, KIND_LABELS.values()))


def side_style(side: int) -> str:
    return "green" if side > 0 else "red" if side < 0 else ""


def side_word(side: int) -> str:
    return "BUY" if side > 0 else "SELL" if side < 0 else "?"


def fmt_clock(seconds: float) -> str:
    """The run's elapsed time on the tape: 82.375 -> '1:22.37', 3723.9 -> '1:02:03.9'."""
    seconds = max(seconds, 0.0)
    minutes, secs = divmod(seconds, 60)
    if minutes < 60:
        return f"{int(minutes)}:{int(secs * 100) / 100:05.2f}"
    hours, minutes = divmod(int(minutes), 60)
    return f"{hours}:{minutes:02d}:{int(secs * 10) / 10:04.1f}"


def reason_text(reason: int) -> str:
    """A RejectReason as words: 2 -> 'price not positive'."""
    try:
        return RejectReason(reason).name.lower().replace("_", " ")
    except ValueError:
        return f"reason {reason}"


YOURS = "bold reverse"  # the id of an order of yours, or of an order that traded with one


def detail(event: TapeEvent) -> list[Piece]:
    """What happened, after the id and the label."""
    style = side_style(event.side)
    if event.kind == "new":
        if event.otype == OrderType.CANCEL and event.qty > 0:
            return [(f"amend {order_id(event.other)} to {event.qty:,} @ {format_price(event.price)}", "")]
        if event.otype == OrderType.CANCEL:
            return [(f"cancel {order_id(event.other)}", "")]
        market = event.otype in (OrderType.MARKET, OrderType.STOP)
        price = "market" if market else format_price(event.price)
        what = (
            f"{side_word(event.side):<4} {TYPE_NAMES.get(event.otype, '?')} {TIF_NAMES.get(event.tif, '?')}"
        )
        pieces = [(what, style), (f" {event.qty:,} @ {price}", style)]
        if event.otype in (OrderType.STOP, OrderType.STOP_LIMIT):
            pieces.append((f" stop {format_price(event.other)}", style))
        elif event.otype == OrderType.ICEBERG:
            pieces.append((f" shows {event.other:,}", style))
        if event.account >= 0:
            pieces.append((f"  acct {event.account}", OPTIONAL))
        return pieces
    if event.kind == "fill":
        return [
            (f"{event.qty:,} @ {format_price(event.price)}", "bold " + style),
            (
                f" {side_word(event.side)} {'lifts' if event.side > 0 else 'hits'} {order_id(event.other)}",
                style,
            ),
        ]
    if event.kind == "cancelled":
        by = f" (by {order_id(event.other)})" if event.other else ""
        why = f" ({reason_text(event.reason)})" if event.reason else ""
        return [(f"{event.qty:,} left unfilled{by}{why}", "dim")]
    if event.kind == "amended":
        place = "to the back" if event.reason else "keeps its place"
        return [(f"now {event.qty:,} @ {format_price(event.price)}, {place}", "")]
    if event.kind == "triggered":
        return [("stop touched: enters the book", "bold")]
    if event.kind == "shown":
        return [(f"shows {event.qty:,} of {event.other:,} @ {format_price(event.price)}", "dim")]
    if event.kind == "cancel_done":
        return [(f"{order_id(event.other)} cancelled", "dim")]
    if event.kind == "reject":
        return [(reason_text(event.reason), "magenta")]
    return []


LABEL_STYLES = {
    "new": "bold",
    "ack": "dim",
    "cancelled": "dim",
    "cancel_done": "dim",
    "reject": "bold magenta",
}


def tape_pieces(event: TapeEvent, id_width: int, clock: bool = True, symbol_width: int = 0) -> list[Piece]:
    """One event as styled pieces: time (unless ``clock`` is False: a narrow panel), the
    symbol (when ``symbol_width``: the all-symbols tape), id (padded to ``id_width``), label,
    detail."""
    time = [(f"{fmt_clock(event.t_s):>8} ", CLOCK)] if clock else []
    if event.kind == "watch" and event.symbol == ALL_SYMBOLS:
        return [
            *time,
            ("\u2500\u2500 now every symbol, sampled in placement order \u2500\u2500", "bold cyan"),
        ]
    if event.kind == "watch":
        return [*time, (f"\u2500\u2500 now watching {event.symbol} \u2500\u2500", "bold cyan")]
    label_style = LABEL_STYLES.get(event.kind, "bold " + side_style(event.side))
    return [
        *time,
        *([(f"{event.symbol:<{symbol_width}} ", "bold")] if symbol_width else []),
        (
            f"{order_id(event.oid):<{id_width}} ",
            YOURS if is_outside(event.oid) or is_outside(event.other) else "",
        ),
        (f"{KIND_LABELS.get(event.kind, event.kind):<{LABEL_WIDTH}} ", label_style),
        *detail(event),
    ]


CLOCK = "dim"


def id_width(events: Sequence[TapeEvent]) -> int:
    """Width of the id column: the longest id among ``events`` (at least 4)."""
    return max((len(order_id(e.oid)) for e in events), default=4) if events else 4


def fit_pieces(pieces: Sequence[Piece], width: int) -> list[Piece]:
    """The pieces in ``width`` cells: whole if they fit, else without the optional ones (the
    account), and only then cut, an ellipsis marking the cut."""
    if sum(len(text) for text, _ in pieces) > width:
        pieces = [p for p in pieces if p[1] != OPTIONAL]
    out: list[Piece] = []
    used = 0
    for text, style in pieces:
        if used + len(text) <= width:
            out.append((text, style))
            used += len(text)
            continue
        room = width - used
        if room > 0:
            out.append((text[: room - 1] + ELLIPSIS, style))
        break
    return out


def tape_plain(event: TapeEvent, id_width: int = 4, clock: bool = True, symbol_width: int = 0) -> str:
    """The line as plain text (tests)."""
    return "".join(text for text, _ in tape_pieces(event, id_width, clock, symbol_width))


def clock_fits(width: int, id_width: int) -> bool:
    """Whether a panel ``width`` cells wide has room for the time before each line: what a
    new order needs (time, id, label, 'SELL LMT DAY 1,000 @ 1,234.56') fits with it."""
    return width >= 10 + id_width + 1 + LABEL_WIDTH + 1 + 30


def step_summary(events: Sequence[TapeEvent], oid: int) -> str | None:
    """What the order ``oid`` did, in one sentence, from its tape events; None until its
    final event is there (its NEW and then its REJECT, last FILL of a full fill, or CXLD)."""
    mine = [e for e in events if e.oid == oid or (e.kind == "cancelled" and e.other == oid)]
    new = next((e for e in mine if e.kind == "new"), None)
    if new is None:
        return None
    if new.otype == OrderType.CANCEL:
        done = next((e for e in mine if e.kind in ("cancel_done", "reject")), None)
        if done is None:
            return None
        if done.kind == "reject":
            return f"{order_id(oid)} cancel of {order_id(new.other)}: refused, {reason_text(done.reason)}"
        return f"{order_id(oid)} cancelled {order_id(new.other)}"
    price = "market" if new.otype == OrderType.MARKET else format_price(new.price)
    head = f"{order_id(oid)} {side_word(new.side)} {new.qty:,} {new.symbol} @ {price}"
    reject = next((e for e in mine if e.kind == "reject"), None)
    if reject is not None:
        return f"{head}: rejected, {reason_text(reject.reason)}"
    fills = [e for e in mine if e.kind == "fill"]
    filled = sum(e.qty for e in fills)
    rest = next((e for e in mine if e.kind == "cancelled" and e.oid == oid), None)
    resting = new.qty - filled if rest is None else 0
    if rest is None and resting and not any(e.kind == "ack" for e in mine):
        return None
    parts = [", ".join(f"traded {e.qty:,} @ {format_price(e.price)} with {order_id(e.other)}" for e in fills)]
    if resting:
        parts.append(f"rests {resting:,} on the book")
    if rest is not None:
        parts.append(f"{rest.qty:,} unfilled, cancelled")
    if not fills and not resting and rest is None:
        parts.append("filled")
    return f"{head}: " + "; ".join(p for p in parts if p)
