"""The run's HTTP API against real headless runs over loopback: every endpoint, the token, bad
requests, the event stream, the metrics, a busy port, and the run stopping as it does without it.

The runs are real ``simulate.py --headless --http 127.0.0.1:0`` process groups (two tests run a
Simulation in this process: to see its threads end, and to take the port between the check and
the bind); the clients are the standard library's, as a script's would be.
"""

from __future__ import annotations

import http.client
import json
import re
import signal
import socket
import threading
import time
import urllib.error
import urllib.request
from pathlib import Path
from urllib.parse import urlsplit

import pytest
from prometheus_client.parser import text_string_to_metric_families

from simulator.config import SimConfig
from simulator.http_flags import HttpOptions
from simulator.runner import Simulation
from simulator.snapshot_json import snapshot_from_json
from simulator.stats import RunState, Snapshot
from simulator.testing.procs import SimProcess, assert_reconciled
from simulator.testing.waiting import deadline_wait

pytestmark = [pytest.mark.slow, pytest.mark.timeout(150)]

FLAGS = ("--brokers", "2", "--symbols", "AAPL,MSFT,NVDA,TSLA", "--seed", "7")
URL_RE = re.compile(r"API is at (http://\S+) ")
TOKEN_RE = re.compile(r"control token \(Authorization: Bearer \.\.\.\): (\S+)")


# -- a client --------------------------------------------------------------------------------------


def call(url: str, method: str = "GET", body: bytes | None = None, **headers: str):
    """(status, headers, body) of one request; errors are answers too."""
    request = urllib.request.Request(url, data=body, method=method, headers=headers)
    try:
        with urllib.request.urlopen(request, timeout=10) as response:
            return response.status, dict(response.headers), response.read()
    except urllib.error.HTTPError as exc:
        return exc.code, dict(exc.headers), exc.read()


def get_json(url: str):
    status, _headers, body = call(url)
    return status, json.loads(body)


def snapshot(url: str) -> Snapshot:
    status, _headers, body = call(url + "/api/snapshot")
    assert status == 200, body
    return snapshot_from_json(body)


class EventStream:
    """GET /api/events read on a thread: (event, data) pairs in ``events``, ``closed`` when the
    server ended the stream."""

    def __init__(self, url: str) -> None:
        parts = urlsplit(url)
        self.conn = http.client.HTTPConnection(parts.hostname, parts.port, timeout=15)
        self.conn.request("GET", "/api/events")
        self.response = self.conn.getresponse()
        assert self.response.status == 200
        assert self.response.getheader("Content-Type", "").startswith("text/event-stream")
        self.events: list[tuple[str, object]] = []
        self.arrived: list[float] = []
        self.closed = threading.Event()
        self.thread = threading.Thread(target=self._read, daemon=True)
        self.thread.start()

    def _read(self) -> None:
        kind, data = "message", []
        try:
            while True:
                line = self.response.readline()
                if not line:
                    return
                line = line.rstrip(b"\r\n")
                if not line:
                    if data:
                        text = b"\n".join(data)
                        value = snapshot_from_json(text) if kind == "snapshot" else json.loads(text)
                        self.events.append((kind, value))
                        self.arrived.append(time.monotonic())
                    kind, data = "message", []
                elif line.startswith(b"event: "):
                    kind = line[7:].decode()
                elif line.startswith(b"data: "):
                    data.append(line[6:])
        finally:
            self.closed.set()

    def kinds(self) -> list[str]:
        return [k for k, _ in self.events]

    def snapshots(self) -> list[Snapshot]:
        return [v for k, v in self.events if k == "snapshot"]  # type: ignore[misc]

    def close(self) -> None:
        self.conn.close()
        self.thread.join(5)


# -- a run -----------------------------------------------------------------------------------------


