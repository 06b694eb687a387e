"""The symbols table, the book in motion, the price chart and the palette's run commands."""

from __future__ import annotations

from dataclasses import replace

import pytest
from textual.command import CommandList

from simulator.stats import BookView, MarketRow
from simulator.testing.dashboard import MARKET
from tests.tui.test_app import panel, rendered_lines
from tests.tui.waits import wait_until
from tui.app import DashboardApp
from tui.market_format import (
    changed_levels,
    chart_rows,
    cumulative,
    depth_bar,
    market_cells,
    market_lines,
    sorted_rows,
)
from tui.palette import palette_commands, parse_rate, screenshot_problem
from tui.widgets import BookPanel, MarketTable, PriceChart

pytestmark = pytest.mark.timeout(60)

# -- plain functions ---------------------------------------------------------------------------


def test_a_symbols_row_says_last_change_vwap_volume_high_low_and_spread():
    cells = market_cells(MARKET[0])
    assert cells == (
        "MSFT", "412.57", "+2.57", "+0.63%", "411.90", "12,345,600", "98,765",
        "414.20", "408.80", "412.50", "412.62", "0.12",
    )  # fmt: skip
    untraded = market_cells(MarketRow("NVDA"))
    assert untraded[1] == "-" and untraded[-1] == "-"


def test_the_symbols_table_sorts_by_volume_then_by_each_key_in_turn():
    assert [r.symbol for r in sorted_rows(MARKET, 0)] == ["MSFT", "AAPL", "AMZN", "GOOG"]
    assert [r.symbol for r in sorted_rows(MARKET, 1)] == ["AAPL", "AMZN", "GOOG", "MSFT"]
    assert [r.symbol for r in sorted_rows(MARKET, 2)][-1] == "AAPL"  # the only loser last


def test_at_80_columns_the_table_keeps_whole_cells():
    lines = market_lines(MARKET, 76, 0)
    assert all(len(text) <= 76 for text, _ in lines)
    assert lines[0][0].split()[:3] == ["symbol", "last", "change"]
    assert "\u2026" not in "".join(text for text, _ in lines)


def test_changed_levels_are_the_new_or_different_ones_of_the_same_symbol():
    before = BookView("MSFT", bids=((100, 5, 1), (99, 7, 2)), asks=((101, 3, 1),))
    after = BookView("MSFT", bids=((100, 5, 1), (99, 9, 3)), asks=((101, 3, 1), (102, 4, 1)))
    assert changed_levels(after, before) == {("bid", 99), ("ask", 102)}
    assert changed_levels(after, replace(before, symbol="AAPL")) == set()
    assert changed_levels(after, None) == set()


def test_depth_bars_grow_with_the_cumulative_depth():
    assert cumulative(((100, 5, 1), (99, 7, 2), (98, 1, 1))) == [5, 12, 13]
    assert depth_bar(13, 13, 10) == "\u2588" * 10
    assert depth_bar(0, 13, 10) == ""
    assert len(depth_bar(5, 13, 10)) == 4  # 3 full cells and a part


def test_the_chart_spans_its_points_in_time_and_price():
    rows, low, high, t0, t1 = chart_rows([(0.0, 100), (5.0, 110), (10.0, 105)], 11, 3)
    assert (low, high, t0, t1) == (100, 110, 0.0, 10.0)
    assert rows[2][0] == "\u2022" and rows[0][5] == "\u2022" and rows[1][10] == "\u2022"
    assert chart_rows([], 10, 3)[0] == []


def test_palette_commands_take_their_value_from_what_was_typed(tmp_path):
    assert parse_rate("rate 2500") == 2500.0 and parse_rate("rate 0") == 0.0
    assert parse_rate("rate fast") is None and parse_rate("rate -5") is None
    assert screenshot_problem(str(tmp_path / "x.svg")) is None
    assert "does not exist" in screenshot_problem(str(tmp_path / "nope" / "x.svg"))
    from simulator.testing.dashboard import build_snapshot

    snapshot = build_snapshot()
    texts = [c.text for c in palette_commands("", snapshot)]
    for wanted in ("Pause / resume", "Faster", "Help", "kill broker-0", "kill broker-1", "watch GOOG"):
        assert wanted in texts
    watch = [c for c in palette_commands("watch go", snapshot) if c.action == "watch_symbol"]
    assert [c.args for c in watch] == [("GOOG",)]
    rate = [c for c in palette_commands("rate 800", snapshot) if c.action == "set_rate"]
    assert rate[0].args == (800.0,)
    shot = [
        c for c in palette_commands(f"screenshot {tmp_path}/a.svg", snapshot) if c.action == "save_screen"
    ]
    assert shot[0].args == (f"{tmp_path}/a.svg",)


# -- on screen ---------------------------------------------------------------------------------


