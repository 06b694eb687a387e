"""What the dashboard costs the order flow, and how fast it answers a key at full load.

    python bench/tui_overhead.py [--reps 3] [--duration 10] [--brokers 2] [--json PATH]

1. Throughput: each repetition runs, back to back and with the same seed, a headless run
   (``simulate.py --headless --rate 0 --duration D``) and a dashboard run on a real 120x36
   pseudo-terminal (``simulate.py --rate 0 --duration D``; the dashboard closes itself at D).
   Which of the two goes first alternates between repetitions, so drift in the machine's load
   falls on both alike. orders/s comes from each run's JSON report
   (``throughput.orders_per_s`` = orders placed / seconds from the first order to the stop).
   The pty's output is only drained during these runs (``--emulate`` also parses it with pyte,
   i.e. adds the cost of a terminal emulator on the same cores).
2. Key latency: one dashboard run at ``--rate 0``; once it is RUNNING, keys are written to the
   pty and timed until the pyte screen shows their effect. The screen is checked by the pty
   reader thread right after it parses each chunk of output (no polling interval; the time
   includes pyte's parsing). Measured:
   - ``?`` opens / closes the help screen: the app draws it at once (key handled);
   - ``]`` next symbol: the Book title follows ``Snapshot.selected_symbol``, so it changes only
     when the bank's next Snapshot (every 100 ms) is picked up by the app's next poll (every
     1/ui-hz s): visible effect, not the key handling time;
   - ``p`` pause / resume: the toast ("Pausing / Resuming order generation") is drawn at once
     (key handled); the header's PAUSED / RUNNING badge follows the Snapshots (visible state).
3. The machine: cores, Python, Textual, load average before and after.

Every process started is ended (try/finally), and the script checks none is left.
"""
from __future__ import annotations

import argparse
import importlib.metadata
import json
import math
import os
import platform
import re
import resource
import select
import signal
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable

import psutil

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from tests.tui.ptyrun import PtySim  # noqa: E402

COLS, ROWS = 120, 36
SESSIONS: set[int] = set()  # session ids of every simulator started here (each is a leader)

Lines = list[str]


# -- a pty whose reader times screen conditions -------------------------------------------------

@dataclass
class Watch:
    predicate: Callable[[Lines], bool]
    event: threading.Event = field(default_factory=threading.Event)
    at: float = 0.0  # after the chunk that made it true was parsed
    arrived: float = 0.0  # when that chunk was read from the pty


class Terminal(PtySim):
    """PtySim whose reader can skip the terminal emulation (drain only), and which notes the
    moment a screen condition first holds, right after the chunk that made it true is parsed."""

    def __init__(self, *flags: str, emulate: bool = True) -> None:
        self.emulate = emulate
        self.watches: list[Watch] = []
        self.first_chunk_after: float | None = None
        self.first_chunk_at = 0.0
        self.closed = False
        super().__init__(*flags, cols=COLS, rows=ROWS)
        SESSIONS.add(self.proc.pid)

    def _read(self) -> None:  # the same loop as PtySim._read, plus the watches
        while True:
            try:
                ready, _, _ = select.select([self.master], [], [], 0.1)
                if not ready:
                    if self.proc.poll() is not None:
                        return
                    continue
                data = os.read(self.master, 65536)
            except OSError:
                return
            if not data:
                return
            arrived = time.perf_counter()
            with self._lock:
                if self.first_chunk_after is not None and self.first_chunk_at == 0.0:
                    self.first_chunk_at = arrived
                self.raw += data
                if not self.emulate:
                    continue
                self.stream.feed(data)
                pending = [w for w in self.watches if not w.event.is_set()]
                if pending:
                    lines = self.screen.display
                    now = time.perf_counter()
                    for w in pending:
                        if w.predicate(lines):
                            w.at, w.arrived = now, arrived
                            w.event.set()

    def lines(self) -> Lines:
        with self._lock:
            return list(self.screen.display)

    def timed_press(self, key: bytes, predicates: dict[str, Callable[[Lines], bool]],
                    timeout: float = 3.0) -> dict[str, float | None]:
        """Write ``key`` and return, per predicate, the ms until the screen satisfied it
        (None if it did not within ``timeout``). Each predicate must be false beforehand."""
        watches = {name: Watch(p) for name, p in predicates.items()}
        with self._lock:
            lines = self.screen.display
            for name, w in watches.items():
                if w.predicate(lines):
                    raise RuntimeError(f"{name!r} already holds before pressing {key!r}")
            self.watches = list(watches.values())
            self.first_chunk_at = 0.0
            t0 = self.first_chunk_after = time.perf_counter()
        os.write(self.master, key)
        deadline = t0 + timeout
        for w in watches.values():
            w.event.wait(max(0.0, deadline - time.perf_counter()))
        with self._lock:
            self.watches = []
            self.first_chunk_after = None
        self.last_detail = {name: {"parse_ms": (w.at - w.arrived) * 1000,
                                   "arrived_ms": (w.arrived - t0) * 1000}
                            for name, w in watches.items() if w.event.is_set()}
        return {name: (w.at - t0) * 1000 if w.event.is_set() else None
                for name, w in watches.items()}

    def wait_until(self, predicate: Callable[[Lines], bool], timeout: float, what: str) -> None:
        self.wait_for(lambda: predicate(self.lines()), timeout, what)

    def close(self) -> None:
        if not self.closed:
            self.closed = True
            super().close()


