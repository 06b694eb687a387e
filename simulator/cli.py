"""The command line: flags -> SimConfig -> a headless run or the dashboard -> exit status.

Exit status: 0 when the run stopped as asked, the ledger reconciles with nothing lost and every
broker exited cleanly; 1 when anything was lost or a process failed; 2 for a usage error.
"""
from __future__ import annotations

import dataclasses
import sys
import time
from typing import Sequence

from simulator.config import SimConfig, config_from_args
from simulator.journal import JournalError
from simulator.report import build_report, print_summary, progress_line, write_report
from simulator.runner import Outcome, Simulation, setup_logging


def banner(config: SimConfig) -> str:
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


def finish_report(config: SimConfig, sim: Simulation, outcome: Outcome) -> tuple[dict, list[str]]:
    """The finished run's report, written to ``--report`` and the journal; and any errors."""
    errors = []
    report = build_report(config, outcome, sim.bank.run_seconds(), sim.bank.ledger.fills_digest(),
                          sim.bank.drain_s)
    if sim.journal is not None:
        report["journal"] = {"path": config.journal, **dataclasses.asdict(sim.journal.stats())}
        try:
            sim.journal.write_report(report)
        except JournalError as exc:
            errors.append(f"simulate: journal: {exc}")
            report["exit_code"] = 1
        if sim.journal.failed:
            report["exit_code"] = 1
    if config.report:
        try:
            write_report(config.report, report)
        except OSError as exc:
            errors.append(f"simulate: cannot write report {config.report}: {exc}")
            report["exit_code"] = 1
    return report, errors


def print_outcome(report: dict, errors: list[str]) -> int:
    """The summary on stdout (errors on stderr); the run's exit status."""
    for line in errors:
        print(line, file=sys.stderr)
    print_summary(report)
    return report["exit_code"]


def run_headless(config: SimConfig, early_signals: list | None = None) -> int:
    sim = Simulation(config)
    setup_logging(config, sim.log_lines, console=True)
    sim.install_signal_handlers(early_signals)
    print(banner(config), flush=True)
    next_line = [time.monotonic() + 1.0]

    def progress(snapshot):
        now = time.monotonic()
        if now >= next_line[0]:
            next_line[0] = now + 1.0
            print(progress_line(snapshot), flush=True)

    sim.bank.snapshot_listeners.append(progress)
    outcome = sim.run()
    sim.restore_signal_handlers()
    return print_outcome(*finish_report(config, sim, outcome))


def main(argv: Sequence[str] | None = None, early_signals: list | None = None) -> int:
    """``early_signals``: stop signals that arrived before the run could handle them."""
    args = list(sys.argv[1:] if argv is None else argv)
    if args[:1] == ["replay"]:
        from simulator.replay import main as replay_main

        return replay_main(args[1:])
    config = config_from_args(args)
    if config.headless:
        return run_headless(config, early_signals)
    from tui.runner import run_dashboard  # Textual is only imported when a dashboard is wanted

    return run_dashboard(config, early_signals)
