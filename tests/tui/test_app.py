"""The dashboard driven by a Pilot: every panel shows the Snapshot, every key does its job."""

from __future__ import annotations

from dataclasses import replace

import pytest
from rich.segment import Segment
from textual.geometry import Region
from textual.widget import Widget
from textual.widgets import Footer

from simulator.stats import OrderCounts, ProcessRow, RunState
from tests.tui.waits import report_shown, wait_until
from tui.app import DashboardApp
from tui.help import HelpScreen, HelpText, help_lines
from tui.widgets import LogPanel, TapePanel, ThroughputPanel

pytestmark = pytest.mark.timeout(60)

SIZE = (120, 36)
PANELS = ("status", "totals", "throughput", "processes", "tape", "book", "log")


def rendered_lines(widget: Widget) -> list[str]:
    """The widget's lines as drawn on screen (border and title included)."""
    width, height = widget.outer_size
    return [strip.text for strip in widget.render_lines(Region(0, 0, width, height))]


def rendered_text(widget: Widget) -> str:
    return "\n".join(rendered_lines(widget))


def drawn_segments(widget: Widget) -> list[Segment]:
    width, height = widget.outer_size
    return [seg for strip in widget.render_lines(Region(0, 0, width, height)) for seg in strip]


def panel(app: DashboardApp, widget_id: str) -> str:
    return rendered_text(app.query_one(f"#{widget_id}"))


def record_renders(widget: Widget, drawn: list[str]) -> None:
    """Append the widget's id to ``drawn`` each time it renders."""
    if isinstance(widget, TapePanel):  # drawn line by line
        render_line = widget.render_line

        def recorded_line(y):
            if not drawn or drawn[-1] != widget.id:
                drawn.append(widget.id)
            return render_line(y)

        widget.render_line = recorded_line
        return
    render = widget.render

    def recorded():
        drawn.append(widget.id)
        return render()

    widget.render = recorded


@pytest.mark.asyncio
async def test_every_panel_shows_the_snapshot(control, sim_snapshot):
    app = DashboardApp(control)
    async with app.run_test(size=SIZE) as pilot:
        await pilot.pause()
        status = panel(app, "status")
        for text in ("RUNNING", "elapsed 1:02:03", "seed 424242", "target 50.0k/s"):
            assert text in status
        totals = panel(app, "totals")
        for text in (
            "1,234,567",
            "1,230,001",
            "612,345",
            "98,765",
            "4,321",
            "23,456",
            "4,566",
            "48.8k/s",
            "21.1k/s",
            "412 \u00b5s",
            "7.34 ms",
        ):
            assert text in totals
        assert app.query_one(ThroughputPanel).data == sim_snapshot.throughput_history
        assert "max 52.0k/s" in panel(app, "throughput")
        processes = rendered_lines(app.query_one("#processes"))
        assert "bank" in processes[2] and "31000" in processes[2]  # bank first, under the header
        assert any("31001" in line and "AAPL,MSFT" in line for line in processes)
        tape = panel(app, "tape")
        assert "Tape MSFT" in tape and "1,234 events skipped" in tape
        assert "#900102 FILL   125 @ 412.50 SELL hits #900101" in tape
        assert "#900104 REJECT price not positive" in tape and "#900105 CXL OK #900101 cancelled" in tape
        book = panel(app, "book")
        assert "Book MSFT" in book
        assert "412.62" in book and "412.50" in book and "spread 0.12" in book
        assert "last 412.57" in book
        log = panel(app, "log")
        assert "broker-1 heartbeat 12.7s old, marked HUNG" in log
        assert "started 2 brokers" in log