# -- what the screen shows ---------------------------------------------------------------------

STATE_RE = re.compile(r"\b(WAITING|STARTING|RUNNING|PAUSED|STOPPING|STOPPED)\b")
BOOK_RE = re.compile(r"Book ([A-Z0-9]+)\b")
HELP_MARK = "book of the next symbol"  # a line only the help screen shows
PAUSING, RESUMING = "Pausing order generation", "Resuming order generation"


def header_state(lines: Lines) -> str | None:
    """The state badge of the header (first line; two when narrow), never the process table."""
    m = STATE_RE.search(" ".join(lines[:2]))
    return m.group(1) if m else None


def book_symbol(lines: Lines) -> str | None:
    m = BOOK_RE.search("\n".join(lines))
    return m.group(1) if m else None


def shows(text: str) -> Callable[[Lines], bool]:
    return lambda lines: any(text in line for line in lines)


def hides(text: str) -> Callable[[Lines], bool]:
    return lambda lines: not any(text in line for line in lines)


# -- processes ---------------------------------------------------------------------------------

def session_processes(sids: set[int]) -> list[psutil.Process]:
    left = []
    for p in psutil.process_iter(["pid"]):
        try:
            if os.getsid(p.pid) in sids and p.status() != psutil.STATUS_ZOMBIE:
                left.append(p)
        except (OSError, psutil.Error):
            pass
    return left


def kill_sessions(sids: set[int]) -> None:
    for p in session_processes(sids):
        try:
            p.kill()
        except psutil.Error:
            pass


def simulate_cmd(*flags: str) -> list[str]:
    return [sys.executable, str(ROOT / "simulate.py"), *flags]


def children_cpu_s() -> float:
    r = resource.getrusage(resource.RUSAGE_CHILDREN)
    return r.ru_utime + r.ru_stime


def read_report(path: Path) -> dict:
    with open(path) as f:
        return json.load(f)


@dataclass
class RunResult:
    mode: str
    seed: int
    orders_per_s: float
    placed: int
    duration_s: float
    cpu_s: float
    load1: float
    exit_code: int
    reconciled: bool


def run_headless(flags: list[str], seed: int, report: Path, timeout: float) -> RunResult:
    load1 = os.getloadavg()[0]
    cpu0 = children_cpu_s()
    with tempfile.TemporaryFile() as out:
        proc = subprocess.Popen(
            simulate_cmd("--headless", *flags, "--seed", str(seed), "--report", str(report)),
            cwd=ROOT, stdin=subprocess.DEVNULL, stdout=out, stderr=subprocess.STDOUT,
            start_new_session=True)
        SESSIONS.add(proc.pid)
        try:
            code = proc.wait(timeout)
        finally:
            if proc.poll() is None:
                proc.kill()
                proc.wait(10)
            kill_sessions({proc.pid})
        if code != 0 or not report.exists():
            out.seek(0)
            raise RuntimeError(f"headless run failed (exit {code}):\n"
                               f"{out.read().decode(errors='replace')[-3000:]}")
    return result_of("headless", seed, report, children_cpu_s() - cpu0, load1)


def run_dashboard(flags: list[str], seed: int, report: Path, timeout: float,
                  emulate: bool) -> RunResult:
    load1 = os.getloadavg()[0]
    cpu0 = children_cpu_s()
    term = Terminal(*flags, "--seed", str(seed), "--report", str(report), emulate=emulate)
    try:
        code = term.wait_exit(timeout)
        left = term.leftover_processes()
        if left:
            raise RuntimeError(f"dashboard run left processes behind: {left}")
        out = term.output()
        if code != 0 or not report.exists():
            raise RuntimeError(f"dashboard run failed (exit {code}):\n{out[-3000:]}")
        if "\x1b[?1049h" not in out:
            raise RuntimeError("the dashboard run never entered the alternate screen "
                               f"(no dashboard shown?):\n{out[-3000:]}")
    finally:
        term.close()
    return result_of("dashboard", seed, report, children_cpu_s() - cpu0, load1)


