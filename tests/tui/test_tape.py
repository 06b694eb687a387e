"""The tape panel and its lines: every event in order, scrollable, held with t, skipped counted."""

from __future__ import annotations

from dataclasses import replace

import pytest

from simulator.stats import TapeEvent
from simulator.testing.dashboard import TAPE_EVENTS
from tests.tui.test_app import panel, rendered_lines, rendered_text
from tests.tui.waits import wait_until
from tui.app import DashboardApp
from tui.tape_format import clock_fits, fit_pieces, fmt_clock, tape_pieces, tape_plain
from tui.widgets import TapePanel

pytestmark = pytest.mark.timeout(60)


def more_events(first_seq: int, n: int) -> tuple[TapeEvent, ...]:
    return tuple(
        TapeEvent(first_seq + i, 4000.0 + i, "ack", "MSFT", 800_000 + first_seq + i) for i in range(n)
    )


# -- lines ---------------------------------------------------------------------------------------


def test_each_kind_of_event_reads_as_a_person_would_say_it():
    lines = [tape_plain(e, 7) for e in TAPE_EVENTS]
    assert lines[0].endswith("now watching MSFT \u2500\u2500")
    assert lines[1] == "1:00:01.2 #900101 NEW    BUY  LMT DAY 300 @ 412.50  acct 1017"
    assert lines[3].endswith("#900102 NEW    SELL MKT IOC 125 @ market  acct 2203")
    assert lines[5].endswith("#900102 FILL   125 @ 412.50 SELL hits #900101")
    assert lines[8].endswith("#900103 CXLD   80 left unfilled")
    assert lines[10].endswith("#900104 REJECT price not positive")
    assert lines[11].endswith("#900105 NEW    cancel #900101")
    assert lines[12].endswith("#900101 CXLD   175 left unfilled (by #900105)")
    assert lines[13].endswith("#900105 CXL OK #900101 cancelled")
    buy_fill = replace(TAPE_EVENTS[5], side=1)
    assert tape_plain(buy_fill, 7).endswith("BUY lifts #900101")


def test_the_clock_reads_minutes_then_hours():
    assert fmt_clock(82.375) == "1:22.37"
    assert fmt_clock(3723.95) == "1:02:03.9"
    assert fmt_clock(-1) == "0:00.00"


def test_a_line_too_wide_drops_the_account_first_then_cuts_with_an_ellipsis():
    pieces = tape_pieces(TAPE_EVENTS[1], 7, clock=False)
    full = "".join(t for t, _ in pieces)
    assert "acct" in full
    fitted = "".join(t for t, _ in fit_pieces(pieces, len(full) - 1))
    assert "acct" not in fitted and fitted.endswith("300 @ 412.50")
    cut = "".join(t for t, _ in fit_pieces(pieces, 20))
    assert len(cut) == 20 and cut.endswith("\u2026")
    assert not clock_fits(46, 7) and clock_fits(60, 7)


# -- the panel -----------------------------------------------------------------------------------


@pytest.mark.asyncio
async def test_new_events_are_appended_and_followed(control, sim_snapshot):
    app = DashboardApp(control, ui_hz=50)
    async with app.run_test(size=(120, 36)) as pilot:
        await pilot.pause()
        control.current = replace(
            sim_snapshot, tape_events=sim_snapshot.tape_events[5:] + more_events(15, 40)
        )
        await wait_until(lambda: app.snapshot is control.current)
        await pilot.pause()
        tape = app.query_one(TapePanel)
        assert len(tape.events) == len(TAPE_EVENTS) + 40  # the window moved on: nothing lost
        assert "#800054" in rendered_lines(tape)[-2]  # the newest, at the bottom


@pytest.mark.asyncio
async def test_t_holds_the_tape_while_events_go_on_arriving(control, sim_snapshot):
    app = DashboardApp(control, ui_hz=50)
    async with app.run_test(size=(120, 36)) as pilot:
        await pilot.pause()
        await pilot.press("t")
        await pilot.pause()
        before = rendered_lines(app.query_one(TapePanel))[1:-1]
        control.current = replace(sim_snapshot, tape_events=sim_snapshot.tape_events + more_events(15, 30))
        await wait_until(lambda: app.snapshot is control.current)
        await pilot.pause()
        shown = panel(app, "tape")
        assert "HELD" in shown and "30 new below" in shown
        assert rendered_lines(app.query_one(TapePanel))[1:-1] == before, "a held tape does not move"
        await pilot.press("t")
        await pilot.pause()
        shown = panel(app, "tape")
        assert "HELD" not in shown and "#800044" in shown
    assert control.calls == []


