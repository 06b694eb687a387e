"""What a sweep will run: ``--vary FLAG=V1,V2 ... --seeds N`` made into one command line per run,
each checked before the first run starts.

Every combination of the varied values (the first ``--vary`` changes slowest) is run once per
seed. A run's flags are the sweep's base (``--config``, ``--preset``, any run flag given to the
sweep) then its own values, so they win; each run is headless and writes its report where the
sweep reads it. Each run's flags are parsed by the simulator's own parser now, so a value that
would be refused is one line naming the run and the flag (exit 2) before anything starts.
"""

from __future__ import annotations

import argparse
import contextlib
import io
import itertools
from dataclasses import dataclass

from simulator.config import OneLineParser, build_parser, parse_flags

MOST_RUNS = 10_000  # a sweep is a table a person reads; this many runs take days


@dataclass(frozen=True, slots=True)
class Run:
    """One run of a sweep: its number (1-based), its varied values and seed, and its flags."""

    number: int
    values: tuple[tuple[str, str], ...]  # (flag name, value) in --vary order
    seed: int
    argv: tuple[str, ...]  # the run's flags, --report excepted (the sweep adds its own)

    @property
    def label(self) -> str:
        return " ".join(f"{k}={v}" for k, v in self.values) + f" seed={self.seed}"


def parse_vary(text: str, run_flags: dict[str, argparse.Action]) -> tuple[str, list[str]]:
    """``FLAG=V1,V2`` (values split on ';' when there is one, so a ticker list can be a value):
    the flag's long name and its values; ValueError with a one-line reason otherwise."""
    name, sep, values = text.partition("=")
    name = name.strip().removeprefix("--").replace("_", "-")
    if not sep or not name:
        raise ValueError(f"expected FLAG=V1,V2,..., got {text!r}")
    action = run_flags.get(name)
    if action is None:
        raise ValueError(f"no run flag --{name}")
    if action.dest in ("seed", "report", "headless", "config", "preset", "print_config", "help"):
        raise ValueError(f"--{name} cannot be varied" + (" (use --seeds N)" if name == "seed" else ""))
    parts = [v.strip() for v in values.split(";" if ";" in values else ",")]
    if not all(parts):
        raise ValueError(f"an empty value in {text!r}")
    if action.nargs == 0:
        raise ValueError(f"--{name} is on or off: give it to every run, or not")
    if len(set(parts)) != len(parts):
        raise ValueError(f"a value is listed twice in {text!r}")
    return name, parts


def run_flags() -> dict[str, argparse.Action]:
    """The run's flags by long name (argparse has no public map of them)."""
    return {s[2:]: a for a in build_parser()._actions for s in a.option_strings if s.startswith("--")}


def plan(
    parser: OneLineParser, base: list[str], varies: list[str], seeds: list[int]
) -> tuple[list[Run], list[str]]:
    """Every run of the sweep, each run's flags checked; and the names of the varied flags.
    ``parser.error`` (one line, exit 2) for a bad --vary or a run whose flags would be refused."""
    flags = run_flags()
    varied: list[tuple[str, list[str]]] = []
    for text in varies:
        try:
            name, values = parse_vary(text, flags)
        except ValueError as exc:
            parser.error(f"argument --vary: {exc}")
        if any(name == seen for seen, _ in varied):
            parser.error(f"argument --vary: --{name} is varied twice")
        varied.append((name, values))
    combos = list(itertools.product(*(values for _name, values in varied)))
    if len(combos) * len(seeds) > MOST_RUNS:
        parser.error(f"{len(combos) * len(seeds):,} runs: a sweep makes at most {MOST_RUNS:,}")
    runs: list[Run] = []
    for combo in combos:
        for seed in seeds:
            chosen = tuple((name, value) for (name, _), value in zip(varied, combo))
            argv = (*base, *(f"--{k}={v}" for k, v in chosen), f"--seed={seed}", "--headless")
            run = Run(len(runs) + 1, chosen, seed, argv)
            problem = _refused(argv)
            if problem:
                parser.error(f"run {run.number} ({run.label}): {problem}")
            runs.append(run)
    return runs, [name for name, _ in varied]


def _refused(argv: tuple[str, ...]) -> str | None:
    """The simulator's own one-line refusal of these flags, without its program name; or None."""
    err = io.StringIO()
    try:
        with contextlib.redirect_stderr(err):
            parse_flags(list(argv), isatty=False)
    except SystemExit:
        return err.getvalue().strip().removeprefix("simulate.py: error: ") or "refused"
    return None
