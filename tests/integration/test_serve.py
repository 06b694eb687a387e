"""``simulate.py serve``: the attached dashboard in browser tabs, through textual-serve.

A tab is driven two ways: by a websocket client speaking textual-serve's protocol (what the
page's script does), and by Debian's chromium headless over selenium with the Debian
chromedriver: the page loads, the live counts arrive, a screenshot is kept under the test's
tmp_path (its path printed), ``p`` pauses the run. The page draws the terminal on a canvas, so
what it shows is read from the terminal bytes its websocket received (the browser's own
DevTools log), through the same terminal emulator the pty tests use. The browser test is
skipped, saying why, only when chromium is not installed (.ci/run installs it).

Every test ends what it started (the serve process group holds the run and every tab's
dashboard) and checks that nothing is left.
"""

from __future__ import annotations

import asyncio
import base64
import json
import re
import shutil
import signal
from pathlib import Path
from urllib.parse import parse_qs, urlsplit

import pyte
import pytest

from simulator.http_flags import free_port
from simulator.stats import RunState
from simulator.testing.procs import SIMULATE, SimProcess, assert_reconciled
from simulator.testing.waiting import deadline_wait
from tests.integration.test_attach import snapshot, start_run

pytestmark = [pytest.mark.slow, pytest.mark.timeout(180)]

FLAGS = ("--brokers", "2", "--symbols", "AAPL,MSFT,NVDA,TSLA", "--seed", "13", "--rate", "2000")
SERVING = re.compile(r"serving the dashboard at (http://\S+) \(each tab watches (http://\S+)\)")
CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")
CHROMEDRIVER = "/usr/bin/chromedriver"


class Screen:
    """A terminal emulator fed what a tab received; resized as the tab asks."""

    def __init__(self, cols: int = 80, rows: int = 24) -> None:
        self.screen = pyte.Screen(cols, rows)
        self.stream = pyte.ByteStream(self.screen)

    def resize(self, cols: int, rows: int) -> None:
        self.screen.resize(rows, cols)

    def feed(self, data: bytes) -> None:
        self.stream.feed(data)

    def text(self) -> str:
        return "\n".join(self.screen.display)

    def placed(self) -> int:
        match = re.search(r"placed\s+([\d,]+)", self.text())
        return int(match.group(1).replace(",", "")) if match else 0


def start_serve(*args: str) -> tuple[SimProcess, str, str]:
    """``simulate.py serve ARGS`` on a free port; (process, page URL, the run's API URL)."""
    port = free_port("127.0.0.1")
    serve = SimProcess(*args, command=[*SIMULATE, "serve", "--port", str(port)])
    try:
        serve.wait_for(lambda: any(SERVING.search(line) for line in serve.stdout), 60, "serving")
    except BaseException:
        serve.close()
        raise
    page, api = next(m.groups() for line in serve.stdout if (m := SERVING.search(line)))
    return serve, page, api


def stop_serve(serve: SimProcess) -> int:
    serve.signal_group(signal.SIGINT)  # Ctrl-C at the terminal: serve, the run, every tab's view
    code = serve.wait_exit(90)
    assert not serve.wait_group_gone(10), "a process outlived serve"
    return code


# -- a tab, as the page's script drives it ---------------------------------------------------------


async def drive_tab(page: str, *, press: bytes | None, moving: bool = True) -> tuple[str, str]:
    """Open a tab's websocket, wait for the counts (``moving``: and for them to move), optionally
    type ``press`` and wait for PAUSED; the screen's text before and after; close the tab."""
    import aiohttp

    screen = Screen(120, 36)
    ws_url = page.replace("http://", "ws://") + "/ws?width=120&height=36"
    async with aiohttp.ClientSession() as session, session.ws_connect(ws_url) as ws:
        await ws.send_str(json.dumps(["resize", {"width": 120, "height": 36}]))

        async def until(predicate, timeout: float, what: str) -> None:
            loop = asyncio.get_running_loop()
            deadline = loop.time() + timeout
            while not predicate():
                left = deadline - loop.time()
                assert left > 0, f"timed out waiting for {what}\n{screen.text()}"
                try:
                    message = await ws.receive(timeout=min(left, 1.0))
                except TimeoutError:
                    continue
                if message.type == aiohttp.WSMsgType.BINARY:
                    screen.feed(message.data)
                elif message.type in (aiohttp.WSMsgType.CLOSE, aiohttp.WSMsgType.CLOSED):
                    raise AssertionError(f"the tab closed before {what}\n{screen.text()}")

        await until(lambda: screen.placed() > 0, 60, "the counts")
        if moving:
            first = screen.placed()
            await until(lambda: screen.placed() > first, 20, "the counts to move")
        before = screen.text()
        if press is not None:
            await ws.send_str(json.dumps(["stdin", press.decode()]))
            await until(lambda: "PAUSED" in screen.text().splitlines()[0], 20, "PAUSED")
        return before, screen.text()


def test_a_tab_of_serve_attached_watches_and_steers_the_one_run(tmp_path, monkeypatch):
    monkeypatch.setenv("SIM_HTTP_TOKEN", "serve-test-token")
    run, url = start_run(tmp_path, "--http-control")
    with run:
        serve, page, api = start_serve("--attach", url)  # the token reaches tabs in the environment
        with serve:
            assert api == url
            before, after = asyncio.run(drive_tab(page, press=b"p"))
            assert url in before.splitlines()[0]
            deadline_wait(lambda: snapshot(url).state == RunState.PAUSED, 10, "the run PAUSED")
            # a second tab watches the same run, never a new one
            second, _ = asyncio.run(drive_tab(page, press=None, moving=False))
            assert "seed 11" in second.splitlines()[0] and "PAUSED" in second.splitlines()[0]
            assert stop_serve(serve) == 0
        assert run.proc.poll() is None, "serving a run does not own it: it goes on"
        assert snapshot(url).state == RunState.PAUSED
        run.signal_group(signal.SIGINT)
        assert run.wait_exit(60) == 0, run.output()
    assert_reconciled(run.report())