@pytest.mark.asyncio
async def test_tape_reads_in_the_order_events_happened_and_book_asks_sit_above_bids(control):
    app = DashboardApp(control)
    async with app.run_test(size=SIZE) as pilot:
        await pilot.pause()
        tape = panel(app, "tape")
        # the newest at the bottom; the order's own events in the order its book made them
        assert tape.index("#900102 NEW") < tape.index("#900102 ACK") < tape.index("#900102 FILL")
        assert tape.index("#900105 NEW") < tape.index("#900101 CXLD") < tape.index("#900105 CXL OK")
        assert "#900105 CXL OK" in rendered_lines(app.query_one("#tape"))[-2]
        book = panel(app, "book")
        assert book.index("412.62") < book.index("spread") < book.index("412.50")


@pytest.mark.asyncio
async def test_hung_broker_row_is_marked(control):
    app = DashboardApp(control)
    async with app.run_test(size=SIZE) as pilot:
        await pilot.pause()
        segments = drawn_segments(app.query_one("#processes"))
        hung = [seg for seg in segments if "broker-1" in seg.text]
        healthy = [seg for seg in segments if "broker-0" in seg.text]
        assert "!HUNG" in hung[0].text
        assert hung[0].style.reverse and not healthy[0].style.reverse


@pytest.mark.asyncio
async def test_lost_orders_and_stop_reason_stand_out(control, make_snapshot):
    control.current = make_snapshot(
        state=RunState.STOPPED, stop_reason="duration reached", orders=OrderCounts(placed=10, acked=7, lost=3)
    )
    app = DashboardApp(control)
    async with app.run_test(size=SIZE) as pilot:
        await pilot.pause()
        status = panel(app, "status")
        assert "STOPPED" in status and "stop duration reached" in status
        lost = [seg for seg in drawn_segments(app.query_one("#totals")) if seg.text.strip() == "3"]
        assert lost and lost[0].style.color.triplet.red > 200  # drawn in red


@pytest.mark.asyncio
async def test_waits_quietly_for_the_first_snapshot(make_snapshot, make_control):
    control = make_control(None)
    app = DashboardApp(control)
    async with app.run_test(size=SIZE) as pilot:
        await pilot.pause()
        assert "WAITING" in panel(app, "status")
        assert "waiting for the first snapshot" in panel(app, "totals")
        await pilot.press("p", "+", "]")
        assert control.calls == []
        control.current = make_snapshot()
        await wait_until(lambda: app.snapshot is control.current)
        await pilot.pause()
        totals = panel(app, "totals")
        # the panel grew from its one placeholder line to show every figure
        for figure in ("1,234,567", "612,345", "98,765", "23,456", "4,566"):
            assert figure in totals


@pytest.mark.asyncio
@pytest.mark.parametrize("key", ["q", "ctrl+c"])
async def test_quit_before_the_first_snapshot_shows_stopping_and_exits(make_control, key):
    """Was an AttributeError in the status bar (no Snapshot to take the fields from)."""
    control = make_control(None, hold_stop=True)
    app = DashboardApp(control)
    async with app.run_test(size=SIZE) as pilot:
        await pilot.pause()
        await pilot.press(key)
        await pilot.pause()
        assert "STOPPING" in panel(app, "status")
        await pilot.resize_terminal(80, 24)  # every panel draws again, still without a Snapshot
        await pilot.pause()
        for widget_id in PANELS:
            assert panel(app, widget_id).strip(), widget_id
        assert "waiting for the first snapshot" in panel(app, "totals")
        await pilot.press("p", "+", "]", "k")
        assert control.calls == [("request_stop", "user quit")]
        control.release.set()
        await wait_until(lambda: not app.is_running)
    assert app.return_value is True


@pytest.mark.asyncio
async def test_every_panel_draws_at_every_size_before_the_first_snapshot(make_control):
    app = DashboardApp(make_control(None))
    async with app.run_test(size=SIZE) as pilot:
        for size in ((120, 36), (80, 24), (40, 12), (200, 60)):
            await pilot.resize_terminal(*size)
            await pilot.pause()
            for widget_id in PANELS:
                if app.query_one(f"#{widget_id}").display:
                    assert panel(app, widget_id).strip(), (widget_id, size)
        assert "WAITING" in panel(app, "status")


