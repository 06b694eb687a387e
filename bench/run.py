"""The benchmark: transport ceiling, end-to-end throughput, latency, stop time and memory.

    python bench/run.py                 # about 7 minutes on 2 cores
    python bench/run.py --reps 5 --json bench.json
    python bench/run.py --long          # memory over a 10-minute run
    python bench/run.py --amqp URL      # and the AMQP rows (bench/amqp.py) at the end
    python bench/run.py --scale         # throughput and RSS by symbols and accounts
    python bench/run.py --types         # only the order types' row: every type on against none
    python bench/run.py --agents        # only the agents' row: 10 market makers against none

Everything runs in this one process tree, one thing after another, and prints one table:
medians of ``--reps`` repetitions with [min - max]. Ratios are taken against the echo ceiling
measured in the same run, because these machines are shared and absolute figures drift. Two
echoes are measured (see echo_broker.py): the ceiling, whose brokers handle the records as a
broker does but do no matching, and the raw pipe echo, whose brokers only copy bytes.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import resource
import signal
import statistics
import subprocess
import sys
import tempfile
import time
from importlib import metadata
from pathlib import Path

import psutil

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "bench"))
sys.path.insert(1, str(ROOT))

from echo import echo_orders_per_s, queue_one_per_put_per_s  # noqa: E402


def simulate(*flags: str, timeout: float = 900) -> dict:
    """One headless run; its JSON report."""
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "report.json"
        proc = subprocess.run(
            [sys.executable, str(ROOT / "simulate.py"), "--headless", "--report", str(path), *flags],
            cwd=ROOT,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.PIPE,
            text=True,
            timeout=timeout,
        )
        if not path.exists():
            raise RuntimeError(f"no report (exit {proc.returncode}): {proc.stderr[-2000:]}")
        report = json.loads(path.read_text())
        report["_exit"] = proc.returncode
        return report


def end_to_end(report: dict) -> float:
    """Orders per second, counting an order when its final state is known to the bank."""
    return report["orders"]["placed"] / (report["duration_s"] + report["drain_s"])


def stop_time(brokers: int, warmup: float) -> tuple[float, dict]:
    """SIGINT to the group of a full-speed run; seconds until its last process is gone."""
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "report.json"
        proc = subprocess.Popen(
            [
                sys.executable,
                str(ROOT / "simulate.py"),
                "--headless",
                "--rate",
                "0",
                "--brokers",
                str(brokers),
                "--report",
                str(path),
            ],
            cwd=ROOT,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
            start_new_session=True,
        )
        try:
            time.sleep(warmup)
            members = [psutil.Process(proc.pid), *psutil.Process(proc.pid).children(recursive=True)]
            t0 = time.perf_counter()
            os.killpg(proc.pid, signal.SIGINT)
            proc.wait(60)
            # gone = exited: an orphaned zombie (the resource tracker, reaped by init whenever
            # init gets to it) has ended too; waiting for its reaping measured init, not us
            while any(_running(m) for m in members):
                if time.perf_counter() - t0 > 60:
                    raise RuntimeError("processes still running 60 s after SIGINT")
                time.sleep(0.002)
            return time.perf_counter() - t0, json.loads(path.read_text())
        finally:
            if proc.poll() is None:
                os.killpg(proc.pid, signal.SIGKILL)
                proc.wait()


def _is_broker(command: str) -> bool:
    return command.startswith("simulate: broker") or "spawn_main" in command


def _running(p: psutil.Process) -> bool:
    try:
        return p.status() != psutil.STATUS_ZOMBIE
    except psutil.NoSuchProcess:
        return False


def memory(seconds: float, rate: int) -> dict:
    """RSS of every process near the start and at the end of a steady run."""
    proc = subprocess.Popen(
        [
            sys.executable,
            str(ROOT / "simulate.py"),
            "--headless",
            "--rate",
            str(rate),
            "--duration",
            str(seconds),
        ],
        cwd=ROOT,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        start_new_session=True,
    )
    try:

        def rss():
            me = psutil.Process(proc.pid)
            # a broker names itself (simulate: broker-N) once it runs; before, it is a spawn
            procs = [me] + [p for p in me.children(recursive=True) if _is_broker(" ".join(p.cmdline()))]
            return {
                ("bank" if p.pid == proc.pid else f"broker-{i}"): p.memory_info().rss
                for i, p in enumerate(procs)
            }

        time.sleep(min(10.0, seconds / 4))  # past start-up and the first books
        start = rss()
        time.sleep(max(seconds - min(10.0, seconds / 4) - 2.0, 1.0))
        end = rss()
        proc.wait(120)
        return {name: (start[name], end.get(name, 0)) for name in start}
    finally:
        if proc.poll() is None:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait()


def simulate_sampled(*flags: str, timeout: float = 900) -> tuple[dict, dict[str, float]]:
    """One headless run, its JSON report, and what its processes used, sampled five times a
    second: the peak RSS of the bank and of its biggest broker ("bank", "broker", bytes) and
    the CPU seconds of the bank and of all brokers ("bank_cpu", "brokers_cpu"; the last 0.2 s
    of each process may be missed)."""
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "report.json"
        proc = subprocess.Popen(
            [sys.executable, str(ROOT / "simulate.py"), "--headless", "--report", str(path), *flags],
            cwd=ROOT,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.PIPE,
            text=True,
            start_new_session=True,
        )
        peak = {"bank": 0.0, "broker": 0.0}
        cpu: dict[int, tuple[str, float]] = {}
        try:
            me = psutil.Process(proc.pid)
            t0 = time.monotonic()
            while proc.poll() is None:
                if time.monotonic() - t0 > timeout:
                    raise RuntimeError(f"still running after {timeout} s: {flags}")
                try:
                    peak["bank"] = max(peak["bank"], me.memory_info().rss)
                    cpu[me.pid] = ("bank", sum(me.cpu_times()[:2]))
                    for p in me.children(recursive=True):
                        if _is_broker(" ".join(p.cmdline())):
                            peak["broker"] = max(peak["broker"], p.memory_info().rss)
                            cpu[p.pid] = ("brokers", sum(p.cpu_times()[:2]))
                except psutil.Error:
                    pass  # a process ended between listing and reading it
                time.sleep(0.2)
            _out, err = proc.communicate()
        finally:
            if proc.poll() is None:
                os.killpg(proc.pid, signal.SIGKILL)
                proc.wait()
        if not path.exists():
            raise RuntimeError(f"no report (exit {proc.returncode}): {err[-2000:]}")
        report = json.loads(path.read_text())
        report["_exit"] = proc.returncode
        for role in ("bank", "brokers"):
            peak[f"{role}_cpu"] = sum(t for r, t in cpu.values() if r == role)
        return report, peak


SCALE_SYMBOLS = (8, 1_000, 10_000, 100_000)
SCALE_ACCOUNTS = (100, 1_000_000)


def scale(args: argparse.Namespace) -> int:
    """Throughput (--rate 0) and peak RSS per process by symbols (100 accounts) and by accounts
    (8 symbols), interleaved per repetition so that drift hits every row alike; ratios are to
    8 symbols and 100 accounts in the same repetition."""
    rows = [("symbols", n, ("--symbols", str(n))) for n in SCALE_SYMBOLS]
    rows += [("accounts", n, ("--accounts", str(n))) for n in SCALE_ACCOUNTS]
    runs: dict[tuple[str, int], list[tuple[float, dict[str, int], dict]]] = {(k, n): [] for k, n, _ in rows}
    for rep in range(args.reps):
        for kind, n, flags in rows:
            report, peak = simulate_sampled(
                "--rate", "0", "--duration", str(args.scale_duration), "--seed", str(rep + 1), *flags
            )
            clean = report["reconciled"] and report["orders"]["lost"] == 0 and report["_exit"] == 0
            runs[kind, n].append((end_to_end(report), peak, report))
            said = "" if clean else f" NOT CLEAN (exit {report['_exit']}, lost {report['orders']['lost']})"
            print(f"rep {rep + 1}: --{kind} {n:,}: {runs[kind, n][-1][0]:,.0f}/s{said}", flush=True)

    def ratios(kind: str, n: int, base: int, figure=lambda run: run[0]) -> list[float]:
        return [figure(a) / figure(b) for a, b in zip(runs[kind, n], runs[kind, base])]

    def answered(run: tuple) -> float:  # the report's own throughput: the run's end not counted
        return run[2]["throughput"]["orders_per_s"]

    print()
    seconds = f"{args.scale_duration:g} s"
    print(f"--scale: --rate 0, --duration {seconds}, 2 brokers; median [min - max] of {args.reps}")
    heads = ("orders/s", "[min - max]", "ratio", "answered", "stop s", "bank MiB", "broker MiB", "resting",
             "bank us", "brokers us")  # fmt: skip
    print(
        f"{'run':<22} {heads[0]:>12}  {heads[1]:<21} {heads[2]:>6} {heads[3]:>8} {heads[4]:>6} {heads[5]:>9}"
        f" {heads[6]:>11} {heads[7]:>9} {heads[8]:>8} {heads[9]:>10}"
    )
    out = {}
    for kind, n, _flags in rows:
        r = runs[kind, n]
        tp = [x[0] for x in r]
        base = SCALE_SYMBOLS[0] if kind == "symbols" else SCALE_ACCOUNTS[0]
        ratio = statistics.median(ratios(kind, n, base))
        answered_ratio = statistics.median(ratios(kind, n, base, answered))
        stop_s = statistics.median(x[2]["drain_s"] for x in r)
        bank = statistics.median(x[1]["bank"] for x in r) / 2**20
        broker = statistics.median(x[1]["broker"] for x in r) / 2**20
        resting = statistics.median(x[2]["orders"]["resting"] for x in r)
        us = {
            role: statistics.median(x[1][f"{role}_cpu"] / x[2]["orders"]["placed"] * 1e6 for x in r)
            for role in ("bank", "brokers")
        }
        spread = f"[{min(tp):,.0f} - {max(tp):,.0f}]"
        print(
            f"{f'--{kind} {n:,}':<22} {statistics.median(tp):>12,.0f}  {spread:<21} "
            f"{ratio:>6.2f} {answered_ratio:>8.2f} {stop_s:>6.2f} {bank:>9.0f} {broker:>11.0f} "
            f"{resting:>9,.0f} "
            f"{us['bank']:>8.2f} {us['brokers']:>10.2f}"
        )
        out[f"{kind}={n}"] = {"orders_per_s": tp, "ratio": ratio, "answered_ratio": answered_ratio,
                              "stop_s": [x[2]["drain_s"] for x in r], "bank_rss": [x[1]["bank"] for x in r],
                              "broker_rss": [x[1]["broker"] for x in r], "cpu_us_per_order": us}  # fmt: skip
    print("orders/s: placed / (duration + stop), the stop being the drain to every broker's final report;")
    print("ratio: of those to --symbols 8 (symbol rows) or --accounts 100 (account rows) in the same")
    print("repetition; answered: the same ratio of the report's throughput (orders answered / first order")
    print("to last answer), which leaves out the listing of every resting order in the final reports;")
    print("stop s: the drain, that listing included (it grows with the orders resting, once per run);")
    print("MiB: peak RSS of the bank and of its biggest broker; resting: orders resting at the end;")
    print("us: CPU microseconds per order placed, of the bank and of all brokers together")
    if args.json:
        Path(args.json).write_text(json.dumps({"machine": machine(), "scale": out}, indent=2) + "\n")
    return 0


# today's flow: LIMIT and MARKET orders, DAY and IOC, cancels; no stop, FOK, post-only, iceberg, amend
NO_TYPES = ("--fok-ratio", "0", "--post-only-ratio", "0", "--stop-ratio", "0", "--iceberg-ratio", "0",
            "--amend-ratio", "0")  # fmt: skip


def types_throughput(reps: int, duration: float) -> dict:
    """--rate 0 with 2 brokers, every order type at its default share against none."""
    m = alternated(reps, duration, {"no_new_types": NO_TYPES, "every_type": ()})
    return {**m["flow"], **ratios(m, "every_type", "no_new_types"), "cpu_us_per_order": m["cpu"]}


def agents_throughput(reps: int, duration: float) -> dict:
    """--rate 0 with 2 brokers: every type at its default share with 10 market makers, against
    the same without agents and against today's flow (no new type, no agent). The throughput
    counts the flow's orders only (the agents' are extra work); beside it, the ratio of every
    order placed a second, as the report's speed line counts them (the makers' too)."""
    rows = {"todays_flow": NO_TYPES, "no_agents": (), "market_makers": ("--market-makers", "10")}
    m = alternated(reps, duration, rows)
    return {
        **m["flow"],
        **ratios(m, "market_makers", "no_agents"),
        "against_todays_flow": ratios(m, "market_makers", "todays_flow"),
        "cpu_us_per_order": m["cpu"],
        "bank_cpu_us_per_order": m["bank"],
        "brokers_cpu_us_per_order": m["brokers"],
    }


def alternated(reps: int, duration: float, rows: dict[str, tuple]) -> dict:
    """Runs of each row's flags in turn in each repetition: the flow's orders a second
    ("flow"), every order placed a second, agents' included ("every"), and the CPU time of the
    whole process tree per flow order ("cpu": getrusage of the children, less moved by the
    other loads of a shared machine than the wall clock is); and that CPU split, the bank's
    ("bank") and the brokers' ("brokers"), sampled (``simulate_sampled``)."""
    kinds = ("flow", "every", "cpu", "bank", "brokers")
    m: dict[str, dict[str, list[float]]] = {k: {name: [] for name in rows} for k in kinds}
    for rep in range(reps):
        for name, flags in rows.items():
            before = resource.getrusage(resource.RUSAGE_CHILDREN)
            r, sampled = simulate_sampled(
                "--rate", "0", "--duration", str(duration), "--brokers", "2", "--seed", str(rep + 1), *flags
            )
            after = resource.getrusage(resource.RUSAGE_CHILDREN)
            assert r["reconciled"] and r["orders"]["lost"] == 0, r
            flow = r["orders"]["placed"] - (r.get("agents") or {}).get("placed", 0)
            m["flow"][name].append(flow / (r["duration_s"] + r["drain_s"]))
            m["every"][name].append(end_to_end(r))
            used = after.ru_utime + after.ru_stime - before.ru_utime - before.ru_stime
            m["cpu"][name].append(used / flow * 1e6)
            m["bank"][name].append(sampled["bank_cpu"] / flow * 1e6)
            m["brokers"][name].append(sampled["brokers_cpu"] / flow * 1e6)
        print(
            f"rep {rep + 1}: "
            + ", ".join(f"{n} {m['flow'][n][-1]:,.0f}/s ({m['cpu'][n][-1]:.1f} us CPU/order)" for n in rows),
            flush=True,
        )
    return m


