"""What a run tells a person: the banner, the progress line, the final summary, the JSON report.

The progress line is made from a Snapshot; the report from the config and the run's
``Outcome`` alone (its last Snapshot, its reconciliation, its timings and fills digest), and
the summary from the report. So the console, the dashboard and the report never disagree.
"""

from __future__ import annotations

import json
import os
import platform
import sys
from typing import TYPE_CHECKING, TextIO

from simulator.config import SimConfig
from simulator.stats import Snapshot

if TYPE_CHECKING:  # the outcome is made in the bank process; the report only reads it
    from simulator.snapshots import Outcome

REPORT_VERSION = 1


def banner(config: SimConfig) -> str:
    """The first line of a run: what it will do and how it stops."""
    rate = "max" if not config.rate else f"{config.rate:,.0f}/s"
    limit = []
    if config.orders:
        limit.append(f"{config.orders:,} orders")
    if config.duration:
        limit.append(f"{config.duration:g} s")
    return (
        f"simulate: seed {config.seed}, {config.brokers} brokers, {len(config.symbols)} symbols, "
        f"rate {rate}, batch {config.batch}"
        + (f", stops after {' or '.join(limit)}" if limit else ", Ctrl-C stops cleanly")
    )


def progress_line(s: Snapshot) -> str:
    o = s.orders
    lat = s.ack_latency_us
    return (
        f"[{s.elapsed_s:7.1f}s] {s.state.value:<8} placed {o.placed:>10,} "
        f"filled {o.filled:>9,} cancelled {o.cancelled:>9,} rejected {o.rejected:>7,} "
        f"resting {o.resting:>7,} in flight {o.in_flight:>6,} | {s.orders_per_s:>9,.0f} orders/s "
        f"{s.fills_per_s:>8,.0f} fills/s | ack p50 {lat['p50']:,} us p99 {lat['p99']:,} us"
    )


def build_report(config: SimConfig, outcome: Outcome) -> dict:
    """The JSON report of a finished run (``--report``, the journal's run table)."""
    s = outcome.snapshot
    duration_s, drain_s = outcome.duration_s, outcome.drain_s
    o = s.orders
    rec = outcome.reconciliation
    # throughput: orders whose final state is known (resting counts: a book holds it) over the
    # time from the first order to the last of those states booked; not duration_s, which
    # ends when the stop is asked, while answers still flow in
    answered = o.filled + o.cancelled + o.rejected + o.resting
    answered_s = outcome.answered_s
    return {
        "version": REPORT_VERSION,
        "config": config.to_dict(),
        "stop_reason": outcome.stop_reason,
        "duration_s": round(duration_s, 3),
        "drain_s": round(drain_s, 3),
        "orders": {
            "placed": o.placed,
            "filled": o.filled,
            "cancelled": o.cancelled,
            "rejected": o.rejected,
            "resting": o.resting,
            "lost": o.lost,
        },
        "cancel_requests": {**s.cancel_requests, "lost": o.cancels_lost},
        "reject_reasons": dict(s.reject_reasons),
        "reconciled": bool(rec is not None and rec.ok),
        "lost_ids": rec.lost_ids[:1000] if rec else [],
        "lost_cancel_ids": rec.lost_cancel_ids[:1000] if rec else [],
        "positions_balanced": bool(rec and rec.positions_balanced),
        "cash_balanced": bool(rec and rec.cash_balanced),
        "fills": {"count": s.fills, "volume": s.volume, "digest": outcome.fills_digest},
        "throughput": {
            "orders_per_s": round(answered / answered_s, 1) if answered_s > 0 else 0.0,
            "orders": answered,
            "seconds": round(answered_s, 3),
        },
        "latency_us": {"ack": dict(s.ack_latency_us), "final": dict(s.final_latency_us)},
        "brokers": [
            {
                "name": p.name,
                "pid": p.pid,
                "symbols": list(p.symbols),
                "orders": p.orders,
                "fills": p.fills,
                "exit_code": p.exit_code,
            }
            for p in s.processes
            if p.name != "bank"
        ],
        "exit_code": outcome.exit_code,
        "machine": {
            "python": platform.python_version(),
            "platform": platform.platform(),
            "cpus": os.cpu_count(),
        },
    }


def write_report(path: str, report: dict) -> None:
    tmp = f"{path}.tmp"
    with open(tmp, "w") as f:
        json.dump(report, f, indent=2)
        f.write("\n")
    os.replace(tmp, path)


def summary_text(report: dict) -> str:
    o = report["orders"]
    lat = report["latency_us"]["ack"]
    c = report["cancel_requests"]
    t = report["throughput"]
    lines = [
        f"stopped: {report['stop_reason']} after {report['duration_s']:.2f} s "
        f"(seed {report['config']['seed']})",
        f"orders   placed {o['placed']:,} = filled {o['filled']:,} + cancelled {o['cancelled']:,}"
        f" + rejected {o['rejected']:,} + resting {o['resting']:,} + lost {o['lost']:,}",
        f"cancels  sent {c.get('sent', 0):,}: done {c.get('done', 0):,}, rejected {c.get('rejected', 0):,}"
        f", lost {c.get('lost', 0):,}",
    ]
    if report["reject_reasons"]:
        reasons = ", ".join(f"{k} {v:,}" for k, v in report["reject_reasons"].items())
        lines.append(f"rejects  {reasons}")
    lines += [
        f"fills    {report['fills']['count']:,} trades, {report['fills']['volume']:,} shares, "
        f"digest {report['fills']['digest'][:16]}",
        f"speed    {t['orders_per_s']:,.0f} orders/s: {t.get('orders', 0):,} orders answered "
        f"{t.get('seconds', 0):.3f} s after the first was placed",
        f"latency  ack p50 {lat['p50']:,} us, p99 {lat['p99']:,} us, p99.9 {lat['p999']:,} us, "
        f"max {lat['max']:,} us (from when each order was due)",
    ]
    for b in report["brokers"]:
        lines.append(
            f"  {b['name']:<10} pid {b['pid']!s:<8} {len(b['symbols'])} symbols "
            f"{b['orders']:>10,} orders {b['fills']:>9,} fills  exit {b['exit_code']}"
        )
    verdict = "reconciled: yes" if report["reconciled"] else "reconciled: NO"
    if o["lost"]:
        verdict += f" -- {o['lost']} LOST, first ids {report['lost_ids'][:10]}"
    if c.get("lost"):
        verdict += " and" if o["lost"] else " --"
        verdict += f" {c['lost']} cancel requests LOST, first ids {report.get('lost_cancel_ids', [])[:10]}"
    lines.append(f"{verdict}; exit status {report['exit_code']}")
    return "\n".join(lines)


def print_summary(report: dict, stream: TextIO | None = None) -> None:
    print(summary_text(report), file=stream or sys.stdout, flush=True)


def print_outcome(report: dict, errors: list[str]) -> int:
    """The summary on stdout (errors on stderr); the run's exit status."""
    for line in errors:
        print(line, file=sys.stderr)
    print_summary(report)
    return report["exit_code"]
