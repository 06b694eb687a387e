"""``simulate.py sweep``: many headless runs, one CSV row each, and a summary table.

    simulate.py sweep --config base.toml --vary rate=1000,10000 --vary brokers=1,2 \\
        --seeds 3 --jobs 1 --out sweep.csv

Every combination of the ``--vary`` values runs once per seed (``sweep_plan``), each run a
``python -m simulator`` of its own, in a session of its own (its own process tree, which no
terminal signal reaches), one at a time unless ``--jobs`` says otherwise, so runs do not
disturb each other's timing. A progress bar says where the sweep is. Each finished run is a
row of the CSV (``sweep_table``), written whole after every run, so a sweep cut short keeps
what it did; a run that fails is recorded with its exit status and last error line, and the
sweep goes on.

Ctrl-C (SIGINT), SIGTERM or SIGHUP stop the sweep the usual way: the signal is passed on to the
running run's process group, which stops cleanly (its orders answered, its report written) and
is recorded; no other run starts. At the end the sweep checks the promise that the fills
depend only on the seed and the order flow: every row of one seed and one flow must have one
digest, and it says so.

Exit status: 0 when every run exited 0 in time and the digests agree; 1 when a run failed or
timed out, or digests disagree; 2 for a usage error (before any run); 130 when a signal stopped the sweep.
"""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from collections.abc import Sequence
from pathlib import Path

from simulator.config import OneLineParser, output_problem
from simulator.report import say
from simulator.sweep_plan import Run, plan
from simulator.sweep_table import Row, digest_check, row_of, summary, write_csv

PROG = "simulate.py sweep"
EXIT_INTERRUPTED = 130
_STOP_SIGNALS = (signal.SIGINT, signal.SIGTERM, signal.SIGHUP)
_TICK_S = 0.2


def build_parser() -> OneLineParser:
    p = OneLineParser(
        prog=PROG,
        description="Run every combination of flag values headless, a row per run in a CSV, and a "
        "summary. Any run flag given here (e.g. --orders 50000) applies to every run.",
        allow_abbrev=False,
    )
    p.add_argument("--config", metavar="PATH", help="the runs' base configuration (a --config file)")
    p.add_argument("--preset", metavar="NAME", help="a preset as the runs' base (--config wins over it)")
    p.add_argument("--vary", metavar="FLAG=V1,V2", action="append", default=[],
                   help="a run flag and its values (';' between them when a value holds a comma); "
                   "repeat for more flags: every combination runs")  # fmt: skip
    p.add_argument("--seeds", metavar="N", type=_positive, default=1,
                   help="run each combination with N seeds: the base's --seed and the N-1 after it "
                   "(1, 2, ... without one)")  # fmt: skip
    p.add_argument(
        "--jobs",
        metavar="N",
        type=_positive,
        default=1,
        help="runs at once (default 1: runs on a shared machine disturb each other's timing)",
    )
    p.add_argument("--out", metavar="PATH", help="write the CSV here (rewritten whole after each run)")
    p.add_argument("--reports", metavar="DIR", help="keep each run's JSON report here as run-N.json")
    p.add_argument("--run-timeout", metavar="S", type=float, default=None,
                   help="a run still going after S seconds is stopped with SIGINT, then killed")  # fmt: skip
    return p


def _positive(text: str) -> int:
    import argparse

    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a whole number, got {text!r}") from None
    if not 1 <= value <= 1000:
        raise argparse.ArgumentTypeError(f"must be from 1 to 1,000, got {value:,}")
    return value


