"""The run's journal: a bus plugin of the bank that stores every batch of orders it places and
every batch of events a broker sends back, as the exact int64 bytes that crossed the wire, one
SQLite row per batch (the file: ``simulator.journal_file``).

The bank hands ``Journal`` each batch as the numpy array it already holds; the bank's thread
only appends it to a queue (a lock and a deque append, whatever the batch's size). One writer
thread binds the arrays as BLOBs and commits them in groups; SQLite copies the bytes and writes
them with the GIL released, so the bank's loop pays nothing per order or event::

    bank thread (hot path, O(1) per batch)               writer thread (one, joined on 'stop')
    record_orders(orders, t_ns) --+
    record_events(broker, events) +--> queue (bounded in records) --> group of batches (<= 50 ms)
    'restarted' (broker, orders)  +                                   BEGIN; executemany; COMMIT

The arrays are handed over by reference (the caller never writes to them after the call).
``simulate.py journal expand PATH`` turns the batches into the tables ``orders``, ``fills``
and ``results`` (``simulator.journal_expand``); ``simulate.py replay PATH``
(``simulator.replay``) runs the journalled orders through fresh books and checks that they make
the journalled events.

Durability: a group is committed at most ``commit_interval`` (50 ms) after its first batch
arrived, or at ``group_records`` records. A ``kill -9`` of the bank loses only what was not
committed yet (at most the last 50 ms, and what waited in the queue); what was committed is
intact (``journal_file`` says what a power loss does). Orders are queued before the events
answering them, and batches are committed in the order they were queued, so the journal of a
killed run is a prefix of its run.

Back-pressure (the choice made here): the queue is bounded in records (``max_rows``), so memory
is bounded whatever the batch size. A hook that finds it full counts a ``queue_waits`` and
blocks at most ``put_timeout`` (5 s); if the writer made no room by then the journal FAILS with
a reason and records nothing more. Nothing is dropped silently: every record not journalled is
counted in ``dropped_rows`` and ``failed`` says why.

Garbage never stops the writer: a batch that is not an int64 array of whole records (orders
(n, 9), events (n, 7)) is skipped whole and counted in ``bad_rows``; the records of a good
batch are stored as they are (the expansion and the replay judge them).

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

import numpy as np
from cherrypy.process.plugins import SimplePlugin

from simulator import processes
from simulator.bus import ORDER, never_raises
from simulator.journal_file import (
    EVENTS,
    INSERT_BATCH,
    KILL,
    KIND_NAMES,
    ORDERS,
    RELEASE,
    RESTART,
    STOP,
    WIDTHS,
    JournalError,
    check_path,
    create_journal,
    describe_batch,
    write_run_value,
)

log = logging.getLogger("journal")

DEFAULT_MAX_ROWS = 2_000_000  # queued records (orders + events): about 130 MB at most
DEFAULT_PUT_TIMEOUT_S = 5.0  # a disk that stalls for seconds slows the run; one stuck fails it
DEFAULT_COMMIT_INTERVAL_S = 0.05
DEFAULT_GROUP_RECORDS = 200_000  # about 12 MB: a commit that size takes ~20 ms
DEFAULT_JOIN_TIMEOUT_S = 30.0
_IDLE_POLL_S = 0.1  # how often an idle writer checks that the main thread still lives

_END = -1  # the queue's sentinel: no more batches
_SENTINEL = (_END, (), None, 0)


@dataclass(frozen=True, slots=True)
class JournalStats:
    """A snapshot of the journal's counters (for a dashboard or the report)."""

    queued_rows: int  # records waiting for the writer
    committed_rows: int  # records (orders + events) committed
    committed_batches: int  # batches committed (restart and stop marks included)
    committed_bytes: int  # of records
    queue_waits: int  # hook calls that found the queue full and had to wait
    dropped_rows: int  # not journalled because the journal had failed or stopped
    bad_rows: int  # in batches skipped for not being whole int64 records
    failed: str | None


