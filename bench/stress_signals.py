"""Signal stress drill: stop the simulator with real signals at random moments, many times.

    python bench/stress_signals.py                        # 200 runs, a few minutes on 2 cores
    python bench/stress_signals.py --runs 50 --seed 7 --json drill.json
    python bench/stress_signals.py --seed 7 --only 17,42  # run again just those runs of a drill

Each run, one after another: start ``simulate.py --headless`` in its own process group (through
``simulator.testing.procs.SimProcess``) with a random ``--rate`` (max, 1,000/s or 20,000/s),
1 to 3 brokers and a seed; wait; send one stop signal -- SIGINT to the whole group (a terminal
Ctrl-C), SIGTERM to the bank alone, or SIGHUP to the group -- and in 1 run of 4 a second SIGINT
to the group 10-200 ms later; then wait up to 30 s for the bank to exit (longer is a HANG: the
group is killed and the drill goes on) and 3 s more for every process of the group to be gone
(one still there is an ORPHAN).

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

The drill is planned up front from ``random.Random(seed)``, so a seed repeats it and ``--only``
repeats single runs (timing is never exact: each record says where the signal really landed).
Prints a dot per run (``F`` a failure, ``H`` a hang, ``p`` a pre-start run), then one table.
Exit status 0 only if every run (pre-start ones aside) exited 0 with 0 lost, no orphan, no hang.
"""
from __future__ import annotations

import argparse
import contextlib
import dataclasses
import json
import os
import platform
import random
import signal
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from simulator.testing.procs import SimProcess  # noqa: E402
from simulator.testing.waiting import deadline_wait  # noqa: E402

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
        return (f"#{self.index} {self.timing} ({self.anchor}+{self.offset_s * 1000:.0f} ms) "
                f"{self.signal}{second}; simulate.py --headless {' '.join(self.flags())}")


@dataclass
class RunResult:
    spec: RunSpec
    delay_s: float | None = None  # from the exec to the first signal
    phase: str = "?"  # where the signal really landed: interp, imports, startup, running
    exit_code: int | None = None
    report: bool = False
    stop_reason: str | None = None
    placed: int | None = None
    lost: int | None = None
    reconciled: bool | None = None
    broker_exits: list = field(default_factory=list)
    report_exit_code: int | None = None  # the exit status the report itself claims
    second_sent: bool = False
    hang: bool = False
    orphans: list = field(default_factory=list)  # "pid cmdline" alive 3 s after the bank exited
    stop_s: float | None = None  # first signal -> last process of the group gone
    pre_start: bool = False  # died of a signal that came before simulate.py's handlers
    problems: list = field(default_factory=list)
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
        plan.append(RunSpec(
            index=i,
            rate=rng.choice(RATES),
            brokers=rng.randint(1, 3),
            sim_seed=rng.randrange(1, 1_000_000),
            timing=timing,
            offset_s=round(offset, 4),
            signal=sig,
            second_sigint_ms=second,
        ))
    return plan


# -- one run --------------------------------------------------------------------------------------


def caught_signals(pid: int) -> int | None:
    """The bit mask of signals ``pid`` has a handler for (Linux /proc), None if it is gone."""
    try:
        with open(f"/proc/{pid}/status") as f:
            for line in f:
                if line.startswith("SigCgt:"):
                    return int(line.split()[1], 16)
    except (OSError, ValueError):
        pass
    return None


def _bit(sig: int) -> int:
    return 1 << (sig - 1)


# simulate.py's first call (simulator/__main__.py's run()) sets SIGINT, SIGTERM, SIGHUP in this
# order: once SIGHUP is caught, all three are ours (the interpreter itself only catches SIGINT)
_OUR_HANDLERS = _bit(signal.SIGTERM) | _bit(signal.SIGHUP)


def handlers_installed(pid: int) -> bool:
    mask = caught_signals(pid)
    return mask is not None and mask & _OUR_HANDLERS == _OUR_HANDLERS


STOP_SIGNALS = (signal.SIGINT, signal.SIGTERM, signal.SIGHUP)


def ignored_stop_signals() -> list[str]:
    """Stop signals this process ignores, so a child would inherit them ignored (``nohup``
    ignores SIGHUP; a shell without job control ignores SIGINT for a background command)."""
    return [s.name for s in STOP_SIGNALS if signal.getsignal(s) == signal.SIG_IGN]


