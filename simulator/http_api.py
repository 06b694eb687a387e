"""The HTTP API of a run: a small WSGI app that reads the latest Snapshot and nothing else.

    GET  /healthz        {"status": "ok", ...}; 503 "stalled" when the bank published nothing
                         for STALLED_S
    GET  /api/snapshot   the latest Snapshot as JSON (simulator.snapshot_json)
    GET  /api/events     Server-Sent Events: "snapshot" events, one per --ui-hz tick, then one
                         "report" event (or "end" with an error) when the run has stopped
    GET  /api/report     the final report once the run has stopped; 404 before
    GET  /metrics        Prometheus exposition (simulator.http_metrics)
    POST /api/control    one command of simulator.control.COMMANDS, with the bearer token;
                         404 unless control is on
    GET  /               the list above, as JSON

The bank's thread writes a ``Feed`` (the latest ``Published`` Snapshot, at the end the report);
the server's threads only read it, so a request never waits for the bank and never touches
the ledger. A Snapshot is encoded once, whoever asks for it. A command is checked here against
``COMMANDS`` and the Snapshot (a symbol the run trades, a broker it has) and handed to
``submit``, which queues it for the bank's next tick: a 202 means accepted, not yet applied.

Every answer but the events and the metrics is JSON, errors too (``{"error": ..., "field": ...}``);
no CORS header is sent, so a browser page from elsewhere cannot read the API; request bodies
are capped at MAX_BODY bytes.
"""

from __future__ import annotations

import hmac
import json
import logging
import math
import threading
import time
from collections.abc import Callable, Iterable, Iterator
from typing import Any

from prometheus_client.exposition import choose_encoder
from prometheus_client.registry import CollectorRegistry

from simulator.control import COMMANDS, BadCommand, checked
from simulator.http_metrics import Published
from simulator.outside_ids import YOU, source_of
from simulator.own_order import BadOrder, check_order, not_yours, your_id
from simulator.snapshot_json import snapshot_to_json
from simulator.stats import RunState, Snapshot

MAX_BODY = 4096  # bytes of a control request; the longest real one is under 100
STALLED_S = 5.0  # /healthz: no Snapshot for this long means the bank's loop is stuck
MAX_REASON = 200  # characters of a stop reason
JSON = "application/json"

log = logging.getLogger("http")

StartResponse = Callable[..., Any]


class Feed:
    """What the bank's thread hands the server's threads. Attribute writes only (atomic in
    Python): the bank never waits for a lock a request holds."""

    def __init__(self) -> None:
        self.latest: Published | None = None
        self.report: dict | None = None
        self.end_error: str | None = None  # the run stopped without a report to show
        self.ended = threading.Event()  # the run has stopped: streams send the report and end
        self._encoded: tuple[Snapshot, bytes] | None = None
        self._lock = threading.Lock()
        self.streams = 0  # event streams open now

    def publish(self, published: Published) -> None:
        self.latest = published

    def end(self, report: dict | None, error: str | None = None) -> None:
        self.report, self.end_error = report, error
        self.ended.set()

    def snapshot_json(self, snapshot: Snapshot) -> bytes:
        encoded = self._encoded
        if encoded is None or encoded[0] is not snapshot:
            encoded = self._encoded = (snapshot, snapshot_to_json(snapshot))
        return encoded[1]

    def open_stream(self, most: int) -> bool:
        with self._lock:
            if self.streams >= most:
                return False
            self.streams += 1
            return True

    def close_stream(self) -> None:
        with self._lock:
            self.streams -= 1


class BadRequest(ValueError):
    """A control body that names no command it may: the message says why, ``field`` where."""

    def __init__(self, field: str, message: str) -> None:
        super().__init__(message)
        self.field = field


