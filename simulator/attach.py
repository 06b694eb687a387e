"""The dashboard's view of a run started elsewhere with --http: a ``SimControl`` over HTTP.

    this process                                          the run's API (simulator.http_api)
    AttachedRun.snapshot() <-- reader thread <----------- GET /api/events: a Snapshot per tick,
                               (reconnects up to                then `report` (or `end`)
                               RECONNECT_S after a loss)
    command(name, arg) ------> sender thread ------------> POST /api/control, bearer token
                                                           (never without one: read only)

``simulate.py dashboard --attach URL [--token T]`` (``parse_attach_flags``; the token may also
come from $SIM_HTTP_TOKEN) runs ``tui.app.DashboardApp`` on an ``AttachedRun``. ``connect``
makes the first contact before the dashboard takes the screen, so an unreachable URL, a
refused token or a server that is no run of ours is one line and an exit status, never a
blank dashboard. Without a token (or on a run started without --http-control) the view is
read only, and says why (``read_only``).

Watching is not owning: quitting the viewer (``detach``, also what a stop signal does here)
leaves the run going; only the stop command, with control, stops it (``request_stop``). When
the run ends the stream brings its report (``final``), which the dashboard shows until the
user quits. Both threads are joined by ``close``; neither waits without a timeout. Every method
the dashboard calls returns at once; ``request_stop`` and ``detach`` only set an attribute, so
a signal handler may call them.
"""

from __future__ import annotations

import http.client
import json
import logging
import os
import queue
import socket
import threading
import time
from collections.abc import Sequence
from dataclasses import dataclass
from urllib.parse import urlsplit

from simulator.config import OneLineParser
from simulator.http_flags import TOKEN_ENV
from simulator.snapshot_json import SnapshotJsonError, snapshot_from_json
from simulator.stats import Snapshot

CONNECT_S = 5.0  # first contact, each reconnection attempt and each command
READ_S = 10.0  # an event stream silent this long is taken as lost (the run sends ~10 a second)
RECONNECT_S = 15.0  # how long a lost stream is tried again before the view gives up
RETRY_S = 0.5  # between reconnection attempts
POLL_S = 0.1  # how often the sender looks for a command or a stop
JOIN_S = 5.0
EXIT_USAGE, EXIT_FAILED = 2, 1

log = logging.getLogger("attach")


class AttachError(Exception):
    """Why the view cannot attach, in one line; ``status`` is the exit status it means."""

    def __init__(self, message: str, status: int = EXIT_FAILED) -> None:
        super().__init__(message)
        self.status = status


# -- the command line ---------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Target:
    """Where a run's API is: ``url`` as given (no trailing slash) and its parts."""

    url: str
    https: bool
    host: str
    port: int
    base: str  # path prefix before /api/... ('' at the root)


def parse_url(text: str) -> Target:
    """An ``http://HOST:PORT`` (or https, with a path prefix) URL; AttachError (status 2) saying
    what is wrong otherwise."""
    text = text.strip()
    example = "e.g. http://127.0.0.1:8321"
    try:
        parts = urlsplit(text)
        port = parts.port
    except ValueError as exc:
        raise AttachError(f"{text!r:.80} is not a URL: {exc}", EXIT_USAGE) from None
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise AttachError(f"{text!r:.80} is not an http:// URL of a run's API ({example})", EXIT_USAGE)
    if parts.query or parts.fragment or parts.username or parts.password:
        raise AttachError(f"{text!r:.80}: give the API's address only ({example})", EXIT_USAGE)
    https = parts.scheme == "https"
    base = parts.path.rstrip("/")
    url = f"{parts.scheme}://{parts.netloc}{base}"
    return Target(url, https, parts.hostname, port or (443 if https else 80), base)


@dataclass(frozen=True, slots=True)
class AttachFlags:
    target: Target
    token: str | None


def parse_attach_flags(argv: Sequence[str], prog: str = "simulate.py dashboard") -> AttachFlags:
    """``--attach URL [--token T]``; exits 2 with one line on a bad one."""
    parser = OneLineParser(
        prog=prog,
        description="The dashboard on a run started elsewhere with --http (quitting it leaves the "
        "run going).",
        allow_abbrev=False,
    )
    parser.add_argument(
        "--attach", metavar="URL", required=True, help="the run's API, e.g. http://127.0.0.1:8321"
    )
    parser.add_argument(
        "--token",
        metavar="T",
        default=None,
        help=f"the run's control token (default: ${TOKEN_ENV}); without one the view is read only",
    )
    ns = parser.parse_args(argv)
    try:
        target = parse_url(ns.attach)
    except AttachError as exc:
        parser.error(f"argument --attach: {exc}")
    token = ns.token if ns.token is not None else os.environ.get(TOKEN_ENV)
    return AttachFlags(target, (token or "").strip() or None)


# -- the view -------------------------------------------------------------------------------------