def main(argv: Sequence[str], early_signals: list[int] | None = None) -> int:
    parser = build_parser()
    args, run_args = parser.parse_known_args(list(argv))
    base = [
        *(["--preset", args.preset] if args.preset else []),
        *(["--config", args.config] if args.config else []),
    ]
    base += run_args
    from simulator.sweep_plan import _refused

    problem = _refused(tuple(base))
    if problem:
        parser.error(problem)
    if args.run_timeout is not None and not 0 < args.run_timeout <= 10**7:
        parser.error(f"argument --run-timeout: must be more than 0, got {args.run_timeout:g}")
    for flag, path, whole in (("--out", args.out, True),):
        if path is not None:
            why = output_problem(path, whole=whole)
            if why:
                parser.error(f"argument {flag}: {why}")
    if args.reports is not None and not os.path.isdir(args.reports):
        parser.error(f"argument --reports: {args.reports} is not a directory")
    first_seed = _base_seed(base)
    seeds = list(range(first_seed, first_seed + args.seeds))
    runs, varied = plan(parser, base, args.vary, seeds)
    return Sweep(runs, varied, jobs=args.jobs, out=args.out, keep=args.reports,
                 run_timeout=args.run_timeout).run(early_signals or [])  # fmt: skip


def _base_seed(base: list[str]) -> int:
    """The base's --seed (from a file or a flag), or 1."""
    from simulator.config import parse_flags

    config, given = parse_flags(base, isatty=False)
    return config.seed if "seed" in given else 1


