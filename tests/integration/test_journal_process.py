"""A journal written by a real process killed with SIGKILL: what it announced committed survives."""

from __future__ import annotations

import os
import signal
import sqlite3
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest

from simulator.journal_file import check_path
from simulator.replay import replay
from simulator.testing.journals import expanded_rows

pytestmark = [pytest.mark.slow, pytest.mark.timeout(60)]

ROOT = Path(__file__).resolve().parents[2]

# The child: a bank-like loop on a real bus, with one broker's matching in-process (it owns
# every symbol and rejects the flow's unknown symbol). After each batch it prints
# "committed <batches> <last oid> <fills>" for the newest batch it knows is committed
# (Journal.committed_batches counts queue items committed, in order).
CHILD = r"""
import sys, time
import numpy as np
from simulator import messages as msg
from simulator.broker import Broker
from simulator.bus import new_bus
from simulator.flow import OrderFlow
from simulator.journal import Journal

path = sys.argv[1]
symbols = ("AAPL", "MSFT", "NVDA")
bus = new_bus("child")
journal = Journal(bus, path, config={"symbols": list(symbols), "seed": 5})
journal.subscribe()
bus.start()
if journal.failed:
    print("failed", journal.failed, flush=True)
    sys.exit(3)
flow = OrderFlow(symbols, seed=5, invalid_ratio=0.01)
broker = Broker(msg.BrokerSpec(index=0, name="broker-0", symbols=symbols, symbol_ids=(0, 1, 2)))
items = 0
pending = []  # (queue items up to this batch, last oid, fills so far)
fills = 0
announced = 0
deadline = time.monotonic() + 40  # never outlive a test that forgot us
while time.monotonic() < deadline:
    records = flow.generate(64)
    journal.record_orders(records, time.monotonic_ns())
    flat = []
    broker.handle_orders(records.reshape(-1).tolist(), flat)
    events = np.array(flat, np.int64).reshape(-1, 7)
    fills += int((events[:, 0] == 3).sum())
    journal.record_events(0, events)
    items += 2
    pending.append((items, int(records[-1, 0]), fills))
    done = journal.committed_batches
    last = None
    while pending and pending[0][0] <= done:
        last = pending.pop(0)
    if last is not None:
        print("committed", *last, flush=True)
    time.sleep(0.002)  # about 25k orders/s: the writer keeps up, commits come often
bus.exit()
"""


def test_every_batch_announced_committed_survives_kill_9(tmp_path):
    path = tmp_path / "killed.db"
    proc = subprocess.Popen(
        [sys.executable, "-c", CHILD, str(path)],
        cwd=ROOT,
        stdin=subprocess.DEVNULL,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    lines: list[str] = []
    reader = threading.Thread(target=lambda: lines.extend(proc.stdout), daemon=True)
    reader.start()
    try:
        deadline = time.monotonic() + 30
        while len(lines) < 25 and proc.poll() is None and time.monotonic() < deadline:
            time.sleep(0.01)
        assert len(lines) >= 25, (lines[-5:], proc.poll())
        os.kill(proc.pid, signal.SIGKILL)  # mid-run: batches are queued and being written
        proc.wait(10)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait(10)
    reader.join(5)
    assert proc.returncode == -signal.SIGKILL
    last = [line.split() for line in lines if line.startswith("committed")][-1]
    _word, _items, last_oid, fills = last
    last_oid, fills = int(last_oid), int(fills)

    con = sqlite3.connect(path)  # a writer: it rolls back a commit the kill left unfinished
    try:
        assert con.execute("PRAGMA integrity_check").fetchone() == ("ok",)
        assert con.execute("SELECT value FROM run WHERE key = 'report'").fetchone() is None
    finally:
        con.close()
    # orders have consecutive ids from 1: every one announced is there
    assert expanded_rows(path, "SELECT count(*) FROM orders WHERE id <= ?", last_oid) == [(last_oid,)]
    assert expanded_rows(path, "SELECT count(*) FROM fills")[0][0] >= fills
    answered = "SELECT count(*) FROM results WHERE order_id <= ? AND event IN ('ACK', 'REJECT')"
    assert expanded_rows(path, answered, last_oid)[0][0] > 0

    result = replay(str(path))  # the prefix left by the kill replays to the same fills
    assert result.identical, result.first_difference
    assert not result.complete
    assert result.fills_expected >= fills
    assert check_path(str(path)) is None  # and the next run may replace it


# The child: one batch committed, then a commit so large that SQLite writes into the file before
# it ends (a cache of a few pages spills), and a SIGKILL in the middle of it: the file is left
# with a hot -journal, as a kill of the bank during a commit leaves it.
MID_COMMIT = r"""
import os, signal, sys
import numpy as np
from simulator.journal_file import EVENTS, INSERT_BATCH, ORDERS, create_journal

con = create_journal(sys.argv[1], {"symbols": ["AAPL"]})
first = np.array([[1, 0, 0, 1, 0, 0, 100, 10, 0]], np.int64)
con.execute("BEGIN IMMEDIATE")
con.execute(INSERT_BATCH, (ORDERS, None, 0, 1, first))
con.execute(INSERT_BATCH, (EVENTS, 0, 0, 1, np.array([[1, 1, 0, 0, 0, 0, 0]], np.int64)))
con.execute("COMMIT")
con.execute("PRAGMA cache_size = 2")
con.execute("BEGIN IMMEDIATE")
more = np.arange(2, 20_002, dtype=np.int64).repeat(9).reshape(-1, 9)
for i in range(200):
    con.execute(INSERT_BATCH, (ORDERS, None, 0, len(more), more))
print("spilled", os.path.getsize(sys.argv[1] + "-journal"), flush=True)
os.kill(os.getpid(), signal.SIGKILL)
"""


def test_a_kill_in_the_middle_of_a_commit_leaves_a_journal_that_opens_at_its_last_commit(tmp_path):
    path = tmp_path / "hot.db"
    done = subprocess.run(
        [sys.executable, "-c", MID_COMMIT, str(path)], cwd=ROOT, capture_output=True, text=True, timeout=60
    )
    assert done.returncode == -signal.SIGKILL, done.stderr
    assert int(done.stdout.split()[1]) > 0  # the kill came with a hot -journal beside the file
    assert os.path.getsize(f"{path}-journal") > 0
    # the reader rolls the unfinished commit back, and finds the one before it
    assert expanded_rows(path, "SELECT id FROM orders") == [(1,)]
    result = replay(str(path))
    assert result.identical and not result.complete and result.orders == 1, result
    con = sqlite3.connect(path)
    try:
        assert con.execute("PRAGMA integrity_check").fetchone() == ("ok",)
        assert con.execute("SELECT count(*) FROM batches").fetchone() == (2,)
    finally:
        con.close()
