"""The bank's schedule: what is due at a given rate and time, and what holds it back."""

from __future__ import annotations

import pytest

from simulator.schedule import AHEAD_AT_FULL_SPEED, Schedule


def test_at_a_set_rate_the_first_order_is_due_at_once_and_the_next_one_rate_later():
    s = Schedule(rate=1000, batch=256, brokers=2)
    assert s.due(10.0, backlog=0) == (1, 10.0)
    assert s.due(10.0005, backlog=0) == (0, 10.0005)  # the next is due at 10.001
    due, first = s.due(10.001, backlog=0)
    assert (due, first) == (1, pytest.approx(10.001))


def test_orders_missed_by_a_late_tick_are_all_due_with_their_own_due_time():
    s = Schedule(rate=1000, batch=256, brokers=2)
    s.due(0.0, backlog=0)
    due, first = s.due(0.0505, backlog=0)  # 50.5 ms late: orders due at 1, 2, ... 50 ms
    assert due == 50 and first == pytest.approx(0.001)
    assert s.due(0.0505, backlog=0)[0] == 0  # and none twice


def test_a_full_inbox_holds_generation_back_and_the_schedule_keeps_its_due_times():
    s = Schedule(rate=1000, batch=10, brokers=2)
    s.due(0.0, backlog=0)
    assert s.due(0.5, backlog=40) == (0, 0.5)  # 2 batches per broker wait: brokers set the pace
    due, first = s.due(0.5, backlog=0)
    # once there is room, what was due in the meantime is due (bounded per tick), stamped
    # with when it was due: the stall shows in the latency
    assert due == 40 and first == pytest.approx(0.001)


def test_at_full_speed_a_few_batches_per_broker_are_kept_made_ahead():
    s = Schedule(rate=0, batch=100, brokers=3)
    ahead = 100 * 3 * AHEAD_AT_FULL_SPEED
    assert s.due(5.0, backlog=0) == (ahead, 5.0)
    assert s.due(5.0, backlog=ahead - 7) == (7, 5.0)
    assert s.due(5.0, backlog=ahead + 1)[0] == 0
    assert s.step_ns == 0


def test_paused_nothing_is_due_and_a_resume_starts_a_new_schedule():
    s = Schedule(rate=100, batch=256, brokers=1)
    s.due(0.0, backlog=0)
    s.paused = True
    assert s.due(3.0, backlog=0) == (0, 3.0)
    s.paused = False
    assert s.due(3.0, backlog=0) == (1, 3.0)  # not the 300 orders a paused clock would owe


def test_a_new_rate_starts_from_the_moment_it_takes_effect():
    s = Schedule(rate=10, batch=256, brokers=1)
    s.due(0.0, backlog=0)
    s.set_rate(1000)
    assert s.due(0.05, backlog=0) == (1, 0.05)
    assert s.step_ns == 1_000_000
    s.set_rate(-5)
    assert s.rate == 0.0  # a negative rate means as fast as possible, never an error


def test_the_idle_wait_never_makes_a_due_order_late():
    s = Schedule(rate=100, batch=256, brokers=1)
    s.due(0.0, backlog=0)
    assert s.idle_wait(0.004, backlog=0) == pytest.approx(0.005)  # capped at 5 ms
    assert s.idle_wait(0.008, backlog=0) == pytest.approx(0.002)  # next order at 10 ms
    assert s.idle_wait(0.008, backlog=3) == 0.001  # an inbox is full: only a moment
    assert Schedule(rate=0, batch=1, brokers=1).idle_wait(0.0, backlog=0) == 0.0
