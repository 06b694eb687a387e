"""The RabbitMQ URL: where it comes from, how it is shown, and the first connection to it.

``--amqp-url URL`` or, so that the password stays out of ``ps`` and shell history, the
environment variable ``SIM_AMQP_URL``. The URL is shown only masked (``amqp://guest:***@host/``):
in logs, the report, the dashboard and error lines. ``check`` connects once with a short
timeout before anything starts, so a wrong host, a closed port, bad credentials or a missing
vhost end the program with one line naming ``--amqp-url`` and exit status 2.

pika is imported only here and only when AMQP is used (``pika()``), so a pipe run never
needs it.
"""

from __future__ import annotations

import dataclasses
import os
import urllib.parse
from dataclasses import dataclass
from typing import Any

from simulator.agent_flags import AgentSettings

ENV = "SIM_AMQP_URL"
TRANSPORTS = ("pipe", "amqp")
# --amqp-credit: batches unanswered per shard in the server. The default is as deep as a pipe
# inbox's credit, so a broker has work while its answers travel back; the bound keeps a
# broker that never comes from parking gigabytes in RabbitMQ (10,000 x 256 orders = 180 MiB)
MOST_CREDIT = 10_000
DEFAULT_CREDIT = 64
CONNECT_TIMEOUT_S = 3.0  # a server that answers at all answers within this, even on a busy machine


class LinkFailed(RuntimeError):
    """The AMQP connection could not be made or was lost; the text says why (no password)."""


@dataclass(frozen=True, slots=True)
class AmqpSettings(AgentSettings):
    """The transport's part of a run's ``config.SimConfig`` (its base class; the order types'
    part, ``order_flags.OrderTypeSettings``, is its own base)."""

    transport: str = "pipe"  # pipe: brokers on this machine; amqp: over RabbitMQ (amqp_pool)
    amqp_url: str | None = None  # --amqp-url or $SIM_AMQP_URL; shown only masked (to_dict)
    amqp_credit: int = DEFAULT_CREDIT  # batches unanswered per shard in RabbitMQ
    external_brokers: bool = False  # brokers are `simulate.py broker` processes, started anywhere

    def to_dict(self) -> dict:
        """The whole config (a SimConfig) as plain values, tuples as lists, to show or write:
        the URL only masked."""
        values = {f.name: getattr(self, f.name) for f in dataclasses.fields(self)}
        if not all(map(_plain, values.values())):
            values = dataclasses.asdict(self)  # something nested: copied deep (asdict copied
            # every one of 100,000 symbols' names, 0.2 s, for nothing)
        d = {k: list(v) if isinstance(v, tuple) else v for k, v in values.items()}
        return d | {"amqp_url": masked(self.amqp_url)}


_ATOMS = (str, int, float, type(None))


def _plain(value: object) -> bool:
    """Whether a config value is an atom or a tuple of atoms: what ``asdict`` would only copy."""
    if isinstance(value, tuple):
        return all(isinstance(x, _ATOMS) for x in value)
    return isinstance(value, _ATOMS)


def pika() -> Any:
    import pika as _pika

    return _pika


def from_env_or(url: str | None) -> str | None:
    """The URL a run uses: the flag's, else ``$SIM_AMQP_URL``'s, else None."""
    return url or os.environ.get(ENV) or None


def masked(url: str | None) -> str | None:
    """``url`` with its password replaced by ``***`` (for anything shown or written)."""
    if url is None:
        return None
    try:
        parts = urllib.parse.urlsplit(url)
    except ValueError:
        return "<an unreadable URL>"
    if parts.password is None:
        return url
    user = parts.username or ""
    host = parts.hostname or ""
    if parts.port is not None:
        host = f"{host}:{parts.port}"
    return urllib.parse.urlunsplit(
        (parts.scheme, f"{user}:***@{host}", parts.path, parts.query, parts.fragment)
    )


def shape_problem(url: str) -> str | None:
    """Why ``url`` is not an AMQP URL at all, or None."""
    try:
        parts = urllib.parse.urlsplit(url)
        parts.port  # noqa: B018 -- raises ValueError for a port that is not a number
    except ValueError as exc:
        return f"{masked(url)} is not a URL: {exc}"
    if parts.scheme not in ("amqp", "amqps"):
        return f"{masked(url)} is not an amqp:// or amqps:// URL"
    if not parts.hostname:
        return f"{masked(url)} names no host"
    return None


