"""The run's journal: every order the bank placed and every answer it got, in one SQLite file.

``Journal`` is a bus plugin of the bank process. The bank hands it each batch of orders it
places and each batch of events a broker sends back; one writer thread stores them, so the
bank's loop never waits for the disk::

    bank thread (hot path, O(1) per batch)               writer thread (one, joined on 'stop')
    record_orders(orders, t_ns) --+
                                  +--> queue (bounded in rows) --> group of batches (<= 50 ms)
    record_events(broker, events) +                               BEGIN; executemany; COMMIT

The lists are handed over by reference (the caller never mutates them after the call) and
turned into rows on the writer thread. ``python simulate.py replay PATH`` (``simulator.replay``)
runs the journalled orders through fresh books and checks that they make the journalled fills.

Schema (``PRAGMA application_id`` = 0x53494D4A "SIMJ", ``PRAGMA user_version`` = 1)::

    orders(id INTEGER PRIMARY KEY,  -- the order id (oid)
           seq INTEGER,             -- per-symbol arrival sequence, 1.. (cancels included)
           account INTEGER,
           symbol TEXT,
           side INTEGER,            -- 1 buy, -1 sell, 0 cancel
           type TEXT,               -- LIMIT MARKET CANCEL
           tif TEXT,                -- DAY IOC
           price INTEGER,           -- ticks (1 tick = 1 cent); 0 for MARKET and CANCEL
           qty INTEGER,             -- shares; 0 for CANCEL
           target INTEGER,          -- the order a CANCEL cancels, or NULL
           created_ns INTEGER)      -- when the bank placed it (its monotonic clock, ns)
    fills(symbol TEXT, match_seq INTEGER, buy_id INTEGER, sell_id INTEGER,
          price INTEGER, qty INTEGER, PRIMARY KEY(symbol, match_seq)) WITHOUT ROWID
    results(order_id INTEGER,
            event TEXT,             -- ACK REJECT CANCELLED CANCEL_DONE
            detail INTEGER,         -- REJECT: RejectReason code; CANCELLED: leaves;
                                    -- CANCEL_DONE: the cancelled order's id; ACK: NULL
            broker INTEGER,         -- broker index, -1 (BANK) for the bank's own rejects
            PRIMARY KEY(order_id, event)) WITHOUT ROWID
    run(key TEXT PRIMARY KEY, value TEXT)   -- JSON; keys 'config' (at start), 'report' (at end)

For a CANCEL, ``results`` holds ``(cancel id, 'CANCEL_DONE', target id)`` and
``(target id, 'CANCELLED', leaves)``, or ``(cancel id, 'REJECT', reason)``. Every insert is
``INSERT OR IGNORE``: an answer delivered twice (a broker restarted and answered re-sent
orders again) is stored once, the first time; an order recorded twice keeps its first row (its
second recording still advances ``seq``, leaving a gap).

Durability: WAL with ``synchronous=NORMAL``. A group is committed at most ``commit_interval``
(50 ms) after its first batch arrived, or at ``group_rows`` rows. A ``kill -9`` of the bank loses
only what was not committed yet; what was committed is intact (a power loss may lose more:
NORMAL does not fsync each commit). Orders are queued before the events answering them, so the
journal of a killed run is a prefix: every journalled fill's orders are journalled. A killed
run's journal stays in WAL mode (the -wal file beside it holds the last commits; SQLite reads it
back); a cleanly stopped one is switched back to a single self-contained file.

Back-pressure (the choice made here): the queue is bounded in rows (``max_rows``), not in
batches, so memory is bounded whatever the batch size. A hook that finds it full counts a
``queue_waits`` and blocks at most ``put_timeout`` (1 s); if the writer made no room by then
the journal FAILS with a reason and records nothing more. Nothing is dropped silently: every
row not journalled is counted in ``dropped_rows`` and ``failed`` says why.

Failures: ``start`` never raises (wspbus turns a start error into ``os._exit(70)``): a path
that cannot be a journal sets ``failed``. A write error (disk full, I/O error, locked database)
sets ``failed = "journal write failed: ..."``; the writer then stops writing but keeps draining
the queue, so the hooks never block. The bank polls ``failed`` and stops the run with it.
"""
from __future__ import annotations

