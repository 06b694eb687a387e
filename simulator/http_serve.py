"""``simulate.py serve``: the attached dashboard in browser tabs, through textual-serve.

    browser tab --ws--> textual-serve (this process, aiohttp) --pipes--> simulate.py dashboard
    browser tab --ws-->   one dashboard process per tab     --pipes-->     --attach URL  (each)
                                                                              |  GET /api/events
    simulate.py --headless --http 127.0.0.1:0 --http-control  <--------------+  POST /api/control
    (started here when no --attach is given; its output is passed on)

Every tab is a viewer of the one run, never a new simulation: textual-serve runs the command
``simulate.py dashboard --attach URL`` for each tab that connects, and the token (--token, or
the one made for the run started here) reaches those viewers in $SIM_HTTP_TOKEN, never on a
command line ``ps`` shows. Served off loopback (--host), a run started here gets read-only tabs:
anyone who reaches the page would otherwise steer it; a --token given with --attach is used,
with a warning.

Without --attach, a headless run is started here with the flags given (the run's own, checked
by it: a bad one is its one-line error and exit status 2), its API on a free loopback port
with control, and served once it listens: one command for "show it in the browser".

Ctrl-C (SIGINT, SIGTERM, SIGHUP) stops it all: textual-serve stops listening and every tab's
dashboard is told to quit (killed if it has not within SESSION_END_S); then the run started
here stops as it always does (SIGTERM: the whole stop protocol, every order answered), within
its --stop-timeout and a margin, or is killed; nothing is left running. The exit status is the
run's (0 when attached to a run that goes on); 2 for a usage error, 1 when the run cannot be
reached or did not start.
"""

from __future__ import annotations

import asyncio
import logging
import os
import re
import shlex
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Sequence
from pathlib import Path
from typing import IO, Any

from simulator import http_flags, processes
from simulator.attach import AttachedRun, AttachError, Target, parse_url
from simulator.config import OneLineParser, parse_flags
from simulator.report import say

DEFAULT_PORT = 8322
EXIT_FAILED = 1
START_S = 60.0  # for the run started here to say where its API is
SESSION_END_S = 5.0  # for a tab's dashboard to quit once told to
STOP_MARGIN_S = 30.0  # past --stop-timeout, before the run started here is killed
URL_LINE = re.compile(r"the run's API is at (http://\S+) ")
PACKAGE_ROOT = str(Path(__file__).resolve().parents[1])  # where `python -m simulator` is found

log = logging.getLogger("serve")


def build_parser() -> OneLineParser:
    parser = OneLineParser(
        prog="simulate.py serve",
        usage="simulate.py serve [--attach URL [--token T]] [--host H] [--port P] [RUN FLAGS...]",
        description="The dashboard in a browser: each tab watches the run at --attach URL; without "
        "--attach, a headless run is started with RUN FLAGS (see simulate.py --help) and served. "
        "Ctrl-C stops serving (and the run started here, cleanly).",
        allow_abbrev=False,
    )
    parser.add_argument("--attach", metavar="URL", default=None, help="the API of a run started with --http")
    parser.add_argument(
        "--token", metavar="T", default=None, help=f"its control token (default: ${http_flags.TOKEN_ENV})"
    )
    parser.add_argument("--host", default="127.0.0.1", help="where to serve the page (default: 127.0.0.1)")
    parser.add_argument(
        "--port", type=int, default=DEFAULT_PORT, help=f"the page's port (default: {DEFAULT_PORT}; 0: any)"
    )
    return parser


