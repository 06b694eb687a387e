"""The journal's batches as tables: ``orders``, ``fills`` and ``results``, for SQL and for replay.

A journal stores what crossed the wire, one row per batch (``simulator.journal_file``). This
module decodes the batches, in journal order, into the tables of a row per order and per event::

    orders(id INTEGER PRIMARY KEY,  -- the order id (oid)
           seq INTEGER,             -- per-symbol arrival number, 1, 2, ... in journal order
           account INTEGER, symbol TEXT,
           side INTEGER,            -- 1 buy, -1 sell, 0 cancel
           type TEXT, tif TEXT,     -- LIMIT MARKET CANCEL; DAY IOC
           price INTEGER,           -- ticks (1 tick = 1 cent); 0 for MARKET and CANCEL
           qty INTEGER,             -- shares; 0 for CANCEL
           target INTEGER,          -- the order a CANCEL cancels, or NULL
           created_ns INTEGER)      -- when the bank placed it (its monotonic clock, ns)
    fills(symbol TEXT, match_seq INTEGER, buy_id INTEGER, sell_id INTEGER, price INTEGER,
          qty INTEGER, PRIMARY KEY(symbol, match_seq)) WITHOUT ROWID
    results(order_id INTEGER, event TEXT,   -- ACK REJECT CANCELLED CANCEL_DONE
            detail INTEGER,         -- REJECT: RejectReason code; CANCELLED: leaves;
                                    -- CANCEL_DONE: the cancelled order's id; ACK: NULL;
                                    -- AMENDED (of the amend's id): the amended order's id;
                                    -- TRIGGERED (of the stop): its priority stamp
            broker INTEGER,         -- the index of the broker that answered
            PRIMARY KEY(order_id, event)) WITHOUT ROWID
    kills(seq INTEGER PRIMARY KEY,  -- the kill switch engaged, in order (simulator.kill_switch)
          account INTEGER,          -- -1: every account
          flow_upto INTEGER, you_upto INTEGER,  -- the last flow order and yours placed before it
          released INTEGER,         -- 0 engaged, 1 released
          t_ns INTEGER)

For a CANCEL, ``results`` holds ``(cancel id, 'CANCEL_DONE', target id)`` and
``(target id, 'CANCELLED', leaves)``, or ``(cancel id, 'REJECT', reason)``. An answer stored
twice (a restarted broker answered orders sent to it again) is kept once, the first time; an
order stored twice keeps its first row, and its second still takes an arrival number.

``simulate.py journal expand PATH`` builds them inside the journal itself (replacing any built
before) and records run('expanded'); ``replay`` builds them in a private temporary database.
The cost is paid once, after the run, by whoever wants the tables: about 2 s per million
records here, and the tables take about half the batches' space again.
"""

from __future__ import annotations

import argparse
import json
import logging
import sqlite3
import sys
import time
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass

from simulator import wire
from simulator.agent_records import AGENT_ORDER, unpack_kind
from simulator.journal_file import (
    KILL,
    KIND_NAMES,
    ORDERS,
    RELEASE,
    WIDTHS,
    JournalError,
    open_journal,
    read_batches,
    read_run_value,
)
from simulator.kill_switch import Kill
from simulator.orders import Event, OrderType, TimeInForce

log = logging.getLogger("journal")

TABLE_SCHEMA = """
DROP TABLE IF EXISTS orders; DROP TABLE IF EXISTS fills; DROP TABLE IF EXISTS results;
DROP TABLE IF EXISTS kills;
CREATE TABLE orders(id INTEGER PRIMARY KEY, seq INTEGER, account INTEGER, symbol TEXT,
    side INTEGER, type TEXT, tif TEXT, price INTEGER, qty INTEGER, target INTEGER, created_ns INTEGER);
CREATE TABLE fills(symbol TEXT, match_seq INTEGER, buy_id INTEGER, sell_id INTEGER,
    price INTEGER, qty INTEGER, PRIMARY KEY(symbol, match_seq)) WITHOUT ROWID;
CREATE TABLE results(order_id INTEGER, event TEXT, detail INTEGER, broker INTEGER,
    PRIMARY KEY(order_id, event)) WITHOUT ROWID;
CREATE TABLE kills(seq INTEGER PRIMARY KEY, account INTEGER, flow_upto INTEGER, you_upto INTEGER,
    released INTEGER, t_ns INTEGER);
"""
INSERT_ORDERS = "INSERT OR IGNORE INTO orders VALUES (?,?,?,?,?,?,?,?,?,?,?)"
INSERT_FILLS = "INSERT OR IGNORE INTO fills VALUES (?,?,?,?,?,?)"
INSERT_RESULTS = "INSERT OR IGNORE INTO results VALUES (?,?,?,?)"
INSERT_KILL = "INSERT INTO kills(account, flow_upto, you_upto, released, t_ns) VALUES (?,?,?,?,?)"

