"""What the HTTP API costs the order flow: --rate 0 throughput with the server on and scraped
10 times a second, against the same run without it.

    python bench/http_overhead.py [--reps 3] [--duration 8] [--brokers 2] [--hz 10] [--stream]

The issue's target: orders/s with the server on and scraped >= 0.95 x without it.

Each repetition runs, back to back with the same seed, a headless ``--rate 0 --duration D``
run without the server and one with it (which goes first alternates, so drift in the machine's
load falls on both alike). Both are this script re-run as a child (``--child``), which builds
the Simulation as the command line does, with or without ``HttpOptions`` on a free loopback
port. While the server is on, a scraper in this process GETs ``/api/snapshot`` and ``/metrics``
``--hz`` times a second each, on keep-alive connections as Prometheus does (``--stream`` also
holds one ``/api/events`` stream open). orders/s comes from each run's JSON report
(``throughput.orders_per_s``). The medians and their ratio are printed, with the median of
each repetition's own on/off ratio and the scrapes' latencies. The scraper shares the
machine's 2 cores with the run, as a local Prometheus would. The machine may be shared: before
each run the script waits (``--quiet-wait``) for the rest of it to go quiet, and prints how many
cores the rest used during each run (``tui_overhead.OthersMeter``).

Every process started is ended (try/finally). Exit status: 0 when the ratio is >= 0.95, 3 when
it is not, 1 when a run failed.
"""

from __future__ import annotations

import argparse
import http.client
import json
import os
import re
import signal
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path
from urllib.parse import urlsplit

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "bench"))

URL_RE = re.compile(r"API is at (http://\S+) ")
TARGET = 0.95


# -- the child: one run, with or without the server -----------------------------------------------


def child(argv: list[str]) -> int:
    from simulator import processes

    early = processes.early_signals()
    serve = argv[0] == "--http"
    flags = argv[1:] if serve else argv

    from simulator.bus import ORDER
    from simulator.config import config_from_args
    from simulator.http_flags import HttpOptions, start_lines
    from simulator.report import print_outcome
    from simulator.runner import Simulation, setup_logging

    config = config_from_args([*flags, "--headless"])
    sim = Simulation(config, http=HttpOptions(port=0) if serve else None)
    setup_logging(config, sim.log_lines, console=True)
    sim.install_signal_handlers(early)
    server = sim.http
    if server is not None:
        say = lambda: print("\n".join(start_lines(server.url, server.host, None)), flush=True)  # noqa: E731
        sim.bus.subscribe("start", say, priority=ORDER["start", "http"] + 1)
        sim.bus.subscribe("stop", thread_cpu, priority=ORDER["stop", "http"] - 1)
    outcome = sim.run()
    sim.restore_signal_handlers()
    code = print_outcome(*sim.finish_report(outcome))
    processes.ignore_stop_signals()
    return code


def thread_cpu() -> None:
    """Before the server stops: CPU seconds of its threads and of the bank's (main) thread, as
    the kernel's scheduler counted them (/proc/self/task/*/schedstat, in ns; the tick-based
    utime is too coarse for a few ms a second): a cost that other load cannot blur."""
    served = ("CP Server Thread", "HTTPServer", "_serve_unservicable")
    ours = {t.native_id for t in threading.enumerate() if any(n in t.name for n in served)}

    def on_cpu(tid: int | None) -> float:
        try:
            with open(f"/proc/self/task/{tid}/schedstat") as f:
                return int(f.read().split()[0]) / 1e9
        except (OSError, ValueError, IndexError):
            return 0.0

    http_s = sum(on_cpu(tid) for tid in ours)
    print(f"thread-cpu: http {http_s:.4f} bank {on_cpu(threading.main_thread().native_id):.4f}", flush=True)


# -- the scraper ------------------------------------------------------------------------------------


