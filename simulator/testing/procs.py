"""Runs the simulator as a real process group, and makes sure it leaves nothing behind.

Every test that starts the simulator goes through ``SimProcess``: it starts the bank in a new
session (so a signal can go to the whole group, as a terminal Ctrl-C does), reads its output on
a thread, waits on conditions with deadlines, and on exit kills whatever is left of the group
and reports it: a leftover process fails the test that made it. ``leftover_children`` is the
same check for processes a test started in its own process (the integration conftest runs it
after every test).

Meant for a checkout: ``ROOT`` is the directory holding ``simulate.py``.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterable, Sequence
from pathlib import Path
from typing import IO, Any

import psutil

from simulator.testing.waiting import deadline_wait

ROOT = Path(__file__).resolve().parents[2]
SIMULATE = (sys.executable, str(ROOT / "simulate.py"))
"""The command a SimProcess runs unless told otherwise; its flags follow."""


def kill_all(pids: Iterable[int]) -> None:
    """SIGKILL every pid still there (a test's last resort, so nothing outlives it)."""
    for pid in pids:
        try:
            os.kill(pid, signal.SIGKILL)
        except ProcessLookupError:
            pass


def leftover_children(grace: float = 5.0) -> list[tuple[int, list[str]]]:
    """Kill the children this process still has after ``grace`` seconds; (pid, argv) of each.

    Empty when a test ended everything it started. The multiprocess resource tracker is not
    counted: it lives as long as the test process, by design.
    """

    def own() -> list[psutil.Process]:
        out = []
        for p in psutil.Process().children(recursive=True):
            try:
                if "resource_tracker" not in " ".join(p.cmdline()) and p.status() != psutil.STATUS_ZOMBIE:
                    out.append(p)
            except psutil.Error:
                pass
        return out

    deadline = time.monotonic() + grace
    left = own()
    while left and time.monotonic() < deadline:
        time.sleep(0.05)
        left = own()
    found = []
    for p in left:
        try:
            found.append((p.pid, p.cmdline()))
            p.kill()
        except psutil.Error:
            pass
    return found


def assert_reconciled(report: dict[str, Any]) -> None:
    """A finished run's report says what a user relies on: nothing lost, every order accounted
    for, the books balance, and every broker exited cleanly."""
    o = report["orders"]
    assert o["lost"] == 0, report
    assert o["placed"] == o["filled"] + o["cancelled"] + o["rejected"] + o["resting"], o
    assert report["reconciled"] is True
    assert report["positions_balanced"] and report["cash_balanced"]
    assert all(b["exit_code"] == 0 for b in report["brokers"]), report["brokers"]


class SimProcess:
    """``simulate.py --headless FLAGS`` (or ``command``) in a process group of its own."""

    def __init__(
        self,
        *flags: str,
        report: Path | None = None,
        command: Sequence[str] = SIMULATE,
        headless: bool = True,
    ) -> None:
        args = [*command, *(["--headless"] if headless else []), *flags]
        if report is not None:
            args += ["--report", str(report)]
        self.report_path = report
        self.proc = subprocess.Popen(
            args,
            cwd=ROOT,
            stdin=subprocess.DEVNULL,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
            start_new_session=True,
        )
        self.pgid = self.proc.pid
        self.stdout: list[str] = []
        self.stderr: list[str] = []
        self._readers = [
            threading.Thread(target=self._read, args=(self.proc.stdout, self.stdout), daemon=True),
            threading.Thread(target=self._read, args=(self.proc.stderr, self.stderr), daemon=True),
        ]
        for t in self._readers:
            t.start()

    @staticmethod
    def _read(stream: IO[str], sink: list[str]) -> None:
        for line in stream:
            sink.append(line)

    # -- waiting ------------------------------------------------------------------------------

    def _exited(self) -> str | None:
        code = self.proc.poll()
        return None if code is None else f"simulator exited ({code})"

    def wait_for(self, predicate: Callable[[], object], timeout: float, what: str) -> None:
        """Wait until ``predicate()`` is true; fail at once if the simulator exits first."""
        deadline_wait(predicate, timeout, what, abort=self._exited, detail=self.output)

    def wait_for_output(self, text: str, timeout: float = 30.0) -> None:
        self.wait_for(lambda: any(text in line for line in self.stdout), timeout, repr(text))

    def placed(self) -> int:
        """Orders placed, as the newest progress line says (0 before the first one)."""
        for line in reversed(self.stdout):
            if " placed " in line and line.startswith("["):
                return int(line.split(" placed ")[1].split()[0].replace(",", ""))
        return 0

    def wait_placed_at_least(self, n: int, timeout: float = 30.0) -> None:
        self.wait_for(lambda: self.placed() >= n, timeout, f"{n} orders placed")

    def wait_exit(self, timeout: float = 30.0) -> int:
        try:
            code = self.proc.wait(timeout)
        except subprocess.TimeoutExpired:
            raise AssertionError(f"simulator still running after {timeout} s\n{self.output()}") from None
        for t in self._readers:
            t.join(5)
        return code

    # -- the process group ----------------------------------------------------------------------

    def signal_group(self, sig: int) -> None:
        os.killpg(self.pgid, sig)

    def signal_bank(self, sig: int) -> None:
        os.kill(self.proc.pid, sig)

    def catches(self, sig: int) -> bool:
        """Whether the bank has a handler of its own for ``sig`` now (Linux /proc)."""
        try:
            with open(f"/proc/{self.proc.pid}/status") as f:
                for line in f:
                    if line.startswith("SigCgt:"):
                        return bool(int(line.split()[1], 16) & (1 << (sig - 1)))
        except (OSError, ValueError):
            pass
        return False

    def children(self) -> list[psutil.Process]:
        try:
            return psutil.Process(self.proc.pid).children(recursive=True)
        except psutil.NoSuchProcess:
            return []

    def broker_pids(self) -> list[int]:
        """The bank's broker processes (spawned children), oldest first."""
        pids = []
        for p in self.children():
            try:
                command = " ".join(p.cmdline())
                # a broker names itself once it runs; until then it is multiprocess's spawn
                if command.startswith("simulate: broker") or "spawn_main" in command:
                    pids.append(p.pid)
            except psutil.Error:
                pass
        return pids

    def group_members(self) -> list[psutil.Process]:
        members = []
        for p in psutil.process_iter(["pid"]):
            try:
                if os.getpgid(p.pid) == self.pgid and p.status() != psutil.STATUS_ZOMBIE:
                    members.append(p)
            except (ProcessLookupError, psutil.Error, OSError):
                pass
        return members

    def wait_group_gone(self, timeout: float) -> list[psutil.Process]:
        """Members of the group still alive after ``timeout`` seconds (empty when all are gone)."""
        deadline = time.monotonic() + timeout
        while True:
            left = self.group_members()
            if not left or time.monotonic() >= deadline:
                return left
            time.sleep(0.05)

    def output(self) -> str:
        return "--- stdout\n" + "".join(self.stdout[-40:]) + "--- stderr\n" + "".join(self.stderr[-40:])

    def report(self) -> dict[str, Any]:
        assert self.report_path is not None and self.report_path.exists(), self.output()
        report: dict[str, Any] = json.loads(self.report_path.read_text())
        from simulator.testing.report_check import assert_valid_report

        return assert_valid_report(report)  # every report a test reads fits the schema

    def close(self) -> list[int]:
        """Kill whatever is left of the group; the pids that had to be killed."""
        left = [p.pid for p in self.wait_group_gone(3.0)]
        if left:
            try:
                os.killpg(self.pgid, signal.SIGKILL)
            except ProcessLookupError:
                pass
            kill_all(left)
        if self.proc.poll() is None:
            self.proc.kill()
        self.proc.wait(10)
        return left

    def __enter__(self) -> SimProcess:
        return self

    def __exit__(self, exc_type: type[BaseException] | None, *_exc: object) -> None:
        left = self.close()
        if left and exc_type is None:
            raise AssertionError(f"processes left behind by the simulator: {left}\n{self.output()}")
