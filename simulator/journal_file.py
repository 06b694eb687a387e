"""The journal file: its SQLite schema, telling a journal from any other file, opening and creating it.

Everything that knows what a journal looks like on disk lives here, and nothing about buses or
threads: ``simulator.journal`` (the bank's plugin) creates the file with ``create_journal``, turns
wire records into rows with ``TableRows`` and stores them with the ``INSERT_*`` statements;
``simulator.config`` checks a ``--journal`` path with ``check_path`` before any process starts;
``simulator.replay`` reads one with ``open_journal`` and ``read_run_value``.

A journal is a SQLite file whose ``PRAGMA application_id`` is ``APPLICATION_ID`` (0x53494D4A,
"SIMJ") and whose ``PRAGMA user_version`` is ``SCHEMA_VERSION`` (1)::

    orders(id INTEGER PRIMARY KEY,  -- the order id (oid)
           seq INTEGER,             -- per-symbol arrival number, 1, 2, ... in id order (cancels too)
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
                                    -- CANCEL_DONE: the cancelled order's id; ACK: NULL
            broker INTEGER,         -- the index of the broker that answered
            PRIMARY KEY(order_id, event)) WITHOUT ROWID
    run(key TEXT PRIMARY KEY, value TEXT)   -- JSON; keys 'config' (at start), 'report' (at end)

For a CANCEL, ``results`` holds ``(cancel id, 'CANCEL_DONE', target id)`` and
``(target id, 'CANCELLED', leaves)``, or ``(cancel id, 'REJECT', reason)``. Every insert
(``INSERT_ORDERS``, ``INSERT_FILLS``, ``INSERT_RESULTS``) is ``INSERT OR IGNORE``: an answer
delivered twice (a broker restarted and answered re-sent orders again) is stored once, the first
time; an order recorded twice keeps its first row.

A journal is created in WAL mode with ``synchronous=NORMAL``; the writer switches a cleanly
finished one back to a single self-contained file. A killed run's journal stays in WAL mode (the
-wal file beside it holds the last commits; SQLite reads it back).
"""

from __future__ import annotations

import json
import logging
import os
import sqlite3
import stat
from collections.abc import Iterable
from typing import TYPE_CHECKING, Any
from urllib.parse import quote

from simulator import wire
from simulator.orders import Event, OrderType, TimeInForce

if TYPE_CHECKING:
    import numpy as np

log = logging.getLogger("journal")

APPLICATION_ID = 0x53494D4A  # "SIMJ": tells our journals from any other SQLite file
SCHEMA_VERSION = 1
BUSY_TIMEOUT_S = 5.0  # how long a write waits for a lock held by another connection

SCHEMA = """
CREATE TABLE IF NOT EXISTS orders(id INTEGER PRIMARY KEY, seq INTEGER, account INTEGER, symbol TEXT,
    side INTEGER, type TEXT, tif TEXT, price INTEGER, qty INTEGER, target INTEGER, created_ns INTEGER);
CREATE TABLE IF NOT EXISTS fills(symbol TEXT, match_seq INTEGER, buy_id INTEGER, sell_id INTEGER,
    price INTEGER, qty INTEGER, PRIMARY KEY(symbol, match_seq)) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS results(order_id INTEGER, event TEXT, detail INTEGER, broker INTEGER,
    PRIMARY KEY(order_id, event)) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS run(key TEXT PRIMARY KEY, value TEXT);
"""
TABLES = ("orders", "fills", "results", "run")

INSERT_ORDERS = "INSERT OR IGNORE INTO orders VALUES (?,?,?,?,?,?,?,?,?,?,?)"
INSERT_FILLS = "INSERT OR IGNORE INTO fills VALUES (?,?,?,?,?,?)"
INSERT_RESULTS = "INSERT OR IGNORE INTO results VALUES (?,?,?,?)"

# Names stored for the enum codes, looked up per row (dicts: a bad code is a KeyError, never a
# silent wrap-around as a negative tuple index would be).
TYPE_NAMES = {int(t): t.name for t in OrderType}
TIF_NAMES = {int(t): t.name for t in TimeInForce}
RESULT_NAMES = {int(e): e.name for e in Event if e != Event.TRADE}

