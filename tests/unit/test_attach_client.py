"""simulator.attach.AttachedRun against a small stand-in server on loopback: the event stream
parsed, a dropped stream reconnected, the report kept, commands sent with the token (and never
without one), both threads joined, a lost run said."""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Iterator
from dataclasses import replace
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest

from simulator.attach import AttachedRun, AttachError, parse_url
from simulator.snapshot_json import snapshot_to_json
from simulator.stats import RunState
from simulator.testing.dashboard import build_snapshot
from simulator.testing.waiting import deadline_wait

pytestmark = pytest.mark.timeout(60)

TOKEN = "unit-token"


class StandIn:
    """Answers as a run's API does: GET /, POST /api/control, GET /api/events (each connection
    gets the next script of ``streams``: a list of (event, data) then the stream ends)."""

    def __init__(self, streams: list[list[tuple[str, bytes]]], *, control: bool = True) -> None:
        self.streams = streams
        self.control = control
        self.posted: list[tuple[str | None, dict]] = []
        self.connections = 0
        stand_in = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, *args: object) -> None:
                pass

            def send(self, status: int, body: object) -> None:
                data = json.dumps(body).encode()
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

            def do_GET(self) -> None:  # noqa: N802 -- http.server's name
                if self.path == "/":
                    self.send(200, {"paths": {"/api/events": "GET"}, "control": stand_in.control})
                    return
                script = stand_in.streams[min(stand_in.connections, len(stand_in.streams) - 1)]
                stand_in.connections += 1
                self.send_response(200)
                self.send_header("Content-Type", "text/event-stream")
                self.send_header("Connection", "close")
                self.end_headers()
                self.close_connection = True
                try:
                    self.wfile.write(b"retry: 2000\n\n")
                    for kind, data in script:
                        self.wfile.write(b"event: " + kind.encode() + b"\ndata: " + data + b"\n\n")
                        self.wfile.flush()
                        time.sleep(0.05)
                except (BrokenPipeError, ConnectionResetError):
                    pass  # the client under test hung up mid-stream, as a client may

            def do_POST(self) -> None:  # noqa: N802
                body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
                auth = self.headers.get("Authorization")
                if auth != f"Bearer {TOKEN}":
                    self.send(401, {"error": "no"})
                elif not body:
                    self.send(400, {"error": "the body must name a command", "field": "body"})
                else:
                    stand_in.posted.append((auth, body))
                    self.send(202, {"accepted": body})

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"
        self.thread = threading.Thread(target=self.server.serve_forever, kwargs={"poll_interval": 0.05})
        self.thread.start()

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()
        self.thread.join(5)


@pytest.fixture
def stand_in() -> Iterator[list[StandIn]]:
    made: list[StandIn] = []
    yield made
    for server in made:
        server.close()


def serve(made: list[StandIn], *streams: list[tuple[str, bytes]], control: bool = True) -> StandIn:
    server = StandIn(list(streams), control=control)
    made.append(server)
    return server


def snap(elapsed: float, state: RunState = RunState.RUNNING) -> bytes:
    return snapshot_to_json(replace(build_snapshot(), elapsed_s=elapsed, state=state))


REPORT = {"exit_code": 0, "stop_reason": "signal SIGINT"}


def test_snapshots_then_the_report_and_a_dropped_stream_is_picked_up_again(stand_in):
    first = [("snapshot", snap(1.0)), ("snapshot", snap(1.1))]  # then the connection drops
    second = [
        ("snapshot", snap(2.0)),
        ("snapshot", snap(2.1, RunState.STOPPED)),
        ("report", json.dumps(REPORT).encode()),
    ]
    server = serve(stand_in, first, second)
    before = set(threading.enumerate())
    run = AttachedRun(parse_url(server.url), reconnect_s=5)
    run.connect()
    try:
        assert run.wait_stopped(10), "the report did not come"
        assert run.final() == (REPORT, None)
        assert run.snapshot().state == RunState.STOPPED and run.snapshot().elapsed_s == 2.1
        assert server.connections == 2
    finally:
        run.close()
    assert not [t for t in threading.enumerate() if t not in before and t.name.startswith("attach")], (
        "a thread outlived close"
    )


def test_an_end_event_is_the_reason_there_is_no_report(stand_in):
    server = serve(stand_in, [("snapshot", snap(1.0)), ("end", b'{"error": "the report could not be made"}')])
    run = AttachedRun(parse_url(server.url))
    run.connect()
    try:
        assert run.wait_stopped(10)
        assert run.final() == (None, "the report could not be made")
    finally:
        run.close()


def test_a_run_that_goes_away_is_lost_after_the_reconnect_deadline(stand_in):
    server = serve(stand_in, [("snapshot", snap(1.0))])
    run = AttachedRun(parse_url(server.url), reconnect_s=0.6)
    run.connect()
    deadline_wait(lambda: run.snapshot() is not None, 10, "a snapshot")
    server.close()
    stand_in.remove(server)
    try:
        assert run.wait_stopped(15)
        report, error = run.final()
        assert report is None and error.startswith(f"lost the run at {server.url}: ")
    finally:
        run.close()


def test_commands_go_with_the_token_and_a_refused_one_is_kept(stand_in):
    server = serve(stand_in, [("snapshot", snap(1.0))] * 200)
    run = AttachedRun(parse_url(server.url), TOKEN)
    run.connect()
    try:
        assert run.read_only is None
        run.command("pause")
        run.command("rate", 500.0)
        run.request_stop("enough")
        deadline_wait(lambda: len(server.posted) == 3, 10, "three commands")
        bodies = sorted(json.dumps(body) for _auth, body in server.posted)
        assert bodies == sorted(
            json.dumps(b)
            for b in (
                {"command": "pause", "arg": None},
                {"command": "rate", "arg": 500.0},
                {"command": "stop", "arg": "enough"},
            )
        )
    finally:
        run.close()


def test_without_a_token_nothing_is_sent(stand_in):
    server = serve(stand_in, [("snapshot", snap(1.0))] * 100)
    run = AttachedRun(parse_url(server.url))
    run.connect()
    try:
        assert run.read_only and "no token" in run.read_only
        run.command("pause")
        run.request_stop("no")
        time.sleep(0.5)
        assert server.posted == []
    finally:
        run.close()


def test_a_token_on_a_run_without_control_is_read_only(stand_in):
    server = serve(stand_in, [("snapshot", snap(1.0))] * 100, control=False)
    run = AttachedRun(parse_url(server.url), TOKEN)
    run.connect()
    try:
        assert "without --http-control" in (run.read_only or "")
    finally:
        run.close()


def test_a_refused_token_is_an_error_before_anything_starts(stand_in):
    server = serve(stand_in, [("snapshot", snap(1.0))])
    run = AttachedRun(parse_url(server.url), "wrong")
    with pytest.raises(AttachError) as exc:
        run.connect()
    assert str(exc.value) == f"the run at {server.url} refused the token" and exc.value.status == 1
    run.close()


def test_detach_ends_the_view_and_leaves_no_thread(stand_in):
    server = serve(stand_in, [("snapshot", snap(1.0))] * 1000)
    before = set(threading.enumerate())
    run = AttachedRun(parse_url(server.url))
    run.connect()
    deadline_wait(lambda: run.snapshot() is not None, 10, "a snapshot")
    run.detach("a signal")
    assert run.detached and run.final() is None
    run.close()
    assert not [t for t in threading.enumerate() if t not in before and t.name.startswith("attach")]
