"""Command-line flags and the frozen SimConfig they resolve to.

Every flag is checked here, before any process starts: a bad value ends the program with one
line naming the flag and exit status 2. The resolved SimConfig (seed included) is what the rest
of the simulator reads and what the report prints, so any run can be repeated exactly.
"""

from __future__ import annotations

import argparse
import dataclasses
import math
import random
import re
import sys
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import NoReturn

DEFAULT_SYMBOLS = ("AAPL", "MSFT", "NVDA", "TSLA", "AMZN", "GOOG", "META", "JPM")
_TICKER = re.compile(r"^[A-Z][A-Z0-9.]{0,7}$")
LOG_LEVELS = ("DEBUG", "INFO", "WARNING", "ERROR")
EXIT_USAGE = 2


class UsageError(Exception):
    """A flag value that cannot be used; the message names the flag."""


@dataclass(frozen=True, slots=True)
class SimConfig:
    brokers: int = 2
    symbols: tuple[str, ...] = DEFAULT_SYMBOLS
    rate: float = 5000.0  # orders/s; 0 = as fast as possible
    orders: int | None = None  # stop after this many orders
    duration: float | None = None  # stop after this many seconds
    seed: int = 0
    batch: int = 256  # most orders per message on a broker's inbox pipe
    accounts: int = 100
    market_ratio: float = 0.05
    ioc_ratio: float = 0.10
    cancel_ratio: float = 0.10
    invalid_ratio: float = 0.001
    headless: bool = False
    report: str | None = None
    log_file: str | None = None
    log_level: str = "INFO"
    ui_hz: float = 10.0
    # bound of each broker inbox, in batches: deep enough that a broker still has work while
    # the bank books a big batch of events (16 left both cores a fifth idle at --rate 0)
    inbox_batches: int = 64
    stop_timeout: float = 10.0  # how long brokers get to answer every order after a stop
    max_restarts: int = 3  # per broker; past it the run stops and says why
    hang_timeout: float = 2.0  # a broker silent this long is treated as dead
    kill_broker_every: float | None = None  # fault drill: kill -9 a random broker every S s
    journal: str | None = None  # SQLite journal of every order and result

    def to_dict(self) -> dict:
        d = dataclasses.asdict(self)
        d["symbols"] = list(self.symbols)
        return d


def _int_at_least(low: int) -> Callable[[str], int]:
    def parse(text: str) -> int:
        try:
            value = int(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"expected a whole number, got {text!r}") from None
        if value < low:
            raise argparse.ArgumentTypeError(f"must be >= {low}, got {value}")
        return value

    return parse


def _float_at_least(low: float, *, above: bool = False) -> Callable[[str], float]:
    def parse(text: str) -> float:
        try:
            value = float(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"expected a number, got {text!r}") from None
        if not math.isfinite(value) or value < low or (above and value == low):
            raise argparse.ArgumentTypeError(f"must be {'>' if above else '>='} {low:g}, got {text!r}")
        return value

    return parse


