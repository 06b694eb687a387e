"""--transport amqp against a real RabbitMQ: same fills as the pipes, nothing left behind, the
URL checked before anything starts and its password never shown, external brokers and standbys.

Each test has a vhost of its own (``amqp_url``), deleted after it.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
from pathlib import Path

import psutil
import pytest

from simulator.testing.procs import ROOT, SIMULATE, SimProcess, assert_reconciled
from simulator.testing.rabbit import Server
from simulator.testing.waiting import deadline_wait

pytestmark = pytest.mark.slow

FLOW = ("--orders", "40000", "--seed", "7", "--rate", "0")


def run(*flags: str, tmp_path: Path, name: str = "r", env: dict | None = None, timeout: float = 120) -> dict:
    """One headless run to its end; its report, with its exit status and output."""
    report = tmp_path / f"{name}.json"
    done = subprocess.run(
        [*SIMULATE, "--headless", "--report", str(report), *flags],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=timeout,
        env=env,
    )
    assert report.exists(), f"exit {done.returncode}\n{done.stdout[-3000:]}\n{done.stderr[-3000:]}"
    data = json.loads(report.read_text())
    data["_exit"], data["_out"] = done.returncode, done.stdout + done.stderr
    return data


def vhost_of(url: str) -> str:
    from urllib.parse import unquote

    return unquote(url.rsplit("/", 1)[1])


@pytest.mark.timeout(400)
def test_amqp_gives_the_pipes_fills_for_1_to_8_brokers(amqp_url: str, rabbit: Server, tmp_path: Path) -> None:
    pipe = run(*FLOW, "--brokers", "2", tmp_path=tmp_path, name="pipe")
    assert_reconciled(pipe)
    for n in (1, 2, 5, 8):
        amqp = run(
            *FLOW,
            "--brokers",
            str(n),
            "--transport",
            "amqp",
            "--amqp-url",
            amqp_url,
            tmp_path=tmp_path,
            name=f"amqp{n}",
        )
        assert amqp["_exit"] == 0, amqp["_out"][-3000:]
        assert_reconciled(amqp)
        assert amqp["fills"]["digest"] == pipe["fills"]["digest"], n
        assert amqp["orders"] == pipe["orders"], n
        assert amqp["transport"] == "amqp" and "***" in amqp["config"]["amqp_url"]
        assert len(amqp["brokers"]) == n and all(b["host"] and b["pid"] for b in amqp["brokers"])
    if rabbit.node is not None:
        assert rabbit.queues(vhost_of(amqp_url)) == [], "a clean run leaves no queue behind"


@pytest.mark.timeout(60)
@pytest.mark.parametrize(
    "bad, says",
    [
        ("amqp://guest:guest@127.0.0.1:1/%2F", "Connection refused"),
        ("amqp://guest:Wr0ngSecret@127.0.0.1:5672/%2F", "password was refused"),
        ("amqp://guest:guest@127.0.0.1:5672/no-such-vhost-here", "vhost"),
        ("http://guest:guest@127.0.0.1/", "not an amqp"),
    ],
)
def test_a_url_that_cannot_work_is_one_line_naming_the_flag_exit_2(
    bad: str, says: str, rabbit: Server, tmp_path: Path
) -> None:
    done = subprocess.run(
        [*SIMULATE, "--headless", "--transport", "amqp", "--amqp-url", bad, "--orders", "10"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=30,
    )
    assert done.returncode == 2
    lines = done.stderr.strip().splitlines()
    assert len(lines) == 1 and "--amqp-url" in lines[0] and says in lines[0], done.stderr
    assert "Wr0ngSecret" not in done.stderr and "placing" not in done.stdout


@pytest.mark.timeout(120)
def test_the_password_shows_nowhere(amqp_url: str, tmp_path: Path) -> None:
    """Not in the report, the log file, the output, ps, nor the journal's config."""
    secret = amqp_url.split(":")[2].split("@")[0]
    assert secret
    log_file = tmp_path / "run.log"
    report = tmp_path / "r.json"
    flags = (
        "--orders",
        "40000",  # twice what is placed when ps is read: it runs on, with the log at DEBUG
        "--rate",
        "20000",
        "--seed",
        "3",
        "--log-file",
        str(log_file),
        "--log-level",
        "DEBUG",
        "--transport",
        "amqp",
        "--amqp-url",
        amqp_url,
    )
    with SimProcess(*flags, report=report) as sim:
        sim.wait_placed_at_least(20000, timeout=60)
        shown = [" ".join(p.cmdline()) for p in [psutil.Process(sim.proc.pid), *sim.children()]]
        assert sim.wait_exit(60) == 0, sim.output()
    assert not [c for c in shown if secret in c], shown
    for text in (report.read_text(), log_file.read_text(), sim.output()):
        assert f":{secret}@" not in text
    assert "***" in json.loads(report.read_text())["config"]["amqp_url"]