@pytest.mark.asyncio
@pytest.mark.parametrize(
    "key, tab", [("2", "market"), ("3", "symbols"), ("4", "accounts"), ("5", "procs"), ("1", "overview")]
)
async def test_number_keys_switch_tabs(control, key, tab):
    app = DashboardApp(control)
    async with app.run_test(size=(120, 36)) as pilot:
        await pilot.press("3" if key == "1" else "1")
        await pilot.press(key)
        await pilot.pause()
        assert app.query_one("#tabs").active == tab


@pytest.mark.asyncio
async def test_s_sorts_the_symbols_table(control):
    app = DashboardApp(control)
    async with app.run_test(size=(120, 36)) as pilot:
        await pilot.press("3")
        await pilot.pause()
        table = app.query_one(MarketTable)
        assert "MSFT" in rendered_lines(table)[2]  # most volume first, under the header
        table.focus()
        await pilot.press("s")
        await pilot.pause()
        assert "AAPL" in rendered_lines(table)[2] and "sorted by symbol" in panel(app, "symbols-table")


@pytest.mark.asyncio
async def test_levels_that_changed_since_the_last_frame_stand_out(control, sim_snapshot):
    app = DashboardApp(control, ui_hz=50)
    async with app.run_test(size=(120, 36)) as pilot:
        await pilot.pause()
        book = app.query_one("#book", BookPanel)
        assert book.changed == frozenset()
        bids = ((41_250, 999, 4),) + sim_snapshot.book.bids[1:]
        control.current = replace(sim_snapshot, book=replace(sim_snapshot.book, bids=bids))
        await wait_until(lambda: app.snapshot is control.current)
        await pilot.pause()
        assert book.changed == {("bid", 41_250)}
        line = next(strip for strip in book.render_lines(book.region.reset_offset) if "412.50" in strip.text)
        assert any(seg.style and seg.style.reverse for seg in line if "412.50" in seg.text)


@pytest.mark.asyncio
async def test_the_chart_follows_the_watched_symbols_last_price(control, sim_snapshot):
    app = DashboardApp(control, ui_hz=50)
    async with app.run_test(size=(120, 36)) as pilot:
        await pilot.press("2")
        for n, price in enumerate((41_300, 41_100)):
            market = (replace(MARKET[0], last=price),) + MARKET[1:]
            control.current = replace(sim_snapshot, market=market, elapsed_s=3724.0 + n)
            await wait_until(lambda: app.snapshot is control.current)
        await pilot.pause()
        chart = app.query_one(PriceChart)
        assert [p for _t, p in chart.points] == [41_257, 41_300, 41_100]
        shown = panel(app, "chart")
        assert "Last price MSFT" in shown and "413.00" in shown and "411.00" in shown


@pytest.mark.asyncio
async def test_the_palette_watches_a_symbol_sets_the_rate_and_saves_a_screenshot(control, tmp_path):
    app = DashboardApp(control)
    async with app.run_test(size=(120, 36)) as pilot:
        await pilot.pause()
        app.watch_symbol("GOOG")
        app.set_rate(750.0)
        app.kill_named("broker-1")
        app.save_screen(str(tmp_path / "shot.svg"))
        app.save_screen(str(tmp_path / "missing" / "shot.svg"))
        await pilot.pause()
        assert (tmp_path / "shot.svg").read_text().startswith("<svg")
        assert not (tmp_path / "missing").exists()
        assert "Book GOOG" in panel(app, "book")
    assert control.calls == [("select", "GOOG"), ("rate", 750.0), ("kill", "broker-1")]


@pytest.mark.asyncio
async def test_typing_a_symbol_in_the_palette_watches_it(control):
    app = DashboardApp(control)
    async with app.run_test(size=(120, 36)) as pilot:
        await pilot.press("ctrl+p")
        await pilot.pause()
        await pilot.press(*"watch amzn")

        def offered() -> str:
            found = app.screen.query(CommandList)
            if not found:
                return ""
            options = found.first()
            return " ".join(str(options.get_option_at_index(i).prompt) for i in range(options.option_count))

        await wait_until(lambda: "watch AMZN" in offered())
        await pilot.press("enter")
        await wait_until(lambda: control.calls == [("select", "AMZN")])


@pytest.mark.asyncio
async def test_the_accounts_tab_marks_the_selected_account_and_lists_its_open_orders(control):
    app = DashboardApp(control)
    async with app.run_test(size=(120, 36)) as pilot:
        await pilot.press("4")
        await pilot.pause()
        shown = rendered_lines(app.query_one("#accounts-panel"))
        assert "\u25b6    1017     +23,610.00" in shown[2]  # best first, and the selected one
        assert any("#900101" in line and "175 resting" in line for line in shown)
        assert any("GOOG +15,100" in line for line in shown)
        await pilot.press("a")
        await pilot.pause()
        app.select_account(42)
    assert control.calls == [("account", 2203), ("account", 42)]