import json
import logging
import os
import queue
import sqlite3
import threading
import time
from dataclasses import dataclass
from typing import Any
from urllib.parse import quote

from cherrypy.process.plugins import SimplePlugin

from simulator import wire
from simulator.bus import never_raises
from simulator.orders import Event, OrderType, TimeInForce

log = logging.getLogger("journal")

APPLICATION_ID = 0x53494D4A  # "SIMJ": tells our journals from any other SQLite file
SCHEMA_VERSION = 1
BANK = -1  # the ``broker`` of a result the bank gave itself (e.g. an unknown symbol's reject)

DEFAULT_MAX_ROWS = 500_000  # queued rows (orders + events): about 100 MB of tuples at most
DEFAULT_PUT_TIMEOUT_S = 1.0
DEFAULT_COMMIT_INTERVAL_S = 0.05
DEFAULT_GROUP_ROWS = 20_000  # a commit of this many rows takes ~0.1-0.2 s, well under put_timeout
DEFAULT_JOIN_TIMEOUT_S = 30.0
_IDLE_POLL_S = 0.1  # how often an idle writer checks that the main thread still lives
_BUSY_TIMEOUT_S = 5.0  # how long a write waits for a lock held by another connection

SCHEMA = """
CREATE TABLE IF NOT EXISTS orders(
    id INTEGER PRIMARY KEY,
    seq INTEGER,
    account INTEGER,
    symbol TEXT,
    side INTEGER,
    type TEXT,
    tif TEXT,
    price INTEGER,
    qty INTEGER,
    target INTEGER,
    created_ns INTEGER
);
CREATE TABLE IF NOT EXISTS fills(
    symbol TEXT,
    match_seq INTEGER,
    buy_id INTEGER,
    sell_id INTEGER,
    price INTEGER,
    qty INTEGER,
    PRIMARY KEY(symbol, match_seq)
) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS results(
    order_id INTEGER,
    event TEXT,
    detail INTEGER,
    broker INTEGER,
    PRIMARY KEY(order_id, event)
) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS run(key TEXT PRIMARY KEY, value TEXT);
"""
TABLES = ("orders", "fills", "results", "run")

_INSERT_ORDERS = "INSERT OR IGNORE INTO orders VALUES (?,?,?,?,?,?,?,?,?,?,?)"
_INSERT_FILLS = "INSERT OR IGNORE INTO fills VALUES (?,?,?,?,?,?)"
_INSERT_RESULTS = "INSERT OR IGNORE INTO results VALUES (?,?,?,?)"

# Names stored for the enum codes, looked up per row (dicts: a bad code is a KeyError, never a
# silent wrap-around as a negative tuple index would be).
TYPE_NAMES = {int(t): t.name for t in OrderType}
TIF_NAMES = {int(t): t.name for t in TimeInForce}
RESULT_NAMES = {int(e): e.name for e in Event if e != Event.TRADE}
_TRADE = int(Event.TRADE)

_ORDERS, _EVENTS, _STOP = 0, 1, 2
_SENTINEL = (_STOP, (), 0)
_SQLITE_MAGIC = b"SQLite format 3\x00"


class JournalError(Exception):
    """A journal that cannot be created, written or read; the message says which file and why."""


@dataclass(frozen=True, slots=True)
class JournalStats:
    """A snapshot of the journal's counters (for a dashboard or the report)."""

    queued_rows: int  # waiting for the writer
    committed_rows: int
    committed_batches: int
    queue_waits: int  # hook calls that found the queue full and had to wait
    dropped_rows: int  # not journalled because the journal had failed or stopped
    bad_rows: int  # malformed orders or events skipped
    failed: str | None


