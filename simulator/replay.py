"""Replay a journal: run its orders through fresh books and check they make its fills and results.

The matching is deterministic: a symbol's events depend only on the orders its one book saw, in
the order it saw them. A journal holds the batches that crossed the wire; ``replay`` first
decodes them into the tables of ``simulator.journal_expand`` in a private temporary database
(numbering each symbol's arrivals, ``seq``, in journal order; the journal itself is only read).
The bank places the flow's orders in id order, ids 1, 2, 3, ... without a gap, so ``replay``
reads ``orders`` by id and checks that order first: no id may be missing, and each symbol's
``seq`` must run 1, 2, 3, ... in id order. Your own orders (ids 2**40 + n, ``outside_ids``)
arrived between them: each is fed to its book where its ``seq`` says, so a journal of a run
with your orders replays as exactly as one without. It feeds each symbol's orders to a fresh
``OrderBook`` (a CANCEL is ``cancel_into(id, target)``; an order for a symbol the run did not
trade gets the REJECT UNKNOWN_SYMBOL its broker sent) and compares every event it makes with
the journal, streaming (memory grows with the books, not with the journal). An order the
bank's pre-trade checks refused (a REJECT whose reason is one of ``risk.BANK_REASONS``,
journalled as an event of broker -1) never reached a book, so none is fed it either. The kill
switch's CANCEL_ALL is journalled where it went among the orders (``kill_switch``): each book
cancels that account's orders just before its first order placed after it, as its broker did:

* every trade with the ``fills`` table, symbol by symbol in match order;
* every ACK, REJECT (its reason), CANCELLED (its leaves) and CANCEL_DONE (its target) with the
  ``results`` table, read in order-id order alongside the orders; a journalled result the
  replay does not make is a difference too (a CANCELLED waits for the cancel that makes it).

A journal may hold a prefix of its run: it is *partial* when it has no final report (the run was
killed), when its report says the journal failed or dropped rows (``journal.failed``: a write
failure stopped it) or that the run lost orders. Then each symbol's journalled events must be
exactly the *first* events the replay makes for it, with no gap; the replay's events past them
are counted (``fills_beyond``, ``results_beyond``), not a difference. A complete journal must
match in full: every event, the report's count of orders and cancels, its fills digest.

``python simulate.py replay PATH``: exit status 0 if identical, 1 with the first difference,
2 if PATH is missing, not a regular file or not a journal; a stop signal (SIGINT, SIGTERM,
SIGHUP) ends it at once, with 128 + the signal's number.
"""

from __future__ import annotations

import argparse
import os
import re
import signal
import sys
import threading
from collections import deque
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

from simulator.agents import AGENT_BASE, AGENT_ORDER  # (agent_records.AGENT_ORDER)
from simulator.fills_digest import FillsDigest
from simulator.journal_expand import expanded_copy, read_kills
from simulator.journal_file import JournalError, open_journal, partial_reason, read_run_value, report_at
from simulator.kill_switch import Kill, placed_after
from simulator.order_types import stp_index
from simulator.orders import Event, OrderType, RejectReason, TimeInForce
from simulator.outside_ids import OUTSIDE_BASE
from simulator.processes import STOP_SIGNALS
from simulator.replay_agents import AgentReplay
from simulator.replay_check import MISSING, Symbol, Verdict, flat
from simulator.risk import BANK_REASONS
from simulator.stp_book import new_book

_TRADE = int(Event.TRADE)
_ACK, _SHOWN = int(Event.ACK), int(Event.SHOWN)
_EVENT_NAMES = {int(e): e.name for e in Event}
_TYPE_CODES = {t.name: int(t) for t in OrderType}
_TIF_CODES = {t.name: int(t) for t in TimeInForce}
_REJECT, _UNKNOWN_SYMBOL = int(Event.REJECT), int(RejectReason.UNKNOWN_SYMBOL)
# Used only when a journal has no config to name its symbols: what a ticker looks like
# (the same rule as simulator.config's --symbols check; the flow's bad symbol is "?BAD").
_TICKER = re.compile(r"^[A-Z][A-Z0-9.]{0,7}$")
_CHECK_EVERY = 4096  # orders between two looks at the stop flag (a look costs ~0.1 us)
_SQL_CHECK_STEPS = 100_000  # SQLite steps between two looks, inside one long statement