class _RowQueue(queue.Queue):
    """A ``queue.Queue`` bounded in records rather than items.

    Items are ``(kind, records, broker, t_ns)``; each weighs ``len(records) + 1``. An item is
    accepted while the queued weight is below ``maxsize``, so one large batch may overshoot the
    bound once.
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
        """Queue the sentinel behind everything, ignoring the bound: it must never wait."""
        with self.mutex:
            self._put(_SENTINEL)
            self.unfinished_tasks += 1
            self.not_empty.notify()


# -- the plugin ------------------------------------------------------------------------------


class Journal(SimplePlugin):
    """Bus plugin of the bank process: journals the batches of a run to SQLite (see module doc).

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
        group_records: int = DEFAULT_GROUP_RECORDS,
        join_timeout: float = DEFAULT_JOIN_TIMEOUT_S,
        synchronous: str = "OFF",
    ) -> None:
        super().__init__(bus)
        self.path = str(path)
        self.config = dict(config)
        self.failed: str | None = None
        self.synchronous = synchronous
        self._queue = _RowQueue(max_rows)
        self._put_timeout = put_timeout
        self._commit_interval = commit_interval
        self._group_records = group_records
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
        self.committed_bytes = 0  # writer
        self.bad_rows = 0  # writer
        self._bad_logged: set[int] = set()  # writer: kinds of bad batch logged already

    @staticmethod
    def check_path(path: str) -> str | None:
        """See the module-level ``check_path``."""
        return check_path(path)

    def subscribe(self) -> None:
        super().subscribe()
        self.bus.subscribe("restarted", self.restarted)

    # -- bus channels -------------------------------------------------------------------------

    @never_raises
    def start(self) -> None:
        """Create the journal and start the writer; never raises (see ``failed``)."""
        if self._started or self._stopped:
            return
        self._started = True
        try:
            self._con = create_journal(self.path, self.config, synchronous=self.synchronous)
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
        """After the bank finished: mark the stop, write everything queued, join the writer,
        close. Idempotent."""
        if self._stopped:
            return
        if self.failed is None and self._thread is not None:
            self._put((STOP, (), None, time.monotonic_ns()))
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
                f"({self._queue.qsize():,} records still queued); the journal is incomplete"
            )
            thread.join(2.0)
            if thread.is_alive():
                log.error("journal writer still running after stop; the process will wait for it")
            return
        log.info(
            "journal %s: %s records in %s batches (%.1f MB)%s",
            self.path,
            f"{self.committed_rows:,}",
            f"{self.committed_batches:,}",
            self.committed_bytes / 1e6,
            f"; FAILED: {self.failed}" if self.failed else "",
        )

    stop.priority = ORDER["stop", "journal"]  # type: ignore[attr-defined]

    def restarted(self, index: int, unanswered: object) -> None:
        """'restarted': broker ``index`` was restarted and is sent its unanswered orders again
        (their answers may repeat ones already journalled; readers keep the first)."""
        if self.failed is None and not self._stopped and self._thread is not None:
            self._put((RESTART, (), index, time.monotonic_ns(), len(unanswered)))  # type: ignore[arg-type]

    # -- hot path (bank thread) ---------------------------------------------------------------

    def record_orders(self, orders: np.ndarray, t_ns: int) -> None:
        """Journal orders placed at ``t_ns``, in placement order: an (n, 9) int64 array of wire
        order records, never written to again by the caller. O(1)."""
        if self.failed is not None or self._stopped:
            self._hook_dropped += len(orders)
        elif len(orders):
            self._put((ORDERS, orders, None, t_ns))

    def record_events(self, broker_index: int, events: np.ndarray) -> None:
        """Journal a batch of events as broker ``broker_index`` sent them: an (n, 7) int64 array
        of wire event records, never written to again by the caller. O(1)."""
        if self.failed is not None or self._stopped:
            self._hook_dropped += len(events)
        elif len(events):
            self._put((EVENTS, events, broker_index, time.monotonic_ns()))

    def record_kill(self, flow_upto: int, you_upto: int, account: int, released: bool = False) -> None:
        """Journal a use of the kill switch in its place among the orders (``kill_switch.Kill``)."""
        if self.failed is None and not self._stopped:
            record, kind = np.array([[account, flow_upto, you_upto]], np.int64), RELEASE if released else KILL
            self._put((kind, record, None, time.monotonic_ns()))

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
                f"journal write failed: the writer fell behind ({q.qsize():,} records queued) and "
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
            committed_bytes=self.committed_bytes,
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

    def _row(self, item: tuple) -> tuple | None:
        """The batches row of a queued item, or None (a batch that is not whole records)."""
        kind, data, broker, t_ns, *count = item
        if kind == RESTART or kind == STOP:
            return (kind, broker, t_ns, count[0] if count else 0, None)
        width = WIDTHS[kind]
        shape = getattr(data, "shape", None)
        if not (
            isinstance(shape, tuple)
            and len(shape) == 2
            and shape[1] == width
            and getattr(data, "dtype", None) == "int64"
        ):
            self.bad_rows += len(data)
            if kind not in self._bad_logged:
                self._bad_logged.add(kind)
                what = KIND_NAMES[kind]
                log.warning(
                    "journal: skipping a batch of %s that is not int64 records of %d (%s); further ones are "
                    "only counted in bad_rows",
                    what,
                    width,
                    describe_batch(data),
                )
            return None
        if not data.flags.c_contiguous:
            data = data.copy()  # a view with strides: SQLite binds contiguous bytes only
        return (kind, broker, t_ns, len(data), data)

    def _writer(self) -> None:
        processes.set_thread_title("journal")  # top -H and ps -L name it
        get = self._queue.get
        rows: list[tuple] = []
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
                records = 0
                while True:
                    if item[0] == _END:
                        done = True
                        break
                    if con is None or self._abandon:
                        self._writer_dropped += len(item[1])
                    elif (row := self._row(item)) is not None:
                        rows.append(row)
                        records += row[3] if row[4] is not None else 0
                    if records >= self._group_records:
                        break
                    remaining = deadline - time.monotonic()
                    if remaining <= 0:
                        break
                    try:
                        item = get(timeout=remaining)
                    except queue.Empty:
                        break
                if con is not None and rows and not self._commit(con, rows):
                    try:  # stop writing; keep draining so the bank never blocks
                        con.close()
                    except sqlite3.Error:
                        pass
                    con = self._con = None
                rows.clear()
        except Exception as exc:  # a bug: say so, and keep draining so the bank never blocks
            log.exception("journal writer failed")
            self._fail(f"journal write failed: {type(exc).__name__}: {exc}")
            if not done:
                self._discard_until_sentinel()
        finally:
            if con is not None:
                try:
                    if done and not self._abandon:
                        # a finished journal leaves no empty -journal file beside it
                        con.execute("PRAGMA busy_timeout = 200")
                        con.execute("PRAGMA journal_mode = DELETE")
                except sqlite3.Error as exc:
                    log.debug("journal %s keeps its -journal file: %s", self.path, exc)
                try:
                    con.close()
                except sqlite3.Error as exc:
                    self._fail(f"journal write failed: closing {self.path}: {exc}")
            self._con = None

    def _commit(self, con: sqlite3.Connection, rows: list[tuple]) -> bool:
        records = sum(r[3] for r in rows if r[4] is not None)
        try:
            con.execute("BEGIN IMMEDIATE")
            con.executemany(INSERT_BATCH, rows)
            con.execute("COMMIT")
        except Exception as exc:  # sqlite3.Error, or a value SQLite cannot bind (OverflowError)
            try:
                if con.in_transaction:
                    con.execute("ROLLBACK")
            except sqlite3.Error:
                pass
            self._writer_dropped += records
            self._fail(f"journal write failed: {type(exc).__name__}: {exc}")
            return False
        self.committed_rows += records
        self.committed_batches += len(rows)
        self.committed_bytes += sum(r[4].nbytes for r in rows if r[4] is not None)
        return True

    def _discard_until_sentinel(self) -> None:
        while True:
            try:
                item = self._queue.get(timeout=_IDLE_POLL_S)
            except queue.Empty:
                if self._stopped or not threading.main_thread().is_alive():
                    return
                continue
            if item[0] == _END:
                return
            self._writer_dropped += len(item[1])
