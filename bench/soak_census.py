"""What the bank's memory is made of over a long run, to find what grows: a census at marks.

    python bench/soak_census.py --at 30,300 -- --rate 20000 --duration 310 --kill-broker-every 5
    python bench/soak_census.py --at 10,120 --arenas -- --rate 20000 --duration 122 --kill-broker-every 5

Runs the bank in this process (headless, the flags after ``--`` are simulate.py's) with a
listener on its bus's 'main' channel that, at each mark (seconds since the first order), takes:

    rss          the process's resident memory (/proc/self/status), anonymous part apart
    malloc       glibc's mallinfo2: heap bytes in use and free, mapped blocks
    obmalloc     sys._debugmallocstats' arenas allocated and blocks in use (CPython's small objects)
    reachable    every numpy array (bytes) and container (length) reachable from the Simulation
                 by attributes, by path: ``bank.ledger._window.record``, ``pool.brokers[0]...``
    gc types     objects the collector tracks, by type (those made after the bank's gc.freeze())
    open orders  acked, by type and time in force, and how many are over a million ids old
    tracemalloc  with ``--trace S``: tracing from S seconds, the allocations still live at each
                 later mark by line, and the lines that grew most between the first and last
                 (it slows the bank: past 5,000 orders/s here the bank falls behind)

and prints, per mark, the totals, then what grew between the first and the last mark.
``--arenas``: which calls obmalloc takes new arenas in (its counters read in place, cheap: the
bank keeps its speed); ``--trim S``: ``malloc_trim(0)`` every S seconds, timed.
A debugging aid: the census stalls the bank for a moment.
"""

from __future__ import annotations

import argparse
import ctypes
import gc
import io
import os
import re
import sys
import tempfile
import time
import tracemalloc
from collections import Counter
from pathlib import Path
from typing import Any

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

MIB = 1 / 2**20


class _Mallinfo2(ctypes.Structure):
    _names = "arena ordblks smblks hblks hblkhd usmblks fsmblks uordblks fordblks keepcost"
    _fields_ = [(name, ctypes.c_size_t) for name in _names.split()]


def malloc_info() -> dict[str, int]:
    try:
        f = ctypes.CDLL(None).mallinfo2
    except (OSError, AttributeError):
        return {}
    f.restype = _Mallinfo2
    m = f()
    return {"heap": m.arena, "heap_used": m.uordblks, "heap_free": m.fordblks, "mapped": m.hblkhd}


def proc_status() -> dict[str, int]:
    out = {}
    for line in Path("/proc/self/status").read_text().splitlines():
        key, _, value = line.partition(":")
        if key in ("VmRSS", "RssAnon", "RssFile"):
            out[key] = int(value.split()[0]) * 1024
    return out


def obmalloc() -> dict[str, int]:
    """sys._debugmallocstats' totals (it writes to fd 2: caught in a file)."""
    with tempfile.TemporaryFile("w+") as tmp:
        sys.stderr.flush()
        saved = os.dup(2)
        os.dup2(tmp.fileno(), 2)
        try:
            sys._debugmallocstats()
        finally:
            os.dup2(saved, 2)
            os.close(saved)
        tmp.seek(0)
        text = tmp.read()
    out = {}
    for key, pattern in (
        ("arenas_allocated_total", r"# arenas allocated total\s+=\s+([\d,]+)"),
        ("arenas_reclaimed", r"# arenas reclaimed\s+=\s+([\d,]+)"),
        ("arenas_now", r"# arenas allocated current\s+=\s+([\d,]+)"),
        ("arenas_highwater", r"# arenas highwater mark\s+=\s+([\d,]+)"),
        ("blocks_bytes", r"# bytes in allocated blocks\s+=\s+([\d,]+)"),
        ("free_pool_bytes", r"# bytes in available blocks\s+=\s+([\d,]+)"),
        ("empty_pools_bytes", r"\d+ unused pools \* \d+ bytes\s+=\s+([\d,]+)"),
        ("arena_bytes", r"Total\s+=\s+([\d,]+)"),
    ):
        m = re.search(pattern, text)
        if m:
            out[key] = int(m.group(1).replace(",", ""))
    return out


