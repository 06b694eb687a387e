"""The run on HTTP: a CherryPy server adapter on the bank's own bus, serving ``http_api``.

    bank's thread (its bus)                              cheroot's threads
    SnapshotBuilder --listener--> Feed.latest ---------> GET /api/snapshot, /api/events,
      (~10 Hz: Snapshot + latency buckets)               /metrics, /healthz: read the latest
    'main' (commands) <-- queue <--------------------- POST /api/control (checked, queued)
    'stop' (last) --> Feed.end(report) -> streams end -> the server stops, its threads joined

``HttpServer`` is ``cherrypy.process.servers.ServerAdapter`` around a cheroot WSGI server,
subscribed to the bank process's bus (never ``cherrypy.engine``, never ``cherrypy.tree``) in
the places ``bus.ORDER`` gives it: it starts once every broker is ready and stops after the
ledger reconciled and the journal closed, so it shows the whole stop protocol and then the
report. Serving never runs on the bank's thread: the bank only hands over a frozen Snapshot
ten times a second and applies queued commands on its tick, as it does the dashboard's.

Two things differ from a plain ServerAdapter, both so that nothing can end the process from
the wrong thread: the socket is bound on the bus's thread in 'start' (a failure stops the run
with its reason, where an exception out of a start listener would ``os._exit(70)``), and the
serving thread never calls ``bus.exit()`` (the adapter's own does, on any error). That thread
is joined at stop; cheroot joins its workers.

The command line's side (the flags, ``check_bind``, ``parse_address``, ``control_token``, the
start lines) is ``simulator.http_flags``, which imports neither cheroot nor prometheus_client;
its names are re-exported here.
"""

from __future__ import annotations

import logging
import threading
import time
from collections import deque
from typing import TYPE_CHECKING

from cheroot import wsgi
from cherrypy.process.servers import ServerAdapter

from simulator.bus import ORDER, never_raises
from simulator.control import BadCommand
from simulator.http_api import MAX_BODY, Api, Feed
from simulator.http_flags import (
    DEFAULT_PORT,
    control_token,
)
from simulator.http_metrics import Published, freeze, registry
from simulator.report import build_report
from simulator.stats import Snapshot

if TYPE_CHECKING:
    from simulator.runner import Simulation

THREADS = 12  # cheroot's workers; event streams (attached dashboards) may hold all but two
_SOCKET_TIMEOUT_S = 3  # a client silent this long is dropped (and bounds a stuck write at stop)
_CLOSE_S = 1.0  # how long open event streams get to send the report at stop

log = logging.getLogger("http")


# -- the plugin -------------------------------------------------------------------------------------


class _BoundServer(wsgi.Server):
    """cheroot's WSGI server, bound by ``prepare()`` before the adapter's thread serves it."""

    def start(self) -> None:
        if not self.ready:
            self.prepare()
        self.serve()


