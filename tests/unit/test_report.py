"""The report and the summary a person reads at the end, built from the config and an Outcome."""

from __future__ import annotations

import json
from dataclasses import replace

import pytest

from simulator.config import SimConfig
from simulator.reconciliation import Reconciliation
from simulator.report import banner, build_report, progress_line, summary_text, write_report
from simulator.snapshots import Outcome
from simulator.stats import OrderCounts, RunState
from simulator.testing.dashboard import build_snapshot

COUNTS = OrderCounts(placed=1000, acked=990, filled=600, cancelled=250, rejected=10, resting=140)


def reconciliation(**changes) -> Reconciliation:
    rec = Reconciliation(
        placed=1000,
        filled=600,
        cancelled=250,
        rejected=10,
        resting=140,
        lost=0,
        lost_ids=[],
        cancels_lost=0,
        positions_balanced=True,
        cash_balanced=True,
    )
    return replace(rec, **changes)


def outcome(**changes) -> Outcome:
    base = Outcome(
        snapshot=build_snapshot(state=RunState.STOPPED, orders=COUNTS),
        reconciliation=reconciliation(),
        stop_reason="order limit reached (1000)",
        fatal=False,
        brokers_clean=True,
        duration_s=2.0,
        drain_s=0.25,
        fills_digest="ab" * 32,
        exit_code=0,
        answered_s=2.5,
        started_utc="2026-12-01T09:00:00.000Z",
        ended_utc="2026-12-01T09:00:02.250Z",
    )
    return replace(base, **changes)


@pytest.fixture(autouse=True)
def every_report_fits_the_schema(monkeypatch):
    """Each report these tests build is checked against the schema as it is made."""
    import simulator.report
    from simulator.testing.report_check import assert_valid_report

    real = simulator.report.build_report

    def checked(config, outcome):
        return assert_valid_report(real(config, outcome))

    monkeypatch.setitem(globals(), "build_report", checked)


def test_the_report_carries_what_the_outcome_says_and_derives_the_throughput():
    config = SimConfig(seed=11, orders=1000, headless=True)
    report = build_report(config, outcome())
    assert report["config"]["seed"] == 11
    assert report["stop_reason"] == "order limit reached (1000)"
    assert (report["duration_s"], report["drain_s"]) == (2.0, 0.25)
    assert report["orders"] == {
        "placed": 1000,
        "filled": 600,
        "cancelled": 250,
        "rejected": 10,
        "resting": 140,
        "lost": 0,
    }
    assert report["throughput"] == {"orders_per_s": 400.0, "orders": 1000, "seconds": 2.5}
    assert report["fills"]["digest"] == "ab" * 32
    assert report["reconciled"] and report["positions_balanced"] and report["cash_balanced"]
    assert report["exit_code"] == 0
    names = [b["name"] for b in report["brokers"]]
    assert names and "bank" not in names
    json.dumps(report)  # it is what --report writes


def test_a_run_that_never_placed_an_order_reports_zero_throughput_not_an_error():
    report = build_report(
        SimConfig(headless=True), outcome(duration_s=0.0, answered_s=0.0, reconciliation=None, exit_code=1)
    )
    assert report["throughput"]["orders_per_s"] == 0.0
    assert not report["reconciled"] and report["lost_ids"] == []


def test_the_summary_states_the_identity_of_the_final_states_and_the_verdict():
    text = summary_text(build_report(SimConfig(seed=11, headless=True), outcome()))
    lines = text.splitlines()
    assert lines[0] == "stopped: order limit reached (1000) after 2.00 s (seed 11)"
    assert "orders   placed 1,000 = filled 600 + cancelled 250 + rejected 10 + resting 140 + lost 0" in lines
    assert lines[-1] == "reconciled: yes; exit status 0"


def test_the_summary_names_lost_orders_by_id():
    lost = outcome(
        snapshot=build_snapshot(orders=replace(COUNTS, resting=137, lost=3)),
        reconciliation=reconciliation(lost=3, lost_ids=[17, 18, 40], resting=137),
        exit_code=1,
    )
    text = summary_text(build_report(SimConfig(headless=True), lost))
    assert text.splitlines()[-1] == "reconciled: NO -- 3 LOST, first ids [17, 18, 40]; exit status 1"


