"""A headless run with its HTTP API on, for test_http.py (a stand-in until simulate.py has --http).

    python tests/integration/http_run.py [--serve HOST:PORT] [--control] [--linger S]
                                         [--no-check] SIMULATE-FLAGS...

It runs as ``simulate.py --headless`` does (stop signals, progress lines, summary, report, exit
status), checks the address first as the command line will (a busy port: one line, exit 2),
and prints the API's start lines, with the real URL, once the server listens. ``--no-check``
skips the check, so a test can take the port in between.
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))

from simulator import processes  # noqa: E402


def main(argv: list[str]) -> int:
    early = processes.early_signals()
    ap = argparse.ArgumentParser()
    ap.add_argument("--serve", default="127.0.0.1:0")
    ap.add_argument("--control", action="store_true")
    ap.add_argument("--linger", type=float, default=0.0)
    ap.add_argument("--no-check", action="store_true")
    ours, flags = ap.parse_known_args(argv)

    from simulator.bus import ORDER
    from simulator.config import config_from_args
    from simulator.http_server import HttpOptions, check_bind, parse_address, start_lines
    from simulator.report import banner, print_outcome, progress_line
    from simulator.runner import Simulation, setup_logging

    config = config_from_args(flags)
    host, port = parse_address(ours.serve)
    problem = None if ours.no_check else check_bind(host, port)
    if problem:
        print(f"simulate.py: error: argument --http: {problem}", file=sys.stderr)
        return 2
    sim = Simulation(config, http=HttpOptions(host, port, control=ours.control, linger_s=ours.linger))
    server = sim.http
    assert server is not None
    setup_logging(config, sim.log_lines, console=True)
    sim.install_signal_handlers(early)
    print(banner(config), flush=True)

    def say_where() -> None:
        if server.running:
            print("\n".join(start_lines(server.url, host, server.token)), flush=True)

    sim.bus.subscribe("start", say_where, priority=ORDER["start", "http"] + 1)
    next_line = time.monotonic() + 1.0

    def progress(snapshot) -> None:
        nonlocal next_line
        if time.monotonic() >= next_line:
            next_line = time.monotonic() + 1.0
            print(progress_line(snapshot), flush=True)

    sim.snapshots.listeners.append(progress)
    outcome = sim.run()
    sim.restore_signal_handlers()
    code = print_outcome(*sim.finish_report(outcome))
    processes.ignore_stop_signals()
    return code


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
