"""Runs kept in files: ``--config run.toml``, ``--preset NAME``, ``--print-config``.

A config file is TOML (read with the standard library's ``tomllib``) whose top-level keys are
the run's flags by their long names, dashes or underscores alike::

    # a run to repeat every week
    brokers = 2
    symbols = ["AAPL", "MSFT"]     # or a count: symbols = 200
    rate = 50
    headless = true

Each value is checked by the very parser function the flag uses, so a file accepts exactly what
the command line accepts; a value it refuses, an unknown key, a table or a file that is not TOML
is one line naming the file, the line and the key (exit 2), before anything starts. The file's
flags are put before the command line's, so a flag on the command line wins; a preset (a TOML
file shipped in ``simulator/presets``) comes before both.

``--print-config`` prints the resolved configuration (the seed chosen included) as TOML that
``--config`` reads back to the same run, and ``simulate.py presets`` lists the presets
(``simulator.config_print``). This module imports nothing of the simulator's: ``config`` calls it.
"""

from __future__ import annotations

import argparse
import difflib
import json
import os
import re
import stat
import tomllib
from collections.abc import Sequence
from importlib import resources
from typing import Any, NoReturn

# flags that say where the configuration comes from: they make no sense inside it
NOT_IN_A_FILE = ("config", "preset", "print_config", "help")
_MOST_BYTES = 1 << 20  # a config file is a few lines; anything this big is the wrong file
_KEY_LINE = re.compile(r"""^\s*(?:"([^"]*)"|'([^']*)'|([A-Za-z0-9_-]+))\s*[=.]""")
_TABLE_LINE = re.compile(r"""^\s*\[+\s*(?:"([^"]*)"|'([^']*)'|([A-Za-z0-9_-]+))""")


_MORE_COMMANDS = """\
  simulate.py presets   the shipped configurations (--preset NAME), a line each
  simulate.py report PATH [PATH2] [--plot OUT.png]
                        print a saved --report as the run's summary, or compare
                        two; --plot draws throughput and latency over time
  simulate.py sweep --vary FLAG=V1,V2 ... [--seeds N] --out sweep.csv
                        run every combination headless, one row per run
"""


def add_flags(parser: argparse.ArgumentParser) -> None:
    """``--config``, ``--preset`` and ``--print-config``, into the run's parser (and the other
    commands this brings, into its epilog)."""
    if parser.epilog and "\nexit status:" in parser.epilog:
        parser.epilog = parser.epilog.replace("\nexit status:", _MORE_COMMANDS + "\nexit status:", 1)
    parser.add_argument(
        "--config",
        metavar="PATH",
        default=None,
        help="read flags from this TOML file (keys are the long flag names); flags given here win",
    )
    parser.add_argument(
        "--preset",
        metavar="NAME",
        default=None,
        help=f"start from a shipped configuration: {', '.join(preset_names())} "
        "(simulate.py presets lists them); --config and flags given here win",
    )
    parser.add_argument(
        "--print-config",
        action="store_true",
        help="print the resolved configuration as TOML (what --config reads back) and exit",
    )


# -- presets ---------------------------------------------------------------------------------------


def preset_names() -> list[str]:
    shipped = resources.files("simulator.presets").iterdir()
    return sorted(p.name[:-5] for p in shipped if p.name.endswith(".toml"))


def preset_text(name: str) -> str:
    return (resources.files("simulator.presets") / f"{name}.toml").read_text(encoding="utf-8")


def preset_summary(name: str) -> str:
    """A preset's one line: its first comment."""
    for line in preset_text(name).splitlines():
        if line.startswith("#"):
            return line.lstrip("# ").strip()
    return ""


# -- reading -----------------------------------------------------------------------------------------


def file_arguments(parser: argparse.ArgumentParser, argv: Sequence[str]) -> list[str]:
    """``argv`` with the flags of ``--preset`` and ``--config`` before it (a flag given on the
    command line comes later and wins). A problem with either ends the program through
    ``parser.error``: one line naming the file, the line and the key."""
    argv = list(argv)
    if "-h" in argv or "--help" in argv:
        return argv
    where = _Quiet(add_help=False, allow_abbrev=False)
    where.add_argument("--config")
    where.add_argument("--preset")
    try:
        found, _rest = where.parse_known_args(argv)
    except ValueError:  # `--config` without its value: the real parser says so
        return argv
    front: list[tuple[str, str]] = []
    if found.preset is not None:
        if found.preset not in preset_names():
            there = ", ".join(preset_names())
            parser.error(f"argument --preset: no preset {found.preset!r} (there are {there})")
        front += arguments_of(parser, preset_text(found.preset), f"preset {found.preset}")
    if found.config is not None:
        front += arguments_of(parser, read_config_file(parser, found.config), found.config)
    _name_the_file_in_errors(parser, front, argv)
    return [arg for arg, _source in front] + argv


class _Quiet(argparse.ArgumentParser):
    def error(self, message: str) -> NoReturn:
        raise ValueError(message)


