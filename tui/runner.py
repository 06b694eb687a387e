"""Runs the simulator under the dashboard: the bank in a process of its own, Textual here.

The bank process (``simulator.remote``) places the orders and starts the brokers; this process
only draws: Textual owns its main thread, reads Snapshots from the bank's pipe and sends the
keys' commands back. Apart, they no longer share one interpreter lock, so drawing the screen
costs the order flow nothing, and a broker restart during the run spawns from the bank process,
never from under Textual (whose stderr has no file descriptor).

SIGINT, SIGTERM and SIGHUP here only set the stop flag; whatever ends the run (a key, a signal,
``--duration``) closes the app, so the terminal is restored before the summary is printed, and
the exit status follows the same rules as headless.
"""

from __future__ import annotations

import sys

from simulator.config import SimConfig
from simulator.processes import StopSignals
from simulator.remote import RemoteSimulation
from simulator.report import banner, print_outcome


def run_dashboard(config: SimConfig, early_signals: list[int] | None = None) -> int:
    from tui.app import DashboardApp

    print(banner(config) + " -- starting...", flush=True)
    remote = RemoteSimulation(config)
    # The dashboard keeps the normal priority. At nice 5 it cost the order flow no less once
    # the bank and brokers fill both cores (dashboard/headless 0.902 against 0.916 at nice 0,
    # --rate 0 on 2 cores), but it waited its turn: ']' took 138 ms at p95 against 81.
    signals = StopSignals(remote.request_stop).install(early_signals)
    app = DashboardApp(remote, ui_hz=config.ui_hz, stop_timeout=config.stop_timeout + 30)
    try:
        if not early_signals:
            app.run()  # returns when the user quits or the run ends by itself
    finally:
        result = remote.finish(timeout=config.stop_timeout + 60)
        signals.restore()
    if result is None:
        print("simulate: the bank process ended without a report (see --log-file)", file=sys.stderr)
        return 1
    return print_outcome(*result)