@pytest.mark.asyncio
async def test_the_tape_scrolls_back_through_its_history(control, sim_snapshot):
    app = DashboardApp(control, ui_hz=50)
    async with app.run_test(size=(120, 36)) as pilot:
        await pilot.pause()
        control.current = replace(sim_snapshot, tape_events=sim_snapshot.tape_events + more_events(15, 60))
        await wait_until(lambda: app.snapshot is control.current)
        await pilot.pause()
        tape = app.query_one(TapePanel)
        tape.focus()
        await pilot.press("home")
        await pilot.pause()
        assert "now watching MSFT" in rendered_lines(tape)[1]
        assert not tape.following
        await pilot.press("end")
        await pilot.pause()
        assert tape.following and "#800074" in rendered_lines(tape)[-2]


@pytest.mark.asyncio
async def test_the_subtitle_counts_the_events_sampling_left_out(control, sim_snapshot):
    app = DashboardApp(control, ui_hz=50)
    async with app.run_test(size=(80, 24)) as pilot:
        await pilot.pause()
        assert "1,234 events skipped" in panel(app, "tape")
        control.current = replace(sim_snapshot, tape_skipped=0)
        await wait_until(lambda: app.snapshot is control.current)
        await pilot.pause()
        assert "skipped" not in panel(app, "tape")


@pytest.mark.asyncio
async def test_n_steps_only_while_paused_and_says_what_the_order_did(control, make_snapshot):
    from textual.widgets import Footer

    from simulator.stats import RunState

    app = DashboardApp(control, ui_hz=50)
    async with app.run_test(size=(120, 36), notifications=True) as pilot:
        await pilot.pause()
        footer = " ".join(
            panel_text for panel_text in (str(k.render()) for k in app.query_one(Footer).children)
        )
        assert "Step" not in footer
        await pilot.press("n")
        await pilot.pause()
        assert control.commands("step") == []
        paused = make_snapshot(state=RunState.PAUSED)
        control.current = paused
        await wait_until(lambda: app.snapshot is paused)
        await pilot.pause()
        footer = " ".join(str(k.render()) for k in app.query_one(Footer).children)
        assert "Step" in footer and "Resume" in footer
        await pilot.press("n")
        await pilot.pause()
        assert control.commands("step") == [("step", None)]
        # the bank placed #900102 (a market sell): its events arrive with the next Snapshot
        control.current = make_snapshot(state=RunState.PAUSED, stepped=900_102)
        await wait_until(lambda: app.awaiting_step is None)
        await wait_until(lambda: any("900102" in rendered_text(t) for t in app.screen.query("Toast")))
        toasts = " ".join(rendered_text(t).replace("\n", " ") for t in app.screen.query("Toast"))
        toasts = " ".join(toasts.replace("\u258c", " ").split())
        assert "#900102 SELL 125 MSFT @ market: traded 125 @ 412.50 with #900101" in toasts


@pytest.mark.asyncio
async def test_the_tape_follows_the_newest_as_it_grows_past_its_height_without_relayouts(
    control, sim_snapshot
):
    """A live tape grows a few events a Snapshot: it keeps showing the newest line when it first
    overflows (its scrollbar only appears with the layout), and its virtual height, whose
    every change re-lays out the whole screen, changes only every GROWTH lines."""
    base = replace(sim_snapshot, tape_events=())
    control.current = base
    app = DashboardApp(control, ui_hz=50)
    async with app.run_test(size=(120, 36)) as pilot:
        tape = app.query_one("#tape", TapePanel)
        events: list[TapeEvent] = []
        heights = set()
        for n in range(1, 200, 3):
            events += [TapeEvent(k, k / 10, "ack", "MSFT", 900_000 + k) for k in range(n, n + 3)]
            control.current = replace(base, tape_events=tuple(events[-200:]))
            await wait_until(lambda: app.snapshot is control.current)
            await pilot.pause()
            assert tape.following and tape.unseen == 0, f"stopped following at {len(events)} events"
            lines = rendered_lines(tape)
            newest = f"#{900_000 + n + 2}"
            assert newest in (lines[-2] if len(events) >= tape.size.height else "".join(lines))
            heights.add(tape.virtual_size.height)
        assert len(heights) <= 1 + tape.size.height  # until the view is full, then one height


@pytest.mark.asyncio
async def test_shift_t_asks_for_every_symbols_tape_whose_lines_name_their_symbol(control, sim_snapshot):
    app = DashboardApp(control, ui_hz=50)
    async with app.run_test(size=(120, 36)) as pilot:
        await pilot.pause()
        await pilot.press("T")
        await wait_until(lambda: ("tape", "all") in control.calls)
        begun = TapeEvent(90, 4000.0, "watch", "*", 0)
        other = TapeEvent(91, 4000.1, "ack", "NVDA", 800_500)
        events = (*sim_snapshot.tape_events, begun, other)
        control.current = replace(sim_snapshot, tape_all=True, tape_events=events, tape_skipped=77)
        await wait_until(lambda: "all symbols" in panel(app, "tape"))
        shown = panel(app, "tape")
        assert "now every symbol, sampled in placement order" in shown and "77 events skipped" in shown
        assert "NVDA  #800500" in shown
        await pilot.press("T")  # and back to the watched symbol's
        await wait_until(lambda: ("tape", "watched") in control.calls)
