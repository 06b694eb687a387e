"""What the dashboard costs the order flow, and how fast it answers a key at full load.

    python bench/tui_overhead.py [--reps 3] [--duration 10] [--brokers 2] [--json PATH]

The issue's targets: at ``--rate 0``, orders/s with the dashboard open >= 0.9 x headless in the
same conditions; a key press answered within 100 ms at full load.

1. Throughput: each repetition runs, back to back and with the same seed, a headless run
   (``simulate.py --headless --rate 0 --duration D``) and a dashboard run on a real 120x36
   pseudo-terminal (``simulate.py --rate 0 --duration D --exit-on-finish``: it closes itself at D).
   Which of the two goes first alternates between repetitions, so drift in the machine's load
   falls on both alike. orders/s comes from each run's JSON report
   (``throughput.orders_per_s`` = orders placed / seconds from the first order to the stop).
   The pty's output is only drained during these runs (``--emulate`` also parses it with pyte,
   i.e. adds the cost of a terminal emulator on the same cores). The machine is shared: before
   each run the script waits (``--quiet-wait``) for the rest of the machine to go quiet, and
   prints how many cores the rest of the machine used during each run.
2. Key latency: one dashboard run at ``--rate 0``; once it is RUNNING (plus ``--warmup``), keys
   are written to the pty and timed until the pty has delivered the output after which the
   (pyte) screen shows their effect. The output is stamped as it is read and parsed after the
   measuring window (see ``Terminal``), so there is no polling delay and the bench's own
   terminal emulation does not compete with the app for the cores. Measured:
   - ``?`` opens / closes the help screen: the app draws it at once (key handled);
   - ``p`` pause / resume: the toast ("Pausing / Resuming order generation") is drawn at once
     (key handled); the header's PAUSED / RUNNING badge follows the Snapshots (visible state);
   - ``]`` next symbol: the Book title follows ``Snapshot.selected_symbol``, so it changes only
     when the bank's next Snapshot (made every 100 ms) is picked up by the app's next poll
     (every 1/ui-hz s): visible effect, not the key handling time.
3. The machine: cores, Python, Textual, load average before and after.

Every process started is ended (try/finally), and the script checks none is left. Exit status:
0 when the throughput ratio is >= 0.9, 3 when it is not, 1 when a run failed.
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
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import psutil

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from simulator.testing.pty import PtySim  # noqa: E402

COLS, ROWS = 120, 36
SESSIONS: set[int] = set()  # session ids of every simulator started here (each is a leader)

Lines = list[str]


# -- a pty whose reader times screen conditions -------------------------------------------------


@dataclass
class Watch:
    predicate: Callable[[Lines], bool]
    event: threading.Event = field(default_factory=threading.Event)
    arrived: float = 0.0  # when the chunk that made it true was read from the pty


class Terminal(PtySim):
    """PtySim that can time a screen condition after a key press.

    The time taken is when the pty delivered the chunk of output after which the (pyte) screen
    first satisfies the condition. While a press is measured, the reader only stamps and stores
    the chunks; they are parsed after the measuring window, one by one, checking the condition
    after each. So the bench's terminal emulation (pyte: ~20-30 ms of CPU per full repaint) does
    not compete with the simulator for the 2 cores while it answers the key, and the reader,
    which only reads and stamps, wakes at once. ``emulate=False`` only drains the pty (for the
    throughput runs)."""

    def __init__(self, *flags: str, emulate: bool = True) -> None:
        self.emulate = emulate
        self.watches: list[Watch] = []
        self.deferred: list[tuple[float, bytes]] | None = None
        self.closed = False
        super().__init__(*flags, cols=COLS, rows=ROWS)
        SESSIONS.add(self.proc.pid)

    def _received(self, data: bytes) -> None:  # PtySim's reader, plus stamps and watches
        arrived = time.perf_counter()
        with self._lock:
            self.raw += data
            if not self.emulate:
                return
            if self.deferred is not None:
                self.deferred.append((arrived, data))
                return
            self._feed(arrived, data)

    def _feed(self, arrived: float, data: bytes) -> None:
        """Parse one chunk (lock held) and note the watches it satisfies."""
        self.stream.feed(data)
        pending = [w for w in self.watches if not w.event.is_set()]
        if pending:
            lines = self.screen.display
            for w in pending:
                if w.predicate(lines):
                    w.arrived = arrived
                    w.event.set()

    def lines(self) -> Lines:
        with self._lock:
            return list(self.screen.display)

    def timed_press(
        self,
        key: bytes,
        predicates: dict[str, Callable[[Lines], bool]],
        window: float = 0.8,
        timeout: float = 3.0,
    ) -> dict[str, float | None]:
        """Write ``key`` and return, per predicate, the ms from the write until the pty
        delivered the output that makes the screen satisfy it (None: not within ``timeout``).
        Each predicate must be false beforehand. Parsing waits ``window`` seconds (see the
        class); what is still missing after that is watched live until ``timeout``."""
        watches = {name: Watch(p) for name, p in predicates.items()}
        with self._lock:
            lines = self.screen.display
            for name, w in watches.items():
                if w.predicate(lines):
                    raise RuntimeError(f"{name!r} already holds before pressing {key!r}")
            self.watches = list(watches.values())
            self.deferred = []
            t0 = time.perf_counter()
            os.write(self.master, key)
        time.sleep(window)
        with self._lock:
            chunks, self.deferred = self.deferred, None
            for arrived, data in chunks:
                self._feed(arrived, data)
        deadline = t0 + timeout
        for w in watches.values():
            w.event.wait(max(0.0, deadline - time.perf_counter()))
        with self._lock:
            self.watches = []
        return {name: (w.arrived - t0) * 1000 if w.event.is_set() else None for name, w in watches.items()}

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


def own_and_children_cpu_s() -> float:
    r = resource.getrusage(resource.RUSAGE_SELF)
    return r.ru_utime + r.ru_stime + children_cpu_s()


def machine_busy_s() -> float:
    """CPU seconds spent by every process of the machine so far (all cores)."""
    t = psutil.cpu_times()
    return t.user + t.nice + t.system + getattr(t, "irq", 0) + getattr(t, "softirq", 0)


class OthersMeter:
    """CPU used by the rest of the machine (not this script, not the runs it reaped) between
    ``__init__`` and ``cores()``, in cores: the noise a shared machine adds to a run."""

    def __init__(self) -> None:
        self.t0 = time.monotonic()
        self.busy0, self.own0 = machine_busy_s(), own_and_children_cpu_s()

    def cores(self) -> float:
        wall = time.monotonic() - self.t0
        others = (machine_busy_s() - self.busy0) - (own_and_children_cpu_s() - self.own0)
        return max(0.0, others) / wall if wall > 0 else 0.0


def wait_quiet(max_wait: float, threshold: float = 0.3) -> float:
    """Wait (up to ``max_wait`` s) until the rest of the machine uses under ``threshold`` of a
    core over 2 s; returns what it used in the last 2 s."""
    deadline = time.monotonic() + max_wait
    while True:
        meter = OthersMeter()
        time.sleep(2.0)
        used = meter.cores()
        if used < threshold or time.monotonic() >= deadline:
            return used


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
    others_cores: float
    exit_code: int
    reconciled: bool


def run_headless(flags: list[str], seed: int, report: Path, timeout: float) -> RunResult:
    load1 = os.getloadavg()[0]
    cpu0 = children_cpu_s()
    others = OthersMeter()
    with tempfile.TemporaryFile() as out:
        proc = subprocess.Popen(
            simulate_cmd("--headless", *flags, "--seed", str(seed), "--report", str(report)),
            cwd=ROOT,
            stdin=subprocess.DEVNULL,
            stdout=out,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
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
            raise RuntimeError(
                f"headless run failed (exit {code}):\n{out.read().decode(errors='replace')[-3000:]}"
            )
    return result_of("headless", seed, report, children_cpu_s() - cpu0, load1, others.cores())


def run_dashboard(flags: list[str], seed: int, report: Path, timeout: float, emulate: bool) -> RunResult:
    load1 = os.getloadavg()[0]
    cpu0 = children_cpu_s()
    others = OthersMeter()
    # --exit-on-finish: the dashboard closes itself at --duration instead of showing the report
    term = Terminal(*flags, "--exit-on-finish", "--seed", str(seed), "--report", str(report), emulate=emulate)
    try:
        code = term.wait_exit(timeout)
        left = term.leftover_processes()
        if left:
            raise RuntimeError(f"dashboard run left processes behind: {left}")
        out = term.output()
        if code != 0 or not report.exists():
            raise RuntimeError(f"dashboard run failed (exit {code}):\n{out[-3000:]}")
        if "\x1b[?1049h" not in out:
            raise RuntimeError(
                f"the dashboard run never entered the alternate screen (no dashboard shown?):\n{out[-3000:]}"
            )
    finally:
        term.close()
    return result_of("dashboard", seed, report, children_cpu_s() - cpu0, load1, others.cores())


def result_of(
    mode: str, seed: int, report: Path, cpu_s: float, load1: float, others_cores: float
) -> RunResult:
    r = read_report(report)
    return RunResult(
        mode,
        seed,
        float(r["throughput"]["orders_per_s"]),
        int(r["orders"]["placed"]),
        float(r["duration_s"]),
        cpu_s,
        load1,
        others_cores,
        int(r["exit_code"]),
        bool(r["reconciled"]),
    )


# -- statistics --------------------------------------------------------------------------------


def percentile(values: list[float], q: float) -> float:
    """Nearest-rank percentile (q in 0..100)."""
    s = sorted(values)
    return s[max(0, math.ceil(q / 100 * len(s)) - 1)]


def dist(values: list[float]) -> dict:
    return {
        "n": len(values),
        "p50": statistics.median(values),
        "p95": percentile(values, 95),
        "max": max(values),
        "min": min(values),
    }


def fmt_dist(name: str, values: list[float], failed: int) -> str:
    if not values:
        return f"  {name:<38} no answer within the timeout ({failed} presses)"
    d = dist(values)
    extra = f", {failed} not seen within the timeout" if failed else ""
    return (
        f"  {name:<38} n={d['n']:>2}  p50 {d['p50']:6.1f} ms  p95 {d['p95']:6.1f} ms  "
        f"max {d['max']:6.1f} ms  (min {d['min']:5.1f}){extra}"
    )


# -- the two measurements ----------------------------------------------------------------------


def throughput(args, flags: list[str], dash_flags: list[str], tmp: Path) -> dict:
    print(
        f"== throughput: {args.reps} repetitions x (headless, dashboard on a {COLS}x{ROWS} pty),"
        f" --rate {args.rate:g} --duration {args.duration:g} --brokers {args.brokers}"
        f"{f' (dashboard --ui-hz {args.ui_hz:g})' if args.ui_hz else ''}, the order alternating"
        f"; pty output {'parsed by pyte' if args.emulate else 'drained only'}",
        flush=True,
    )
    timeout = args.duration + 120
    pairs = []
    for rep in range(args.reps):
        seed = args.seed + rep
        order = ("headless", "dashboard") if rep % 2 == 0 else ("dashboard", "headless")
        got: dict[str, RunResult] = {}
        for mode in order:
            if args.quiet_wait > 0:
                wait_quiet(args.quiet_wait)
            report = tmp / f"rep{rep}-{mode}.json"
            if mode == "headless":
                got[mode] = run_headless(flags, seed, report, timeout)
            else:
                got[mode] = run_dashboard(dash_flags, seed, report, timeout, args.emulate)
            r = got[mode]
            print(
                f"  rep {rep + 1} {mode:<9} seed {seed}: {r.orders_per_s:>10,.0f} orders/s "
                f"({r.placed:,} placed in {r.duration_s:.2f} s; its CPU {r.cpu_s:4.1f} s; "
                f"others on the machine {r.others_cores:.2f} cores, load1 {r.load1:.2f}; "
                f"exit {r.exit_code}, "
                f"reconciled {'yes' if r.reconciled else 'NO'})",
                flush=True,
            )
        ratio = got["dashboard"].orders_per_s / got["headless"].orders_per_s
        print(f"  rep {rep + 1} ratio dashboard/headless = {ratio:.3f}  (ran {order[0]} first)", flush=True)
        pairs.append((got["headless"], got["dashboard"], ratio))
    head = [h.orders_per_s for h, _, _ in pairs]
    dash = [d.orders_per_s for _, d, _ in pairs]
    ratios = [r for _, _, r in pairs]
    med_h, med_d = statistics.median(head), statistics.median(dash)
    ratio_of_medians = med_d / med_h
    for name, med, values in (("headless ", med_h, head), ("dashboard", med_d, dash)):
        print(f"  {name}: median {med:>10,.0f} orders/s  (min {min(values):,.0f}, max {max(values):,.0f})")
    print(
        f"  ratio of medians dashboard/headless = {ratio_of_medians:.3f}  "
        f"[{'meets' if ratio_of_medians >= 0.9 else 'FAILS'} >= 0.90]"
    )
    print(
        f"  per-rep ratios (back to back): {', '.join(f'{r:.3f}' for r in ratios)}  "
        f"(median {statistics.median(ratios):.3f}, min {min(ratios):.3f}, max {max(ratios):.3f})",
        flush=True,
    )
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
    print(
        f"== key latency: one dashboard run at --rate {args.rate:g} --brokers {args.brokers} "
        f"on a {COLS}x{ROWS} pty; {args.presses} x ']' then {args.help_cycles} x '?' "
        f"open/close, then {args.pause_cycles} x 'p' pause/resume; presses at least "
        f"{args.spacing * 1000:.0f} ms apart, output parsed {args.window * 1000:.0f} ms after "
        "each press",
        flush=True,
    )
    report = tmp / "latency.json"
    # --duration only as a safety net: the run is ended with 'q' below
    run_flags = [f for f in flags]
    i = run_flags.index("--duration")
    run_flags[i + 1] = "600"
    if args.quiet_wait > 0:
        wait_quiet(args.quiet_wait)
    others = OthersMeter()
    term = Terminal(*run_flags, "--seed", str(args.seed + 100), "--report", str(report))
    samples: dict[str, list[float]] = {
        k: []
        for k in (
            "next_symbol_visible",
            "help_open",
            "help_close",
            "pause_handled",
            "pause_visible",
            "resume_handled",
            "resume_visible",
        )
    }
    missed: dict[str, int] = {k: 0 for k in samples}

    def note(name: str, ms: float | None) -> None:
        if ms is None:
            missed[name] += 1
        else:
            samples[name].append(ms)

    def space(t0: float) -> None:
        time.sleep(max(0.0, t0 + args.spacing - time.perf_counter()))

    try:
        term.wait_until(
            lambda ls: header_state(ls) == "RUNNING" and book_symbol(ls),
            60,
            "the dashboard RUNNING with a book",
        )
        time.sleep(args.warmup)  # let the order flow reach full speed
        symbols = list(args.symbols)
        # ']' -- the title must become the next symbol of the list
        for _ in range(args.presses):
            t0 = time.perf_counter()
            current = book_symbol(term.lines())
            expected = symbols[(symbols.index(current) + 1) % len(symbols)]
            got = term.timed_press(
                b"]", {"v": lambda ls, e=expected: book_symbol(ls) == e}, window=args.window
            )
            note("next_symbol_visible", got["v"])
            if got["v"] is None:  # whatever happened, go on from what the screen shows
                term.wait_until(lambda ls: book_symbol(ls) is not None, 5, "a book title")
            space(t0)
        # '?' opens the help screen, '?' again closes it
        for _ in range(args.help_cycles):
            t0 = time.perf_counter()
            got = term.timed_press(b"?", {"v": shows(HELP_MARK)}, window=args.window)
            note("help_open", got["v"])
            space(t0)
            t0 = time.perf_counter()
            got = term.timed_press(b"?", {"v": hides(HELP_MARK)}, window=args.window)
            note("help_close", got["v"])
            term.wait_until(hides(HELP_MARK), 5, "the help screen to close")
            space(t0)
        # 'p' pauses, 'p' resumes: the toast is drawn at once, the header follows the Snapshots
        for _ in range(args.pause_cycles):
            for toast, state, name in ((PAUSING, "PAUSED", "pause"), (RESUMING, "RUNNING", "resume")):
                term.wait_until(hides(toast), 10, f"the previous {toast!r} toast to go")
                t0 = time.perf_counter()

                def shown(ls, s=state):
                    return header_state(ls) == s

                got = term.timed_press(b"p", {"handled": shows(toast), "visible": shown}, window=args.window)
                note(f"{name}_handled", got["handled"])
                note(f"{name}_visible", got["visible"])
                term.wait_until(shown, 10, f"the header {state}")
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
    others_cores = others.cores()
    r = read_report(report)
    print(
        fmt_dist(
            "']' next symbol: Book title changed",
            samples["next_symbol_visible"],
            missed["next_symbol_visible"],
        )
    )
    print(fmt_dist("'?' help screen opened", samples["help_open"], missed["help_open"]))
    print(fmt_dist("'?' help screen closed", samples["help_close"], missed["help_close"]))
    handled = samples["pause_handled"] + samples["resume_handled"]
    print(
        fmt_dist(
            "'p' toast shown (pause+resume)", handled, missed["pause_handled"] + missed["resume_handled"]
        )
    )
    print(fmt_dist("'p' header PAUSED", samples["pause_visible"], missed["pause_visible"]))
    print(fmt_dist("'p' header RUNNING again", samples["resume_visible"], missed["resume_visible"]))
    immediate = samples["help_open"] + samples["help_close"] + handled
    snapshot_bound = samples["next_symbol_visible"] + samples["pause_visible"] + samples["resume_visible"]
    print(
        fmt_dist(
            "key handled (help + toasts), all",
            immediate,
            missed["help_open"] + missed["help_close"] + missed["pause_handled"] + missed["resume_handled"],
        )
    )
    print(
        fmt_dist(
            "visible via Snapshot (title, header), all",
            snapshot_bound,
            missed["next_symbol_visible"] + missed["pause_visible"] + missed["resume_visible"],
        )
    )
    print(
        f"  (that run: exit {r['exit_code']}, reconciled {'yes' if r['reconciled'] else 'NO'}, "
        f"{r['orders']['placed']:,} placed, {r['throughput']['orders_per_s']:,.0f} orders/s "
        f"over {r['duration_s']:.1f} s, paused seconds included; others on the machine "
        f"{others_cores:.2f} cores)",
        flush=True,
    )
    result = {name: dist(v) | {"missed": missed[name], "samples_ms": v} for name, v in samples.items() if v}
    result["key_handled_all"] = dist(immediate) if immediate else None
    result["visible_via_snapshot_all"] = dist(snapshot_bound) if snapshot_bound else None
    result["run"] = {
        "exit_code": r["exit_code"],
        "reconciled": r["reconciled"],
        "orders_per_s": r["throughput"]["orders_per_s"],
        "others_cores": others_cores,
    }
    return result


# -- main --------------------------------------------------------------------------------------


def machine() -> dict:
    return {
        "cores": os.cpu_count(),
        "python": platform.python_version(),
        "textual": importlib.metadata.version("textual"),
        "platform": platform.platform(),
    }


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
    ap.add_argument(
        "--window",
        type=float,
        default=0.6,
        help="seconds after a press before the bench parses the screen output",
    )
    ap.add_argument(
        "--warmup", type=float, default=2.0, help="seconds of full load before the first key press"
    )
    ap.add_argument(
        "--rate",
        type=float,
        default=0.0,
        help="--rate of every run (default 0: as fast as possible, the full load)",
    )
    ap.add_argument(
        "--ui-hz",
        type=float,
        default=None,
        help="pass --ui-hz to the dashboard runs (default: the simulator's, 10)",
    )
    ap.add_argument(
        "--emulate", action="store_true", help="parse the pty output with pyte during the throughput runs too"
    )
    ap.add_argument(
        "--quiet-wait",
        type=float,
        default=60.0,
        help="before each run, wait up to this many seconds for the rest of the "
        "machine to use under 0.3 cores (0: do not wait)",
    )
    ap.add_argument("--skip-throughput", action="store_true")
    ap.add_argument("--skip-latency", action="store_true")
    args = ap.parse_args(argv)
    from simulator.config import DEFAULT_SYMBOLS

    args.symbols = DEFAULT_SYMBOLS

    m = machine()
    load_before = os.getloadavg()
    print(f"machine: {m['cores']} cores, Python {m['python']}, textual {m['textual']}, {m['platform']}")
    print("load average before: " + " ".join(f"{x:.2f}" for x in load_before), flush=True)
    flags = ["--rate", f"{args.rate:g}", "--duration", f"{args.duration:g}", "--brokers", str(args.brokers)]
    dash_flags = flags + (["--ui-hz", f"{args.ui_hz:g}"] if args.ui_hz else [])
    out: dict = {
        "machine": m,
        "load_before": load_before,
        "args": {k: v for k, v in vars(args).items() if k != "symbols"},
    }
    code = 0
    try:
        with tempfile.TemporaryDirectory(prefix="tui-bench-") as tmp:
            if not args.skip_throughput:
                out["throughput"] = throughput(args, flags, dash_flags, Path(tmp))
            if not args.skip_latency:
                out["key_latency"] = key_latency(args, dash_flags, Path(tmp))
    except Exception as exc:  # still report the load and the process check
        text = "\n".join(line.rstrip() for line in str(exc).splitlines() if line.strip())
        print(f"FAILED: {type(exc).__name__}: {text[-3000:]}", flush=True)
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
        print(
            f"simulator processes left: {[p.pid for p in left] or 'none'} ({len(SESSIONS)} runs started)",
            flush=True,
        )
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
