"""The run's journal: a bus plugin of the bank that writes every order placed and every answer
got to one SQLite file (its schema and how it is opened: ``simulator.journal_file``).

The bank hands ``Journal`` each batch of orders it places and each batch of events a broker
sends back, as the int64 wire records it already holds; one writer thread turns them into rows
(``journal_file.TableRows``) and stores them, so the bank's loop never waits for the disk::

    bank thread (hot path, O(1) per batch)               writer thread (one, joined on 'stop')
    record_orders(orders, t_ns) --+
                                  +--> queue (bounded in rows) --> group of batches (<= 50 ms)
    record_events(broker, events) +                               BEGIN; executemany; COMMIT

The arrays are handed over by reference (the caller never writes to them after the call).
``python simulate.py replay PATH`` (``simulator.replay``) runs the journalled orders through
fresh books and checks that they make the journalled fills.

Durability: WAL with ``synchronous=NORMAL``. A group is committed at most ``commit_interval``
(50 ms) after its first batch arrived, or at ``group_rows`` rows. A ``kill -9`` of the bank loses
only what was not committed yet; what was committed is intact (a power loss may lose more:
NORMAL does not fsync each commit). Orders are queued before the events answering them, so the
journal of a killed run is a prefix: every journalled fill's orders are journalled. An order
recorded twice keeps its first row, but its second recording still advances ``seq``, leaving a
gap.

Back-pressure (the choice made here): the queue is bounded in rows (``max_rows``), not in
batches, so memory is bounded whatever the batch size. A hook that finds it full counts a
``queue_waits`` and blocks at most ``put_timeout`` (1 s); if the writer made no room by then
the journal FAILS with a reason and records nothing more. Nothing is dropped silently: every
row not journalled is counted in ``dropped_rows`` and ``failed`` says why.

Garbage never stops the writer: a batch that is not an int64 array of whole records (orders
(n, 9), events (n, 7)) is skipped whole, and a record whose code names no order type, time in
force or event kind is skipped alone; both are counted in ``bad_rows`` and logged.

Failures: ``start`` never raises (wspbus turns a start error into ``os._exit(70)``): a path
that cannot be a journal sets ``failed``. A write error (disk full, I/O error, locked database)
sets ``failed = "journal write failed: ..."``; the writer then stops writing but keeps draining
the queue, so the hooks never block. The bank polls ``failed`` and stops the run with it.
"""

from __future__ import annotations

import logging
import queue
import sqlite3
import threading
import time
from dataclasses import dataclass
from typing import TYPE_CHECKING

from cherrypy.process.plugins import SimplePlugin

from simulator import processes
from simulator.bus import ORDER, never_raises
from simulator.journal_file import (
    INSERT_FILLS,
    INSERT_ORDERS,
    INSERT_RESULTS,
    JournalError,
    TableRows,
    check_path,
    create_journal,
    write_run_value,
)

if TYPE_CHECKING:
    import numpy as np

log = logging.getLogger("journal")

DEFAULT_MAX_ROWS = 500_000  # queued rows (orders + events): about 100 MB of rows at most
DEFAULT_PUT_TIMEOUT_S = 1.0
DEFAULT_COMMIT_INTERVAL_S = 0.05
DEFAULT_GROUP_ROWS = 20_000  # a commit of this many rows takes ~0.1-0.2 s, well under put_timeout
DEFAULT_JOIN_TIMEOUT_S = 30.0
_IDLE_POLL_S = 0.1  # how often an idle writer checks that the main thread still lives

_ORDERS, _EVENTS, _STOP = 0, 1, 2
_SENTINEL = (_STOP, (), 0)


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
        self._rows = TableRows(self.config.get("symbols", ()))  # writer

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
            self._con = create_journal(self.path, self.config)
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

    start.priority = ORDER["start", "journal"]  # type: ignore[attr-defined]

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

    stop.priority = ORDER["stop", "journal"]  # type: ignore[attr-defined]

    # -- hot path (bank thread) ---------------------------------------------------------------

    def record_orders(self, orders: np.ndarray, t_ns: int) -> None:
        """Journal orders placed at ``t_ns``, in placement order: an (n, 9) int64 array of wire
        order records, never written to again by the caller. O(1)."""
        if self.failed is not None or self._stopped:
            self._hook_dropped += len(orders)
        elif len(orders):
            self._put((_ORDERS, orders, t_ns))

    def record_events(self, broker_index: int, events: np.ndarray) -> None:
        """Journal a batch of events as broker ``broker_index`` sent them: an (n, 7) int64 array
        of wire event records, never written to again by the caller. O(1)."""
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

    @property
    def bad_rows(self) -> int:
        """Malformed orders and events skipped (see ``TableRows``)."""
        return self._rows.bad_rows

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
        write_run_value(self.path, "report", report)

    # -- the writer thread --------------------------------------------------------------------

    def _fail(self, reason: str) -> None:
        if self.failed is None:
            self.failed = reason
            log.error("%s", reason.removeprefix("journal: "))  # the logger's name says it

    def _writer(self) -> None:
        processes.set_thread_title("journal")  # top -H and ps -L name it
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
                        rows += self._rows.orders(item[1], item[2], orders)
                    else:
                        rows += self._rows.events(item[1], item[2], fills, results)
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
                con.executemany(INSERT_ORDERS, orders)
            if fills:
                con.executemany(INSERT_FILLS, fills)
            if results:
                con.executemany(INSERT_RESULTS, results)
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