def test_lost_cancel_requests_are_counted_apart_so_every_identity_a_user_reads_holds():
    """Lost cancels used to be added to the orders' lost, so the parts of
    'placed = ...' added up to more than placed."""
    counts = replace(COUNTS, resting=137, lost=3, cancels_lost=2)
    lost = outcome(
        snapshot=build_snapshot(orders=counts, cancel_requests={"sent": 50, "done": 30, "rejected": 18}),
        reconciliation=reconciliation(
            resting=137, lost=3, lost_ids=[17, 18, 40], cancels_lost=2, lost_cancel_ids=[19, 41]
        ),
        exit_code=1,
    )
    report = build_report(SimConfig(headless=True), lost)
    o, c = report["orders"], report["cancel_requests"]
    assert o["placed"] == o["filled"] + o["cancelled"] + o["rejected"] + o["resting"] + o["lost"]
    assert (o["lost"], report["lost_ids"]) == (3, [17, 18, 40])
    assert c == {"sent": 50, "done": 30, "rejected": 18, "lost": 2, "reject_reasons": {}}
    assert c["sent"] == c["done"] + c["rejected"] + c["lost"]
    assert report["lost_cancel_ids"] == [19, 41]
    lines = summary_text(report).splitlines()
    assert "orders   placed 1,000 = filled 600 + cancelled 250 + rejected 10 + resting 137 + lost 3" in lines
    assert "cancels  sent 50: done 30, rejected 18, lost 2" in lines
    assert lines[-1] == (
        "reconciled: NO -- 3 LOST, first ids [17, 18, 40] and 2 cancel requests LOST, "
        "first ids [19, 41]; exit status 1"
    )


def test_only_lost_cancel_requests_are_named_in_the_verdict_too():
    lost = outcome(
        snapshot=build_snapshot(orders=replace(COUNTS, cancels_lost=1)),
        reconciliation=reconciliation(cancels_lost=1, lost_cancel_ids=[7]),
        exit_code=1,
    )
    verdict = summary_text(build_report(SimConfig(headless=True), lost)).splitlines()[-1]
    assert verdict == "reconciled: NO -- 1 cancel requests LOST, first ids [7]; exit status 1"


def test_throughput_is_orders_answered_over_the_first_order_to_the_last_answer():
    """2,000 orders placed in 2 ms used to report 1,084,223 orders/s, the time of
    placing alone; the answers came in tens of milliseconds later."""
    quick = outcome(duration_s=0.002, drain_s=0.06, answered_s=0.04)
    report = build_report(SimConfig(headless=True), quick)
    assert (report["duration_s"], report["drain_s"]) == (0.002, 0.06)  # as they were
    assert report["throughput"] == {"orders_per_s": 25000.0, "orders": 1000, "seconds": 0.04}
    assert "speed    25,000 orders/s: 1,000 orders answered 0.040 s after the first was placed" in (
        summary_text(report).splitlines()
    )


def test_orders_still_in_flight_are_not_counted_as_answered():
    running = replace(COUNTS, resting=100, in_flight=40)  # a run cut short: no reconciliation
    report = build_report(
        SimConfig(headless=True), outcome(snapshot=build_snapshot(orders=running), reconciliation=None)
    )
    assert report["throughput"]["orders"] == 960


@pytest.mark.parametrize(
    ("flags", "ending"),
    [
        ({}, ", Ctrl-C stops cleanly"),
        ({"orders": 5000}, ", stops after 5,000 orders"),
        ({"orders": 5000, "duration": 2.5}, ", stops after 5,000 orders or 2.5 s"),
    ],
)
def test_the_banner_says_how_the_run_will_stop(flags, ending):
    line = banner(SimConfig(seed=3, rate=0, headless=True, **flags))
    assert line.startswith("simulate: seed 3, ") and "rate max" in line
    assert line.endswith(ending)


def test_the_progress_line_shows_the_snapshot_figures_and_the_latency_of_the_last_second():
    window = {"count": 40, "p50": 212, "p99": 940, "max": 1000}
    line = progress_line(build_snapshot(ack_latency_last_s=window))
    assert "placed  1,234,567" in line and line.endswith("| last s: ack p50 212 us p99 940 us")
    assert "7,340" not in line  # the whole run's p99: one early stall would pin it for good


def test_the_progress_line_says_when_no_ack_came_in_the_last_second():
    line = progress_line(build_snapshot(ack_latency_last_s={"count": 0, "p50": 0, "p99": 0, "max": 0}))
    assert line.endswith("| last s: no acks")


def test_a_report_is_written_whole(tmp_path):
    path = tmp_path / "r.json"
    report = build_report(SimConfig(headless=True), outcome())
    write_report(str(path), report)
    assert json.loads(path.read_text()) == report


# -- the banner when a stop signal is ignored -----------------------------------------------------


