"""A real RabbitMQ for the tests: find one, or start a private node; a vhost per test.

``find_server`` tries, in order: ``$SIM_AMQP_URL``; the server at 127.0.0.1:5672 if it answers
within a second; a private node started here if ``rabbitmq-server`` is on PATH. Otherwise it
returns None with how to get one (the tests then skip, except under ``CI=true``, where no
server is a failure).

``PrivateNode`` is a node of its own (its own node name, AMQP and distribution ports, data
and logs in a temporary directory, listening on 127.0.0.1 only), started in about 3-5 s and
always stopped by whoever started it: tests that stop a server mid-run use one, never the
shared server. Vhosts are made and deleted with ``rabbitmqctl`` (needs the node's Erlang
cookie: these machines run tests as root, where the Debian wrapper switches to the rabbitmq
user); with a server only reachable by URL the tests use its vhost and their run ids.
"""

from __future__ import annotations

import os
import secrets
import shutil
import socket
import subprocess
import tempfile
import urllib.parse
from dataclasses import dataclass, field
from pathlib import Path

from simulator.testing.waiting import deadline_wait

HOW_TO = (
    "no RabbitMQ server: set SIM_AMQP_URL=amqp://user:pw@host:5672/%2F, run one at 127.0.0.1:5672, "
    "or install Debian's rabbitmq-server (apt-get install rabbitmq-server) so the tests start their own"
)


def _answers(host: str, port: int, timeout: float = 1.0) -> bool:
    try:
        with socket.create_connection((host, port), timeout=timeout):
            return True
    except OSError:
        return False


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@dataclass
class Server:
    """A server the tests may use: its URL's parts, and the node rabbitmqctl reaches (or None)."""

    host: str
    port: int
    user: str = "guest"
    password: str = "guest"
    vhost: str = "/"
    node: str | None = None  # rabbitmqctl -n NODE ("": its default node); None: no control
    private: PrivateNode | None = None
    vhosts: list[str] = field(default_factory=list)

    def url(self, vhost: str | None = None) -> str:
        v = urllib.parse.quote(vhost if vhost is not None else self.vhost, safe="")
        return f"amqp://{self.user}:{self.password}@{self.host}:{self.port}/{v}"

    def ctl(self, *args: str, timeout: float = 60.0) -> str:
        assert self.node is not None
        done = subprocess.run(
            ["rabbitmqctl", "-q", *(["-n", self.node] if self.node else []), *args],
            capture_output=True,
            text=True,
            timeout=timeout,
        )
        if done.returncode:
            raise RuntimeError(f"rabbitmqctl {' '.join(args)}: {done.stderr.strip() or done.stdout.strip()}")
        return done.stdout

    def new_vhost(self) -> str:
        """A fresh vhost the guest user may use (or the server's own without control)."""
        if self.node is None:
            return self.vhost
        name = f"simtest-{secrets.token_hex(4)}"
        self.ctl("add_vhost", name)
        self.ctl("set_permissions", "-p", name, self.user, ".*", ".*", ".*")
        self.vhosts.append(name)
        return name

    def drop_vhost(self, name: str) -> None:
        if self.node is not None and name in self.vhosts:
            self.vhosts.remove(name)
            try:
                self.ctl("delete_vhost", name)
            except (RuntimeError, subprocess.TimeoutExpired):
                pass  # a stopped private node takes its vhosts with it

    def queues(self, vhost: str) -> list[tuple[str, ...]]:
        """(name, messages, consumers, arguments) of every queue in ``vhost``."""
        out = self.ctl(
            "list_queues", "-p", vhost, "--no-table-headers", "name", "messages", "consumers", "arguments"
        )
        return [tuple(line.split("\t")) for line in out.splitlines() if line.strip()]


