"""``simulate.py replay`` as a real process: a stop signal ends it at once, a FIFO is refused."""

from __future__ import annotations

import os
import signal
import sys

import psutil
import pytest

from simulator.testing.procs import SimProcess

pytestmark = [pytest.mark.slow, pytest.mark.timeout(180)]

# The command line's real entry point (simulator.__main__ -> cli -> replay), as
# ``simulate.py replay PATH``; SimProcess puts "--headless" before the flags, which this drops.
REPLAY = (
    sys.executable,
    "-c",
    "import sys; from simulator.__main__ import run; sys.exit(run(['replay', *sys.argv[2:]]))",
)


@pytest.fixture(scope="module")
def big_journal(tmp_path_factory):
    """A journal whose replay takes a second or more: time to be interrupted."""
    path = tmp_path_factory.mktemp("replay") / "big.db"
    with SimProcess("--orders", "200000", "--rate", "0", "--seed", "7", "--journal", str(path)) as sim:
        assert sim.wait_exit(150) == 0, sim.output()
    return path


def has_open(pid: int, path) -> bool:
    try:
        return any(f.path == str(path) for f in psutil.Process(pid).open_files())
    except psutil.Error:
        return False


@pytest.mark.parametrize("sig", [signal.SIGINT, signal.SIGTERM, signal.SIGHUP])
def test_a_stop_signal_ends_a_replay_at_once_with_128_plus_its_number(big_journal, sig):
    with SimProcess(str(big_journal), command=REPLAY) as replay:
        replay.wait_for(lambda: has_open(replay.proc.pid, big_journal), 30, "the replay to open the journal")
        replay.signal_group(sig)  # as a terminal's Ctrl-C or hangup, or kill
        code = replay.wait_exit(3)
    assert code == 128 + sig, replay.output()
    err = "".join(replay.stderr)
    assert err.count("\n") == 1, err
    assert err.startswith(f"replay: stopped by {signal.Signals(sig).name} after "), err
    assert not replay.stdout  # no verdict


def test_a_fifo_is_refused_at_once_with_exit_status_2(tmp_path):
    fifo = tmp_path / "journal"
    os.mkfifo(fifo)
    with SimProcess(str(fifo), command=REPLAY) as replay:
        code = replay.wait_exit(15)
    assert code == 2, replay.output()
    err = "".join(replay.stderr)
    assert err == f"replay: {fifo} is a FIFO, not a journal\n"
