"""--http and --http-control on the command line, the options a run is built with, the start
lines, and the URL ``dashboard --attach`` takes: usage errors are one line naming the flag."""

from __future__ import annotations

import json
import socket

import pytest

from simulator.attach import AttachError, parse_attach_flags, parse_url
from simulator.config import EXIT_USAGE, SimConfig, config_from_args, parse_flags
from simulator.http_flags import HttpOptions, format_address, options, parse_address, start_lines
from simulator.http_serve import tabs_token

pytestmark = pytest.mark.timeout(60)


def usage_error(capsys, *argv: str) -> str:
    with pytest.raises(SystemExit) as exc:
        config_from_args(list(argv), isatty=False)
    assert exc.value.code == EXIT_USAGE
    err = capsys.readouterr().err
    assert err.count("\n") == 1, err
    return err.strip()


def test_without_http_flags_a_run_has_no_api():
    config = config_from_args([], isatty=False)
    assert config.http is None and config.http_control is False
    assert options(config) is None


def test_the_address_is_kept_as_host_port_and_the_token_never_enters_the_config(monkeypatch):
    monkeypatch.setenv("SIM_HTTP_TOKEN", "never-in-the-report")
    config = config_from_args(["--http", ":0", "--http-control"], isatty=False)
    assert (config.http, config.http_control) == ("127.0.0.1:0", True)
    assert "never-in-the-report" not in json.dumps(config.to_dict())
    assert options(config) == HttpOptions("127.0.0.1", 0, control=True, token="never-in-the-report")


def test_without_control_the_options_carry_no_token(monkeypatch):
    monkeypatch.setenv("SIM_HTTP_TOKEN", "unused")
    config = config_from_args(["--http", "127.0.0.1:0"], isatty=False)
    assert options(config) == HttpOptions("127.0.0.1", 0, control=False, token=None)


def test_a_new_token_is_made_when_none_is_in_the_environment(monkeypatch):
    monkeypatch.delenv("SIM_HTTP_TOKEN", raising=False)
    config = config_from_args(["--http", "127.0.0.1:0", "--http-control"], isatty=False)
    first, second = options(config), options(config)
    assert first and second and first.token and second.token and first.token != second.token


def test_the_http_flags_are_told_apart_from_defaults():
    _config, given = parse_flags(["--http", "127.0.0.1:0"], isatty=False)
    assert "http" in given and "http_control" not in given


def test_control_without_http_is_a_usage_error(capsys):
    assert usage_error(capsys, "--http-control") == (
        "simulate.py: error: argument --http-control: it needs --http HOST:PORT"
    )


def test_a_busy_port_is_a_usage_error_naming_http(capsys):
    with socket.socket() as held:
        held.bind(("127.0.0.1", 0))
        held.listen()
        port = held.getsockname()[1]
        assert usage_error(capsys, "--http", f"127.0.0.1:{port}") == (
            f"simulate.py: error: argument --http: port {port} on 127.0.0.1 is in use"
        )


@pytest.mark.parametrize(
    ("value", "says"),
    [
        ("127.0.0.1:http", "the port must be a number from 0 to 65535"),
        ("::1:80", "write an IPv6 address in brackets"),
        ("192.0.2.7:8321", "192.0.2.7 is not an address of this machine"),  # TEST-NET-1
    ],
)
def test_a_bad_address_is_a_usage_error_naming_http(capsys, value, says):
    line = usage_error(capsys, "--http", value)
    assert line.startswith("simulate.py: error: argument --http: ") and says in line, line


@pytest.mark.parametrize(("host", "port"), [("127.0.0.1", 8321), ("::1", 0), ("localhost", 80)])
def test_format_address_reads_back(host, port):
    assert parse_address(format_address(host, port)) == (host, port)


def test_the_start_lines_say_where_with_the_token_once_and_warn_off_loopback():
    lines = start_lines("http://127.0.0.1:8321", "127.0.0.1", "tok")
    assert lines == [
        "simulate: the run's API is at http://127.0.0.1:8321 (with control)",
        "simulate: control token (Authorization: Bearer ...): tok",
    ]
    lines = start_lines("http://0.0.0.0:8321", "0.0.0.0", None)
    assert lines[0].endswith("(read only)") and "WARNING" in lines[1] and "network" in lines[1]
    assert len(lines) == 2


def test_the_config_round_trips_with_the_http_fields():
    config = SimConfig(http="[::1]:8000", http_control=True)
    d = config.to_dict()
    assert (d["http"], d["http_control"]) == ("[::1]:8000", True)
    assert SimConfig(**{**d, "symbols": tuple(d["symbols"])}) == config


# -- dashboard --attach URL ----------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "url", "port", "base"),
    [
        ("http://127.0.0.1:8321", "http://127.0.0.1:8321", 8321, ""),
        ("http://127.0.0.1:8321/", "http://127.0.0.1:8321", 8321, ""),
        ("http://localhost", "http://localhost", 80, ""),
        ("https://runs.example/sim/", "https://runs.example/sim", 443, "/sim"),
        ("http://[::1]:9000", "http://[::1]:9000", 9000, ""),
    ],
)
def test_parse_url_reads_an_api_address(text, url, port, base):
    target = parse_url(text)
    assert (target.url, target.port, target.base) == (url, port, base)


@pytest.mark.parametrize(
    "text",
    ["127.0.0.1:8321", "ftp://host/", "http://", "http://host:99999", "http://h:1/?x=1", "http://u:p@h/"],
)
def test_parse_url_refuses_what_is_not_an_api_address_as_a_usage_error(text):
    with pytest.raises(AttachError) as exc:
        parse_url(text)
    assert exc.value.status == EXIT_USAGE


def test_a_malformed_attach_url_exits_2_with_one_line(capsys):
    with pytest.raises(SystemExit) as exc:
        parse_attach_flags(["--attach", "127.0.0.1:8321"])
    assert exc.value.code == EXIT_USAGE
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "argument --attach" in err and "http://" in err


def test_the_attach_token_comes_from_the_flag_or_the_environment(monkeypatch):
    monkeypatch.setenv("SIM_HTTP_TOKEN", "from-env")
    assert parse_attach_flags(["--attach", "http://h:1"]).token == "from-env"
    assert parse_attach_flags(["--attach", "http://h:1", "--token", "given"]).token == "given"
    monkeypatch.delenv("SIM_HTTP_TOKEN")
    assert parse_attach_flags(["--attach", "http://h:1"]).token is None


def test_served_off_loopback_the_tabs_of_a_run_started_there_only_watch():
    assert tabs_token("127.0.0.1", "tok") == "tok" and tabs_token("localhost", "tok") == "tok"
    assert tabs_token("0.0.0.0", "tok") is None and tabs_token("192.168.1.5", "tok") is None
