"""The dashboard's text, pinned as plain functions (no app)."""

from __future__ import annotations

import pytest

from simulator.stats import BookView, ProcessRow, TapeEntry
from tui.format import (
    PROCESS_COLUMNS,
    bank_first,
    book_ladder,
    column_major,
    fit_cell,
    fit_columns,
    fmt_age,
    fmt_bytes,
    fmt_count,
    fmt_duration,
    fmt_latency_us,
    fmt_percent,
    fmt_price,
    fmt_rate,
    fmt_target_rate,
    grid_columns,
    header_fields,
    ladder_depth,
    new_log_lines,
    process_cells,
    process_state_text,
    rows_to_show,
    table_line,
    tape_line,
    throughput_caption,
    totals,
)

pytestmark = pytest.mark.timeout(60)


@pytest.mark.parametrize(("n", "text"), [(0, "0"), (999, "999"), (1234567, "1,234,567"), (-4321, "-4,321")])
def test_counts_have_thousands_separators(n, text):
    assert fmt_count(n) == text


@pytest.mark.parametrize(
    ("rate", "text"),
    [
        (0, "0/s"),
        (0.5, "0.5/s"),
        (7, "7/s"),
        (950.4, "950/s"),
        (1_000, "1.0k/s"),
        (45_678, "45.7k/s"),
        (999_949, "999.9k/s"),
        (999_950, "1.00M/s"),
        (1_234_567, "1.23M/s"),
        (float("nan"), "-/s"),
        (-3, "-/s"),
    ],
)
def test_rates_are_compact(rate, text):
    assert fmt_rate(rate) == text


def test_rate_unit_can_be_dropped():
    assert fmt_rate(24_400, unit="") == "24.4k"


def test_target_rate_zero_reads_max():
    assert fmt_target_rate(0) == "max"
    assert fmt_target_rate(50_000) == "50.0k/s"


@pytest.mark.parametrize(
    ("n", "text"),
    [
        (0, "0 B"),
        (1023, "1023 B"),
        (1536, "1.50 KiB"),
        (48_234_496, "46.0 MiB"),
        (3 * 2**30, "3.00 GiB"),
        (5 * 2**40, "5.00 TiB"),
        (2**52, "4096.0 TiB"),
    ],
)
def test_bytes_in_binary_units(n, text):
    assert fmt_bytes(n) == text


@pytest.mark.parametrize(
    ("seconds", "text"),
    [
        (0, "0:00:00"),
        (5.99, "0:00:05"),
        (3723.9, "1:02:03"),
        (100 * 3600, "100:00:00"),
        (-1, "0:00:00"),
        (float("inf"), "0:00:00"),
    ],
)
def test_durations_are_h_mm_ss_rounded_down(seconds, text):
    assert fmt_duration(seconds) == text


@pytest.mark.parametrize(
    ("seconds", "text"),
    [
        (0.05, "0.0s"),
        (0.25, "0.2s"),
        (9.99, "9.9s"),
        (12.7, "12s"),
        (185, "3m05s"),
        (7300, "2h01m"),
        (-1, "-"),
    ],
)
def test_ages_are_short(seconds, text):
    assert fmt_age(seconds) == text


@pytest.mark.parametrize(
    ("us", "text"),
    [
        (None, "-"),
        (0, "0 \u00b5s"),
        (412, "412 \u00b5s"),
        (1_250, "1.25 ms"),
        (7_340, "7.34 ms"),
        (123_456, "123 ms"),
        (2_500_000, "2.50 s"),
    ],
)
def test_latencies_pick_their_unit(us, text):
    assert fmt_latency_us(us) == text


def test_percent_and_price():
    assert fmt_percent(65.25) == "65.2%"
    assert fmt_price(18_942) == "189.42"
    assert fmt_price(5) == "0.05"
    assert fmt_price(0) == "MKT"


def test_header_fields_carry_elapsed_seed_rate_and_stop_reason(make_snapshot):
    assert header_fields(make_snapshot()) == [
        ("elapsed", "1:02:03"),
        ("seed", "424242"),
        ("target", "50.0k/s"),
    ]
    stopped = header_fields(make_snapshot(rate=0.0, stop_reason="duration reached"))
    assert stopped[2] == ("target", "max")
    assert stopped[3] == ("stop", "duration reached")


