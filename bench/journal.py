"""The journal's cost: its writer alone, the bank's hook, and a run with it against one without.

    python bench/journal.py                  # about 2 minutes on 2 cores
    python bench/journal.py --reps 5 --duration 8

1. The writer alone: a ``Journal`` on a bus in this process, fed batches of orders and events
   (the sizes a run at ``--rate 0`` hands it) as fast as the hooks take them, until every one
   is committed: batches/s, MB/s, and the microseconds each hook call cost the feeding thread,
   for ``synchronous`` OFF (the default) and NORMAL; and what handing the same batches to a
   writer process through a pipe would cost the bank's thread instead.
2. Runs at ``--rate 0`` for ``--duration`` s, with ``--journal`` and without, alternated so that
   drift hits both alike: orders/s counted when their final state is known, medians of
   ``--reps`` with [min - max], and the ratio of the medians.
3. Durability: ``kill -9`` of a journalled run's bank at ``--rate 0``; how long before the kill
   the newest order batch in the file was placed (CLOCK_MONOTONIC is the bank's clock too).

Figures on a shared machine are noisy: read the ratio, measured within one run.
"""

from __future__ import annotations

import argparse
import os
import signal
import sqlite3
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "bench"))
sys.path.insert(1, str(ROOT))

from run import end_to_end, machine, med, simulate  # noqa: E402

from simulator import wire  # noqa: E402
from simulator.bus import new_bus  # noqa: E402
from simulator.journal import Journal  # noqa: E402


def writer_alone(
    seconds: float, orders_per_batch: int, events_per_batch: int, synchronous: str
) -> tuple[float, float, float]:
    """(batches/s, MB/s, hook us per call) of a Journal: fed as fast as the hooks take batches
    for ``seconds``, the time to commit everything after the last included; the hook's cost is
    the median of 100-call rounds made while the queue has room (full, a hook waits by design)."""
    orders = np.arange(orders_per_batch * wire.ORDER_WIDTH, dtype=np.int64).reshape(-1, wire.ORDER_WIDTH)
    events = np.arange(events_per_batch * wire.EVENT_WIDTH, dtype=np.int64).reshape(-1, wire.EVENT_WIDTH)
    with tempfile.TemporaryDirectory() as tmp:
        bus = new_bus("bench-journal")
        # fed faster than it writes, the queue is always full: wait for room as long as it takes
        journal = Journal(
            bus,
            os.path.join(tmp, "bench.db"),
            config={"symbols": []},
            synchronous=synchronous,
            put_timeout=60,
        )
        journal.subscribe()
        bus.start()
        rounds = []
        for _ in range(20):
            h = time.perf_counter()
            for _ in range(50):
                journal.record_orders(orders, 0)
                journal.record_events(0, events)
            rounds.append((time.perf_counter() - h) / 100)
            while journal.stats().queued_rows:
                time.sleep(0.001)
        before = journal.stats()
        t0 = time.perf_counter()
        end = t0 + seconds
        while time.perf_counter() < end:
            for _ in range(50):
                journal.record_orders(orders, 0)
                journal.record_events(0, events)
            if journal.failed:
                raise RuntimeError(journal.failed)
        bus.exit()  # the writer commits what is queued, then the journal closes
        elapsed = time.perf_counter() - t0
        stats = journal.stats()
        if stats.failed or stats.dropped_rows:
            raise RuntimeError(f"the writer failed: {stats}")
    batches = stats.committed_batches - before.committed_batches
    written = stats.committed_bytes - before.committed_bytes
    return batches / elapsed, written / elapsed / 1e6, statistics.median(rounds) * 1e6


def pipe_handoff(orders_per_batch: int, events_per_batch: int, calls: int = 2000) -> float:
    """Microseconds per batch that handing batches to a writer *process* would cost the bank's
    thread: each batch's bytes written into a pipe whose other end a process drains."""
    orders = np.zeros((orders_per_batch, wire.ORDER_WIDTH), np.int64)
    events = np.zeros((events_per_batch, wire.EVENT_WIDTH), np.int64)
    reader = subprocess.Popen(["cat"], stdin=subprocess.PIPE, stdout=subprocess.DEVNULL)
    try:
        assert reader.stdin is not None
        fd = reader.stdin.fileno()
        t0 = time.perf_counter()
        for i in range(calls):
            view = memoryview(orders if i % 2 else events).cast("B")  # no copy: the kernel's only
            while view:
                view = view[os.write(fd, view) :]
        return (time.perf_counter() - t0) / calls * 1e6
    finally:
        if reader.stdin is not None:
            reader.stdin.close()
        reader.wait(10)


def _has_orders(path: str) -> bool:
    try:
        con = sqlite3.connect(f"file:{path}?mode=ro", uri=True, timeout=1)
        try:
            return con.execute("SELECT 1 FROM batches WHERE kind = 0 LIMIT 1").fetchone() is not None
        finally:
            con.close()
    except sqlite3.Error:  # not made yet
        return False


