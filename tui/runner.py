"""Runs the simulator under the dashboard: brokers first, Textual on the main thread, the bank's
bus on a thread of its own, then the same summary and exit status as a headless run.

Order matters (see PITFALLS): brokers are spawned before ``App.run`` takes the terminal (Textual
swaps stderr for an object whose ``fileno()`` is -1, which breaks spawning); the bank's bus ticks
on a plain thread that this module joins itself; SIGINT, SIGTERM and SIGHUP only set the stop
flag, and whatever ends the run (a key, a signal, ``--duration``) closes the app (it watches
``wait_stopped``), so the terminal is always restored before the summary is printed.
"""
from __future__ import annotations

import sys
import threading

from simulator.cli import banner, finish
from simulator.config import SimConfig
from simulator.runner import Simulation, setup_logging


def run_dashboard(config: SimConfig, early_signals: list | None = None) -> int:
    from tui.app import DashboardApp

    sim = Simulation(config)
    setup_logging(config, sim.log_lines, console=False)
    sim.install_signal_handlers(early_signals)
    print(banner(config) + " -- starting brokers...", flush=True)
    sim.start()
    outcome_box: list = []
    bank_thread = threading.Thread(
        target=lambda: outcome_box.append(sim.run(started=True)), name="bank-bus"
    )
    bank_thread.start()
    app = DashboardApp(sim, ui_hz=config.ui_hz, stop_timeout=config.stop_timeout + 30)
    # the bank thread and the UI share the GIL: a short switch interval keeps a redraw from
    # holding an order back for the default 5 ms
    switch_interval = sys.getswitchinterval()
    sys.setswitchinterval(0.001)
    try:
        if not sim.stop:  # a Ctrl-C while the brokers started: no dashboard to show
            app.run()  # returns when the user quits or the run ends by itself
    finally:
        sys.setswitchinterval(switch_interval)
        sim.request_stop("dashboard closed")
        bank_thread.join()
        sim.restore_signal_handlers()
    outcome = outcome_box[0] if outcome_box else sim.outcome()
    return finish(config, sim, outcome)
