"""Every integration test must leave no process of its own behind."""

from __future__ import annotations

import os
import shutil
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


@pytest.fixture
def amqp_url(rabbit: Server) -> Iterator[str]:
    """A URL on a vhost of this test's own, deleted (with all it holds) after it."""
    vhost = rabbit.new_vhost()
    try:
        yield rabbit.url(vhost)
    finally:
        rabbit.drop_vhost(vhost)


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