@contextlib.contextmanager
def default_stop_dispositions():
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
        if anchor == "handlers" and handlers_installed(sim.proc.pid):
            return time.monotonic()
        if anchor == "banner" and any(BANNER in line for line in sim.stdout):
            return time.monotonic()
        return None

    def exited() -> str | None:
        return None if sim.proc.poll() is None else f"the bank exited ({sim.proc.returncode})"

    try:
        return deadline_wait(reached, timeout, f"the {anchor}", abort=exited, poll=_POLL_S)
    except AssertionError as exc:  # a failed run of the drill, not of the drill itself
        raise RuntimeError(str(exc)) from None


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
            r = subprocess.run(["py-spy", "dump", "--pid", str(pid)], capture_output=True, text=True,
                               timeout=20)
            out.append(f"--- py-spy dump {pid}\n{r.stdout[-3000:]}{r.stderr[-500:]}")
        except (OSError, subprocess.SubprocessError) as exc:
            out.append(f"--- py-spy dump {pid}: {exc}")
    return "\n".join(out)


def run_once(spec: RunSpec, workdir: Path | str) -> RunResult:
    """Start the simulator, wait for the spec's moment, signal it, and judge what happened."""
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
            orders = report.get("orders", {})
            res.placed, res.lost = orders.get("placed"), orders.get("lost")
            res.reconciled = report.get("reconciled")
            res.broker_exits = [b.get("exit_code") for b in report.get("brokers", [])]
            res.report_exit_code = report.get("exit_code")
    if res.phase == "banner":  # the report says whether the first order went out
        res.phase = "running" if res.placed else "startup" if res.report else "banner"
    _judge(res, "".join(sim.stderr))
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
    ours = handlers_installed(sim.proc.pid)
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
                    + ", ".join(_describe(p) for p in members))
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
    for t in sim._readers:  # the output is complete once the pipes are closed
        t.join(5)


def _describe(p) -> str:
    try:
        return f"{p.pid} {' '.join(p.cmdline())[:100]}"
    except Exception:
        return str(p.pid)


def _judge(res: RunResult, stderr: str) -> None:
    spec = res.spec
    sig_name = spec.signal.split(">")[0]
    if res.hang:
        return  # already says so
    if (not res.report and res.phase == "interp" and not res.orphans
            and _died_of(res.exit_code, sig_name, stderr)):
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
        sig_name == "SIGINT" and code == 1 and "KeyboardInterrupt" in stderr)


# -- the drill ------------------------------------------------------------------------------------


def _pct(values: list[float], q: float) -> float:
    s = sorted(values)
    return s[min(len(s) - 1, max(0, round(q * (len(s) - 1))))]