class PrivateNode:
    """A RabbitMQ node of this test's own, on 127.0.0.1 (see the module docstring)."""

    def __init__(self, host: str = "127.0.0.1") -> None:
        self.host = host  # the one address it listens on
        self.port = _free_port()
        self.dist_port = _free_port()
        self.name = f"simtest{secrets.token_hex(3)}@localhost"
        self.dir = Path(tempfile.mkdtemp(prefix="simtest-rabbit-"))
        self.started = False

    def env(self) -> dict[str, str]:
        d = str(self.dir)
        (self.dir / "plugins").write_text("[].\n")
        (self.dir / "env.conf").write_text("")
        return {
            **os.environ,
            "RABBITMQ_NODENAME": self.name,
            "RABBITMQ_NODE_PORT": str(self.port),
            "RABBITMQ_DIST_PORT": str(self.dist_port),
            "RABBITMQ_NODE_IP_ADDRESS": self.host,
            "RABBITMQ_BASE": d,
            "RABBITMQ_MNESIA_BASE": f"{d}/mnesia",
            "RABBITMQ_LOG_BASE": f"{d}/log",
            "RABBITMQ_ENABLED_PLUGINS_FILE": f"{d}/plugins",
            "RABBITMQ_CONFIG_FILE": f"{d}/rabbitmq",
            "RABBITMQ_ADVANCED_CONFIG_FILE": f"{d}/advanced.config",
            "RABBITMQ_CONF_ENV_FILE": f"{d}/env.conf",
            "RABBITMQ_SERVER_ERL_ARGS": "-kernel inet_dist_use_interface {127,0,0,1}",
        }

    def start(self, timeout: float = 60.0) -> Server:
        env = self.env()
        if os.geteuid() == 0:  # the Debian wrapper runs the node as the rabbitmq user
            shutil.chown(self.dir, "rabbitmq", "rabbitmq")
            for p in self.dir.iterdir():
                shutil.chown(p, "rabbitmq", "rabbitmq")
        subprocess.run(
            ["rabbitmq-server", "-detached"], env=env, check=True, timeout=timeout, capture_output=True
        )
        self.started = True
        # -detached returns before the node has registered its name: await_startup would say
        # "not running"; the AMQP port answering comes after the boot, and is what tests need
        deadline_wait(lambda: _answers(self.host, self.port, 0.2), timeout, f"RabbitMQ node {self.name}")
        subprocess.run(
            ["rabbitmqctl", "-q", "-n", self.name, "await_startup", "--timeout", str(int(timeout))],
            env=env,
            check=True,
            timeout=timeout + 5,
            capture_output=True,
        )
        return Server(self.host, self.port, node=self.name, private=self)

    def stop(self) -> None:
        """Stop the node (idempotent) and remove its directory."""
        if self.started:
            self.started = False
            subprocess.run(
                ["rabbitmqctl", "-q", "-n", self.name, "stop"],
                env=self.env(),
                capture_output=True,
                timeout=60,
            )
        shutil.rmtree(self.dir, ignore_errors=True)


def find_server() -> tuple[Server | None, str]:
    """A server to test against (and how it was found), or None and how to get one."""
    env_url = os.environ.get("SIM_AMQP_URL")
    if env_url:
        p = urllib.parse.urlsplit(env_url)
        vhost = urllib.parse.unquote(p.path[1:]) if len(p.path) > 1 else "/"
        s = Server(
            p.hostname or "127.0.0.1", p.port or 5672, p.username or "guest", p.password or "guest", vhost
        )
        return s, "$SIM_AMQP_URL"
    if _answers("127.0.0.1", 5672):
        node = "" if shutil.which("rabbitmqctl") else None  # the machine's own node
        return Server("127.0.0.1", 5672, node=node), "127.0.0.1:5672"
    if shutil.which("rabbitmq-server"):
        private = PrivateNode()
        try:
            return private.start(), "a private node"
        except Exception as exc:
            private.stop()
            return None, f"a private RabbitMQ node did not start: {exc}"
    return None, HOW_TO
