"""Runs `python simulate.py` on a real pseudo-terminal, as a person at a terminal would.

The simulator gets the pty as its controlling terminal and stdin/stdout/stderr; what it writes
is fed to a pyte screen (a terminal emulator), so tests can read the dashboard as a person sees
it, and also keep the raw bytes (to check the alternate screen was left). pyte is a test
dependency: it is imported only when a PtySim is made.

Meant for a checkout, like ``simulator.testing.procs``.
"""

from __future__ import annotations

import fcntl
import os
import select
import struct
import subprocess
import termios
import threading
import time
from collections.abc import Callable

import psutil

from simulator.testing.procs import ROOT, SIMULATE, kill_all
from simulator.testing.waiting import deadline_wait

SCREEN_POLL_S = 0.05  # reading the screen takes the emulator's lock from the reader thread


class PtySim:
    """One simulator on its own pty and session; ``close`` ends whatever is left of it."""

    def __init__(self, *flags: str, cols: int = 120, rows: int = 36) -> None:
        import pyte

        self.master, slave = os.openpty()
        fcntl.ioctl(slave, termios.TIOCSWINSZ, struct.pack("HHHH", rows, cols, 0, 0))
        env = dict(os.environ, TERM="xterm-256color", COLUMNS=str(cols), LINES=str(rows))
        env.pop("TEXTUAL", None)

        def become_terminal_owner() -> None:
            os.setsid()
            fcntl.ioctl(0, termios.TIOCSCTTY, 0)

        self.proc = subprocess.Popen(
            [*SIMULATE, *flags],
            cwd=ROOT,
            stdin=slave,
            stdout=slave,
            stderr=slave,
            env=env,
            preexec_fn=become_terminal_owner,
            close_fds=True,
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
        """The screen as a person sees it now, one line per row."""
        with self._lock:
            return "\n".join(self.screen.display)

    def output(self) -> str:
        """Every byte the simulator wrote, decoded."""
        with self._lock:
            return self.raw.decode("utf-8", "replace")

    def _exited(self) -> str | None:
        code = self.proc.poll()
        return None if code is None else f"simulator exited ({code})"

    def wait_for(self, predicate: Callable[[], object], timeout: float, what: str) -> None:
        """Until ``predicate()`` is true; fails (with the screen) on timeout or an early exit."""
        deadline_wait(predicate, timeout, what, abort=self._exited, detail=self.text, poll=SCREEN_POLL_S)

    def press(self, data: bytes) -> None:
        """Type ``data`` at the terminal (b"q", b"\\x03" for Ctrl-C)."""
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
