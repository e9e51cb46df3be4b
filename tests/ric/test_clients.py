"""The asyncio clients speak to the RIC over both transports (the blocking ones are used everywhere else)."""

from __future__ import annotations

import asyncio

from ric.protocol.gen import e2ap_pb2
from ric.server import RicThread
from ric.transport.client import LinkClosed, connect_async
from tests.ric.ricpeers import e2_address, make_spec, setup_request, xapp_address


def test_async_clients_setup_and_register(ric: RicThread, transport: str) -> None:
    spec = make_spec(n_nodes=3)

    async def run() -> None:
        e2 = await connect_async(e2_address(ric, transport), "e2")
        xapp = await connect_async(xapp_address(ric, transport), "xapp")
        try:
            await e2.send(setup_request(spec))
            reply = await e2.recv(5.0)
            assert reply is not None and list(reply.setup_response.accepted) == ["bs_0", "bs_1", "bs_2"]
            await xapp.send(e2ap_pb2.XappPdu(transaction_id=3, register_request=e2ap_pb2.XappRegisterRequest(
                name="async-xapp")))
            registered = await xapp.recv(5.0)
            assert registered is not None and registered.transaction_id == 3
            assert len(registered.register_response.nodes) == 3
            assert await xapp.recv(0.05) is None  # timeout: None, not an exception
        finally:
            await e2.close()
            await xapp.close()

    asyncio.run(run())


def test_grpc_client_notices_the_ric_going_away(ric: RicThread) -> None:
    async def run() -> None:
        e2 = await connect_async(e2_address(ric, "grpc"), "e2")
        await e2.send(e2ap_pb2.E2Pdu(keepalive=e2ap_pb2.Keepalive()))
        await asyncio.sleep(0.05)
        ric.stop()
        try:
            while True:
                if await e2.recv(5.0) is None:
                    raise AssertionError("the stream stayed open after the RIC stopped")
        except LinkClosed as exc:
            assert "closed the stream" in str(exc)
        finally:
            await e2.close()

    asyncio.run(run())
