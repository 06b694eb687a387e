"""The summary's lines for the figures a report has from version 3 on: the busiest symbols and
the best and worst accounts (``simulator.report`` writes the rest of the summary).

A report of an earlier version has none of these keys, and gets none of these lines.
"""

from __future__ import annotations

SYMBOLS_SHOWN = 5  # the busiest symbols by volume; the report holds --report-symbols of them


def figure_lines(report: dict) -> list[str]:
    lines = []
    symbols = report.get("symbols") or {}
    if symbols:
        busiest = sorted(symbols.items(), key=lambda item: (-item[1]["volume"], item[0]))[:SYMBOLS_SHOWN]
        count = (report.get("symbols_listed") or {}).get("count", len(symbols))
        more = f" (the busiest {len(busiest)} of {count:,})" if count > len(busiest) else ""
        lines.append(f"symbols  trades, volume, VWAP, open/high/low/close, final spread{more}")
        for name, row in busiest:
            lines.append("  " + symbol_line(name, row))
    accounts = report.get("accounts") or {}
    if accounts.get("top"):
        best, worst = accounts["top"][0], accounts["bottom"][0]
        lines.append(
            f"accounts {accounts['count']:,}: best #{best['account']} P&L {best['pnl']:+,}, "
            f"worst #{worst['account']} {worst['pnl']:+,} ({accounts['unit']}, marked to the last trades)"
        )
    return lines


def symbol_line(name: str, row: dict) -> str:
    book = row.get("final_book") or {}
    spread = book.get("spread")
    if row["trades"]:
        ohlc = f"{row['open']}/{row['high']}/{row['low']}/{row['close']}"
        traded = f"{row['trades']:>8,} trades {row['volume']:>10,} shares VWAP {row['vwap']:>9.2f} {ohlc}"
    else:
        traded = "no trades"
    depth = f"{book.get('bid_shares', 0):,} x {book.get('ask_shares', 0):,} shares"
    return f"{name:<6} {traded}  spread {spread if spread is not None else '-'}, depth {depth}"