class AttachedRun:
    """A ``SimControl`` (and the dashboard's ``tui.app.Attachment``) for a run's HTTP API."""

    def __init__(
        self,
        target: Target,
        token: str | None = None,
        *,
        reconnect_s: float = RECONNECT_S,
        watch_parent: bool = False,
    ) -> None:
        self.target = target
        # a view textual-serve started must not outlive it (nothing else would end it)
        self._parent = os.getppid() if watch_parent else None
        self.token = token
        self.reconnect_s = reconnect_s
        self.read_only: str | None = "read only: no token (--token or $SIM_HTTP_TOKEN)"
        self.refusals: list[str] = []  # commands the run did not accept, one line each
        self._latest: Snapshot | None = None
        self._final: tuple[dict | None, str | None] | None = None
        self._ended = threading.Event()
        self._detach_reason: str | None = None
        self._stop_reason: str | None = None
        self._stop_sent = False
        self._commands: queue.Queue[tuple[str, object]] = queue.Queue()
        self._conn: http.client.HTTPConnection | None = None
        self._response: http.client.HTTPResponse | None = None
        self._threads: list[threading.Thread] = []

    @property
    def where(self) -> str:
        return self.target.url

    # -- SimControl -----------------------------------------------------------------------------

    def snapshot(self) -> Snapshot | None:
        return self._latest

    def command(self, name: str, arg: object = None) -> None:
        """Sent by the sender thread; nothing is sent when read only."""
        if self.read_only is None:
            self._commands.put((name, arg))

    def request_stop(self, reason: str) -> None:
        """Ask the run itself to stop (with control; read only, nothing happens)."""
        if self.read_only is None and self._stop_reason is None:
            self._stop_reason = reason  # the sender thread sends it (safe from a signal handler)

    def wait_stopped(self, timeout: float) -> bool:
        """True once the run has ended (its report came, or it is lost for good)."""
        return self._ended.wait(timeout)

    # -- the dashboard's Attachment ---------------------------------------------------------------

    @property
    def detached(self) -> bool:
        return self._detach_reason is not None

    def detach(self, reason: str = "viewer closed") -> None:
        """Let go of the run, which goes on; the threads end (safe from a signal handler)."""
        if self._detach_reason is None:
            self._detach_reason = reason

    def final(self) -> tuple[dict | None, str | None] | None:
        """Once the run has ended: (its report, None), or (None, why there is none)."""
        return self._final

    # -- connecting -----------------------------------------------------------------------------

    def _connection(self, timeout: float = CONNECT_S) -> http.client.HTTPConnection:
        t = self.target
        kind = http.client.HTTPSConnection if t.https else http.client.HTTPConnection
        return kind(t.host, t.port, timeout=timeout)

    def _request(self, method: str, path: str, body: bytes | None = None) -> tuple[int, bytes]:
        headers = {"Accept": "application/json"}
        if body is not None:
            headers["Content-Type"] = "application/json"
            if self.token:
                headers["Authorization"] = f"Bearer {self.token}"
        conn = self._connection()
        try:
            conn.request(method, self.target.base + path, body=body, headers=headers)
            response = conn.getresponse()
            return response.status, response.read(1 << 20)
        finally:
            conn.close()

    def connect(self) -> None:
        """First contact, before the dashboard starts: what the run allows, then its event
        stream and this view's threads. AttachError (status 1) with the reason on failure."""
        url = self.target.url
        try:
            status, body = self._request("GET", "/")
            index = json.loads(body) if status == 200 else None
        except (OSError, http.client.HTTPException) as exc:
            raise AttachError(f"cannot reach {url}: {_reason(exc)}") from None
        except ValueError:
            index = None
        if not isinstance(index, dict) or "/api/events" not in index.get("paths", {}):
            raise AttachError(f"{url} is not the API of a simulate.py run (GET / answered {status})")
        if self.token and not index.get("control"):
            self.read_only = "read only: the run was started without --http-control"
        elif self.token:
            status, body = self._request("POST", "/api/control", b"{}")  # 400 with a good token
            if status == 401:
                raise AttachError(f"the run at {url} refused the token")
            self.read_only = "read only: the run's control is off" if status == 404 else None
        self._open_stream()
        for target, name in ((self._read, "attach-reader"), (self._send, "attach-sender")):
            thread = threading.Thread(target=target, name=name)
            self._threads.append(thread)
            thread.start()

    def _open_stream(self) -> None:
        """GET /api/events; ``self._conn`` holds it. AttachError when it is not a stream."""
        conn = self._connection()
        try:
            conn.request("GET", self.target.base + "/api/events", headers={"Accept": "text/event-stream"})
            response = conn.getresponse()
        except (OSError, http.client.HTTPException) as exc:
            conn.close()
            raise AttachError(f"cannot reach {self.target.url}: {_reason(exc)}") from None
        if response.status != 200:
            text = _error_of(response.read(4096)) or response.reason
            conn.close()
            raise AttachError(f"{self.target.url} refused the event stream: {response.status} {text}")
        if conn.sock is not None:
            conn.sock.settimeout(READ_S)
        self._conn, self._response = conn, response

    # -- the reader -----------------------------------------------------------------------------

    def _read(self) -> None:
        try:
            while True:
                try:
                    reason = self._consume()
                except (OSError, http.client.HTTPException) as exc:
                    reason = _reason(exc)
                if self._final is not None or self.detached:
                    return
                if not self._reconnect():
                    self._final = (None, f"lost the run at {self.target.url}: {reason}")
                    return
        except Exception as exc:  # this thread's last word: the view must still close
            log.exception("the event stream's reader failed")
            if self._final is None:
                self._final = (None, f"reading the run's events failed: {type(exc).__name__}: {exc}")
        finally:
            self._close_stream()
            self._ended.set()

    def _consume(self) -> str:
        """Read events until the stream ends; why it ended (after the run's end: its report)."""
        response = self._response
        assert response is not None  # opened before this thread started, or by _reconnect
        kind, data = "message", []
        while not self.detached:
            line = response.readline(1 << 22)
            if not line:
                return "the server closed the stream"
            line = line.rstrip(b"\r\n")
            if line:
                field, _, value = line.partition(b":")
                value = value[1:] if value.startswith(b" ") else value
                if field == b"event":
                    kind = value.decode("utf-8", "replace")
                elif field == b"data":
                    data.append(value)
                continue
            if data:
                self._event(kind, b"\n".join(data))
                if self._final is not None:
                    return "the run ended"
            kind, data = "message", []
        return "detached"

    def _event(self, kind: str, data: bytes) -> None:
        if kind == "snapshot":
            try:
                self._latest = snapshot_from_json(data)
            except SnapshotJsonError as exc:  # another version of the simulator: say so, stop
                self._final = (None, f"the run's Snapshots cannot be read here: {exc}")
        elif kind == "report":
            report = json.loads(data)
            self._final = (report if isinstance(report, dict) else None, None)
        elif kind == "end":
            self._final = (None, _error_of(data) or "the run stopped without a report")

    def _reconnect(self) -> bool:
        """Open the stream again within ``reconnect_s``; False when it could not be."""
        self._close_stream()
        deadline = time.monotonic() + self.reconnect_s
        while not self.detached and time.monotonic() < deadline:
            try:
                self._open_stream()
                log.info("the event stream of %s is back", self.target.url)
                return True
            except AttachError as exc:
                log.info("reconnecting: %s", exc)
            time.sleep(RETRY_S)
        return False

    def _close_stream(self) -> None:
        conn, self._conn = self._conn, None
        if conn is not None:
            conn.close()

    # -- the sender -----------------------------------------------------------------------------

    def _send(self) -> None:
        while not self.detached:  # past the run's end too: the parent may still go
            if self._parent is not None and os.getppid() != self._parent:
                self.detach("the process that started this view is gone")
            if self._stop_reason is not None and not self._stop_sent:
                self._stop_sent = True
                self._post("stop", self._stop_reason)
            try:
                name, arg = self._commands.get(timeout=POLL_S)
            except queue.Empty:
                continue
            self._post(name, arg)

    def _post(self, name: str, arg: object) -> None:
        body = json.dumps({"command": name, "arg": arg}).encode()
        try:
            status, answer = self._request("POST", "/api/control", body)
        except (OSError, http.client.HTTPException) as exc:
            status, answer = 0, _reason(exc).encode()
        if status != 202:
            line = f"{name} {'' if arg is None else arg}: {status or 'not sent'} {_error_of(answer)}".strip()
            self.refusals.append(line)
            log.warning("the run did not accept %s", line)

    # -- the end --------------------------------------------------------------------------------

    def close(self) -> tuple[dict | None, str | None] | None:
        """Detach (the run goes on), end the stream, join both threads; ``final()``."""
        self.detach()
        conn = self._conn
        if conn is not None and conn.sock is not None:
            try:  # wakes the reader blocked in a read
                conn.sock.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass
        for thread in self._threads:
            thread.join(JOIN_S)
            if thread.is_alive():
                log.error("%s did not end", thread.name)
        return self._final


def _reason(exc: BaseException) -> str:
    if isinstance(exc, ConnectionRefusedError):
        return "connection refused (is the run started with --http?)"
    if isinstance(exc, TimeoutError):
        return "timed out"
    if isinstance(exc, socket.gaierror):
        return f"cannot resolve the host: {exc.strerror}"
    return str(exc) or type(exc).__name__


def _error_of(body: bytes) -> str:
    """The ``error`` of a JSON error body, else the body's start."""
    try:
        data = json.loads(body)
    except ValueError:
        return body[:200].decode("utf-8", "replace").strip()
    return str(data.get("error", "")) if isinstance(data, dict) else ""
