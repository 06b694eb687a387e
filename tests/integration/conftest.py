"""Every integration test must leave no process of its own behind."""

from __future__ import annotations

import os
import secrets
import shutil
import subprocess
from collections.abc import Iterator

import pytest

from simulator.testing.procs import leftover_children
from simulator.testing.rabbit import PrivateNode, Server, find_server


@pytest.fixture(autouse=True)
def no_orphans() -> Iterator[None]:
    yield
    left = leftover_children(grace=5.0)
    assert not left, f"processes left behind: {left}"


# -- a real RabbitMQ (tests of --transport amqp) ---------------------------------------------------


@pytest.fixture(scope="session")
def rabbit() -> Iterator[Server]:
    """The server the AMQP tests use (simulator/testing/rabbit.py says which); skipped with how
    to get one when there is none, except under CI=true, where that fails."""
    server, how = find_server()
    if server is None:
        if os.environ.get("CI") == "true":
            pytest.fail(f"CI=true and {how}")
        pytest.skip(how)
    try:
        yield server
    finally:
        if server.private is not None:
            server.private.stop()


class VhostPool:
    """Fresh vhosts, made ahead for every test of the session that asks for one and deleted at its
    end, each lot in one ``rabbitmqctl eval``: a rabbitmqctl call starts an Erlang VM (about a
    second here), and three per test (add, permit, delete) were a minute of the AMQP tests.

    Where eval is refused (another RabbitMQ's internals), each vhost is made and deleted alone,
    as ``Server.new_vhost``/``drop_vhost`` do. A test never gets a vhost another test used.
    """

    ACTING = "simtest"

    def __init__(self, server: Server, wanted: int) -> None:
        self.server = server
        self.ready: list[str] = []
        self.made: list[str] = []
        self.batched = server.node is not None
        if self.batched and wanted:
            self.ready = self._make([f"simtest-{secrets.token_hex(4)}" for _ in range(wanted)])

    def _eval(self, body: str, names: list[str]) -> bool:
        vhosts = ", ".join(f'<<"{name}">>' for name in names)
        try:
            self.server.ctl("eval", f"lists:foreach(fun(V) -> {body} end, [{vhosts}]).")
        except (RuntimeError, subprocess.TimeoutExpired):
            return False
        return True

    def _make(self, names: list[str]) -> list[str]:
        user, acting = self.server.user, self.ACTING
        body = (
            f'ok = rabbit_vhost:add(V, <<"{acting}">>), '
            f'ok = rabbit_auth_backend_internal:set_permissions(<<"{user}">>, V, '
            f'<<".*">>, <<".*">>, <<".*">>, <<"{acting}">>)'
        )
        if self._eval(body, names):
            self.made += names
            return names
        self.batched = False
        self._drop(names)  # whatever part of the lot was made
        return []

    def take(self) -> str:
        if self.ready:
            return self.ready.pop()
        if self.batched and (made := self._make([f"simtest-{secrets.token_hex(4)}"])):
            return made[0]
        return self.server.new_vhost()  # one at a time (or the server's own, without control)

    def _drop(self, names: list[str]) -> None:
        if names and not self._eval(f'rabbit_vhost:delete(V, <<"{self.ACTING}">>)', names):
            for name in names:
                try:
                    self.server.ctl("delete_vhost", name)
                except (RuntimeError, subprocess.TimeoutExpired):
                    pass  # never made, or a stopped private node took it with it

    def close(self) -> None:
        self._drop(self.made)
        self.made = []
        for name in list(self.server.vhosts):  # those made one at a time
            self.server.drop_vhost(name)


@pytest.fixture(scope="session")
def vhost_pool(rabbit: Server, request: pytest.FixtureRequest) -> Iterator[VhostPool]:
    wanted = sum("amqp_url" in getattr(item, "fixturenames", ()) for item in request.session.items)
    pool = VhostPool(rabbit, wanted)
    try:
        yield pool
    finally:
        pool.close()


@pytest.fixture
def amqp_url(rabbit: Server, vhost_pool: VhostPool) -> str:
    """A URL on a vhost of this test's own (deleted, with all it holds, at the session's end)."""
    return rabbit.url(vhost_pool.take())


@pytest.fixture
def private_rabbit() -> Iterator[Server]:
    """A RabbitMQ node of this test's own, which it may stop (never the shared server)."""
    if shutil.which("rabbitmq-server") is None:
        if os.environ.get("CI") == "true":
            pytest.fail("CI=true and rabbitmq-server is not installed")
        pytest.skip("rabbitmq-server is not installed (apt-get install rabbitmq-server)")
    node = PrivateNode()
    try:
        yield node.start()
    finally:
        node.stop()
