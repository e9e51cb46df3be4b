"""Client side of the RIC transports, for E2 agents and xApps.

``connect(address, kind)`` gives a blocking client and ``await connect_async(address, kind)`` an
asyncio one; the address picks the transport (``tcp://host:port`` ZeroMQ DEALER,
``host:port`` gRPC stream). Both send and receive whole envelopes (``E2Pdu`` for
``kind='e2'``, ``XappPdu`` for ``kind='xapp'``), as objects or as serialized bytes.

This module imports only ``ric.protocol`` and ``ric.transport.base``, so E2 agents and xApps can
use it without the RIC core.
"""

from __future__ import annotations

import math
import os
import time
from abc import ABC, abstractmethod
from typing import Any, Generic, Literal, Self, TypeVar, cast, overload

import zmq
import zmq.asyncio
from google.protobuf.message import DecodeError

from ric.protocol.gen import e2ap_pb2
from ric.transport.base import LinkKind, TransportError, TransportName, parse_address

Pdu = e2ap_pb2.E2Pdu | e2ap_pb2.XappPdu
P = TypeVar("P", e2ap_pb2.E2Pdu, e2ap_pb2.XappPdu)

class LinkClosed(TransportError):
    """The RIC ended the connection."""


def _envelope(kind: LinkKind) -> type[e2ap_pb2.E2Pdu] | type[e2ap_pb2.XappPdu]:
    return e2ap_pb2.E2Pdu if kind == "e2" else e2ap_pb2.XappPdu


def default_identity(kind: LinkKind, label: str = "") -> bytes:
    """A readable, unique ZeroMQ identity: ``<kind>:<label>:<pid>:<random>``."""
    return f"{kind}:{label or 'peer'}:{os.getpid()}:{os.urandom(3).hex()}".encode()


def _parse(envelope: type[P], data: bytes) -> P:
    try:
        return envelope.FromString(data)
    except DecodeError as exc:
        raise TransportError(f"RIC sent a frame that is not an {envelope.__name__}: {exc}") from None


def _poll_ms(timeout_s: float) -> int:
    """ZeroMQ poll timeout [ms], rounded up so a sub-millisecond wait still waits."""
    return max(0, math.ceil(timeout_s * 1000))


def _zmq_dealer(context: zmq.Context[Any], address: str, identity: bytes, hwm_msgs: int) -> zmq.Socket[Any]:
    sock = context.socket(zmq.DEALER)
    sock.setsockopt(zmq.IDENTITY, identity)
    sock.setsockopt(zmq.SNDHWM, hwm_msgs)
    sock.setsockopt(zmq.RCVHWM, hwm_msgs)
    sock.setsockopt(zmq.LINGER, 0)
    sock.setsockopt(zmq.RECONNECT_IVL, 100)
    sock.setsockopt(zmq.RECONNECT_IVL_MAX, 1000)
    sock.setsockopt(zmq.HEARTBEAT_IVL, 1000)
    sock.setsockopt(zmq.HEARTBEAT_TIMEOUT, 3000)
    if "[" in address:
        sock.setsockopt(zmq.IPV6, 1)
    try:
        sock.connect(address)
    except zmq.ZMQError as exc:
        sock.close(0)
        raise TransportError(f"cannot connect to {address}: {exc}") from None
    return sock


# ---------------------------------------------------------------------- blocking clients


class Client(ABC, Generic[P]):
    """Blocking connection of one E2 agent (``Client[E2Pdu]``) or xApp (``Client[XappPdu]``) to the RIC."""

    transport: TransportName
    kind: LinkKind
    address: str
    envelope: type[P]

    @abstractmethod
    def send_bytes(self, data: bytes) -> None:
        """Send one serialized envelope."""

    @abstractmethod
    def recv_bytes(self, timeout_s: float | None = None) -> bytes | None:
        """Next serialized envelope, or None after ``timeout_s`` (None waits forever)."""

    @abstractmethod
    def close(self) -> None:
        """Close the connection."""

    def send(self, pdu: P) -> None:
        """Send one envelope."""
        self.send_bytes(pdu.SerializeToString())

    def recv(self, timeout_s: float | None = None) -> P | None:
        """Next envelope (parsed), or None after ``timeout_s``."""
        data = self.recv_bytes(timeout_s)
        return None if data is None else _parse(self.envelope, data)

    def __enter__(self) -> Self:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


