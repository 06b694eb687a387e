"""``simulate.py report PATH [PATH2] [--plot OUT.png]``: a saved report read again.

With one report it prints the summary the run printed at its end. With two it compares them:
throughput, latency percentiles, fills, and whether the fills digests are equal, saying when
two runs of the same seed and order flow disagree (which the simulator promises never happens).
``--plot OUT.png`` draws throughput and latency over time from the reports' per-second series
(``simulator.report_plot``, with matplotlib, an optional extra).

Exit status: 0, or with two reports 1 when their digests differ (as ``cmp`` does); 2 for a file
that is not a report this simulator reads, or a bad flag: one line naming the file.
"""

from __future__ import annotations

import json
import os
import stat
import sys
from collections.abc import Sequence

from simulator.config import OneLineParser, output_problem
from simulator.report import say, summary_text
from simulator.report_schema import problem

PROG = "simulate.py report"
_MOST_BYTES = 256 << 20  # a report is kilobytes; a long series or 1,000 accounts a few megabytes
# the flags that make the order flow, so the fills: with the same values two runs must have
# the same digest (brokers, batch, rate, transport and timing change nothing); a run stopped by
# --duration places as many orders as time allowed, so only --orders runs are comparable
FLOW_FLAGS = (
    "seed",
    "symbols",
    "accounts",
    "market_ratio",
    "ioc_ratio",
    "cancel_ratio",
    "invalid_ratio",
    "orders",
)
_FILES = ("report", "log_file", "journal")
# the keys a version 2 report (before the series and the rest) has for its summary
_V2_KEYS = ("config", "stop_reason", "duration_s", "orders", "cancel_requests", "reject_reasons", "lost_ids",
            "reconciled", "fills", "throughput", "latency_us", "brokers", "exit_code")  # fmt: skip


def build_parser() -> OneLineParser:
    p = OneLineParser(
        prog=PROG,
        description="Print a saved --report as the run's summary, or compare two reports.",
        allow_abbrev=False,
    )
    p.add_argument("reports", metavar="PATH", nargs="+", help="a report (--report) of a run; two to compare")
    p.add_argument(
        "--plot",
        metavar="OUT.png",
        default=None,
        help="draw throughput and latency over time into this PNG file (needs matplotlib: "
        "pip install matplotlib)",
    )
    return p


def main(argv: Sequence[str]) -> int:
    parser = build_parser()
    args = parser.parse_args(list(argv))
    if len(args.reports) > 2:
        parser.error(f"at most two reports, got {len(args.reports)}")
    if args.plot is not None:
        why = output_problem(args.plot, whole=True)
        if why:
            parser.error(f"argument --plot: {why}")
        from simulator.report_plot import PlotUnavailable, check_available

        try:
            check_available()
        except PlotUnavailable as exc:
            parser.error(f"argument --plot: {exc}")
    reports = [load(parser, path) for path in args.reports]
    if len(reports) == 1:
        say(summary_text(reports[0]))
        code = 0
    else:
        text, same = compare(reports[0], reports[1], args.reports[0], args.reports[1])
        say(text)
        code = 0 if same else 1
    if args.plot is not None:
        from simulator.report_plot import plot

        try:
            plot(reports, args.reports, args.plot)
        except OSError as exc:
            say(f"{PROG}: cannot write {args.plot}: {exc}", sys.stderr)
            return 1
        say(f"plot: {args.plot}")
    return code


def load(parser: OneLineParser, path: str) -> dict:
    """The report in ``path``; ``parser.error`` (one line naming the file) if it is not one."""
    try:
        st = os.stat(path)
        if not stat.S_ISREG(st.st_mode):
            parser.error(f"{path} is not a regular file")
        if st.st_size > _MOST_BYTES:
            parser.error(f"{path} is larger than 256 MiB: not a report")
        with open(path, encoding="utf-8") as f:
            report = json.load(f)
    except OSError as exc:
        parser.error(f"cannot read {path}: {exc.strerror}")
    except UnicodeDecodeError:
        parser.error(f"{path} is not a report: not UTF-8 text")
    except json.JSONDecodeError as exc:
        parser.error(f"{path} is not a report: not JSON ({exc.msg} at line {exc.lineno})")
    why = _unreadable(report)
    if why:
        parser.error(f"{path} is not a report this simulator reads: {why}")
    return report