def test_totals_list_every_count_rate_and_percentile_in_order(make_snapshot):
    items = totals(make_snapshot())
    assert [(t.label, t.value) for t in items] == [
        ("placed", "1,234,567"),
        ("acked", "1,230,001"),
        ("filled", "612,345"),
        ("cancelled", "98,765"),
        ("rejected", "4,321"),
        ("resting", "23,456"),
        ("in flight", "4,566"),
        ("lost", "0"),
        ("orders/s", "48.8k/s"),
        ("fills/s", "21.1k/s"),
        ("ack p50", "412 \u00b5s"),
        ("ack p99", "7.34 ms"),
    ]
    assert not any(t.alert for t in items)


def test_lost_orders_raise_an_alert(make_snapshot):
    snapshot = make_snapshot()
    lost = make_snapshot(orders=type(snapshot.orders)(placed=10, lost=3))
    assert [t for t in totals(lost) if t.label == "lost"][0].alert


def test_lost_cancel_requests_show_beside_lost_orders_and_raise_the_alert_too(make_snapshot):
    snapshot = make_snapshot()
    counts = type(snapshot.orders)(placed=10, lost=0, cancels_lost=2)
    (lost,) = [t for t in totals(make_snapshot(orders=counts)) if t.label == "lost"]
    assert lost.value == "0 +2 cancels" and lost.alert


def test_missing_percentiles_show_a_dash(make_snapshot):
    items = {t.label: t.value for t in totals(make_snapshot(ack_latency_us={}))}
    assert items["ack p50"] == items["ack p99"] == "-"


def test_grid_columns_fit_the_width_within_bounds():
    assert grid_columns(12, 10, 24) == 1
    assert grid_columns(12, 79, 24) == 3
    assert grid_columns(12, 200, 24) == 4
    assert grid_columns(2, 200, 24) == 2


def test_column_major_fills_columns_first():
    grid = column_major(list("abcdefg"), 3)
    assert grid == [["a", "d", "g"], ["b", "e", None], ["c", "f", None]]
    assert column_major([], 3) == []


def test_throughput_caption_gives_the_scale():
    assert throughput_caption(()) == "no data yet"
    assert throughput_caption((1_000.0, 2_500.0, 1_500.0)) == "min 1.0k/s  max 2.5k/s"


def test_fit_columns_keeps_all_at_full_width_and_widens_symbols():
    fitted = fit_columns(124)
    assert [i for i, _ in fitted] == list(range(len(PROCESS_COLUMNS)))
    assert sum(w for _, w in fitted) + len(fitted) - 1 == 124


def test_fit_columns_drops_low_priority_columns_when_narrow():
    titles = [PROCESS_COLUMNS[i].title for i, _ in fit_columns(76)]
    assert titles[:2] == ["name", "pid"] and "state" in titles and "orders/s" in titles
    assert "symbols" not in titles and "rst" not in titles
    assert [PROCESS_COLUMNS[i].title for i, _ in fit_columns(22)] == ["name", "state"]
    assert fit_columns(3) == []


def test_process_cells_follow_the_columns():
    row = ProcessRow(
        "broker-0",
        31001,
        "RUNNING",
        ("AAPL", "MSFT"),
        inbox_depth=12,
        orders_per_s=24_400.0,
        fills=350_050,
        cpu_percent=87.5,
        rss_bytes=48_234_496,
        heartbeat_age_s=0.1,
        restarts=2,
        restart_gaps_ms=(6.25, 5.43),
    )
    cells = process_cells(row)
    assert len(cells) == len(PROCESS_COLUMNS)
    assert cells == (
        "broker-0",
        "31001",
        "RUNNING",
        "AAPL,MSFT",
        "12",
        "24.4k",
        "350,050",
        "87.5%",
        "46.0 MiB",
        "0.1s",
        "2",
        "5.4ms",
    )
    assert process_cells(ProcessRow("bank", None, "STARTING"))[1] == "-"


