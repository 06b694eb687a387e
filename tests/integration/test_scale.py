"""Runs at the largest bounds: 100,000 symbols, a million accounts, every order accounted for."""

from __future__ import annotations

import pytest

from simulator.testing.procs import SimProcess, assert_reconciled

pytestmark = [pytest.mark.slow, pytest.mark.timeout(180)]


def test_a_hundred_thousand_symbols_and_a_million_accounts_run_and_reconcile(tmp_path):
    # hundreds of thousands of orders rest at the end, nearly one book each: the brokers must
    # still report, exit in their grace and the bank reconcile them all
    with SimProcess(
        "--symbols", "100000", "--accounts", "1000000", "--orders", "400000", "--rate", "0",
        "--seed", "3", report=tmp_path / "run.json",
    ) as sim:  # fmt: skip
        assert sim.wait_exit(150) == 0, sim.output()
        report = sim.report()
    assert report["orders"]["placed"] == 400000
    assert report["orders"]["resting"] > 100_000
    assert all(b["exit_code"] == 0 for b in report["brokers"]), report["brokers"]
    assert_reconciled(report)
