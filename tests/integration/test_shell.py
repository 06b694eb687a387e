"""The simulator in a shell's plumbing: a reader that goes away, closed standard streams, a job a
script starts in the background, and paths checked before anything starts. Real processes,
real pipes and signals; every run ends, even when its test fails (SimProcess)."""

from __future__ import annotations

import os
import signal
import subprocess

import psutil
import pytest

from simulator.testing.procs import ROOT, SIMULATE, SimProcess, assert_reconciled

pytestmark = [pytest.mark.slow, pytest.mark.timeout(120)]

SMALL = ("--symbols", "AAPL,MSFT,NVDA,TSLA", "--seed", "7")


def shell(script: str) -> tuple[str, ...]:
    """A SimProcess command: bash runs ``script`` with the simulator's command line as "$@"."""
    return ("bash", "-c", script, "simulate", *SIMULATE)


def no_traceback(sim: SimProcess) -> None:
    err = "".join(sim.stderr)
    assert "Traceback" not in err and "Error" not in err, sim.output()


def test_a_reader_that_goes_away_neither_stops_the_run_nor_prints_a_traceback(tmp_path):
    # `| head -1` reads the banner and exits: every later line meets a closed pipe
    script = '"$@" | head -1; exit "${PIPESTATUS[0]}"'
    flags = (*SMALL, "--orders", "30000", "--rate", "10000")
    with SimProcess(*flags, command=shell(script), report=tmp_path / "run.json") as sim:
        assert sim.wait_exit(60) == 0, sim.output()
        report = sim.report()
    assert [line.split(",")[0] for line in sim.stdout] == ["simulate: seed 7"]
    no_traceback(sim)
    assert report["stop_reason"] == "order limit reached (30000)"
    assert report["orders"]["placed"] == 30000
    assert_reconciled(report)


@pytest.mark.parametrize("redirect", ["<&-", ">&-", "2>&-", "<&- >&- 2>&-"])
def test_a_closed_standard_stream_is_no_crash(tmp_path, redirect):
    with SimProcess(
        *SMALL,
        "--orders",
        "5000",
        "--rate",
        "0",
        command=shell(f'"$@" {redirect}'),
        report=tmp_path / "r.json",
    ) as sim:
        assert sim.wait_exit(60) == 0, sim.output()
        report = sim.report()
    no_traceback(sim)
    assert report["orders"]["placed"] == 5000
    assert_reconciled(report)


def simulator_pid(sim: SimProcess) -> int:
    def find() -> int | None:
        for child in psutil.Process(sim.proc.pid).children():
            try:
                if "simulate.py" in " ".join(child.cmdline()):
                    return child.pid
            except psutil.Error:
                pass
        return None

    sim.wait_for(find, 30, "the simulator under bash")
    pid = find()
    assert pid is not None
    return pid


def test_a_background_job_keeps_sigint_ignored_and_its_banner_says_sigterm_stops_it(tmp_path):
    # a non-interactive shell starts `cmd &` with SIGINT ignored; the run keeps it so
    with SimProcess(
        *SMALL, "--rate", "2000", command=shell('"$@" & wait $!'), report=tmp_path / "r.json"
    ) as sim:
        sim.wait_for_output("simulate: seed 7")
        banner = sim.stdout[0]
        assert "Ctrl-C" not in banner, banner
        assert banner.rstrip().endswith("SIGINT ignored (inherited): SIGTERM stops it cleanly"), banner
        bank = simulator_pid(sim)
        os.kill(bank, signal.SIGINT)  # discarded at once: its disposition is SIG_IGN
        sim.wait_placed_at_least(sim.placed() + 4000)  # and the run went on after it
        os.kill(bank, signal.SIGTERM)
        assert sim.wait_exit(30) == 0, sim.output()
        report = sim.report()
    assert report["stop_reason"] == "signal SIGTERM"
    assert_reconciled(report)


def test_a_log_file_on_a_fifo_is_refused_at_once_not_a_hang(tmp_path):
    fifo = tmp_path / "fifo"
    os.mkfifo(fifo)
    with SimProcess(*SMALL, "--log-file", str(fifo)) as sim:
        assert sim.wait_exit(30) == 2, sim.output()
    assert sim.stdout == []
    assert len(sim.stderr) == 1 and "argument --log-file: " in sim.stderr[0], sim.output()


def test_a_report_into_a_missing_directory_is_refused_before_the_run(tmp_path):
    with SimProcess(*SMALL, "--orders", "2000", "--report", str(tmp_path / "gone" / "r.json")) as sim:
        assert sim.wait_exit(30) == 2, sim.output()
    assert sim.stdout == []  # no banner: nothing started
    assert len(sim.stderr) == 1 and "argument --report: " in sim.stderr[0], sim.output()


@pytest.mark.parametrize("level", ["DEBUG", "INFO"])
def test_a_log_level_given_headless_shows_its_records_on_stderr(tmp_path, level):
    with SimProcess(*SMALL, "--orders", "2000", "--log-level", level, report=tmp_path / "r.json") as sim:
        assert sim.wait_exit(60) == 0, sim.output()
    err = "".join(sim.stderr)
    # a run this short logs nothing below INFO; what matters is that --log-level reaches stderr
    assert "bank INFO pool: broker-1 started" in err and "broker-2 INFO broker: answered" in err, err


def test_without_log_level_headless_stderr_stays_quiet(tmp_path):
    with SimProcess(*SMALL, "--orders", "2000", report=tmp_path / "r.json") as sim:
        assert sim.wait_exit(60) == 0, sim.output()
    assert sim.stderr == [], sim.output()


def test_help_into_a_reader_that_goes_away_is_quiet():
    done = subprocess.run(
        ["bash", "-c", '"$@" --help | head -1; exit "${PIPESTATUS[0]}"', "simulate", *SIMULATE],
        cwd=ROOT,
        stdin=subprocess.DEVNULL,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert done.returncode == 0, done.stderr
    assert done.stdout.startswith("usage: ") and done.stderr == ""


def test_a_stop_signal_while_replay_is_still_importing_ends_it_once_it_can(tmp_path):
    journal = tmp_path / "run.db"
    with SimProcess(*SMALL, "--orders", "3000", "--rate", "0", "--journal", str(journal)) as run:
        assert run.wait_exit(60) == 0, run.output()
    # bash drops the --headless SimProcess adds: `simulate.py replay PATH`, in the same pid
    replay = ("bash", "-c", 'exec "$1" "$2" replay "$4"', "bash", *SIMULATE)
    with SimProcess(str(journal), command=replay) as sim:
        # the early handlers are in; the imports of the CLI and of replay take a while yet
        sim.wait_for(lambda: sim.catches(signal.SIGHUP), 30, "the early stop handlers")
        sim.signal_bank(signal.SIGTERM)
        assert sim.wait_exit(30) == 128 + signal.SIGTERM, sim.output()
    assert "stopped by SIGTERM" in "".join(sim.stderr), sim.output()