@pytest.mark.asyncio
async def test_a_snapshot_repaints_only_the_panels_whose_part_changed(control, sim_snapshot):
    """The dashboard must stay cheap at 10 Hz: an unchanged part of a Snapshot draws nothing."""
    app = DashboardApp(control, ui_hz=0.01)  # the timer stays out of the way
    async with app.run_test(size=SIZE) as pilot:
        await pilot.pause()
        drawn: list[str] = []
        for widget_id in PANELS:
            record_renders(app.query_one(f"#{widget_id}"), drawn)
        app.apply_snapshot(replace(sim_snapshot))  # a new object, equal in every part
        await pilot.pause()
        assert drawn == []
        one_more = replace(sim_snapshot.tape_events[-1], seq=99, oid=900_199)
        app.apply_snapshot(replace(sim_snapshot, tape_events=sim_snapshot.tape_events + (one_more,)))
        await pilot.pause()
        assert set(drawn) == {"tape"}


@pytest.mark.asyncio
async def test_a_new_snapshot_updates_the_panels(control, sim_snapshot):
    app = DashboardApp(control, ui_hz=50)
    async with app.run_test(size=SIZE) as pilot:
        await pilot.pause()
        more = ProcessRow("broker-2", 31003, "RUNNING", ("TSLA",))
        control.current = replace(
            sim_snapshot,
            orders=replace(sim_snapshot.orders, placed=2_000_001),
            processes=sim_snapshot.processes + (more,),
            log_lines=sim_snapshot.log_lines[1:] + ("12:02:00 INFO bank: broker-2 started",),
        )
        await wait_until(lambda: app.snapshot is control.current)
        await pilot.pause()
        assert "2,000,001" in panel(app, "totals")
        assert "31003" in panel(app, "processes")
        log = app.query_one(LogPanel)
        new_line = "12:02:00 INFO bank: broker-2 started"
        assert list(log.lines) == list(sim_snapshot.log_lines) + [new_line]
        drawn = [line.strip("│ ") for line in rendered_lines(log)]
        assert [line for line in drawn if "12:0" in line][-1] == new_line


@pytest.mark.asyncio
@pytest.mark.parametrize("key", ["q", "ctrl+q", "ctrl+c"])
async def test_quit_keys_stop_the_run_then_exit(control, key):
    app = DashboardApp(control)
    async with app.run_test(size=SIZE) as pilot:
        await pilot.pause()
        await pilot.press(key)
        await wait_until(lambda: not app.is_running)
    assert control.commands("request_stop") == [("request_stop", "user quit")]
    assert app.return_value is True


@pytest.mark.asyncio
async def test_quit_shows_stopping_waits_and_ignores_a_second_press(sim_snapshot, make_control):
    control = make_control(sim_snapshot, hold_stop=True)
    app = DashboardApp(control)
    async with app.run_test(size=SIZE) as pilot:
        await pilot.pause()
        await pilot.press("q")
        await pilot.pause()
        assert "STOPPING" in panel(app, "status")
        await pilot.press("q", "ctrl+c", "p", "+")
        await pilot.pause(0.3)
        assert app.is_running
        assert control.calls == [("request_stop", "user quit")]
        control.release.set()
        await wait_until(lambda: not app.is_running)
    assert app.return_value is True


@pytest.mark.asyncio
async def test_quit_gives_up_after_the_stop_timeout(sim_snapshot, make_control):
    control = make_control(sim_snapshot, hold_stop=True)
    app = DashboardApp(control, stop_timeout=0.3)
    async with app.run_test(size=SIZE) as pilot:
        await pilot.press("q")
        await wait_until(lambda: not app.is_running)
    assert app.return_value is False


@pytest.mark.asyncio
async def test_pause_keys_toggle_from_the_reported_or_just_asked_state(control):
    app = DashboardApp(control)
    async with app.run_test(size=SIZE) as pilot:
        await pilot.pause()
        await pilot.press("p")  # RUNNING: pause
        await pilot.press("space")  # pause asked, not yet reported: resume
        await pilot.pause()
    assert control.calls == [("pause", None), ("resume", None)]


