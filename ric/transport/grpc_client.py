"""gRPC side of the RIC clients (`ric.transport.client.connect` loads it for ``host:port`` addresses).

Kept apart so that processes speaking only ZeroMQ never load gRPC and its background threads.
"""

from __future__ import annotations

import asyncio
import contextlib
import queue
import threading
from collections.abc import Iterator
from typing import Any

import grpc

from ric.transport.base import E2_METHOD, XAPP_METHOD, LinkKind, TransportError, TransportName
from ric.transport.client import AsyncClient, Client, LinkClosed, P, _envelope

CLIENT_OPTIONS: tuple[tuple[str, Any], ...] = (
    ("grpc.max_receive_message_length", 64 * 1024 * 1024),
    ("grpc.max_send_message_length", 64 * 1024 * 1024),
    ("grpc.keepalive_time_ms", 10_000),
    ("grpc.keepalive_timeout_ms", 5_000),
    ("grpc.keepalive_permit_without_calls", 1),
)



class GrpcClient(Client[P]):
    """Blocking bidirectional gRPC stream (a writer queue feeds the call; a thread reads)."""

    transport: TransportName = "grpc"

    def __init__(self, address: str, kind: LinkKind, *, connect_timeout_s: float = 5.0) -> None:
        self.address = address
        self.kind = kind
        self.envelope = _envelope(kind)  # type: ignore[assignment]
        self._channel = grpc.insecure_channel(address, options=CLIENT_OPTIONS)
        try:
            grpc.channel_ready_future(self._channel).result(timeout=connect_timeout_s)
        except grpc.FutureTimeoutError:
            self._channel.close()
            raise TransportError(f"cannot reach the RIC at {address} within {connect_timeout_s:g} s") from None
        self._out: queue.SimpleQueue[bytes | None] = queue.SimpleQueue()
        self._in: queue.SimpleQueue[bytes | None] = queue.SimpleQueue()
        method = self._channel.stream_stream(E2_METHOD if kind == "e2" else XAPP_METHOD)
        self._call = method(self._requests())
        self._closed = False
        self._reader = threading.Thread(target=self._read, name=f"grpc-{kind}-reader", daemon=True)
        self._reader.start()

    def _requests(self) -> Iterator[bytes]:
        while True:
            item = self._out.get()
            if item is None:
                return
            yield item

    def _read(self) -> None:
        try:
            for data in self._call:
                self._in.put(data)
        except grpc.RpcError:
            pass  # stream ended (RIC stopped or this client closed)
        finally:
            self._in.put(None)

    def send_bytes(self, data: bytes) -> None:
        if self._closed:
            raise LinkClosed(f"connection to {self.address} is closed")
        self._out.put(data)

    def recv_bytes(self, timeout_s: float | None = None) -> bytes | None:
        try:
            data = self._in.get(timeout=timeout_s)
        except queue.Empty:
            return None
        if data is None:
            self._in.put(None)
            raise LinkClosed(f"the RIC at {self.address} closed the stream")
        return data

    def close(self) -> None:
        if not self._closed:
            self._closed = True
            self._out.put(None)
            self._call.cancel()
            self._channel.close()
            self._reader.join(timeout=2.0)


class AsyncGrpcClient(AsyncClient[P]):
    """Bidirectional ``grpc.aio`` stream call."""

    transport: TransportName = "grpc"

    def __init__(self, address: str, kind: LinkKind) -> None:
        self.address = address
        self.kind = kind
        self.envelope = _envelope(kind)  # type: ignore[assignment]
        self._channel = grpc.aio.insecure_channel(address, options=CLIENT_OPTIONS)
        self._call: Any = None

    async def open(self, connect_timeout_s: float = 5.0) -> None:
        try:
            await asyncio.wait_for(self._channel.channel_ready(), connect_timeout_s)
        except TimeoutError:
            await self._channel.close()
            raise TransportError(f"cannot reach the RIC at {self.address} within {connect_timeout_s:g} s") from None
        self._call = self._channel.stream_stream(E2_METHOD if self.kind == "e2" else XAPP_METHOD)()

    async def send_bytes(self, data: bytes) -> None:
        try:
            await self._call.write(data)
        except (grpc.RpcError, grpc.aio.UsageError, asyncio.InvalidStateError) as exc:
            raise LinkClosed(f"connection to {self.address} is closed: {exc}") from None

    async def recv_bytes(self, timeout_s: float | None = None) -> bytes | None:
        try:
            data = await asyncio.wait_for(self._call.read(), timeout_s)
        except TimeoutError:
            return None
        except grpc.RpcError as exc:
            raise LinkClosed(f"the RIC at {self.address} closed the stream: {exc}") from None
        if data is grpc.aio.EOF:
            raise LinkClosed(f"the RIC at {self.address} closed the stream")
        result: bytes = data
        return result

    async def close(self) -> None:
        if self._call is not None:
            with contextlib.suppress(grpc.RpcError, grpc.aio.UsageError, asyncio.InvalidStateError):
                await self._call.done_writing()
            self._call.cancel()
        await self._channel.close()