def connect(url: str, *, heartbeat_s: int = 5) -> Any:
    """A BlockingConnection to ``url`` within ``CONNECT_TIMEOUT_S``, or LinkFailed saying why."""
    p = pika()
    try:
        params = p.URLParameters(url)
    except Exception as exc:  # pika's parser raises several kinds for a malformed URL
        raise LinkFailed(f"{masked(url)} is not a usable AMQP URL: {exc}") from None
    params.heartbeat = heartbeat_s
    params.blocked_connection_timeout = max(30, 6 * heartbeat_s)
    params.socket_timeout = CONNECT_TIMEOUT_S
    params.stack_timeout = CONNECT_TIMEOUT_S
    params.connection_attempts = 1
    try:
        return p.BlockingConnection(params)
    except Exception as exc:
        raise LinkFailed(f"cannot connect to {masked(url)}: {describe_error(exc)}") from None


def describe_error(exc: BaseException) -> str:
    """A pika error in a few words a user can act on (pika's own texts are often empty)."""
    p = pika()
    if isinstance(exc, p.exceptions.ProbableAuthenticationError | p.exceptions.AuthenticationError):
        return "the user name or password was refused"
    if isinstance(exc, p.exceptions.ProbableAccessDeniedError):
        return "access refused (does the vhost exist, and may this user use it?)"
    if isinstance(exc, p.exceptions.IncompatibleProtocolError):
        return "what answered there does not speak AMQP 0-9-1 (or closed the connection at once)"
    if "Timeout" in type(exc).__name__:  # pika's connector: the socket connected, then silence
        return f"no AMQP answer within {CONNECT_TIMEOUT_S:g} s"
    if isinstance(exc, p.exceptions.StreamLostError):
        return f"the connection was closed ({exc})"
    if isinstance(exc, p.exceptions.ConnectionClosedByBroker):
        return f"the server closed the connection: {exc.reply_code} {exc.reply_text}"
    if isinstance(exc, p.exceptions.AMQPConnectionError):
        inner = exc.args[0] if exc.args else None
        if isinstance(inner, BaseException) and inner is not exc:
            return describe_error(inner)
        text = str(exc).strip() or type(exc).__name__
        return "no RabbitMQ server answered there" if text in ("AMQPConnectionError", "()") else text
    inner = getattr(exc, "exception", None)  # pika's connector errors wrap the socket's
    if isinstance(inner, BaseException):
        return describe_error(inner)
    if isinstance(exc, OSError):
        return exc.strerror or str(exc) or type(exc).__name__
    return f"{type(exc).__name__}: {exc}"[:200]


def check(url: str) -> str | None:
    """Why a run cannot use ``url`` (one line, password masked), or None once a connection
    to it was made and closed."""
    problem = shape_problem(url)
    if problem:
        return problem
    try:
        connection = connect(url)
    except LinkFailed as exc:
        return str(exc)
    try:
        connection.close()
    except Exception:  # it answered: that is all the check wanted to know
        pass
    return None


def flag_problem(ns: Any, given: frozenset[str]) -> str | None:
    """What is wrong with the AMQP flags of a run (an argparse namespace) against its
    --transport, in one line naming the flag; resolves ``ns.amqp_url`` from ``$SIM_AMQP_URL``.
    Whether the server answers is ``check``'s, once every other flag is known good."""
    if ns.transport != "amqp":
        # a value other than the default (--print-config writes the defaults out, to feed back)
        for dest, default in (
            ("amqp_url", None),
            ("amqp_credit", DEFAULT_CREDIT),
            ("external_brokers", False),
        ):
            if dest in given and getattr(ns, dest) != default:
                return f"argument --{dest.replace('_', '-')}: only with --transport amqp"
        return None
    ns.amqp_url = from_env_or(ns.amqp_url)
    if not ns.amqp_url:
        return f"argument --amqp-url: --transport amqp needs --amqp-url URL or ${ENV}"
    return server_problem(ns.amqp_url)


def server_problem(url: str | None) -> str | None:
    """``check`` as a usage error line naming --amqp-url, or None."""
    problem = check(url or "")
    return f"argument --amqp-url: {problem}" if problem else None


def add_flags(p: Any, d: Any, int_in: Any) -> None:
    """The AMQP flags of a run (``d``: the SimConfig defaults; ``int_in``: config's bounded int)."""
    add = p.add_argument
    # fmt: off
    add("--transport", choices=TRANSPORTS, default=d.transport,
        help="how the bank and its brokers talk: pipe (this machine) or amqp (through RabbitMQ)")
    add("--amqp-url", metavar="URL", default=None,
        help="RabbitMQ to use with --transport amqp, e.g. amqp://user:pw@host:5672/%%2F "
        "(default: $SIM_AMQP_URL, which keeps the password out of ps)")
    add("--amqp-credit", metavar="N", type=int_in(1, MOST_CREDIT), default=d.amqp_credit,
        help=f"most batches unanswered per shard in RabbitMQ (at most {MOST_CREDIT:,})")
    add("--external-brokers", action="store_true",
        help="with --transport amqp: spawn no brokers, offer the shards to `simulate.py broker "
        "--amqp-url URL` processes started anywhere (see simulate.py broker --help)")
    # fmt: on