_SQLITE_MAGIC = b"SQLite format 3\x00"
_LONGEST_SUFFIX = "-journal"  # of the files SQLite names after a database (-wal, -shm, -journal)
_PATH_MAX = 4096  # Linux's, for a whole path
_KINDS = {stat.S_IFIFO: "a FIFO", stat.S_IFCHR: "a character device", stat.S_IFBLK: "a block device"}
_TRADE = int(Event.TRADE)
_ACK = int(Event.ACK)
_UNKNOWN = wire.UNKNOWN_SYMBOL_NAME  # the name stored for a sym that is not the run's


class JournalError(Exception):
    """A journal that cannot be created, written or read; the message says which file and why."""


# -- paths -----------------------------------------------------------------------------------


def check_path(path: str) -> str | None:
    """Why ``path`` cannot become a journal, in one line, or None if it can: call it before any
    process starts, for an early usage error. A missing file, an empty file, an empty SQLite
    database or an existing journal are fine (``create_journal`` replaces a journal); anything
    else that exists is refused, never overwritten, and so are a symbolic link (a dangling one
    would have its target created), SQLite's ``:memory:`` and a name too long for the disk."""
    if not path:
        return "the journal path is empty"
    if path == ":memory:":
        return "':memory:' is SQLite's database in memory, not a file (for a file of that name: ./:memory:)"
    full = os.path.abspath(path)
    parent = os.path.dirname(full)
    if too_long := _too_long(path, full):
        return too_long
    if os.path.islink(full):
        target = os.readlink(full)
        if not os.path.exists(full):
            return f"{path} is a dangling symbolic link (to {target}); refusing to create its target"
        return f"{path} is a symbolic link (to {target}); give the journal's own path"
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


def _too_long(path: str, full: str) -> str | None:
    """Why ``full`` is too long a name for the file system, or None. SQLite makes files named
    after the journal with a suffix (``-journal``, ``-wal``): they must fit too."""
    parent = os.path.dirname(full)
    try:
        name_max = os.pathconf(parent if os.path.isdir(parent) else os.sep, "PC_NAME_MAX")
    except (OSError, ValueError):
        name_max = 255
    *dirs, name = (len(os.fsencode(n)) for n in full.split(os.sep))
    if max(dirs) > name_max:
        return f"cannot create {path}: a directory name in it is longer than {name_max} bytes"
    if name + len(_LONGEST_SUFFIX) > name_max:
        fit = name_max - len(_LONGEST_SUFFIX)
        return f"cannot create {path}: its name is {name} bytes, at most {fit} fit (SQLite adds -journal)"
    if len(os.fsencode(full)) + len(_LONGEST_SUFFIX) >= _PATH_MAX:
        return f"cannot create {path}: the path is longer than the {_PATH_MAX} bytes a path may have"
    return None


def _classify(path: str) -> tuple[str, str]:
    """('empty' | 'journal' | 'sqlite' | 'other', detail) for an existing file; anything but a
    regular file is 'other' (opened without blocking: a FIFO must not hang us)."""
    try:
        fd = os.open(path, os.O_RDONLY | os.O_NONBLOCK | os.O_CLOEXEC)
        try:
            if not stat.S_ISREG(os.fstat(fd).st_mode):
                return "other", "not a regular file"
            head = os.read(fd, len(_SQLITE_MAGIC))
        finally:
            os.close(fd)
    except OSError as exc:
        return "other", exc.strerror or str(exc)
    if not head:
        return "empty", "empty file"
    if head != _SQLITE_MAGIC:
        return "other", "no SQLite header"
    try:
        con = sqlite3.connect(_uri(path, "ro"), uri=True, timeout=BUSY_TIMEOUT_S)
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


def _uri(path: str, mode: str) -> str:
    """``path`` as a quoted SQLite URI (``?``, ``#``, ``%``, non-UTF-8 bytes stay in the name):
    this SQLite reads a plain name beginning ``file:`` as a URI too."""
    return f"file:{quote(os.fsencode(os.path.abspath(path)))}?mode={mode}"