class _RowQueue(queue.Queue):
    """A ``queue.Queue`` bounded in rows rather than items.

    Items are ``(kind, rows, arg)``; each weighs ``len(rows) + 1``. An item is accepted while
    the queued weight is below ``maxsize``, so one large batch may overshoot the bound once.
    """

    def _init(self, maxsize: int) -> None:
        super()._init(maxsize)
        self.rows = 0

    def _qsize(self) -> int:
        return self.rows + len(self.queue)

    def _put(self, item) -> None:
        self.queue.append(item)
        self.rows += len(item[1])

    def _get(self):
        item = self.queue.popleft()
        self.rows -= len(item[1])
        return item

    def put_sentinel(self) -> None:
        """Queue the STOP sentinel behind everything, ignoring the bound: it must never wait."""
        with self.mutex:
            self._put(_SENTINEL)
            self.unfinished_tasks += 1
            self.not_empty.notify()


# -- paths -----------------------------------------------------------------------------------


def check_path(path: str) -> str | None:
    """Why ``path`` cannot become a journal, in one line, or None if it can.

    Call it before any process starts, for an early usage error. A missing file, an empty
    file, an empty SQLite database or an existing journal are fine (an existing journal is
    replaced by ``Journal.start``); anything else that exists is refused, never overwritten.
    """
    if not path:
        return "the journal path is empty"
    full = os.path.abspath(path)
    parent = os.path.dirname(full)
    if os.path.isdir(full):
        return f"{path} is a directory"
    if not os.path.exists(parent):
        ancestor = parent
        while not os.path.exists(ancestor):
            ancestor = os.path.dirname(ancestor)
        if not os.path.isdir(ancestor):
            return f"cannot create {path}: {ancestor} is not a directory"
        return f"cannot create {path}: directory {parent} does not exist"
    if not os.path.isdir(parent):
        return f"cannot create {path}: {parent} is not a directory"
    # the directory must be writable too: SQLite puts its -wal and -shm files beside the journal
    if not os.access(parent, os.W_OK | os.X_OK):
        return f"cannot create {path}: directory {parent} is not writable"
    if not os.path.exists(full):
        return None
    if not os.path.isfile(full):
        return f"{path} exists and is not a regular file"
    if not os.access(full, os.R_OK | os.W_OK):
        return f"{path} exists and is not writable"
    kind, detail = _classify(full)
    if kind == "other":
        return f"{path} exists and is not a SQLite database ({detail}); refusing to overwrite it"
    if kind == "sqlite":
        return f"{path} is a SQLite database but not a journal ({detail}); refusing to overwrite it"
    return None


def _classify(path: str) -> tuple[str, str]:
    """('empty' | 'journal' | 'sqlite' | 'other', detail) for an existing regular file."""
    try:
        with open(path, "rb") as f:
            head = f.read(len(_SQLITE_MAGIC))
    except OSError as exc:
        return "other", exc.strerror or str(exc)
    if not head:
        return "empty", "empty file"
    if head != _SQLITE_MAGIC:
        return "other", "no SQLite header"
    try:
        con = sqlite3.connect(_read_only_uri(path), uri=True, timeout=_BUSY_TIMEOUT_S)
        try:
            app_id = con.execute("PRAGMA application_id").fetchone()[0]
            tables = con.execute("SELECT count(*) FROM sqlite_master").fetchone()[0]
        finally:
            con.close()
    except sqlite3.Error as exc:
        return "other", f"unreadable: {exc}"
    if app_id == APPLICATION_ID:
        return "journal", "journal"
    if tables == 0:
        return "empty", "empty database"
    return "sqlite", f"{tables} schema objects, application id {app_id:#x}"


def _read_only_uri(path: str) -> str:
    return f"file:{quote(os.path.abspath(path))}?mode=ro"


