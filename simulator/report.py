"""What a run tells a person: the banner, the progress line, the final summary, the JSON report.

The progress line is made from a Snapshot; the report from the config and the run's
``Outcome`` alone (its last Snapshot, its reconciliation, its timings and fills digest), and
the summary from the report. So the console, the dashboard and the report never disagree.
"""

from __future__ import annotations

import contextlib
import json
import os
import platform
import socket
import stat
import statistics
import sys
import tempfile
from collections.abc import Callable, Sequence
from typing import IO, TYPE_CHECKING, TextIO

from simulator.agent_report import agents_line
from simulator.config import SimConfig
from simulator.report_text import figure_lines
from simulator.series import COLUMNS as SERIES_COLUMNS
from simulator.stats import LatencyHistogram, Snapshot
from simulator.you_view import report_section

if TYPE_CHECKING:  # the outcome is made in the bank process; the report only reads it
    from simulator.snapshots import Outcome

# 2: orders.lost counts orders only (lost cancel requests in cancel_requests.lost); throughput
# is orders answered over the first order to the last answer
# 3: started/ended (UTC), host, transport, series, symbols, accounts; brokers[].orders counts
# orders routed (cancel requests apart, a restart resets nothing), brokers[].restarts;
# reject_reasons are orders' only, cancel_requests.reject_reasons the cancels'
REPORT_VERSION = 3


def banner(config: SimConfig, ignored: Sequence[str] = ()) -> str:
    """The first line of a run: what it will do and how it stops.

    ``ignored``: the stop signals ignored since the program started (a script's background job
    inherits SIGINT ignored, and the run keeps it so: ``processes.ignored_stop_signals``). Then
    Ctrl-C cannot stop the run, and the banner says what does instead.
    """
    rate = "max" if not config.rate else f"{config.rate:,.0f}/s"
    limit = []
    if config.orders:
        limit.append(f"{config.orders:,} orders")
    if config.duration:
        limit.append(f"{config.duration:g} s")
    stops = f", stops after {' or '.join(limit)}" if limit else ""
    if "SIGINT" in ignored:
        names = [name for name in ("SIGINT", "SIGTERM", "SIGHUP") if name in ignored]
        left = [name for name in ("SIGTERM", "SIGHUP") if name not in ignored]
        stops += f"; {' and '.join(names)} ignored (inherited): "
        stops += f"{left[0]} stops it cleanly" if left else "no signal stops it cleanly"
    elif not limit:
        stops = ", Ctrl-C stops cleanly"
    return (
        f"simulate: seed {config.seed}, {config.brokers} brokers, {len(config.symbols)} symbols, "
        f"rate {rate}, batch {config.batch}{stops}"
    )


