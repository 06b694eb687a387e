"""Replay a journal: run its orders through fresh books and check they make its fills.

The matching is deterministic: a symbol's fills depend only on the orders its one book saw, in
the order it saw them, which is id order. ``replay`` reads ``orders`` by id, feeds each symbol's
orders to a fresh ``OrderBook`` (a CANCEL is ``book.cancel(id, target)``; an order for a symbol
the run did not trade is skipped, as the bank or its broker rejected it), and compares every
trade with the ``fills`` table, symbol by symbol in match order, streaming (memory grows with
the books, not with the journal).

What is comparable: a run stopped by ``kill -9`` leaves a prefix of the journal, and its last
orders may be journalled without their fills. So each symbol's journalled fills must equal the
*first* fills of the replay; replayed fills past the end of the journal are counted
(``fills_beyond``), not a difference. Only when the journal holds the final report (the run
ended) must the counts match too, and then the replay's fills digest (as
``Ledger.fills_digest``) must also equal the report's.

``python simulate.py replay PATH``: exit status 0 if identical, 1 with the first difference,
2 if PATH is missing or not a journal.
"""

from __future__ import annotations

import argparse
import re
import sys
from collections.abc import Iterator, Sequence
from dataclasses import dataclass

from simulator.book import OrderBook
from simulator.fills_digest import FillsDigest
from simulator.journal_file import JournalError, open_journal, read_run_value
from simulator.orders import Event, OrderType, TimeInForce

_TRADE = int(Event.TRADE)
_TYPE_CODES = {t.name: int(t) for t in OrderType}
_TIF_CODES = {t.name: int(t) for t in TimeInForce}
# Used only when a journal has no config to name its symbols: what a ticker looks like
# (the same rule as simulator.config's --symbols check; the flow's bad symbol is "?BAD").
_TICKER = re.compile(r"^[A-Z][A-Z0-9.]{0,7}$")

_ORDERS_SQL = "SELECT id, account, symbol, side, type, tif, price, qty, target FROM orders ORDER BY id"
_FILLS_SQL = "SELECT match_seq, buy_id, sell_id, price, qty FROM fills WHERE symbol = ? ORDER BY match_seq"


@dataclass(frozen=True, slots=True)
class ReplayResult:
    path: str
    orders: int  # journalled orders read (cancels and orders for unknown symbols included)
    fills_expected: int  # fills in the journal
    fills_got: int  # fills the replay made
    fills_beyond: int  # replayed fills past the end of a symbol's journalled fills
    complete: bool  # the journal holds the final report: the run ended, not killed
    identical: bool
    first_difference: str | None
    digest: str  # the replay's fills digest, defined as Ledger.fills_digest ("" if no config)


class _SymbolCheck:
    """One symbol: its fresh book, the journal's fills as a stream, its place in the digest."""

    __slots__ = ("book", "journal", "replayed", "matched", "digest_sym")

    def __init__(self, symbol: str, journal: Iterator[tuple], digest_sym: int) -> None:
        self.book = OrderBook(symbol)
        self.journal = journal
        self.replayed = 0
        self.matched = 0  # replayed fills that had a journalled fill to compare with
        self.digest_sym = digest_sym  # the symbol's index in the FillsDigest, -1 if none is made


def _fmt(fill: Sequence[object]) -> str:
    return ",".join(str(x) for x in fill)