_COLUMNS = "id, symbol, seq, account, side, type, tif, price, qty, target"
_ORDERS_SQL = f"SELECT {_COLUMNS} FROM orders WHERE id <= {OUTSIDE_BASE} ORDER BY id"
_YOURS = f"> {OUTSIDE_BASE} AND id <= {AGENT_BASE}"  # agents' orders are made again (replay_agents)
_OUTSIDE_SQL = f"SELECT {_COLUMNS} FROM orders WHERE id {_YOURS} ORDER BY symbol, seq"
_OUTSIDE_RESULTS_SQL = (
    f"SELECT order_id, event, detail FROM results WHERE order_id {_YOURS.replace('id', 'order_id')}"
)
_FILLS_SQL = "SELECT match_seq, buy_id, sell_id, price, qty FROM fills WHERE symbol = ? ORDER BY match_seq"
_RESULTS_SQL = (
    f"SELECT order_id, event, detail FROM results WHERE order_id <= {OUTSIDE_BASE} ORDER BY order_id, event"
)
_SYMBOL_SQL = "SELECT symbol FROM orders WHERE id = ?"


class ReplayInterrupted(Exception):
    """A stop was asked for (``should_stop``) before the replay had its verdict."""

    def __init__(self, orders: int) -> None:
        super().__init__(f"stopped after {orders:,} orders")
        self.orders = orders


@dataclass(frozen=True, slots=True)
class ReplayResult:
    path: str
    orders: int  # journalled orders read (cancels and orders for unknown symbols included)
    fills_expected: int  # fills in the journal
    fills_got: int  # fills the replay made
    fills_beyond: int  # replayed fills past the end of a symbol's journalled fills
    complete: bool  # the journal holds the whole run: its report, nothing failed or lost
    identical: bool
    first_difference: str | None
    digest: str  # the replay's fills digest, defined as Ledger.fills_digest ("" if no config)
    results_expected: int = 0  # rows of ``results``
    results_got: int = 0  # ACK, REJECT, CANCELLED and CANCEL_DONE events the replay made
    results_beyond: int = 0  # replayed results a partial journal does not hold
    partial: str | None = None  # why the journal is a prefix of the run (None: complete)