def kill_lag(seconds: float) -> tuple[int, float]:
    """(orders journalled, ms from the newest journalled order batch to the kill) of a run at
    ``--rate 0`` whose bank is killed with SIGKILL ``seconds`` after its first orders."""
    with tempfile.TemporaryDirectory() as tmp:
        path = os.path.join(tmp, "killed.db")
        command = [sys.executable, str(ROOT / "simulate.py"), "--headless", "--rate", "0", "--journal", path]
        bank = subprocess.Popen(
            command, cwd=ROOT, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True
        )
        try:
            deadline = time.monotonic() + 60
            while not _has_orders(path) and time.monotonic() < deadline:  # spawning takes a while
                time.sleep(0.05)
            time.sleep(seconds)  # a benchmark's pacing, not a test's synchronisation
            killed = time.monotonic_ns()
            os.kill(bank.pid, signal.SIGKILL)
            bank.wait(10)
        finally:
            if bank.poll() is None:
                bank.kill()
                bank.wait(10)
        deadline = time.monotonic() + 10  # the brokers leave when they see the bank gone
        while time.monotonic() < deadline:
            try:
                os.killpg(bank.pid, 0)
            except ProcessLookupError:
                break
            time.sleep(0.05)
        con = sqlite3.connect(path)  # a writer: it rolls back a commit the kill left unfinished
        try:
            orders, newest = con.execute(
                "SELECT sum(records), max(t_ns) FROM batches WHERE kind = 0"
            ).fetchone()
        finally:
            con.close()
    return orders, (killed - newest) / 1e6


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--reps", type=int, default=3)
    ap.add_argument("--duration", type=float, default=6.0, help="seconds per run")
    ap.add_argument("--writer-seconds", type=float, default=3.0)
    ap.add_argument("--orders-per-batch", type=int, default=2048)
    ap.add_argument("--events-per-batch", type=int, default=4096)
    ap.add_argument("--runs-only", action="store_true", help="skip the writer alone and the kills")
    args = ap.parse_args()
    m = machine()
    print(f"machine: {m['cores']} cores, Python {m['python']}, load {m['load_average']}", flush=True)

    if not args.runs_only:
        writers(args)
    runs(args)
    if not args.runs_only:
        kills(args)
    return 0


def kills(args: argparse.Namespace) -> None:
    print(f"kill -9 of the bank 2 s after its first orders at --rate 0, {args.reps} times")
    lags = []
    for rep in range(args.reps):
        orders, lag = kill_lag(2.0)
        lags.append(lag)
        print(
            f"  kill {rep + 1}: {orders:,} orders in the file, the newest placed {lag:.0f} ms before the kill"
        )
    print(f"  newest batch before the kill (ms) {med(lags)}")


def writers(args: argparse.Namespace) -> None:
    print(
        f"writer alone: batches of {args.orders_per_batch:,} orders and {args.events_per_batch:,} events, "
        f"{args.writer_seconds:g} s, median of {args.reps}"
    )
    for synchronous in ("OFF", "NORMAL"):
        results = [
            writer_alone(args.writer_seconds, args.orders_per_batch, args.events_per_batch, synchronous)
            for _ in range(args.reps)
        ]
        batches, mbs, hook = (statistics.median(r[i] for r in results) for i in range(3))
        print(
            f"  synchronous={synchronous:6}  {batches:>9,.0f} batches/s  {mbs:>7,.0f} MB/s  "
            f"hook {hook:.2f} us per batch",
            flush=True,
        )
    handoff = statistics.median(
        pipe_handoff(args.orders_per_batch, args.events_per_batch) for _ in range(args.reps)
    )
    print(f"  a writer process instead: {handoff:.1f} us per batch on the bank's thread (pipe write)")


def runs(args: argparse.Namespace) -> None:
    print(f"runs: --rate 0 --duration {args.duration:g}, with and without --journal, alternated")
    without, with_journal, written = [], [], []
    for rep in range(args.reps):
        flags = ("--rate", "0", "--duration", str(args.duration), "--seed", str(rep + 1))
        r = simulate(*flags)
        assert r["reconciled"] and r["orders"]["lost"] == 0, r
        without.append(end_to_end(r))
        with tempfile.TemporaryDirectory() as tmp:
            r = simulate(*flags, "--journal", os.path.join(tmp, "run.db"))
        assert r["reconciled"] and r["journal"]["failed"] is None and not r["journal"]["dropped_rows"], r
        with_journal.append(end_to_end(r))
        written.append(r["journal"]["committed_bytes"] / 1e6 / (r["duration_s"] + r["drain_s"]))
        print(
            f"  rep {rep + 1}: without {without[-1]:,.0f}/s, with {with_journal[-1]:,.0f}/s "
            f"({written[-1]:,.0f} MB/s journalled)",
            flush=True,
        )
    print(f"  without --journal  {med(without)} orders/s")
    disk = statistics.median(written)
    print(f"  with --journal     {med(with_journal)} orders/s, {disk:,.0f} MB/s to disk")
    ratio = statistics.median(with_journal) / statistics.median(without)
    print(f"  ratio (medians)    {ratio:.2f}")


if __name__ == "__main__":
    sys.exit(main())