@pytest.mark.parametrize("flags", [{}, {"orders": 5000}])
def test_the_banner_of_a_run_that_inherited_sigint_ignored_says_what_stops_it(flags):
    # a script's background job (`simulate.py --headless &`) inherits SIGINT ignored: Ctrl-C
    # cannot stop it, so the banner must not promise that it does
    line = banner(SimConfig(seed=3, headless=True, **flags), ignored=["SIGINT"])
    assert "Ctrl-C" not in line
    assert line.endswith("SIGINT ignored (inherited): SIGTERM stops it cleanly")
    if flags:
        assert ", stops after 5,000 orders;" in line


def test_the_banner_names_every_ignored_stop_signal():
    line = banner(SimConfig(seed=3, headless=True), ignored=["SIGINT", "SIGTERM"])
    assert line.endswith("SIGINT and SIGTERM ignored (inherited): SIGHUP stops it cleanly")


def test_an_ignored_sighup_alone_changes_nothing_about_ctrl_c():
    assert banner(SimConfig(seed=3, headless=True), ignored=["SIGHUP"]).endswith(", Ctrl-C stops cleanly")


def test_the_ignored_signals_are_read_from_the_process(monkeypatch):
    import signal

    from simulator import processes

    monkeypatch.setattr(signal, "getsignal", lambda sig: signal.SIG_IGN if sig == signal.SIGINT else None)
    assert processes.ignored_stop_signals() == ["SIGINT"]


# -- writing the report safely --------------------------------------------------------------------


def a_report() -> dict:
    return build_report(SimConfig(headless=True), outcome())


def test_a_symlink_planted_at_the_old_temporary_name_is_never_followed(tmp_path):
    victim = tmp_path / "victim"
    victim.write_text("precious\n")
    path = tmp_path / "r.json"
    (tmp_path / "r.json.tmp").symlink_to(victim)
    write_report(str(path), a_report())
    assert victim.read_text() == "precious\n"
    assert path.is_file() and not path.is_symlink()
    assert json.loads(path.read_text())["version"] == a_report()["version"]


def test_a_special_file_is_never_replaced(tmp_path):
    import os
    import stat

    fifo = tmp_path / "fifo"
    os.mkfifo(fifo)
    with pytest.raises(OSError, match="not a regular file"):
        write_report(str(fifo), a_report())
    assert stat.S_ISFIFO(os.lstat(fifo).st_mode)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["fifo"]  # no temporary file left


def test_a_symbolic_link_at_the_report_path_is_refused_and_its_target_kept(tmp_path):
    target = tmp_path / "target"
    target.write_text("keep\n")
    (tmp_path / "r.json").symlink_to(target)
    with pytest.raises(OSError, match="not a regular file"):
        write_report(str(tmp_path / "r.json"), a_report())
    assert target.read_text() == "keep\n"


def test_a_failed_write_leaves_no_temporary_file_and_the_old_report(tmp_path):
    path = tmp_path / "r.json"
    path.write_text('{"old": true}\n')
    with pytest.raises(TypeError):
        write_report(str(path), {"bad": object()})
    assert path.read_text() == '{"old": true}\n'
    assert sorted(p.name for p in tmp_path.iterdir()) == ["r.json"]


def test_a_replaced_report_keeps_its_mode_and_a_new_one_follows_the_umask(tmp_path):
    import os

    old = tmp_path / "old.json"
    old.write_text("{}\n")
    old.chmod(0o640)
    write_report(str(old), a_report())
    assert old.stat().st_mode & 0o777 == 0o640
    mask = os.umask(0o027)
    try:
        write_report(str(tmp_path / "new.json"), a_report())
    finally:
        os.umask(mask)
    assert (tmp_path / "new.json").stat().st_mode & 0o777 == 0o640


# -- printing to a reader that went away ----------------------------------------------------------


def test_printing_to_a_closed_pipe_is_quiet_and_later_prints_too(monkeypatch):
    import io
    import os

    from simulator.report import flush_output, print_outcome, say

    read_end, write_end = os.pipe()
    os.close(read_end)  # the reader went away, as `| head` does
    stream = io.TextIOWrapper(io.FileIO(write_end, "w"), write_through=False)
    monkeypatch.setattr("sys.stdout", stream)
    try:
        assert say("first line") is False  # EPIPE: no exception, no traceback
        assert say("second line") is True  # the stream now goes to /dev/null
        report = {**a_report(), "exit_code": 0}
        assert print_outcome(report, []) == 0  # the run's status, not a failure to print
        flush_output()
    finally:
        stream.close()
