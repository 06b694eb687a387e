"""Text for the dashboard: numbers, rates, durations, latencies, process rows, tape lines, ladders.

Plain functions of plain values, tested without an app (tests/tui/test_format.py). Widgets only
choose colours and lay these strings out; no formatting decision is made inside a widget.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

from simulator.orders import Side, format_price
from simulator.stats import BookView, OrderCounts, ProcessRow, Snapshot, TapeEntry

MICRO = "\u00b5"  # micro sign


# -- numbers ---------------------------------------------------------------------------------


def fmt_count(n: int) -> str:
    """An integer with thousands separators: 1234567 -> '1,234,567'."""
    return f"{n:,}"


def fmt_rate(per_s: float, unit: str = "/s") -> str:
    """A rate, compact above a thousand: 950 -> '950/s', 45678 -> '45.7k/s', 1.2e6 -> '1.20M/s'."""
    if not math.isfinite(per_s) or per_s < 0:
        return f"-{unit}"
    if per_s < 10 and per_s != int(per_s):
        return f"{per_s:.1f}{unit}"
    if per_s < 1_000:
        return f"{per_s:.0f}{unit}"
    if per_s < 999_950:
        return f"{per_s / 1_000:.1f}k{unit}"
    return f"{per_s / 1_000_000:.2f}M{unit}"


def fmt_target_rate(rate: float) -> str:
    """The target rate: 0 means as fast as possible, shown as 'max'."""
    return "max" if rate <= 0 else fmt_rate(rate)


def fmt_bytes(n: int) -> str:
    """A size in binary units: 512 -> '512 B', 1536 -> '1.5 KiB', 3*2**30 -> '3.00 GiB'."""
    if n < 1024:
        return f"{n} B"
    value = float(n)
    for unit in ("KiB", "MiB", "GiB", "TiB"):
        value /= 1024
        if value < 1024 or unit == "TiB":
            return f"{value:.2f} {unit}" if value < 10 else f"{value:.1f} {unit}"
    raise AssertionError("unreachable")


def fmt_duration(seconds: float) -> str:
    """Elapsed time as H:MM:SS, whole seconds rounded down: 3723.9 -> '1:02:03'."""
    total = max(0, int(seconds)) if math.isfinite(seconds) else 0
    hours, rest = divmod(total, 3600)
    minutes, secs = divmod(rest, 60)
    return f"{hours}:{minutes:02d}:{secs:02d}"


def fmt_age(seconds: float) -> str:
    """A short age such as a heartbeat's: 0.25 -> '0.2s', 42 -> '42s', 185 -> '3m05s'."""
    if not math.isfinite(seconds) or seconds < 0:
        return "-"
    if seconds < 10:
        return f"{math.floor(seconds * 10) / 10:.1f}s"
    if seconds < 60:
        return f"{int(seconds)}s"
    minutes, secs = divmod(int(seconds), 60)
    if minutes < 60:
        return f"{minutes}m{secs:02d}s"
    hours, minutes = divmod(minutes, 60)
    return f"{hours}h{minutes:02d}m"


def fmt_latency_us(us: int | None) -> str:
    """A latency given in microseconds: 850 -> '850 µs', 1250 -> '1.25 ms', 2.5e6 -> '2.50 s'."""
    if us is None:
        return "-"
    if us < 1_000:
        return f"{us} {MICRO}s"
    if us < 1_000_000:
        ms = us / 1_000
        return f"{ms:.2f} ms" if ms < 100 else f"{ms:.0f} ms"
    return f"{us / 1_000_000:.2f} s"


def fmt_gap_ms(ms: float | None) -> str:
    """A restart's gap in milliseconds: 5.43 -> '5.4ms', 230.2 -> '230ms', None -> '-'."""
    if ms is None:
        return "-"
    return f"{ms:.1f}ms" if ms < 100 else f"{ms:,.0f}ms"


def fmt_percent(value: float) -> str:
    """A percentage with one decimal: 12.345 -> '12.3%'."""
    return f"{value:.1f}%"