@pytest.mark.asyncio
async def test_pause_key_resumes_a_paused_run(control, make_snapshot):
    control.current = make_snapshot(state=RunState.PAUSED)
    app = DashboardApp(control)
    async with app.run_test(size=SIZE) as pilot:
        await pilot.pause()
        assert "PAUSED" in panel(app, "status")
        await pilot.press("p")
        await pilot.pause()
    assert control.calls == [("resume", None)]


@pytest.mark.asyncio
@pytest.mark.parametrize(
    ("rate", "keys", "expected"),
    [
        # each press starts from the rate just asked for, not the stale Snapshot's
        (50_000.0, ["+", "=", "-", "-"], [100_000.0, 200_000.0, 100_000.0, 50_000.0]),
        (0.0, ["+", "-"], [100_000.0]),  # at max '+' sends nothing; '-' leaves max
        (800_000.0, ["+", "-"], [0.0, 100_000.0]),  # past the ceiling: max
    ],
)
async def test_rate_keys_double_and_halve(control, make_snapshot, rate, keys, expected):
    control.current = make_snapshot(rate=rate)
    app = DashboardApp(control)
    async with app.run_test(size=SIZE) as pilot:
        await pilot.pause()
        await pilot.press(*keys)
        await pilot.pause()
    assert control.calls == [("rate", r) for r in expected]


@pytest.mark.asyncio
async def test_symbol_keys_select_neighbours_wrapping_both_ways(control):
    app = DashboardApp(control)  # MSFT selected, of AAPL MSFT GOOG AMZN
    async with app.run_test(size=SIZE) as pilot:
        await pilot.pause()
        await pilot.press("]", "right", "]", "[", "left", "[", "[")
        await pilot.pause()
    assert control.calls == [("select", s) for s in ("GOOG", "AMZN", "AAPL", "AMZN", "GOOG", "MSFT", "AAPL")]


@pytest.mark.asyncio
async def test_book_title_follows_the_selected_symbol(control, make_snapshot):
    app = DashboardApp(control, ui_hz=50)
    async with app.run_test(size=SIZE) as pilot:
        await pilot.pause()
        assert "Book MSFT" in panel(app, "book")
        control.current = make_snapshot(selected_symbol="GOOG", book=None)
        await wait_until(lambda: app.snapshot is control.current)
        await pilot.pause()
        book = panel(app, "book")
        assert "Book GOOG" in book and "no book yet" in book


@pytest.mark.asyncio
async def test_help_screen_opens_and_closes(control):
    app = DashboardApp(control)
    async with app.run_test(size=SIZE) as pilot:
        await pilot.pause()
        for close_key in ("escape", "question_mark", "q"):
            await pilot.press("question_mark")
            await pilot.pause()
            assert isinstance(app.screen, HelpScreen)
            help_text = app.screen.query_one(HelpText).text
            assert "double the rate" in help_text and "1.00M/s" in help_text
            await pilot.press(close_key)
            await pilot.pause()
            assert not isinstance(app.screen, HelpScreen), close_key
        assert app.is_running
    assert control.calls == []


@pytest.mark.asyncio
@pytest.mark.parametrize("size", [(80, 24), (120, 36), (200, 50)])
async def test_help_text_is_laid_out_before_the_first_question_mark(control, size):
    """The first ? draws lines laid out ahead (in a thread, at the width the box will have):
    it must not lay the text out itself, which is what made it slow."""
    help_lines.cache_clear()
    app = DashboardApp(control)
    async with app.run_test(size=size) as pilot:
        await wait_until(lambda: help_lines.cache_info().currsize == 2)
        await pilot.press("question_mark")
        await pilot.pause()
        text = app.screen.query_one(HelpText)
        assert help_lines.cache_info().misses == 2, "laid out again at another width"
        assert text.content_size.width == help_lines(text.content_size.width)[0].cell_length
        assert "double the rate" in text.text and "1.00M/s" in text.text


