"""The bank stalled, brokers killed while starting, the bank killed: supervision judges rightly."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
from pathlib import Path

import psutil
import pytest

from simulator.testing.procs import SimProcess, assert_reconciled
from simulator.testing.waiting import deadline_wait

pytestmark = [pytest.mark.slow, pytest.mark.timeout(120)]


@pytest.mark.parametrize("rate", ["0", "20000"], ids=["full-speed", "set-rate"])
def test_a_bank_stalled_past_the_hang_timeout_does_not_kill_its_healthy_brokers(tmp_path, rate):
    # at full speed the brokers' result pipes fill while the bank is stopped, so the brokers block
    # on a send and write no heartbeat: what waits in the pipe is the sign of life to read first
    with SimProcess("--rate", rate, "--hang-timeout", "1", "--max-restarts", "0", "--seed", "5",
                    "--duration", "6", report=tmp_path / "r.json") as sim:  # fmt: skip
        sim.wait_placed_at_least(1)
        sim.signal_bank(signal.SIGSTOP)
        try:
            psutil.Process(sim.proc.pid).wait(timeout=2.5)  # 2.5 x the hang timeout, stopped
        except psutil.TimeoutExpired:
            pass
        finally:
            sim.signal_bank(signal.SIGCONT)
        assert sim.wait_exit(60) == 0, sim.output()
        assert "treating it as dead" not in sim.output()
        report = sim.report()
    assert_reconciled(report)
    assert all(b["exit_code"] == 0 for b in report["brokers"])


def test_a_broker_killed_while_starting_is_started_again_and_the_run_goes_on(tmp_path):
    with SimProcess("--rate", "5000", "--orders", "5000", "--seed", "2", "--max-restarts", "1",
                    report=tmp_path / "r.json") as sim:  # fmt: skip
        # the first broker, as soon as it exists. A fork of the fork server is ready within
        # milliseconds, so the kill may land before its first heartbeat or just after it: it
        # must be started again either way
        sim.wait_for(lambda: sim.broker_pids(), 30, "a broker process")
        victim = sim.broker_pids()[0]
        psutil.Process(victim).kill()
        assert sim.wait_exit(60) == 0, sim.output()
        report = sim.report()
    assert_reconciled(report)
    output = sim.output()
    assert "died during start-up" in output or "restarted as pid" in output, output
    assert victim not in [b["pid"] for b in report["brokers"]]


def test_a_broker_killed_while_starting_past_max_restarts_fails_the_run_with_the_reason(tmp_path):
    with SimProcess("--rate", "5000", "--orders", "5000", "--max-restarts", "0") as sim:
        sim.wait_for(lambda: sim.broker_pids(), 30, "a broker process")
        psutil.Process(sim.broker_pids()[0]).kill()
        assert sim.wait_exit(60) == 1, sim.output()
    assert "--max-restarts 0" in sim.output()


@pytest.mark.parametrize("sig", [signal.SIGINT, signal.SIGTERM], ids=["SIGINT", "SIGTERM"])
def test_a_stop_signal_to_the_group_while_the_first_broker_starts_stops_cleanly(tmp_path, sig):
    # the first broker used to be spawned with SIGINT and SIGTERM unblocked (the resource
    # tracker's start unblocks them): a Ctrl-C at this moment killed it
    with SimProcess("--rate", "5000", "--orders", "5000", "--max-restarts", "0",
                    report=tmp_path / "r.json") as sim:  # fmt: skip
        sim.wait_for(lambda: sim.broker_pids(), 30, "a broker process")
        sim.signal_group(sig)
        assert sim.wait_exit(60) == 0, sim.output()
        report = sim.report()
    assert "died" not in sim.output() and "Traceback" not in sim.output()
    assert_reconciled(report)
    assert report["stop_reason"] == f"signal {sig.name}"


@pytest.mark.parametrize("moment", ["starting", "running"])
def test_brokers_exit_within_two_seconds_of_a_kill_9_of_the_bank(moment):
    with SimProcess("--rate", "20000", "--duration", "30") as sim:
        if moment == "starting":
            sim.wait_for(lambda: len(sim.broker_pids()) == 2, 30, "both broker processes")
        else:
            sim.wait_placed_at_least(1000)
        # the brokers, the standbys and the fork server that forks them (not the resource
        # tracker: it ends when it reads end-of-file, and is multiprocess's business)
        brokers = [p for p in sim.children() if "resource_tracker" not in " ".join(p.cmdline())]
        assert "simulate: fork-server" in {" ".join(p.cmdline()).strip() for p in brokers}
        sim.signal_bank(signal.SIGKILL)
        # exited is gone: an orphan's zombie waits for init to reap it, which is not ours to time
        deadline_wait(lambda: not [b for b in brokers if running(b)], 2.0, "every broker gone")
        sim.wait_exit(10)


def running(p: psutil.Process) -> bool:
    try:
        return p.status() != psutil.STATUS_ZOMBIE
    except psutil.NoSuchProcess:
        return False


def test_every_process_has_a_title_that_names_its_role(tmp_path):
    with SimProcess("--rate", "2000", "--duration", "30", "--journal", str(tmp_path / "j.db")) as sim:
        sim.wait_placed_at_least(100)

        def titles() -> list[str]:
            return sorted(" ".join(psutil.Process(pid).cmdline()).strip() for pid in sim.broker_pids())

        deadline_wait(lambda: len(titles()) == 2, 30, "both brokers")
        assert titles() == ["simulate: broker-1", "simulate: broker-2"]
        threads = {Path(f"/proc/{sim.proc.pid}/task/{t.id}/comm").read_text().strip()
                   for t in psutil.Process(sim.proc.pid).threads()}  # fmt: skip
        assert "journal" in threads  # the journal's writer thread, in top -H
        sim.signal_group(signal.SIGINT)
        assert sim.wait_exit(30) == 0, sim.output()


@pytest.mark.parametrize("role", ["spawned", "fork-server"])
def test_a_child_whose_spawner_died_before_it_could_ask_to_end_with_it_ends_at_once(role):
    # the race the parent-death signal cannot close alone: the bank killed while its child is
    # still starting the interpreter, before the child's first import asks for the signal
    gone = subprocess.Popen([sys.executable, "-c", "pass"])
    gone.wait()  # a pid that is no longer our parent
    code = ["-c", "import simulator.processes; print('still here')"]

    def start(spawner: int) -> subprocess.CompletedProcess:
        if role == "spawned":
            var, argv = "SIMULATOR_SPAWNER_PID", [*code, "--multiprocessing-fork"]
        else:  # multiprocess starts the fork server with a command line of its own
            var, argv = "SIMULATOR_FORK_SERVER", code
        env, root = {**os.environ, var: str(spawner)}, Path(__file__).parents[2]
        return subprocess.run([sys.executable, *argv], env=env, capture_output=True, text=True,
                              timeout=60, cwd=root)  # fmt: skip

    child = start(gone.pid)
    assert child.returncode == -signal.SIGKILL and "still here" not in child.stdout
    child = start(os.getpid())
    assert child.returncode == 0 and "still here" in child.stdout  # its spawner lives: it goes on


FORK_OF_THE_SERVER = """
import os, signal, sys, time
import simulator.processes
pid = os.fork()
if pid == 0:  # a broker-to-be, before anything of the broker's runs
    status = open("/proc/self/status").read()
    blocked = int(next(l for l in status.splitlines() if l.startswith("SigBlk")).split()[1], 16)
    print(blocked >> (signal.SIGINT - 1) & 1, blocked >> (signal.SIGHUP - 1) & 1, os.getpid(), flush=True)
    time.sleep(60)
    os._exit(0)
time.sleep(60)
"""


def test_a_fork_of_the_fork_server_starts_with_stop_signals_blocked_and_dies_with_it():
    server = subprocess.Popen(
        [sys.executable, "-c", FORK_OF_THE_SERVER], stdout=subprocess.PIPE, text=True,
        env={**os.environ, "SIMULATOR_FORK_SERVER": str(os.getpid())}, cwd=Path(__file__).parents[2],
    )  # fmt: skip
    try:
        sigint_blocked, sighup_blocked, pid = server.stdout.readline().split()
        assert (sigint_blocked, sighup_blocked) == ("1", "1")  # until enter_child ignores them
        assert " ".join(psutil.Process(server.pid).cmdline()).strip() == "simulate: fork-server"
        fork = psutil.Process(int(pid))
        server.kill()
        deadline_wait(lambda: not running(fork), 2.0, "the fork gone with its server")
    finally:
        server.kill()
        server.wait(10)
        server.stdout.close()
