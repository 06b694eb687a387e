"""Runs `python simulate.py` as a real process group, and makes sure it leaves nothing behind.

Every test that starts the simulator goes through ``SimProcess``: it starts the bank in a new
session (so a signal can go to the whole group, as a terminal Ctrl-C does), reads its output on
a thread, waits on conditions with deadlines, and on exit kills whatever is left of the group
and reports it: a leftover process fails the test that made it.
"""
from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

import psutil

ROOT = Path(__file__).resolve().parents[2]


def kill_all(pids) -> None:
    """SIGKILL every pid still there (a test's last resort, so nothing outlives it)."""
    for pid in pids:
        try:
            os.kill(pid, signal.SIGKILL)
        except ProcessLookupError:
            pass


class SimProcess:
    def __init__(self, *flags: str, report: Path | None = None) -> None:
        args = [sys.executable, str(ROOT / "simulate.py"), "--headless", *flags]
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
    def _read(stream, sink: list[str]) -> None:
        for line in stream:
            sink.append(line)

    # -- waiting ------------------------------------------------------------------------------

    def wait_for(self, predicate, timeout: float, what: str) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if predicate():
                return
            if self.proc.poll() is not None and not predicate():
                raise AssertionError(f"simulator exited ({self.proc.returncode}) before {what}\n{self.output()}")
            time.sleep(0.02)
        raise AssertionError(f"timed out after {timeout} s waiting for {what}\n{self.output()}")

    def wait_for_output(self, text: str, timeout: float = 30.0) -> None:
        self.wait_for(lambda: any(text in line for line in self.stdout), timeout, repr(text))

    def wait_placed_at_least(self, n: int, timeout: float = 30.0) -> None:
        def placed():
            for line in reversed(self.stdout):
                if " placed " in line and line.startswith("["):
                    return int(line.split(" placed ")[1].split()[0].replace(",", ""))
            return 0

        self.wait_for(lambda: placed() >= n, timeout, f"{n} orders placed")

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

    def children(self) -> list[psutil.Process]:
        try:
            return psutil.Process(self.proc.pid).children(recursive=True)
        except psutil.NoSuchProcess:
            return []

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

    def report(self) -> dict:
        assert self.report_path is not None and self.report_path.exists(), self.output()
        return json.loads(self.report_path.read_text())

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

    def __exit__(self, exc_type, *_exc) -> None:
        left = self.close()
        if left and exc_type is None:
            raise AssertionError(f"processes left behind by the simulator: {left}\n{self.output()}")