# Names stored for the enum codes, looked up per row (dicts: a bad code is a KeyError, never a
# silent wrap-around as a negative tuple index would be).
TYPE_NAMES = {int(t): t.name for t in OrderType}
TIF_NAMES = {int(t): t.name for t in TimeInForce}
RESULT_NAMES = {int(e): e.name for e in Event if e != Event.TRADE}
# an iceberg shows slices several times: not a result (one per order and event), the fills say it
_SHOWN = int(Event.SHOWN)

_TRADE = int(Event.TRADE)
_CANCEL = int(OrderType.CANCEL)
_ACK = int(Event.ACK)
_UNKNOWN = wire.UNKNOWN_SYMBOL_NAME  # the name stored for a sym that is not the run's
_GROUP_ROWS = 200_000  # rows inserted per executemany


@dataclass(frozen=True, slots=True)
class Expansion:
    """What an expansion made."""

    batches: int  # read (every kind)
    orders: int  # rows of orders
    fills: int  # rows of fills (answers stored twice counted once)
    results: int  # rows of results (likewise)
    bad_rows: int  # records skipped: a code that names nothing, a blob that is not whole records
    seconds: float


def decode(data: bytes, width: int) -> list[tuple[int, ...]] | None:
    """A blob of native int64 records as tuples of ``width``; None if it is not whole records."""
    if not isinstance(data, bytes) or len(data) % (width * wire.INT_SIZE):
        return None
    flat = memoryview(data).cast("q").tolist()
    it = iter(flat)
    return list(zip(*[it] * width))


def expand(
    source: sqlite3.Connection,
    target: sqlite3.Connection,
    should_stop: Callable[[], object] | None = None,
) -> Expansion:
    """Build the tables in ``target`` (an autocommit connection; it may be ``source``'s file
    opened for writing) from the batches of the journal ``source``. The tables are replaced."""
    t0 = time.monotonic()
    config = read_run_value(source, "config")
    symbols = config.get("symbols", ()) if isinstance(config, dict) else ()
    table = TableRows(symbols if isinstance(symbols, list) else ())
    target.execute("BEGIN")
    try:
        for statement in TABLE_SCHEMA.split(";"):
            if statement.strip():
                target.execute(statement)
        orders: list[tuple] = []
        fills: list[tuple] = []
        results: list[tuple] = []
        batches = 0
        for _id, kind, broker, t_ns, _n, data in read_batches(source):
            batches += 1
            width = WIDTHS.get(kind)
            if width is None:
                continue  # a restart or stop mark
            records = decode(data, width)
            if records is None:
                table.bad_blob(kind, data)
            elif kind == ORDERS:
                table.orders(records, t_ns, orders)
            elif kind == KILL or kind == RELEASE:
                target.executemany(INSERT_KILL, [(*r, int(kind == RELEASE), t_ns) for r in records])
            else:
                table.events(records, broker, fills, results, orders, t_ns)
            if len(orders) + len(fills) + len(results) >= _GROUP_ROWS:
                _insert(target, orders, fills, results)
                if should_stop is not None and should_stop():
                    break
        _insert(target, orders, fills, results)
        target.execute("COMMIT")
    except BaseException:
        if target.in_transaction:
            target.execute("ROLLBACK")
        raise
    count = {
        t: target.execute(f"SELECT count(*) FROM {t}").fetchone()[0] for t in ("orders", "fills", "results")
    }
    return Expansion(
        batches, count["orders"], count["fills"], count["results"], table.bad_rows, time.monotonic() - t0
    )


