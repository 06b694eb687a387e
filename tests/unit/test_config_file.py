"""Runs kept in files: --config, --preset, --print-config, and every way a file can be wrong."""

from __future__ import annotations

import os

import pytest

from simulator.cli import main
from simulator.config import EXIT_USAGE, SimConfig, build_parser, parse_flags
from simulator.config_print import config_toml, preset_names

pytestmark = pytest.mark.timeout(60)


def parse(*argv: str) -> SimConfig:
    return parse_flags(list(argv), isatty=False)[0]


def write(tmp_path, text: str, name: str = "run.toml") -> str:
    path = tmp_path / name
    path.write_text(text)
    return str(path)


def usage_error(capsys, argv: list[str]) -> str:
    with pytest.raises(SystemExit) as exc:
        parse_flags(argv, isatty=False)
    assert exc.value.code == EXIT_USAGE
    out, err = capsys.readouterr()
    assert out == ""
    assert err.endswith("\n") and err.count("\n") == 1, repr(err)
    assert err.startswith("simulate.py: error: "), err
    return err.rstrip("\n")


# -- good files -------------------------------------------------------------------------------


def test_a_config_file_sets_flags_by_their_long_names(tmp_path):
    path = write(
        tmp_path,
        '# a comment\nbrokers = 1\nsymbols = ["ibm", "ge"]\nrate = 50\nmarket_ratio = 0.2\n'
        'ioc-ratio = 0.3\nseed = 9\nheadless = true\nlog-level = "debug"\norders = 100\n',
    )
    config = parse("--config", path)
    assert (config.brokers, config.symbols, config.rate, config.seed) == (1, ("IBM", "GE"), 50.0, 9)
    assert (config.market_ratio, config.ioc_ratio, config.log_level, config.orders) == (
        0.2,
        0.3,
        "DEBUG",
        100,
    )
    assert config.headless is True


def test_a_symbol_count_in_a_file_generates_tickers(tmp_path):
    assert len(parse("--config", write(tmp_path, "symbols = 30\n")).symbols) == 30


def test_flags_on_the_command_line_win_over_the_file_wherever_they_stand(tmp_path):
    path = write(tmp_path, "rate = 50\nbrokers = 1\n")
    assert parse("--rate", "70", "--config", path).rate == 70.0
    assert parse("--config", path, "--rate", "80").rate == 80.0
    assert parse("--config", path, "--rate", "80").brokers == 1


def test_the_file_wins_over_the_preset(tmp_path, monkeypatch):
    path = write(tmp_path, "rate = 7\n")
    monkeypatch.chdir(tmp_path)  # the preset's report is checked where the run starts
    config = parse("--preset", "loadtest", "--config", path)
    assert config.rate == 7.0 and len(config.symbols) == 200 and config.report == "loadtest-report.json"


def test_values_set_in_a_file_count_as_given(tmp_path):
    _config, given = parse_flags(["--config", write(tmp_path, "brokers = 1\nsymbols = 4\n")], isatty=False)
    assert {"brokers", "symbols", "config"} <= given


def test_false_leaves_an_on_off_flag_off(tmp_path):
    assert parse("--config", write(tmp_path, "headless = false\n")).headless is True  # no terminal here
    config, given = parse_flags(["--config", write(tmp_path, "headless = false\n")], isatty=True)
    assert config.headless is False and "headless" not in given


@pytest.mark.parametrize("name", preset_names())
def test_every_preset_resolves_to_a_valid_run(tmp_path, monkeypatch, name):
    monkeypatch.chdir(tmp_path)
    config = parse("--preset", name)
    assert config != SimConfig(seed=config.seed, headless=True)


def test_the_presets_are_the_ones_the_readme_names():
    assert {"classroom", "loadtest", "soak", "chaos"} <= set(preset_names())