def replay(path: str, should_stop: Callable[[], object] | None = None) -> ReplayResult:
    """Replay the journal at ``path``; raises JournalError if it is missing or not a journal,
    ReplayInterrupted as soon as ``should_stop()`` is true (it is asked every few thousand
    orders, and inside long SQLite statements)."""
    journal = open_journal(path)
    if should_stop is not None:
        journal.set_progress_handler(lambda: 1 if should_stop() else 0, _SQL_CHECK_STEPS)
    orders = 0
    con = None
    try:
        config = read_run_value(journal, "config")
        report = read_run_value(journal, "report")
        con = expanded_copy(journal, should_stop, _SQL_CHECK_STEPS)
        if should_stop is not None and should_stop():
            raise ReplayInterrupted(0)
        partial = partial_reason(report)
        v = Verdict(complete=partial is None)
        symbols = None
        if isinstance(config, dict) and isinstance(config.get("symbols"), list):
            symbols = [str(s) for s in config["symbols"]]
        journal_counts = {s: n for s, n in con.execute("SELECT symbol, count(*) FROM fills GROUP BY 1")}
        results_expected = con.execute("SELECT count(*) FROM results").fetchone()[0]
        known = set(symbols) if symbols is not None else None

        # the digest is defined over the run's symbols: without a config nothing is hashed
        fills_digest = FillsDigest(symbols or ())
        digest_syms = {s: i for i, s in enumerate(fills_digest.symbols)}
        add_fill = fills_digest.add
        syms: dict[object, Symbol] = {}
        results = iter(con.execute(_RESULTS_SQL))
        row = next(results, None)
        # results a later order makes (of a cancel, STP, a trigger): (id, event) -> detail
        later: dict[tuple[int, str], object] = {}
        agents = AgentReplay(con, config)
        later.update(agents.expected)  # the agents' results: made by the orders they react to
        desks: dict[object, Any] = {}
        stp = stp_index(config.get("stp") if isinstance(config, dict) else None)  # the run's --stp
        types, tifs, names = _TYPE_CODES, _TIF_CODES, _EVENT_NAMES
        results_got = 0
        out: list = []
        last_oid = 0
        # your orders (``outside_ids``: not the flow's ids) by symbol in arrival order, and their
        # results: they arrived between the flow's orders, each where its ``seq`` says
        outside: dict[object, deque[tuple]] = {}
        for order in con.execute(_OUTSIDE_SQL):
            outside.setdefault(order[1], deque()).append(order)
        # the kill switch: each use applies to a book just before its first order placed after
        kills = read_kills(con)
        outside_results: dict[int, dict] = {}
        for oid, name, detail in con.execute(_OUTSIDE_RESULTS_SQL):
            outside_results.setdefault(oid, {})[name] = detail

        def feed(order: tuple, mine: dict | None) -> None:
            """Run one journalled order through its symbol's book and compare what it makes
            with ``mine``, its journalled results (event -> detail)."""
            nonlocal out
            oid, symbol, seq, account, side, otype, tif, price, qty, target = order
            s = syms.get(symbol)
            if s is None:
                trades = symbol in known if known is not None else _looks_like_ticker(symbol)
                s = syms[symbol] = Symbol(
                    str(symbol),
                    new_book(str(symbol), max(digest_syms.get(symbol, 0), 0), stp) if trades else None,
                    iter(con.execute(_FILLS_SQL, (symbol,))),
                    digest_syms.get(symbol, -1),
                )
            while s.kills < len(kills) and placed_after(oid, kills[s.kills]):
                kill(s, kills[s.kills])
            s.seq += 1
            if seq != s.seq:
                v.differ(f"{s.name} order {oid}: arrival seq {seq}, but by its id arrival {s.seq}")
            del out[:]
            book = s.book
            if mine and mine.get("REJECT") in BANK_REASONS:  # refused in the bank: no book saw it
                out += (_REJECT, oid, mine["REJECT"], 0, 0, 0, 0)
            elif book is None:
                out += (_REJECT, oid, _UNKNOWN_SYMBOL, 0, 0, 0, 0)
            elif otype == "CANCEL":  # qty > 0: an amend
                if type(target) is int and type(price) is int and type(qty) is int:
                    book.cancel_into(out, oid, target, price, qty)
                else:
                    out = flat(book.cancel(oid, target, price, qty))
            elif type(price) is int and type(qty) is int and type(side) is int and type(account) is int:
                code, tcode = types.get(otype, -1), tifs.get(tif, -1)
                book.submit_into(out, oid, account, side, code, tcode, price, qty, target or 0)
            else:  # what no int64 wire record carries: the book's own checks say MALFORMED
                code, tcode = types.get(otype, -1), tifs.get(tif, -1)
                out = flat(book.submit(oid, account, side, code, tcode, price, qty, target or 0))
            if book is not None and not (mine and mine.get("REJECT") in BANK_REASONS):
                desk = desks[symbol] if symbol in desks else desks.setdefault(symbol, agents.desk(book))
                if desk is not None:  # the agents react to it, as they did beside its broker's book
                    out = agents.react(desk, oid, out, book)
            compare(s, oid, mine)

        def kill(s: Symbol, k: Kill) -> None:
            """The kill switch on ``s``'s book, as its broker did on the CANCEL_ALL: cancel the
            account's orders and stop its agents (compared with the journal), or release them."""
            s.kills += 1
            desk = desks.get(s.name)
            if k.released:
                if desk is not None:
                    desk.release(k.account)
            elif s.book is not None:
                del out[:]
                s.book.cancel_account_into(out, k.account, max(k.flow_upto, k.you_upto))
                if desk is not None:
                    desk.halt(k.account, out)
                compare(s, None, None)

        def compare(s: Symbol, oid: int | None, mine: dict | None) -> None:
            """Compare what the book made (``out``) for order ``oid`` with ``mine``, its
            journalled results (event -> detail), and the journal's fills."""
            nonlocal results_got
            it = iter(out)
            for kind, a, b, c, d, e, f in zip(it, it, it, it, it, it, it):
                if kind == _TRADE:
                    fill = (b, c, d, e, f)
                    s.replayed += 1
                    if s.digest_sym >= 0:
                        add_fill(s.digest_sym, fill)
                    expected = next(s.journal, None)
                    if expected != fill or s.cut is not None:
                        v.fill(s, expected, fill)
                    continue
                if kind == _SHOWN:  # not journalled as a result (journal_expand)
                    continue
                if kind == AGENT_ORDER:
                    agents.check(s.name, a, b, c, d, e, f, v)
                    continue
                results_got += 1
                name = names[kind]
                detail = None if kind == _ACK else b
                if a == oid:
                    got = mine.pop(name, MISSING) if mine else MISSING
                else:  # a result of an earlier order, made by this one
                    got = later.pop((a, name), MISSING)
                if got != detail or s.cut is not None:
                    v.result(s, a, name, got, detail, mine if a == oid else None)
            if mine and oid is not None:
                for name, detail in mine.items():  # an order further on may make it
                    later[(oid, name)] = detail

        for flow_row in con.execute(_ORDERS_SQL):
            oid, symbol, seq = flow_row[:3]
            orders += 1
            if should_stop is not None and not orders % _CHECK_EVERY and should_stop():
                raise ReplayInterrupted(orders)
            if oid != last_oid + 1:
                v.differ(f"order {last_oid + 1} is missing: the journal's orders go from {last_oid} to {oid}")
            last_oid = oid
            waiting = outside.get(symbol)
            while waiting and waiting[0][2] < seq:  # yours that arrived before this one
                order = waiting.popleft()
                orders += 1
                feed(order, outside_results.pop(order[0], None))
            mine = None  # this order's journalled results: event -> detail
            while row is not None and row[0] <= oid:
                if row[0] < oid:
                    v.extra(None, row[0], row[1], row[2])  # an id with no order
                else:
                    mine = mine or {}
                    mine[row[1]] = row[2]
                row = next(results, None)

            feed(flow_row, mine)
        for waiting in outside.values():  # yours after the last flow order of their symbol
            for order in waiting:
                orders += 1
                feed(order, outside_results.pop(order[0], None))
        for s in syms.values():  # kill switches after a symbol's last order
            while s.kills < len(kills):
                kill(s, kills[s.kills])
        for oid, mine in outside_results.items():  # results of no journalled order of yours
            for name, detail in mine.items():
                v.extra(None, oid, name, detail)
        if row is not None:
            v.extra(None, row[0], row[1], row[2])
        orders += agents.made
        agents.leftover(v)
        if later:
            oid, name = min(later)
            v.extra(con.execute(_SYMBOL_SQL, (oid,)).fetchone()[0], oid, name, later[oid, name])

        complete = v.complete
        for symbol in sorted(set(journal_counts) | set(syms), key=str):
            journalled = journal_counts.get(symbol, 0)
            check = syms.get(symbol)
            replayed = check.replayed if check else 0
            if journalled > replayed or (complete and journalled != replayed):
                v.differ(f"journal has {journalled:,} fills of {symbol}, replay {replayed:,}")
        digest = fills_digest.hexdigest() if symbols is not None else ""
        if complete and isinstance(report, dict) and v.first is None:
            v.first = _against_report(report, orders, digest if symbols is not None else None)
        return ReplayResult(
            path=path,
            orders=orders,
            fills_expected=sum(journal_counts.values()),
            fills_got=sum(c.replayed for c in syms.values()),
            fills_beyond=v.fills_beyond,
            complete=complete,
            identical=v.first is None,
            first_difference=v.first,
            digest=digest,
            results_expected=results_expected,
            results_got=results_got,
            results_beyond=0 if complete else v.results_beyond,
            partial=partial,
        )
    except (JournalError, ReplayInterrupted):
        raise
    except Exception as exc:  # sqlite3.Error mostly: a damaged journal
        if should_stop is not None and should_stop():  # SQLite's "interrupted", from the handler
            raise ReplayInterrupted(orders) from None
        raise JournalError(f"{path}: cannot replay the journal: {type(exc).__name__}: {exc}") from exc
    finally:
        if con is not None:
            con.close()
        journal.close()