def fmt_price(ticks: int) -> str:
    """A price in ticks as dollars; 0 (a market order's price) reads 'MKT'."""
    return "MKT" if ticks == 0 else format_price(ticks)


def side_name(side: int) -> str:
    return "BUY" if side == Side.BUY else "SELL"


# -- header ----------------------------------------------------------------------------------


def blocked_text(blocked: tuple[int, ...]) -> str:
    """What the kill switch holds, in words: 'every account', 'accounts 3, 7', ''."""
    if -1 in blocked:
        return "every account"
    if not blocked:
        return ""
    shown = ", ".join(map(str, blocked[:5])) + (", ..." if len(blocked) > 5 else "")
    return f"account{'s' * (len(blocked) > 1)} {shown}"


def header_fields(snapshot: Snapshot) -> list[tuple[str, str]]:
    """The header strip after the state badge, as (label, value) pairs; label may be empty."""
    fields = [
        ("elapsed", fmt_duration(snapshot.elapsed_s)),
        ("seed", str(snapshot.seed)),
        ("target", fmt_target_rate(snapshot.rate)),
    ]
    if snapshot.transport != "pipe":  # the default says nothing; brokers over AMQP may be anywhere
        fields.append(("over", snapshot.transport.upper()))
    if snapshot.blocked:  # the kill switch holds these accounts: their orders are refused
        fields.append(("KILL SWITCH", blocked_text(snapshot.blocked)))
    if snapshot.stop_reason:
        fields.append(("stop", snapshot.stop_reason))
    return fields


# -- totals ----------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Total:
    """One labelled figure of the totals panel; ``alert`` asks for it to stand out."""

    label: str
    value: str
    alert: bool = False


def totals(snapshot: Snapshot) -> tuple[Total, ...]:
    """The twelve figures of the totals panel, in reading order."""
    counts: OrderCounts = snapshot.orders
    latency = snapshot.ack_latency_us
    return (
        Total("placed", fmt_count(counts.placed)),
        Total("acked", fmt_count(counts.acked)),
        Total("filled", fmt_count(counts.filled)),
        Total("cancelled", fmt_count(counts.cancelled)),
        Total("rejected", fmt_count(counts.rejected)),
        Total("resting", fmt_count(counts.resting)),
        Total("in flight", fmt_count(counts.in_flight)),
        Total("lost", _lost(counts), alert=counts.lost > 0 or counts.cancels_lost > 0),
        Total("orders/s", fmt_rate(snapshot.orders_per_s)),
        Total("fills/s", fmt_rate(snapshot.fills_per_s)),
        Total("ack p50", fmt_latency_us(latency.get("p50"))),
        Total("ack p99", fmt_latency_us(latency.get("p99"))),
    )


def _lost(counts: OrderCounts) -> str:
    """Lost orders; lost cancel requests beside them, only when there are any (they are not
    orders: placed = filled + cancelled + rejected + resting + lost counts orders alone)."""
    if counts.cancels_lost:
        return f"{fmt_count(counts.lost)} +{fmt_count(counts.cancels_lost)} cancels"
    return fmt_count(counts.lost)


