"""The log handlers of the bank (``runner.setup_logging``) and of a broker
(``broker.ResultsLogHandler``): a record that cannot be written is counted, never printed as a
traceback, and the count is what the report carries."""

from __future__ import annotations

import errno
import logging
import sys
from collections import deque

import pytest

from simulator import messages as msg
from simulator import processes
from simulator.broker import ResultsLogHandler
from simulator.config import SimConfig
from simulator.runner import log_failures, setup_logging

pytestmark = pytest.mark.timeout(30)


@pytest.fixture(autouse=True)
def own_root_logger():
    """setup_logging replaces the root logger's handlers: put pytest's back afterwards."""
    root = logging.getLogger()
    handlers, level = list(root.handlers), root.level
    yield
    for h in root.handlers:
        if h not in handlers:
            h.close()
    root.handlers[:] = handlers
    root.setLevel(level)


class FullDisk:
    """A stream on a full disk: every write fails as the kernel's ENOSPC."""

    def write(self, _text: str) -> int:
        raise OSError(errno.ENOSPC, "No space left on device")

    def flush(self) -> None:
        raise OSError(errno.ENOSPC, "No space left on device")


def test_a_log_file_on_a_full_disk_counts_its_records_and_prints_nothing(capfd):
    # /dev/full is a real device on which every write fails with ENOSPC
    setup_logging(SimConfig(log_file="/dev/full"), None, console=False)
    log = logging.getLogger("run")
    for i in range(8):
        log.info("record %d", i)
    out, err = capfd.readouterr()
    assert out == err == ""  # it used to print eight "--- Logging error ---" tracebacks
    assert log_failures() == [
        {"to": "/dev/full", "records": 8, "error": "OSError: [Errno 28] No space left on device"}
    ]


def test_a_console_that_cannot_be_written_is_counted_too(monkeypatch, capfd):
    monkeypatch.setattr(sys, "stderr", FullDisk())
    lines: deque[str] = deque(maxlen=10)
    setup_logging(SimConfig(), lines, console=True)
    logging.getLogger("run").warning("the disk is full")
    monkeypatch.undo()
    assert capfd.readouterr().err == ""
    assert log_failures() == [
        {"to": "stderr", "records": 1, "error": "OSError: [Errno 28] No space left on device"}
    ]
    assert len(lines) == 1 and lines[0].endswith("WARNING the disk is full")  # the ring still has it


def test_a_log_file_that_cannot_be_opened_any_more_counts_each_record(tmp_path, capfd):
    setup_logging(SimConfig(log_file=str(tmp_path / "gone" / "run.log")), None, console=False)
    logging.getLogger("run").warning("one")
    logging.getLogger("run").warning("two")
    assert capfd.readouterr().err == ""
    (failure,) = log_failures()
    assert failure["records"] == 2 and failure["error"].startswith("FileNotFoundError")


def test_nothing_failed_nothing_is_reported(tmp_path):
    setup_logging(SimConfig(log_file=str(tmp_path / "run.log")), deque(), console=False)
    logging.getLogger("run").warning("fine")
    assert log_failures() == []
    assert "fine" in (tmp_path / "run.log").read_text()


def test_a_broker_whose_bank_is_gone_counts_its_records_and_prints_nothing(capfd):
    reader, writer, _size = processes.one_way_pipe()
    handler = ResultsLogHandler(writer, 3)
    log = logging.Logger("broker-test")
    log.addHandler(handler)
    log.error("still here")
    assert msg.decode(reader.recv_bytes())[1].text == "still here"
    reader.close()  # as when the bank dies: the pipe is broken
    log.error("bank (pid 1) is gone; exiting without it")
    log.info("answered every order; final report sent")
    writer.close()
    assert capfd.readouterr().err == ""  # a broker never writes to the terminal
    assert handler.failures == 2
