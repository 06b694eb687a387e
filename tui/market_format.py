"""Text for the symbols table, the book's depth bars and changed levels, and the price chart.

Plain functions of Snapshot parts, tested without an app (tests/tui/test_market.py).
"""

from __future__ import annotations

from collections.abc import Sequence

from simulator.orders import format_price
from simulator.stats import BookView, MarketRow
from tui.format import Column, fit_columns, fmt_count, table_line

# -- the symbols table ---------------------------------------------------------------------------

MARKET_COLUMNS: tuple[Column, ...] = (
    Column("symbol", 8, 0),
    Column("last", 10, 0, right=True),
    Column("change", 9, 1, right=True),
    Column("chg%", 7, 2, right=True),
    Column("vwap", 10, 1, right=True),
    Column("volume", 12, 1, right=True),
    Column("trades", 9, 3, right=True),
    Column("high", 10, 2, right=True),
    Column("low", 10, 2, right=True),
    Column("bid", 10, 3, right=True),
    Column("ask", 10, 3, right=True),
    Column("spread", 7, 2, right=True),
)
# the sort keys, in the order ``s`` cycles through them: (title, key, largest first)
SORTS = (
    ("volume", lambda r: r.volume, True),
    ("symbol", lambda r: r.symbol, False),
    ("change", lambda r: r.change / r.first if r.first else 0.0, True),
    ("last", lambda r: r.last, True),
    ("spread", lambda r: r.spread if r.spread is not None else -1, True),
    ("trades", lambda r: r.trades, True),
)


def signed_price(ticks: int) -> str:
    return ("+" if ticks > 0 else "") + format_price(ticks)


def market_cells(row: MarketRow) -> tuple[str, ...]:
    """One symbol's row as the strings of ``MARKET_COLUMNS``."""
    pct = f"{100 * row.change / row.first:+.2f}%" if row.first else "-"
    return (
        row.symbol,
        format_price(row.last) if row.trades else "-",
        signed_price(row.change) if row.trades else "-",
        pct,
        f"{row.vwap / 100:,.2f}" if row.trades else "-",
        fmt_count(row.volume),
        fmt_count(row.trades),
        format_price(row.high) if row.trades else "-",
        format_price(row.low) if row.trades else "-",
        format_price(row.bid) if row.bid else "-",
        format_price(row.ask) if row.ask else "-",
        format_price(row.spread) if row.spread is not None else "-",
    )


def sorted_rows(rows: Sequence[MarketRow], sort: int) -> list[MarketRow]:
    """``rows`` in the order of ``SORTS[sort]`` (ties by symbol)."""
    _title, key, descending = SORTS[sort % len(SORTS)]
    by_symbol = sorted(rows, key=lambda r: r.symbol)
    return sorted(by_symbol, key=key, reverse=descending)


def market_lines(rows: Sequence[MarketRow], width: int, sort: int) -> list[tuple[str, int]]:
    """The header then one line per symbol, fitted to ``width``: (text, change sign)."""
    fitted = fit_columns(width, MARKET_COLUMNS)
    lines = [(table_line([c.title for c in MARKET_COLUMNS], fitted, MARKET_COLUMNS), 0)]
    for row in sorted_rows(rows, sort):
        lines.append(
            (table_line(market_cells(row), fitted, MARKET_COLUMNS), (row.change > 0) - (row.change < 0))
        )
    return lines


# -- the book in motion --------------------------------------------------------------------------


def changed_levels(book: BookView, before: BookView | None) -> set[tuple[str, int]]:
    """The ('bid'|'ask', price) levels of ``book`` that are new or changed since ``before``
    (the same symbol's previous book); none when there is nothing to compare with."""
    if before is None or before.symbol != book.symbol:
        return set()
    changed = set()
    for side, now, then in (("bid", book.bids, before.bids), ("ask", book.asks, before.asks)):
        old = {p: (q, n) for p, q, n in then}
        changed |= {(side, p) for p, q, n in now if old.get(p) != (q, n)}
    return changed


def depth_bar(cumulative: int, most: int, width: int) -> str:
    """A bar of ``width`` cells at most, as long as ``cumulative`` is of ``most`` (eighths)."""
    if width <= 0 or most <= 0:
        return ""
    eighths = round(8 * width * min(cumulative, most) / most)
    full, part = divmod(eighths, 8)
    return "\u2588" * full + (" \u258f\u258e\u258d\u258c\u258b\u258a\u2589"[part] if part else "")


def cumulative(levels: Sequence[tuple[int, int, int]]) -> list[int]:
    """Shares resting at each level and every better one: the depth a market order meets."""
    out, total = [], 0
    for _price, qty, _orders in levels:
        total += qty
        out.append(total)
    return out


# -- the price chart -----------------------------------------------------------------------------


def chart_rows(
    points: Sequence[tuple[float, int]], width: int, height: int
) -> tuple[list[str], int, int, float, float]:
    """A dot chart of (time, price) points, oldest left: ``height`` rows of ``width`` cells,
    and the (low, high) prices and (first, last) times it spans. Each column is the last
    price of its slice of time; a column with no point repeats the one before."""
    if not points or width <= 0 or height <= 0:
        return [], 0, 0, 0.0, 0.0
    t0, t1 = points[0][0], points[-1][0]
    span = (t1 - t0) or 1.0
    columns: list[int | None] = [None] * width
    for t, price in points:
        columns[min(width - 1, int((t - t0) / span * (width - 1)))] = price
    last: int | None = None
    for i, seen in enumerate(columns):
        last = seen if seen is not None else last
        columns[i] = last
    prices = [p for p in columns if p is not None]
    low, high = min(prices), max(prices)
    grid = [[" "] * width for _ in range(height)]
    for x, shown in enumerate(columns):
        if shown is None:
            continue
        price = shown
        level = 0 if high == low else round((price - low) / (high - low) * (height - 1))
        grid[height - 1 - level][x] = "\u2022"
    return ["".join(row) for row in grid], low, high, t0, t1