def serve_main(argv: Sequence[str], early_signals: list[int] | None = None) -> int:
    """``simulate.py serve ...``; its exit status."""
    parser = build_parser()
    ns, run_flags = parser.parse_known_args(argv)
    run_flags = [f for f in run_flags if f != "--headless"]  # what it is anyway
    if ns.attach is not None and run_flags:
        parser.error(
            f"unrecognized arguments: {' '.join(run_flags)} (with --attach, serve takes no run flags)"
        )
    ours = [f for f in run_flags if f.split("=")[0] in ("--http", "--http-control")]
    if ours:
        parser.error(f"argument {ours[0].split('=')[0]}: serve gives the run its --http itself")
    if not 0 <= ns.port <= 65535:
        parser.error(f"argument --port: must be from 0 to 65535, got {ns.port}")
    problem = http_flags.check_bind(ns.host, ns.port)
    if problem:
        parser.error(f"argument --port: {problem}")
    if ns.port == 0:
        ns.port = http_flags.free_port(ns.host)
    stopped: list[str] = []
    signals = processes.StopSignals(stopped.append).install(early_signals)
    try:
        if ns.attach is not None:
            try:
                target = parse_url(ns.attach)
            except AttachError as exc:
                parser.error(f"argument --attach: {exc}")
            token = ns.token or os.environ.get(http_flags.TOKEN_ENV) or None
            return _serve_attached(target, token, ns.host, ns.port, stopped)
        return _serve_new_run(run_flags, ns.host, ns.port, stopped)
    finally:
        signals.restore()


def _serve_attached(target: Target, token: str | None, host: str, port: int, stopped: list[str]) -> int:
    probe = AttachedRun(target, token)
    try:  # what a tab would meet, said once here: unreachable, not a run, a refused token
        probe.connect()
    except AttachError as exc:
        say(f"simulate: {exc}", sys.stderr)
        return exc.status
    finally:
        probe.close()
    if stopped:
        return 0
    return 0 if _serve(target.url, token, host, port, stopped) else EXIT_FAILED


def _serve_new_run(run_flags: list[str], host: str, port: int, stopped: list[str]) -> int:
    # checked here too, so a bad flag is its one line before anything starts
    config, _given = parse_flags([*run_flags, "--headless"], isatty=False)
    token = http_flags.control_token()
    command = [sys.executable, "-m", "simulator", "--headless", *run_flags, "--http", "127.0.0.1:0"]
    run = RunHere([*command, "--http-control"], token, stop_s=config.stop_timeout + STOP_MARGIN_S)
    served = True
    try:
        url = run.wait_url(START_S, stopped)
        if url is not None and not stopped:
            served = _serve(url, tabs_token(host, token), host, port, stopped)
        elif url is None and run.proc.poll() is None and not stopped:
            say(f"simulate: the run did not say where its API is within {START_S:g} s", sys.stderr)
            served = False
    finally:
        code = run.stop()
    return code if served else max(code, EXIT_FAILED)


def tabs_token(host: str, token: str) -> str | None:
    """The token the tabs of a run started here get: none off loopback, where anyone who
    reaches the page would steer the run."""
    return token if http_flags.is_loopback(host) else None


# -- the run started here ----------------------------------------------------------------------------


class RunHere:
    """``simulate.py --headless ... --http`` as a child (in this process group, so a terminal's
    Ctrl-C reaches it as it does any run); its output passed on by a thread joined in ``stop``."""

    def __init__(self, command: list[str], token: str, *, stop_s: float) -> None:
        self.stop_s = stop_s
        env = dict(os.environ, **{http_flags.TOKEN_ENV: token})
        env["PYTHONPATH"] = os.pathsep.join(filter(None, [PACKAGE_ROOT, env.get("PYTHONPATH")]))
        self.proc = subprocess.Popen(
            command,
            stdin=subprocess.DEVNULL,
            stdout=subprocess.PIPE,
            text=True,
            env=env,
            # serve killed (kill -9): the run stops cleanly rather than go on unwatched; started
            # from the main thread, whose end is what the kernel watches
            preexec_fn=lambda: processes.end_with_parent(signal.SIGTERM),
        )
        self.url: str | None = None
        self.stopping = False  # set when this process stops it: its end is then no news
        self._reader = threading.Thread(target=self._pass_on, args=(self.proc.stdout,), name="run-output")
        self._reader.start()

    def _pass_on(self, stream: IO[str]) -> None:
        for line in stream:
            if self.url is None and (found := URL_LINE.search(line)):
                self.url = found.group(1)
            say(line.rstrip("\n"))
        code = self.proc.wait()
        if self.url is not None and not self.stopping:
            say(f"simulate: the run has ended (exit status {code}); open tabs show its report")
            say("simulate: Ctrl-C stops serving")

    def wait_url(self, timeout: float, stopped: list[str]) -> str | None:
        deadline = time.monotonic() + timeout
        while self.url is None and not stopped and self.proc.poll() is None and time.monotonic() < deadline:
            time.sleep(0.05)
        return self.url

    def stop(self) -> int:
        """Stop the run cleanly (SIGTERM) unless it ended; wait for it, then kill it. Its status."""
        self.stopping = True
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)  # one more after a terminal's SIGINT changes nothing
        try:
            code = self.proc.wait(self.stop_s)
        except subprocess.TimeoutExpired:
            say("simulate: the run did not stop in time: killing it", sys.stderr)
            self.proc.kill()
            code = self.proc.wait()
        self._reader.join(10)
        return code