def result_of(mode: str, seed: int, report: Path, cpu_s: float, load1: float) -> RunResult:
    r = read_report(report)
    return RunResult(mode, seed, float(r["throughput"]["orders_per_s"]), int(r["orders"]["placed"]),
                     float(r["duration_s"]), cpu_s, load1, int(r["exit_code"]),
                     bool(r["reconciled"]))


# -- statistics --------------------------------------------------------------------------------

def percentile(values: list[float], q: float) -> float:
    """Nearest-rank percentile (q in 0..100)."""
    s = sorted(values)
    return s[max(0, math.ceil(q / 100 * len(s)) - 1)]


def dist(values: list[float]) -> dict:
    return {"n": len(values), "p50": statistics.median(values), "p95": percentile(values, 95),
            "max": max(values), "min": min(values)}


def fmt_dist(name: str, values: list[float], failed: int) -> str:
    if not values:
        return f"  {name:<38} no answer within the timeout ({failed} presses)"
    d = dist(values)
    extra = f", {failed} not seen within the timeout" if failed else ""
    return (f"  {name:<38} n={d['n']:>2}  p50 {d['p50']:6.1f} ms  p95 {d['p95']:6.1f} ms  "
            f"max {d['max']:6.1f} ms  (min {d['min']:5.1f}){extra}")


# -- the two measurements ----------------------------------------------------------------------

def throughput(args, flags: list[str], tmp: Path) -> dict:
    print(f"== throughput: {args.reps} repetitions x (headless, dashboard on a {COLS}x{ROWS} pty),"
          f" --rate 0 --duration {args.duration:g} --brokers {args.brokers}, the order alternating"
          f"; pty output {'parsed by pyte' if args.emulate else 'drained only'}", flush=True)
    timeout = args.duration + 120
    pairs = []
    for rep in range(args.reps):
        seed = args.seed + rep
        order = ("headless", "dashboard") if rep % 2 == 0 else ("dashboard", "headless")
        got: dict[str, RunResult] = {}
        for mode in order:
            report = tmp / f"rep{rep}-{mode}.json"
            if mode == "headless":
                got[mode] = run_headless(flags, seed, report, timeout)
            else:
                got[mode] = run_dashboard(flags, seed, report, timeout, args.emulate)
            r = got[mode]
            print(f"  rep {rep + 1} {mode:<9} seed {seed}: {r.orders_per_s:>10,.0f} orders/s "
                  f"({r.placed:,} placed in {r.duration_s:.2f} s; CPU of the run {r.cpu_s:5.1f} s; "
                  f"load1 at start {r.load1:.2f}; exit {r.exit_code}, "
                  f"reconciled {'yes' if r.reconciled else 'NO'})", flush=True)
        ratio = got["dashboard"].orders_per_s / got["headless"].orders_per_s
        print(f"  rep {rep + 1} ratio dashboard/headless = {ratio:.3f}  (ran {order[0]} first)",
              flush=True)
        pairs.append((got["headless"], got["dashboard"], ratio))
    head = [h.orders_per_s for h, _, _ in pairs]
    dash = [d.orders_per_s for _, d, _ in pairs]
    ratios = [r for _, _, r in pairs]
    med_h, med_d = statistics.median(head), statistics.median(dash)
    ratio_of_medians = med_d / med_h
    print(f"  headless : median {med_h:>10,.0f} orders/s  (min {min(head):,.0f}, max {max(head):,.0f})")
    print(f"  dashboard: median {med_d:>10,.0f} orders/s  (min {min(dash):,.0f}, max {max(dash):,.0f})")
    print(f"  ratio of medians dashboard/headless = {ratio_of_medians:.3f}  "
          f"[{'meets' if ratio_of_medians >= 0.9 else 'FAILS'} >= 0.90]")
    print(f"  per-rep ratios (back to back): {', '.join(f'{r:.3f}' for r in ratios)}  "
          f"(median {statistics.median(ratios):.3f}, min {min(ratios):.3f}, max {max(ratios):.3f})",
          flush=True)
    return {
        "runs": [vars(h) | {"pair": i + 1} for i, (h, _, _) in enumerate(pairs)]
        + [vars(d) | {"pair": i + 1} for i, (_, d, _) in enumerate(pairs)],
        "headless_orders_per_s": {"median": med_h, "min": min(head), "max": max(head)},
        "dashboard_orders_per_s": {"median": med_d, "min": min(dash), "max": max(dash)},
        "ratio_of_medians": ratio_of_medians,
        "per_rep_ratios": ratios,
        "meets_0_9": ratio_of_medians >= 0.9,
    }


