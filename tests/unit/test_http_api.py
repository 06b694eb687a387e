"""The HTTP API's rules, on the WSGI app itself: paths, the token, bodies, events, metrics."""

from __future__ import annotations

import io
import json
import socket
from wsgiref.util import setup_testing_defaults

import pytest
from prometheus_client.parser import text_string_to_metric_families

from simulator.http_api import MAX_BODY, STALLED_S, Api, Feed, parse_command
from simulator.http_flags import check_bind, control_token, is_loopback, parse_address
from simulator.http_metrics import Published, cumulative, freeze, registry
from simulator.snapshot_json import snapshot_from_json
from simulator.stats import LatencyHistogram, RunState
from simulator.testing.dashboard import build_snapshot

pytestmark = pytest.mark.timeout(60)

TOKEN = "s3cret-token"


class Client:
    """Calls the app as cheroot would; the commands it queued are in ``submitted``."""

    def __init__(self, *, control: bool = True, ui_hz: float = 50.0) -> None:
        self.feed = Feed()
        self.submitted: list[tuple[str, object]] = []
        self.now = 1000.0
        self.api = Api(
            self.feed,
            registry(lambda: self.feed.latest),
            ui_hz=ui_hz,
            submit=(lambda n, a: self.submitted.append((n, a))) if control else None,
            token=TOKEN if control else None,
            clock=lambda: self.now,
        )
        self.publish()

    def publish(self, **changes) -> None:
        hist = LatencyHistogram()
        for v in (30, 400, 4_000, 40_000):
            hist.record(v, 10)
        self.feed.publish(Published(build_snapshot(**changes), self.now, freeze(hist), freeze(hist)))

    def request(self, method: str, path: str, body: bytes = b"", **headers: str):
        environ: dict = {"REQUEST_METHOD": method, "PATH_INFO": path}
        setup_testing_defaults(environ)
        environ["wsgi.input"] = io.BytesIO(body)
        environ["CONTENT_LENGTH"] = str(len(body))
        environ.update({f"HTTP_{k.upper()}": v for k, v in headers.items()})
        seen = {}

        def start_response(status, response_headers, exc_info=None):
            seen["status"] = int(status.split()[0])
            seen["headers"] = dict(response_headers)

        chunks = self.api(environ, start_response)
        return seen["status"], seen["headers"], chunks

    def get(self, path: str, **headers: str):
        status, headers_, chunks = self.request("GET", path, **headers)
        return status, headers_, b"".join(chunks)

    def control(self, body: object, token: str | None = TOKEN):
        data = body if isinstance(body, bytes) else json.dumps(body).encode()
        auth = {"authorization": f"Bearer {token}"} if token else {}
        status, _headers, chunks = self.request("POST", "/api/control", data, **auth)
        return status, json.loads(b"".join(chunks))


# -- reading ----------------------------------------------------------------------------------------


def test_the_snapshot_endpoint_serves_the_latest_snapshot_as_json():
    client = Client()
    status, headers, body = client.get("/api/snapshot")
    assert status == 200 and headers["Content-Type"] == "application/json"
    assert snapshot_from_json(body) == client.feed.latest.snapshot
    assert not any(k.lower().startswith("access-control") for k in headers)


def test_unknown_paths_and_wrong_methods_answer_json():
    client = Client()
    status, _, body = client.get("/api/nothing")
    assert status == 404 and "/api/snapshot" in json.loads(body)["paths"]
    status, headers, chunks = client.request("POST", "/api/snapshot")
    assert status == 405 and headers["Allow"] == "GET" and "error" in json.loads(b"".join(chunks))
    status, headers, _ = client.request("GET", "/api/control")
    assert status == 405 and headers["Allow"] == "POST"


def test_the_report_is_404_until_the_run_has_ended():
    client = Client()
    status, _, body = client.get("/api/report")
    assert status == 404 and json.loads(body)["state"] == "RUNNING"
    client.feed.end({"exit_code": 0, "orders": {"lost": 0}})
    status, _, body = client.get("/api/report")
    assert status == 200 and json.loads(body)["exit_code"] == 0


def test_healthz_says_stalled_when_the_bank_has_published_nothing_for_a_while():
    client = Client()
    status, _, body = client.get("/healthz")
    assert status == 200 and json.loads(body)["status"] == "ok"
    client.now += STALLED_S + 1
    status, _, body = client.get("/healthz")
    assert status == 503 and json.loads(body)["status"] == "stalled"


