"""The command line: flags -> SimConfig -> a headless run or the dashboard -> exit status.

Besides a run: ``broker`` (a broker for AMQP runs started elsewhere: simulator.broker_cli),
``replay`` (simulator.replay), ``journal expand`` (simulator.journal_expand),
``dashboard --attach URL`` (the dashboard on a run
started elsewhere with --http: simulator.attach, tui.runner) and ``serve`` (that dashboard in
a browser: simulator.http_serve).

Exit status: 0 when the run stopped as asked, the ledger reconciles with nothing lost and every
broker exited cleanly; 1 when anything was lost or a process failed; 2 for a usage error. A
reader of stdout that goes away (``| head``) changes none of it: the run finishes, writes its
report, and exits with its own status (``report.say``).
"""

from __future__ import annotations

import logging
import sys
import time
from collections.abc import Sequence

from simulator import http_flags, processes
from simulator.bus import ORDER
from simulator.config import SimConfig, parse_flags
from simulator.report import banner, print_outcome, progress_line, say
from simulator.stats import Snapshot


def run_headless(
    config: SimConfig, early_signals: list[int] | None = None, *, stderr_level: str | None = None
) -> int:
    """``stderr_level``: show log records from this level on stderr (``--log-level`` given);
    otherwise stderr shows warnings and errors, and the progress lines tell the rest."""
    from simulator.runner import Simulation, setup_logging

    sim = Simulation(config, http=http_flags.options(config))
    setup_logging(config, sim.log_lines, console=True)
    if stderr_level is not None:
        _stderr_shows(stderr_level)
    sim.install_signal_handlers(early_signals)
    say(banner(config, processes.ignored_stop_signals()))
    server = sim.http
    if server is not None:

        def say_where() -> None:
            # once the server listens: the real port (--http HOST:0), and only if it does
            if server.running:
                say("\n".join(http_flags.start_lines(server.url, server.host, server.token)))

        sim.bus.subscribe("start", say_where, priority=ORDER["start", "http"] + 1)
    next_line = time.monotonic() + 1.0

    def progress(snapshot: Snapshot) -> None:
        # a snapshot listener runs inside the bank's loop: it must never raise (say() does not)
        nonlocal next_line
        now = time.monotonic()
        if now >= next_line:
            next_line = now + 1.0
            say(progress_line(snapshot))

    sim.snapshots.listeners.append(progress)
    outcome = sim.run()
    sim.restore_signal_handlers()
    return print_outcome(*sim.finish_report(outcome))


def _stderr_shows(level: str) -> None:
    """Lower the bank's stderr handler (``runner.setup_logging`` keeps it at WARNING) to
    ``level``; the log file's handler is left as it is."""
    for handler in logging.getLogger().handlers:
        if isinstance(handler, logging.StreamHandler) and not isinstance(handler, logging.FileHandler):
            if handler.stream is sys.stderr:
                handler.setLevel(level)


def main(argv: Sequence[str] | None = None, early_signals: list[int] | None = None) -> int:
    """``early_signals``: stop signals that arrived before the run could handle them."""
    args = list(sys.argv[1:] if argv is None else argv)
    if args[:1] == ["replay"]:
        from simulator.replay import main as replay_main

        return replay_main(args[1:], early_signals=early_signals)  # a signal during its imports counts
    if args[:1] == ["journal"]:
        from simulator.journal_expand import main as journal_main

        return journal_main(args[1:])
    if args[:1] == ["dashboard"]:
        from simulator.attach import parse_attach_flags
        from tui.runner import run_attached

        return run_attached(parse_attach_flags(args[1:]), early_signals)
    if args[:1] == ["broker"]:
        from simulator.broker_cli import broker_main

        return broker_main(args[1:], early_signals)
    if any(a == "--amqp-url" or a.startswith("--amqp-url=") for a in args):
        processes.set_title("bank (amqp)")  # the URL's password must not show in ps
    if args[:1] == ["serve"]:
        from simulator.http_serve import serve_main

        return serve_main(args[1:], early_signals)
    if args[:1] == ["sweep"]:
        from simulator.sweep import main as sweep_main

        return sweep_main(args[1:], early_signals)
    if args[:1] == ["report"]:
        from simulator.report_cli import main as report_main

        return report_main(args[1:])
    if args[:1] == ["presets"]:
        from simulator.config_print import presets_main

        return presets_main(args[1:])
    config, given = parse_flags(args)
    if "print_config" in given:
        from simulator.config import build_parser
        from simulator.config_print import config_toml

        say(config_toml(config, build_parser(), given))
        return 0
    if config.headless:
        return run_headless(
            config, early_signals, stderr_level=config.log_level if "log_level" in given else None
        )
    from tui.runner import run_dashboard  # Textual is only imported when a dashboard is wanted

    return run_dashboard(config, early_signals)