def test_the_presets_set_what_they_promise(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    classroom = parse_flags(["--preset", "classroom"], isatty=True)[0]
    assert len(classroom.symbols) <= 2 and classroom.rate <= 10 and classroom.headless is False
    loadtest = parse("--preset", "loadtest")
    assert loadtest.rate == 0 and len(loadtest.symbols) >= 100 and loadtest.report
    soak = parse("--preset", "soak")
    assert soak.duration == 3600 and soak.rate > 0 and soak.report
    chaos = parse("--preset", "chaos")
    assert (
        chaos.kill_broker_every
        and chaos.max_restarts * chaos.brokers * chaos.kill_broker_every >= chaos.duration
    )


def test_simulate_presets_lists_each_with_one_line(capsys):
    assert main(["presets"]) == 0
    out = capsys.readouterr().out.splitlines()
    for name in preset_names():
        (line,) = [line for line in out if line.startswith(name + " ")]
        assert len(line.split()) > 4, line


def test_simulate_presets_with_an_argument_is_a_usage_error(capsys):
    assert main(["presets", "extra"]) == EXIT_USAGE
    assert capsys.readouterr().err.count("\n") == 1


# -- --print-config -----------------------------------------------------------------------------


def test_print_config_prints_toml_that_feeds_back_unchanged(tmp_path, capsys, monkeypatch):
    monkeypatch.chdir(tmp_path)
    assert main(["--preset", "chaos", "--symbols", "12", "--report", "r x.json", "--print-config"]) == 0
    first = capsys.readouterr().out
    assert "seed = " in first and "symbols = 12" in first and 'report = "r x.json"' in first
    path = write(tmp_path, first, "printed.toml")
    assert main(["--config", path, "--print-config"]) == 0
    assert capsys.readouterr().out == first
    config, _ = parse_flags(["--config", path], isatty=False)
    again, _ = parse_flags(["--preset", "chaos", "--symbols", "12", "--report", "r x.json"], isatty=False)
    assert config == SimConfig(**{**again.to_dict(), "symbols": again.symbols, "seed": config.seed})


def test_print_config_keeps_the_seed_it_chose(tmp_path, capsys):
    main(["--print-config"])
    printed = capsys.readouterr().out
    config = parse("--config", write(tmp_path, printed))
    assert f"seed = {config.seed}\n" in printed


def test_print_config_does_not_bake_in_headless_chosen_for_want_of_a_terminal():
    config, given = parse_flags([], isatty=False)
    assert config.headless and "headless" not in config_toml(config, build_parser(), given)


def test_print_config_of_named_symbols_lists_them():
    config, given = parse_flags(["--symbols", "ibm,brk.b", "--brokers", "1"], isatty=False)
    assert 'symbols = ["IBM", "BRK.B"]' in config_toml(config, build_parser(), given)


# -- bad files: one line naming the file, the line and the key -----------------------------------

BAD_FILES = [
    ("rat = 5", "run.toml:2: rat: unknown key: no flag --rat (did you mean rate?)"),
    ('rate = "fast"', "run.toml:2: rate: expected a number, got 'fast'"),
    ("rate = -1", "run.toml:2: rate: must be at least 0"),
    ("brokers = 40", "run.toml:2: brokers: must be from 1 to 32"),
    ("brokers = 1.5", "run.toml:2: brokers: expected a whole number"),
    ("brokers = true", "run.toml:2: brokers: expected a number, got true"),
    ("headless = 1", "run.toml:2: headless: expected true or false, got 1"),
    ('headless = "yes"', "run.toml:2: headless: expected true or false"),
    ("symbols = [1, 2]", "run.toml:2: symbols: expected a list of tickers"),
    ("symbols = []", "run.toml:2: symbols: expected a list of tickers"),
    ('symbols = ["AAPL", "aapl"]', "run.toml:2: symbols: a symbol is listed twice"),
    ("rate = [1, 2]", "run.toml:2: rate: expected one value, got a list"),
    ("report = 5", "run.toml:2: report: expected a string, got 5"),
    ('log-level = "loud"', 'run.toml:2: log-level: "loud" is not one of DEBUG, INFO, WARNING, ERROR'),
    ("market_ratio = 2", "run.toml:2: market_ratio: must be from 0 to 1"),
    ("duration = 1979-05-27", "run.toml:2: duration: expected a number"),
    ("[extra]\nrate = 5", "run.toml:2: extra: a table; flags are top-level keys"),
    ('config = "other.toml"', "run.toml:2: config: --config cannot be set in a config file"),
    ('preset = "chaos"', "run.toml:2: preset: --preset cannot be set in a config file"),
    ("print-config = true", "run.toml:2: print-config: --print-config cannot be set"),
    ("help = true", "run.toml:2: help: --help cannot be set"),
    ("rate =", "run.toml: not TOML: Invalid value (at line 2"),
    ("rate = 5\nrate = 6", "run.toml: not TOML: Cannot overwrite a value (at line 3"),
    ('"rate" = 5\n  bad key = 1', "run.toml: not TOML"),
]


@pytest.mark.parametrize(("text", "expected"), BAD_FILES, ids=[t for t, _ in BAD_FILES])
def test_a_bad_file_is_one_line_naming_the_file_line_and_key(tmp_path, capsys, text, expected):
    path = write(tmp_path, "# a run\n" + text + "\n")
    err = usage_error(capsys, ["--config", path])
    assert err.startswith(f"simulate.py: error: {tmp_path}/{expected}"), err


def test_a_quoted_key_has_its_line_found(tmp_path, capsys):
    err = usage_error(capsys, ["--config", write(tmp_path, '\n\n"rate" = -5\n')])
    assert f"{tmp_path}/run.toml:3: rate: " in err


def test_flags_that_disagree_in_a_file_say_where_they_were_set(tmp_path, capsys):
    path = write(tmp_path, 'symbols = ["A", "B"]\nbrokers = 3\n')
    err = usage_error(capsys, ["--config", path])
    assert "argument --brokers: 3 brokers for 2 symbols" in err and f"(set at {path}:2)" in err
    err = usage_error(capsys, ["--config", path, "--brokers", "4"])
    assert "set at" not in err  # the command line set it: no file to blame


@pytest.mark.parametrize(
    ("make", "expected"),
    [
        (lambda p: str(p / "missing.toml"), "cannot read {}: No such file or directory"),
        (lambda p: str(p), "{} is not a regular file"),
        (lambda p: "", "the path is empty"),
    ],
    ids=["missing", "a directory", "empty"],
)
def test_a_config_file_that_cannot_be_read_is_one_line(tmp_path, capsys, make, expected):
    path = make(tmp_path)
    err = usage_error(capsys, ["--config", path])
    assert err == f"simulate.py: error: argument --config: {expected.format(path)}"


def test_a_fifo_is_refused_without_hanging(tmp_path, capsys):
    fifo = tmp_path / "fifo.toml"
    os.mkfifo(fifo)
    assert "is not a regular file" in usage_error(capsys, ["--config", str(fifo)])


def test_a_file_that_is_not_text_or_too_big_is_one_line(tmp_path, capsys):
    binary = tmp_path / "b.toml"
    binary.write_bytes(b"\xff\xfe\x00rate")
    assert "is not UTF-8 text" in usage_error(capsys, ["--config", str(binary)])
    big = tmp_path / "big.toml"
    big.write_text("# x\n" * 300_000)
    assert "larger than 1 MiB" in usage_error(capsys, ["--config", str(big)])


@pytest.mark.skipif(os.geteuid() == 0, reason="root reads any file")
def test_an_unreadable_config_file_is_one_line(tmp_path, capsys):
    path = write(tmp_path, "rate = 5\n")
    os.chmod(path, 0)
    assert "Permission denied" in usage_error(capsys, ["--config", path])


def test_an_unknown_preset_names_the_ones_there_are(capsys):
    err = usage_error(capsys, ["--preset", "turbo"])
    there = "chaos, classroom, loadtest, market, soak"
    assert err == f"simulate.py: error: argument --preset: no preset 'turbo' (there are {there})"


@pytest.mark.parametrize("flag", ["--config", "--preset"])
def test_a_file_flag_without_its_value_is_one_line(capsys, flag):
    assert flag in usage_error(capsys, [flag])


def test_the_help_names_the_file_flags_and_the_new_commands():
    text = " ".join(build_parser().format_help().split())
    for words in ("--config PATH", "--preset NAME", "--print-config", "simulate.py presets",
                  "simulate.py report PATH", "simulate.py sweep"):  # fmt: skip
        assert words in text, words
