"""``simulate.py dashboard --attach URL`` on a real pseudo-terminal, against a real
``simulate.py --headless --http`` run: the counts move, p pauses the run with a token and does
nothing without one (the header says READ ONLY), quitting leaves the run going, x stops it and
its report is shown; an unreachable URL is one line. And the dashboard of a run of its own with
--http: the URL and token printed before it starts, the API steering what it shows.
"""

from __future__ import annotations

import json
import re
import signal
import socket
import subprocess
import urllib.request
from pathlib import Path

import pytest

from simulator.http_flags import free_port
from simulator.snapshot_json import snapshot_from_json
from simulator.stats import RunState, Snapshot
from simulator.testing.procs import ROOT, SIMULATE, SimProcess, assert_reconciled
from simulator.testing.pty import PtySim
from simulator.testing.waiting import deadline_wait

pytestmark = [pytest.mark.slow, pytest.mark.timeout(150)]

FLAGS = ("--brokers", "2", "--symbols", "AAPL,MSFT,NVDA,TSLA", "--seed", "11", "--rate", "3000")
URL_RE = re.compile(r"API is at (http://\S+) ")
TOKEN = "attach-test-token"
LEAVE_ALT_SCREEN = "\x1b[?1049l"


def snapshot(url: str) -> Snapshot:
    with urllib.request.urlopen(url + "/api/snapshot", timeout=10) as response:
        return snapshot_from_json(response.read())


def post(url: str, body: dict, token: str) -> int:
    request = urllib.request.Request(
        url + "/api/control", json.dumps(body).encode(), {"Authorization": f"Bearer {token}"}, method="POST"
    )
    with urllib.request.urlopen(request, timeout=10) as response:
        return response.status


def start_run(tmp_path: Path, *flags: str) -> tuple[SimProcess, str]:
    sim = SimProcess(*FLAGS, "--http", "127.0.0.1:0", *flags, report=tmp_path / "report.json")
    try:
        sim.wait_for(lambda: any(URL_RE.search(line) for line in sim.stdout), 60, "the API's URL")
        deadline_wait(lambda: snapshot(url_of(sim)).orders.placed > 0, 30, "orders placed")
    except BaseException:
        sim.close()
        raise
    return sim, url_of(sim)


def url_of(sim: SimProcess) -> str:
    return next(m.group(1) for line in sim.stdout if (m := URL_RE.search(line)))


def placed_on_screen(view: PtySim) -> int:
    match = re.search(r"placed\s+([\d,]+)", view.text())
    return int(match.group(1).replace(",", "")) if match else 0


def wait_live_counts(view: PtySim) -> None:
    view.wait_for(lambda: "RUNNING" in view.text() and placed_on_screen(view) > 0, 45, "live counts")
    first = placed_on_screen(view)
    view.wait_for(lambda: placed_on_screen(view) > first, 15, "the counts to move")


def header(view: PtySim) -> str:
    return view.text().splitlines()[0]


def quit_view(view: PtySim) -> tuple[int, str]:
    view.press(b"q")
    code = view.wait_exit(30)
    assert not view.leftover_processes(), "the view left a process behind"
    return code, view.output()


def stop_run(sim: SimProcess) -> dict:
    sim.signal_group(signal.SIGINT)
    assert sim.wait_exit(60) == 0, sim.output()
    report = sim.report()
    assert_reconciled(report)
    return report


def test_with_the_token_p_pauses_the_run_and_quitting_leaves_it_going(tmp_path, monkeypatch):
    monkeypatch.setenv("SIM_HTTP_TOKEN", TOKEN)
    sim, url = start_run(tmp_path, "--http-control")
    with sim:
        monkeypatch.delenv("SIM_HTTP_TOKEN")
        view = PtySim("dashboard", "--attach", url, "--token", TOKEN)
        try:
            wait_live_counts(view)
            assert "READ ONLY" not in header(view) and url in header(view)
            view.press(b"p")
            deadline_wait(lambda: snapshot(url).state == RunState.PAUSED, 10, "the run PAUSED")
            view.wait_for(lambda: "PAUSED" in header(view), 10, "PAUSED on the screen")
            code, output = quit_view(view)
        finally:
            view.close()
        assert code == 0 and f"detached from {url}; the run goes on" in output
        held = snapshot(url)
        deadline_wait(lambda: snapshot(url).elapsed_s > held.elapsed_s + 0.5, 10, "the run going on")
        assert snapshot(url).state == RunState.PAUSED and sim.proc.poll() is None
        assert post(url, {"resume": True}, TOKEN) == 202
        deadline_wait(lambda: snapshot(url).orders.placed > held.orders.placed, 10, "orders again")
        stop_run(sim)


