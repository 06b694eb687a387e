"""Runs the simulator under the dashboard (the bank in a process of its own, Textual here), or
the dashboard on a run started elsewhere (``run_attached``: ``simulate.py dashboard --attach``).

The bank process (``simulator.remote``) places the orders and starts the brokers; this process
only draws: Textual owns its main thread, reads Snapshots from the bank's pipe and sends the
keys' commands back. Apart, they no longer share one interpreter lock, so drawing the screen
costs the order flow nothing, and a broker restart during the run spawns from the bank process,
never from under Textual (whose stderr has no file descriptor).

SIGINT, SIGTERM and SIGHUP here only set the stop flag; whatever ends the run (a key, a signal,
``--duration``) closes the app, so the terminal is restored before the summary is printed, and
the exit status follows the same rules as headless. With --http the run's API is served from
the bank process; where it is (and the control token) is printed before the dashboard starts.

Attached, a stop signal (or q) only closes the view: the run goes on. Under textual-serve (the
web driver: stdout carries the driver's packets) nothing is printed; on a terminal the view
says what it left behind: the run's summary if it ended, else that it goes on.
"""

from __future__ import annotations

import dataclasses
import logging
import os
import sys
import threading

from simulator import http_flags
from simulator.attach import AttachedRun, AttachError, AttachFlags
from simulator.config import SimConfig
from simulator.processes import StopSignals
from simulator.remote import RemoteSimulation
from simulator.report import banner, print_outcome, summary_text

ATTACHED_UI_HZ = 10.0


def run_dashboard(config: SimConfig, early_signals: list[int] | None = None) -> int:
    from tui.app import DashboardApp

    print(banner(config) + " -- starting...", flush=True)
    http = http_flags.options(config)
    if http is not None:
        if http.port == 0:  # the URL is printed now, before the bank process binds it
            http = dataclasses.replace(http, port=http_flags.free_port(http.host))
        url = http_flags.url_of(http.host, http.port)
        print("\n".join(http_flags.start_lines(url, http.host, http.token)), flush=True)
    remote = RemoteSimulation(config, http=http)
    # The dashboard keeps the normal priority. At nice 5 it cost the order flow no less once
    # the bank and brokers fill both cores (dashboard/headless 0.902 against 0.916 at nice 0,
    # --rate 0 on 2 cores), but it waited its turn: ']' took 138 ms at p95 against 81.
    signalled = threading.Event()  # a stop signal closes the dashboard too: no report to read

    def stop_by_signal(reason: str) -> None:
        signalled.set()
        remote.request_stop(reason)

    signals = StopSignals(stop_by_signal).install(early_signals)
    app = DashboardApp(
        remote,
        ui_hz=config.ui_hz,
        stop_timeout=config.stop_timeout + 30,
        exit_on_finish=config.exit_on_finish,
        signalled=signalled,
    )
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


def under_web_driver() -> bool:
    """True when textual-serve runs this dashboard (its web driver owns stdout)."""
    return "web_driver" in os.environ.get("TEXTUAL_DRIVER", "")


def run_attached(flags: AttachFlags, early_signals: list[int] | None = None) -> int:
    """The dashboard on the run at ``flags.target``: 0 when the view was closed while the run
    goes on, the run's own exit status once it ended and reported, 1 if it was lost."""
    from tui.app import DashboardApp

    web = under_web_driver()
    if not web and not (_is_terminal(sys.stdin) and _is_terminal(sys.stdout)):
        print(
            "simulate.py dashboard: error: the dashboard needs a terminal (stdin and stdout); "
            "for a browser, see simulate.py serve",
            file=sys.stderr,
        )
        return 2
    attach_log = logging.getLogger("attach")  # nothing may write to the screen Textual owns
    attach_log.addHandler(logging.NullHandler())
    attach_log.propagate = False
    run = AttachedRun(flags.target, flags.token, watch_parent=web)
    try:
        run.connect()
    except AttachError as exc:
        print(f"simulate: {exc}", file=sys.stderr)
        return exc.status
    signals = StopSignals(run.detach).install(early_signals)
    app = DashboardApp(run, ui_hz=ATTACHED_UI_HZ, attached=run)
    try:
        if not early_signals:
            app.run()  # returns when the user quits (or a signal closes the view)
    finally:
        final = run.close()
        signals.restore()
    if web:
        return 0 if final is None or final[0] is None else int(final[0].get("exit_code", 1))
    for line in run.refusals:
        print(f"simulate: the run did not accept {line}", file=sys.stderr)
    if final is None:
        print(f"simulate: detached from {run.where}; the run goes on")
        return 0
    report, error = final
    if report is None:
        print(f"simulate: {error}", file=sys.stderr)
        return 1
    print(summary_text(report))
    return int(report.get("exit_code", 1))


def _is_terminal(stream: object) -> bool:
    try:
        return bool(stream is not None and stream.isatty())  # type: ignore[attr-defined]
    except (AttributeError, ValueError, OSError):
        return False
