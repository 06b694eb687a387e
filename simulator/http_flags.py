"""The run's HTTP API as the command line sees it: ``--http HOST:PORT``, ``--http-control``, the
token, and what a run says about its API when it starts.

Nothing here imports cheroot or prometheus_client, so the flags cost a run without ``--http``
nothing: ``simulator.config`` adds the flags (``add_flags``) and checks them with the others
(``problem``, before anything starts: a busy port or an address not of this machine is a usage
error naming ``--http``); a run builds its ``HttpOptions`` from the resolved SimConfig with
``options``. The token is never part of the SimConfig (the report and the journal print it):
``control_token`` resolves it when the run is built, from $SIM_HTTP_TOKEN or new.
"""

from __future__ import annotations

import argparse
import errno
import ipaddress
import os
import secrets
import socket
from dataclasses import dataclass
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from simulator.config import SimConfig

DEFAULT_PORT = 8321
TOKEN_ENV = "SIM_HTTP_TOKEN"


@dataclass(frozen=True, slots=True)
class HttpOptions:
    """What ``--http HOST:PORT`` and ``--http-control`` ask of a run."""

    host: str = "127.0.0.1"
    port: int = DEFAULT_PORT  # 0: any free port (``HttpServer.url`` says which, once started)
    control: bool = False  # POST /api/control, with the bearer token
    token: str | None = None  # None: $SIM_HTTP_TOKEN, else a new random one
    linger_s: float = 0.0  # keep serving this long after the run stopped (GET /api/report)


# -- addresses -------------------------------------------------------------------------------------


def parse_address(text: str) -> tuple[str, int]:
    """``HOST:PORT``, ``[IPv6]:PORT``, ``:PORT`` (loopback) or ``HOST`` (port 8321); ValueError
    with a one-line reason otherwise."""
    text = text.strip()
    if text.startswith("["):
        host, sep, rest = text[1:].partition("]")
        if not sep or (rest and not rest.startswith(":")):
            raise ValueError(f"expected [IPv6]:PORT, got {text!r}")
        port_text = rest[1:] if rest else str(DEFAULT_PORT)
    elif text.count(":") == 1:
        host, port_text = text.split(":")
    elif ":" in text:
        raise ValueError(f"write an IPv6 address in brackets, as [{text}]:{DEFAULT_PORT}")
    else:
        host, port_text = text, str(DEFAULT_PORT)
    if not port_text.isdigit() or not 0 <= int(port_text) <= 65535:
        raise ValueError(f"the port must be a number from 0 to 65535, got {port_text!r}")
    return host or "127.0.0.1", int(port_text)


def format_address(host: str, port: int) -> str:
    """The ``HOST:PORT`` that ``parse_address`` reads back (IPv6 in brackets)."""
    return f"[{host}]:{port}" if ":" in host else f"{host}:{port}"


def check_bind(host: str, port: int) -> str | None:
    """Why a server could not listen on (host, port), in one line; None if it can (the socket
    is bound as cheroot binds it, with SO_REUSEADDR, then closed)."""
    try:
        infos = socket.getaddrinfo(host, port, socket.AF_UNSPEC, socket.SOCK_STREAM, 0, socket.AI_PASSIVE)
    except socket.gaierror as exc:
        return f"cannot resolve {host!r}: {exc.strerror}"
    problem = f"cannot listen on {host}:{port}"
    for family, kind, proto, _name, addr in infos:
        try:
            with socket.socket(family, kind, proto) as sock:
                sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
                sock.bind(addr)
                return None
        except OSError as exc:
            if exc.errno == errno.EADDRINUSE:
                problem = f"port {port} on {host} is in use"
            elif exc.errno == errno.EADDRNOTAVAIL:
                problem = f"{host} is not an address of this machine"
            elif exc.errno == errno.EACCES:
                problem = f"port {port} needs privileges this user lacks"
            else:
                problem = f"cannot listen on {host}:{port}: {exc.strerror or exc}"
    return problem


def free_port(host: str) -> int:
    """A port free on ``host`` now (the kernel's pick; another program may take it before the
    run binds it, which the run then reports as its failure)."""
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    with socket.socket(family, socket.SOCK_STREAM) as sock:
        sock.bind((host, 0))
        port: int = sock.getsockname()[1]
        return port


def is_loopback(host: str) -> bool:
    """True when only this machine can reach ``host`` (127.0.0.0/8, ::1, localhost)."""
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def url_of(host: str, port: int) -> str:
    return f"http://{format_address(host, port)}"


# -- the token and the start lines -------------------------------------------------------------------


def control_token(environ: dict[str, str] | None = None) -> str:
    """$SIM_HTTP_TOKEN when set, else a new random token (``secrets.token_urlsafe``)."""
    given = (os.environ if environ is None else environ).get(TOKEN_ENV, "").strip()
    return given or secrets.token_urlsafe(24)


def start_lines(url: str, host: str, token: str | None) -> list[str]:
    """What the start of a run says about its API (the token is printed this once)."""
    lines = [f"simulate: the run's API is at {url} ({'with control' if token else 'read only'})"]
    if not is_loopback(host):
        lines.append(
            f"simulate: WARNING: {host} is not a loopback address: the API is reachable from the network"
        )
    if token:
        lines.append(f"simulate: control token (Authorization: Bearer ...): {token}")
    return lines


# -- the flags -----------------------------------------------------------------------------------------


def _address(text: str) -> str:
    try:
        return format_address(*parse_address(text))
    except ValueError as exc:
        raise argparse.ArgumentTypeError(str(exc)) from None


def add_flags(parser: argparse.ArgumentParser) -> None:
    """``--http`` and ``--http-control``, into the run's parser."""
    parser.add_argument(
        "--http",
        metavar="HOST:PORT",
        type=_address,
        default=None,
        help=f"serve the run's API (status, events, Prometheus metrics) here, e.g. 127.0.0.1:{DEFAULT_PORT} "
        "(port 0: any free one); a host that is not loopback is reachable from the network",
    )
    parser.add_argument(
        "--http-control",
        action="store_true",
        help=f"with --http: POST /api/control steers the run with the bearer token printed at start "
        f"(or ${TOKEN_ENV})",
    )


def problem(http: str | None, control: bool) -> str | None:
    """What is wrong with the HTTP flags (the message names the flag), or None; the address is
    bound and released here, so a busy port is found before anything starts."""
    if http is None:
        return "argument --http-control: it needs --http HOST:PORT" if control else None
    why = check_bind(*parse_address(http))
    return f"argument --http: {why}" if why else None


def options(config: SimConfig, *, token: str | None = None) -> HttpOptions | None:
    """The run's ``HttpOptions`` (None without ``--http``), with ``token`` (resolved here when
    control is on and none is given)."""
    if config.http is None:
        return None
    host, port = parse_address(config.http)
    if config.http_control and token is None:
        token = control_token()
    return HttpOptions(host, port, control=config.http_control, token=token if config.http_control else None)