def test_without_a_token_the_header_says_read_only_p_changes_nothing_and_sigterm_detaches(
    tmp_path, monkeypatch
):
    monkeypatch.setenv("SIM_HTTP_TOKEN", TOKEN)
    sim, url = start_run(tmp_path, "--http-control")
    with sim:
        monkeypatch.delenv("SIM_HTTP_TOKEN")  # the view has no token to find
        view = PtySim("dashboard", "--attach", url)
        try:
            wait_live_counts(view)
            assert "READ ONLY" in header(view)
            view.press(b"p")
            before = snapshot(url)
            deadline_wait(lambda: snapshot(url).elapsed_s > before.elapsed_s + 1.0, 10, "a second")
            after = snapshot(url)
            assert after.state == RunState.RUNNING and after.orders.placed > before.orders.placed
            assert "PAUSED" not in header(view)
            view.proc.send_signal(signal.SIGTERM)  # a stop signal closes the view, not the run
            code = view.wait_exit(30)
            assert not view.leftover_processes()
            output = view.output()
        finally:
            view.close()
        assert code == 0 and LEAVE_ALT_SCREEN in output, "the terminal was not restored"
        assert "the run goes on" in output[output.rindex(LEAVE_ALT_SCREEN) :]
        assert snapshot(url).state == RunState.RUNNING
        stop_run(sim)


def test_x_stops_the_run_and_its_report_stays_until_the_user_quits(tmp_path, monkeypatch):
    monkeypatch.setenv("SIM_HTTP_TOKEN", TOKEN)
    sim, url = start_run(tmp_path, "--http-control")
    with sim:
        view = PtySim("dashboard", "--attach", url)  # the token from $SIM_HTTP_TOKEN
        try:
            wait_live_counts(view)
            view.press(b"x")
            assert sim.wait_exit(60) == 0, sim.output()
            view.wait_for(lambda: "The run has ended." in view.text(), 30, "the final report")
            screen = view.text()
            assert "stopped: stop asked from an attached dashboard" in screen
            assert "reconciled: yes; exit status 0" in screen
            assert view.proc.poll() is None, "the view must wait for the user"
            code, output = quit_view(view)
        finally:
            view.close()
        assert code == 0
        after = output[output.rindex(LEAVE_ALT_SCREEN) :]
        assert "reconciled: yes; exit status 0" in after, after
    report = sim.report()
    assert_reconciled(report)
    assert report["stop_reason"] == "stop asked from an attached dashboard"


def test_a_run_that_vanishes_is_said_on_the_report_screen_and_the_view_exits_1(tmp_path):
    sim, url = start_run(tmp_path)
    with sim:
        view = PtySim("dashboard", "--attach", url)
        try:
            wait_live_counts(view)
            sim.signal_group(signal.SIGKILL)  # the bank and its brokers, without a word
            view.wait_for(lambda: "without a report" in view.text(), 40, "the view to give up")
            assert f"lost the run at {url}" in view.text()
            code, output = quit_view(view)
        finally:
            view.close()
        assert code == 1 and f"simulate: lost the run at {url}" in output
        sim.wait_exit(30)


def test_a_refused_connection_is_one_line_with_the_reason_and_exit_1():
    with socket.socket() as free:
        free.bind(("127.0.0.1", 0))
        port = free.getsockname()[1]  # bound, never listening: a connection is refused
        view = PtySim("dashboard", "--attach", f"http://127.0.0.1:{port}")
        try:
            code = view.wait_exit(30)
            output = view.output().strip()
        finally:
            view.close()
    assert code == 1, output
    reason = "connection refused (is the run started with --http?)"
    assert output == f"simulate: cannot reach http://127.0.0.1:{port}: {reason}"


def test_a_malformed_url_is_a_usage_error():
    done = subprocess.run(
        [*SIMULATE, "dashboard", "--attach", "127.0.0.1:8321"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert done.returncode == 2 and done.stdout == ""
    assert done.stderr.startswith("simulate.py dashboard: error: argument --attach: ")
    assert done.stderr.count("\n") == 1


def test_the_dashboard_of_its_own_run_serves_the_api_and_prints_where_first(monkeypatch):
    monkeypatch.setenv("SIM_HTTP_TOKEN", TOKEN)
    port = free_port("127.0.0.1")
    url = f"http://127.0.0.1:{port}"
    view = PtySim(*FLAGS, "--http", f"127.0.0.1:{port}", "--http-control")
    try:
        wait_live_counts(view)
        before_screen = view.output().split("\x1b[?1049h")[0]
        assert f"the run's API is at {url} (with control)" in before_screen
        assert f"control token (Authorization: Bearer ...): {TOKEN}" in before_screen
        assert snapshot(url).orders.placed > 0
        assert post(url, {"pause": True}, TOKEN) == 202
        view.wait_for(lambda: "PAUSED" in header(view), 10, "PAUSED, asked over HTTP")
        view.press(b"q")
        assert view.wait_exit(60) == 0, view.output()[-2000:]
        assert not view.leftover_processes()
        after = view.output()[view.output().rindex(LEAVE_ALT_SCREEN) :]
        assert "stopped: user quit" in after and "reconciled: yes; exit status 0" in after
    finally:
        view.close()
