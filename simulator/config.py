"""Command-line flags and the frozen SimConfig they resolve to.

Every flag is checked here, before any process starts: a bad value ends the program with one
line naming the flag and exit status 2. That covers each value's bounds (every value the parser
accepts must run: a number too large for the ledger's arrays, a pipe message or a timer is
refused here, not met later as a traceback), the flags that must agree with each other (the
error names the flag the user gave, not a default), and the files a run will write (``--report``,
``--log-file``, ``--journal``: a missing or read-only directory, a directory, a FIFO, a device,
a name too long, found now rather than after the run). The resolved SimConfig (seed included) is
what the rest of the simulator reads and what the report prints, so any run can be repeated.
"""

from __future__ import annotations

import argparse
import dataclasses
import math
import os
import random
import re
import stat
import sys
import tempfile
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import NoReturn

from simulator import amqp_url as amqp
from simulator.risk_flags import RiskSettings

DEFAULT_SYMBOLS = ("AAPL", "MSFT", "NVDA", "TSLA", "AMZN", "GOOG", "META", "JPM")
_TICKER = re.compile(r"^[A-Z][A-Z0-9.]{0,7}$")
_LETTERS = [chr(c) for c in range(65, 91)]  # A..Z
LOG_LEVELS = ("DEBUG", "INFO", "WARNING", "ERROR")
EXIT_USAGE = 2

# Bounds, each for a reason; --help and the README say them.
MOST_BROKERS = 32  # a broker is a process of ~35 MiB with two 1 MiB pipes; 2 cores run them
# Per symbol the bank keeps three int64s until it trades, a book costs its broker nothing until
# its first order, and each resting order costs what it holds (see the README, "what scales
# how"); the generated 4-letter tickers run out at 456,976.
MOST_SYMBOLS = 100_000
# cash is an int64 per account (8 MB for a million); positions are held sparsely when many
MOST_ACCOUNTS = 1_000_000
MOST_BATCH = 65_536  # orders per message: 4.5 MiB; a larger batch gains nothing
MOST_RATE = 10_000_000.0  # ten times what the pipeline reaches; 0 means as fast as it goes
MOST_ORDERS = 10**12  # order ids are int64 on the wire, with room for the cancels among them
MOST_SECONDS = 10**7  # --duration, the drill period: 115 days
MOST_WAIT_S = 3600.0  # --stop-timeout, --hang-timeout: longer waits overflow no timer, help no one
MOST_UI_HZ = 60.0
MOST_RESTARTS = 1000
MOST_SEED = 2**63 - 1  # the journal stores it in an SQLite integer


class UsageError(Exception):
    """A flag value that cannot be used; the message names the flag."""


@dataclass(frozen=True, slots=True)
class SimConfig(RiskSettings):  # the fields of --max-order-qty..., and its base's: --transport, --amqp-*
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
    report_symbols: int = 100  # most symbols a report table names, as the dashboard's (report_symbols.py)
    log_file: str | None = None
    log_level: str = "INFO"
    ui_hz: float = 10.0
    exit_on_finish: bool = False  # the dashboard closes when the run ends (else it shows the report)
    # bound of each broker inbox, in batches: deep enough that a broker still has work while
    # the bank books a big batch of events (16 left both cores a fifth idle at --rate 0)
    inbox_batches: int = 64
    stop_timeout: float = 10.0  # how long brokers get to answer every order after a stop
    max_restarts: int = 3  # per broker; past it the run stops and says why
    hang_timeout: float = 2.0  # a broker silent this long is treated as dead
    standby: bool = True  # a warm broker process takes a dead broker's shard over (pool.py)
    kill_broker_every: float | None = None  # fault drill: kill -9 a random broker every S s
    journal: str | None = None  # SQLite journal of every order and result
    http: str | None = None  # --http HOST:PORT: the run's API (simulator.http_flags); no token here
    http_control: bool = False  # --http-control: POST /api/control, with the token


def _int_in(low: int, high: int) -> Callable[[str], int]:
    def parse(text: str) -> int:
        try:
            value = int(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"expected a whole number, got {text!r}") from None
        if not low <= value <= high:
            raise argparse.ArgumentTypeError(f"must be from {low:,} to {high:,}, got {value:,}")
        return value

    return parse