def _against_report(report: dict, orders: int, digest: str | None) -> str | None:
    """The first way a complete journal disagrees with its own final report, or None."""
    placed, sent = report_at(report, "orders", "placed"), report_at(report, "cancel_requests", "sent")
    if isinstance(placed, int) and isinstance(sent, int) and placed + sent != orders:
        return (
            f"the report says {placed:,} orders and {sent:,} cancels were placed; the journal has {orders:,}"
        )
    reported = report_at(report, "fills", "digest")
    if digest is not None and isinstance(reported, str) and reported != digest:
        return f"the report's fills digest {reported[:16]}... vs replay {digest[:16]}..."
    return None


def _looks_like_ticker(symbol: object) -> bool:
    return isinstance(symbol, str) and _TICKER.match(symbol) is not None


def summary(result: ReplayResult) -> str:
    state = "run complete" if result.complete else f"partial: {result.partial}"
    lines = [
        f"journal {result.path}: {result.orders:,} orders, {result.fills_expected:,} fills, "
        f"{result.results_expected:,} results ({state})",
        f"replay made {result.fills_got:,} fills and {result.results_got:,} results"
        + (
            f", {result.fills_beyond:,} fills and {result.results_beyond:,} results past the journal's end"
            if result.fills_beyond or result.results_beyond
            else ""
        ),
    ]
    if result.identical:
        lines.append(
            "identical: every journalled fill and result is what the replay made, in the journalled "
            "arrival order" + ("" if result.complete else " (the journal is a prefix of the run)")
        )
    else:
        lines.append(f"DIFFERENT: {result.first_difference}")
    return "\n".join(lines)