def summarize(results: list[RunResult], seed: int, runs: int | None = None) -> tuple[str, bool]:
    """The printed table, and whether the drill passed."""
    n = len(results)
    pre = [r for r in results if r.pre_start]
    fails = [r for r in results if not r.ok]
    exit0 = sum(1 for r in results if r.exit_code == 0)
    others: dict[object, list[RunResult]] = {}
    for r in results:
        if r.exit_code != 0:
            others.setdefault("HANG" if r.hang else r.exit_code, []).append(r)
    stops = [r.stop_s for r in results if r.stop_s is not None and not r.pre_start]
    lines = [f"signal stress drill: {n} runs, seed {seed}; python {platform.python_version()}, "
             f"{os.cpu_count()} cpus"]

    def row(label: str, value: str) -> None:
        lines.append(f"  {label:<30}{value}")

    row("runs", str(n))
    row("exit 0", str(exit0))
    if others:
        for code, rs in sorted(others.items(), key=lambda kv: str(kv[0])):
            reasons = Counter(r.stop_reason or ("pre-start" if r.pre_start else "no report") for r in rs)
            ex = "; ".join(f"{reason!s:.60} x{k}" for reason, k in reasons.most_common(3))
            row(f"exit {code}", f"{len(rs)}  ({ex})")
    else:
        row("other exit codes", "none")
    row("pre-start (not failures)", f"{len(pre)}  (signal before simulate.py's handlers: died of it, "
                                    "no report, nothing left)")
    row("missing reports", str(sum(1 for r in results if not r.report and not r.pre_start)))
    row("lost orders (total)", str(sum(r.lost or 0 for r in results)))
    row("not reconciled", str(sum(1 for r in results if r.report and r.reconciled is not True)))
    row("orphans (runs / procs)", f"{sum(1 for r in results if r.orphans)} / "
                                  f"{sum(len(r.orphans) for r in results)}")
    row("hangs", str(sum(1 for r in results if r.hang)))
    if stops:
        row("stop time s (sig->all gone)", f"median {statistics.median(stops):.3f}  "
                                          f"p95 {_pct(stops, 0.95):.3f}  max {max(stops):.3f}  "
                                          f"(n={len(stops)})")
    classes = Counter(r.spec.timing for r in results)
    row("timing class", "  ".join(f"{c} {classes[c]}" for c in ALL_CLASSES))
    phases = Counter(r.phase for r in results)
    row("landed in phase", "  ".join(f"{p} {phases[p]}" for p in
                                     ("interp", "imports", "banner", "startup", "running") if phases[p]))
    sigs = Counter(r.spec.signal for r in results)
    row("signal", "  ".join(f"{s} {sigs[s]}" for s in SIGNALS)
        + f"  (+2nd SIGINT {sum(1 for r in results if r.second_sent)})")
    lines.append(f"  {'FAILED' if fails else 'PASSED'}: {len(fails)} failing run(s)")
    for r in fails:
        lines.append(f"  - {r.spec.describe()}")
        lines.append(f"      signal at {r.delay_s}s after exec, landed in {r.phase}; exit {r.exit_code}, "
                     f"stop reason {r.stop_reason!r}, placed {r.placed}, lost {r.lost}, "
                     f"stop {r.stop_s}s: {'; '.join(r.problems)}")
        lines.append(f"      repeat: python bench/stress_signals.py --seed {seed} --runs {runs or n} "
                     f"--only {r.spec.index}")
    return "\n".join(lines), not fails


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--runs", type=int, default=200)
    ap.add_argument("--seed", type=int, default=None, help="seed of the drill (random if omitted)")
    ap.add_argument("--json", metavar="PATH", help="write every run's record and the summary here")
    ap.add_argument("--only", metavar="I,J", help="run only these run indices of the plan")
    ap.add_argument("-v", "--verbose", action="store_true", help="one line per run instead of dots")
    args = ap.parse_args(argv)
    seed = args.seed if args.seed is not None else random.randrange(1, 1_000_000)
    plan = make_plan(args.runs, seed)
    if args.only:
        wanted = {int(i) for i in args.only.split(",")}
        plan = [s for s in plan if s.index in wanted]
    print(f"stress_signals: {len(plan)} runs, seed {seed}", flush=True)
    if ignored_stop_signals():
        print(f"note: {', '.join(ignored_stop_signals())} ignored in this shell (nohup?); each "
              "simulator starts with the default disposition, as from a terminal", flush=True)
    results = []
    t0 = time.monotonic()
    with tempfile.TemporaryDirectory(prefix="stress-signals-") as tmp:
        for spec in plan:
            r = run_once(spec, tmp)
            results.append(r)
            if args.verbose:
                print(f"{spec.describe()} -> landed {r.phase} at {r.delay_s}s, exit {r.exit_code}, "
                      f"{r.stop_reason!r}, placed {r.placed}, stop {r.stop_s}s"
                      + (f"  FAIL: {'; '.join(r.problems)}" if r.problems else ""), flush=True)
            else:
                mark = "H" if r.hang else "F" if r.problems else "p" if r.pre_start else "."
                print(mark, end="" if len(results) % 50 else "\n", flush=True)
    if not args.verbose and len(results) % 50:
        print()
    table, passed = summarize(results, seed, args.runs)
    print(f"({time.monotonic() - t0:.0f} s)")
    print(table)
    for r in results:
        if r.problems:
            print(f"\n--- output of failing run #{r.spec.index}\n{r.output}{r.stacks}")
    if args.json:
        Path(args.json).write_text(json.dumps({
            "seed": seed,
            "passed": passed,
            "summary": table,
            "runs": [dataclasses.asdict(r) for r in results],
        }, indent=1, default=str))
    return 0 if passed else 1


if __name__ == "__main__":
    sys.exit(main())