def grid_columns(items: int, width: int, cell_width: int, max_columns: int = 4) -> int:
    """How many label/value columns of ``cell_width`` fit in ``width`` (at least one)."""
    fit = max(1, width // max(1, cell_width))
    return max(1, min(fit, max_columns, items))


def column_major(items: Sequence[Total], columns: int) -> list[list[Total | None]]:
    """Lay ``items`` out in rows, filling column by column (so related figures stay together)."""
    rows = math.ceil(len(items) / columns) if items else 0
    grid: list[list[Total | None]] = [[None] * columns for _ in range(rows)]
    for index, item in enumerate(items):
        col, row = divmod(index, rows)
        grid[row][col] = item
    return grid


# -- throughput ------------------------------------------------------------------------------


def throughput_caption(history: Sequence[float]) -> str:
    """Scale of the sparkline (it stretches min..max to full height): 'min 1.0k/s  max 2.0k/s'."""
    if not history:
        return "no data yet"
    return f"min {fmt_rate(min(history))}  max {fmt_rate(max(history))}"


# -- processes -------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Column:
    """A process-table column: fixed ``width`` (``flex`` ones take what is left, at least
    ``width``); lower ``priority`` columns are kept first when the panel is narrow."""

    title: str
    width: int
    priority: int
    right: bool = False
    flex: bool = False


PROCESS_COLUMNS: tuple[Column, ...] = (
    Column("name", 10, 0),
    Column("pid", 7, 4, right=True),
    Column("state", 11, 0),
    Column("symbols", 10, 5, flex=True),
    Column("inbox", 7, 1, right=True),
    Column("orders/s", 9, 1, right=True),
    Column("fills", 11, 2, right=True),
    Column("cpu", 6, 3, right=True),
    Column("mem", 10, 3, right=True),
    Column("hb age", 6, 2, right=True),
    Column("rst", 3, 4, right=True),
    Column("gap", 7, 6, right=True),  # the latest restart's gap (death seen -> answering again)
)
# over AMQP a broker may run on any machine: where, after its pid
HOST_COLUMNS: tuple[Column, ...] = (*PROCESS_COLUMNS[:2], Column("host", 10, 4), *PROCESS_COLUMNS[2:])


def fit_columns(width: int, columns: Sequence[Column] = PROCESS_COLUMNS) -> list[tuple[int, int]]:
    """Which columns fit in ``width`` cells, as (index, width) in table order.

    Columns are admitted by priority (then table order) when they fit with one space between
    them, a narrower one may still fit after a wider one did not; if an essential (priority 0)
    column does not fit, no other is added. A flex column then takes the space left over.
    """
    order = sorted(range(len(columns)), key=lambda i: (columns[i].priority, i))
    chosen: list[int] = []
    used = 0
    for index in order:
        need = columns[index].width + (1 if chosen else 0)
        if used + need <= width:
            chosen.append(index)
            used += need
        elif columns[index].priority == 0:
            break  # without the essential columns, the others mean nothing
    chosen.sort()
    widths = {i: columns[i].width for i in chosen}
    flex = [i for i in chosen if columns[i].flex]
    if flex:
        widths[flex[0]] += width - used
    return [(i, widths[i]) for i in chosen]


def process_state_text(row: ProcessRow) -> str:
    """The state cell: the state, its exit code when it has one, a '!' when it needs a look."""
    text = row.state if row.exit_code is None else f"{row.state}({row.exit_code})"
    return f"!{text}" if row.warning else text


def process_cells(row: ProcessRow, *, host: bool = False) -> tuple[str, ...]:
    """One ProcessRow as the strings of ``PROCESS_COLUMNS`` (``host``: ``HOST_COLUMNS``), in order."""
    return (
        row.name,
        "-" if row.pid is None else str(row.pid),
        *((row.host or "-",) if host else ()),
        process_state_text(row),
        ",".join(row.symbols) if row.symbols else "-",
        fmt_count(row.inbox_depth),
        fmt_rate(row.orders_per_s, unit=""),
        fmt_count(row.fills),
        fmt_percent(row.cpu_percent),
        fmt_bytes(row.rss_bytes),
        fmt_age(row.heartbeat_age_s),
        str(row.restarts),
        fmt_gap_ms(row.restart_gaps_ms[-1] if row.restart_gaps_ms else None),
    )


def fit_cell(text: str, width: int, right: bool = False) -> str:
    """``text`` padded or cut (with an ellipsis) to exactly ``width`` cells."""
    if len(text) > width:
        text = text[: width - 1] + "\u2026" if width > 1 else text[:width]
    return text.rjust(width) if right else text.ljust(width)


def table_line(
    cells: Sequence[str], fitted: Sequence[tuple[int, int]], columns: Sequence[Column] = PROCESS_COLUMNS
) -> str:
    """The chosen cells of one row, each fitted to its column, one space apart."""
    return " ".join(fit_cell(cells[i], w, columns[i].right) for i, w in fitted)


def bank_first(rows: Iterable[ProcessRow]) -> list[ProcessRow]:
    """The rows with the bank first and the others in the order given."""
    rows = list(rows)
    return [r for r in rows if r.name == "bank"] + [r for r in rows if r.name != "bank"]


def rows_to_show(rows: Sequence[ProcessRow], capacity: int) -> tuple[list[ProcessRow], int]:
    """At most ``capacity`` rows to draw, in their order, and how many are left out.

    When not all fit, the bank and the rows that need a look are kept before the others (a
    hidden dead broker is worse than a hidden healthy one).
    """
    if len(rows) <= capacity:
        return list(rows), 0
    capacity = max(0, capacity)
    first = [i for i, r in enumerate(rows) if r.name == "bank" or r.warning][:capacity]
    taken = set(first)
    rest = [i for i in range(len(rows)) if i not in taken][: capacity - len(first)]
    keep = sorted(first + rest)
    return [rows[i] for i in keep], len(rows) - len(keep)


# -- tape ------------------------------------------------------------------------------------


def tape_line(entry: TapeEntry, symbol_width: int = 4) -> str:
    """One tape entry: 'fill  BUY  AAPL    100 @ 123.45   acct 42'."""
    return (
        f"{entry.kind:<5} {side_name(entry.side):<4} {entry.symbol:<{symbol_width}} "
        f"{entry.qty:>6,} @ {fmt_price(entry.price):<8} "
        + (f"acct {entry.account}" if entry.account >= 0 else f"order {entry.oid}")
    )


# -- book ------------------------------------------------------------------------------------

LADDER_WIDTH = 26  # price 9, qty 10, orders 5, two spaces


def ladder_depth(lines: int, min_depth: int = 1, max_depth: int = 10) -> int:
    """Levels per side that fit in ``lines``: a header, the asks, a middle line, the bids."""
    return max(min_depth, min(max_depth, (lines - 2) // 2))


def ladder_row(price: str, qty: str, orders: str) -> str:
    return f"{price:>9} {qty:>10} {orders:>5}"


def book_ladder(book: BookView, depth: int) -> list[tuple[str, str]]:
    """The ladder as (kind, text) lines; kind is header, blank, ask, middle or bid.

    Asks sit above (worst shown first, best next to the middle), bids below best first, and
    the middle line gives the spread and the last trade. There are always ``depth`` ask lines
    (blank ones on top when the book is thin) so the middle stays put as the book changes;
    bids stop where the book does.
    """
    lines = [("header", ladder_row("price", "qty", "ords"))]
    asks = book.asks[:depth]
    lines += [("blank", "")] * (depth - len(asks))
    lines += [("ask", ladder_row(fmt_price(p), fmt_count(q), fmt_count(n))) for p, q, n in reversed(asks)]
    middle = f"{spread_text(book)}  {last_trade_text(book)}"
    lines.append(("middle", f"{middle:^{LADDER_WIDTH}}"))
    lines += [("bid", ladder_row(fmt_price(p), fmt_count(q), fmt_count(n))) for p, q, n in book.bids[:depth]]
    return lines


def spread_text(book: BookView) -> str:
    spread = book.spread
    return "spread -" if spread is None else f"spread {format_price(spread)}"


def last_trade_text(book: BookView) -> str:
    return "last -" if book.last_price is None else f"last {format_price(book.last_price)}"


# -- log -------------------------------------------------------------------------------------


def new_log_lines(shown: Sequence[str], latest: Sequence[str]) -> Sequence[str]:
    """The lines of ``latest`` not yet shown, when both are windows on the same growing log.

    Finds the longest tail of ``shown`` that starts ``latest``; what follows it is new. With no
    overlap at all (the window moved on by more than its length), every line is new.
    """
    if not shown:
        return latest
    n = len(latest)
    if tuple(shown[-n:]) == tuple(latest):
        return ()
    for start in range(max(0, len(shown) - n), len(shown)):
        overlap = len(shown) - start
        if tuple(shown[start:]) == tuple(latest[:overlap]):
            return latest[overlap:]
    return latest