def progress_line(s: Snapshot) -> str:
    """One line a second headless. The ack latency is that of the last second alone (the run's
    whole-run percentiles are in the summary): one start-up stall would pin a cumulative p99."""
    o = s.orders
    lat = s.ack_latency_last_s
    latency = f"ack p50 {lat['p50']:,} us p99 {lat['p99']:,} us" if lat.get("count") else "no acks"
    return (
        f"[{s.elapsed_s:7.1f}s] {s.state.value:<8} placed {o.placed:>10,} "
        f"filled {o.filled:>9,} cancelled {o.cancelled:>9,} rejected {o.rejected:>7,} "
        f"resting {o.resting:>7,} in flight {o.in_flight:>6,} | {s.orders_per_s:>9,.0f} orders/s "
        f"{s.fills_per_s:>8,.0f} fills/s | last s: {latency}"
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
    figures = outcome.figures
    return {
        "version": REPORT_VERSION,
        "config": config.to_dict(),
        "started": outcome.started_utc,
        "ended": outcome.ended_utc,
        "host": socket.gethostname(),
        "transport": getattr(config, "transport", "pipe"),
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
        "cancel_requests": {
            **{"sent": 0, "done": 0, "rejected": 0},
            **s.cancel_requests,
            "lost": o.cancels_lost,
            "reject_reasons": figures.get("cancel_rejects", {}),
        },
        "reject_reasons": figures.get("order_rejects", dict(s.reject_reasons)),
        "order_types": figures.get("order_types", {}),
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
        "latency_us": {
            "ack": dict(s.ack_latency_us) or LatencyHistogram().summary(),
            "final": dict(s.final_latency_us) or LatencyHistogram().summary(),
            # of those acks: orders a broker's restart held up (sent again, or queued while it
            # came up), and the others
            "ack_held": figures.get("ack_held") or LatencyHistogram().summary(),
            "ack_not_held": figures.get("ack_not_held")
            or dict(s.ack_latency_us)
            or LatencyHistogram().summary(),
        },
        "brokers": _brokers(s, figures.get("brokers")),
        # an outcome without figures (a run that never started): the same shapes, empty
        "series": figures.get("series") or {"interval_s": 1.0, **{c: [] for c in SERIES_COLUMNS}},
        "symbols": figures.get("symbols", {}),  # the busiest --report-symbols (report_symbols.py)
        "symbols_listed": figures.get("symbols_listed") or {"count": 0, "traded": 0, "listed": 0},
        "accounts": figures.get("accounts")
        or {"count": 0, "unit": "ticks x shares", "marked_to": {}, "pnl_sum": 0, "top": [], "bottom": []},
        "risk": figures.get("risk") or {"limits": {}, "refused": {}, "kill_switch": []},
        # your own orders (the dashboard's form, ``order`` over HTTP), counted apart; ``orders``
        # above counts them with the flow's
        "you": report_section(s.you, rec.lost_ids if rec else []),
        # the agents' orders (agents.py), counted apart too
        "agents": figures.get("agents") or {"count": 0, "placed": 0, "kinds": {}},
        "exit_code": outcome.exit_code,
        "machine": {
            "python": platform.python_version(),
            "platform": platform.platform(),
            "cpus": os.cpu_count(),
        },
    }


def _gaps_text(gaps_ms) -> str:
    """What a broker's restarts cost: the median and the longest gap, or nothing."""
    if not gaps_ms:
        return ""
    return f"  gap median {statistics.median(gaps_ms):,.1f} ms max {max(gaps_ms):,.1f} ms"


def _brokers(s: Snapshot, routed: list[dict] | None) -> list[dict]:
    """Each broker: its process, and from the bank's books the orders and cancel requests routed
    to it, its symbols' fills and its restarts (none of them reset by a restart)."""
    rows = [p for p in s.processes if p.name != "bank"]
    out = []
    for i, p in enumerate(rows):
        counted = routed[i] if routed and i < len(routed) else {}
        out.append(
            {
                "name": p.name,
                "host": p.host,
                "pid": p.pid,
                "symbols": list(p.symbols),
                "orders": counted.get("orders", p.orders),
                "cancel_requests": counted.get("cancel_requests", 0),
                "fills": counted.get("fills", p.fills),
                "restarts": counted.get("restarts", p.restarts),
                "exit_code": p.exit_code,
                "restart_gaps_ms": list(p.restart_gaps_ms),  # death seen -> the new process answering
            }
        )
    return out


def where(report: dict, broker: dict) -> str:
    """`` on HOST`` for a broker of an AMQP run (anywhere), nothing over pipes (this machine)."""
    return f" on {broker.get('host')}" if report.get("transport") == "amqp" else ""


def write_report(path: str, report: dict) -> None:
    """Write ``report`` to ``path`` whole or not at all, replacing only a regular file.

    The JSON goes to a new temporary file in the same directory, made by ``tempfile`` (created
    exclusively, never through a symbolic link planted at a guessable name), synced, then
    renamed over ``path``. A ``path`` that is anything but a regular file (a device such as
    /dev/null, a FIFO, a directory, a symbolic link) is refused: a rename would replace it.
    ``--report`` is checked before the run (``config.output_problem``); this is the last look,
    just before the rename. On any failure the temporary file is removed; OSError says why.
    """

    def dump(f: IO[bytes]) -> None:
        f.write(json.dumps(report, indent=2).encode() + b"\n")

    write_file_whole(path, dump)


def write_file_whole(path: str, write: Callable[[IO[bytes]], object]) -> None:
    """``write`` into a new temporary file beside ``path``, synced, then renamed over it: the
    way of ``write_report``, for any file a command makes (a plot, a sweep's table)."""
    try:
        st = os.lstat(path)
    except FileNotFoundError:
        st = None
    if st is not None and not stat.S_ISREG(st.st_mode):
        raise OSError(f"{path} is not a regular file: refusing to replace it")
    directory, name = os.path.split(os.path.abspath(path))
    fd, tmp = tempfile.mkstemp(dir=directory, prefix=f".{name[:64]}.", suffix=".tmp")
    try:
        with os.fdopen(fd, "wb") as f:
            # mkstemp makes it private (0600); a report is as readable as any file made here
            os.fchmod(f.fileno(), st.st_mode & 0o7777 if st is not None else 0o666 & ~_umask())
            write(f)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
    except BaseException:
        with contextlib.suppress(OSError):
            os.unlink(tmp)
        raise


def _umask() -> int:
    try:  # Linux says it without changing it (os.umask can only be read by setting it)
        with open("/proc/self/status") as f:
            for line in f:
                if line.startswith("Umask:"):
                    return int(line.split()[1], 8)
    except (OSError, ValueError):
        pass
    mask = os.umask(0o022)
    os.umask(mask)
    return mask


def types_line(t: dict) -> str:
    """The summary's line of what the order types did."""
    stp = t.get("cancel_reasons", {}).get("SELF_TRADE", 0)
    return (
        f"types    {t['amends_done']:,} amends, {t['stops_triggered']:,} stops triggered "
        f"({t['stops_held_at_end']:,} still held), {t['iceberg_refills']:,} iceberg refills, "
        f"{stp:,} self-trade cancels"
    )


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
    you = report.get("you") or {}
    if you.get("placed"):
        lines.append(
            f"yours    placed {you['placed']:,} = filled {you['filled']:,} + cancelled {you['cancelled']:,}"
            f" + rejected {you['rejected']:,} + resting {you['resting']:,} + lost {you['lost']:,}; "
            f"{you['filled_qty']:,} shares traded, P&L ${you['pnl'] / 100:,.2f} (account {you['account']}); "
            f"the flow placed {o['placed'] - you['placed']:,}"
        )
    agents = report.get("agents") or {}
    if agents.get("placed"):
        lines.append(agents_line(agents))
    if report.get("started"):
        lines.insert(1, f"run      {report['started']} to {report['ended']} (UTC) on {report['host']}, "
                        f"transport {report['transport']}")  # fmt: skip
    if report["reject_reasons"]:
        reasons = ", ".join(f"{k} {v:,}" for k, v in report["reject_reasons"].items())
        lines.append(f"rejects  {reasons}" if "started" not in report else f"rejects  orders: {reasons}")
    if c.get("reject_reasons"):
        reasons = ", ".join(f"{k} {v:,}" for k, v in c["reject_reasons"].items())
        lines.append(f"         cancel requests: {reasons} (the order had gone first: not an error)")
    if report.get("order_types"):
        lines.append(types_line(report["order_types"]))
    risk = report.get("risk") or {}
    if risk.get("refused") or risk.get("kill_switch"):
        uses = len(risk.get("kill_switch", []))
        refused = ", ".join(f"{k} {v:,}" for k, v in risk.get("refused", {}).items()) or "none"
        used = f"kill switch used {uses} time{'s' * (uses != 1)}"
        lines.append(f"risk     refused in the bank: {refused}; {used}")
    lines += [
        f"fills    {report['fills']['count']:,} trades, {report['fills']['volume']:,} shares, "
        f"digest {report['fills']['digest'][:16]}",
        f"speed    {t['orders_per_s']:,.0f} orders/s: {t.get('orders', 0):,} orders answered "
        f"{t.get('seconds', 0):.3f} s after the first was placed",
        f"latency  ack p50 {lat['p50']:,} us, p99 {lat['p99']:,} us, p99.9 {lat['p999']:,} us, "
        f"max {lat['max']:,} us (from when each order was due)",
    ]
    held, rest = report["latency_us"].get("ack_held"), report["latency_us"].get("ack_not_held")
    if held and held["count"] and rest:
        lines.append(
            f"         {held['count']:,} held up by a broker's restart: p99 {held['p99']:,} us; "
            f"the others p50 {rest['p50']:,} us, p99 {rest['p99']:,} us, max {rest['max']:,} us"
        )
    for b in report["brokers"]:
        cancels = f" {b['cancel_requests']:>9,} cancels" if "cancel_requests" in b else ""
        restarts = f" {b['restarts']:>3} restarts" if "restarts" in b else ""
        lines.append(
            f"  {b['name']:<10} pid {b['pid']!s:<8}{where(report, b)} {len(b['symbols'])} symbols "
            f"{b['orders']:>10,} orders{cancels} {b['fills']:>9,} fills{restarts}  exit {b['exit_code']}"
            + _gaps_text(b.get("restart_gaps_ms", ()))
        )
    lines += figure_lines(report)
    verdict = "reconciled: yes" if report["reconciled"] else "reconciled: NO"
    if o["lost"]:
        verdict += f" -- {o['lost']} LOST, first ids {report['lost_ids'][:10]}"
    if c.get("lost"):
        verdict += " and" if o["lost"] else " --"
        verdict += f" {c['lost']} cancel requests LOST, first ids {report.get('lost_cancel_ids', [])[:10]}"
    for failed in report.get("log", {}).get("unwritten", []):
        lines.append(
            f"log      {failed['records']:,} records could not be written"
            f" to {failed['to']} ({failed['error']})"
        )
    lines.append(f"{verdict}; exit status {report['exit_code']}")
    return "\n".join(lines)


# -- printing --------------------------------------------------------------------------------
#
# What the run prints is a view of it, never a reason to stop it. When the reader of stdout goes
# away (`| head -3`), the next write fails with EPIPE (Python ignores SIGPIPE): that stream is
# then pointed at /dev/null (Python's own recipe, in the signal module's "Note on SIGPIPE"), so
# no later print, nor the interpreter's last flush, raises. The run goes on, writes its report
# and exits with its own status, which says whether orders were lost; a reader that chose to
# stop reading is not a failure (a process killed by SIGPIPE, 141, would claim the run died,
# and 1 would claim orders were lost). Any other write error (a full disk under `> file`)
# is said once on stderr, then that stream is quiet the same way.


def say(text: str, stream: TextIO | None = None) -> bool:
    """Print ``text`` and a newline, flushed; False if it could not be written."""
    out = sys.stdout if stream is None else stream
    try:
        out.write(text + "\n")
        out.flush()
    except (OSError, ValueError) as exc:  # ValueError: the stream was closed
        _silence(out, exc)
        return False
    return True


def flush_output() -> None:
    """Flush stdout and stderr before the interpreter does, where a failure can be handled."""
    for out in (sys.stdout, sys.stderr):
        if out is not None:
            try:
                out.flush()
            except (OSError, ValueError) as exc:
                _silence(out, exc)


def _silence(out: TextIO, exc: Exception) -> None:
    try:
        fd = out.fileno()
        devnull = os.open(os.devnull, os.O_WRONLY)
    except (OSError, ValueError):
        return
    os.dup2(devnull, fd)  # what is still buffered drains there too
    os.close(devnull)
    if not isinstance(exc, BrokenPipeError) and out is not sys.stderr:
        say(f"simulate: cannot write to {getattr(out, 'name', fd)}: {exc}; its output is dropped", sys.stderr)


def print_summary(report: dict, stream: TextIO | None = None) -> None:
    say(summary_text(report), stream)


def print_outcome(report: dict, errors: list[str]) -> int:
    """The summary on stdout (errors on stderr); the run's exit status."""
    for line in errors:
        say(line, sys.stderr)
    print_summary(report)
    return report["exit_code"]
