"""Runs `python simulate.py` on a real pseudo-terminal, as a person at a terminal would.

The simulator gets the pty as its controlling terminal and stdin/stdout/stderr; what it writes
is fed to a pyte screen (a terminal emulator), so tests can read the dashboard as a person sees
it, and also keep the raw bytes (to check the alternate screen was left).
"""
from __future__ import annotations

import fcntl
import os
import select
import struct
import subprocess
import sys
import termios
import threading
import time
from pathlib import Path

import psutil
import pyte

from tests.integration.simproc import kill_all

ROOT = Path(__file__).resolve().parents[2]


class PtySim:
    def __init__(self, *flags: str, cols: int = 120, rows: int = 36) -> None:
        self.master, slave = os.openpty()
        fcntl.ioctl(slave, termios.TIOCSWINSZ, struct.pack("HHHH", rows, cols, 0, 0))
        env = dict(os.environ, TERM="xterm-256color", COLUMNS=str(cols), LINES=str(rows))
        env.pop("TEXTUAL", None)

        def become_terminal_owner():
            os.setsid()
            fcntl.ioctl(0, termios.TIOCSCTTY, 0)

        self.proc = subprocess.Popen(
            [sys.executable, str(ROOT / "simulate.py"), *flags],
            cwd=ROOT, stdin=slave, stdout=slave, stderr=slave, env=env,
            preexec_fn=become_terminal_owner, close_fds=True,
        )
        os.close(slave)
        self.screen = pyte.Screen(cols, rows)
        self.stream = pyte.ByteStream(self.screen)
        self.raw = bytearray()
        self._lock = threading.Lock()
        self._reader = threading.Thread(target=self._read, daemon=True)
        self._reader.start()

    def _read(self) -> None:
        while True:
            try:
                ready, _, _ = select.select([self.master], [], [], 0.1)
                if not ready:
                    if self.proc.poll() is not None:
                        return
                    continue
                data = os.read(self.master, 65536)
            except OSError:
                return  # EIO: every process holding the slave side is gone
            if not data:
                return
            self._received(data)

    def _received(self, data: bytes) -> None:
        """What arrived from the simulator (on the reader thread): keep it, feed the screen."""
        with self._lock:
            self.raw += data
            self.stream.feed(data)

    def text(self) -> str:
        with self._lock:
            return "\n".join(self.screen.display)

    def output(self) -> str:
        with self._lock:
            return self.raw.decode("utf-8", "replace")

    def wait_for(self, predicate, timeout: float, what: str) -> None:
        deadline = time.monotonic() + timeout
        while not predicate():
            if self.proc.poll() is not None:
                raise AssertionError(f"simulator exited ({self.proc.returncode}) before {what}\n{self.text()}")
            if time.monotonic() > deadline:
                raise AssertionError(f"timed out waiting for {what}\n{self.text()}")
            time.sleep(0.05)

    def press(self, data: bytes) -> None:
        os.write(self.master, data)

    def wait_exit(self, timeout: float) -> int:
        code = self.proc.wait(timeout)
        self._reader.join(5)
        return code

    def leftover_processes(self, timeout: float = 5.0) -> list[int]:
        """Processes of the simulator's session still alive after ``timeout`` seconds."""
        deadline = time.monotonic() + timeout
        while True:
            left = []
            for p in psutil.process_iter(["pid"]):
                try:
                    if os.getsid(p.pid) == self.proc.pid and p.status() != psutil.STATUS_ZOMBIE:
                        left.append(p.pid)
                except (OSError, psutil.Error):
                    pass
            if not left or time.monotonic() > deadline:
                return left
            time.sleep(0.05)

    def close(self) -> None:
        kill_all(self.leftover_processes(0))
        if self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait(10)
        self._reader.join(5)
        os.close(self.master)
