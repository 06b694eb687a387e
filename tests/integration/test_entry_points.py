"""The ways to start the simulator are one program: ``python -m simulator``, the installed
``simulate`` script and ``python simulate.py`` print the same usage and make the same run."""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import sys
import sysconfig

import pytest

from simulator.testing.procs import ROOT, SimProcess, assert_reconciled

pytestmark = [pytest.mark.slow, pytest.mark.timeout(120)]

DASH_M = (sys.executable, "-m", "simulator")
SMALL = ("--symbols", "AAPL,MSFT,NVDA,TSLA", "--seed", "7", "--brokers", "2")


def usage_of(*command: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [*command, "--help"], cwd=ROOT, stdin=subprocess.DEVNULL, capture_output=True, text=True, timeout=60
    )


def assert_prints_the_usage(done: subprocess.CompletedProcess[str]) -> None:
    assert done.returncode == 0, done.stderr
    assert done.stdout.startswith("usage: "), done.stdout
    for flag in ("--brokers", "--rate", "--seed", "--headless", "--report"):
        assert flag in done.stdout, flag


def installed_simulate() -> str | None:
    """The ``simulate`` script installed with this interpreter (pyenv and venvs put it beside
    the interpreter's scripts, which need not be on PATH), else one on PATH."""
    where = os.pathsep.join([sysconfig.get_path("scripts"), os.environ.get("PATH", "")])
    return shutil.which("simulate", path=where)


def test_python_dash_m_simulator_prints_the_same_usage_as_simulate_py():
    done = usage_of(*DASH_M)
    assert_prints_the_usage(done)
    assert done.stdout == usage_of(sys.executable, str(ROOT / "simulate.py")).stdout


def test_the_installed_simulate_script_prints_the_usage():
    script = installed_simulate()
    if script is None:
        pytest.skip('no `simulate` console script installed: run python -m pip install ".[test]"')
    assert_prints_the_usage(usage_of(script))


def test_a_headless_run_through_python_dash_m_reconciles_with_simulate_py_s_fills(tmp_path):
    reports = {}
    for name, command in (("dash-m", DASH_M), ("simulate.py", (sys.executable, str(ROOT / "simulate.py")))):
        with SimProcess(
            *SMALL, "--orders", "8000", "--rate", "0", command=command, report=tmp_path / f"{name}.json"
        ) as sim:
            assert sim.wait_exit(60) == 0, sim.output()
            reports[name] = sim.report()
        assert "reconciled: yes; exit status 0" in "".join(sim.stdout)
    assert_reconciled(reports["dash-m"])
    assert reports["dash-m"]["orders"]["placed"] == 8000
    assert reports["dash-m"]["fills"] == reports["simulate.py"]["fills"]


def test_ctrl_c_while_python_dash_m_is_still_importing_stops_cleanly(tmp_path):
    """The early handlers are in before the heavy imports: a Ctrl-C from then on is a clean
    stop with a report, never a KeyboardInterrupt traceback."""
    with SimProcess(*SMALL, "--rate", "0", command=DASH_M, report=tmp_path / "run.json") as sim:
        sim.wait_for(lambda: sim.catches(signal.SIGHUP), 30, "the early stop handlers")
        sim.signal_group(signal.SIGINT)
        assert sim.wait_exit(60) == 0, sim.output()
        report = sim.report()
    assert "Traceback" not in "".join(sim.stderr), sim.output()
    assert report["stop_reason"] == "signal SIGINT"
    assert_reconciled(report)