def ratios(m: dict, b: str, a: str) -> dict:
    """Row ``b`` against row ``a``, per repetition: flow orders a second, every order a second,
    and CPU per flow order (a over b: above 1 would be b cheaper)."""
    return {
        "ratio": [y / x for y, x in zip(m["flow"][b], m["flow"][a])],
        "all_orders_ratio": [y / x for y, x in zip(m["every"][b], m["every"][a])],
        "cpu_ratio": [x / y for y, x in zip(m["cpu"][b], m["cpu"][a])],
    }


def print_types(t: dict) -> None:
    print(f"{'simulator --rate 0, 2 brokers, no new order types':<52} {med(t['no_new_types'])}")
    print(f"{'simulator --rate 0, 2 brokers, every type at default':<52} {med(t['every_type'])}")
    print_ratios(t, "every type / no new types", "no new types / every type")


def print_agents(t: dict) -> None:
    print(f"{'simulator --rate 0, 2 brokers, no new type, no agent':<52} {med(t['todays_flow'])}")
    print(f"{'  every type at its default share, no agents':<52} {med(t['no_agents'])}")
    print(f"{'  the same with 10 market makers (flow orders/s)':<52} {med(t['market_makers'])}")
    print_ratios(t, "10 market makers / none", "none / 10 market makers")
    ratio_row("the same, counting the makers' orders too", t["all_orders_ratio"])
    today = t["against_todays_flow"]
    ratio_row("every type + 10 makers / today's flow", today["ratio"])
    ratio_row("the same, counting the makers' orders too", today["all_orders_ratio"])
    print("CPU per flow order (us), bank + brokers:")
    bank, brokers = t["bank_cpu_us_per_order"], t["brokers_cpu_us_per_order"]
    labels = {"todays_flow": "today's flow", "no_agents": "every type", "market_makers": "+ 10 makers"}
    for name, label in labels.items():
        split = f"{statistics.median(bank[name]):.2f} + {statistics.median(brokers[name]):.2f}"
        print(f"{'  ' + label:<52} {split:>12}")


