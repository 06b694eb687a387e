"""A sweep's results: a row per run, the CSV, the summary table and the digest check.

A row holds the run's varied values and seed, its exit status, and from its report the figures
people compare (throughput, ack latency percentiles, fills, digest). The digest check groups
the rows by seed and order flow (``report_cli.FLOW_FLAGS``: what makes the fills; brokers,
batch, rate and timing do not): every group must have one digest.
"""

from __future__ import annotations

import csv
import io
import json
import statistics
from collections import defaultdict
from dataclasses import dataclass, field
from pathlib import Path

from simulator.report import write_file_whole
from simulator.report_cli import FLOW_FLAGS
from simulator.sweep_plan import Run

FIGURES = ("orders_per_s", "ack_p50_us", "ack_p99_us", "ack_p999_us", "ack_max_us", "placed", "fills")


@dataclass(frozen=True)
class Row:
    run: Run
    status: str  # ok, failed, interrupted, timeout
    exit_code: int
    seconds: float
    figures: dict[str, float] = field(default_factory=dict)
    digest: str = ""
    reconciled: bool = False
    stop_reason: str = ""
    error: str = ""
    flow: tuple = ()  # the order flow's flags, from the run's resolved config

    def verdict(self) -> str:
        if not self.figures:
            return f"{self.status.upper()}, exit {self.exit_code}, no report" + (
                f": {self.error}" if self.error else ""
            )
        f = self.figures
        said = (
            f"{f['orders_per_s']:,.0f} orders/s, ack p99 {f['ack_p99_us']:,.0f} us, "
            f"digest {self.digest[:16]}, exit {self.exit_code} in {self.seconds:.1f} s"
        )
        return (
            said
            if self.status == "ok"
            else f"{self.status.upper()}: {said}" + (f" ({self.error})" if self.error else "")
        )


def row_of(
    run: Run, exit_code: int, seconds: float, report_path: Path, error: str, stopped: str | None
) -> Row:
    """The row of a finished run from its exit status and its report (if it wrote one)."""
    status = stopped or ("ok" if exit_code == 0 else "failed")
    try:
        report = json.loads(report_path.read_text())
    except (OSError, ValueError):
        return Row(run, status, exit_code, seconds, error=error or "no report written")
    lat = report["latency_us"]["ack"]
    figures = {
        "orders_per_s": report["throughput"]["orders_per_s"],
        "ack_p50_us": lat["p50"],
        "ack_p99_us": lat["p99"],
        "ack_p999_us": lat["p999"],
        "ack_max_us": lat["max"],
        "placed": report["orders"]["placed"],
        "fills": report["fills"]["count"],
    }
    config = report["config"]
    flow = tuple((k, json.dumps(config.get(k))) for k in FLOW_FLAGS)
    return Row(
        run, status, exit_code, seconds, figures, report["fills"]["digest"], bool(report["reconciled"]),
        report["stop_reason"], error if exit_code else "", flow if config.get("orders") else (),
    )  # fmt: skip


def csv_text(rows: list[Row], varied: list[str]) -> str:
    out = io.StringIO()
    writer = csv.writer(out)
    writer.writerow(["run", *varied, "seed", "status", "exit_code", *FIGURES, "digest", "reconciled",
                     "stop_reason", "seconds", "flags", "error"])  # fmt: skip
    for r in rows:
        values = dict(r.run.values)
        writer.writerow([
            r.run.number, *(values[v] for v in varied), r.run.seed, r.status, r.exit_code,
            *(r.figures.get(k, "") for k in FIGURES), r.digest, r.reconciled if r.figures else "",
            r.stop_reason, f"{r.seconds:.3f}", " ".join(r.run.argv), r.error,
        ])  # fmt: skip
    return out.getvalue()


def write_csv(path: str, rows: list[Row], varied: list[str]) -> None:
    text = csv_text(rows, varied).encode()
    write_file_whole(path, lambda f: f.write(text))


def summary(rows: list[Row], varied: list[str]) -> str:
    """A line per combination of the varied flags: its runs, how many were ok, and the median
    (min-max) of throughput and ack p99 over its seeds."""
    groups: dict[tuple, list[Row]] = defaultdict(list)
    for r in rows:
        groups[r.run.values].append(r)
    head = [*varied, "runs", "ok", "orders/s median (min-max)", "ack p99 us median"]
    table = [head]
    for values, group in groups.items():
        ok = [r for r in group if r.status == "ok" and r.figures]
        speeds = [r.figures["orders_per_s"] for r in ok]
        p99 = [r.figures["ack_p99_us"] for r in ok]
        table.append([
            *(v for _k, v in values), str(len(group)), str(len(ok)),
            f"{statistics.median(speeds):,.0f} ({min(speeds):,.0f}-{max(speeds):,.0f})" if speeds else "-",
            f"{statistics.median(p99):,.0f}" if p99 else "-",
        ])  # fmt: skip
    widths = [max(len(line[i]) for line in table) for i in range(len(head))]
    left = len(varied)  # the varied values read left-aligned, the figures right-aligned
    lines = [
        "  ".join(c.ljust(w) if i < left else c.rjust(w) for i, (c, w) in enumerate(zip(line, widths)))
        for line in table
    ]
    failed = [r for r in rows if r.status != "ok"]
    for r in failed:
        lines.append(f"run {r.run.number} ({r.run.label}): {r.verdict()}")
    return "\n".join(line.rstrip() for line in lines)


def digest_check(rows: list[Row]) -> tuple[str, bool]:
    """Whether every run of one seed and order flow has one digest: (what to say, True if so)."""
    groups: dict[tuple, dict[str, list[int]]] = defaultdict(lambda: defaultdict(list))
    for r in rows:
        if r.figures and r.flow and r.status in ("ok", "failed"):
            groups[r.flow][r.digest].append(r.run.number)
    if not groups:
        return (
            "digests: none compared (a run stopped by --duration or a signal places as many orders "
            "as time allowed)",
            True,
        )
    bad = {flow: digests for flow, digests in groups.items() if len(digests) > 1}
    if bad:
        parts = []
        for digests in bad.values():
            parts.append("; ".join(f"runs {','.join(map(str, n))}: {d[:16]}" for d, n in digests.items()))
        return f"digests: DIFFER for the same seed and order flow: {' | '.join(parts)}", False
    runs = sum(len(n) for digests in groups.values() for n in digests.values())
    return (
        f"digests: the same for every run of one seed and order flow ({len(groups)} such "
        f"group{'s' * (len(groups) != 1)}, {runs} runs): the varied flags changed the timing, not the fills",
        True,
    )
