"""The journal file: its SQLite schema, telling a journal from any other file, opening and creating it.

Everything that knows what a journal looks like on disk lives here, and nothing about buses or
threads: ``simulator.journal`` (the bank's plugin) creates the file with ``create_journal`` and
stores batches with ``INSERT_BATCH``; ``simulator.config`` checks a ``--journal`` path with
``check_path`` before any process starts; ``simulator.journal_expand`` and ``simulator.replay``
read one with ``open_journal``, ``read_run_value`` and ``read_batches``.

A journal is a SQLite file whose ``PRAGMA application_id`` is ``APPLICATION_ID`` (0x53494D4A,
"SIMJ") and whose ``PRAGMA user_version`` is ``SCHEMA_VERSION`` (3; it was 2 before an agent's
order record stood for its ack and its cancel's answers). It holds what crossed the wire, one
row per batch, exactly as it crossed::

    batches(id INTEGER PRIMARY KEY,  -- the order the bank handed batches to the journal
            kind INTEGER,            -- 0 orders placed, 1 events of a broker, 2 a broker restarted,
                                     -- 3 the bank stopped (its last batch is before it),
                                     -- 4 the kill switch engaged, 5 released (each between
                                     -- the orders placed before and after it: kill_switch)
            broker INTEGER,          -- events, restart: the broker's index; orders, stop: NULL
            t_ns INTEGER,            -- orders: when placed; others: when the bank got them
                                     -- (the bank's monotonic clock, ns)
            records INTEGER,         -- records in data (restart: orders sent again)
            data BLOB)               -- orders: n x 9 int64, events: n x 7 int64, kill switch:
                                     -- 1 x 3 (account, flow_upto, you_upto), in the byte
                                     -- order run('format') names (simulator.wire); else NULL
    run(key TEXT PRIMARY KEY, value TEXT)   -- JSON: 'config', 'format' (at start), 'report' (at
                                            -- end), 'expanded' (by journal expand)

The orders of a run are its placement batches (every broker's, before routing), in id order;
each broker's events are in the order it sent them. A broker restarted answers the orders sent
to it again, so an answer may be stored twice: readers keep the first.

``simulate.py journal expand PATH`` adds the tables of format 1 to a journal (``orders``,
``fills``, ``results``: ``simulator.journal_expand``), for SQL; ``replay`` reads the batches.
A journal of format 1 (a row per event, before batches) is refused with a one-line reason.

A journal is written in rollback-journal mode (TRUNCATE) with 64 KiB pages: a commit appends
the new pages once and copies only the few it changes, where WAL would write every byte twice
(measured: 2.4 GB/s of batches against 0.3 GB/s in WAL). ``synchronous`` is OFF by default:
a ``kill -9`` of the bank loses nothing committed (the kernel holds every write), a power loss
or a kernel crash may damage the file; ``NORMAL`` (fsync at each commit) survives those too.
A killed run may leave a hot ``-journal`` file: ``open_journal`` then opens read-write so that
SQLite rolls the unfinished commit back.
"""

from __future__ import annotations

import json
import logging
import os
import sqlite3
import stat
import sys
from collections.abc import Iterator
from typing import Any
from urllib.parse import quote

from simulator import wire

log = logging.getLogger("journal")

APPLICATION_ID = 0x53494D4A  # "SIMJ": tells our journals from any other SQLite file
SCHEMA_VERSION = 3
_OLD_FORMATS = {  # what an older version wrote, said when refusing it
    1: "a row per event, from an older version",
    2: "agents' orders answered apart, from an older version",
}
BUSY_TIMEOUT_S = 5.0  # how long a write waits for a lock held by another connection
PAGE_SIZE = 65_536  # the largest: a batch of a few hundred orders fits one page, no overflow chain