def test_metrics_parse_as_prometheus_text_with_counts_from_the_snapshot():
    client = Client()
    status, headers, body = client.get("/metrics")
    assert status == 200 and headers["Content-Type"].startswith("text/plain")
    families = {f.name: f for f in text_string_to_metric_families(body.decode())}
    snapshot = client.feed.latest.snapshot

    def value(name: str, **labels: str) -> float:
        (sample,) = [
            s for s in families[name].samples if s.name.endswith(("_total", "")) and s.labels == labels
        ]
        return sample.value

    assert value("sim_orders_placed") == snapshot.orders.placed
    assert value("sim_orders_final", state="filled") == snapshot.orders.filled
    assert value("sim_orders_in_flight") == snapshot.orders.in_flight
    assert value("sim_run_state", state="RUNNING") == 1
    assert value("sim_broker_inbox_depth", broker="broker-1") == 40_960
    assert value("sim_broker_heartbeat_age_seconds", broker="broker-1") == pytest.approx(12.7)
    hist = families["sim_ack_latency_seconds"]
    assert hist.type == "histogram"
    count = [s for s in hist.samples if s.name.endswith("_count")]
    assert count[0].value == 40


def test_latency_buckets_are_cumulative_and_each_latency_counts_at_or_above_its_bound():
    hist = LatencyHistogram()
    for v in (10, 49, 120, 900, 20_000_000):
        hist.record(v)
    le, total = cumulative(freeze(hist))
    counts = dict(le)
    assert counts["5e-05"] == 2 and counts["0.00025"] == 3 and counts["0.001"] == 4
    assert counts["10.0"] == 4 and counts["+Inf"] == 5
    assert list(counts.values()) == sorted(counts.values())
    assert total == pytest.approx(sum((10, 49, 120, 900, 20_000_000)) / 1e6, rel=0.04)


def test_the_event_stream_sends_each_new_snapshot_then_the_report_and_ends():
    client = Client(ui_hz=100)
    status, headers, chunks = client.request("GET", "/api/events")
    assert status == 200 and headers["Content-Type"].startswith("text/event-stream")
    stream = iter(chunks)
    assert next(stream).startswith(b"retry:")
    first = next(stream)
    assert first.startswith(b"event: snapshot\ndata: ") and first.endswith(b"\n\n")
    client.publish(state=RunState.STOPPING)
    second = next(stream)
    assert snapshot_from_json(second.split(b"data: ", 1)[1]).state == RunState.STOPPING
    client.publish(state=RunState.STOPPED)
    client.feed.end({"exit_code": 0})
    rest = list(stream)
    assert [c.split(b"\n")[0] for c in rest] == [b"event: snapshot", b"event: report"]
    assert json.loads(rest[-1].split(b"data: ", 1)[1]) == {"exit_code": 0}
    assert client.feed.streams == 0


def test_event_streams_are_capped_and_a_closed_one_frees_its_place():
    client = Client()
    streams = [client.request("GET", "/api/events")[2] for _ in range(client.api.max_streams)]
    for s in streams:
        next(iter(s))
    assert client.get("/api/events")[0] == 503
    streams[0].close()  # the client went away: cheroot closes the iterator
    assert client.feed.streams == client.api.max_streams - 1
    assert client.request("GET", "/api/events")[0] == 200


# -- control ----------------------------------------------------------------------------------------


def test_control_is_404_when_it_is_off():
    status, body = Client(control=False).control({"pause": True})
    assert status == 404 and "--http-control" in body["error"]


@pytest.mark.parametrize("token", [None, "wrong", TOKEN + "x", TOKEN[:-1]])
def test_control_without_the_right_token_is_401_and_does_nothing(token):
    client = Client()
    status, body = client.control({"pause": True}, token=token)
    assert status == 401 and "Bearer" in body["error"]
    assert client.submitted == []


def test_the_token_is_checked_before_the_body_is_read():
    client = Client()
    status, _ = client.control(b"x" * (MAX_BODY + 1), token=None)
    assert status == 401


@pytest.mark.parametrize(
    ("body", "command"),
    [
        ({"pause": True}, ("pause", None)),
        ({"resume": None}, ("resume", None)),
        ({"rate": 5000}, ("rate", 5000.0)),
        ({"rate": 0}, ("rate", 0.0)),
        ({"command": "select", "arg": "MSFT"}, ("select", "MSFT")),
        ({"select": "GOOG"}, ("select", "GOOG")),
        ({"kill": "broker-1"}, ("kill", "broker-1")),
        ({"stop": "enough"}, ("stop", "enough")),
        ({"stop": True}, ("stop", "stop asked over HTTP")),
        ({"command": "pause"}, ("pause", None)),
        ({"cancel": 2**40 + 3}, ("cancel", 2**40 + 3)),
        ({"tape": "all"}, ("tape", "all")),
        ({"command": "cancel", "arg": "#you3"}, ("cancel", 2**40 + 3)),
    ],
)
def test_a_good_command_is_accepted_and_queued(body, command):
    client = Client()
    status, answer = client.control(body)
    assert status == 202, answer
    assert client.submitted == [command]
    assert answer["accepted"] == {"command": command[0], "arg": command[1]}