# -- reading ---------------------------------------------------------------------------------


def open_journal(path: str) -> sqlite3.Connection:
    """A read-only connection to an existing journal; JournalError says why there is none.
    Only a regular file can be one: a FIFO or a device is refused before it is opened."""
    try:
        mode = os.stat(path).st_mode
    except FileNotFoundError:
        raise JournalError(f"{path}: no such file") from None
    except (OSError, ValueError) as exc:
        raise JournalError(f"{path}: {getattr(exc, 'strerror', None) or exc}") from None
    if stat.S_ISDIR(mode):
        raise JournalError(f"{path} is a directory, not a journal")
    if not stat.S_ISREG(mode):
        raise JournalError(f"{path} is {_KINDS.get(stat.S_IFMT(mode), 'not a regular file')}, not a journal")
    kind, detail = _classify(path)
    if kind != "journal":
        raise JournalError(f"{path} is not a journal ({detail})")
    try:
        con = sqlite3.connect(_uri(path, "ro"), uri=True)
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


# -- writing ---------------------------------------------------------------------------------


def create_journal(path: str, config: dict) -> sqlite3.Connection:
    """A fresh journal at ``path`` holding ``config`` as run('config'), in WAL mode, as one
    autocommit connection usable from another thread (the writer's). An existing journal is
    replaced; anything else ``check_path`` refuses is a JournalError, never overwritten. A
    new file is created here, exclusively and not through a symbolic link, and removed again
    if the journal cannot be made in it."""
    problem = check_path(path)
    if problem:
        raise JournalError(problem)
    reuse = os.path.lexists(path)  # an empty file or an empty SQLite database
    if reuse and _classify(path)[0] == "journal":
        if (error := _remove(path)) is not None:
            raise JournalError(f"cannot replace the old journal {error.filename}: {error.strerror}")
        reuse = False
    if not reuse:
        try:
            os.close(
                os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW | os.O_CLOEXEC, 0o666)
            )
        except OSError as exc:
            raise JournalError(f"cannot create {path}: {exc.strerror or exc}") from exc
    con = None
    try:
        con = sqlite3.connect(
            _uri(path, "rw"), uri=True, timeout=BUSY_TIMEOUT_S, isolation_level=None, check_same_thread=False
        )
        # written before WAL mode is on, so they are in the main file's header at once
        con.execute(f"PRAGMA application_id = {APPLICATION_ID}")
        con.execute(f"PRAGMA user_version = {SCHEMA_VERSION}")
        mode = con.execute("PRAGMA journal_mode = WAL").fetchone()[0]
        if str(mode).lower() != "wal":
            raise JournalError(f"cannot create {path}: WAL mode refused ({mode})")
        con.execute("PRAGMA synchronous = NORMAL")
        con.executescript(SCHEMA)
        text = json.dumps(config, sort_keys=True, default=str)
        con.execute("INSERT OR REPLACE INTO run(key, value) VALUES ('config', ?)", (text,))
    except (sqlite3.Error, JournalError) as exc:
        if con is not None:
            con.close()
        if not reuse:  # leave nothing half-made behind
            _remove(path)
        if isinstance(exc, JournalError):
            raise
        raise JournalError(f"cannot create {path}: {exc}") from exc
    return con


def _remove(path: str) -> OSError | None:
    """Remove a journal and the files SQLite keeps beside it; the first error, if any."""
    for p in (path, f"{path}-wal", f"{path}-shm", f"{path}-journal"):
        try:
            os.remove(p)
        except FileNotFoundError:
            pass
        except OSError as exc:
            return exc
    return None


def write_run_value(path: str, key: str, value: Any) -> None:
    """Store ``value`` as JSON under ``key`` in the journal's ``run`` table, on a connection of
    its own (the writer may still hold one); JournalError if it cannot."""
    text = json.dumps(value, default=str)
    try:
        con = sqlite3.connect(_uri(path, "rw"), uri=True, timeout=BUSY_TIMEOUT_S, isolation_level=None)
        try:
            con.execute("INSERT OR REPLACE INTO run(key, value) VALUES (?, ?)", (key, text))
        finally:
            con.close()
    except sqlite3.Error as exc:
        raise JournalError(f"cannot store the {key} in journal {path}: {exc}") from exc