def open_journal(path: str) -> sqlite3.Connection:
    """A read-only connection to an existing journal; JournalError says why there is none."""
    if not os.path.exists(path):
        raise JournalError(f"{path}: no such file")
    if os.path.isdir(path):
        raise JournalError(f"{path} is a directory, not a journal")
    kind, detail = _classify(path)
    if kind != "journal":
        raise JournalError(f"{path} is not a journal ({detail})")
    try:
        con = sqlite3.connect(_read_only_uri(path), uri=True)
        try:
            version = con.execute("PRAGMA user_version").fetchone()[0]
            names = {r[0] for r in con.execute("SELECT name FROM sqlite_master WHERE type='table'")}
        except sqlite3.Error:
            con.close()
            raise
    except sqlite3.Error as exc:
        raise JournalError(f"{path}: cannot read the journal: {exc}") from exc
    missing = [t for t in TABLES if t not in names]
    if version != SCHEMA_VERSION or missing:
        con.close()
        raise JournalError(
            f"{path}: journal format {version} (tables missing: {', '.join(missing) or 'none'}); "
            f"this version reads format {SCHEMA_VERSION}"
        )
    return con


def read_run_value(con: sqlite3.Connection, key: str) -> Any:
    """The decoded JSON stored under ``key`` in ``run``, or None."""
    row = con.execute("SELECT value FROM run WHERE key = ?", (key,)).fetchone()
    if row is None or row[0] is None:
        return None
    try:
        return json.loads(row[0])
    except ValueError:
        return None


def _create(path: str, config: dict) -> sqlite3.Connection:
    """A fresh journal at ``path`` (an existing journal is replaced), ready for the writer."""
    problem = check_path(path)
    if problem:
        raise JournalError(problem)
    if os.path.exists(path) and _classify(path)[0] == "journal":
        for p in (path, f"{path}-wal", f"{path}-shm", f"{path}-journal"):
            try:
                os.remove(p)
            except FileNotFoundError:
                pass
            except OSError as exc:
                raise JournalError(f"cannot replace the old journal {p}: {exc.strerror}") from exc
    try:
        con = sqlite3.connect(
            path, timeout=_BUSY_TIMEOUT_S, isolation_level=None, check_same_thread=False
        )
    except sqlite3.Error as exc:
        raise JournalError(f"cannot create journal {path}: {exc}") from exc
    try:
        # written before WAL mode is on, so they are in the main file's header at once
        con.execute(f"PRAGMA application_id = {APPLICATION_ID}")
        con.execute(f"PRAGMA user_version = {SCHEMA_VERSION}")
        mode = con.execute("PRAGMA journal_mode = WAL").fetchone()[0]
        if str(mode).lower() != "wal":
            raise JournalError(f"cannot create journal {path}: WAL mode refused ({mode})")
        con.execute("PRAGMA synchronous = NORMAL")
        con.executescript(SCHEMA)
        con.execute(
            "INSERT OR REPLACE INTO run(key, value) VALUES ('config', ?)",
            (json.dumps(config, sort_keys=True, default=str),),
        )
    except sqlite3.Error as exc:
        con.close()
        raise JournalError(f"cannot create journal {path}: {exc}") from exc
    except JournalError:
        con.close()
        raise
    return con


# -- the plugin ------------------------------------------------------------------------------


