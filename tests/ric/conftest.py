"""Fixtures for RIC tests: a RIC in a background thread, a test E2 agent and a test xApp."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from ric.config import RicConfig
from ric.protocol.spec import WorldSpec
from ric.server import RicThread
from ric.transport.client import connect
from tests.ric.ricpeers import HEX19, E2Agent, XappPeer, e2_address, make_spec, xapp_address


@pytest.fixture
def ric() -> Iterator[RicThread]:
    """A RIC on free ports, in a background thread."""
    config = RicConfig.ephemeral(log_level="WARNING", e2_response_timeout_s=1.0, probe_interval_s=0.2)
    with RicThread(config) as running:
        yield running


@pytest.fixture(params=["zmq", "grpc"])
def transport(request: pytest.FixtureRequest) -> str:
    return str(request.param)


@pytest.fixture
def spec() -> WorldSpec:
    return make_spec(HEX19["n_nodes"], HEX19["n_users"], HEX19["n_resources"])


@pytest.fixture
def agent(ric: RicThread, transport: str, spec: WorldSpec) -> Iterator[E2Agent]:
    with connect(e2_address(ric, transport), "e2") as client:
        yield E2Agent(client, spec)


@pytest.fixture
def xapp(ric: RicThread, transport: str) -> Iterator[XappPeer]:
    with connect(xapp_address(ric, transport), "xapp") as client:
        yield XappPeer(client)