# -- rows ------------------------------------------------------------------------------------


class TableRows:
    """Wire records as rows of ``orders``, ``fills`` and ``results``, for the INSERT statements.

    Orders are (n, 9) and events (n, 7) int64 arrays (``simulator.wire``); the symbol is
    stored by name (``symbols[sym]``; any other sym as the flow's unknown symbol). It numbers
    each symbol's arrivals (``seq``), so one instance must see every batch of a run, in order,
    on one thread. Garbage is never an exception: a record whose type, time in force or event
    kind names none is skipped alone, a batch that is not such an array is skipped whole, and
    both are counted in ``bad_rows`` (only the first bad record and the first bad batch of
    orders and of events are logged, so a stream of garbage cannot flood the log).
    """

    def __init__(self, symbols: Iterable[str]) -> None:
        self.bad_rows = 0
        self._bad_records = 0
        self._bad_batches: dict[str, int] = {"orders": 0, "events": 0}
        self._names = dict(enumerate(str(s) for s in symbols))
        self._seq: dict[str, int] = {}

    def orders(self, batch: np.ndarray, t_ns: int, out: list[tuple]) -> int:
        """Append ``batch``, placed at ``t_ns``, as orders rows to ``out``; how many."""
        if not _is_records(batch, wire.ORDER_WIDTH):
            self._bad_batch("orders", batch, wire.ORDER_WIDTH)
            return 0
        records = batch.tolist()
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

    def events(self, batch: np.ndarray, broker: int, fills: list[tuple], results: list[tuple]) -> int:
        """Append ``batch``, sent by broker ``broker``, as rows to ``fills`` and ``results``;
        how many."""
        if not _is_records(batch, wire.EVENT_WIDTH):
            self._bad_batch("events", batch, wire.EVENT_WIDTH)
            return 0
        records = batch.tolist()
        names = RESULT_NAMES
        name_of = self._names.get
        add_fill, add_result = fills.append, results.append
        n0 = len(fills) + len(results)
        bad = 0
        rest = records
        while True:
            try:
                for kind, a, b, c, d, e, f in rest:
                    if kind == _TRADE:  # sym, match_seq, buy_oid, sell_oid, price, qty
                        add_fill((name_of(a, _UNKNOWN), b, c, d, e, f))
                    else:  # oid, detail (an ACK has none)
                        add_result((a, names[kind], None if kind == _ACK else b, broker))
                break
            except KeyError:  # a kind that names no event
                done = len(fills) + len(results) - n0 + bad  # as in ``orders``
                self._bad(records[done])
                bad += 1
                rest = records[done + 1 :]
        return len(fills) + len(results) - n0

    def _bad(self, example: object) -> None:
        if not self._bad_records:
            log.warning(
                "journal: skipping malformed rows, e.g. %.120r; further ones are only counted in bad_rows",
                example,
            )
        self._bad_records += 1
        self.bad_rows += 1

    def _bad_batch(self, what: str, batch: object, width: int) -> None:
        # not whole records: no row of it can be trusted
        if not self._bad_batches[what]:
            why = "journal: skipping a batch of %s that is not int64 records of %d (%s)"
            log.warning(why + "; further ones are only counted in bad_rows", what, width, _describe(batch))
        self._bad_batches[what] += 1
        self.bad_rows += len(batch)  # type: ignore[arg-type]  # the plugin's hook took its len()


def _is_records(batch: object, width: int) -> bool:
    # read through the array's attributes, so that opening a journal needs no numpy
    shape = getattr(batch, "shape", None)
    return (
        isinstance(shape, tuple)
        and len(shape) == 2
        and shape[1] == width
        and getattr(batch, "dtype", None) == "int64"
    )


def _describe(batch: object) -> str:
    shape, dtype = getattr(batch, "shape", None), getattr(batch, "dtype", None)
    if shape is not None and dtype is not None:
        return f"an array of shape {shape}, dtype {dtype}"
    return type(batch).__name__
