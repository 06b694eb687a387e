"""The signal drill: stop the simulator with a real signal at a planned moment, and judge the run.

Shared by the long drill (``bench/stress_signals.py``: the command line, the loop, the table) and
the test suite's short one (``tests/integration/test_stress_signals.py``); this module is the
drill itself: the plan, the timing classes, one drilled run and its judgement.

One run: start ``simulate.py --headless`` in its own process group (through ``SimProcess``) with
a random ``--rate`` (max, 1,000/s or 20,000/s), 1 to 3 brokers and a seed; wait; send one stop
signal -- SIGINT to the whole group (a terminal Ctrl-C), SIGTERM to the bank alone, or SIGHUP to
the group -- and in 1 run of 4 a second SIGINT to the group 10-200 ms later; then wait up to 30 s
for the bank to exit (longer is a HANG: the group is killed and the drill goes on) and 3 s more
for every process of the group to be gone (one still there is an ORPHAN).

When the signal lands, by timing class (the anchor makes each class land where it is meant to on
a slow or a fast machine alike):

    exec     0-120 ms after the exec: around the moment the interpreter starts simulate.py
    imports  0-300 ms after simulate.py's own early handlers are in (read from
             /proc/PID/status SigCgt), while simulator.cli and its libraries import
    startup  0-600 ms after the banner line, while the brokers spawn and start
    midrun   0.5-3 s after the banner, while orders flow

A signal that lands after simulate.py's first lines must end in the clean stop: exit 0, a report
that reconciles with 0 lost, stop reason ``signal <NAME>``, nothing left behind. Only a signal
that lands before them (the interpreter's own start-up: no handler of ours exists, no bus, no
broker, no order) may kill the bank without a report; such a run is counted as PRE-START, not as
a failure, when the bank died of that signal and left nothing behind.

The drill is planned up front from ``random.Random(seed)``, so a seed repeats it (timing is never
exact: each ``RunResult`` says where the signal really landed).
"""

from __future__ import annotations

import contextlib
import json
import random
import signal
import subprocess
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import psutil

from simulator.testing.procs import SimProcess
from simulator.testing.waiting import deadline_wait

RATES = (0, 1000, 20000)  # 0 = as fast as possible
SIGNALS = ("SIGINT>group", "SIGTERM>bank", "SIGHUP>group")
CLASSES = ("imports", "startup", "midrun")  # the classes every run must survive cleanly
ALL_CLASSES = ("exec", *CLASSES)
CLASS_WEIGHTS = (0.1, 0.3, 0.3, 0.3)
BANNER = "simulate: seed"
EXIT_TIMEOUT_S = 30.0
ORPHAN_GRACE_S = 3.0
_POLL_S = 0.002


@dataclass(frozen=True)
class RunSpec:
    """Everything random about one run, drawn before any run starts."""

    index: int
    rate: int
    brokers: int
    sim_seed: int
    timing: str  # one of ALL_CLASSES
    offset_s: float  # after the class's anchor
    signal: str  # one of SIGNALS
    second_sigint_ms: int | None  # a second SIGINT to the group, this long after the first

    def flags(self) -> list[str]:
        return ["--rate", str(self.rate), "--brokers", str(self.brokers), "--seed", str(self.sim_seed)]

    @property
    def anchor(self) -> str:
        return {"exec": "exec", "imports": "handlers", "startup": "banner", "midrun": "banner"}[self.timing]

    def describe(self) -> str:
        second = f" + SIGINT>group {self.second_sigint_ms} ms later" if self.second_sigint_ms else ""
        return (
            f"#{self.index} {self.timing} ({self.anchor}+{self.offset_s * 1000:.0f} ms) "
            f"{self.signal}{second}; simulate.py --headless {' '.join(self.flags())}"
        )