class ZmqClient(Client[P]):
    """DEALER socket connected to the RIC's ROUTER (one identity per client)."""

    transport: TransportName = "zmq"

    def __init__(
        self,
        address: str,
        kind: LinkKind,
        *,
        identity: bytes | None = None,
        hwm_msgs: int = 1000,
        context: zmq.Context[Any] | None = None,
        busy_poll: bool = False,
    ) -> None:
        self.address = address
        self.kind = kind
        self.envelope = _envelope(kind)  # type: ignore[assignment]
        self.identity = identity or default_identity(kind)
        self.busy_poll = busy_poll
        self._sock = _zmq_dealer(context or zmq.Context.instance(), address, self.identity, hwm_msgs)

    def send_bytes(self, data: bytes) -> None:
        if len(data) < 65536:
            self._sock.send(data)
        else:
            self._sock.send(data, copy=False)

    def recv_bytes(self, timeout_s: float | None = None) -> bytes | None:
        if self.busy_poll and timeout_s is not None:
            return self._recv_spinning(timeout_s)
        if timeout_s is not None and not self._sock.poll(_poll_ms(timeout_s)):
            return None
        data: bytes = self._sock.recv()
        return data

    def _recv_spinning(self, timeout_s: float) -> bytes | None:
        """Poll without sleeping (yielding the core between polls) until a frame or the timeout.

        On virtual machines an idle process takes 100 µs or more to wake up; a busy poller
        sees a frame within microseconds, at the price of keeping a core busy.
        """
        sock, again, yield_now = self._sock, zmq.Again, os.sched_yield
        deadline = time.monotonic_ns() + int(timeout_s * 1e9)
        while True:
            try:
                data: bytes = sock.recv(zmq.NOBLOCK)
                return data
            except again:
                if time.monotonic_ns() >= deadline:
                    return None
                yield_now()

    def close(self) -> None:
        if not self._sock.closed:
            self._sock.close(0)


@overload
def connect(address: str, kind: Literal["e2"], *, identity: bytes | None = None, hwm_msgs: int = 1000,
            connect_timeout_s: float = 5.0, busy_poll: bool = False) -> Client[e2ap_pb2.E2Pdu]: ...
@overload
def connect(address: str, kind: Literal["xapp"], *, identity: bytes | None = None, hwm_msgs: int = 1000,
            connect_timeout_s: float = 5.0, busy_poll: bool = False) -> Client[e2ap_pb2.XappPdu]: ...
@overload
def connect(address: str, kind: LinkKind, *, identity: bytes | None = None, hwm_msgs: int = 1000,
            connect_timeout_s: float = 5.0, busy_poll: bool = False) -> Client[Any]: ...
def connect(address: str, kind: LinkKind, *, identity: bytes | None = None, hwm_msgs: int = 1000,
            connect_timeout_s: float = 5.0, busy_poll: bool = False) -> Client[Any]:
    """Blocking client for ``address`` (ZeroMQ or gRPC, from the address form).

    Parameters
    ----------
    address : str
        ``tcp://host:port`` (ZeroMQ) or ``host:port`` (gRPC).
    kind : {'e2', 'xapp'}
        ``e2`` for E2 agents (``E2Pdu``), ``xapp`` for xApps (``XappPdu``).
    identity : bytes, optional
        ZeroMQ identity (default: `default_identity`).
    hwm_msgs : int
        ZeroMQ high-water mark [messages].
    connect_timeout_s : float
        gRPC only: how long to wait for the RIC [s].
    busy_poll : bool
        ZeroMQ only: receive with timeouts by polling without sleeping (see `ZmqClient`).
    """
    transport, target = parse_address(address)
    if transport == "zmq":
        return ZmqClient(target, kind, identity=identity, hwm_msgs=hwm_msgs, busy_poll=busy_poll)
    from ric.transport.grpc_client import GrpcClient  # gRPC is loaded only by processes that use it

    return GrpcClient(target, kind, connect_timeout_s=connect_timeout_s)