def reachable(root: Any, name: str = "sim", depth: int = 7) -> dict[str, tuple[str, int]]:
    """path -> (kind, size): numpy arrays' bytes, containers' lengths, reachable by attributes."""
    seen: set[int] = set()
    out: dict[str, tuple[str, int]] = {}

    def walk(obj: Any, path: str, left: int) -> None:
        if id(obj) in seen or isinstance(obj, (int, float, str, bytes, bool, type(None), type)):
            return
        seen.add(id(obj))
        if isinstance(obj, np.ndarray):
            base = obj
            while isinstance(base.base, np.ndarray):
                base = base.base
            if id(base) not in seen or base is obj:
                seen.add(id(base))
                out[path] = ("ndarray", base.nbytes)
            return
        if isinstance(obj, (memoryview, bytearray)):
            out[path] = (type(obj).__name__, len(obj))
            return
        if left <= 0 or type(obj).__module__.startswith(("threading", "logging", "socket", "_io")):
            return
        if isinstance(obj, dict):
            out[path] = ("dict", len(obj))
            for k, v in list(obj.items())[:20]:
                walk(v, f"{path}[{k!r:.30}]", left - 1)
            return
        if isinstance(obj, (list, tuple, set, frozenset)) or type(obj).__name__ == "deque":
            out[path] = (type(obj).__name__, len(obj))
            for i, v in enumerate(list(obj)[:20]):
                walk(v, f"{path}[{i}]", left - 1)
            return
        attrs = getattr(obj, "__dict__", None)
        if attrs is not None:
            for k, v in list(attrs.items()):
                walk(v, f"{path}.{k}", left - 1)
        for k in getattr(type(obj), "__slots__", ()):
            if hasattr(obj, k):
                walk(getattr(obj, k), f"{path}.{k}", left - 1)

    walk(root, name, depth)
    return out


def _obmalloc_counters() -> tuple[Any, Any] | None:
    """obmalloc's own counters of arenas (now allocated, allocated ever), read in place: their
    addresses from libpython's symbol table (nm) and where it is loaded; None if not found."""
    import subprocess

    lib = next((line.split()[-1] for line in Path("/proc/self/maps").read_text().splitlines()
                if "libpython" in line and line.split()[2] == "00000000"), None)  # fmt: skip
    if lib is None:
        return None
    base = next(int(line.split("-")[0], 16) for line in Path("/proc/self/maps").read_text().splitlines()
                if line.endswith(lib))  # fmt: skip
    try:
        table = subprocess.run(["nm", lib], capture_output=True, text=True, check=True).stdout
    except (OSError, subprocess.CalledProcessError):
        return None
    where = {f[2]: int(f[0], 16) for f in (line.split() for line in table.splitlines()) if len(f) == 3}
    if "narenas_currently_allocated" not in where or "ntimes_arena_allocated" not in where:
        return None
    now = ctypes.c_size_t.from_address(base + where["narenas_currently_allocated"])
    ever = ctypes.c_size_t.from_address(base + where["ntimes_arena_allocated"])
    return now, ever


class Arenas:
    """Which calls obmalloc allocates new arenas in (each 1 MiB in 3.11, kept while one block
    in it lives): arenas allocated inside each wrapped call and those still there at its exit,
    own (callees apart)."""

    def __init__(self) -> None:
        counters = _obmalloc_counters()
        if counters is None:
            raise SystemExit("obmalloc's counters not found (libpython's symbols)")
        self.now, self.ever = counters
        self.stats: dict[str, list[int]] = {}  # name -> [calls, arenas kept at exit, allocated inside]
        self._stack: list[list[int]] = []

    def wrap(self, owner: Any, attr: str, name: str) -> None:
        fn = getattr(owner, attr)
        stats = self.stats.setdefault(name, [0, 0, 0])
        stack, now, ever = self._stack, self.now, self.ever

        def wrapped(*args: Any, **kwargs: Any) -> Any:
            frame = [now.value, ever.value, 0, 0]
            stack.append(frame)
            try:
                return fn(*args, **kwargs)
            finally:
                stack.pop()
                kept, made = now.value - frame[0], ever.value - frame[1]
                stats[0] += 1
                stats[1] += kept - frame[2]
                stats[2] += made - frame[3]
                if stack:
                    stack[-1][2] += kept
                    stack[-1][3] += made

        setattr(owner, attr, wrapped)

    def report(self, out: Any) -> None:
        now, ever = self.now.value, self.ever.value
        print(f"  obmalloc arenas inside calls (own, callees apart); now {now}, ever {ever}:", file=out)
        for name, (calls, kept, made) in sorted(self.stats.items(), key=lambda kv: (-kv[1][1], -kv[1][2])):
            print(f"    {name:<40} calls {calls:>9,}  arenas kept {kept:+4d}  allocated {made:4d}", file=out)


