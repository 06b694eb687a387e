"""What ``--print-config`` and ``simulate.py presets`` print (``simulator.config_file`` reads
config files and presets; this module writes them back and lists them)."""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Sequence
from typing import Any

from simulator.config import EXIT_USAGE, SimConfig, generated_symbols
from simulator.config_file import NOT_IN_A_FILE, preset_names, preset_summary
from simulator.report import say


def presets_main(argv: Sequence[str]) -> int:
    """``simulate.py presets``: each preset with its one line."""
    if argv:
        say(f"simulate.py presets: error: it takes no arguments, got {' '.join(argv)!r}", sys.stderr)
        return EXIT_USAGE
    names = preset_names()
    width = max(map(len, names))
    say("\n".join(f"{name:<{width}}  {preset_summary(name)}" for name in names))
    say("use one with --preset NAME; --print-config --preset NAME shows all it sets")
    return 0


def config_toml(config: SimConfig, parser: argparse.ArgumentParser, given: frozenset[str]) -> str:
    """The resolved ``config`` as a TOML config file: every flag it has a value for, by the
    flag's long name, in ``--help`` order. ``headless`` is written only when asked for (not
    when chosen because there was no terminal, as when this output goes to a file)."""
    fields = config.to_dict()
    out = ["# simulate.py --config FILE runs this again (flags given with it win)"]
    for action in parser._actions:
        longs = [s for s in action.option_strings if s.startswith("--")]
        if not longs or action.dest in NOT_IN_A_FILE or action.dest not in fields:
            continue
        value = fields[action.dest]
        if action.dest == "headless":
            value = "headless" in given
        if action.nargs == 0 and action.const is False:  # --no-standby: on when the field is off
            value = not value
        if value is None or (action.nargs == 0 and not value):
            continue
        if action.dest == "symbols" and tuple(value) == generated_symbols(len(value)):
            value = len(value)  # `symbols = 200` rather than two hundred made-up names
        out.append(f"{longs[0][2:]} = {_toml_value(value)}")
    return "\n".join(out)


def _toml_value(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, (int, float)):
        return repr(value)
    if isinstance(value, str):
        return json.dumps(value)  # a TOML basic string: JSON's escapes are TOML's
    return "[" + ", ".join(_toml_value(v) for v in value) + "]"