@pytest.mark.parametrize(
    ("body", "field", "says"),
    [
        (b"{not json", "body", "not JSON"),
        (b"[1, 2]", "body", "JSON object"),
        (b"{}", "body", "JSON object"),
        ({"rate": "fast"}, "rate", "float"),
        ({"rate": -5}, "rate", ">= 0"),
        ({"rate": True}, "rate", "float"),
        (b'{"rate": Infinity}', "rate", "finite"),
        ({"pause": 3}, "pause", "takes no value"),
        ({"warp": 9}, "warp", "unknown command"),
        ({"pause": True, "rate": 5}, "rate", "one command per request"),
        ({"command": "warp"}, "command", "unknown command"),
        ({"command": "rate", "arg": "x"}, "arg", "float"),
        ({"command": "rate", "arg": 1, "extra": 2}, "extra", "unknown field"),
        ({"select": "ZZZZ"}, "select", "not a symbol of this run"),
        ({"kill": "bank"}, "kill", "not a broker"),
        ({"stop": ""}, "stop", "1 to 200 characters"),
        ({"cancel": 42}, "cancel", "not yours"),
        ({"tape": "every"}, "tape", '"all"'),
        ({"command": "cancel", "arg": "my order"}, "arg", "an order of yours"),
    ],
)
def test_a_bad_body_is_400_naming_the_field(body, field, says):
    client = Client()
    status, answer = client.control(body)
    assert status == 400, answer
    assert answer["field"] == field and says in answer["error"]
    assert client.submitted == []


def test_a_body_over_the_cap_is_413():
    client = Client()
    status, answer = client.control(b'{"stop": "' + b"x" * MAX_BODY + b'"}')
    assert status == 413 and answer["field"] == "body"


def test_commands_are_refused_once_the_run_is_stopping():
    client = Client()
    client.publish(state=RunState.STOPPING)
    status, answer = client.control({"pause": True})
    assert status == 409 and client.submitted == []


def test_parse_command_takes_rate_from_both_forms_alike():
    snapshot = build_snapshot()
    assert parse_command(b'{"rate": 20}', snapshot) == parse_command(
        b'{"command": "rate", "arg": 20.0}', snapshot
    )


# -- addresses and the token --------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "address"),
    [
        ("127.0.0.1:8321", ("127.0.0.1", 8321)),
        (":9000", ("127.0.0.1", 9000)),
        ("0.0.0.0:0", ("0.0.0.0", 0)),
        ("localhost", ("localhost", 8321)),
        ("[::1]:8000", ("::1", 8000)),
        ("[::1]", ("::1", 8321)),
    ],
)
def test_parse_address_reads_host_and_port(text, address):
    assert parse_address(text) == address


@pytest.mark.parametrize("text", ["127.0.0.1:http", "127.0.0.1:70000", "::1:80", "[::1", "[::1]x"])
def test_parse_address_refuses_what_is_not_host_port(text):
    with pytest.raises(ValueError):
        parse_address(text)


def test_check_bind_names_a_busy_port_and_a_foreign_address():
    with socket.socket() as held:
        held.bind(("127.0.0.1", 0))
        held.listen()
        port = held.getsockname()[1]
        assert check_bind("127.0.0.1", port) == f"port {port} on 127.0.0.1 is in use"
    assert check_bind("127.0.0.1", 0) is None
    assert "not an address of this machine" in check_bind("192.0.2.7", 8321)  # TEST-NET-1
    assert "cannot resolve" in check_bind("no-such-host.invalid", 8321)


def test_loopback_addresses():
    assert is_loopback("127.0.0.1") and is_loopback("127.3.4.5") and is_loopback("::1")
    assert is_loopback("localhost")
    assert not is_loopback("0.0.0.0") and not is_loopback("192.168.1.2") and not is_loopback("example.org")


def test_the_token_comes_from_the_environment_or_is_new_each_time():
    assert control_token({"SIM_HTTP_TOKEN": "from-env"}) == "from-env"
    a, b = control_token({}), control_token({"SIM_HTTP_TOKEN": "  "})
    assert a != b and len(a) >= 32


def test_control_needs_a_token():
    with pytest.raises(ValueError):
        Api(Feed(), registry(lambda: None), submit=lambda n, a: None, token=None)


def test_nothing_is_served_before_the_first_snapshot():
    feed = Feed()
    api = Api(feed, registry(lambda: feed.latest))
    seen = {}
    environ: dict = {"REQUEST_METHOD": "GET", "PATH_INFO": "/api/snapshot"}
    setup_testing_defaults(environ)
    api(environ, lambda status, headers: seen.setdefault("status", status))
    assert seen["status"].startswith("503")