def start_run(tmp_path: Path, *flags: str, control: bool = False) -> SimProcess:
    """A run with its API on a free loopback port, once the server listens."""
    http = ("--http", "127.0.0.1:0", *(("--http-control",) if control else ()))
    sim = SimProcess(*FLAGS, *flags, *http, report=tmp_path / "report.json")
    try:
        sim.wait_for(lambda: url_of(sim), 60, "the API's URL")
    except BaseException:
        sim.close()
        raise
    return sim


def url_of(sim: SimProcess) -> str | None:
    found = [m.group(1) for line in sim.stdout if (m := URL_RE.search(line))]
    return found[0] if found else None


def printed_token(sim: SimProcess) -> str | None:
    found = [m.group(1) for line in sim.stdout if (m := TOKEN_RE.search(line))]
    return found[0] if found else None


def wait_placed(url: str, more_than: int) -> Snapshot:
    return deadline_wait(
        lambda: (s := snapshot(url)).orders.placed > more_than and s, 30, f"more than {more_than} placed"
    )


# -- the tests ---------------------------------------------------------------------------------------


def test_every_endpoint_of_a_read_only_run(tmp_path):
    with start_run(tmp_path, "--rate", "20000") as sim:
        url = url_of(sim)
        assert printed_token(sim) is None and "read only" in sim.output()
        first = wait_placed(url, 1000)
        assert first.state == RunState.RUNNING and first.symbols == ("AAPL", "MSFT", "NVDA", "TSLA")

        status, health = get_json(url + "/healthz")
        assert status == 200 and health["status"] == "ok" and health["state"] == "RUNNING"
        status, index = get_json(url + "/")
        assert status == 200 and index["control"] is False and "/metrics" in index["paths"]

        status, headers, body = call(url + "/metrics")
        assert status == 200 and headers["Content-Type"].startswith("text/plain")
        families = {f.name: f for f in text_string_to_metric_families(body.decode())}
        (placed,) = families["sim_orders_placed"].samples
        assert placed.value >= first.orders.placed
        brokers = {s.labels["broker"] for s in families["sim_broker_heartbeat_age_seconds"].samples}
        assert brokers == {"broker-1", "broker-2"}
        assert families["sim_ack_latency_seconds"].type == "histogram"
        assert {"sim_orders_final", "sim_rejects", "sim_orders_in_flight", "sim_broker_inbox_depth"} <= set(
            families
        )

        status, report = get_json(url + "/api/report")
        assert status == 404 and report["state"] == "RUNNING"
        status, missing = get_json(url + "/api/snapshots")
        assert status == 404 and "error" in missing
        status, _headers, body = call(url + "/api/control", "POST", b'{"pause": true}')
        assert status == 404 and "--http-control" in json.loads(body)["error"]
        status, headers, _ = call(url + "/api/snapshot", "DELETE")
        assert status == 405 and headers["Allow"] == "GET"
        for path in ("/healthz", "/api/snapshot", "/metrics", "/api/report", "/nowhere"):
            _status, headers, _ = call(url + path, Origin="http://elsewhere.example")
            assert not [h for h in headers if h.lower().startswith("access-control")], (path, headers)

        stream = EventStream(url)
        try:
            deadline_wait(lambda: len(stream.snapshots()) >= 8, 20, "8 snapshot events")
            sim.signal_group(signal.SIGINT)  # Ctrl-C, as a terminal sends it
            assert stream.closed.wait(30), "the event stream did not end with the run"
        finally:
            stream.close()
        snaps = stream.snapshots()
        assert stream.kinds()[-1] == "report" and stream.kinds().count("report") == 1
        assert all(a.elapsed_s < b.elapsed_s for a, b in zip(snaps, snaps[1:])), "a Snapshot sent twice"
        # the latest Snapshot at each tick: a short drain may fall between two
        assert snaps[0].state == RunState.RUNNING and snaps[-1].state == RunState.STOPPED
        streamed_report = stream.events[-1][1]
        # at most one Snapshot per --ui-hz tick (10 Hz), give or take the first and the state changes
        running = [t for t, s in zip(stream.arrived, snaps) if s.state == RunState.RUNNING]
        assert len(running) <= (running[-1] - running[0]) * 10 + 3

        assert sim.wait_exit(60) == 0, sim.output()
    assert_reconciled(sim.report())
    # what --report wrote, less what Simulation.finish_report adds after the run (log, journal)
    served = streamed_report
    written = sim.report()
    assert served == {k: v for k, v in written.items() if k in served} and served["exit_code"] == 0
    assert set(written) - set(served) <= {"log", "journal"}
    assert served["orders"]["lost"] == 0