ORDERS, EVENTS, RESTART, STOP, KILL, RELEASE = 0, 1, 2, 3, 4, 5  # batches.kind
KIND_NAMES = {ORDERS: "orders", EVENTS: "events", RESTART: "restart", STOP: "stop"}
KIND_NAMES |= {KILL: "kill switch", RELEASE: "kill switch released"}
KILL_WIDTH = 3  # a kill switch's record: account (-1: every one), flow_upto, you_upto
# the int64s per record of each kind that has records
WIDTHS = {ORDERS: wire.ORDER_WIDTH, EVENTS: wire.EVENT_WIDTH, KILL: KILL_WIDTH, RELEASE: KILL_WIDTH}
SYNCHRONOUS = ("OFF", "NORMAL")

SCHEMA = """
CREATE TABLE IF NOT EXISTS batches(id INTEGER PRIMARY KEY, kind INTEGER NOT NULL, broker INTEGER,
    t_ns INTEGER, records INTEGER, data BLOB);
CREATE TABLE IF NOT EXISTS run(key TEXT PRIMARY KEY, value TEXT);
"""
TABLES = ("batches", "run")
INSERT_BATCH = "INSERT INTO batches(kind, broker, t_ns, records, data) VALUES (?,?,?,?,?)"
# how the int64 records in data are laid out: checked by every reader
FORMAT = {"byteorder": sys.byteorder, "order_width": wire.ORDER_WIDTH, "event_width": wire.EVENT_WIDTH}

_LOST = {"orders": "orders", "cancels": "cancel_requests"}  # where a report counts them lost
_SQLITE_MAGIC = b"SQLite format 3\x00"
_LONGEST_SUFFIX = "-journal"  # of the files SQLite names after a database (-wal, -shm, -journal)
_PATH_MAX = 4096  # Linux's, for a whole path
_KINDS = {stat.S_IFIFO: "a FIFO", stat.S_IFCHR: "a character device", stat.S_IFBLK: "a block device"}


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
        con = sqlite3.connect(_uri(path, _mode(path, False)), uri=True, timeout=BUSY_TIMEOUT_S)
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


def open_journal(path: str, *, write: bool = False) -> sqlite3.Connection:
    """A connection to an existing journal (read-only unless ``write``); JournalError says why
    there is none. Only a regular file can be one: a FIFO or a device is refused before it is
    opened. A journal of format 1 (a row per event) is refused with its reason."""
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
        con = sqlite3.connect(_uri(path, _mode(path, write)), uri=True, timeout=BUSY_TIMEOUT_S)
        try:
            version = con.execute("PRAGMA user_version").fetchone()[0]
            names = {r[0] for r in con.execute("SELECT name FROM sqlite_master WHERE type='table'")}
        except sqlite3.Error:
            con.close()
            raise
    except sqlite3.Error as exc:
        raise JournalError(f"{path}: cannot read the journal: {exc}") from exc
    missing = [t for t in TABLES if t not in names]
    problem = None
    if version in _OLD_FORMATS:
        problem = (
            f"a journal of format {version} ({_OLD_FORMATS[version]}); "
            f"this version reads format {SCHEMA_VERSION}"
        )
    elif version != SCHEMA_VERSION or missing:
        problem = (
            f"journal format {version} (tables missing: {', '.join(missing) or 'none'}); "
            f"this version reads format {SCHEMA_VERSION}"
        )
    else:
        layout = read_run_value(con, "format")
        if layout is not None and layout != FORMAT:
            problem = f"its records are laid out as {layout}, this machine reads {FORMAT}"
    if problem:
        con.close()
        raise JournalError(f"{path}: {problem}")
    return con


def _mode(path: str, write: bool) -> str:
    """'rw' to write, or when a killed writer left a hot rollback journal (SQLite must roll its
    unfinished commit back before anything is read, and only a writer may); else 'ro'."""
    try:
        hot = os.path.getsize(f"{path}-journal") > 0
    except OSError:
        hot = False
    return "rw" if write or (hot and os.access(path, os.W_OK)) else "ro"


