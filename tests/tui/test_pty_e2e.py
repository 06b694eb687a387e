"""The dashboard end to end, on a real pseudo-terminal: start, watch live counts, stop cleanly."""

from __future__ import annotations

import re
import signal

import pytest

from simulator.testing.pty import PtySim

pytestmark = [pytest.mark.slow, pytest.mark.timeout(90)]

LEAVE_ALT_SCREEN = "\x1b[?1049l"


def placed_on_screen(sim: PtySim) -> int:
    match = re.search(r"placed\s+([\d,]+)", sim.text())
    return int(match.group(1).replace(",", "")) if match else 0


def run_and_stop(stop, tmp_path) -> tuple[PtySim, int, str]:
    sim = PtySim("--rate", "2000", "--seed", "5", "--symbols", "AAPL,MSFT,NVDA")
    try:
        sim.wait_for(
            lambda: "RUNNING" in sim.text() and placed_on_screen(sim) > 0,
            45,
            "the dashboard to show live counts",
        )
        first = placed_on_screen(sim)
        sim.wait_for(lambda: placed_on_screen(sim) > first, 10, "the counts to move")
        stop(sim)
        code = sim.wait_exit(45)
        left = sim.leftover_processes()
        assert not left, f"processes left behind: {left}"
        return sim, code, sim.output()
    finally:
        sim.close()


def assert_clean_summary(code: int, output: str, reason: str) -> None:
    assert code == 0, output[-3000:]
    assert LEAVE_ALT_SCREEN in output, "the terminal was left in the alternate screen"
    after = output[output.rindex(LEAVE_ALT_SCREEN) :]
    assert f"stopped: {reason}" in after
    assert re.search(r"\+ lost 0\b", after), after
    assert "reconciled: yes; exit status 0" in after


def test_ctrl_c_key_in_the_dashboard_stops_cleanly(tmp_path):
    sim, code, output = run_and_stop(lambda s: s.press(b"\x03"), tmp_path)
    assert_clean_summary(code, output, "user quit")


def test_q_key_stops_cleanly(tmp_path):
    sim, code, output = run_and_stop(lambda s: s.press(b"q"), tmp_path)
    assert_clean_summary(code, output, "user quit")


@pytest.mark.parametrize("sig", [signal.SIGTERM, signal.SIGHUP])
def test_a_signal_while_the_dashboard_runs_stops_cleanly_and_restores_the_terminal(tmp_path, sig):
    sim, code, output = run_and_stop(lambda s: s.proc.send_signal(sig), tmp_path)
    assert_clean_summary(code, output, f"signal {sig.name}")


def test_a_run_that_ends_stays_on_screen_finished_with_its_report_until_q(tmp_path):
    sim = PtySim("--orders", "40", "--rate", "20", "--seed", "5", "--symbols", "AAPL", "--brokers", "1")
    try:
        # the tape shows the watched symbol's orders, each with its id, as they happen
        sim.wait_for(
            lambda: re.search(r"#\d+ +NEW +(BUY|SELL) +(LMT|MKT)", sim.text()), 45, "a NEW on the tape"
        )
        sim.wait_for(lambda: re.search(r"#\d+ +ACK", sim.text()), 20, "an ACK on the tape")
        sim.wait_for(
            lambda: "FINISHED" in sim.text() and "Final report" in sim.text(), 45, "the end on screen"
        )
        assert "order limit reached (40)" in sim.text()
        assert sim.proc.poll() is None, "the dashboard stays open until q"
        sim.press(b"q")
        code = sim.wait_exit(30)
        assert not sim.leftover_processes()
    finally:
        sim.close()
    assert_clean_summary(code, sim.output(), "order limit reached (40)")


def test_with_exit_on_finish_the_dashboard_closes_when_the_run_ends(tmp_path):
    sim = PtySim(
        "--orders", "40", "--rate", "40", "--seed", "5", "--symbols", "AAPL,MSFT", "--exit-on-finish"
    )
    try:
        code = sim.wait_exit(60)
        assert not sim.leftover_processes()
    finally:
        sim.close()
    assert_clean_summary(code, sim.output(), "order limit reached (40)")


def test_step_mode_places_one_order_and_says_what_it_did(tmp_path):
    sim = PtySim("--rate", "4", "--seed", "5", "--symbols", "AAPL,MSFT", "--brokers", "1")
    try:
        sim.wait_for(lambda: "RUNNING" in sim.text() and placed_on_screen(sim) > 0, 45, "the run to start")
        sim.press(b"p")
        sim.wait_for(
            lambda: "PAUSED" in sim.text() and "Step" in sim.text(), 20, "PAUSED, and n in the footer"
        )
        placed = placed_on_screen(sim)
        sim.press(b"n")
        said = r"#\d+ (BUY|SELL) [\d,]+ (AAPL|MSFT) @ [\w.]+: (traded|rests|rejected|[\d,]+ unfilled)"
        sim.wait_for(lambda: re.search(said, sim.text()), 20, "the step's note")
        sim.wait_for(lambda: placed_on_screen(sim) > placed, 10, "one more")
        assert "PAUSED" in sim.text()
        sim.press(b"q")
        code = sim.wait_exit(45)
        assert not sim.leftover_processes()
    finally:
        sim.close()
    assert_clean_summary(code, sim.output(), "user quit")


def test_your_order_from_the_form_is_refused_until_valid_then_placed_and_shown(tmp_path):
    sim = PtySim("--rate", "20", "--seed", "5", "--symbols", "AAPL", "--brokers", "1")
    try:
        sim.wait_for(lambda: "RUNNING" in sim.text() and placed_on_screen(sim) > 20, 45, "the run to start")
        sim.press(b"o")
        sim.wait_for(lambda: "Your order on AAPL" in sim.text(), 20, "the order form")
        sim.press(b"\r")  # a LIMIT order with no price: refused in the form, nothing sent
        sim.wait_for(lambda: "not sent: price" in sim.text(), 20, "the form's refusal")
        sim.press(b"999999\r")  # the cursor is in the price field: far above the offers
        sim.wait_for(lambda: "Sent" in sim.text() or "#you1" in sim.text(), 20, "the order sent")
        sim.wait_for(
            lambda: re.search(r"#you1\s+(FILL|ACK)", sim.text()), 30, "your order's ack or fill on the tape"
        )
        sim.press(b"q")
        code = sim.wait_exit(45)
        assert not sim.leftover_processes()
    finally:
        sim.close()
    assert_clean_summary(code, sim.output(), "user quit")
    after = sim.output()[sim.output().rindex(LEAVE_ALT_SCREEN) :]
    assert re.search(r"yours    placed 1 = filled [01] ", after), after