def expanded_copy(
    journal: sqlite3.Connection, should_stop: Callable[[], object] | None = None, check_steps: int = 100_000
) -> sqlite3.Connection:
    """The tables of ``journal`` in SQLite's private temporary database (deleted when the
    connection it returns is closed); the journal itself is only read. ``should_stop`` is
    asked between groups of rows and every ``check_steps`` SQLite steps."""
    con = sqlite3.connect("", isolation_level=None)
    try:
        con.execute("PRAGMA journal_mode = OFF")  # a scratch copy: nothing to roll back to
        con.execute("PRAGMA synchronous = OFF")
        if should_stop is not None:
            con.set_progress_handler(lambda: 1 if should_stop() else 0, check_steps)
        expand(journal, con, should_stop)
    except BaseException:
        con.close()
        raise
    return con


def read_kills(con: sqlite3.Connection) -> list[Kill]:
    """The ``kills`` table of expanded ``con``: each use of the kill switch, in order."""
    rows = con.execute("SELECT account, flow_upto, you_upto, released FROM kills ORDER BY seq")
    return [Kill(flow_upto, you_upto, account, bool(r)) for account, flow_upto, you_upto, r in rows]


def _insert(con: sqlite3.Connection, orders: list, fills: list, results: list) -> None:
    for statement, rows in ((INSERT_ORDERS, orders), (INSERT_FILLS, fills), (INSERT_RESULTS, results)):
        if rows:
            con.executemany(statement, rows)
            rows.clear()


