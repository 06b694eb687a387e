"""The dashboard attached to a run it did not start: READ ONLY in the header without control,
quitting leaves the run going, x stops it (with control), its end shows the final report."""

from __future__ import annotations

from dataclasses import dataclass

import pytest
from textual.widgets import Footer

from simulator.stats import RunState
from simulator.testing import dashboard
from tests.tui.waits import report_shown, wait_until
from tui.app import READ_ONLY_NOTE, DashboardApp
from tui.widgets.report import ReportScreen, report_text

pytestmark = pytest.mark.timeout(60)

SIZE = (120, 36)


@dataclass
class FakeAttachment:
    where: str = "http://127.0.0.1:8321"
    read_only: str | None = None
    detached: bool = False
    ended: tuple[dict | None, str | None] | None = None

    def final(self) -> tuple[dict | None, str | None] | None:
        return self.ended


def sample_report(exit_code: int = 0) -> dict:
    return dashboard.sample_report(exit_code, stop_reason="signal SIGINT")


def header(app: DashboardApp) -> str:
    return str(app.query_one("#status").render())


def footer_keys(app: DashboardApp) -> set[str]:
    bindings = app.query_one(Footer).screen.active_bindings
    return {b.binding.action for b in bindings.values() if b.enabled and b.binding.show}


@pytest.mark.asyncio
async def test_read_only_says_so_in_the_header_and_the_steering_keys_do_nothing(control):
    attached = FakeAttachment(read_only="read only: no token (--token or $SIM_HTTP_TOKEN)")
    app = DashboardApp(control, attached=attached)
    async with app.run_test(size=SIZE) as pilot:
        await pilot.pause()
        text = header(app)
        assert READ_ONLY_NOTE in text and "@ http://127.0.0.1:8321" in text
        for key in ("p", "space", "plus", "minus", "right", "left", "k", "x"):
            await pilot.press(key)
        await pilot.pause()
        assert control.calls == []
        assert "pause_flow" not in footer_keys(app) and "stop_run" not in footer_keys(app)
        await pilot.press("q")
        await pilot.pause()
    assert app.return_value is True and control.calls == [], "quitting a view must not stop the run"


@pytest.mark.asyncio
async def test_with_control_the_keys_steer_and_quitting_leaves_the_run_going(control):
    app = DashboardApp(control, attached=FakeAttachment())
    async with app.run_test(size=SIZE) as pilot:
        await pilot.pause()
        assert READ_ONLY_NOTE not in header(app)
        assert {"pause_flow", "stop_run"} <= footer_keys(app)
        await pilot.press("p")
        await pilot.pause()
        assert control.commands("pause") == [("pause", None)]
        await pilot.press("q")
        await pilot.pause()
    assert control.commands("request_stop") == []


@pytest.mark.asyncio
async def test_x_asks_the_run_to_stop_and_the_header_says_stopping(control):
    app = DashboardApp(control, attached=FakeAttachment())
    async with app.run_test(size=SIZE) as pilot:
        await pilot.pause()
        await pilot.press("x")
        await pilot.pause()
        assert control.commands("request_stop") == [("request_stop", "stop asked from an attached dashboard")]
        assert RunState.STOPPING.value in header(app)
        assert app.is_running, "the view stays to show the report"


@pytest.mark.asyncio
async def test_the_end_of_the_run_shows_its_report_until_the_user_quits(control):
    attached = FakeAttachment()
    app = DashboardApp(control, attached=attached)
    async with app.run_test(size=SIZE) as pilot:
        await pilot.pause()
        control.end_run()  # wait_stopped turns True: an attached view does not exit on it
        attached.ended = (sample_report(), None)
        await wait_until(lambda: report_shown(app))
        shown = app.screen.query_one("#report-text")
        await wait_until(lambda: shown.size.width > 0)  # laid out on a later refresh
        text = str(shown.render())
        assert shown.size.width >= 60 and shown.size.height >= 10, "the report is drawn whole"
        assert "The run has ended." in text and "stopped: signal SIGINT" in text
        assert "reconciled: yes; exit status 0" in text
        await pilot.press("escape")
        await wait_until(lambda: not isinstance(app.screen, ReportScreen))
        assert app.is_running
        await pilot.press("q")
        await pilot.pause()
    assert app.return_value is True


@pytest.mark.asyncio
async def test_a_detached_view_exits(control):
    attached = FakeAttachment()
    app = DashboardApp(control, attached=attached)
    async with app.run_test(size=SIZE) as pilot:
        await pilot.pause()
        attached.detached = True  # what a stop signal does to an attached view
        await wait_until(lambda: not app.is_running)
    assert control.calls == []


@pytest.mark.asyncio
@pytest.mark.parametrize("width", [80, 100, 140])
async def test_the_report_wraps_to_the_screen_and_loses_no_line(control, width):
    report = sample_report()
    report["latency_us"]["ack"]["max"] = 4_888_888  # the longest line: it must wrap, not vanish
    app = DashboardApp(control, attached=FakeAttachment(ended=(report, None)))
    async with app.run_test(size=(width, 36)) as pilot:
        await wait_until(lambda: report_shown(app))
        shown = app.screen.query_one("#report-text")
        await wait_until(lambda: shown.size.width > 0)
        await pilot.pause()
        assert shown.size.width <= width
        drawn = " ".join(strip.text.strip() for strip in shown.render_lines(shown.size.region))
        assert "each order was due)" in " ".join(drawn.split()), drawn
        assert "reconciled: yes; exit status 0" in drawn


def test_the_report_view_says_why_there_is_no_report():
    text = report_text(None, "lost the run at http://127.0.0.1:8321: timed out").plain
    assert "without a report" in text and "timed out" in text and "q quits" in text


def test_a_report_it_cannot_read_is_said_not_raised():
    text = report_text({"orders": {}}, None).plain
    assert "cannot be read here" in text