class _StopSignal:
    """The first stop signal (SIGINT, SIGTERM, SIGHUP) to arrive, as a flag the replay reads.
    A signal ignored by whoever started us stays ignored, as in a run."""

    def __init__(self) -> None:
        self.signum: int | None = None
        self._previous: dict[int, Any] = {}

    def _handle(self, signum: int, _frame: object) -> None:
        if self.signum is None:
            self.signum = signum

    def __call__(self) -> bool:
        return self.signum is not None

    def install(self, early: list[int] | None) -> None:
        if threading.current_thread() is threading.main_thread():
            for sig in STOP_SIGNALS:
                if signal.getsignal(sig) is not signal.SIG_IGN:
                    self._previous[sig] = signal.signal(sig, self._handle)
        if early:  # noted while the program was still importing, until the line above
            self._handle(early[0], None)

    def restore(self) -> None:
        for sig, handler in self._previous.items():
            signal.signal(sig, handler)


def main(argv: Sequence[str] | None = None, early_signals: list[int] | None = None) -> int:
    """``simulate.py replay PATH``: ``argv`` is what follows ``replay``; ``early_signals``, the
    stop signals that arrived before it could handle them (``processes.early_signals``)."""
    parser = argparse.ArgumentParser(
        prog="simulate.py replay",
        description="Replay a journal's orders through fresh books and compare with its fills and results.",
        allow_abbrev=False,
    )
    parser.add_argument("path", metavar="PATH", help="a journal written with --journal")
    # a usage error in one line, as the simulator's own flags give it
    parser.error = lambda message: parser.exit(2, f"{parser.prog}: error: {message}\n")  # type: ignore[method-assign]
    try:
        args = parser.parse_args(list(sys.argv[1:] if argv is None else argv))
    except SystemExit as exc:  # --help (0) or a usage error (2), already printed
        return int(exc.code or 0)
    stop = _StopSignal()
    stop.install(early_signals)
    try:
        try:
            if stop():
                raise ReplayInterrupted(0)
            result = replay(args.path, should_stop=stop)
        except JournalError as exc:
            print(f"replay: {exc}", file=sys.stderr)
            return 2
        except ReplayInterrupted as exc:
            signum = stop.signum or signal.SIGINT
            name = signal.Signals(signum).name
            print(f"replay: stopped by {name} after {exc.orders:,} orders, before a verdict", file=sys.stderr)
            return 128 + signum
        return _print(summary(result), 0 if result.identical else 1)
    finally:
        stop.restore()


def _print(text: str, code: int) -> int:
    """Print the verdict; a reader that went away (``| head -0``) ends us as it would any
    command, with the status of SIGPIPE, not a traceback."""
    try:
        print(text, flush=True)
    except (BrokenPipeError, ValueError):  # ValueError: stdout was closed under us
        try:  # what is still buffered for the dead pipe would fail again at interpreter exit
            devnull = os.open(os.devnull, os.O_WRONLY)
            os.dup2(devnull, sys.stdout.fileno())
            os.close(devnull)
        except (OSError, ValueError, AttributeError):
            pass
        return 128 + signal.SIGPIPE
    return code