class TableRows:
    """Wire records as rows of ``orders``, ``fills`` and ``results``, for the INSERT statements.

    Records are tuples of ints (``simulator.wire``); the symbol is stored by name
    (``symbols[sym]``; any other sym as the flow's unknown symbol). It numbers each symbol's
    arrivals (``seq``), so one instance must see every batch of a journal, in order. Garbage is
    never an exception: a record whose type, time in force or event kind names none is skipped
    alone, a blob that is not whole records is skipped whole, and both are counted in
    ``bad_rows`` (only the first of each is logged, so a stream of garbage cannot flood the log).
    """

    def __init__(self, symbols: Iterable[str]) -> None:
        self.bad_rows = 0
        self._bad_records = 0
        self._bad_batches: dict[str, int] = dict.fromkeys(KIND_NAMES.values(), 0)
        self._names = dict(enumerate(str(s) for s in symbols))
        self._seq: dict[str, int] = {}

    def orders(self, records: list[tuple], t_ns: int, out: list[tuple]) -> int:
        """Append ``records``, placed at ``t_ns``, as orders rows to ``out``; how many."""
        name_of = self._names.get
        seqs = self._seq
        seq_of = seqs.get
        add, t = out.append, t_ns
        types, tifs = TYPE_NAMES, TIF_NAMES
        n0 = len(out)
        bad = 0
        rest = records
        while True:
            try:
                for oid, acct, sym, side, otype, tif, price, qty, target in rest:
                    symbol = name_of(sym, _UNKNOWN)
                    s = seq_of(symbol, 0) + 1
                    add((oid, s, acct, symbol, side, types[otype], tifs[tif], price, qty, target or None, t))
                    seqs[symbol] = s  # only once the row is made: a bad row takes no number
                break
            except KeyError:  # a type or time in force code that names none
                done = len(out) - n0 + bad  # every record before the bad one made its row
                self._bad(records[done])
                bad += 1
                rest = records[done + 1 :]
        return len(out) - n0

    def events(
        self,
        records: list[tuple],
        broker: int | None,
        fills: list[tuple],
        results: list[tuple],
        orders: list[tuple] | None = None,
        t_ns: int = 0,
    ) -> int:
        """Append ``records``, sent by broker ``broker``, as rows to ``fills`` and ``results``,
        and an agent's order (AGENT_ORDER, ``agents.py``) as a row of ``orders`` (seq NULL: it
        came from no inbox), booked at ``t_ns``; how many."""
        orders = [] if orders is None else orders
        names = RESULT_NAMES
        name_of = self._names.get
        add_fill, add_result = fills.append, results.append
        n0 = len(fills) + len(results)
        rest, at = records, 0  # at: where ``rest`` starts in ``records``
        while True:
            done = at  # records taken (some make no row, an agent's make several)
            try:
                for kind, a, b, c, d, e, f in rest:
                    done += 1
                    if kind == _TRADE:  # sym, match_seq, buy_oid, sell_oid, price, qty
                        add_fill((name_of(a, _UNKNOWN), b, c, d, e, f))
                    elif kind == _SHOWN:
                        continue
                    elif kind == AGENT_ORDER:  # oid, account, packed fields, price, qty, target/stamp
                        sym, side, otype, tif = unpack_kind(c)
                        row = (a, None, b, name_of(sym, _UNKNOWN), side, TYPE_NAMES[otype], TIF_NAMES[tif])
                        if otype != _CANCEL:  # the record stands for its ack (agents.py)
                            orders.append((*row, d, e, None, t_ns))
                            add_result((a, "ACK", None, broker))
                        else:  # a done cancel's price field: the leaves it cancelled
                            orders.append((*row, 0, e, f, t_ns))
                            if d:
                                add_result((f, "CANCELLED", d, broker))
                                add_result((a, "CANCEL_DONE", f, broker))
                    else:  # oid, detail (an ACK has none)
                        add_result((a, names[kind], None if kind == _ACK else b, broker))
                break
            except KeyError:  # a kind that names no event
                self._bad(records[done - 1])
                rest, at = records[done:], done
        return len(fills) + len(results) - n0

    def _bad(self, example: object) -> None:
        if not self._bad_records:
            log.warning(
                "journal: skipping malformed rows, e.g. %.120r; further ones are only counted in bad_rows",
                example,
            )
        self._bad_records += 1
        self.bad_rows += 1

    def bad_blob(self, kind: int, data: object) -> None:
        """A batch whose data is not whole int64 records: no row of it can be trusted."""
        what, width = KIND_NAMES[kind], WIDTHS[kind]
        size = len(data) if isinstance(data, bytes) else 0
        if not self._bad_batches[what]:
            log.warning(
                "journal: skipping a batch of %s that is not int64 records of %d (%s); further ones are "
                "only counted in bad_rows",
                what,
                width,
                f"{size} bytes" if isinstance(data, bytes) else type(data).__name__,
            )
        self._bad_batches[what] += 1
        self.bad_rows += max(1, size // (width * wire.INT_SIZE))


# -- simulate.py journal expand PATH --------------------------------------------------------


def expand_in_place(path: str) -> Expansion:
    """Build the tables inside the journal at ``path`` (replacing earlier ones) and record
    run('expanded'); JournalError if it is not a journal or cannot be written."""
    con = open_journal(path, write=True)
    con.isolation_level = None
    try:
        done = expand(con, con)
        con.execute(
            "INSERT OR REPLACE INTO run(key, value) VALUES ('expanded', ?)",
            (json.dumps({"batches": done.batches, "bad_rows": done.bad_rows}),),
        )
        return done
    except sqlite3.Error as exc:
        raise JournalError(f"{path}: cannot expand the journal: {exc}") from exc
    finally:
        con.close()


def main(argv: Sequence[str] | None = None) -> int:
    """``simulate.py journal expand PATH``: ``argv`` is what follows ``journal``."""
    parser = argparse.ArgumentParser(
        prog="simulate.py journal",
        description="Work on a journal written with --journal.",
        allow_abbrev=False,
    )
    commands = parser.add_subparsers(dest="command", metavar="COMMAND", required=True)
    sub = commands.add_parser(
        "expand",
        help="add the tables orders, fills and results to the journal, for SQL",
        description="Add the tables orders, fills and results, decoded from the journal's batches, "
        "to the journal itself (replacing any built before).",
        allow_abbrev=False,
    )
    sub.add_argument("path", metavar="PATH", help="a journal written with --journal")
    for p in (parser, sub):  # a usage error in one line, as the simulator's own flags give it
        p.error = (lambda prog: lambda message: parser.exit(2, f"{prog}: error: {message}\n"))(p.prog)  # type: ignore[method-assign]
    try:
        args = parser.parse_args(list(sys.argv[1:] if argv is None else argv))
    except SystemExit as exc:  # --help (0) or a usage error (2), already printed
        return int(exc.code or 0)
    try:
        done = expand_in_place(args.path)
    except JournalError as exc:
        print(f"journal expand: {exc}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("journal expand: interrupted; the journal is as it was", file=sys.stderr)
        return 130
    bad = f"; {done.bad_rows:,} malformed records skipped" if done.bad_rows else ""
    print(
        f"expanded {args.path}: {done.orders:,} orders, {done.fills:,} fills, {done.results:,} results "
        f"from {done.batches:,} batches in {done.seconds:.1f} s{bad}"
    )
    return 0