class Journal(SimplePlugin):
    """Bus plugin of the bank process: journals orders and results to SQLite (see module doc).

    Threads: ``record_*`` and the bus listeners run on the bank's thread; one writer thread
    owns the connection from ``start`` until it exits. ``failed`` may be set by either.
    """

    def __init__(
        self,
        bus,
        path: str,
        *,
        config: dict,
        max_rows: int = DEFAULT_MAX_ROWS,
        put_timeout: float = DEFAULT_PUT_TIMEOUT_S,
        commit_interval: float = DEFAULT_COMMIT_INTERVAL_S,
        group_rows: int = DEFAULT_GROUP_ROWS,
        join_timeout: float = DEFAULT_JOIN_TIMEOUT_S,
    ) -> None:
        super().__init__(bus)
        self.path = str(path)
        self.config = dict(config)
        self.failed: str | None = None
        self._queue = _RowQueue(max_rows)
        self._put_timeout = put_timeout
        self._commit_interval = commit_interval
        self._group_rows = group_rows
        self._join_timeout = join_timeout
        self._con: sqlite3.Connection | None = None
        self._thread: threading.Thread | None = None
        self._started = False
        self._stopped = False
        self._abandon = False  # set by stop() when the writer overran its time: discard the rest
        # counters, each written by one thread only
        self.queue_waits = 0  # bank thread
        self._hook_dropped = 0  # bank thread
        self._writer_dropped = 0  # writer
        self.committed_rows = 0  # writer
        self.committed_batches = 0  # writer
        self.bad_rows = 0  # writer
        self._seq: dict[str, int] = {}  # writer: per-symbol arrival sequence
        self._symbols = tuple(self.config.get("symbols", ()))  # wire sym index -> name

    @staticmethod
    def check_path(path: str) -> str | None:
        """See the module-level ``check_path``."""
        return check_path(path)

    # -- bus channels -------------------------------------------------------------------------

    @never_raises
    def start(self) -> None:
        """Create the journal and start the writer; never raises (see ``failed``)."""
        if self._started or self._stopped:
            return
        self._started = True
        try:
            self._con = _create(self.path, self.config)
            thread = threading.Thread(target=self._writer, name="journal-writer")  # not a daemon
            thread.start()
            self._thread = thread
        except JournalError as exc:
            self._fail(f"journal: {exc}")
        except Exception as exc:  # anything else must not reach wspbus either
            self._fail(f"journal: cannot start {self.path}: {type(exc).__name__}: {exc}")
        else:
            log.info("journalling to %s", self.path)
        if self.failed is not None and self._thread is None and self._con is not None:
            self._con.close()
            self._con = None

    start.priority = 10  # type: ignore[attr-defined]  # before the brokers start

    @never_raises
    def stop(self) -> None:
        """After the bank finished: write everything queued, join the writer, close. Idempotent."""
        if self._stopped:
            return
        self._stopped = True
        thread = self._thread
        if thread is None:
            return
        self._queue.put_sentinel()
        thread.join(self._join_timeout)
        if thread.is_alive():
            self._abandon = True
            self._fail(
                f"journal write failed: the writer did not finish within {self._join_timeout:g} s "
                f"({self._queue.qsize():,} rows still queued); the journal is incomplete"
            )
            thread.join(2.0)
            if thread.is_alive():
                log.error("journal writer still running after stop; the process will wait for it")
            return
        log.info(
            "journal %s: %s rows in %s batches%s",
            self.path,
            f"{self.committed_rows:,}",
            f"{self.committed_batches:,}",
            f"; FAILED: {self.failed}" if self.failed else "",
        )

    stop.priority = 95  # type: ignore[attr-defined]  # after the bank has finished

    # -- hot path (bank thread) ---------------------------------------------------------------

    def record_orders(self, orders, t_ns: int) -> None:
        """Journal orders placed at ``t_ns``, in placement order: an (n, 9) array of wire
        records (never written to again by the caller) or readable tuples. O(1)."""
        if self.failed is not None or self._stopped:
            self._hook_dropped += len(orders)
        elif len(orders):
            self._put((_ORDERS, orders, t_ns))

    def record_events(self, broker_index: int, events) -> None:
        """Journal a broker's batch of events as it sent them: an (n, 7) array of wire records
        or readable tuples. O(1)."""
        if self.failed is not None or self._stopped:
            self._hook_dropped += len(events)
        elif len(events):
            self._put((_EVENTS, events, broker_index))

    def _put(self, item: tuple) -> None:
        q = self._queue
        try:
            q.put(item, block=False)
            return
        except queue.Full:
            pass
        self.queue_waits += 1
        try:
            q.put(item, timeout=self._put_timeout)
        except queue.Full:
            self._hook_dropped += len(item[1])
            self._fail(
                f"journal write failed: the writer fell behind ({q.qsize():,} rows queued) and "
                f"made no room within {self._put_timeout:g} s"
            )

    # -- views --------------------------------------------------------------------------------

    @property
    def dropped_rows(self) -> int:
        return self._hook_dropped + self._writer_dropped

    def stats(self) -> JournalStats:
        return JournalStats(
            queued_rows=self._queue.rows,
            committed_rows=self.committed_rows,
            committed_batches=self.committed_batches,
            queue_waits=self.queue_waits,
            dropped_rows=self.dropped_rows,
            bad_rows=self.bad_rows,
            failed=self.failed,
        )

    def write_report(self, report: dict) -> None:
        """Store the final report as run('report'); raises JournalError if it cannot."""
        if self._con is None and self._thread is None:
            raise JournalError(self.failed or f"journal {self.path} was never started")
        text = json.dumps(report, default=str)
        try:
            con = sqlite3.connect(self.path, timeout=_BUSY_TIMEOUT_S, isolation_level=None)
            try:
                con.execute("INSERT OR REPLACE INTO run(key, value) VALUES ('report', ?)", (text,))
            finally:
                con.close()
        except sqlite3.Error as exc:
            raise JournalError(f"cannot store the report in journal {self.path}: {exc}") from exc

    # -- the writer thread --------------------------------------------------------------------

    def _fail(self, reason: str) -> None:
        if self.failed is None:
            self.failed = reason
            log.error("%s", reason)

    def _writer(self) -> None:
        get = self._queue.get
        orders: list[tuple] = []
        fills: list[tuple] = []
        results: list[tuple] = []
        con = self._con
        done = False
        try:
            while not done:
                try:
                    item = get(timeout=_IDLE_POLL_S)
                except queue.Empty:
                    if not threading.main_thread().is_alive():
                        log.error("journal writer: the main thread ended without 'stop'")
                        break
                    continue
                deadline = time.monotonic() + self._commit_interval
                batches = rows = 0
                while True:
                    kind = item[0]
                    if kind == _STOP:
                        done = True
                        break
                    batches += 1
                    if con is None or self._abandon:
                        self._writer_dropped += len(item[1])
                    elif kind == _ORDERS:
                        rows += self._order_rows(self._readable_orders(item[1]), item[2], orders)
                    else:
                        rows += self._event_rows(self._readable_events(item[1]), item[2], fills, results)
                    if rows >= self._group_rows:
                        break
                    remaining = deadline - time.monotonic()
                    if remaining <= 0:
                        break
                    try:
                        item = get(timeout=remaining)
                    except queue.Empty:
                        break
                if con is not None and batches:
                    if not self._commit(con, orders, fills, results, batches):
                        try:  # stop writing; keep draining so the bank never blocks
                            con.close()
                        except sqlite3.Error:
                            pass
                        con = self._con = None
                orders.clear()
                fills.clear()
                results.clear()
        except Exception as exc:  # a bug: say so, and keep draining so the bank never blocks
            log.exception("journal writer failed")
            self._fail(f"journal write failed: {type(exc).__name__}: {exc}")
            if not done:
                self._discard_until_sentinel()
        finally:
            if con is not None:
                try:
                    if done and not self._abandon:
                        # a finished journal becomes one self-contained file (no -wal, -shm);
                        # a reader holding it open keeps it in WAL mode: do not wait for it
                        con.execute("PRAGMA busy_timeout = 200")
                        con.execute("PRAGMA journal_mode = DELETE")
                except sqlite3.Error as exc:
                    log.debug("journal %s stays in WAL mode: %s", self.path, exc)
                try:
                    con.close()
                except sqlite3.Error as exc:
                    self._fail(f"journal write failed: closing {self.path}: {exc}")
            self._con = None

    def _commit(self, con, orders, fills, results, batches: int) -> bool:
        try:
            con.execute("BEGIN IMMEDIATE")
            if orders:
                con.executemany(_INSERT_ORDERS, orders)
            if fills:
                con.executemany(_INSERT_FILLS, fills)
            if results:
                con.executemany(_INSERT_RESULTS, results)
            con.execute("COMMIT")
        except Exception as exc:  # sqlite3.Error, or a value SQLite cannot bind (OverflowError)
            try:
                if con.in_transaction:
                    con.execute("ROLLBACK")
            except sqlite3.Error:
                pass
            self._writer_dropped += len(orders) + len(fills) + len(results)
            self._fail(f"journal write failed: {type(exc).__name__}: {exc}")
            return False
        self.committed_rows += len(orders) + len(fills) + len(results)
        self.committed_batches += batches
        return True

    def _discard_until_sentinel(self) -> None:
        while True:
            try:
                item = self._queue.get(timeout=_IDLE_POLL_S)
            except queue.Empty:
                if self._stopped or not threading.main_thread().is_alive():
                    return
                continue
            if item[0] == _STOP:
                return
            self._writer_dropped += len(item[1])

    def _readable_orders(self, batch) -> list:
        """Wire records (an array) as readable order tuples; readable tuples pass as they are."""
        if isinstance(batch, list):
            return batch
        return wire.readable_orders(batch.tolist(), self._symbols)

    def _readable_events(self, events) -> list:
        """Wire records (an array) as readable event tuples; readable tuples pass as they are."""
        if isinstance(events, list):
            return events
        it = iter(events.reshape(-1).tolist())
        return wire.readable_events(zip(*[it] * wire.EVENT_WIDTH), self._symbols)

    def _order_rows(self, batch: list[tuple], t_ns: int, out: list[tuple]) -> int:
        """Append ``batch`` as orders rows to ``out``; malformed orders are counted and skipped."""
        seqs = self._seq
        get = seqs.get
        append = out.append
        types, tifs = TYPE_NAMES, TIF_NAMES
        n0 = len(out)
        done = 0
        rest = batch
        while True:
            try:
                for oid, account, symbol, side, otype, tif, price, qty, target in rest:
                    s = get(symbol, 0) + 1
                    append(
                        (oid, s, account, symbol, side, types[otype], tifs[tif], price, qty,
                         target or None, t_ns)
                    )
                    seqs[symbol] = s  # only once the row is made: a bad row takes no number
                    done += 1
                break
            except (TypeError, ValueError, KeyError):
                self._bad(batch[done])
                done += 1
                rest = batch[done:]
        return len(out) - n0

    def _event_rows(
        self, events: list[tuple], broker: int, fills: list[tuple], results: list[tuple]
    ) -> int:
        """Append ``events`` as fills and results rows; malformed events are counted, skipped."""
        names = RESULT_NAMES
        try:
            f = [e[1:] for e in events if e[0] == _TRADE and len(e) == 7]
            r = [
                (e[1], names[e[0]], e[2] if len(e) > 2 else None, broker)
                for e in events
                if e[0] != _TRADE
            ]
        except (TypeError, IndexError, KeyError):
            f, r = [], []
            for e in events:
                try:
                    if e[0] == _TRADE:
                        if len(e) == 7:
                            f.append(e[1:])
                    else:
                        r.append((e[1], names[e[0]], e[2] if len(e) > 2 else None, broker))
                except (TypeError, IndexError, KeyError):
                    pass
        bad = len(events) - len(f) - len(r)
        if bad:
            self._bad(next((e for e in events if not _plausible_event(e)), None), bad)
        fills += f
        results += r
        return len(f) + len(r)

    def _bad(self, example: object, n: int = 1) -> None:
        if not self.bad_rows:
            log.warning("journal: skipping malformed rows, e.g. %.120r", example)
        self.bad_rows += n


def _plausible_event(e: object) -> bool:
    try:
        return (e[0] == _TRADE and len(e) == 7) or (e[0] in RESULT_NAMES and len(e) >= 2)  # type: ignore[index, arg-type]
    except (TypeError, IndexError, KeyError):
        return False