class Scraper:
    """GET each path ``hz`` times a second on its own keep-alive connection, until stopped."""

    def __init__(self, url: str, paths: tuple[str, ...], hz: float, stream: bool) -> None:
        parts = urlsplit(url)
        self.host, self.port = parts.hostname or "127.0.0.1", parts.port or 80
        self.period = 1.0 / hz
        self.stop = threading.Event()
        self.latencies: dict[str, list[float]] = {p: [] for p in paths}
        self.failures = 0
        self.events = 0
        self.threads = [threading.Thread(target=self._scrape, args=(p,)) for p in paths]
        if stream:
            self.threads.append(threading.Thread(target=self._stream))
        for t in self.threads:
            t.start()

    def _scrape(self, path: str) -> None:
        conn = http.client.HTTPConnection(self.host, self.port, timeout=5)
        next_t = time.monotonic()
        try:
            while not self.stop.is_set():
                t0 = time.perf_counter()
                try:
                    conn.request("GET", path)
                    response = conn.getresponse()
                    response.read()
                    if response.status != 200:
                        raise OSError(f"{path}: {response.status}")
                    self.latencies[path].append((time.perf_counter() - t0) * 1000)
                except (OSError, http.client.HTTPException):
                    self.failures += 1
                    conn.close()  # reconnects on the next request
                next_t += self.period
                self.stop.wait(max(next_t - time.monotonic(), 0.0))
        finally:
            conn.close()

    def _stream(self) -> None:
        conn = http.client.HTTPConnection(self.host, self.port, timeout=5)
        try:
            conn.request("GET", "/api/events")
            response = conn.getresponse()
            while not self.stop.is_set():
                line = response.readline()
                if not line:
                    return
                if line.startswith(b"event: snapshot"):
                    self.events += 1
        except (OSError, http.client.HTTPException):
            self.failures += 1
        finally:
            conn.close()

    def finish(self) -> None:
        self.stop.set()
        for t in self.threads:
            t.join(10)


# -- the parent -------------------------------------------------------------------------------------


def one_run(flags: list[str], *, serve: bool, hz: float, stream: bool, timeout: float) -> dict:
    """Run a child to its end; its report, plus what the scraper saw."""
    from tui_overhead import OthersMeter

    others = OthersMeter()
    with tempfile.TemporaryDirectory() as tmp:
        report_path = Path(tmp) / "report.json"
        command = [sys.executable, __file__, "--child", *(["--http"] if serve else []), *flags]
        command += ["--report", str(report_path)]
        proc = subprocess.Popen(
            command,
            cwd=ROOT,
            stdin=subprocess.DEVNULL,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
            start_new_session=True,
        )
        lines: list[str] = []
        reader = threading.Thread(target=lambda: lines.extend(iter(proc.stdout.readline, "")), daemon=True)  # type: ignore[union-attr]
        reader.start()
        scraper = None
        try:
            if serve:
                deadline = time.monotonic() + 60
                while not (urls := [m.group(1) for line in list(lines) if (m := URL_RE.search(line))]):
                    if proc.poll() is not None or time.monotonic() > deadline:
                        raise RuntimeError("no API URL:\n" + "".join(lines[-20:]))
                    time.sleep(0.01)
                scraper = Scraper(urls[0], ("/api/snapshot", "/metrics"), hz, stream)
            code = proc.wait(timeout)
        finally:
            if scraper is not None:
                scraper.finish()
            if proc.poll() is None:
                os.killpg(proc.pid, signal.SIGKILL)
                proc.wait(10)
            reader.join(10)
        if code != 0 or not report_path.exists():
            raise RuntimeError(f"run failed ({code}):\n" + "".join(lines[-20:]))
        report = json.loads(report_path.read_text())
    assert report["reconciled"] and report["orders"]["lost"] == 0, report
    result = {
        "orders_per_s": report["throughput"]["orders_per_s"],
        "placed": report["orders"]["placed"],
        "others_cores": others.cores(),
    }
    if scraper is not None:
        result["latency_ms"] = {p: v for p, v in scraper.latencies.items()}
        result["failures"] = scraper.failures
        result["events"] = scraper.events
        cpu = [line.split() for line in lines if line.startswith("thread-cpu:")]
        if cpu:
            result["http_cpu_s"], result["bank_cpu_s"] = float(cpu[0][2]), float(cpu[0][4])
    return result