def test_warning_states_are_marked_and_exit_codes_shown():
    assert process_state_text(ProcessRow("b", 1, "RUNNING")) == "RUNNING"
    assert process_state_text(ProcessRow("b", 1, "HUNG")) == "!HUNG"
    assert process_state_text(ProcessRow("b", 1, "EXITED", exit_code=0)) == "EXITED(0)"
    assert process_state_text(ProcessRow("b", 1, "EXITED", exit_code=70)) == "!EXITED(70)"


def test_cells_are_fitted_and_joined():
    assert fit_cell("abc", 5) == "abc  "
    assert fit_cell("abc", 5, right=True) == "  abc"
    assert fit_cell("abcdef", 4) == "abc\u2026"
    line = table_line(("broker-0", "31001", "RUNNING"), [(0, 10), (2, 8)])
    assert line == "broker-0   RUNNING "


def test_bank_comes_first_others_keep_their_order():
    rows = [ProcessRow(n, None, "RUNNING") for n in ("broker-1", "bank", "broker-0")]
    assert [r.name for r in bank_first(rows)] == ["bank", "broker-1", "broker-0"]


def test_rows_that_need_a_look_are_kept_when_not_all_fit():
    rows = [ProcessRow("bank", 1, "RUNNING")] + [
        ProcessRow(f"broker-{i}", 10 + i, "DEAD" if i == 6 else "RUNNING") for i in range(8)
    ]
    assert rows_to_show(rows, 20) == (rows, 0)
    shown, hidden = rows_to_show(rows, 4)
    assert [r.name for r in shown] == ["bank", "broker-0", "broker-1", "broker-6"]
    assert hidden == 5
    assert rows_to_show(rows, 0) == ([], 9)


def test_tape_lines_show_kind_side_symbol_qty_price_account():
    fill = TapeEntry("fill", "MSFT", -1, 200, 41_250, 3391, 7)
    market = TapeEntry("order", "GOOG", 1, 1_500, 0, 22, 8)
    assert tape_line(fill) == "fill  SELL MSFT    200 @ 412.50   acct 3391"
    assert tape_line(market, symbol_width=5) == "order BUY  GOOG   1,500 @ MKT      acct 22"


def test_ladder_depth_fits_lines_between_one_and_ten():
    assert ladder_depth(0) == 1
    assert ladder_depth(12) == 5
    assert ladder_depth(100) == 10


def test_ladder_puts_asks_above_best_first_at_the_middle():
    book = BookView(
        "MSFT",
        bids=((41_250, 300, 1), (41_245, 400, 2)),
        asks=((41_262, 200, 2), (41_267, 300, 3), (41_272, 400, 4)),
        last_price=41_257,
    )
    lines = book_ladder(book, depth=2)
    assert [kind for kind, _ in lines] == ["header", "ask", "ask", "middle", "bid", "bid"]
    assert "412.67" in lines[1][1] and "412.62" in lines[2][1]
    assert "spread 0.12" in lines[3][1] and "last 412.57" in lines[3][1]
    assert "412.50" in lines[4][1] and "412.45" in lines[5][1]
    assert lines[1][1].split() == ["412.67", "300", "3"]


def test_thin_book_pads_asks_so_the_middle_stays_put():
    book = BookView("MSFT", bids=(), asks=((41_262, 200, 2),))
    lines = book_ladder(book, depth=3)
    assert [kind for kind, _ in lines] == ["header", "blank", "blank", "ask", "middle"]
    assert "spread -" in lines[4][1] and "last -" in lines[4][1]


@pytest.mark.parametrize(
    ("shown", "latest", "new"),
    [
        ((), ("a", "b"), ("a", "b")),
        (("a", "b"), ("a", "b"), ()),
        (("a", "b"), ("a", "b", "c"), ("c",)),
        (("a", "b", "c"), ("b", "c", "d"), ("d",)),
        (("a", "b", "c"), ("c", "d", "e"), ("d", "e")),
        (("a", "b", "c"), ("x", "y", "z"), ("x", "y", "z")),
        (("a", "b"), (), ()),
        (("x", "x"), ("x", "x", "x"), ("x",)),
    ],
)
def test_only_unseen_log_lines_are_new(shown, latest, new):
    assert tuple(new_log_lines(shown, latest)) == new