def parse_command(body: bytes, snapshot: Snapshot | None) -> tuple[str, object]:
    """(name, argument) of a control body, checked; BadRequest naming the field if not.

    Two forms: ``{"rate": 5000}`` (a command's name and its argument; ``true`` or null for the
    commands that take none) and ``{"command": "select", "arg": "MSFT"}``."""
    try:
        data = json.loads(body)
    except ValueError as exc:
        raise BadRequest("body", f"the body is not JSON: {exc}") from None
    if not isinstance(data, dict) or not data:
        raise BadRequest("body", 'the body must be a JSON object naming one command, e.g. {"pause": true}')
    if "command" in data:
        extra = sorted(set(data) - {"command", "arg"})
        if extra:
            raise BadRequest(extra[0], f"unknown field {extra[0]!r}: only 'command' and 'arg'")
        name, arg, arg_field = data["command"], data.get("arg"), "arg"
        if not isinstance(name, str) or name not in COMMANDS:
            raise BadRequest("command", f"unknown command {name!r:.40}; one of {', '.join(COMMANDS)}")
    else:
        if len(data) > 1:
            second = sorted(data)[1]
            raise BadRequest(second, f"one command per request, not {', '.join(sorted(data))}")
        ((name, arg),) = data.items()
        arg_field = name
        if name not in COMMANDS:
            raise BadRequest(name, f"unknown command {name!r:.40}; one of {', '.join(COMMANDS)}")
    if COMMANDS[name] is None and arg is not None and arg is not True:
        raise BadRequest(arg_field, f'{name} takes no value: send {{"{name}": true}}')
    if name == "stop" and (arg is None or arg is True):
        arg = "stop asked over HTTP"
    if name == "cancel":
        try:
            arg = your_id(arg)  # '#you3' as the views write it, or the id
        except BadOrder as exc:
            raise BadRequest(arg_field, exc.reason) from None
    try:
        name, arg = checked(name, arg)
    except BadCommand as exc:
        raise BadRequest(arg_field, str(exc)) from None
    _check_value(name, arg, arg_field, snapshot)
    return name, arg


def _check_value(name: str, arg: object, field: str, snapshot: Snapshot | None) -> None:
    if name == "rate" and not (isinstance(arg, float) and math.isfinite(arg) and arg >= 0):
        raise BadRequest(field, f"rate must be a finite number >= 0 (0 = as fast as possible), not {arg!r}")
    if name == "stop" and not (isinstance(arg, str) and 0 < len(arg) <= MAX_REASON):
        raise BadRequest(field, f"a stop reason is 1 to {MAX_REASON} characters")
    if name in ("kill_switch", "release") and not (isinstance(arg, int) and arg >= -1):
        raise BadRequest(field, f"{name} takes an account number, or -1 for every account, not {arg!r}")
    if name == "tape" and arg not in ("all", "watched"):
        raise BadRequest(field, f'the tape is "all" (every symbol, sampled) or "watched", not {arg!r:.40}')
    if name == "cancel" and source_of(arg) != YOU:  # type: ignore[arg-type]
        raise BadRequest(field, not_yours(arg))
    if snapshot is None:
        return
    yours = snapshot.you.account if snapshot.you is not None else None  # one beyond the flow's
    if name in ("kill_switch", "release") and 0 < snapshot.accounts_count <= arg != yours:  # type: ignore[operator]
        most = snapshot.accounts_count - 1
        raise BadRequest(field, f"account {arg} is not one of this run's (0 to {most:,}, or -1 for all)")
    if name == "order":
        try:
            check_order(arg, snapshot.symbols)
        except BadOrder as exc:  # refused here, with the reason: nothing is sent
            raise BadRequest(f"{field}.{exc.field}", exc.reason) from None
    if name == "select" and arg not in snapshot.symbols:
        raise BadRequest(field, f"{arg!r:.40} is not a symbol of this run")
    if name == "kill":
        brokers = [p.name for p in snapshot.processes if p.name != "bank"]
        if arg not in brokers:
            raise BadRequest(field, f"{arg!r:.40} is not a broker of this run; one of {', '.join(brokers)}")