@dataclass
class RunResult:
    """What one run did, as the drill saw it and as its report says; ``problems`` is the verdict."""

    spec: RunSpec
    delay_s: float | None = None  # from the exec to the first signal
    phase: str = "?"  # where the signal really landed: interp, imports, startup, running
    exit_code: int | None = None
    report: bool = False
    stop_reason: str | None = None
    placed: int | None = None
    lost: int | None = None
    reconciled: bool | None = None
    broker_exits: list[int | None] = field(default_factory=list)
    report_exit_code: int | None = None  # the exit status the report itself claims
    second_sent: bool = False
    hang: bool = False
    orphans: list[str] = field(default_factory=list)  # "pid cmdline" alive 3 s after the bank exited
    stop_s: float | None = None  # first signal -> last process of the group gone
    pre_start: bool = False  # died of a signal that came before simulate.py's handlers
    problems: list[str] = field(default_factory=list)
    output: str = ""  # the tail of stdout/stderr, for failing runs only
    stacks: str = ""  # py-spy dumps of a hung run's processes

    @property
    def ok(self) -> bool:
        return not self.problems


# -- the plan -------------------------------------------------------------------------------------


def make_plan(runs: int, seed: int, *, balanced: bool = False) -> list[RunSpec]:
    """``runs`` run specs drawn from ``random.Random(seed)``.

    ``balanced`` (the test suite's short drill): no 'exec' class; timing classes and signals go
    round (the first 3 runs already cover every class and every signal, 8 runs 8 of the 9
    pairs), and every 4th run gets a second SIGINT."""
    rng = random.Random(seed)
    plan = []
    for i in range(runs):
        if balanced:
            timing = CLASSES[i % 3]
            sig = SIGNALS[(i + i // 3) % 3]
            second = rng.randint(10, 200) if i % 4 == 3 else None
        else:
            timing = rng.choices(ALL_CLASSES, CLASS_WEIGHTS)[0]
            sig = rng.choice(SIGNALS)
            second = rng.randint(10, 200) if rng.random() < 0.25 else None
        offset = {
            "exec": lambda: rng.uniform(0.0, 0.12),
            "imports": lambda: rng.uniform(0.0, 0.3),
            "startup": lambda: rng.uniform(0.0, 0.6),
            "midrun": lambda: rng.uniform(0.5, 3.0),
        }[timing]()
        plan.append(
            RunSpec(
                index=i,
                rate=rng.choice(RATES),
                brokers=rng.randint(1, 3),
                sim_seed=rng.randrange(1, 1_000_000),
                timing=timing,
                offset_s=round(offset, 4),
                signal=sig,
                second_sigint_ms=second,
            )
        )
    return plan


# -- signal dispositions --------------------------------------------------------------------------


def handlers_installed(sim: SimProcess) -> bool:
    """Whether simulate.py's own stop handlers are in.

    Its first call (simulator/__main__.py's run()) sets SIGINT, SIGTERM, SIGHUP in this order:
    once SIGHUP is caught, all three are ours (the interpreter itself only catches SIGINT)."""
    return sim.catches(signal.SIGHUP) and sim.catches(signal.SIGTERM)


STOP_SIGNALS = (signal.SIGINT, signal.SIGTERM, signal.SIGHUP)


def ignored_stop_signals() -> list[str]:
    """Stop signals this process ignores, so a child would inherit them ignored (``nohup``
    ignores SIGHUP; a shell without job control ignores SIGINT for a background command)."""
    return [s.name for s in STOP_SIGNALS if signal.getsignal(s) == signal.SIG_IGN]


@contextlib.contextmanager
def default_stop_dispositions() -> Iterator[None]:
    """Start the simulator as a terminal would: with no stop signal ignored from birth.

    An ignored disposition survives the exec, so under ``nohup`` a SIGHUP that lands before
    simulate.py's first lines would vanish and the run go on forever: a hang of the drill's own
    making. (Only the main thread may change dispositions; elsewhere this does nothing.)"""
    changed = {}
    if threading.current_thread() is threading.main_thread():
        for s in STOP_SIGNALS:
            if signal.getsignal(s) == signal.SIG_IGN:
                changed[s] = signal.signal(s, signal.SIG_DFL)
    try:
        yield
    finally:
        for s, old in changed.items():
            signal.signal(s, old)


# -- one run --------------------------------------------------------------------------------------


def _sleep_until(deadline: float) -> None:
    while True:
        left = deadline - time.monotonic()
        if left <= 0:
            return
        time.sleep(min(left, 0.005))


def _wait_anchor(sim: SimProcess, anchor: str, t_exec: float, timeout: float = 30.0) -> float:
    """When the anchor event happened (monotonic), or raise if the bank exited or time ran out."""
    if anchor == "exec":
        return t_exec

    def reached() -> float | None:
        if anchor == "handlers" and handlers_installed(sim):
            return time.monotonic()
        if anchor == "banner" and any(BANNER in line for line in sim.stdout):
            return time.monotonic()
        return None

    def exited() -> str | None:
        return None if sim.proc.poll() is None else f"the bank exited ({sim.proc.returncode})"

    try:
        when = deadline_wait(reached, timeout, f"the {anchor}", abort=exited, poll=_POLL_S)
    except AssertionError as exc:  # a failed run of the drill, not of the drill itself
        raise RuntimeError(str(exc)) from None
    assert when is not None  # deadline_wait returns only a true value
    return when


def _send(sim: SimProcess, what: str) -> None:
    name, target = what.split(">")
    sig = signal.Signals[name]
    if target == "group":
        sim.signal_group(sig)
    else:
        sim.signal_bank(sig)


def _py_spy(pids: list[int]) -> str:
    """Stacks of a hung run's processes, if py-spy can read them (best effort)."""
    out = []
    for pid in pids:
        try:
            r = subprocess.run(
                ["py-spy", "dump", "--pid", str(pid)], capture_output=True, text=True, timeout=20
            )
            out.append(f"--- py-spy dump {pid}\n{r.stdout[-3000:]}{r.stderr[-500:]}")
        except (OSError, subprocess.SubprocessError) as exc:
            out.append(f"--- py-spy dump {pid}: {exc}")
    return "\n".join(out)


def run_once(spec: RunSpec, workdir: Path | str) -> RunResult:
    """Start the simulator, wait for the spec's moment, signal it, and judge what happened.

    The run's report goes to ``workdir``; whatever is left of its process group is killed before
    this returns, and counted as an orphan."""
    res = RunResult(spec)
    report_path = Path(workdir) / f"run-{spec.index}.json"
    report_path.unlink(missing_ok=True)
    with default_stop_dispositions():
        t_exec = time.monotonic()
        sim = SimProcess(*spec.flags(), report=report_path)
    try:
        _drive(sim, spec, res, t_exec)
    finally:
        left = sim.close()  # kills whatever is left of the group (after a hang, say)
        if left and not res.orphans and not res.hang:
            res.orphans = [f"{pid} (killed at close)" for pid in left]
    if report_path.exists():
        try:
            report = json.loads(report_path.read_text())
        except (OSError, ValueError) as exc:
            res.problems.append(f"unreadable report: {exc}")
        else:
            res.report = True
            res.stop_reason = report.get("stop_reason")
            try:
                from simulator.testing.report_check import assert_valid_report

                assert_valid_report(report)
            except AssertionError as exc:
                res.problems.append(str(exc))
            orders = report.get("orders", {})
            # lost orders and lost cancel requests are counted apart: either is a loss
            cancels_lost = report.get("cancel_requests", {}).get("lost", 0) or 0
            res.placed, res.lost = orders.get("placed"), (orders.get("lost") or 0) + cancels_lost
            res.reconciled = report.get("reconciled")
            res.broker_exits = [b.get("exit_code") for b in report.get("brokers", [])]
            res.report_exit_code = report.get("exit_code")
    if res.phase == "banner":  # the report says whether the first order went out
        res.phase = "running" if res.placed else "startup" if res.report else "banner"
    judge(res, "".join(sim.stderr))
    if res.problems:
        res.output = sim.output()
    return res


def _drive(sim: SimProcess, spec: RunSpec, res: RunResult, t_exec: float) -> None:
    try:
        anchor = _wait_anchor(sim, spec.anchor, t_exec)
    except RuntimeError as exc:
        res.exit_code = sim.proc.poll()
        res.problems.append(str(exc))
        return
    _sleep_until(anchor + spec.offset_s)
    # where the signal lands: read just before sending (a handler only ever gets added, so
    # "not installed" here is conservative)
    ours = handlers_installed(sim)
    banner = any(BANNER in line for line in sim.stdout)
    res.phase = "banner" if banner else "imports" if ours else "interp"
    t_sig = time.monotonic()
    res.delay_s = round(t_sig - t_exec, 4)
    try:
        _send(sim, spec.signal)
    except ProcessLookupError:
        res.problems.append("the bank was gone before the signal")
        res.exit_code = sim.proc.poll()
        return
    second_at = t_sig + spec.second_sigint_ms / 1000 if spec.second_sigint_ms else None
    exit_deadline = t_sig + EXIT_TIMEOUT_S
    t_exit = None
    # one loop, not deadline_wait: the second SIGINT may fall due before or after the bank exits
    while True:
        now = time.monotonic()
        if second_at is not None and now >= second_at:
            second_at = None
            try:
                sim.signal_group(signal.SIGINT)
                res.second_sent = True
            except ProcessLookupError:
                pass  # the whole group was already gone
        if t_exit is None:
            if sim.proc.poll() is not None:
                t_exit = time.monotonic()
                res.exit_code = sim.proc.returncode
            elif now >= exit_deadline:
                res.hang = True
                members = sim.group_members()
                res.problems.append(
                    f"HANG: the bank had not exited {EXIT_TIMEOUT_S:.0f} s after the signal; alive: "
                    + ", ".join(_describe(p) for p in members)
                )
                res.stacks = _py_spy([p.pid for p in members])
                return
        else:
            members = sim.group_members()
            if not members:
                res.stop_s = round(time.monotonic() - t_sig, 4)
                break
            if now >= t_exit + ORPHAN_GRACE_S:
                res.orphans = [_describe(p) for p in members]
                break
        time.sleep(_POLL_S)
    sim.wait_exit()  # the bank is gone: this waits only for its output (complete once the pipes close)


def _describe(p: psutil.Process) -> str:
    try:
        return f"{p.pid} {' '.join(p.cmdline())[:100]}"
    except Exception:
        return str(p.pid)


# -- the judgement --------------------------------------------------------------------------------


def judge(res: RunResult, stderr: str) -> None:
    """Add to ``res.problems`` whatever makes the run a failure, or mark it pre-start.

    ``stderr`` is the bank's whole standard error (a KeyboardInterrupt traceback there is how an
    interpreter without our handlers ends on SIGINT)."""
    spec = res.spec
    sig_name = spec.signal.split(">")[0]
    if res.hang:
        return  # already says so
    if (
        not res.report
        and res.phase == "interp"
        and not res.orphans
        and _died_of(res.exit_code, sig_name, stderr)
    ):
        res.pre_start = True
        return
    if res.exit_code != 0:
        claim = f" (the report says {res.report_exit_code})" if res.report else ""
        res.problems.append(f"exit code {res.exit_code}{claim}")
    if not res.report:
        res.problems.append("no report")
    else:
        if res.lost:
            res.problems.append(f"{res.lost} lost")
        if res.reconciled is not True:
            res.problems.append("not reconciled")
        if res.stop_reason != f"signal {sig_name}":
            res.problems.append(f"stop reason {res.stop_reason!r}")
        if any(code != 0 for code in res.broker_exits):
            res.problems.append(f"broker exit codes {res.broker_exits}")
    if res.orphans:
        res.problems.append(f"orphans: {res.orphans}")


def _died_of(code: int | None, sig_name: str, stderr: str) -> bool:
    """The bank ended the way an interpreter without our handlers ends on that signal: killed by
    it, or (SIGINT during the interpreter's own start-up imports) a KeyboardInterrupt traceback."""
    return code == -signal.Signals[sig_name] or (
        sig_name == "SIGINT" and code == 1 and "KeyboardInterrupt" in stderr
    )