def test_control_needs_the_token_and_applies_each_command(tmp_path, monkeypatch):
    monkeypatch.setenv("SIM_HTTP_TOKEN", "token-from-the-environment")
    with start_run(tmp_path, "--rate", "20000", control=True) as sim:
        url = url_of(sim)
        assert printed_token(sim) == "token-from-the-environment"
        auth = {"Authorization": "Bearer token-from-the-environment"}

        def control(body: object, **headers: str):
            data = body if isinstance(body, bytes) else json.dumps(body).encode()
            status, _h, answer = call(url + "/api/control", "POST", data, **headers)
            return status, json.loads(answer)

        wait_placed(url, 1000)
        for headers in (
            {},
            {"Authorization": "Bearer nope"},
            {"Authorization": "token-from-the-environment"},
        ):
            status, answer = control({"pause": True}, **headers)
            assert status == 401, (headers, answer)
        assert snapshot(url).state == RunState.RUNNING
        for body, field in (
            (b"pause", "body"),
            ({"rate": "fast"}, "rate"),
            ({"rate": -1}, "rate"),
            ({"select": "ZZZZ"}, "select"),
            ({"command": "kill", "arg": "broker-9"}, "arg"),
            ({"pause": True, "resume": True}, "resume"),
        ):
            status, answer = control(body, **auth)
            assert (status, answer.get("field")) == (400, field), (body, answer)
        status, _ = control(b'{"stop": "' + b"x" * 5000 + b'"}', **auth)
        assert status == 413

        assert control({"pause": True}, **auth)[0] == 202
        paused = deadline_wait(lambda: (s := snapshot(url)).state == RunState.PAUSED and s, 10, "PAUSED")
        deadline_wait(lambda: snapshot(url).orders.in_flight == 0, 10, "everything answered")
        held = snapshot(url).orders.placed
        deadline_wait(lambda: snapshot(url).elapsed_s > paused.elapsed_s + 0.5, 10, "half a second")
        assert snapshot(url).orders.placed == held, "orders placed while paused"
        assert control({"command": "resume"}, **auth)[0] == 202
        wait_placed(url, held + 1000)

        assert control({"rate": 5000}, **auth)[0] == 202
        deadline_wait(lambda: snapshot(url).rate == 5000.0, 10, "rate 5000")
        assert control({"command": "select", "arg": "TSLA"}, **auth)[0] == 202
        deadline_wait(lambda: snapshot(url).selected_symbol == "TSLA", 10, "TSLA selected")
        assert control({"kill": "broker-1"}, **auth)[0] == 202

        def restarted() -> bool:
            rows = {p.name: p for p in snapshot(url).processes}
            return rows["broker-1"].restarts == 1 and rows["broker-1"].state == "RUNNING"

        deadline_wait(restarted, 30, "broker-1 killed and restarted")
        before = snapshot(url).orders.placed
        wait_placed(url, before + 1000)
        status, answer = control({"stop": "stopped by the HTTP test"}, **auth)
        assert status == 202 and answer["accepted"]["arg"] == "stopped by the HTTP test"
        assert sim.wait_exit(60) == 0, sim.output()
    report = sim.report()
    assert_reconciled(report)
    assert report["stop_reason"] == "stopped by the HTTP test"