def quantile(values: list[float], q: float) -> float:
    if not values:
        return float("nan")
    ordered = sorted(values)
    return ordered[min(int(q * len(ordered)), len(ordered) - 1)]


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--reps", type=int, default=3)
    ap.add_argument("--duration", type=float, default=8.0)
    ap.add_argument("--brokers", type=int, default=2)
    ap.add_argument("--hz", type=float, default=10.0, help="scrapes per second of each path")
    ap.add_argument("--stream", action="store_true", help="also hold one /api/events stream open")
    ap.add_argument("--quiet-wait", type=float, default=30.0, help="most seconds to wait for a quiet machine")
    ap.add_argument("--json", metavar="PATH", help="write the figures here")
    args = ap.parse_args()
    from tui_overhead import wait_quiet

    timeout = args.duration + 60
    off: list[float] = []
    on: list[float] = []
    latency: dict[str, list[float]] = {"/api/snapshot": [], "/metrics": []}
    failures = 0
    shares: list[float] = []  # server threads' CPU / the bank thread's, per run
    print(f"cores {os.cpu_count()}, python {sys.version.split()[0]}, {args.reps} reps of {args.duration:g} s")
    for rep in range(args.reps):
        flags = ["--rate", "0", "--duration", str(args.duration), "--brokers", str(args.brokers)]
        flags += ["--seed", str(rep + 1)]
        order = (False, True) if rep % 2 == 0 else (True, False)
        for serve in order:
            if args.quiet_wait > 0:
                wait_quiet(args.quiet_wait)
            result = one_run(flags, serve=serve, hz=args.hz, stream=args.stream, timeout=timeout)
            (on if serve else off).append(result["orders_per_s"])
            if serve:
                for path, values in result["latency_ms"].items():
                    latency[path].extend(values)
                failures += result["failures"]
            extra = ""
            if serve:
                n = sum(len(v) for v in result["latency_ms"].values())
                extra = f", {n} scrapes ({result['failures']} failed)"
                extra += f", {result['events']} events" if args.stream else ""
                if "http_cpu_s" in result:
                    shares.append(result["http_cpu_s"] / result["bank_cpu_s"])
                    extra += (
                        f", server threads {result['http_cpu_s']:.3f} s CPU = {shares[-1]:.2%} of the bank's"
                    )
            print(
                f"rep {rep + 1} server {'on ' if serve else 'off'}: "
                f"{result['orders_per_s']:>10,.0f} orders/s{extra}; rest of the machine "
                f"{result['others_cores']:.2f} cores",
                flush=True,
            )
    ratio = statistics.median(on) / statistics.median(off)
    pairs = statistics.median(a / b for a, b in zip(on, off))
    print(f"server off: median {statistics.median(off):,.0f} orders/s [{min(off):,.0f} - {max(off):,.0f}]")
    print(
        f"server on, scraped {args.hz:g}/s: median {statistics.median(on):,.0f} orders/s "
        f"[{min(on):,.0f} - {max(on):,.0f}]"
    )
    for path, values in latency.items():
        print(
            f"  {path:<14} {len(values)} scrapes: p50 {quantile(values, 0.5):.2f} ms, "
            f"p99 {quantile(values, 0.99):.2f} ms, max {max(values, default=float('nan')):.2f} ms"
        )
    print(
        f"ratio on/off: {ratio:.3f} of the medians, {pairs:.3f} the median of each repetition's "
        f"(target >= {TARGET})"
    )
    if shares:
        print(
            f"the server's threads used {statistics.median(shares):.2%} (median; "
            f"{min(shares):.2%} - {max(shares):.2%}) of the CPU time of the bank's thread"
        )
    print(f"failed scrapes: {failures} (the last of a run may find the server gone)")
    if args.json:
        Path(args.json).write_text(
            json.dumps(
                {
                    "off": off,
                    "on": on,
                    "ratio": ratio,
                    "pairs": pairs,
                    "cpu_shares": shares,
                    "failures": failures,
                }
            )
        )
    return 0 if ratio >= TARGET else 3


if __name__ == "__main__":
    if sys.argv[1:2] == ["--child"]:
        sys.exit(child(sys.argv[2:]))
    sys.exit(main())
