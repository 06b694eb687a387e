"""Unit and property tests for simulator.stats: latency histogram, rate meter and view records."""

from __future__ import annotations

import math
import random
from fractions import Fraction

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from simulator.stats import BookView, LatencyHistogram, ProcessRow, RateMeter

pytestmark = pytest.mark.timeout(60)

PERCENTILES = (0.1, 1, 10, 25, 50, 75, 90, 99, 99.9, 99.99, 100)
ACCURACY = 0.032


def exact_percentile(values: list[int], p: float) -> int:
    """Nearest rank: the smallest value with at least p percent of values at or below it."""
    ordered = sorted(values)
    rank = max(1, math.ceil(Fraction(len(ordered)) * Fraction(str(p)) / 100))
    return ordered[rank - 1]


def histogram_of(values) -> LatencyHistogram:
    h = LatencyHistogram()
    for v in values:
        h.record(v)
    return h


def assert_close(reported: int, exact: int) -> None:
    assert abs(reported - exact) <= ACCURACY * exact, (reported, exact)


# -- LatencyHistogram -------------------------------------------------------------------------


@settings(max_examples=50, deadline=None)
@given(
    values=st.lists(st.one_of(st.integers(0, 100), st.integers(0, 10**9)), min_size=1, max_size=400),
    p=st.sampled_from(PERCENTILES),
)
def test_percentiles_are_within_3_percent_of_exact(values, p):
    assert_close(histogram_of(values).percentile(p), exact_percentile(values, p))


@pytest.mark.parametrize("seed", range(2))
def test_percentiles_of_a_long_tailed_sample_are_within_3_percent(seed):
    rng = random.Random(seed)
    values = [int(rng.lognormvariate(6, 1.5)) for _ in range(10_000)]
    h = histogram_of(values)
    for p in PERCENTILES:
        assert_close(h.percentile(p), exact_percentile(values, p))


def test_values_below_64_are_exact():
    values = list(range(64)) * 3
    h = histogram_of(values)
    for p in PERCENTILES:
        assert h.percentile(p) == exact_percentile(values, p)


@settings(max_examples=50, deadline=None)
@given(st.integers(0, 2**40))
def test_a_single_value_is_reported_exactly_at_every_percentile(value):
    h = histogram_of([value])
    assert h.max == value
    assert {h.percentile(p) for p in PERCENTILES} == {value}


@settings(max_examples=50, deadline=None)
@given(st.lists(st.integers(0, 10**7), min_size=1, max_size=200))
def test_max_is_exact_and_percentiles_never_exceed_it(values):
    h = histogram_of(values)
    assert h.max == max(values)
    assert h.count == len(values)
    assert h.percentile(100) == max(values)
    reported = [h.percentile(p) for p in PERCENTILES]
    assert reported == sorted(reported) and reported[-1] <= h.max


def test_an_empty_histogram_reports_zeros():
    h = LatencyHistogram()
    assert h.count == 0 and h.max == 0
    assert {h.percentile(p) for p in PERCENTILES} == {0}
    assert h.summary() == {"count": 0, "p50": 0, "p99": 0, "p999": 0, "max": 0}


def test_record_times_counts_a_value_that_many_times():
    once = histogram_of([10] * 5 + [1000])
    batched = LatencyHistogram()
    batched.record(10, 5)
    batched.record(1000)
    assert batched.summary() == once.summary()
    assert batched.percentile(80) == 10 and batched.percentile(90) == once.percentile(90)


def test_summary_reports_count_percentiles_and_max():
    values = list(range(1, 1001))
    s = histogram_of(values).summary()
    assert s["count"] == 1000 and s["max"] == 1000
    assert_close(s["p50"], 500)
    assert_close(s["p99"], 990)
    assert_close(s["p999"], 999)


@settings(max_examples=50, deadline=None)
@given(
    a=st.lists(st.integers(0, 10**8), max_size=100),
    b=st.lists(st.integers(0, 10**8), max_size=100),
)
def test_merging_two_histograms_equals_recording_both_samples(a, b):
    merged = histogram_of(a)
    merged.merge(histogram_of(b))
    both = histogram_of(a + b)
    assert merged.count == both.count == len(a) + len(b)
    assert merged.max == both.max
    assert [merged.percentile(p) for p in PERCENTILES] == [both.percentile(p) for p in PERCENTILES]