@pytest.mark.parametrize("how", ["ctrl-c", "sigterm", "orders"])
def test_the_run_stops_as_it_does_without_the_server_with_clients_connected(tmp_path, how):
    flags = ("--rate", "0", "--orders", "100000") if how == "orders" else ("--rate", "0")
    with start_run(tmp_path, *flags) as sim:
        url = url_of(sim)
        idle = http.client.HTTPConnection(urlsplit(url).hostname, urlsplit(url).port, timeout=10)
        idle.request("GET", "/healthz")
        idle.getresponse().read()  # a keep-alive connection left open, as a scraper's is
        stream = EventStream(url)
        try:
            wait_placed(url, 20_000)
            stopped_at = time.monotonic()
            if how == "ctrl-c":
                sim.signal_group(signal.SIGINT)
            elif how == "sigterm":
                sim.signal_bank(signal.SIGTERM)
            assert sim.wait_exit(60) == 0, sim.output()
            took = time.monotonic() - stopped_at
            assert stream.closed.wait(10)
        finally:
            stream.close()
            idle.close()
        assert stream.kinds()[-1] == "report"
        assert not sim.wait_group_gone(5), "a process outlived the run"
    report = sim.report()
    assert_reconciled(report)
    if how == "orders":
        assert report["orders"]["placed"] == 100_000 and "order limit" in report["stop_reason"]
    else:
        assert took < SimConfig().stop_timeout, f"{took:.1f} s to stop"


def test_a_busy_port_is_refused_before_anything_starts(tmp_path):
    with socket.socket() as held:
        held.bind(("127.0.0.1", 0))
        held.listen()
        port = held.getsockname()[1]
        with SimProcess(*FLAGS, "--http", f"127.0.0.1:{port}") as sim:
            assert sim.wait_exit(60) == 2, sim.output()
            assert not sim.broker_pids()
        assert (
            "".join(sim.stderr).strip()
            == f"simulate.py: error: argument --http: port {port} on 127.0.0.1 is in use"
        )


def test_a_port_taken_after_the_check_fails_the_run_cleanly():
    """The port is free when the flags are checked and taken before the server binds: the run
    stops with the reason (a fatal stop, every order answered), never os._exit(70)."""
    with socket.socket() as held:
        held.bind(("127.0.0.1", 0))
        held.listen()
        port = held.getsockname()[1]
        config = SimConfig(brokers=2, symbols=("AAPL", "MSFT"), rate=5000, seed=3, headless=True)
        sim = Simulation(config, http=HttpOptions(port=port))
        outcome = []
        runner = threading.Thread(target=lambda: outcome.append(sim.run()))
        runner.start()
        runner.join(60)
    assert outcome, "the run did not stop"
    assert outcome[0].exit_code == 1
    assert "cannot listen" in outcome[0].stop_reason and outcome[0].snapshot.orders.lost == 0


def test_a_run_in_this_process_leaves_no_thread_behind():
    before = set(threading.enumerate())
    config = SimConfig(brokers=2, symbols=("AAPL", "MSFT"), rate=20_000, orders=40_000, seed=5, headless=True)
    sim = Simulation(config, http=HttpOptions(port=0, linger_s=3.0))
    server = sim.http
    assert server is not None
    outcome = []
    runner = threading.Thread(target=lambda: outcome.append(sim.run()))
    runner.start()
    try:
        deadline_wait(lambda: server.running, 30, "the server")
        stream = EventStream(server.url)
        deadline_wait(lambda: snapshot(server.url).orders.placed > 0, 30, "orders")
        assert stream.closed.wait(60) and stream.kinds()[-1] == "report"
        stream.close()
        status, served = get_json(server.url + "/api/report")  # while the server lingers after the run
        assert status == 200 and served == stream.events[-1][1] and served["exit_code"] == 0
    finally:
        runner.join(60)
    assert outcome and outcome[0].exit_code == 0 and outcome[0].reconciliation.ok
    assert outcome[0].snapshot.orders.lost == 0

    def new_threads() -> list[str]:
        return [t.name for t in threading.enumerate() if t not in before]

    deadline_wait(
        lambda: not new_threads(), 10, "every thread of the run to end", detail=lambda: str(new_threads())
    )