@pytest.mark.asyncio
async def test_footer_lists_the_keys(control):
    app = DashboardApp(control)
    async with app.run_test(size=SIZE) as pilot:
        await pilot.pause()
        footer = " ".join(rendered_text(key) for key in app.query_one(Footer).children)
        for text in ("Quit", "Pause", "Faster", "Slower", "Prev", "Next", "Help", "palette"):
            assert text in footer


@pytest.mark.asyncio
async def test_narrow_terminal_hides_sparkline_and_short_one_hides_log(control):
    app = DashboardApp(control)
    async with app.run_test(size=(80, 24)) as pilot:
        await pilot.pause()
        assert not app.query_one("#throughput").display
        assert not app.query_one("#log").display
        assert "1,234,567" in panel(app, "totals")
        assert "Book MSFT" in panel(app, "book")
        assert "!HUNG" in panel(app, "processes")


@pytest.mark.asyncio
async def test_crowded_process_table_keeps_warnings_and_counts_the_rest(control, sim_snapshot):
    brokers = tuple(
        ProcessRow(f"broker-{i}", 31000 + i, "DEAD" if i == 9 else "RUNNING") for i in range(2, 12)
    )
    control.current = replace(sim_snapshot, processes=sim_snapshot.processes + brokers)
    app = DashboardApp(control)
    async with app.run_test(size=(80, 24)) as pilot:
        await pilot.pause()
        lines = rendered_lines(app.query_one("#processes"))
        text = "\n".join(lines)
        assert "!HUNG" in text and "!DEAD" in text and "bank" in lines[2]
        assert "more, 0 need a look" not in text
        assert any(line.strip("│ ").startswith("\u2026") and "more" in line for line in lines)


@pytest.mark.asyncio
async def test_unchanged_snapshot_object_is_not_reapplied(control, make_snapshot):
    app = DashboardApp(control, ui_hz=50)
    async with app.run_test(size=SIZE) as pilot:
        await pilot.pause()
        applied = []
        original = app.apply_snapshot
        app.apply_snapshot = lambda s: (applied.append(s), original(s))
        await pilot.pause(0.15)
        assert applied == []
        control.current = make_snapshot()
        await wait_until(lambda: applied)


def test_ui_hz_must_be_positive(control):
    with pytest.raises(ValueError):
        DashboardApp(control, ui_hz=0)


@pytest.mark.asyncio
async def test_k_kills_the_broker_that_owns_the_selected_symbol(control, sim_snapshot):
    owner = next(p.name for p in sim_snapshot.processes if sim_snapshot.selected_symbol in p.symbols)
    app = DashboardApp(control)
    async with app.run_test(size=SIZE) as pilot:
        await pilot.pause()
        await pilot.press("k")
        await pilot.pause()
    assert control.commands("kill") == [("kill", owner)]


@pytest.mark.asyncio
async def test_with_exit_on_finish_the_app_closes_itself_when_the_run_ends_on_its_own(control):
    app = DashboardApp(control, ui_hz=20, exit_on_finish=True)
    async with app.run_test(size=SIZE) as pilot:
        await pilot.pause()
        assert app.is_running
        control.end_run()
        await wait_until(lambda: not app.is_running)
    assert app.return_value is True
    assert control.commands("request_stop") == []


@pytest.mark.asyncio
async def test_the_end_of_a_run_stays_on_screen_with_finished_and_the_report_until_q(control):
    app = DashboardApp(control, ui_hz=20)
    async with app.run_test(size=SIZE) as pilot:
        await pilot.pause()
        control.end_run()
        await wait_until(lambda: report_shown(app))
        await pilot.pause()
        assert "order limit reached (1000)" in rendered_text(app.screen.query_one("#report-text"))
        await pilot.press("escape")  # back to the last Snapshot, FINISHED in the header
        await pilot.pause()
        assert "FINISHED" in panel(app, "status")
        await pilot.press("p")  # steering keys do nothing once the run is over
        await pilot.pause()
        assert app.is_running
        await pilot.press("q")
        await wait_until(lambda: not app.is_running)
    assert app.return_value is True
    assert control.commands("pause") == [] and control.commands("request_stop") == []


