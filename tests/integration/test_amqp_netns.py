"""Brokers in a network namespace of their own, joined to the server by one veth pair: the only
thing that reaches them is RabbitMQ, and the run still gives the pipes' fills.

Needs root (``ip netns``) and Debian's rabbitmq-server (a private node listening on the veth's
host address only); skipped otherwise, saying why.
"""

from __future__ import annotations

import json
import os
import secrets
import shutil
import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest

from simulator.testing.procs import ROOT, SIMULATE, SimProcess, assert_reconciled
from simulator.testing.rabbit import PrivateNode, Server
from simulator.testing.waiting import deadline_wait

pytestmark = pytest.mark.slow


def _ip(*args: str) -> None:
    subprocess.run(["ip", *args], check=True, capture_output=True, timeout=30)


@pytest.fixture
def netns() -> Iterator[tuple[str, str]]:
    """(namespace, host address): a namespace whose one link is a veth to this host's end."""
    if os.geteuid() != 0 or shutil.which("ip") is None:
        pytest.skip("needs root and iproute2 (ip netns)")
    tag = secrets.token_hex(3)
    ns, host_if, ns_if = f"simtest-{tag}", f"simh{tag}", f"simn{tag}"
    net = f"10.213.{int(tag[:2], 16)}"
    _ip("netns", "add", ns)
    try:
        _ip("link", "add", host_if, "type", "veth", "peer", "name", ns_if)
        _ip("link", "set", ns_if, "netns", ns)
        _ip("addr", "add", f"{net}.1/30", "dev", host_if)
        _ip("link", "set", host_if, "up")
        _ip("netns", "exec", ns, "ip", "addr", "add", f"{net}.2/30", "dev", ns_if)
        _ip("netns", "exec", ns, "ip", "link", "set", ns_if, "up")
        _ip("netns", "exec", ns, "ip", "link", "set", "lo", "up")
        yield ns, f"{net}.1"
    finally:
        subprocess.run(["ip", "netns", "del", ns], capture_output=True, timeout=30)
        subprocess.run(["ip", "link", "del", host_if], capture_output=True, timeout=30)


@pytest.fixture
def veth_rabbit(netns: tuple[str, str]) -> Iterator[Server]:
    if shutil.which("rabbitmq-server") is None:
        if os.environ.get("CI") == "true":
            pytest.fail("CI=true and rabbitmq-server is not installed")
        pytest.skip("rabbitmq-server is not installed (apt-get install rabbitmq-server)")
    node = PrivateNode(host=netns[1])
    try:
        server = node.start()
        # guest may only log in over loopback: a user of the test's own
        server.user, server.password = "simtest", secrets.token_hex(8)
        server.ctl("add_user", server.user, server.password)
        server.ctl("set_permissions", "-p", "/", server.user, ".*", ".*", ".*")
        yield server
    finally:
        node.stop()


def _established(pid: int) -> set[tuple[str, int]]:
    """Remote (address, port) of every established TCP connection in ``pid``'s namespace that
    leaves it (its own /proc/PID/net/tcp: psutil would read this process's namespace). pika
    wakes its I/O loop through a socket pair on the namespace's own loopback: both ends are in
    the table, and are left out."""

    def addr(text: str) -> tuple[str, int]:
        ip_hex, port_hex = text.split(":")
        return ".".join(str(int(ip_hex[i : i + 2], 16)) for i in (6, 4, 2, 0)), int(port_hex, 16)

    rows = [line.split() for line in Path(f"/proc/{pid}/net/tcp").read_text().splitlines()[1:]]
    pairs = [(addr(f[1]), addr(f[2])) for f in rows if f[3] == "01"]  # ESTABLISHED
    local = {here for here, _ in pairs}
    return {there for _, there in pairs if there not in local}


@pytest.mark.timeout(240)
def test_brokers_in_their_own_network_namespace_reach_only_rabbitmq(
    netns: tuple[str, str], veth_rabbit: Server, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    ns, host = netns
    url = veth_rabbit.url()
    flow = ("--orders", "30000", "--seed", "9", "--rate", "0", "--brokers", "2")
    pipe = tmp_path / "pipe.json"
    subprocess.run([*SIMULATE, "--headless", *flow, "--report", str(pipe)], cwd=ROOT, timeout=120, check=True,
                   capture_output=True)  # fmt: skip
    inside = ("ip", "netns", "exec", ns, *SIMULATE, "broker")
    monkeypatch.setenv("SIM_AMQP_URL", url)  # the brokers and the bank read it
    brokers = [SimProcess(command=inside, headless=False) for _ in range(2)]
    try:
        for b in brokers:
            b.wait_for(
                lambda b=b: any("waiting for a shard" in line for line in b.stderr), 60, "a broker ready"
            )
        report = tmp_path / "amqp.json"
        with SimProcess(*flow, "--transport", "amqp", "--external-brokers", report=report) as sim:
            seen: set[tuple[str, int]] = set()

            def connections() -> bool:
                seen.update(_established(brokers[0].proc.pid))  # all of the namespace's
                return bool(seen)

            deadline_wait(connections, 30, "the brokers' connections")
            assert sim.wait_exit(120) == 0, sim.output()
        for b in brokers:
            assert b.wait_exit(30) == 0, b.output()
        r = json.loads(report.read_text())
        assert_reconciled(r)
        assert r["fills"]["digest"] == json.loads(pipe.read_text())["fills"]["digest"]
        assert seen == {(host, veth_rabbit.port)}, seen
        # nothing else is there to reach: the namespace's only links are lo and the veth
        links = subprocess.run(
            ["ip", "netns", "exec", ns, "ip", "-o", "link"], capture_output=True, text=True
        )
        assert len(links.stdout.splitlines()) == 2, links.stdout
        # and the bank is not reachable from inside: its loopback is not theirs
        probe = subprocess.run(["ip", "netns", "exec", ns, "python3", "-c",
                                "import socket; socket.create_connection(('127.0.0.1', 5672), 1)"],
                               capture_output=True, timeout=30)  # fmt: skip
        assert probe.returncode != 0
    finally:
        for b in brokers:
            b.close()