def key_latency(args, flags: list[str], tmp: Path) -> dict:
    print(f"== key latency: one dashboard run at --rate 0 --brokers {args.brokers} on a "
          f"{COLS}x{ROWS} pty; {args.presses} x ']' then {args.help_cycles} x '?' open/close, "
          f"then {args.pause_cycles} x 'p' pause/resume, ~{args.spacing * 1000:.0f} ms apart",
          flush=True)
    report = tmp / "latency.json"
    # --duration only as a safety net: the run is ended with 'q' below
    run_flags = [f for f in flags]
    i = run_flags.index("--duration")
    run_flags[i + 1] = "600"
    term = Terminal(*run_flags, "--seed", str(args.seed + 100), "--report", str(report))
    samples: dict[str, list[float]] = {k: [] for k in (
        "next_symbol_visible", "help_open", "help_close",
        "pause_handled", "pause_visible", "resume_handled", "resume_visible")}
    missed: dict[str, int] = {k: 0 for k in samples}

    def note(name: str, ms: float | None) -> None:
        if ms is None:
            missed[name] += 1
        else:
            samples[name].append(ms)

    def space(t0: float) -> None:
        time.sleep(max(0.0, t0 + args.spacing - time.perf_counter()))

    try:
        term.wait_until(lambda ls: header_state(ls) == "RUNNING" and book_symbol(ls), 60,
                        "the dashboard RUNNING with a book")
        time.sleep(args.warmup)  # let the order flow reach full speed
        symbols = list(args.symbols)
        # ']' -- the title must become the next symbol of the list
        for _ in range(args.presses):
            t0 = time.perf_counter()
            current = book_symbol(term.lines())
            expected = symbols[(symbols.index(current) + 1) % len(symbols)]
            got = term.timed_press(b"]", {"v": lambda ls, e=expected: book_symbol(ls) == e})
            note("next_symbol_visible", got["v"])
            if got["v"] is None:  # whatever happened, go on from what the screen shows
                term.wait_until(lambda ls: book_symbol(ls) is not None, 5, "a book title")
            space(t0)
        # '?' opens the help screen, '?' again closes it
        for _ in range(args.help_cycles):
            t0 = time.perf_counter()
            note("help_open", term.timed_press(b"?", {"v": shows(HELP_MARK)})["v"])
            space(t0)
            t0 = time.perf_counter()
            note("help_close", term.timed_press(b"?", {"v": hides(HELP_MARK)})["v"])
            term.wait_until(hides(HELP_MARK), 5, "the help screen to close")
            space(t0)
        # 'p' pauses, 'p' resumes: the toast is drawn at once, the header follows the Snapshots
        for _ in range(args.pause_cycles):
            for toast, state, name in ((PAUSING, "PAUSED", "pause"), (RESUMING, "RUNNING", "resume")):
                term.wait_until(hides(toast), 10, f"the previous {toast!r} toast to go")
                t0 = time.perf_counter()
                got = term.timed_press(b"p", {"handled": shows(toast),
                                               "visible": lambda ls, s=state: header_state(ls) == s})
                note(f"{name}_handled", got["handled"])
                note(f"{name}_visible", got["visible"])
                term.wait_until(lambda ls, s=state: header_state(ls) == s, 10, f"the header {state}")
                space(t0)
        term.press(b"q")
        code = term.wait_exit(120)
        left = term.leftover_processes()
        if left:
            raise RuntimeError(f"the latency run left processes behind: {left}")
        if code != 0:
            raise RuntimeError(f"the latency run ended with exit {code}:\n{term.output()[-3000:]}")
    finally:
        term.close()
    r = read_report(report)
    print(fmt_dist("']' next symbol: Book title changed", samples["next_symbol_visible"],
                   missed["next_symbol_visible"]))
    print(fmt_dist("'?' help screen opened", samples["help_open"], missed["help_open"]))
    print(fmt_dist("'?' help screen closed", samples["help_close"], missed["help_close"]))
    handled = samples["pause_handled"] + samples["resume_handled"]
    print(fmt_dist("'p' toast shown (pause+resume)", handled,
                   missed["pause_handled"] + missed["resume_handled"]))
    print(fmt_dist("'p' header PAUSED", samples["pause_visible"], missed["pause_visible"]))
    print(fmt_dist("'p' header RUNNING again", samples["resume_visible"], missed["resume_visible"]))
    immediate = samples["help_open"] + samples["help_close"] + handled
    snapshot_bound = (samples["next_symbol_visible"] + samples["pause_visible"]
                      + samples["resume_visible"])
    print(fmt_dist("key handled (help + toasts), all", immediate,
                   missed["help_open"] + missed["help_close"] + missed["pause_handled"]
                   + missed["resume_handled"]))
    print(fmt_dist("visible via Snapshot (title, header), all", snapshot_bound,
                   missed["next_symbol_visible"] + missed["pause_visible"]
                   + missed["resume_visible"]))
    print(f"  (that run: exit {r['exit_code']}, reconciled {'yes' if r['reconciled'] else 'NO'}, "
          f"{r['orders']['placed']:,} placed, {r['throughput']['orders_per_s']:,.0f} orders/s "
          f"over {r['duration_s']:.1f} s, paused seconds included)", flush=True)
    result = {name: dist(v) | {"missed": missed[name], "samples_ms": v}
              for name, v in samples.items() if v}
    result["key_handled_all"] = dist(immediate) if immediate else None
    result["visible_via_snapshot_all"] = dist(snapshot_bound) if snapshot_bound else None
    result["run"] = {"exit_code": r["exit_code"], "reconciled": r["reconciled"],
                     "orders_per_s": r["throughput"]["orders_per_s"]}
    return result