# -- textual-serve -------------------------------------------------------------------------------------


def dashboard_command(url: str) -> str:
    """The shell command textual-serve runs for each tab (``exec``: no shell stays between)."""
    return "exec " + shlex.join([sys.executable, "-m", "simulator", "dashboard", "--attach", url])


def _serve(url: str, token: str | None, host: str, port: int, stopped: list[str]) -> bool:
    """Serve the dashboard of the run at ``url`` until a stop signal; False if it could not
    listen. Then stop signals only note themselves in ``stopped`` again (asyncio's loop put the
    defaults back as it closed: a second Ctrl-C must not cut the run's stop short)."""
    from textual_serve.server import Server  # aiohttp and textual-serve only when serving

    class DashboardServer(Server):
        """textual-serve's server, quieter, and ending every tab's dashboard at shutdown."""

        def __init__(self) -> None:
            super().__init__(dashboard_command(url), host=host, port=port, title=f"simulate.py @ {url}")
            self.sessions: dict[Any, Any] = {}  # websocket -> its AppService

        def initialize_logging(self) -> None:
            super().initialize_logging()
            logging.getLogger("aiohttp.access").setLevel(logging.WARNING)

        async def on_startup(self, app: Any) -> None:
            asyncio.get_running_loop().add_signal_handler(signal.SIGHUP, self.request_exit)
            say(f"simulate: serving the dashboard at {self.public_url} (each tab watches {url})")
            if not http_flags.is_loopback(host):
                say(f"simulate: WARNING: {host} is not loopback: the page is reachable from the network")
                if token:
                    say("simulate: WARNING: every tab steers the run with the token given")
                else:
                    say("simulate: its tabs are read only")
            say("simulate: Ctrl-C stops serving")

        async def _process_messages(self, websocket: Any, app_service: Any) -> None:
            self.sessions[websocket] = app_service
            try:
                await super()._process_messages(websocket, app_service)
            finally:
                self.sessions.pop(websocket, None)

        async def on_shutdown(self, app: Any) -> None:
            sessions = list(self.sessions.items())
            for websocket, _service in sessions:
                await websocket.close()  # the handler then tells its dashboard to quit
            deadline = time.monotonic() + SESSION_END_S
            for _websocket, service in sessions:
                process = service._process  # textual-serve keeps the dashboard's process here
                while process is not None and process.returncode is None and time.monotonic() < deadline:
                    await asyncio.sleep(0.05)
                if process is not None and process.returncode is None:
                    log.warning("a tab's dashboard did not quit: killing it")
                    process.kill()

    env_token = {http_flags.TOKEN_ENV: token} if token else {}
    saved = {k: os.environ.get(k) for k in (http_flags.TOKEN_ENV, "PYTHONPATH")}
    os.environ.update(env_token)  # the tabs' dashboards inherit it (textual-serve copies environ)
    if not token:
        os.environ.pop(http_flags.TOKEN_ENV, None)
    os.environ["PYTHONPATH"] = os.pathsep.join(filter(None, [PACKAGE_ROOT, saved["PYTHONPATH"]]))
    try:
        DashboardServer().serve()
    except OSError as exc:  # the port, taken since it was checked
        say(f"simulate: cannot serve the dashboard on {host}:{port}: {exc.strerror or exc}", sys.stderr)
        return False
    finally:
        processes.StopSignals(stopped.append).install()
        for key, value in saved.items():
            if value is None:
                os.environ.pop(key, None)
            else:
                os.environ[key] = value
    return True