@pytest.mark.timeout(60)
def test_sim_amqp_url_is_read_from_the_environment(amqp_url: str, tmp_path: Path) -> None:
    env = {**os.environ, "SIM_AMQP_URL": amqp_url}
    r = run(
        "--orders", "2000", "--rate", "0", "--seed", "1", "--transport", "amqp", tmp_path=tmp_path, env=env
    )
    assert r["_exit"] == 0, r["_out"]
    assert_reconciled(r)


def broker(url: str, *flags: str) -> SimProcess:
    """An external broker, in a process group (and session) of its own."""
    return SimProcess("--amqp-url", url, *flags, command=(*SIMULATE, "broker"), headless=False)


def took(b: SimProcess) -> bool:
    return any("took broker-" in line for line in b.stderr)


@pytest.mark.timeout(240)
def test_external_brokers_and_a_standby_taking_over_a_killed_ones_shard(
    amqp_url: str, tmp_path: Path
) -> None:
    """Three brokers started apart from the bank; two take the shards, one waits. kill -9 of an
    active one: the standby takes its shard over with its books restored and the run ends with
    the pipe transport's digest, nothing lost, nothing traded twice."""
    # the kill lands at 40,000 placed of 80,000: half the run goes on on the standby. The rate
    # changes the timing, never the fills: the pipes' run is at full speed
    flow = ("--orders", "80000", "--seed", "11", "--brokers", "2")
    pipe = run(*flow, "--rate", "0", tmp_path=tmp_path, name="pipe")
    flow = (*flow, "--rate", "15000")
    brokers = [broker(amqp_url) for _ in range(3)]
    try:
        for b in brokers:
            b.wait_for(lambda b=b: any("waiting for a shard" in line for line in b.stderr), 30, "standby")
        report = tmp_path / "ext.json"
        with SimProcess(
            *flow, "--transport", "amqp", "--amqp-url", amqp_url, "--external-brokers", report=report
        ) as sim:
            deadline_wait(lambda: sum(map(took, brokers)) == 2, 30, "two brokers taking the shards")
            sim.wait_placed_at_least(40000, timeout=60)
            victim = next(b for b in brokers if took(b))
            standby = next(b for b in brokers if not took(b))
            os.kill(victim.proc.pid, signal.SIGKILL)
            standby.wait_for(lambda: took(standby), 30, "the standby taking the shard over")
            assert sim.wait_exit(90) == 0, sim.output()
        r = sim.report()
        assert_reconciled(r)
        assert r["fills"]["digest"] == pipe["fills"]["digest"]
        assert r["orders"] == pipe["orders"]
        assert {b["pid"] for b in r["brokers"]} == {b.proc.pid for b in brokers if b is not victim}
        for b in brokers:
            if b is not victim:
                assert b.wait_exit(30) == 0, b.output()  # external brokers exit after the run
    finally:
        for b in brokers:
            b.close()


@pytest.mark.timeout(120)
def test_a_standby_leaves_on_sigterm_and_a_broker_exits_when_its_bank_is_killed(
    amqp_url: str, rabbit: Server, tmp_path: Path
) -> None:
    b = broker(amqp_url)
    idle = broker(amqp_url)
    try:
        b.wait_for(lambda: any("waiting for a shard" in line for line in b.stderr), 30, "standby")
        with SimProcess(
            "--brokers",
            "1",
            "--symbols",
            "4",
            "--rate",
            "2000",
            "--transport",
            "amqp",
            "--amqp-url",
            amqp_url,
            "--external-brokers",
        ) as sim:
            deadline_wait(lambda: took(b) or took(idle), 30, "a broker taking the shard")
            active, standby = (b, idle) if took(b) else (idle, b)
            sim.wait_placed_at_least(4000, timeout=30)
            sim.signal_group(signal.SIGKILL)  # the bank and nothing else: brokers are apart
            code = active.wait_exit(15)  # notices within a few seconds, by itself
            assert code == 1 and any("bank" in line and "gone" in line for line in active.stderr), (
                active.output()
            )
        if rabbit.node is not None:
            vhost = vhost_of(amqp_url)
            queues = rabbit.queues(vhost)
            run_queues = [q for q in queues if q[0].startswith("sim.2")]
            assert run_queues and all("x-expires" in q[3] for q in run_queues), queues
        standby.signal_group(signal.SIGTERM)
        assert standby.wait_exit(15) == 0, standby.output()
    finally:
        b.close()
        idle.close()


