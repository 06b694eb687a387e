"""``simulate.py broker --amqp-url URL``: a broker for runs started elsewhere with
``--transport amqp --external-brokers``.

It waits on the shared offers queue for a free shard of any run on that vhost (a standby
while none is free), serves it to the end of the run, and exits 0 (``--stay``: waits for the
next shard instead). When its bank goes (kill -9 included) it notices within about a second,
gives the shard back and exits 1 (``--stay``: waits again). SIGINT, SIGTERM or SIGHUP make it
leave: a shard it holds goes back to the queue for a standby, with nothing lost (the bank
restores the books and the queue redelivers what was not answered). Its log goes to stderr:
it is a process of its own, not the bank's child. Its process title hides the URL.
"""

from __future__ import annotations

import argparse
import logging
import sys
from collections.abc import Sequence

from simulator import amqp_url, processes
from simulator.config import LOG_LEVELS, OneLineParser


def build_parser() -> argparse.ArgumentParser:
    p = OneLineParser(
        prog="simulate.py broker",
        description="A broker process for runs with --transport amqp --external-brokers: takes a "
        "free shard of a run, or waits as a standby until one is free.",
        allow_abbrev=False,
    )
    p.add_argument(
        "--amqp-url",
        metavar="URL",
        default=None,
        help=f"RabbitMQ to use (default: ${amqp_url.ENV}, which keeps the password out of ps)",
    )
    p.add_argument(
        "--stay",
        action="store_true",
        help="after a run (or when its bank is gone), wait for the next shard instead of exiting",
    )
    p.add_argument(
        "--log-level",
        type=str.upper,
        choices=LOG_LEVELS,
        default="INFO",
        help="least severe log record shown on stderr (default: INFO)",
    )
    return p


def broker_main(argv: Sequence[str], early_signals: list[int] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(list(argv))
    url = amqp_url.from_env_or(args.amqp_url)
    if not url:
        parser.error(f"argument --amqp-url: give --amqp-url URL or ${amqp_url.ENV}")
    processes.set_title("broker (amqp)")  # before anything else: ps shows no password
    problem = amqp_url.server_problem(url)
    if problem:
        parser.error(problem)
    logging.basicConfig(
        level=args.log_level,
        stream=sys.stderr,
        format="%(asctime)s broker %(levelname)s %(name)s: %(message)s",
    )
    logging.getLogger("bus").setLevel(logging.WARNING)
    from simulator.amqp_broker import run_broker
    from simulator.bank import StopRequest

    stop = StopRequest()
    signals = processes.StopSignals(stop.request).install(early_signals)
    try:
        return run_broker(url, offer=None, stay=args.stay, stop_flag=stop)
    finally:
        signals.restore()