def print_ratios(t: dict, ratio: str, cpu: str) -> None:
    ratio_row(f"ratio {ratio} (same rep)", t["ratio"])
    ratio_row(f"CPU per order: {cpu}", t["cpu_ratio"])


def ratio_row(name: str, r: list[float]) -> None:
    print(f"{name:<52} {statistics.median(r):>12.3f}  [{min(r):.3f} - {max(r):.3f}]")


def med(values: list[float]) -> str:
    return f"{statistics.median(values):>12,.0f}  [{min(values):,.0f} - {max(values):,.0f}]"


def machine() -> dict:
    versions = {}
    for pkg in ("cherrypy", "multiprocess", "dill", "numpy", "textual", "psutil"):
        try:
            versions[pkg] = metadata.version(pkg)
        except metadata.PackageNotFoundError:
            versions[pkg] = None
    return {
        "cores": os.cpu_count(),
        "python": platform.python_version(),
        "platform": platform.platform(),
        "packages": versions,
        "load_average": os.getloadavg(),
    }


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--reps", type=int, default=3)
    ap.add_argument("--duration", type=float, default=8.0, help="seconds per throughput run")
    ap.add_argument("--latency-duration", type=float, default=6.0)
    ap.add_argument("--memory-seconds", type=float, default=60.0)
    ap.add_argument("--long", action="store_true", help="memory over a 10-minute run")
    ap.add_argument("--json", metavar="PATH")
    ap.add_argument("--amqp", metavar="URL", help="also the AMQP rows (bench/amqp.py) against this RabbitMQ")
    ap.add_argument("--scale", action="store_true", help="throughput and RSS by symbols and accounts only")
    ap.add_argument("--scale-duration", type=float, default=6.0, help="seconds per --scale run")
    ap.add_argument("--types", action="store_true", help="only the order types' row")
    ap.add_argument("--agents", action="store_true", help="only the agents' row")
    args = ap.parse_args()
    if args.scale:
        return scale(args)
    if args.types:
        print(f"machine: load {os.getloadavg()}", flush=True)
        print_types(types_throughput(args.reps, args.duration))
        return 0
    if args.agents:
        print(f"machine: load {os.getloadavg()}", flush=True)
        print_agents(agents_throughput(args.reps, args.duration))
        return 0
    memory_s = 600.0 if args.long else args.memory_seconds
    out: dict = {"machine": machine(), "reps": args.reps}
    print(
        f"machine: {out['machine']['cores']} cores, Python {out['machine']['python']}, "
        f"{out['machine']['packages']}, load {out['machine']['load_average']}",
        flush=True,
    )

    # 1 + 2: the ceiling and the simulator, interleaved per repetition so drift hits both alike
    ceiling, raw, queue_one, e2e = [], [], [], {1: [], 2: [], 4: []}
    for rep in range(args.reps):
        ceiling.append(echo_orders_per_s(brokers=2, seconds=3.0))
        raw.append(echo_orders_per_s(brokers=2, seconds=3.0, raw=True))
        queue_one.append(queue_one_per_put_per_s())
        for brokers in e2e:
            r = simulate(
                "--rate",
                "0",
                "--duration",
                str(args.duration),
                "--brokers",
                str(brokers),
                "--seed",
                str(rep + 1),
            )
            assert r["reconciled"] and r["orders"]["lost"] == 0, r
            e2e[brokers].append(end_to_end(r))
        print(
            f"rep {rep + 1}: echo {ceiling[-1]:,.0f}/s, raw echo {raw[-1]:,.0f}/s, "
            f"queue one-per-put {queue_one[-1]:,.0f}/s, "
            + ", ".join(f"{b} brokers {v[-1]:,.0f}/s" for b, v in e2e.items()),
            flush=True,
        )
    ratios = [e2e[2][i] / ceiling[i] for i in range(args.reps)]
    raw_ratios = [e2e[2][i] / raw[i] for i in range(args.reps)]
    out["throughput"] = {
        "echo_ceiling": ceiling,
        "raw_pipe_echo": raw,
        "queue_one_per_put": queue_one,
        "e2e": {str(k): v for k, v in e2e.items()},
        "ratio_2_brokers": ratios,
        "ratio_2_brokers_to_raw_echo": raw_ratios,
    }

    # 2b: the order types' cost: every type at its default share against today's flow
    out["order_types"] = types = types_throughput(args.reps, args.duration)
    out["agents"] = agents = agents_throughput(args.reps, args.duration)

    # 3: latency at fixed offered rates (open loop: timed from when each order was due)
    latency = {}
    for rate in (1000, 10000, 50000):
        runs = [
            simulate("--rate", str(rate), "--duration", str(args.latency_duration), "--seed", str(rep + 1))
            for rep in range(args.reps)
        ]
        latency[rate] = {
            "achieved": [r["throughput"]["orders_per_s"] for r in runs],
            "ack": {k: [r["latency_us"]["ack"][k] for r in runs] for k in ("p50", "p99", "p999", "max")},
            "final": {k: [r["latency_us"]["final"][k] for r in runs] for k in ("p50", "p99", "p999", "max")},
        }
        print(f"latency at {rate}/s done", flush=True)
    out["latency_us"] = latency

    # 4: stop time of a full-speed run
    stops, stop_lost = [], []
    for _ in range(args.reps):
        seconds, report = stop_time(brokers=2, warmup=3.0)
        stops.append(seconds)
        stop_lost.append(report["orders"]["lost"])
    out["stop"] = {"seconds": stops, "lost": stop_lost}
    print("stop time done", flush=True)

    # 5: memory over a steady run
    mem = memory(memory_s, rate=20000)
    out["memory"] = {"seconds": memory_s, "rate": 20000, "rss": mem}

    print()
    print(f"{'measure':<52} {'median':>12}  [min - max] of {args.reps}")
    print(f"{'echo ceiling, 2 brokers (orders/s)':<52} {med(ceiling)}")
    print(f"{'raw pipe echo (bytes only), 2 brokers (orders/s)':<52} {med(raw)}")
    print(f"{'multiprocess.Queue, one order per put (orders/s)':<52} {med(queue_one)}")
    for b, v in e2e.items():
        print(f"{f'simulator --rate 0, {b} broker(s) (orders/s)':<52} {med(v)}")
    for name, r in (("echo ceiling", ratios), ("raw pipe echo", raw_ratios)):
        print(
            f"{f'ratio simulator (2 brokers) / {name}':<52} {statistics.median(r):>12.3f}  "
            f"[{min(r):.3f} - {max(r):.3f}]"
        )
    print_types(types)
    print_agents(agents)
    for rate, d in latency.items():
        for kind in ("ack", "final"):
            cells = "  ".join(f"{k} {statistics.median(v) / 1000:,.2f}" for k, v in d[kind].items())
            print(f"{f'order->{kind} at {rate:,}/s (ms)':<52} {cells}")
    print(
        f"{'stop: SIGINT at full speed -> last process gone (s)':<52} "
        f"{statistics.median(stops):>12.3f}  [{min(stops):.3f} - {max(stops):.3f}], lost {sum(stop_lost)}"
    )
    for name, (a, b) in mem.items():
        growth = (b - a) / a * 100 if a else 0.0
        print(
            f"{f'RSS {name} over {memory_s:.0f} s at 20,000/s (MiB)':<52} "
            f"{a / 2**20:>8.1f} -> {b / 2**20:.1f} ({growth:+.1f}%)"
        )
    if args.amqp:  # last, measured on their own (each row beside its pipe row, in the same rep)
        from amqp import measure, print_rows

        out["amqp"] = rows = measure(args.amqp, args.reps, duration=args.duration)
        print_rows(rows)
    if args.json:
        Path(args.json).write_text(json.dumps(out, indent=2) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
