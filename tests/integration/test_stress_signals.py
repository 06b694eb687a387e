"""A short signal stress drill: 8 runs of simulator.testing.signal_drill's drill, each one judged.

Every timing class (during imports, during broker start-up, mid-run) and every stop signal
(SIGINT to the group, SIGTERM to the bank, SIGHUP to the group) comes up at least once, with a
second Ctrl-C on two runs. Each run must exit 0 with a report that reconciles with 0 lost, stop
because of the signal it got, hang nowhere and leave no process behind. The long drill:
``python bench/stress_signals.py --runs 200``.
"""

from __future__ import annotations

import pytest

from simulator.testing import signal_drill as drill

pytestmark = [pytest.mark.slow, pytest.mark.timeout(240)]

SEED = 20261125
RUNS = 8

PLAN = drill.make_plan(RUNS, SEED, balanced=True)


def test_the_plan_covers_every_timing_class_and_signal():
    assert {s.timing for s in PLAN} == set(drill.CLASSES)
    assert {s.signal for s in PLAN} == set(drill.SIGNALS)
    assert any(s.second_sigint_ms for s in PLAN)
    assert drill.make_plan(RUNS, SEED, balanced=True) == PLAN  # seeded: the same drill again


@pytest.mark.parametrize("spec", PLAN, ids=[f"{s.index}-{s.timing}-{s.signal}" for s in PLAN])
def test_a_stop_signal_at_a_random_moment_loses_nothing(spec, tmp_path):
    r = drill.run_once(spec, tmp_path)
    where = f"{spec.describe()}; landed in {r.phase} at {r.delay_s} s\n{r.output}{r.stacks}"
    assert not r.hang, where
    assert not r.pre_start, where  # no class here signals before simulate.py's handlers
    assert r.exit_code == 0, where
    assert r.report, where
    assert r.lost == 0 and r.reconciled is True, where
    assert r.stop_reason == f"signal {spec.signal.split('>')[0]}", where
    assert not r.orphans, where
    assert r.stop_s is not None, where
    assert not r.problems, where