def open_kinds(ledger: Any) -> dict[str, int]:
    """The open orders by type and time in force, and how many ids behind the newest they are
    (the resting ones the flow never cancels stay open for the whole run)."""
    from simulator.order_window import ACKED
    from simulator.orders import OrderType, TimeInForce

    w = ledger.window
    ids, slots = w.open_slots()
    acked = w.state[slots] == ACKED
    rec = w.record[slots[acked]]
    age = ledger.max_oid - ids[acked]
    out: dict[str, int] = {}
    for t in np.unique(rec[:, 4]).tolist():
        for f in np.unique(rec[rec[:, 4] == t, 5]).tolist():
            mine = (rec[:, 4] == t) & (rec[:, 5] == f)
            name = f"{OrderType(t).name}/{TimeInForce(f).name}"
            out[name] = int(mine.sum())
            out[name + " >1M ids old"] = int((mine & (age > 1_000_000)).sum())
    return out


def gc_types() -> Counter:
    return Counter(type(o).__name__ for o in gc.get_objects())


class Census:
    def __init__(self, sim: Any, marks: list[float], trace_from: float | None, out: io.TextIOBase) -> None:
        self.sim, self.marks, self.trace_from, self.out = sim, sorted(marks), trace_from, out
        self.taken: list[dict] = []
        self.traces: list[tracemalloc.Snapshot] = []
        self.trim_every = self.next_trim = 0.0
        self.trims: list[float] = []
        self.libc = ctypes.CDLL(None)

    def main(self) -> None:
        bank = self.sim.bank
        if not bank.t_running:
            return
        t = time.monotonic() - bank.t_running
        if self.trim_every and t >= self.next_trim:
            self.next_trim = t + self.trim_every
            t0 = time.perf_counter()
            self.libc.malloc_trim(0)
            took = time.perf_counter() - t0
            self.trims.append(took)
        if self.trace_from is not None and not tracemalloc.is_tracing() and t >= self.trace_from:
            tracemalloc.start(6)
        if self.marks and t >= self.marks[0]:
            self.marks.pop(0)
            self.take(t)

    def take(self, t: float) -> None:
        t0 = time.monotonic()
        led = self.sim.bank.ledger
        row = {
            "t": t,
            **proc_status(),
            **malloc_info(),
            **obmalloc(),
            "reachable": reachable(self.sim),
            "gc": gc_types(),
            "resting": led.working,
            "window_size": len(led.window.state),
            "old_open": len(led.window._old),
            "placed": led.placed,
            "gc_stats": gc.get_stats(),
            "open_kinds": open_kinds(led),
            "gc_count": gc.get_count(),
        }
        if tracemalloc.is_tracing():
            self.traces.append(tracemalloc.take_snapshot())
            row["traced"] = tracemalloc.get_traced_memory()[0]
        self.taken.append(row)
        if not self.marks:  # the last: what the collector would find, had it run
            gc.set_debug(gc.DEBUG_SAVEALL)
            found = gc.collect()
            kinds = Counter(type(o).__name__ for o in gc.garbage)
            gc.garbage.clear()
            gc.set_debug(0)
            print(f"  gc.collect() at the last mark: {found:,} unreachable, {kinds.most_common(12)}",
                  f"gc count {gc.get_count()}", file=self.out)  # fmt: skip
        arr = sum(s for k, s in row["reachable"].values() if k == "ndarray")
        collected = [(g["collections"], g["collected"]) for g in row["gc_stats"]]
        print(
            f"t {t:6.1f} s  rss {row['VmRSS'] * MIB:6.1f} MiB (anon {row.get('RssAnon', 0) * MIB:.1f})"
            f"  heap {row.get('heap', 0) * MIB:.1f} used {row.get('heap_used', 0) * MIB:.1f}"
            f" free {row.get('heap_free', 0) * MIB:.1f} mapped {row.get('mapped', 0) * MIB:.1f}"
            f"  obmalloc arenas {row.get('arenas_now')} ({row.get('arena_bytes', 0) * MIB:.1f} MiB)"
            f" blocks {row.get('blocks_bytes', 0) * MIB:.1f} MiB  arrays {arr * MIB:.1f} MiB"
            f"  resting {row['resting']:,} window {row['window_size']:,} old {row['old_open']:,}"
            f"  placed {row['placed']:,}  gc (collections, collected) {collected} count {row['gc_count']}"
            f"  (census {time.monotonic() - t0:.2f} s)",
            file=self.out,
            flush=True,
        )

    def report(self) -> None:
        if len(self.taken) < 2:
            return
        a, b = self.taken[0], self.taken[-1]
        out = self.out
        print("\n-- open orders acked (resting) by type/TIF at each mark:", file=out)
        for name in sorted(b["open_kinds"]):
            print(
                f"  {name:<34} " + " ".join(f"{r['open_kinds'].get(name, 0):>7,}" for r in self.taken),
                file=out,
            )
        print(f"\n-- grew from {a['t']:.0f} s to {b['t']:.0f} s", file=out)
        for k in ("VmRSS", "RssAnon", "heap", "heap_used", "heap_free", "mapped", "arena_bytes",
                  "blocks_bytes", "free_pool_bytes", "empty_pools_bytes"):  # fmt: skip
            if k in a and k in b:
                print(f"  {k:<18} {(b[k] - a[k]) * MIB:+8.2f} MiB", file=out)
        for k in ("arenas_now", "arenas_allocated_total", "arenas_reclaimed", "arenas_highwater"):
            if k in a and k in b:
                print(f"  {k:<18} {a[k]} -> {b[k]}", file=out)
        ra, rb = a["reachable"], b["reachable"]
        grown = []
        for path, (kind, size) in rb.items():
            before = ra.get(path, (kind, 0))[1]
            if size != before:
                grown.append((size - before, path, kind, before, size))
        grown.sort(key=lambda g: -abs(g[0]) * (1 if g[2] == "ndarray" else 100))
        print("  reachable (arrays in bytes, containers in items):", file=out)
        for _delta, path, kind, before, size in grown[:40]:
            print(f"    {kind:<8} {path:<70} {before:>12,} -> {size:>12,}", file=out)
        diff = b["gc"] - a["gc"]
        print("  gc-tracked objects, more at the end:", file=out)
        for name, n in diff.most_common(20):
            print(f"    {name:<30} +{n:,}  (now {b['gc'][name]:,})", file=out)
        if len(self.traces) >= 2:
            first, last = self.traces[0], self.traces[-1]
            print(
                f"  tracemalloc: traced {self.taken[-1].get('traced', 0) * MIB:.2f} MiB at the end", file=out
            )
            print("  live at the end by line (largest):", file=out)
            for stat in last.statistics("lineno")[:25]:
                print(f"    {stat}", file=out)
            print("  grew most between the first and last traced mark:", file=out)
            for stat in last.compare_to(first, "traceback")[:15]:
                print(f"    {stat.size_diff / 1024:+9.1f} KiB {stat.count_diff:+7d} blocks", file=out)
                for line in stat.traceback.format()[-6:]:
                    print(f"        {line}", file=out)


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--at", default="30,300", help="marks, seconds since the first order (default 30,300)")
    p.add_argument("--trace", type=float, metavar="S", help="tracemalloc from S seconds on")
    p.add_argument("--arenas", action="store_true", help="the calls obmalloc allocates arenas in")
    p.add_argument("--trim", type=float, default=0.0, metavar="S", help="malloc_trim(0) every S s")
    p.add_argument("flags", nargs=argparse.REMAINDER, help="-- then simulate.py's flags")
    a = p.parse_args()
    flags = [f for f in a.flags if f != "--"]
    from simulator import processes
    from simulator.config import config_from_args
    from simulator.runner import Simulation, setup_logging

    config = config_from_args(["--headless", "--max-restarts", "1000", *flags], isatty=False)
    from simulator.runner import Simulation as Simulation_

    peaks = Arenas() if a.arenas else None
    if peaks is not None:
        import simulator.ledger as ledger_module
        import simulator.messages as msg_module
        import simulator.restart_state as restart_state
        from simulator.bank import Bank
        from simulator.flow import OrderFlow
        from simulator.ledger import Ledger
        from simulator.pool import BrokerPool
        from simulator.snapshots import SnapshotBuilder
        from simulator.supervisor import Supervisor

        for owner, attr, name in (
            (Ledger, "apply", "ledger.apply"),
            (ledger_module, "apply_slowly", "ledger_slow.apply_slowly"),
            (Ledger, "place", "ledger.place"),
            (OrderFlow, "generate", "flow.generate"),
            (BrokerPool, "poll", "pool.poll"),
            (Bank, "_flush", "bank._flush"),
            (SnapshotBuilder, "main", "snapshots.main"),
            (SnapshotBuilder, "publish", "snapshots.publish"),
            (Supervisor, "main", "supervisor.main"),
            (restart_state, "book_states", "restart_state.book_states"),
            (BrokerPool, "respawn", "pool.respawn"),
            (BrokerPool, "keep_standby", "pool.keep_standby"),
            (Bank, "_place", "bank._place"),
            (Bank, "_poll", "bank._poll"),
            (Bank, "main", "bank.main"),
            (SnapshotBuilder, "_process_rows", "snapshots._process_rows"),
            (SnapshotBuilder, "_sample_series", "snapshots._sample_series"),
            (msg_module, "encode", "messages.encode"),
            (msg_module, "decode", "messages.decode"),
            (SnapshotBuilder, "make", "snapshots.make"),
            (SnapshotBuilder, "_account_fields", "snapshots._account_fields"),
            (SnapshotBuilder, "_market_rows", "snapshots._market_rows"),
            (SnapshotBuilder, "on_heartbeat", "snapshots.on_heartbeat"),
            (SnapshotBuilder, "on_tape", "snapshots.on_tape"),
            (SnapshotBuilder, "send_watch", "snapshots.send_watch"),
            (Supervisor, "_restart", "supervisor._restart"),
            (Supervisor, "_kill_hung", "supervisor._kill_hung"),
            (Supervisor, "_fault_drills", "supervisor._fault_drills"),
            (Simulation_, "_relog", "runner._relog"),
            (Bank, "on_events", "bank.on_events"),
            (Bank, "requeue", "bank.requeue"),
        ):
            peaks.wrap(owner, attr, name)
    sim = Simulation(config)
    setup_logging(config, sim.log_lines, console=True)
    census = Census(sim, [float(x) for x in a.at.split(",")], a.trace, sys.stdout)
    census.trim_every = a.trim
    sim.bus.subscribe("main", census.main, priority=99)
    sim.install_signal_handlers()
    outcome = sim.run()
    sim.restore_signal_handlers()
    census.report()
    if census.trims:
        tr = sorted(census.trims)
        print(
            f"  malloc_trim: {len(tr)} calls, median {tr[len(tr) // 2] * 1e3:.2f} ms,"
            f" max {tr[-1] * 1e3:.2f} ms"
        )
    if peaks is not None:
        peaks.report(sys.stdout)
    snap = outcome.snapshot
    print(
        f"\nexit {outcome.exit_code}, lost {snap.orders.lost},"
        f" ack p99 {snap.ack_latency_us.get('p99', 0) / 1e3:.1f} ms,"
        f" digest {outcome.fills_digest}, malloc thresholds set {processes.steady_malloc()}"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