@pytest.mark.timeout(180)
def test_a_killed_local_broker_is_restarted_with_its_books(amqp_url: str, tmp_path: Path) -> None:
    """Brokers the bank spawns over AMQP: kill -9 drills; the restarted ones take their shard
    over from the queue (no order sent again), same digest as the pipes, nothing lost."""
    flow = ("--orders", "60000", "--seed", "5", "--brokers", "3")
    pipe = run(*flow, "--rate", "0", tmp_path=tmp_path, name="pipe")  # the rate never changes fills
    r = run(
        *flow,
        "--rate",
        "15000",
        "--transport",
        "amqp",
        "--amqp-url",
        amqp_url,
        "--kill-broker-every",
        "1",
        "--max-restarts",
        "20",
        tmp_path=tmp_path,
        name="amqp",
    )
    assert r["_exit"] == 0, r["_out"][-3000:]
    assert_reconciled(r)
    assert "restarted as pid" in r["_out"]
    assert r["fills"]["digest"] == pipe["fills"]["digest"]


@pytest.mark.timeout(180)
def test_the_server_stopped_mid_run_stops_the_bank_with_the_reason(
    private_rabbit: Server, tmp_path: Path
) -> None:
    report = tmp_path / "r.json"
    with SimProcess(
        "--rate",
        "5000",
        "--brokers",
        "2",
        "--seed",
        "2",
        "--transport",
        "amqp",
        "--amqp-url",
        private_rabbit.url(),
        "--stop-timeout",
        "5",
        report=report,
    ) as sim:
        sim.wait_placed_at_least(5000, timeout=60)
        assert private_rabbit.private is not None
        private_rabbit.private.stop()
        code = sim.wait_exit(60)
        left = sim.wait_group_gone(10)
    assert code == 1, sim.output()
    assert not left
    r = sim.report()
    assert "RabbitMQ" in r["stop_reason"], r["stop_reason"]
    o = r["orders"]
    assert o["placed"] == o["filled"] + o["cancelled"] + o["rejected"] + o["resting"] + o["lost"]
    assert len(r["lost_ids"]) == min(o["lost"], 1000), "what was not confirmed is reported lost by id"
    assert "Traceback" not in sim.output(), sim.output()


def test_pipe_runs_need_no_pika(tmp_path: Path) -> None:
    """--transport pipe (the default) never imports pika."""
    code = (
        "import sys; from simulator.cli import main; main(['--headless', '--orders', '500']); "
        "print('pika' in sys.modules)"
    )
    done = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, timeout=60)
    assert done.stdout.strip().splitlines()[-1] == "False", done.stdout + done.stderr


@pytest.mark.timeout(60)
def test_a_port_that_never_answers_in_amqp_is_a_usage_error_within_the_connect_timeout() -> None:
    import socket
    import time

    with socket.socket() as listener:
        listener.bind(("127.0.0.1", 0))
        listener.listen()
        port = listener.getsockname()[1]
        t0 = time.monotonic()
        done = subprocess.run(
            [*SIMULATE, "--headless", "--transport", "amqp", "--amqp-url", f"amqp://u:p@127.0.0.1:{port}/%2F"],
            cwd=ROOT, capture_output=True, text=True, timeout=30,
        )  # fmt: skip
        took_s = time.monotonic() - t0
    assert done.returncode == 2
    assert "--amqp-url" in done.stderr and "no AMQP answer within" in done.stderr, done.stderr
    assert took_s < 20, took_s


@pytest.mark.timeout(120)
def test_a_broker_with_stay_serves_one_run_after_another(amqp_url: str, tmp_path: Path) -> None:
    b = broker(amqp_url, "--stay")
    try:
        b.wait_for(lambda: any("waiting for a shard" in line for line in b.stderr), 30, "standby")
        for seed in ("1", "2"):
            flags = ("--orders", "5000", "--rate", "0", "--seed", seed, "--brokers", "1")
            r = run(*flags, "--transport", "amqp", "--amqp-url", amqp_url, "--external-brokers",
                    tmp_path=tmp_path, name=seed)  # fmt: skip
            assert r["_exit"] == 0, r["_out"][-2000:]
            assert [x["pid"] for x in r["brokers"]] == [b.proc.pid]
        assert b.proc.poll() is None  # still there, waiting for the next run
        b.signal_group(signal.SIGTERM)
        assert b.wait_exit(15) == 0, b.output()
    finally:
        b.close()


@pytest.mark.timeout(120)
@pytest.mark.parametrize("sig", [signal.SIGINT, signal.SIGTERM])
def test_a_stop_signal_mid_run_answers_every_order_over_amqp(
    sig: int, amqp_url: str, rabbit: Server, tmp_path: Path
) -> None:
    report = tmp_path / "r.json"
    with SimProcess("--rate", "0", "--brokers", "3", "--seed", "4", "--transport", "amqp",
                    "--amqp-url", amqp_url, report=report) as sim:  # fmt: skip
        sim.wait_placed_at_least(50000, timeout=60)
        sim.signal_group(sig)  # a terminal's Ctrl-C, a service manager's SIGTERM: the whole group
        assert sim.wait_exit(60) == 0, sim.output()
    r = sim.report()
    assert_reconciled(r)
    assert r["stop_reason"] == f"signal {signal.Signals(sig).name}"
    if rabbit.node is not None:
        assert rabbit.queues(vhost_of(amqp_url)) == []