def _ratio(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a number from 0 to 1, got {text!r}") from None
    if not 0.0 <= value <= 1.0:
        raise argparse.ArgumentTypeError(f"must be from 0 to 1, got {text!r}")
    return value


def generated_symbols(count: int) -> tuple[str, ...]:
    """``count`` distinct 4-letter tickers, the same for the same count."""
    names = []
    for i in range(count):
        letters = []
        n = i * 7919 + 17  # spread the names so they do not all start with 'AAA'
        for _ in range(4):
            n, r = divmod(n, 26)
            letters.append(chr(65 + r))
        names.append("".join(reversed(letters)))
    if len(set(names)) != count:  # 7919 is prime to 26**4, so this cannot happen below 456976
        raise argparse.ArgumentTypeError(f"cannot make {count} distinct tickers")
    return tuple(names)


def parse_symbols(text: str) -> tuple[str, ...]:
    text = text.strip()
    if text.isdigit():
        count = int(text)
        if not 1 <= count <= 10000:
            raise argparse.ArgumentTypeError(f"a symbol count must be from 1 to 10000, got {count}")
        return generated_symbols(count)
    names = tuple(part.strip().upper() for part in text.split(","))
    for name in names:
        if not _TICKER.match(name):
            raise argparse.ArgumentTypeError(
                f"{name!r} is not a ticker (1-8 letters, digits or dots, starting with a letter)"
            )
    if len(set(names)) != len(names):
        raise argparse.ArgumentTypeError(f"a symbol is listed twice in {text!r}")
    return names


class _HelpFormatter(argparse.ArgumentDefaultsHelpFormatter):
    """Shows a flag's default only when it has one worth showing."""

    def _get_help_string(self, action: argparse.Action) -> str | None:
        if action.default in (None, False) or "default" in (action.help or ""):
            return action.help
        if isinstance(action.default, tuple):
            return f"{action.help} (default: {','.join(action.default)})"
        return super()._get_help_string(action)


class _OneLineParser(argparse.ArgumentParser):
    """argparse that reports a usage error as a single line and exits 2."""

    def error(self, message: str) -> NoReturn:
        self.exit(EXIT_USAGE, f"{self.prog}: error: {message}\n")


def build_parser(prog: str = "simulate.py") -> argparse.ArgumentParser:
    p = _OneLineParser(
        prog=prog,
        description="A bank places stock orders; broker processes match them and send acks and "
        "fills back over pipes. Opens a live dashboard in a terminal, or runs headless.",
        formatter_class=_HelpFormatter,
    )
    d = SimConfig()
    p.add_argument(
        "--brokers",
        metavar="N",
        type=_int_at_least(1),
        default=d.brokers,
        help="broker processes; each symbol belongs to exactly one",
    )
    p.add_argument(
        "--symbols",
        type=parse_symbols,
        default=d.symbols,
        metavar="SPEC",
        help="comma list of tickers, or a count N of generated 4-letter tickers",
    )
    p.add_argument(
        "--rate",
        metavar="R",
        type=_float_at_least(0),
        default=d.rate,
        help="orders per second; 0 = as fast as possible",
    )
    p.add_argument(
        "--orders",
        metavar="N",
        type=_int_at_least(1),
        default=None,
        help="stop after placing this many orders",
    )
    p.add_argument(
        "--duration",
        type=_float_at_least(0, above=True),
        default=None,
        metavar="S",
        help="stop after this many seconds",
    )
    p.add_argument(
        "--seed",
        metavar="S",
        type=_int_at_least(0),
        default=None,
        help="seed of the order flow (default: random, always printed)",
    )
    p.add_argument(
        "--batch",
        metavar="N",
        type=_int_at_least(1),
        default=d.batch,
        help="most orders per message to a broker",
    )
    p.add_argument(
        "--accounts",
        metavar="N",
        type=_int_at_least(1),
        default=d.accounts,
        help="client accounts of the bank",
    )
    p.add_argument(
        "--market-ratio",
        metavar="X",
        type=_ratio,
        default=d.market_ratio,
        help="share of new orders that are MARKET orders",
    )
    p.add_argument(
        "--ioc-ratio",
        metavar="X",
        type=_ratio,
        default=d.ioc_ratio,
        help="share of limit orders that are immediate-or-cancel",
    )
    p.add_argument(
        "--cancel-ratio",
        metavar="X",
        type=_ratio,
        default=d.cancel_ratio,
        help="share of messages (expiries aside) that cancel an earlier DAY order; "
        "at most about 0.46 with the default ratios",
    )
    p.add_argument(
        "--invalid-ratio",
        metavar="X",
        type=_ratio,
        default=d.invalid_ratio,
        help="share of orders made invalid on purpose (to show rejects)",
    )
    p.add_argument(
        "--headless",
        action="store_true",
        help="no dashboard: progress lines and a summary (automatic without a terminal)",
    )
    p.add_argument("--report", metavar="PATH", default=None, help="write a JSON report here")
    p.add_argument(
        "--log-file", metavar="PATH", default=None, help="also write every process's log records here"
    )
    p.add_argument(
        "--log-level",
        type=str.upper,
        choices=LOG_LEVELS,
        default=d.log_level,
        help="least severe log record kept",
    )
    p.add_argument(
        "--ui-hz",
        metavar="HZ",
        type=_float_at_least(0, above=True),
        default=d.ui_hz,
        help="dashboard refreshes per second",
    )
    p.add_argument(
        "--stop-timeout",
        type=_float_at_least(0, above=True),
        default=d.stop_timeout,
        metavar="S",
        help="how long brokers get to answer every order when stopping",
    )
    p.add_argument(
        "--journal",
        metavar="PATH",
        default=None,
        help="write every order and result to this SQLite file (see 'replay')",
    )
    p.add_argument(
        "--max-restarts",
        type=_int_at_least(0),
        default=d.max_restarts,
        metavar="N",
        help="restarts allowed per broker before the run stops",
    )
    p.add_argument(
        "--hang-timeout",
        type=_float_at_least(0.5),
        default=d.hang_timeout,
        metavar="S",
        help="a broker silent this long is killed and restarted",
    )
    p.add_argument(
        "--kill-broker-every",
        type=_float_at_least(0, above=True),
        default=None,
        metavar="S",
        help="fault drill: kill -9 a random broker every S seconds (seeded)",
    )
    return p


def config_from_args(argv: Sequence[str] | None = None, *, isatty: bool | None = None) -> SimConfig:
    """Parse flags into a SimConfig; exits with status 2 and one line on a bad value."""
    parser = build_parser()
    ns = parser.parse_args(argv)
    if ns.journal:
        from simulator.journal_file import check_path  # sqlite3 only when a journal is asked for

        problem = check_path(ns.journal)
        if problem:
            parser.error(f"argument --journal: {problem}")
    from simulator.flow import OrderFlow

    most = OrderFlow.max_cancel_ratio(ns.market_ratio, ns.ioc_ratio, ns.invalid_ratio)
    if ns.cancel_ratio > most:
        parser.error(
            f"argument --cancel-ratio: {ns.cancel_ratio:g} is more than the flow can send with "
            f"these ratios: at most {most:.2f} (each DAY order is cancelled at most once)"
        )
    if isatty is None:
        isatty = sys.stdin.isatty() and sys.stdout.isatty()
    seed = ns.seed if ns.seed is not None else random.SystemRandom().randrange(1, 2**31)
    return SimConfig(
        brokers=ns.brokers,
        symbols=ns.symbols,
        rate=ns.rate,
        orders=ns.orders,
        duration=ns.duration,
        seed=seed,
        batch=ns.batch,
        accounts=ns.accounts,
        market_ratio=ns.market_ratio,
        ioc_ratio=ns.ioc_ratio,
        cancel_ratio=ns.cancel_ratio,
        invalid_ratio=ns.invalid_ratio,
        headless=ns.headless or not isatty,
        report=ns.report,
        log_file=ns.log_file,
        log_level=ns.log_level,
        ui_hz=ns.ui_hz,
        stop_timeout=ns.stop_timeout,
        max_restarts=ns.max_restarts,
        hang_timeout=ns.hang_timeout,
        kill_broker_every=ns.kill_broker_every,
        journal=ns.journal,
    )