def read_batches(
    con: sqlite3.Connection, after: int = 0
) -> Iterator[tuple[int, int, int | None, int, int, Any]]:
    """The journal's batches after id ``after``, in order: (id, kind, broker, t_ns, records, data)."""
    return iter(
        con.execute(
            "SELECT id, kind, broker, t_ns, records, data FROM batches WHERE id > ? ORDER BY id", (after,)
        )
    )


def read_run_value(con: sqlite3.Connection, key: str) -> Any:
    """The decoded JSON stored under ``key`` in ``run``, or None."""
    row = con.execute("SELECT value FROM run WHERE key = ?", (key,)).fetchone()
    if row is None or row[0] is None:
        return None
    try:
        return json.loads(row[0])
    except ValueError:
        return None


def report_at(tree: object, *keys: str) -> Any:
    """``tree[k1][k2]...``, or None where a level is missing or not a dict (a stored report)."""
    for key in keys:
        tree = tree.get(key) if isinstance(tree, dict) else None
    return tree


def partial_reason(report: object) -> str | None:
    """Why the journal holding ``report`` (its run('report'), None if absent) is a prefix of
    its run, or None if it holds the whole run."""
    if not isinstance(report, dict):
        return "no final report: the run did not finish"
    if report_at(report, "journal", "failed"):
        return f"the journal failed during the run: {report_at(report, 'journal', 'failed')}"
    if isinstance(dropped := report_at(report, "journal", "dropped_rows"), int) and dropped > 0:
        return f"{dropped:,} rows were not journalled"
    counts = {what: report_at(report, where, "lost") for what, where in _LOST.items()}
    lost = [f"{n:,} {what}" for what, n in counts.items() if isinstance(n, int) and n > 0]
    return "the run lost " + " and ".join(lost) if lost else None


# -- writing ---------------------------------------------------------------------------------


def create_journal(path: str, config: dict, *, synchronous: str = "OFF") -> sqlite3.Connection:
    """A fresh journal at ``path`` holding ``config`` as run('config'), as one autocommit
    connection usable from another thread (the writer's); ``synchronous`` is SQLite's (OFF or
    NORMAL: see the module doc). An existing journal is replaced; anything else ``check_path``
    refuses is a JournalError, never overwritten. A new file is created here, exclusively and
    not through a symbolic link, and removed again if the journal cannot be made in it."""
    if synchronous not in SYNCHRONOUS:
        raise JournalError(f"synchronous must be one of {', '.join(SYNCHRONOUS)}, not {synchronous!r}")
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
        con.execute(f"PRAGMA page_size = {PAGE_SIZE}")  # before the first table exists
        mode = con.execute("PRAGMA journal_mode = TRUNCATE").fetchone()[0]
        if str(mode).lower() != "truncate":
            raise JournalError(f"cannot create {path}: rollback journal mode refused ({mode})")
        con.execute(f"PRAGMA synchronous = {synchronous}")
        con.execute("BEGIN IMMEDIATE")
        con.execute(f"PRAGMA application_id = {APPLICATION_ID}")
        con.execute(f"PRAGMA user_version = {SCHEMA_VERSION}")
        for statement in SCHEMA.split(";"):
            if statement.strip():
                con.execute(statement)
        insert = "INSERT OR REPLACE INTO run(key, value) VALUES (?, ?)"
        con.execute(insert, ("config", json.dumps(config, sort_keys=True, default=str)))
        con.execute(insert, ("format", json.dumps(FORMAT, sort_keys=True)))
        con.execute("COMMIT")
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


def describe_batch(batch: object) -> str:
    """What a batch that is not int64 records is, for a log line."""
    shape, dtype = getattr(batch, "shape", None), getattr(batch, "dtype", None)
    if shape is not None and dtype is not None:
        return f"an array of shape {shape}, dtype {dtype}"
    return type(batch).__name__