# -- main --------------------------------------------------------------------------------------

def machine() -> dict:
    return {"cores": os.cpu_count(), "python": platform.python_version(),
            "textual": importlib.metadata.version("textual"), "platform": platform.platform()}


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--reps", type=int, default=3, help="throughput repetitions (pairs)")
    ap.add_argument("--duration", type=float, default=10.0, help="seconds per throughput run")
    ap.add_argument("--brokers", type=int, default=2)
    ap.add_argument("--seed", type=int, default=11, help="seed of the first pair (+1 per pair)")
    ap.add_argument("--json", metavar="PATH", help="also write every figure here")
    ap.add_argument("--presses", type=int, default=20, help="']' presses")
    ap.add_argument("--help-cycles", type=int, default=10, help="'?' open/close cycles")
    ap.add_argument("--pause-cycles", type=int, default=5, help="'p' pause/resume cycles")
    ap.add_argument("--spacing", type=float, default=0.3, help="seconds between key presses")
    ap.add_argument("--warmup", type=float, default=2.0,
                    help="seconds of full load before the first key press")
    ap.add_argument("--emulate", action="store_true",
                    help="parse the pty output with pyte during the throughput runs too")
    ap.add_argument("--skip-throughput", action="store_true")
    ap.add_argument("--skip-latency", action="store_true")
    args = ap.parse_args(argv)
    from simulator.config import DEFAULT_SYMBOLS
    args.symbols = DEFAULT_SYMBOLS

    m = machine()
    load_before = os.getloadavg()
    print(f"machine: {m['cores']} cores, Python {m['python']}, textual {m['textual']}, "
          f"{m['platform']}")
    print("load average before: " + " ".join(f"{x:.2f}" for x in load_before), flush=True)
    flags = ["--rate", "0", "--duration", f"{args.duration:g}", "--brokers", str(args.brokers)]
    out: dict = {"machine": m, "load_before": load_before, "args": {
        k: v for k, v in vars(args).items() if k != "symbols"}}
    code = 0
    try:
        with tempfile.TemporaryDirectory(prefix="tui-bench-") as tmp:
            if not args.skip_throughput:
                out["throughput"] = throughput(args, flags, Path(tmp))
            if not args.skip_latency:
                out["key_latency"] = key_latency(args, flags, Path(tmp))
    except Exception as exc:  # still report the load and the process check
        print(f"FAILED: {type(exc).__name__}: {exc}", flush=True)
        out["error"] = repr(exc)
        code = 1
    finally:
        kill_sessions(SESSIONS)
        time.sleep(0.5)
        left = session_processes(SESSIONS)
        load_after = os.getloadavg()
        out["load_after"] = load_after
        out["processes_left"] = [p.pid for p in left]
        print("load average after:  " + " ".join(f"{x:.2f}" for x in load_after))
        print(f"simulator processes left: {[p.pid for p in left] or 'none'} "
              f"({len(SESSIONS)} runs started)", flush=True)
        if left:
            code = 1
        if args.json:
            with open(args.json, "w") as f:
                json.dump(out, f, indent=2, default=list)
                f.write("\n")
    if code == 0 and "throughput" in out and not out["throughput"]["meets_0_9"]:
        code = 3
    return code


if __name__ == "__main__":
    sys.exit(main())
