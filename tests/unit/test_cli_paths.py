"""The files a run writes (--report, --log-file, --journal) are checked before anything starts:
a path that cannot be written is a usage error (exit 2, one line naming the flag), found before
the run rather than after it, and never a traceback or a hang."""

from __future__ import annotations

import os
import shutil
import stat
import subprocess
import sys

import pytest

from simulator.config import EXIT_USAGE, config_from_args, output_problem
from simulator.testing.procs import ROOT

pytestmark = pytest.mark.timeout(60)

OUTPUTS = ["--report", "--log-file", "--journal"]
LONG_NAME = "a" * 300


def usage_error(capsys, argv: list[str], flag: str) -> str:
    with pytest.raises(SystemExit) as exc:
        config_from_args(argv, isatty=False)
    assert exc.value.code == EXIT_USAGE
    out, err = capsys.readouterr()
    assert out == ""
    assert err.endswith("\n") and err.count("\n") == 1, repr(err)
    assert err.startswith(f"simulate.py: error: argument {flag}: "), err
    return err


@pytest.mark.parametrize("flag", OUTPUTS)
def test_a_file_in_a_missing_directory_is_a_usage_error(capsys, tmp_path, flag):
    err = usage_error(capsys, [flag, str(tmp_path / "missing" / "out")], flag)
    assert "does not exist" in err


@pytest.mark.parametrize("flag", OUTPUTS)
def test_a_directory_is_a_usage_error(capsys, tmp_path, flag):
    err = usage_error(capsys, [flag, str(tmp_path)], flag)
    assert "is a directory" in err


@pytest.mark.parametrize("flag", OUTPUTS)
def test_a_name_too_long_for_the_file_system_is_a_usage_error(capsys, tmp_path, flag):
    err = usage_error(capsys, [flag, str(tmp_path / LONG_NAME)], flag)
    assert "too long" in err or "at most" in err


@pytest.mark.parametrize("flag", OUTPUTS)
def test_an_empty_path_is_a_usage_error_not_no_file(capsys, flag):
    usage_error(capsys, [flag, ""], flag)


@pytest.mark.parametrize("flag", ["--report", "--log-file"])
def test_a_fifo_is_refused_before_anything_opens_it(capsys, tmp_path, flag):
    # opening a FIFO with no reader for writing blocks: the run hung before it started
    fifo = tmp_path / "fifo"
    os.mkfifo(fifo)
    err = usage_error(capsys, [flag, str(fifo)], flag)
    assert "FIFO" in err
    assert stat.S_ISFIFO(os.lstat(fifo).st_mode)


@pytest.mark.parametrize("flag", ["--report", "--log-file"])
def test_a_device_is_refused_and_left_alone(capsys, flag):
    before = os.lstat(os.devnull)
    err = usage_error(capsys, [flag, os.devnull], flag)
    assert "character device" in err
    after = os.lstat(os.devnull)
    assert stat.S_ISCHR(after.st_mode) and after.st_ino == before.st_ino


@pytest.mark.parametrize("flag", ["--report", "--log-file"])
def test_a_symbolic_link_is_refused(capsys, tmp_path, flag):
    target = tmp_path / "target"
    target.write_text("keep me\n")
    link = tmp_path / "link"
    link.symlink_to(target)
    err = usage_error(capsys, [flag, str(link)], flag)
    assert "symbolic link" in err
    assert target.read_text() == "keep me\n"
    (tmp_path / "dangling").symlink_to(tmp_path / "nowhere")
    usage_error(capsys, [flag, str(tmp_path / "dangling")], flag)
    assert not (tmp_path / "nowhere").exists()


@pytest.mark.parametrize("flag", ["--report", "--log-file"])
def test_a_directory_that_refuses_new_files_is_a_usage_error(capsys, flag):
    # /proc refuses new files even to root, whom no permission bit stops: the check tries
    usage_error(capsys, [flag, "/proc/simulate-report.json"], flag)


def as_a_user(argv: list[str]) -> subprocess.CompletedProcess[str]:
    """``config_from_args(argv)`` in a process without root's power to write anywhere (root
    passes every permission check: ``setpriv`` drops CAP_DAC_OVERRIDE from what it runs)."""
    code = f"from simulator.config import config_from_args; config_from_args({argv!r}, isatty=False)"
    command = [sys.executable, "-c", code]
    if os.geteuid() == 0:
        setpriv = shutil.which("setpriv")
        if setpriv is None:
            pytest.skip("root, and no setpriv to drop CAP_DAC_OVERRIDE")
        command = [setpriv, "--bounding-set", "-dac_override,-dac_read_search", *command]
    return subprocess.run(command, cwd=ROOT, capture_output=True, text=True, timeout=30)


@pytest.mark.parametrize("flag", ["--report", "--log-file"])
def test_a_read_only_directory_is_a_usage_error(tmp_path, flag):
    ro = tmp_path / "ro"
    ro.mkdir()
    ro.chmod(0o555)
    try:
        done = as_a_user([flag, str(ro / "out")])
    finally:
        ro.chmod(0o755)
    assert done.returncode == EXIT_USAGE, done.stderr
    assert done.stderr.count("\n") == 1 and f"argument {flag}: " in done.stderr, done.stderr
    assert list(ro.iterdir()) == []


def test_a_read_only_log_file_is_a_usage_error(tmp_path):
    log = tmp_path / "run.log"
    log.write_text("")
    log.chmod(0o444)
    done = as_a_user(["--log-file", str(log)])
    assert done.returncode == EXIT_USAGE, done.stderr
    assert "argument --log-file: " in done.stderr and "Permission denied" in done.stderr


def test_a_journal_in_memory_is_a_usage_error_said_once(capsys):
    err = usage_error(capsys, ["--journal", ":memory:"], "--journal")
    assert err.count("journal") <= 2 and "journal: journal:" not in err


def test_a_journal_name_that_leaves_no_room_for_its_wal_file_is_a_usage_error(capsys, tmp_path):
    usage_error(capsys, ["--journal", str(tmp_path / ("j" * 250))], "--journal")


@pytest.mark.parametrize(("first", "second"), [("--report", "--journal"), ("--report", "--log-file")])
def test_two_outputs_on_one_file_are_a_usage_error(capsys, tmp_path, first, second):
    path = str(tmp_path / "same")
    usage_error(capsys, [first, path, second, path], second)


def test_good_paths_are_accepted_and_the_check_leaves_nothing_behind(tmp_path):
    existing = tmp_path / "old.json"
    existing.write_text("{}\n")
    config = config_from_args(
        [
            "--report",
            str(existing),
            "--log-file",
            str(tmp_path / "run.log"),
            "--journal",
            str(tmp_path / "j.db"),
        ],
        isatty=False,
    )
    assert config.report == str(existing)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["old.json"]
    assert existing.read_text() == "{}\n"


def test_an_existing_log_file_is_appended_to_not_replaced(tmp_path):
    log = tmp_path / "run.log"
    log.write_text("earlier run\n")
    assert output_problem(str(log), whole=False) is None
    assert log.read_text() == "earlier run\n"
