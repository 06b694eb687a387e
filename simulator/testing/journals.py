"""Reading and changing a journal's batches in tests: as a disk, a bug or a person could.

A journal stores each batch as a blob of int64 records (``simulator.journal_file``); tests ask
about its tables (``expanded_rows``, decoded as ``simulate.py journal expand`` would, but in a
temporary database: the file is not changed) and change its records (``edit_batches``).
"""

from __future__ import annotations

import sqlite3
from array import array
from collections.abc import Callable

from simulator import wire
from simulator.journal_expand import decode, expanded_copy
from simulator.journal_file import EVENTS, ORDERS, open_journal

_WIDTHS = {ORDERS: wire.ORDER_WIDTH, EVENTS: wire.EVENT_WIDTH}


def expanded_rows(path, sql: str, *args) -> list[tuple]:
    """The rows ``sql`` selects from the journal's tables (orders, fills, results) as
    ``journal expand`` builds them, built in memory."""
    journal = open_journal(str(path))
    try:
        tables = expanded_copy(journal)
        try:
            return tables.execute(sql, args).fetchall()
        finally:
            tables.close()
    finally:
        journal.close()


class Batch:
    """One batch of a journal, its records as lists of ints to change in place."""

    __slots__ = ("id", "kind", "broker", "records")

    def __init__(self, id_: int, kind: int, broker: int | None, records: list[list[int]]) -> None:
        self.id, self.kind, self.broker, self.records = id_, kind, broker, records


def edit_batches(path, change: Callable[[list[Batch]], None]) -> None:
    """Let ``change`` edit every batch of orders and events (records changed, removed or
    added; a batch may be left empty), then store each batch it changed."""
    con = sqlite3.connect(str(path), isolation_level=None)
    try:
        batches = []
        before = {}
        for id_, kind, broker, data in con.execute(
            "SELECT id, kind, broker, data FROM batches WHERE kind IN (?, ?) ORDER BY id", (ORDERS, EVENTS)
        ):
            records = [list(r) for r in decode(data, _WIDTHS[kind]) or []]
            batches.append(Batch(id_, kind, broker, records))
            before[id_] = data
        change(batches)
        con.execute("BEGIN")
        for b in batches:
            data = array("q", [x for r in b.records for x in r]).tobytes()
            if data != before[b.id]:
                con.execute(
                    "UPDATE batches SET data = ?, records = ? WHERE id = ?", (data, len(b.records), b.id)
                )
        con.execute("COMMIT")
    finally:
        con.close()
