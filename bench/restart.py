"""Broker restarts: the gap per restart, the flow to the other brokers meanwhile, and a soak.

    python bench/restart.py                        # 20 kills, this tree, warm standby and not
    python bench/restart.py --tree /tmp/base --tree .   # compare trees in the same run
    python bench/restart.py --soak 600 --kill-every 5   # the soak: RSS, ack p99, lost

Gaps. Each tree runs in a child process of its own (so each imports its own ``simulator``)
that starts a headless ``Simulation`` at ``--rate`` orders/s and kills a random broker with
SIGKILL every ``--every`` seconds, from outside, as a user would. Every EVENTS message the
bank reads is noted (time, shard, pid of the process behind it). Per kill:

    gap          the kill -> the first events read from the shard's new process
    others pause the longest time without events from any other shard, from the kill to the
                 end of the gap (at this rate they answer every few milliseconds)
    others flow  other shards' events per second over the gap (a quarter second at least)
                 / over the second before the kill

A tree's figures are medians and p99 over its kills; runs alternate between trees, so a
shared machine's load falls on both alike. The soak runs ``simulate.py`` of the tree with
``--kill-broker-every`` and samples the bank's RSS (psutil) every two seconds:

    RSS          at ``--warm-from`` seconds (10: the order window's arrays are resident by then,
                 the target's start), at ``--warm-until`` (30: after the warm-up), at the end and
                 the largest; growth from the start and, apart, from the end of the warm-up
                 (and per minute after it)
    resting      orders resting at those times (the report's rows): live state the bank keeps
                 (the order window's overflow), which grows with the flow's random walk; what
                 else the bank's memory is made of: ``bench/soak_census.py``
    ack p99      of every order; of the orders no restart held up; of those a restart held up
                 (sent again to the new broker, or queued while it came up: report
                 ``latency_us.ack_held``, a tree without it shows "-")
    gap          each restart's, from the death seen to the new process's first answer
    load         the machine's load average (1 min) at the start and at the end of the soak
"""

from __future__ import annotations

import argparse
import json
import os
import random
import signal
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def _pct(values: list[float], q: float) -> float:
    if not values:
        return float("nan")
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))]


# -- one tree, in a child -----------------------------------------------------------------------


