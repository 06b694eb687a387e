"""Sweeps of real runs: every combination run and recorded, a failing run recorded while the
sweep goes on, a real SIGINT ending the current run cleanly and stopping the sweep."""

from __future__ import annotations

import csv
import signal
import sys

import psutil
import pytest

from simulator.testing.procs import ROOT, SimProcess

pytestmark = [pytest.mark.slow, pytest.mark.timeout(180)]

SWEEP = (sys.executable, str(ROOT / "simulate.py"), "sweep")
SMALL = ("--symbols", "4", "--orders", "2000")


def rows(path) -> list[dict]:
    with open(path, newline="") as f:
        return list(csv.DictReader(f))


def test_a_small_sweep_runs_every_combination_and_each_seed_gives_one_digest(tmp_path):
    base = tmp_path / "base.toml"
    base.write_text("symbols = 4\norders = 2000\naccounts = 20\n")
    out = tmp_path / "sweep.csv"
    flags = ("--config", str(base), "--vary", "rate=0,4000", "--vary", "brokers=1,2", "--seeds", "2")
    with SimProcess(
        *flags, "--jobs", "1", "--out", str(out), "--reports", str(tmp_path), command=SWEEP
    ) as sweep:
        assert sweep.wait_exit(150) == 0, sweep.output()
    table = rows(out)
    assert [(r["rate"], r["brokers"], r["seed"]) for r in table] == [
        (rate, brokers, seed) for rate in ("0", "4000") for brokers in ("1", "2") for seed in ("1", "2")
    ]
    assert all(r["status"] == "ok" and r["exit_code"] == "0" and r["reconciled"] == "True" for r in table)
    assert all(r["placed"] == "2000" and float(r["orders_per_s"]) > 0 for r in table)
    for seed in ("1", "2"):  # brokers and rate change the timing, never the fills
        assert len({r["digest"] for r in table if r["seed"] == seed}) == 1
    assert table[0]["digest"] != table[1]["digest"]
    out_text = "".join(sweep.stdout)
    assert "digests: the same for every run of one seed and order flow (2 such groups, 8 runs)" in out_text
    assert "rate  brokers  runs  ok" in out_text and f"8 rows in {out}" in out_text
    assert "[8/8] rate=4000 brokers=2 seed=2: " in "".join(sweep.stderr)
    assert sorted(p.name for p in tmp_path.glob("run-*.json")) == sorted(f"run-{n}.json" for n in range(1, 9))


def test_a_failing_run_is_recorded_and_the_sweep_goes_on(tmp_path):
    out = tmp_path / "sweep.csv"
    # no restart allowed: the drill's first kill ends the run with exit 1; 20 allowed: it survives
    with SimProcess(*SMALL, "--rate", "2000", "--kill-broker-every", "0.3", "--vary", "max-restarts=0,20",
                    "--out", str(out), command=SWEEP) as sweep:  # fmt: skip
        assert sweep.wait_exit(120) == 1, sweep.output()
    failed, survived = rows(out)
    assert (failed["status"], failed["exit_code"]) == ("failed", "1")
    assert "max-restarts" in failed["stop_reason"] or failed["error"], failed
    assert (survived["status"], survived["exit_code"], survived["reconciled"]) == ("ok", "0", "True")
    assert "run 1 (max-restarts=0 seed=1): FAILED" in "".join(sweep.stdout)


@pytest.mark.parametrize("send", [SimProcess.signal_bank, SimProcess.signal_group], ids=["process", "group"])
def test_ctrl_c_ends_the_current_run_cleanly_and_stops_the_sweep(tmp_path, send):
    out = tmp_path / "sweep.csv"
    with SimProcess("--symbols", "4", "--rate", "3000", "--duration", "60", "--vary", "brokers=1,2",
                    "--out", str(out), command=SWEEP) as sweep:  # fmt: skip

        def a_run_placing() -> bool:
            runs = [
                p for p in psutil.Process(sweep.proc.pid).children() if "simulator" in " ".join(p.cmdline())
            ]
            # its broker is up (a fork of the run's fork server)
            return bool(runs) and any(
                " ".join(b.cmdline()).startswith("simulate: broker") for b in runs[0].children(recursive=True)
            )

        sweep.wait_for(a_run_placing, 30, "the first run to start")
        # a real SIGINT: to the sweep alone, or to its process group as a terminal's Ctrl-C (the
        # runs have sessions of their own: either way the sweep passes it on)
        send(sweep, signal.SIGINT)
        assert sweep.wait_exit(60) == 130, sweep.output()
        assert not sweep.wait_group_gone(5.0)
    (only,) = rows(out)
    assert only["status"] == "interrupted" and only["exit_code"] == "0", only
    assert only["stop_reason"] == "signal SIGINT" and only["reconciled"] == "True"
    assert "stopped by SIGINT, 1 runs not started" in "".join(sweep.stderr)


def test_runs_side_by_side_and_a_run_past_its_timeout_stopped_cleanly(tmp_path):
    out = tmp_path / "sweep.csv"
    flags = ("--symbols", "4", "--rate", "1000", "--duration", "60", "--vary", "brokers=1,2")
    with SimProcess(*flags, "--jobs", "2", "--run-timeout", "3", "--out", str(out), command=SWEEP) as sweep:
        assert sweep.wait_exit(60) == 1, sweep.output()  # both timed out: not what was asked
    table = rows(out)
    assert sorted(r["brokers"] for r in table) == ["1", "2"]
    for r in table:  # stopped with SIGINT the usual way: every order answered, the report written
        assert (r["status"], r["exit_code"], r["stop_reason"], r["reconciled"]) == (
            "timeout",
            "0",
            "signal SIGINT",
            "True",
        ), r
        assert 3 <= float(r["seconds"]) < 30