# ---------------------------------------------------------------------- asyncio clients


class AsyncClient(ABC, Generic[P]):
    """asyncio connection of one E2 agent or xApp to the RIC."""

    transport: TransportName
    kind: LinkKind
    address: str
    envelope: type[P]

    @abstractmethod
    async def send_bytes(self, data: bytes) -> None:
        """Send one serialized envelope."""

    @abstractmethod
    async def recv_bytes(self, timeout_s: float | None = None) -> bytes | None:
        """Next serialized envelope, or None after ``timeout_s``."""

    @abstractmethod
    async def close(self) -> None:
        """Close the connection."""

    async def send(self, pdu: P) -> None:
        """Send one envelope."""
        await self.send_bytes(pdu.SerializeToString())

    async def recv(self, timeout_s: float | None = None) -> P | None:
        """Next envelope (parsed), or None after ``timeout_s``."""
        data = await self.recv_bytes(timeout_s)
        return None if data is None else _parse(self.envelope, data)

    async def __aenter__(self) -> Self:
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.close()


class AsyncZmqClient(AsyncClient[P]):
    """DEALER socket on ``zmq.asyncio``."""

    transport: TransportName = "zmq"

    def __init__(self, address: str, kind: LinkKind, *, identity: bytes | None = None, hwm_msgs: int = 1000) -> None:
        self.address = address
        self.kind = kind
        self.envelope = _envelope(kind)  # type: ignore[assignment]
        self.identity = identity or default_identity(kind)
        sock = _zmq_dealer(zmq.asyncio.Context.instance(), address, self.identity, hwm_msgs)
        self._sock: zmq.asyncio.Socket = cast(zmq.asyncio.Socket, sock)

    async def send_bytes(self, data: bytes) -> None:
        await self._sock.send(data)

    async def recv_bytes(self, timeout_s: float | None = None) -> bytes | None:
        if timeout_s is not None and not await self._sock.poll(_poll_ms(timeout_s)):
            return None
        data: bytes = await self._sock.recv()
        return data

    async def close(self) -> None:
        if not self._sock.closed:
            self._sock.close(0)


@overload
async def connect_async(address: str, kind: Literal["e2"], *, identity: bytes | None = None,
                        hwm_msgs: int = 1000, connect_timeout_s: float = 5.0) -> AsyncClient[e2ap_pb2.E2Pdu]: ...
@overload
async def connect_async(address: str, kind: Literal["xapp"], *, identity: bytes | None = None,
                        hwm_msgs: int = 1000, connect_timeout_s: float = 5.0) -> AsyncClient[e2ap_pb2.XappPdu]: ...
@overload
async def connect_async(address: str, kind: LinkKind, *, identity: bytes | None = None,
                        hwm_msgs: int = 1000, connect_timeout_s: float = 5.0) -> AsyncClient[Any]: ...
async def connect_async(address: str, kind: LinkKind, *, identity: bytes | None = None, hwm_msgs: int = 1000,
                        connect_timeout_s: float = 5.0) -> AsyncClient[Any]:
    """asyncio client for ``address`` (same arguments as `connect`)."""
    transport, target = parse_address(address)
    if transport == "zmq":
        return AsyncZmqClient(target, kind, identity=identity, hwm_msgs=hwm_msgs)
    from ric.transport.grpc_client import AsyncGrpcClient

    client: AsyncGrpcClient[Any] = AsyncGrpcClient(target, kind)
    await client.open(connect_timeout_s)
    return client


__all__ = [
    "AsyncClient",
    "AsyncZmqClient",
    "Client",
    "LinkClosed",
    "Pdu",
    "ZmqClient",
    "connect",
    "connect_async",
    "default_identity",
]