class Api:
    """The WSGI app. ``submit`` (None: control is off) queues a checked command for the bank;
    ``token`` is what the Authorization header must carry with it."""

    ROUTES = {
        "/": ("GET",),
        "/healthz": ("GET",),
        "/api/snapshot": ("GET",),
        "/api/events": ("GET",),
        "/api/report": ("GET",),
        "/metrics": ("GET",),
        "/api/control": ("POST",),
    }

    def __init__(
        self,
        feed: Feed,
        metrics: CollectorRegistry,
        *,
        ui_hz: float = 10.0,
        submit: Callable[[str, object], None] | None = None,
        token: str | None = None,
        max_streams: int = 4,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        if submit is not None and not token:
            raise ValueError("control needs a token")
        self.feed = feed
        self.metrics = metrics
        self.period = 1.0 / ui_hz
        self.submit = submit
        self._token = (token or "").encode()
        self.max_streams = max_streams
        self.clock = clock

    def __call__(self, environ: dict, start_response: StartResponse) -> Iterable[bytes]:
        path = environ.get("PATH_INFO") or "/"
        method = environ.get("REQUEST_METHOD", "GET")
        allowed = self.ROUTES.get(path)
        try:
            if allowed is None:
                return _json(
                    start_response, 404, {"error": f"no such path: {path[:100]}", "paths": list(self.ROUTES)}
                )
            if method not in allowed:
                return _json(
                    start_response,
                    405,
                    {"error": f"{path} takes {' or '.join(allowed)}, not {method[:10]}"},
                    [("Allow", ", ".join(allowed))],
                )
            handler = getattr(self, "_" + (path.strip("/").replace("/", "_") or "index"))
            result: Iterable[bytes] = handler(environ, start_response)
            return result
        except Exception as exc:
            log.exception("%s %s failed", method, path[:100])
            return _json(start_response, 500, {"error": f"internal error: {type(exc).__name__}"})

    # -- reading ------------------------------------------------------------------------------

    def _index(self, _environ: dict, start_response: StartResponse) -> Iterable[bytes]:
        paths = {p: m[0] for p, m in self.ROUTES.items() if p != "/"}
        return _json(start_response, 200, {"paths": paths, "control": self.submit is not None})

    def _healthz(self, _environ: dict, start_response: StartResponse) -> Iterable[bytes]:
        published = self.feed.latest
        if published is None:
            return _json(start_response, 503, {"status": "starting"})
        age = self.clock() - published.at
        stalled = age > STALLED_S and not self.feed.ended.is_set()
        body = {
            "status": "stalled" if stalled else "ok",
            "state": published.snapshot.state.value,
            "snapshot_age_s": round(age, 3),
        }
        return _json(start_response, 503 if stalled else 200, body)

    def _api_snapshot(self, _environ: dict, start_response: StartResponse) -> Iterable[bytes]:
        published = self.feed.latest
        if published is None:
            return _json(start_response, 503, {"error": "no Snapshot yet"})
        return _send(start_response, 200, JSON, self.feed.snapshot_json(published.snapshot))

    def _api_report(self, _environ: dict, start_response: StartResponse) -> Iterable[bytes]:
        feed = self.feed
        if feed.report is None:
            state = feed.latest.snapshot.state.value if feed.latest else "STARTING"
            error = feed.end_error or "the run has not ended yet"
            return _json(start_response, 404, {"error": error, "state": state})
        return _json(start_response, 200, feed.report)

    def _metrics(self, environ: dict, start_response: StartResponse) -> Iterable[bytes]:
        encoder, content_type = choose_encoder(environ.get("HTTP_ACCEPT", ""))
        return _send(start_response, 200, content_type, encoder(self.metrics))

    def _api_events(self, _environ: dict, start_response: StartResponse) -> Iterable[bytes]:
        if not self.feed.open_stream(self.max_streams):
            return _json(start_response, 503, {"error": f"at most {self.max_streams} event streams at once"})
        start_response(
            "200 OK",
            [
                ("Content-Type", "text/event-stream; charset=utf-8"),
                ("Cache-Control", "no-cache"),
                ("X-Accel-Buffering", "no"),  # a proxy in front must not hold events back
            ],
        )
        return self._events()

    def _events(self) -> Iterator[bytes]:
        """One Snapshot per tick (if a new one was published), the report at the end."""
        feed = self.feed
        sent: Snapshot | None = None
        try:
            yield b"retry: 2000\n\n"
            while True:
                ended = feed.ended.is_set()  # before reading: the last Snapshot precedes the end
                published = feed.latest
                if published is not None and published.snapshot is not sent:
                    sent = published.snapshot
                    yield b"event: snapshot\ndata: " + feed.snapshot_json(sent) + b"\n\n"
                if ended:
                    if feed.report is not None:
                        yield b"event: report\ndata: " + _dumps(feed.report) + b"\n\n"
                    else:
                        error = feed.end_error or "the run stopped"
                        yield b"event: end\ndata: " + _dumps({"error": error}) + b"\n\n"
                    return
                feed.ended.wait(self.period)
        finally:
            feed.close_stream()

    # -- control ------------------------------------------------------------------------------

    def _api_control(self, environ: dict, start_response: StartResponse) -> Iterable[bytes]:
        if self.submit is None:
            return _json(start_response, 404, {"error": "control is off: start the run with --http-control"})
        if not self._authorized(environ.get("HTTP_AUTHORIZATION", "")):
            return _json(
                start_response,
                401,
                {"error": "control needs 'Authorization: Bearer <token>' with the run's token"},
                [("WWW-Authenticate", 'Bearer realm="simulate"')],
            )
        body = _read_body(environ)
        if body is None:
            return _json(
                start_response, 413, {"error": f"the body is over {MAX_BODY} bytes", "field": "body"}
            )
        published = self.feed.latest
        snapshot = published.snapshot if published else None
        try:
            name, arg = parse_command(body, snapshot)
        except BadRequest as exc:
            return _json(start_response, 400, {"error": str(exc), "field": exc.field})
        if self.feed.ended.is_set() or (snapshot and snapshot.state in (RunState.STOPPING, RunState.STOPPED)):
            return _json(
                start_response, 409, {"error": "the run is stopping: commands are no longer applied"}
            )
        self.submit(name, arg)
        return _json(start_response, 202, {"accepted": {"command": name, "arg": arg}})

    def _authorized(self, header: str) -> bool:
        scheme, _, token = header.partition(" ")
        # compare_digest: how long the comparison takes says nothing about the token
        return scheme.lower() == "bearer" and hmac.compare_digest(token.strip().encode(), self._token)


def _read_body(environ: dict) -> bytes | None:
    """The request body, or None when it is over MAX_BODY (not read further)."""
    stream = environ.get("wsgi.input")
    length = environ.get("CONTENT_LENGTH") or ""
    if length.strip().isdigit():
        if int(length) > MAX_BODY:
            return None
        data: bytes = stream.read(int(length)) if stream is not None else b""
        return data
    if "chunked" not in environ.get("HTTP_TRANSFER_ENCODING", "").lower() or stream is None:
        return b""
    data = stream.read(MAX_BODY + 1)
    return None if len(data) > MAX_BODY else data


def _dumps(value: object) -> bytes:
    return json.dumps(value, separators=(",", ":")).encode()


def _json(
    start_response: StartResponse, status: int, body: object, headers: list[tuple[str, str]] | None = None
) -> list[bytes]:
    return _send(start_response, status, JSON, _dumps(body), headers)


_REASONS = {
    200: "OK",
    202: "Accepted",
    400: "Bad Request",
    401: "Unauthorized",
    404: "Not Found",
    405: "Method Not Allowed",
    409: "Conflict",
    413: "Content Too Large",
    500: "Internal Server Error",
    503: "Service Unavailable",
}


def _send(
    start_response: StartResponse,
    status: int,
    content_type: str,
    data: bytes,
    headers: list[tuple[str, str]] | None = None,
) -> list[bytes]:
    start_response(
        f"{status} {_REASONS[status]}",
        [
            ("Content-Type", content_type),
            ("Content-Length", str(len(data))),
            ("Cache-Control", "no-store"),
            *(headers or []),
        ],
    )
    return [data]