class HttpServer(ServerAdapter):
    """The HTTP API of ``simulation``, served on (host, port) while the bank's bus runs."""

    def __init__(
        self,
        bus: object,
        simulation: Simulation,
        host: str = "127.0.0.1",
        port: int = DEFAULT_PORT,
        *,
        control: bool = False,
        token: str | None = None,
        ui_hz: float = 10.0,
        linger_s: float = 0.0,
    ) -> None:
        self.simulation = simulation
        self.host, self.port = host, port
        self.token = (token or control_token()) if control else None
        self.linger_s = linger_s
        self.feed = Feed()
        self.failed: str | None = None
        self._commands: deque[tuple[str, object]] = deque()
        self._thread: threading.Thread | None = None
        self._done = False
        api = Api(
            self.feed,
            registry(lambda: self.feed.latest),
            ui_hz=ui_hz,
            submit=self._submit if control else None,
            token=self.token,
            max_streams=THREADS - 2,
        )
        server = _BoundServer((host, port), api, numthreads=THREADS, max=THREADS, timeout=_SOCKET_TIMEOUT_S)
        server.shutdown_timeout = _CLOSE_S
        # the API answers a body over MAX_BODY with a JSON 413 unread; cheroot's own (plain text)
        # limit only backs it up
        server.max_request_body_size = 16 * MAX_BODY
        server.max_request_header_size = 16 * 1024
        server.server_name = "simulate"
        # bind_addr None: the adapter's portend checks would find our own socket, bound early
        super().__init__(bus, server, bind_addr=None)

    @property
    def url(self) -> str:
        """Where the API is (the real port once started, when asked for port 0)."""
        port = self.port
        sock = getattr(self.httpserver, "socket", None)
        if sock is not None:
            port = sock.getsockname()[1]
        host = f"[{self.host}]" if ":" in self.host else self.host
        return f"http://{host}:{port}"

    @property
    def description(self) -> str:  # what the adapter's log lines say
        return self.url

    def subscribe(self) -> None:
        bus = self.bus
        bus.subscribe("start", self.start, priority=ORDER["start", "http"])
        bus.subscribe("stop", self.stop, priority=ORDER["stop", "http"])
        if self.token:
            bus.subscribe("main", self.apply_commands, priority=ORDER["main", "commands"])
        self.simulation.snapshots.listeners.append(self.on_snapshot)

    # -- the bank's side ------------------------------------------------------------------------

    def on_snapshot(self, snapshot: Snapshot) -> None:
        """Each Snapshot the bank publishes (its thread): handed over with the latency buckets."""
        bank = self.simulation.bank
        self.feed.publish(
            Published(snapshot, time.monotonic(), freeze(bank.ack_latency), freeze(bank.final_latency))
        )

    def _submit(self, name: str, arg: object) -> None:
        self._commands.append((name, arg))  # a server thread; deque.append is atomic

    def apply_commands(self) -> None:
        """'main': the commands that came in since the last tick, in order."""
        commands = self._commands
        while commands:
            name, arg = commands.popleft()
            try:
                log.info("control over HTTP: %s %s", name, "" if arg is None else arg)
                self.simulation.command(name, arg)
            except BadCommand as exc:  # checked already; say so rather than stop the tick
                log.warning("command over HTTP ignored: %s", exc)

    # -- the bus --------------------------------------------------------------------------------

    def start(self) -> None:
        """Bind, then serve on the adapter's thread; a failure stops the run with its reason."""
        if self.running or self.failed:
            return
        try:
            self.httpserver.prepare()
        except Exception as exc:
            self.failed = f"the API cannot listen on {self.host}:{self.port}: {exc}"
            log.error("%s", self.failed)
            self.simulation.stop.request(f"fatal: {self.failed}", fatal=True)
            self.feed.end(None, self.failed)
            return
        super().start()
        deadline = time.monotonic() + 1.0
        while self._thread is None and time.monotonic() < deadline:
            time.sleep(0.001)  # the serving thread names itself first thing (joined at stop)
        log.info("serving the run's API on %s", self.url)

    def _start_http_thread(self) -> None:
        # the adapter's version calls bus.exit() from this thread on an error: the whole stop
        # protocol would run here, beside the bank's own thread. Losing the API must not stop
        # the order flow; say so and let the run go on.
        self._thread = threading.current_thread()
        try:
            self.httpserver.start()
        except BaseException as exc:  # noqa: B036 -- this thread's last word, whatever ended it
            self.interrupt = exc
            log.exception("the HTTP server failed; the run goes on without its API")

    @never_raises
    def stop(self) -> None:
        """Last on 'stop': hand over the report, let the event streams end, stop serving (after
        ``linger_s``), join the serving thread. Idempotent: exit() runs it again."""
        if self._done:
            return
        self._done = True
        if not self.feed.ended.is_set():
            report, error = self._report()
            self.feed.end(report, error)
        deadline = time.monotonic() + _CLOSE_S
        while self.feed.streams and time.monotonic() < deadline:
            time.sleep(0.01)
        if self.linger_s > 0 and self.running:
            time.sleep(self.linger_s)
        if self.running:
            super().stop()
        if self._thread is not None:
            self._thread.join(_CLOSE_S + _SOCKET_TIMEOUT_S)
            if self._thread.is_alive():
                log.error("the HTTP server's thread did not end")

    def _report(self) -> tuple[dict | None, str | None]:
        sim = self.simulation
        try:
            return build_report(sim.config, sim.outcome()), None
        except Exception as exc:
            log.exception("no report for the API")
            return None, f"the run stopped, but its report could not be made: {type(exc).__name__}"
