"""When orders are due: the bank's open-loop schedule at a set rate, or as fast as brokers go.

Pure: the caller passes the clock reading and how many orders already wait for room in the
brokers' inboxes (the backlog); nothing here reads a clock or a pipe.

Open loop: at a set rate the n-th order is due at start + n / rate, whatever happened since.
Orders are stamped with when they were due, not when they were sent, so a stall (a full inbox,
a slow tick) shows in the latency instead of being hidden. A new rate, a pause or a resume
starts a new schedule from the moment it takes effect.
"""

from __future__ import annotations

AHEAD_AT_FULL_SPEED = 8  # batches per broker generated ahead at rate 0 (see ``due``)
_MOST_STEP_NS = 86_400 * 10**9
_HELD_BACK = 2  # at a set rate, batches per broker waiting for room that hold generation back
# Whatever the flags, at most this many orders wait for room in the inboxes, and so are due at
# once. Eight batches ahead of 32 brokers of 256 is 65,536 new orders, about 94,000 ids with
# their cancels: more than the ledger's order window takes at once (order_window.MOST_SPAN)
# and, at --batch 65536, a tick of seconds that no stop request could interrupt. 16,384 new
# orders are a few milliseconds of work and, with the inboxes, stay inside the window
# (order_window.WINDOW ids); the defaults (2 brokers x 256 x 8 = 4,096) are far below it.
MOST_AHEAD = 16_384


class Schedule:
    """How many orders are due at a moment, and how long the bank may wait for results."""

    def __init__(self, *, rate: float, batch: int, brokers: int) -> None:
        self.rate = max(0.0, float(rate))
        self.paused = False
        self.batch = batch
        self.brokers = brokers
        self.next_due: float | None = None  # when the next order is due, at a set rate
        self._schedule_rate = 0.0

    def set_rate(self, rate: float) -> None:
        self.rate = max(0.0, float(rate))

    @property
    def step_ns(self) -> int:
        """Nanoseconds between two orders' due times (0 at full speed); at most a day, so an
        absurdly low rate cannot overflow a due time."""
        return int(min(1e9 / self.rate, _MOST_STEP_NS)) if self.rate > 0 else 0

    def due(self, now: float, backlog: int) -> tuple[int, float]:
        """How many orders are due at ``now``, and when the first of them was due."""
        per_round = self.batch * self.brokers
        if self.rate <= 0 or self.paused:
            self.next_due = None  # a new rate or a resume starts a new schedule
        if self.paused:
            return 0, now
        if self.rate <= 0:
            # as fast as the brokers go: keep a few batches per broker made ahead of the
            # inboxes, so each tick places thousands of orders and books their events at once
            return max(min(per_round * AHEAD_AT_FULL_SPEED, MOST_AHEAD) - backlog, 0), now
        most = min(per_round * _HELD_BACK, MOST_AHEAD)
        if backlog >= most:
            return 0, now  # inboxes are full: the brokers set the pace
        if self.next_due is None or self._schedule_rate != self.rate:
            self.next_due, self._schedule_rate = now, self.rate
        if now < self.next_due:
            return 0, now
        # compared before converting: at a rate near the float's top (or inf) the product
        # overflows to inf, which no int holds
        owed = (now - self.next_due) * self.rate
        due = int(owed) + 1 if owed < most else most
        first = self.next_due
        self.next_due += due / self.rate
        return due, first

    def idle_wait(self, now: float, backlog: int) -> float:
        """How long the next poll may wait for results without making a due order late."""
        if self.paused:
            return 0.02
        if backlog:
            return 0.001  # an inbox is full: give the brokers a moment
        if self.rate <= 0 or self.next_due is None:
            return 0.0
        return min(max(self.next_due - now, 0.0), 0.005)