def replay(path: str) -> ReplayResult:
    """Replay the journal at ``path``; raises JournalError if it is missing or not a journal."""
    con = open_journal(path)
    try:
        config = read_run_value(con, "config")
        report = read_run_value(con, "report")
        symbols = None
        if isinstance(config, dict) and isinstance(config.get("symbols"), list):
            symbols = [str(s) for s in config["symbols"]]
        journal_counts = {s: n for s, n in con.execute("SELECT symbol, count(*) FROM fills GROUP BY 1")}
        known = set(symbols) if symbols is not None else None

        # the digest is defined over the run's symbols: without a config nothing is hashed
        fills_digest = FillsDigest(symbols or ())
        digest_syms = {s: i for i, s in enumerate(fills_digest.symbols)}
        checks: dict[str, _SymbolCheck] = {}
        skipped: set[object] = set()
        first: str | None = None
        beyond = 0
        orders = 0
        for oid, account, symbol, side, otype, tif, price, qty, target in con.execute(_ORDERS_SQL):
            orders += 1
            check = checks.get(symbol)
            if check is None:
                if symbol in skipped:
                    continue
                if not (symbol in known if known is not None else _looks_like_ticker(symbol)):
                    skipped.add(symbol)
                    continue
                check = checks[symbol] = _SymbolCheck(
                    symbol, iter(con.execute(_FILLS_SQL, (symbol,))), digest_syms.get(symbol, -1)
                )
            if otype == "CANCEL":
                events = check.book.cancel(oid, target)
            else:
                events = check.book.submit(
                    oid,
                    account,
                    side,
                    _TYPE_CODES.get(otype, -1),
                    _TIF_CODES.get(tif, -1),
                    price,
                    qty,
                )
            for ev in events:
                if ev[0] != _TRADE:
                    continue
                got = ev[2:]
                check.replayed += 1
                if check.digest_sym >= 0:
                    fills_digest.add(check.digest_sym, got)
                expected = next(check.journal, None)
                if expected is None:
                    beyond += 1
                    continue
                check.matched += 1
                if first is None and tuple(expected) != got:
                    first = f"{symbol} match {got[0]}: journal {_fmt(expected)} vs replay {_fmt(got)}"

        complete = isinstance(report, dict)
        counts_differ = []
        for symbol in sorted(set(journal_counts) | set(checks), key=str):
            journalled = journal_counts.get(symbol, 0)
            check = checks.get(symbol)
            replayed = check.replayed if check else 0
            if journalled > replayed or (complete and journalled != replayed):
                counts_differ.append(f"journal has {journalled:,} fills of {symbol}, replay {replayed:,}")
        if first is None and counts_differ:
            first = counts_differ[0]

        digest = ""
        if symbols is not None:
            digest = fills_digest.hexdigest()
            fills_info = report.get("fills") if complete else None
            reported = fills_info.get("digest") if isinstance(fills_info, dict) else None
            if first is None and isinstance(reported, str) and reported != digest:
                first = f"the report's fills digest {reported[:16]}... vs replay {digest[:16]}..."
        return ReplayResult(
            path=path,
            orders=orders,
            fills_expected=sum(journal_counts.values()),
            fills_got=sum(c.replayed for c in checks.values()),
            fills_beyond=beyond,
            complete=complete,
            identical=first is None,
            first_difference=first,
            digest=digest,
        )
    except JournalError:
        raise
    except Exception as exc:  # sqlite3.Error mostly: a damaged journal
        raise JournalError(f"{path}: cannot replay the journal: {type(exc).__name__}: {exc}") from exc
    finally:
        con.close()


def _looks_like_ticker(symbol: object) -> bool:
    return isinstance(symbol, str) and _TICKER.match(symbol) is not None


def summary(result: ReplayResult) -> str:
    lines = [
        f"journal {result.path}: {result.orders:,} orders, {result.fills_expected:,} fills "
        f"({'run complete' if result.complete else 'no final report: the run did not finish'})",
        f"replay made {result.fills_got:,} fills"
        + (f", {result.fills_beyond:,} of them past the end of the journal" if result.fills_beyond else ""),
    ]
    if result.identical:
        lines.append(
            "identical: every journalled fill is what the replay made"
            + ("" if result.complete else " (the journal is a prefix of the run)")
        )
    else:
        lines.append(f"DIFFERENT: {result.first_difference}")
    return "\n".join(lines)


def main(argv: Sequence[str] | None = None) -> int:
    """``simulate.py replay PATH``: ``argv`` is what follows ``replay``."""
    parser = argparse.ArgumentParser(
        prog="simulate.py replay",
        description="Replay a journal's orders through fresh books and compare with its fills.",
    )
    parser.add_argument("path", metavar="PATH", help="a journal written with --journal")
    try:
        args = parser.parse_args(list(sys.argv[1:] if argv is None else argv))
    except SystemExit as exc:  # --help (0) or a usage error (2), already printed
        return int(exc.code or 0)
    try:
        result = replay(args.path)
    except JournalError as exc:
        print(f"replay: {exc}", file=sys.stderr)
        return 2
    print(summary(result), flush=True)
    return 0 if result.identical else 1
