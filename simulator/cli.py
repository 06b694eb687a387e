"""The command line: flags -> SimConfig -> a headless run or the dashboard -> exit status.

Exit status: 0 when the run stopped as asked, the ledger reconciles with nothing lost and every
broker exited cleanly; 1 when anything was lost or a process failed; 2 for a usage error.
"""

from __future__ import annotations

import sys
import time
from collections.abc import Sequence

from simulator.config import SimConfig, config_from_args
from simulator.report import banner, print_outcome, progress_line
from simulator.stats import Snapshot


def run_headless(config: SimConfig, early_signals: list[int] | None = None) -> int:
    from simulator.runner import Simulation, setup_logging

    sim = Simulation(config)
    setup_logging(config, sim.log_lines, console=True)
    sim.install_signal_handlers(early_signals)
    print(banner(config), flush=True)
    next_line = time.monotonic() + 1.0

    def progress(snapshot: Snapshot) -> None:
        nonlocal next_line
        now = time.monotonic()
        if now >= next_line:
            next_line = now + 1.0
            print(progress_line(snapshot), flush=True)

    sim.snapshots.listeners.append(progress)
    outcome = sim.run()
    sim.restore_signal_handlers()
    return print_outcome(*sim.finish_report(outcome))


def main(argv: Sequence[str] | None = None, early_signals: list[int] | None = None) -> int:
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