def test_merge_leaves_the_other_histogram_alone():
    a, b = histogram_of([5, 6]), histogram_of([700])
    a.merge(b)
    assert b.summary() == histogram_of([700]).summary()
    assert a.count == 3 and a.max == 700


@settings(max_examples=50, deadline=None)
@given(
    a=st.lists(st.integers(0, 10**8), max_size=100),
    b=st.lists(st.integers(0, 10**8), max_size=100),
)
def test_a_histogram_minus_a_part_of_it_has_the_percentiles_of_the_rest(a, b):
    whole = histogram_of(a + b)
    rest = whole.minus(histogram_of(b))
    alone = histogram_of(a)
    assert rest.count == len(a) and rest.counts == alone.counts
    # the rest's max is known to its bucket only: so are its percentiles, never above the whole's
    for p in PERCENTILES:
        exact = alone.percentile(p)
        assert exact <= rest.percentile(p) <= min(whole.max, exact * (1 + ACCURACY) + 1)
    assert whole.count == len(a) + len(b)  # left alone


# -- RateMeter -------------------------------------------------------------------------------------


def test_a_rate_meter_reports_zero_until_a_second_has_passed():
    meter = RateMeter()
    meter.update(100.0, 0)
    meter.update(100.5, 400)
    meter.update(100.99, 900)
    assert meter.rate == 0.0 and list(meter.history) == []


def test_a_rate_meter_gives_events_per_second_over_the_last_second():
    meter = RateMeter()
    meter.update(100.0, 1000)
    meter.update(100.4, 1400)
    meter.update(101.0, 3000)
    assert meter.rate == pytest.approx(2000.0)
    meter.update(102.0, 3500)
    assert meter.rate == pytest.approx(500.0)
    assert list(meter.history) == pytest.approx([2000.0, 500.0])


def test_a_rate_meter_divides_by_the_time_that_really_passed():
    meter = RateMeter()
    meter.update(0.0, 0)
    meter.update(2.5, 1000)
    assert meter.rate == pytest.approx(400.0)


def test_a_rate_meter_keeps_60_seconds_of_history():
    meter = RateMeter()
    for second in range(101):
        meter.update(float(second), second * second)
    history = list(meter.history)
    assert len(history) == 60
    assert history[-1] == pytest.approx(100**2 - 99**2)
    assert history[0] == pytest.approx(41**2 - 40**2)  # the 60 newest of 100 rates


def test_a_rate_meter_history_length_can_be_chosen():
    meter = RateMeter(history_s=5)
    for second in range(20):
        meter.update(float(second), second)
    assert list(meter.history) == pytest.approx([1.0] * 5)


# -- view records -------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("state", "exit_code", "warning"),
    [
        ("RUNNING", None, False),
        ("STARTING", None, False),
        ("STOPPING", None, False),
        ("EXITED", 0, False),
        ("HUNG", None, True),
        ("DEAD", None, True),
        ("DEAD", 0, True),
        ("EXITED", 1, True),
        ("EXITED", -9, True),
        ("RUNNING", 3, True),
    ],
)
def test_a_process_row_warns_when_hung_dead_or_failed(state, exit_code, warning):
    assert ProcessRow("broker-1", 123, state, exit_code=exit_code).warning is warning


def test_book_view_spread_is_best_ask_minus_best_bid():
    view = BookView(
        "AAPL",
        bids=((15_000, 300, 2), (14_990, 100, 1)),
        asks=((15_007, 200, 1), (15_020, 100, 1)),
        last_price=15_003,
    )
    assert view.spread == 7


@pytest.mark.parametrize(
    ("bids", "asks"),
    [((), ()), (((15_000, 100, 1),), ()), ((), ((15_000, 100, 1),))],
    ids=["empty", "no asks", "no bids"],
)
def test_book_view_without_both_sides_has_no_spread(bids, asks):
    assert BookView("AAPL", bids=bids, asks=asks).spread is None