def _name_the_file_in_errors(
    parser: argparse.ArgumentParser, front: list[tuple[str, str]], argv: list[str]
) -> None:
    """Flags that disagree (``--brokers 3`` for two symbols) are found later, by the parser,
    whose message names the flag: when the file set it, the message says where too."""
    on_command_line = {a.split("=")[0] for a in argv if a.startswith("--")}
    where = {}
    for arg, source in front:
        flag = arg.partition("=")[0]
        if flag not in on_command_line:
            where[flag] = source
    if not where:
        return
    error = parser.error

    def error_saying_where(message: str) -> NoReturn:
        named = re.match(r"argument (--[a-z-]+)", message)
        if named and named.group(1) in where:
            message += f" (set at {where[named.group(1)]})"
        error(message)

    parser.error = error_saying_where  # type: ignore[method-assign]


def read_config_file(parser: argparse.ArgumentParser, path: str) -> str:
    """The text of the config file ``path``; ``parser.error`` if it cannot be read."""
    if not path:
        parser.error("argument --config: the path is empty")
    try:
        st = os.stat(path)  # before opening: a FIFO would hang the open
        if not stat.S_ISREG(st.st_mode):
            parser.error(f"argument --config: {path} is not a regular file")
        if st.st_size > _MOST_BYTES:
            parser.error(f"argument --config: {path} is larger than 1 MiB: not a config file")
        with open(path, encoding="utf-8") as f:
            return f.read()
    except OSError as exc:
        parser.error(f"argument --config: cannot read {path}: {exc.strerror}")
    except UnicodeDecodeError as exc:
        parser.error(f"argument --config: {path} is not UTF-8 text (byte {exc.start})")


def arguments_of(parser: argparse.ArgumentParser, text: str, source: str) -> list[tuple[str, str]]:
    """The flags the TOML ``text`` holds, as command-line arguments each with its ``source:line``,
    each value checked as the flag checks it; ``parser.error`` naming ``source``, the line and the
    key otherwise."""
    try:
        table = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        parser.error(f"{source}: not TOML: {exc}")
    lines = _key_lines(text)
    actions = {
        s[2:]: a for a in parser._actions for s in a.option_strings if s.startswith("--")
    }  # argparse has no public map of its options
    args: list[tuple[str, str]] = []
    for key, value in table.items():
        name = key.replace("_", "-")
        at = f"{source}:{lines.get(key, '?')}: {key}"
        action = actions.get(name)
        if isinstance(value, dict):
            parser.error(f"{at}: a table; flags are top-level keys (put them above any [table])")
        if action is None or action.dest in NOT_IN_A_FILE:
            if action is not None:
                parser.error(f"{at}: --{name} cannot be set in a config file")
            flags = [n for n, a in actions.items() if a.dest not in NOT_IN_A_FILE]
            near = difflib.get_close_matches(name, flags)
            hint = f" (did you mean {near[0]}?)" if near else ""
            parser.error(f"{at}: unknown key: no flag --{name}{hint}")
        problem, arg = _argument(action, name, value)
        if problem:
            parser.error(f"{at}: {problem}")
        args += [(a, f"{source}:{lines.get(key, '?')}") for a in arg]
    return args


def _argument(action: argparse.Action, name: str, value: Any) -> tuple[str | None, list[str]]:
    """(why ``value`` cannot be the flag's, None) or (None, its command-line arguments)."""
    if action.nargs == 0:  # an on/off flag
        if not isinstance(value, bool):
            return f"expected true or false, got {_shown(value)}", []
        return None, [f"--{name}"] if value else []
    if isinstance(value, list):
        if action.dest != "symbols":
            return f"expected one value, got a list {_shown(value)}", []
        if not value or not all(isinstance(v, str) for v in value):
            return f"expected a list of tickers, got {_shown(value)}", []
        text = ",".join(value)
    elif isinstance(value, bool) or not isinstance(value, (str, int, float)):
        return f"expected {'a number' if action.type is not None else 'a string'}, got {_shown(value)}", []
    elif action.type is None and not isinstance(value, str):  # a path: a number is a mistake
        return f"expected a string, got {_shown(value)}", []
    else:
        text = repr(value) if isinstance(value, float) else str(value)
    try:
        parsed = action.type(text) if callable(action.type) else text
    except (argparse.ArgumentTypeError, ValueError, TypeError) as exc:
        return str(exc) or f"invalid value {_shown(value)}", []
    if action.choices is not None and parsed not in action.choices:
        return f"{_shown(value)} is not one of {', '.join(map(str, action.choices))}", []
    return None, [f"--{name}={text}"]  # `=`: a value starting with '-' stays a value


def _shown(value: Any) -> str:
    text = json.dumps(value, default=str)
    return text if len(text) <= 60 else text[:57] + "..."


def _key_lines(text: str) -> dict[str, int]:
    """The line of each top-level key (tomllib keeps no positions): keys before the first table,
    and each table's name."""
    lines: dict[str, int] = {}
    in_table = False
    for number, line in enumerate(text.splitlines(), 1):
        table = _TABLE_LINE.match(line)
        if table:
            in_table = True
            lines.setdefault(next(g for g in table.groups() if g is not None), number)
            continue
        key = _KEY_LINE.match(line)
        if key and not in_table:
            lines.setdefault(next(g for g in key.groups() if g is not None), number)
    return lines