def child(tree: str, kills: int, every: float, rate: float, standby: bool, seed: int) -> dict:
    sys.path.insert(0, str(Path(tree).resolve()))
    from simulator import messages as msg
    from simulator.config import SimConfig
    from simulator.runner import Simulation

    extra = {"standby": standby} if "standby" in SimConfig.__dataclass_fields__ else {}
    config = SimConfig(
        brokers=2, rate=rate, seed=seed, headless=True, max_restarts=1000, stop_timeout=30, **extra
    )
    sim = Simulation(config)
    pool = sim.pool
    seen: list[tuple[float, int, int, int]] = []  # (time, shard, pid, events)
    original = pool.on_message

    def noting(index: int, kind: bytes, body: object) -> None:
        if kind == msg.EVENTS:
            seen.append((time.monotonic(), index, pool.brokers[index].pid, len(body[2]) // 7))
        original(index, kind, body)

    pool.on_message = noting
    outcome: list = []
    runner = threading.Thread(target=lambda: outcome.append(sim.run()))
    runner.start()
    killed: list[tuple[float, int, int]] = []  # (time, shard, pid)
    rng = random.Random(seed)
    try:
        deadline = time.monotonic() + 60
        while not (pool.brokers and all(b.state == "RUNNING" for b in pool.brokers)):
            if time.monotonic() > deadline or not runner.is_alive():
                raise SystemExit("brokers did not start")
            time.sleep(0.01)
        time.sleep(2.0)  # warm: the standby spawned, the books filled
        for _ in range(kills):
            index = rng.randrange(len(pool.brokers))
            victim = pool.brokers[index]
            if victim.state != "RUNNING":
                time.sleep(0.05)
                continue
            t = time.monotonic()
            os.kill(victim.pid, signal.SIGKILL)
            killed.append((t, index, victim.pid))
            time.sleep(every)
    finally:
        sim.request_stop("bench done")
        runner.join(120)
    out = outcome[0] if outcome else None
    gaps, pauses, flows = [], [], []
    for t_kill, index, pid in killed:
        answer = next((t for t, k, p, _n in seen if t > t_kill and k == index and p != pid), None)
        if answer is None:
            continue
        gaps.append((answer - t_kill) * 1e3)
        others = [(t, n) for t, k, _p, n in seen if k != index]
        during = [t for t, _n in others if t_kill <= t <= answer]
        marks = [t_kill, *during, answer]
        pauses.append(max(b - a for a, b in zip(marks, marks[1:])) * 1e3)
        # over a quarter second at least: events come in batches, a few ms apart
        window = max(answer - t_kill, 0.25)
        before = sum(n for t, n in others if t_kill - 1.0 <= t < t_kill)
        after = sum(n for t, n in others if t_kill <= t <= t_kill + window)
        flows.append((after / window) / before if before else float("nan"))
    snap = out.snapshot if out else None
    return {
        "tree": tree,
        "standby": standby if extra else None,
        "kills": len(killed),
        "gaps_ms": gaps,
        "others_pause_ms": pauses,
        "others_flow": flows,
        "ack_p99_us": snap.ack_latency_us.get("p99") if snap else None,
        "lost": snap.orders.lost if snap else None,
        "digest": out.fills_digest if out else None,
        "reconciled": bool(out and out.reconciliation and out.reconciliation.ok),
    }


# -- the soak -----------------------------------------------------------------------------------


def soak(
    tree: str, seconds: float, kill_every: float, rate: float, seed: int, warm: tuple[float, float]
) -> dict:
    import psutil

    with tempfile.TemporaryDirectory() as tmp:
        report_path = Path(tmp) / "soak.json"
        cmd = [sys.executable, str(Path(tree) / "simulate.py"), "--headless", "--rate", str(rate),
               "--duration", str(seconds), "--kill-broker-every", str(kill_every), "--max-restarts",
               "1000", "--seed", str(seed), "--report", str(report_path)]  # fmt: skip
        load_start = os.getloadavg()[0]
        proc = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        bank = psutil.Process(proc.pid)
        samples: list[tuple[float, int]] = []
        t0 = time.monotonic()
        while proc.poll() is None:
            try:
                samples.append((time.monotonic() - t0, bank.memory_info().rss))
            except psutil.Error:
                break
            time.sleep(2.0)
        proc.wait()
        load_end = os.getloadavg()[0]
        report = json.loads(report_path.read_text())
    running = [(t, rss) for t, rss in samples if warm[0] <= t <= seconds]
    start = running[0][1] if running else 0
    warmed = next((rss for t, rss in running if t >= warm[1]), 0)
    end = running[-1][1] if running else 0
    lat = report["latency_us"]
    mib = 1 / 2**20
    series = report.get("series") or {}

    def resting_at(t: float) -> int | None:
        """Orders resting at ``t`` s of the run (the report's rows), the growth's main part."""
        rows = list(zip(series.get("t", []), series.get("resting", [])))
        return next((n for ts, n in rows if ts >= t), rows[-1][1] if rows else None)

    return {
        "tree": tree,
        "seconds": seconds,
        "kill_every": kill_every,
        "rss_start_mib": round(start * mib, 1),
        "rss_warm_mib": round(warmed * mib, 1),
        "rss_end_mib": round(end * mib, 1),
        "rss_max_mib": round(max((r for _t, r in running), default=0) * mib, 1),
        "growth": round(end / start - 1, 3) if start else None,
        "growth_after_warm_up": round(end / warmed - 1, 3) if warmed else None,
        "warm": warm,
        "rss_samples": [(round(t, 1), round(r * mib, 1)) for t, r in samples],
        "resting": (resting_at(warm[0]), resting_at(warm[1]), resting_at(seconds)),
        "mib_per_min_after_warm_up": round((end - warmed) * mib / ((seconds - warm[1]) / 60), 2)
        if warmed and seconds > warm[1]
        else None,
        "ack_p99_us": lat["ack"]["p99"],
        "ack_not_held_p99_us": lat["ack_not_held"]["p99"] if "ack_not_held" in lat else None,
        "ack_held": lat.get("ack_held"),
        "lost": report["orders"]["lost"],
        "restarts": sum(b.get("restarts", 0) for b in report["brokers"]),
        "gaps_ms": [g for b in report["brokers"] for g in b.get("restart_gaps_ms", [])],
        "placed": report["orders"]["placed"],
        "reconciled": report["reconciled"],
        "exit_code": report["exit_code"],
        "load": (round(load_start, 1), round(load_end, 1)),
    }


def _soak_line(r: dict, rate: float) -> str:
    gaps = r["gaps_ms"]
    gap = f"gap median {statistics.median(gaps):.1f} ms p99 {_pct(gaps, 0.99):.1f} ms" if gaps else "no gap"
    held = r["ack_held"]

    def ms(us: float | None) -> str:
        return "-" if us is None else f"{us / 1e3:,.1f} ms"

    held_part = (
        f"held by a restart {held['count']:,} orders p99 {ms(held['p99'])}" if held else "held by a restart -"
    )
    return (
        f"soak {r['tree']}: {r['seconds']:g} s at {rate:g}/s, kill every {r['kill_every']:g} s, "
        f"load {r['load'][0]:g} -> {r['load'][1]:g}\n"
        f"  bank RSS at {r['warm'][0]:g} s {r['rss_start_mib']} MiB, at {r['warm'][1]:g} s "
        f"{r['rss_warm_mib']} MiB, end {r['rss_end_mib']} MiB (max {r['rss_max_mib']}): "
        f"{r['growth']:+.1%} from {r['warm'][0]:g} s, {r['growth_after_warm_up']:+.1%} after the warm-up"
        f" ({r['mib_per_min_after_warm_up']:+.2f} MiB/min)\n"
        f"  orders resting at {r['warm'][0]:g} s, {r['warm'][1]:g} s, end: "
        f"{', '.join('-' if n is None else f'{n:,}' for n in r['resting'])} (the bank keeps each open one)\n"
        f"  ack p99 {ms(r['ack_p99_us'])}, not held by a restart {ms(r['ack_not_held_p99_us'])}, "
        f"{held_part}\n"
        f"  lost {r['lost']}, restarts {r['restarts']}, {gap}, reconciled {r['reconciled']}, "
        f"exit {r['exit_code']}"
    )


# -- the parent -----------------------------------------------------------------------------------


def _line(label: str, runs: list[dict]) -> str:
    gaps = [g for r in runs for g in r["gaps_ms"]]
    pauses = [p for r in runs for p in r["others_pause_ms"]]
    flows = [f for r in runs for f in r["others_flow"] if f == f]
    p99s = [r["ack_p99_us"] for r in runs if r["ack_p99_us"] is not None]
    return (
        f"{label:<34} kills {len(gaps):>3}  gap median {statistics.median(gaps):7.1f} ms "
        f"p99 {_pct(gaps, 0.99):7.1f} ms | others: longest pause median "
        f"{statistics.median(pauses):6.1f} ms p99 {_pct(pauses, 0.99):6.1f} ms, flow during gap "
        f"{statistics.median(flows):4.2f} of before | ack p99 {statistics.median(p99s) / 1e3:,.1f} ms"
        f" | lost {sum(r['lost'] or 0 for r in runs)}"
    )


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--tree", action="append", help="a checkout to measure (default: this one)")
    p.add_argument("--kills", type=int, default=20, help="kills per run (default 20)")
    p.add_argument("--every", type=float, default=1.0, help="seconds between kills (default 1)")
    p.add_argument("--reps", type=int, default=1, help="runs per tree, alternating (default 1)")
    p.add_argument("--rate", type=float, default=20000.0)
    p.add_argument("--seed", type=int, default=7)
    p.add_argument("--soak", type=float, metavar="S", help="instead: a soak of S seconds per tree")
    p.add_argument("--kill-every", type=float, default=5.0, help="the soak's kill interval")
    p.add_argument("--warm-from", type=float, default=10.0, help="the soak's first RSS taken (s)")
    p.add_argument("--warm-until", type=float, default=30.0, help="the soak's warm-up end (s)")
    p.add_argument("--json", metavar="PATH", help="also write every figure here")
    p.add_argument("--child", action="store_true", help=argparse.SUPPRESS)
    p.add_argument("--no-standby", action="store_true", help=argparse.SUPPRESS)
    a = p.parse_args()
    trees = a.tree or [str(ROOT)]
    if a.child:
        print(json.dumps(child(trees[0], a.kills, a.every, a.rate, not a.no_standby, a.seed)))
        return 0
    if a.soak:
        results = []
        for tree in trees:
            r = soak(tree, a.soak, a.kill_every, a.rate, a.seed, (a.warm_from, a.warm_until))
            results.append(r)
            print(_soak_line(r, a.rate), flush=True)
    else:
        variants = []
        for tree in trees:
            variants.append((tree, False))
            if (Path(tree) / "simulator" / "pool.py").read_text().count("standby"):
                variants.append((tree, True))
        runs: dict[tuple[str, bool], list[dict]] = {v: [] for v in variants}
        for _ in range(a.reps):
            for tree, no_standby in variants:
                cmd = [sys.executable, __file__, "--child", "--tree", tree, "--kills", str(a.kills),
                       "--every", str(a.every), "--rate", str(a.rate), "--seed", str(a.seed)]  # fmt: skip
                if no_standby:
                    cmd.append("--no-standby")
                done = subprocess.run(cmd, capture_output=True, text=True, timeout=600)
                if done.returncode:
                    print(done.stderr[-2000:], file=sys.stderr)
                    return 1
                runs[tree, no_standby].append(json.loads(done.stdout.strip().splitlines()[-1]))
        print(f"restarts at {a.rate:g} orders/s, 2 brokers, a kill every {a.every:g} s, "
              f"{a.kills} kills x {a.reps} runs (machine shared: figures are noisy)")  # fmt: skip
        for (tree, no_standby), rs in runs.items():
            print(_line(f"{Path(tree).resolve().name}{' --no-standby' if no_standby else ''}", rs))
        results = [r for rs in runs.values() for r in rs]
    if a.json:
        Path(a.json).write_text(json.dumps(results, indent=1))
    return 0


if __name__ == "__main__":
    sys.exit(main())