def _float_in(low: float, high: float, *, above: bool = False) -> Callable[[str], float]:
    def parse(text: str) -> float:
        try:
            value = float(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"expected a number, got {text!r}") from None
        if not math.isfinite(value) or not low <= value <= high or (above and value == low):
            bound = f"more than {low:g}" if above else f"at least {low:g}"
            raise argparse.ArgumentTypeError(f"must be {bound} and at most {high:,g}, got {text.strip()!r}")
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
    """``count`` distinct 4-letter tickers, the same for the same count: the 4 low base-26
    digits of ``i * 7919 + 17`` as letters (spread so that they do not all start with 'AAA'),
    two letters at a time from a table (a digit at a time took 0.15 s at 100,000 symbols)."""
    pairs = [a + b for a in _LETTERS for b in _LETTERS]  # 'AA', 'AB', ... by value
    names = [pairs[v // 676] + pairs[v % 676] for v in ((i * 7919 + 17) % 456976 for i in range(count))]
    if len(set(names)) != count:  # 7919 is prime to 26**4, so this cannot happen below 456976
        raise argparse.ArgumentTypeError(f"cannot make {count} distinct tickers")
    return tuple(names)


def parse_symbols(text: str) -> tuple[str, ...]:
    text = text.strip()
    if text.isdigit():
        count = int(text)
        if not 1 <= count <= MOST_SYMBOLS:
            raise argparse.ArgumentTypeError(f"a symbol count is from 1 to {MOST_SYMBOLS:,}, got {count:,}")
        return generated_symbols(count)
    names = tuple(part.strip().upper() for part in text.split(","))
    if len(names) > MOST_SYMBOLS:
        raise argparse.ArgumentTypeError(f"at most {MOST_SYMBOLS:,} symbols, got {len(names):,}")
    for name in names:
        if not _TICKER.match(name):
            raise argparse.ArgumentTypeError(
                f"{name!r} is not a ticker (1-8 letters, digits or dots, starting with a letter)"
            )
    if len(set(names)) != len(names):
        raise argparse.ArgumentTypeError(f"a symbol is listed twice in {text!r}")
    return names


class _HelpFormatter(argparse.RawDescriptionHelpFormatter, argparse.ArgumentDefaultsHelpFormatter):
    """Shows a flag's default unless its help says it (or it has none worth showing); keeps the
    epilog's lines as written."""

    def _get_help_string(self, action: argparse.Action) -> str | None:
        if action.default in (None, False) or action.nargs == 0 or "(default" in (action.help or ""):
            return action.help
        if isinstance(action.default, tuple):
            return f"{action.help} (default: {','.join(action.default)})"
        return super()._get_help_string(action)


class OneLineParser(argparse.ArgumentParser):
    """argparse that reports a usage error as a single line and exits 2."""

    def error(self, message: str) -> NoReturn:
        self.exit(EXIT_USAGE, f"{self.prog}: error: {' '.join(message.split())}\n")


_DESCRIPTION = """\
A bank places stock orders; broker processes match them and send acks and
fills back over pipes. Opens a live dashboard in a terminal, or runs headless
(progress lines, then a summary). SIGINT (Ctrl-C), SIGTERM and SIGHUP stop it
cleanly: every order placed ends in a final state the bank knows.
"""
_EPILOG = f"""\
bounds:
  --brokers at most {MOST_BROKERS}, and no more brokers than symbols (each trades its own);
  --symbols at most {MOST_SYMBOLS:,}; --accounts at most {MOST_ACCOUNTS:,} (memory follows
  the symbols and accounts that trade: see the README, "what scales how");
  --batch at most {MOST_BATCH:,}; --rate at most {MOST_RATE:,.0f} (0: as fast as it goes).

other commands:
  simulate.py replay PATH
                        re-run a journal (--journal) through fresh books and
                        check it makes the same fills and results (see
                        simulate.py replay --help)
  simulate.py journal expand PATH
                        add the tables orders, fills and results to a
                        journal, decoded from its batches, for SQL
  simulate.py dashboard --attach URL [--token T]
                        the dashboard on a run started with --http
  simulate.py serve [--attach URL] [--port 8322]
                        that dashboard in a browser (without --attach it
                        starts a headless run with --http and serves it)

exit status:
  0  the run stopped as asked, reconciled with no order lost, and every broker
     exited cleanly
  1  an order was lost or a process failed
  2  a usage error: one line naming the flag, before anything starts
  A reader that goes away early (| head) changes nothing: the run finishes,
  writes its report and exits with its own status.
"""


def build_parser(prog: str = "simulate.py") -> argparse.ArgumentParser:
    p = OneLineParser(
        prog=prog,
        description=_DESCRIPTION,
        epilog=_EPILOG,
        formatter_class=_HelpFormatter,
        allow_abbrev=False,  # `--symbol AAPL` must not quietly mean --symbols
    )
    d = SimConfig()
    add = p.add_argument
    # fmt: off
    add("--brokers", metavar="N", type=_int_in(1, MOST_BROKERS), default=d.brokers,
        help=f"broker processes, at most {MOST_BROKERS} and one per symbol; each symbol belongs to one")
    add("--symbols", metavar="SPEC", type=parse_symbols, default=d.symbols,
        help=f"comma list of tickers, or a count N of generated 4-letter tickers (at most {MOST_SYMBOLS:,})")
    add("--rate", metavar="R", type=_float_in(0, MOST_RATE), default=d.rate,
        help="new orders per second; 0 = as fast as possible")
    add("--orders", metavar="N", type=_int_in(1, MOST_ORDERS), default=None,
        help="stop after placing this many orders")
    add("--duration", metavar="S", type=_float_in(0, MOST_SECONDS, above=True), default=None,
        help="stop after this many seconds")
    add("--seed", metavar="S", type=_int_in(0, MOST_SEED), default=None,
        help="seed of the order flow (default: random, always printed)")
    add("--batch", metavar="N", type=_int_in(1, MOST_BATCH), default=d.batch,
        help=f"most orders per message to a broker (at most {MOST_BATCH:,})")
    add("--accounts", metavar="N", type=_int_in(1, MOST_ACCOUNTS), default=d.accounts,
        help=f"client accounts of the bank (at most {MOST_ACCOUNTS:,}; see bounds)")
    add("--market-ratio", metavar="X", type=_ratio, default=d.market_ratio,
        help="share of new orders that are MARKET orders")
    add("--ioc-ratio", metavar="X", type=_ratio, default=d.ioc_ratio,
        help="share of limit orders that are immediate-or-cancel")
    add("--cancel-ratio", metavar="X", type=_ratio, default=d.cancel_ratio,
        help="share of messages (expiries aside) that cancel an earlier DAY order; each is "
        "cancelled at most once, so at most about 0.46 with the other ratios at their defaults")
    add("--invalid-ratio", metavar="X", type=_ratio, default=d.invalid_ratio,
        help="share of orders made invalid on purpose (to show rejects)")
    add("--headless", action="store_true",
        help="no dashboard: progress lines and a summary (automatic without a terminal)")
    add("--report", metavar="PATH", default=None,
        help="write a JSON report here: a new regular file, or one replaced whole")
    add("--log-file", metavar="PATH", default=None,
        help="also append every process's log records to this regular file")
    add("--log-level", type=str.upper, choices=LOG_LEVELS, default=d.log_level,
        help="least severe log record kept, in --log-file and the dashboard's log; headless, "
        "stderr shows records from this level when it is given, else warnings and errors "
        "(default: INFO)")
    add("--ui-hz", metavar="HZ", type=_float_in(0.1, MOST_UI_HZ), default=d.ui_hz,
        help=f"dashboard refreshes per second (0.1 to {MOST_UI_HZ:g})")
    add("--exit-on-finish", action="store_true",
        help="close the dashboard when the run ends (for scripts); else it shows the report until q")
    add("--stop-timeout", metavar="S", type=_float_in(0, MOST_WAIT_S, above=True), default=d.stop_timeout,
        help=f"how long brokers get to answer every order when stopping (at most {MOST_WAIT_S:g})")
    add("--journal", metavar="PATH", default=None,
        help="write every batch of orders and results to this SQLite file (see replay below)")
    add("--max-restarts", metavar="N", type=_int_in(0, MOST_RESTARTS), default=d.max_restarts,
        help=f"restarts allowed per broker before the run stops (at most {MOST_RESTARTS:,})")
    add("--hang-timeout", metavar="S", type=_float_in(0.5, MOST_WAIT_S), default=d.hang_timeout,
        help=f"a broker silent this long is killed and restarted (0.5 to {MOST_WAIT_S:g})")
    add("--no-standby", dest="standby", action="store_false", help="restart a dead broker in a process "
        "spawned then (a quarter second) instead of two warm standbys kept ready (two processes' memory)")
    add("--kill-broker-every", metavar="S", type=_float_in(0, MOST_SECONDS, above=True), default=None,
        help="fault drill: kill -9 a random broker every S seconds (seeded)")
    # fmt: on
    from simulator import agent_flags, config_file, http_flags, order_flags, report_symbols, risk_flags

    order_flags.add_flags(p, d, _ratio)
    agent_flags.add_flags(p, d, _int_in)
    http_flags.add_flags(p)
    report_symbols.add_flags(p, d.report_symbols)
    risk_flags.add_flags(p)
    amqp.add_flags(p, d, _int_in)
    config_file.add_flags(p)  # --config, --preset, --print-config
    return p


# -- files a run writes -------------------------------------------------------------------------


def _shown(path: str) -> str:
    return path if len(path) <= 80 else f"{path[:38]}...{path[-38:]}"


def output_problem(path: str, *, whole: bool) -> str | None:
    """Why a run cannot write the file ``path``, in one line, or None if it can.

    ``whole``: the file is written through a new temporary file beside it, then renamed over
    it (``--report``); otherwise it is appended to (``--log-file``). Only a regular file may be
    there: a symbolic link, a directory, a FIFO (opening one with no reader hangs) or a device
    is refused. Whether the file can be made is tried, not guessed from permission bits (root
    passes every access() check, and /proc or a read-only mount still refuse a new file): a
    temporary file is created beside it and removed at once.
    """
    if not path:
        return "the path is empty"
    shown = _shown(path)
    try:
        st: os.stat_result | None = os.lstat(path)
    except FileNotFoundError:
        st = None
    except OSError as exc:  # a name too long, a file used as a directory, a loop
        return f"cannot use {shown}: {exc.strerror}"
    if st is not None:
        kind = next((name for test, name in _NOT_REGULAR if test(st.st_mode)), None)
        if kind:
            return f"{shown} is {kind}, not a regular file: refusing to write to it"
        if not whole:
            try:  # no O_CREAT: it exists; O_NONBLOCK: never wait on a FIFO swapped in meanwhile
                os.close(os.open(path, os.O_WRONLY | os.O_APPEND | os.O_NOFOLLOW | os.O_NONBLOCK))
            except OSError as exc:
                return f"cannot write {shown}: {exc.strerror}"
            return None
    parent = os.path.dirname(os.path.abspath(path))
    if not os.path.isdir(parent):
        return f"cannot create {shown}: directory {_shown(parent)} does not exist"
    try:
        fd, probe = tempfile.mkstemp(dir=parent, prefix=".simulate-")
    except OSError as exc:
        return f"cannot create {shown}: {exc.strerror} (a new file in {_shown(parent)})"
    os.close(fd)
    os.unlink(probe)
    return None


_NOT_REGULAR = (
    (stat.S_ISLNK, "a symbolic link"),
    (stat.S_ISDIR, "a directory"),
    (stat.S_ISFIFO, "a FIFO"),
    (stat.S_ISCHR, "a character device"),
    (stat.S_ISBLK, "a block device"),
    (stat.S_ISSOCK, "a socket"),
)


# -- from flags to a config -----------------------------------------------------------------------

_UNSET = object()


def parse_flags(
    argv: Sequence[str] | None = None, *, isatty: bool | None = None
) -> tuple[SimConfig, frozenset[str]]:
    """The SimConfig of ``argv`` and the destinations of the flags given (not defaulted);
    exits with status 2 and one line naming the flag on a bad value."""
    parser = build_parser()
    defaults = vars(parser.parse_args([]))
    from simulator.config_file import file_arguments

    argv = file_arguments(parser, sys.argv[1:] if argv is None else argv)  # --preset, --config first
    ns = parser.parse_args(argv, namespace=argparse.Namespace(**dict.fromkeys(defaults, _UNSET)))
    given = frozenset(k for k, v in vars(ns).items() if v is not _UNSET)
    for name in defaults.keys() - given:
        setattr(ns, name, defaults[name])
    problem = _disagreement(ns, given)
    if problem:
        parser.error(problem)
    if isatty is None:
        isatty = _is_terminal(sys.stdin) and _is_terminal(sys.stdout)
    seed = ns.seed if ns.seed is not None else random.SystemRandom().randrange(1, 2**31)
    names = {f.name for f in dataclasses.fields(SimConfig)}
    values = {k: v for k, v in vars(ns).items() if k in names}
    config = SimConfig(**{**values, "seed": seed, "headless": ns.headless or not isatty})
    return config, given


def config_from_args(argv: Sequence[str] | None = None, *, isatty: bool | None = None) -> SimConfig:
    """Parse flags into a SimConfig; exits with status 2 and one line on a bad value."""
    return parse_flags(argv, isatty=isatty)[0]


def _is_terminal(stream: object) -> bool:
    """False for a closed descriptor too (``<&-`` leaves ``sys.stdin`` None)."""
    try:
        return bool(stream is not None and stream.isatty())  # type: ignore[attr-defined]
    except (AttributeError, ValueError, OSError):
        return False


def _flag(dest: str) -> str:
    return "--" + dest.replace("_", "-")


def _disagreement(ns: argparse.Namespace, given: frozenset[str]) -> str | None:
    """What is wrong with the flags together, or with the files they name: the message names
    the flag the user gave, never a default they did not choose."""
    nsym = len(ns.symbols)
    if ns.brokers > nsym:
        if "brokers" in given:
            return f"argument --brokers: {ns.brokers} brokers for {nsym} symbols: each broker needs a symbol"
        return (
            f"argument --symbols: {nsym} symbol{'s' * (nsym > 1)} for the default {ns.brokers} brokers, "
            f"each needing a symbol: give --brokers {nsym} or more symbols"
        )
    from simulator.flow import OrderFlow

    most = OrderFlow.max_cancel_ratio(ns.market_ratio, ns.ioc_ratio, ns.invalid_ratio)
    if ns.cancel_ratio > most:
        if "cancel_ratio" in given:
            return (
                f"argument --cancel-ratio: {ns.cancel_ratio:g} is more than the flow can send with "
                f"these ratios: at most {most:.2f} (each DAY order is cancelled at most once)"
            )
        ratios = [r for r in ("market_ratio", "ioc_ratio", "invalid_ratio") if r in given] or ["market_ratio"]
        named = " and ".join(f"{_flag(r)} {getattr(ns, r):g}" for r in ratios)
        return (
            f"argument {_flag(ratios[0])}: {named} leave room for a --cancel-ratio of at most "
            f"{most:.2f}, below its default {ns.cancel_ratio:g}: give a lower --cancel-ratio too"
        )
    from simulator import http_flags, order_flags

    problem = order_flags.problem(ns) or http_flags.problem(ns.http, ns.http_control)
    if problem:
        return problem
    files: dict[str, str] = {}
    for dest in ("report", "log_file", "journal"):
        path = getattr(ns, dest)
        if path is None:
            continue
        if dest == "journal":
            from simulator.journal_file import check_path  # sqlite3 only when a journal is asked for

            problem = check_path(path)
        else:
            problem = output_problem(path, whole=dest == "report")
        if problem:
            return f"argument {_flag(dest)}: {problem}"
        real = os.path.realpath(path)
        if real in files:
            return f"argument {_flag(dest)}: {_shown(path)} is the file {_flag(files[real])} writes too"
        files[real] = dest
    return amqp.flag_problem(ns, given)  # last: whether the server answers, once the rest is good