@pytest.mark.asyncio
async def test_a_run_that_ended_without_a_report_says_so(control):
    control.report = None
    app = DashboardApp(control, ui_hz=20)
    async with app.run_test(size=SIZE) as pilot:
        await pilot.pause()
        control.end_run()
        await wait_until(lambda: report_shown(app))
        await pilot.pause()
        assert "without a report" in rendered_text(app.screen.query_one("#report-text"))


@pytest.mark.asyncio
async def test_the_footer_says_resume_while_paused(control, make_snapshot):
    app = DashboardApp(control)
    async with app.run_test(size=SIZE) as pilot:
        await pilot.pause()
        footer = " ".join(rendered_text(key) for key in app.query_one(Footer).children)
        assert "Pause" in footer and "Resume" not in footer
        await pilot.press("p")  # asked: the footer follows the key at once
        await pilot.pause()
        footer = " ".join(rendered_text(key) for key in app.query_one(Footer).children)
        assert "Resume" in footer and "Pause" not in footer
        await pilot.press("p")
        await pilot.pause()
        assert [c[0] for c in control.calls] == ["pause", "resume"]
        control.current = make_snapshot(state=RunState.PAUSED)
        app.asked = type(app.asked)()  # forget what was asked: the Snapshot alone says PAUSED
        app.apply_snapshot(control.current)
        await pilot.pause()
        footer = " ".join(rendered_text(key) for key in app.query_one(Footer).children)
        assert "Resume" in footer


@pytest.mark.asyncio
async def test_the_footer_changes_its_keys_in_place_once_it_has_shown_them(control):
    app = DashboardApp(control)
    async with app.run_test(size=SIZE) as pilot:
        await pilot.pause()
        for _ in range(2):  # pause shows Resume and Step the first time: a recompose, once
            await pilot.press("p")
            await pilot.pause()
        keys = list(app.query_one(Footer).children)
        await pilot.press("p")  # paused again: the same widgets, only shown and hidden
        await pilot.pause()
        assert list(app.query_one(Footer).children) == keys
        shown = " ".join(rendered_text(key) for key in keys if key.display)
        assert "Resume" in shown and "Step" in shown and "Pause" not in shown
        assert "Pause" not in " ".join(rendered_text(key) for key in keys)  # hidden: drawn nowhere


@pytest.mark.asyncio
async def test_keys_show_their_effect_before_the_snapshots_do(control, sim_snapshot):
    """The fake's Snapshot never changes: what the screen shows comes from the key itself."""
    app = DashboardApp(control)
    async with app.run_test(size=SIZE) as pilot:
        await pilot.pause()
        symbols = sim_snapshot.symbols
        following = symbols[(symbols.index(sim_snapshot.selected_symbol) + 1) % len(symbols)]
        await pilot.press("]")
        await pilot.pause()
        assert f"Book {following}" in panel(app, "book")
        await pilot.press("p")
        await pilot.pause()
        assert "PAUSED" in panel(app, "status")


@pytest.mark.asyncio
async def test_a_request_the_snapshots_never_show_stops_showing(control, sim_snapshot):
    """The fake's Snapshot never follows the keys: after the hold, the screen trusts it again."""
    app = DashboardApp(control)
    async with app.run_test(size=SIZE) as pilot:
        await pilot.pause()
        await pilot.press("]", "p")
        await pilot.pause()
        assert "Book MSFT" not in panel(app, "book") and "PAUSED" in panel(app, "status")
        await wait_until(lambda: "Book MSFT" in panel(app, "book"), timeout=5)
        await wait_until(lambda: "RUNNING" in panel(app, "status"), timeout=5)