def _unreadable(report: object) -> str | None:
    if isinstance(report, dict) and report.get("version") == 2:
        missing = [k for k in _V2_KEYS if k not in report]
        return f"no {', '.join(missing[:5])} in it" if missing else None
    return problem(report)


# -- comparing ---------------------------------------------------------------------------------


def compare(a: dict, b: dict, name_a: str = "A", name_b: str = "B") -> tuple[str, bool]:
    """A table of two reports side by side, B over A where a ratio means something; and whether
    their fills digests are equal."""
    rows: list[tuple[str, str, str, str]] = []

    def figure(label: str, x: float, y: float, unit: str) -> None:
        ratio = f"{y / x:.2f}x" if x else "-"
        rows.append((label, f"{x:,.0f} {unit}", f"{y:,.0f} {unit}", ratio))

    ta, tb = a["throughput"], b["throughput"]
    figure("throughput", ta["orders_per_s"], tb["orders_per_s"], "orders/s")
    for key, label in (("p50", "ack p50"), ("p99", "ack p99"), ("p999", "ack p99.9"), ("max", "ack max")):
        figure(label, a["latency_us"]["ack"][key], b["latency_us"]["ack"][key], "us")
    figure("orders placed", a["orders"]["placed"], b["orders"]["placed"], "")
    figure("fills", a["fills"]["count"], b["fills"]["count"], "")
    same = a["fills"]["digest"] == b["fills"]["digest"]
    rows.append(
        ("digest", a["fills"]["digest"][:16], b["fills"]["digest"][:16], "equal" if same else "DIFFER")
    )
    rows.append(("reconciled", _yes(a["reconciled"]), _yes(b["reconciled"]), ""))
    headers = ("", f"A: {_short(name_a)}", f"B: {_short(name_b)}", "B/A")
    widths = [max(len(r[i]) for r in [headers, *rows]) for i in range(4)]
    lines = [
        "  ".join(cell.ljust(w) if i == 0 else cell.rjust(w) for i, (cell, w) in enumerate(zip(r, widths)))
        for r in [headers, *rows]
    ]
    lines += _config_lines(a["config"], b["config"])
    lines.append(_verdict(a, b, same))
    return "\n".join(line.rstrip() for line in lines), same


def same_flow(a: dict, b: dict) -> bool:
    """Whether two runs' configs make the same order flow, so must make the same fills."""
    return all(a.get(k) == b.get(k) for k in FLOW_FLAGS) and a.get("orders") is not None


def _verdict(a: dict, b: dict, same: bool) -> str:
    if same:
        return "fills: the same (equal digests)"
    if same_flow(a["config"], b["config"]):
        return (
            "fills: DIFFERENT although seed and order flow are the same: that breaks the simulator's "
            "promise (the fills depend only on the seed and the flags)"
        )
    return "fills: different (the seed or the order flow differ, so they may)"


def _config_lines(a: dict, b: dict) -> list[str]:
    # where a run wrote its files says nothing about it
    differ = [k for k in sorted(set(a) | set(b)) if a.get(k) != b.get(k) and k not in _FILES]
    if not differ:
        return ["config: the same flags"]
    shown = []
    for k in differ[:8]:
        shown.append(f"{k} {_value(a.get(k))} -> {_value(b.get(k))}")
    more = f" and {len(differ) - 8} more" if len(differ) > 8 else ""
    return [f"config: {', '.join(shown)}{more}"]


def _value(v: object) -> str:
    if isinstance(v, list):
        return f"{len(v)} symbols" if len(v) > 4 else ",".join(map(str, v))
    return "none" if v is None else f"{v:g}" if isinstance(v, float) else str(v)


def _yes(flag: bool) -> str:
    return "yes" if flag else "NO"


def _short(path: str) -> str:
    return path if len(path) <= 30 else "..." + path[-27:]
