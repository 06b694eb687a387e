"""Log records that cannot be written, in whole runs: counted once for the report, never a
traceback on the terminal, from the bank or from its brokers."""

from __future__ import annotations

import signal
import sys

import pytest

from simulator.testing.procs import SimProcess, assert_reconciled

pytestmark = [pytest.mark.slow, pytest.mark.timeout(120)]

LIMIT = 1 << 20  # the report of 20,000 orders (per-account figures and all) is well under it
# ``simulate.py`` with no file allowed to grow past LIMIT bytes (RLIMIT_FSIZE; Python ignores
# SIGXFSZ, so a write past it fails with EFBIG, as one on a full disk fails with ENOSPC). A log
# file already LIMIT bytes long then takes no record, while the report, a new file, is written.
FULL_LOG = (
    sys.executable,
    "-c",
    f"import resource, sys; resource.setrlimit(resource.RLIMIT_FSIZE, ({LIMIT}, {LIMIT})); "
    "from simulator.__main__ import run; sys.exit(run(sys.argv[1:]))",
)


def test_a_log_file_that_takes_no_more_records_is_counted_in_the_report_not_printed(tmp_path):
    log = tmp_path / "run.log"
    log.write_bytes(b"an earlier run\n".ljust(LIMIT, b"."))
    with SimProcess(
        "--orders",
        "20000",
        "--rate",
        "0",
        "--log-file",
        str(log),
        report=tmp_path / "run.json",
        command=FULL_LOG,
    ) as sim:
        assert sim.wait_exit(60) == 0, sim.output()
        report = sim.report()
    assert_reconciled(report)
    err = "".join(sim.stderr)
    assert "Logging error" not in err and "Traceback" not in err, err
    (failure,) = report["log"]["unwritten"]
    assert failure["to"] == str(log) and failure["records"] >= 3, failure  # the bank's and the brokers'
    assert failure["error"] == "OSError: [Errno 27] File too large"
    assert report["log"]["file"] == str(log)
    assert log.stat().st_size == LIMIT


def test_a_run_that_logged_everything_reports_no_failure(tmp_path):
    log = tmp_path / "run.log"
    with SimProcess(
        "--orders", "5000", "--rate", "0", "--log-file", str(log), report=tmp_path / "r.json"
    ) as sim:
        assert sim.wait_exit(60) == 0, sim.output()
        report = sim.report()
    assert report["log"] == {"file": str(log), "unwritten": []}
    assert "answered every order" in log.read_text()  # the brokers' records reach it too


def test_after_kill_9_of_the_bank_no_broker_writes_to_the_terminal(tmp_path):
    with SimProcess("--rate", "0", "--log-level", "DEBUG") as sim:
        sim.wait_placed_at_least(20000)
        sim.signal_bank(signal.SIGKILL)
        sim.wait_exit(10)
        assert not sim.wait_group_gone(3.0)
    err = "".join(sim.stderr)
    assert "Logging error" not in err and "Traceback" not in err, err