class Sweep:
    def __init__(
        self, runs: list[Run], varied: list[str], *, jobs: int, out: str | None, keep: str | None,
        run_timeout: float | None,
    ) -> None:  # fmt: skip
        self.runs, self.varied, self.jobs, self.out, self.keep = runs, varied, jobs, out, keep
        self.run_timeout = run_timeout
        self.rows: list[Row] = []
        self.stop_signal: int | None = None
        self.tty = _is_tty(sys.stderr)
        self._work = Path(tempfile.mkdtemp(prefix="simulate-sweep-"))
        self._t0 = time.monotonic()

    # -- the loop ----------------------------------------------------------------------------------

    def run(self, early_signals: list[int]) -> int:
        # a signal ignored since the start (a script's background job) stays ignored, as in a run
        handled = [sig for sig in _STOP_SIGNALS if signal.getsignal(sig) is not signal.SIG_IGN]
        previous = {sig: signal.signal(sig, self._on_signal) for sig in handled}
        if early_signals:
            self.stop_signal = early_signals[0]
        say(f"sweep: {len(self.runs)} runs ({', '.join(self.varied) or 'no flag'} varied), "
            f"{self.jobs} at a time; Ctrl-C ends the current run cleanly and stops", sys.stderr)  # fmt: skip
        # each running run: its process, when it started, and why it was signalled (None: it was not)
        running: list[tuple[Run, subprocess.Popen, float, list[str | None]]] = []
        waiting = list(self.runs)
        try:
            while (waiting and self.stop_signal is None) or running:
                while waiting and len(running) < self.jobs and self.stop_signal is None:
                    run = waiting.pop(0)
                    running.append((run, self._start(run), time.monotonic(), [None]))
                time.sleep(_TICK_S)  # the runs' exits are polled: nothing here needs them sooner
                for entry in list(running):
                    run, proc, started, why = entry
                    if self.stop_signal is not None and why[0] is None:
                        _signal_group(proc, self.stop_signal)  # it stops the usual way
                        why[0] = "interrupted"
                    elif self.run_timeout is not None and time.monotonic() - started > self.run_timeout:
                        if why[0] is None:
                            _signal_group(proc, signal.SIGINT)
                            why[0] = "timeout"
                        elif time.monotonic() - started > self.run_timeout + 60:  # it did not stop
                            _signal_group(proc, signal.SIGKILL)
                    if proc.poll() is not None:
                        running.remove(entry)
                        self._finished(run, proc, time.monotonic() - started, why[0])
                self._progress(running)
        finally:
            for proc in (p for _r, p, _s, _f in running):
                _signal_group(proc, signal.SIGKILL)
                proc.wait()
            for sig, handler in previous.items():
                signal.signal(sig, handler)
            shutil.rmtree(self._work, ignore_errors=True)
        return self._end()

    def _on_signal(self, signum: int, _frame: object) -> None:
        if self.stop_signal is None:
            self.stop_signal = signum  # the loop passes it on to the running runs

    def _start(self, run: Run) -> subprocess.Popen:
        report = self._work / f"run-{run.number}.json"
        out = open(self._work / f"run-{run.number}.out", "wb")
        err = open(self._work / f"run-{run.number}.err", "wb")
        env = {
            **os.environ,
            "PYTHONPATH": os.pathsep.join(filter(None, [_PACKAGE_ROOT, os.environ.get("PYTHONPATH")])),
        }
        with out, err:
            return subprocess.Popen(
                [sys.executable, "-m", "simulator", *run.argv, f"--report={report}"],
                stdin=subprocess.DEVNULL, stdout=out, stderr=err, env=env, start_new_session=True,
            )  # fmt: skip

    def _finished(self, run: Run, proc: subprocess.Popen, seconds: float, stopped: str | None) -> None:
        report_path = self._work / f"run-{run.number}.json"
        err = (self._work / f"run-{run.number}.err").read_text(errors="replace").strip().splitlines()
        row = row_of(run, proc.returncode, seconds, report_path, err[-1] if err else "", stopped)
        self.rows.append(row)
        if self.keep and report_path.exists():
            shutil.copyfile(report_path, Path(self.keep) / f"run-{run.number}.json")
        if self.out:
            try:
                write_csv(self.out, self.rows, self.varied)
            except OSError as exc:
                say(f"{PROG}: cannot write {self.out}: {exc}", sys.stderr)
        self._line(f"[{len(self.rows)}/{len(self.runs)}] {run.label}: {row.verdict()}")

    # -- what a person sees -----------------------------------------------------------------------

    def _progress(self, running: list) -> None:
        if not self.tty or not running:
            return
        done, total = len(self.rows), len(self.runs)
        filled = round(24 * done / total)
        now = time.monotonic()
        current = ", ".join(f"{r.label} {now - s:.0f} s" for r, _p, s, _f in running)
        line = f"\r[{'#' * filled}{'.' * (24 - filled)}] {done}/{total} {now - self._t0:.0f} s: {current}"
        try:
            sys.stderr.write(line[:160].ljust(160)[: max(20, shutil.get_terminal_size().columns - 1)])
            sys.stderr.flush()
        except (OSError, ValueError):
            pass

    def _line(self, text: str) -> None:
        if self.tty:
            try:
                sys.stderr.write("\r\x1b[K")
            except (OSError, ValueError):
                pass
        say(text, sys.stderr)

    def _end(self) -> int:
        say(summary(self.rows, self.varied))
        check, consistent = digest_check(self.rows)
        say(check)
        if self.out:
            say(f"sweep: {len(self.rows)} rows in {self.out}")
        if self.stop_signal is not None:
            left = len(self.runs) - len(self.rows)
            say(
                f"sweep: stopped by {signal.Signals(self.stop_signal).name}, {left} runs not started",
                sys.stderr,
            )
            return EXIT_INTERRUPTED
        failed = sum(1 for r in self.rows if r.status != "ok")  # a timeout too, however cleanly it stopped
        return 0 if not failed and consistent else 1


_PACKAGE_ROOT = str(Path(__file__).resolve().parents[1])  # where `python -m simulator` finds this copy


def _signal_group(proc: subprocess.Popen, sig: int) -> bool:
    """Send ``sig`` to a run's process group (the bank and its brokers); True if sent."""
    try:
        os.killpg(proc.pid, sig)
    except (ProcessLookupError, PermissionError):
        return False
    return True


def _is_tty(stream: object) -> bool:
    try:
        return bool(stream is not None and stream.isatty())  # type: ignore[attr-defined]
    except (AttributeError, ValueError, OSError):
        return False