def test_serve_refuses_a_busy_port_and_an_unreachable_run():
    serve = SimProcess(command=[*SIMULATE, "serve", "--port", "0", "--attach", "http://127.0.0.1:9"])
    with serve:
        assert serve.wait_exit(60) == 1
    assert "cannot reach http://127.0.0.1:9: connection refused" in "".join(serve.stderr)
    import socket

    with socket.socket() as held:
        held.bind(("127.0.0.1", 0))
        held.listen()
        port = held.getsockname()[1]
        serve = SimProcess(command=[*SIMULATE, "serve", "--port", str(port)])
        with serve:
            assert serve.wait_exit(60) == 2
            assert not serve.broker_pids()
    assert "".join(serve.stderr).strip() == (
        f"simulate.py serve: error: argument --port: port {port} on 127.0.0.1 is in use"
    )


def test_serve_killed_leaves_nothing_running():
    """kill -9 of serve: the run it started gets SIGTERM from the kernel and stops cleanly."""
    serve, _page, api = start_serve(*FLAGS)
    with serve:
        run = serve.children()
        assert run, "serve started no run"
        serve.signal_bank(signal.SIGKILL)  # serve itself, not its group
        assert serve.wait_exit(30) == -signal.SIGKILL
        assert not serve.wait_group_gone(40), "the run outlived serve"


# -- a real browser ----------------------------------------------------------------------------------


class Browser:
    """Debian's chromium headless over selenium; the terminal bytes each page's websocket
    received, from the DevTools log, in ``screen``."""

    def __init__(self) -> None:
        from selenium import webdriver
        from selenium.webdriver.chrome.service import Service

        options = webdriver.ChromeOptions()
        options.binary_location = CHROMIUM
        for arg in ("--headless=new", "--no-sandbox", "--disable-dev-shm-usage", "--window-size=1400,1000"):
            options.add_argument(arg)
        options.set_capability("goog:loggingPrefs", {"performance": "ALL"})
        self.driver = webdriver.Chrome(service=Service(CHROMEDRIVER), options=options)
        self.screen = Screen()

    def pump(self) -> str:
        """Feed what the page's websocket received since the last call; the screen's text."""
        for entry in self.driver.get_log("performance"):
            message = json.loads(entry["message"])["message"]
            method, params = message["method"], message.get("params", {})
            if method == "Network.webSocketCreated":
                size = parse_qs(urlsplit(params["url"]).query)
                self.screen.resize(int(size["width"][0]), int(size["height"][0]))
            elif method == "Network.webSocketFrameSent":
                sent = json.loads(params["response"]["payloadData"])
                if sent[0] == "resize":
                    self.screen.resize(sent[1]["width"], sent[1]["height"])
            elif method == "Network.webSocketFrameReceived" and params["response"]["opcode"] == 2:
                self.screen.feed(base64.b64decode(params["response"]["payloadData"]))
        return self.screen.text()

    def wait_for(self, predicate, timeout: float, what: str) -> None:
        deadline_wait(lambda: (self.pump(), predicate())[1], timeout, what, detail=self.screen.text, poll=0.2)

    def type(self, keys: str) -> None:
        from selenium.webdriver.common.action_chains import ActionChains
        from selenium.webdriver.common.by import By

        terminal = self.driver.find_element(By.CSS_SELECTOR, "#terminal")
        ActionChains(self.driver).click(terminal).send_keys(keys).perform()

    def quit(self) -> None:
        self.driver.quit()


@pytest.mark.skipif(
    CHROMIUM is None or not Path(CHROMEDRIVER).exists(),
    reason="Debian's chromium is not installed (apt-get install -y chromium chromium-driver)",
)
def test_serve_shows_the_live_dashboard_in_chromium_and_p_pauses_it(tmp_path):
    serve, page, api = start_serve(*FLAGS, "--report", str(tmp_path / "report.json"))
    with serve:
        browser = Browser()
        try:
            browser.driver.get(page)
            browser.wait_for(
                lambda: "RUNNING" in browser.screen.text() and browser.screen.placed() > 0, 60, "counts"
            )
            first = browser.screen.placed()
            browser.wait_for(lambda: browser.screen.placed() > first, 20, "the counts to move")
            shot = tmp_path / "dashboard.png"
            assert browser.driver.save_screenshot(str(shot)) and shot.stat().st_size > 10_000
            print(f"\nscreenshot of the served dashboard: {shot}")
            browser.type("p")
            browser.wait_for(lambda: "PAUSED" in browser.screen.text().splitlines()[0], 20, "PAUSED")
            deadline_wait(lambda: snapshot(api).state == RunState.PAUSED, 10, "the run PAUSED")
            paused = tmp_path / "dashboard-paused.png"
            browser.driver.save_screenshot(str(paused))
            print(f"screenshot once paused: {paused}")
            # Ctrl-C with the tab open: its dashboard is told to quit, the page says so
            assert stop_serve(serve) == 0, serve.output()
            closed = "return document.body.classList.contains('-closed')"
            deadline_wait(
                lambda: browser.driver.execute_script(closed), 10, "the page to say the session ended"
            )
        finally:
            browser.quit()
    serve.report_path = tmp_path / "report.json"
    report = serve.report()
    assert_reconciled(report)
    assert report["stop_reason"] == "signal SIGINT"
