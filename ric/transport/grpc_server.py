"""gRPC (``grpc.aio``) endpoints of the RIC: the E2 and xApp streams, and unary services.

The E2 and xApp ``Connect`` methods are registered with raw-bytes handlers (no
(de)serializers): the RIC core parses the envelope itself, exactly as for ZeroMQ, and a frame
that does not parse reaches the core (which answers Error Indication) instead of breaking the
stream. Clients may still use the generated stubs; the bytes on the wire are the same.

Each server runs the standard health service (``grpc.health.v1``) and server reflection, does
not share its port (``grpc.so_reuseport`` 0, so a port in use is an error) and stops with a
grace period.
"""

from __future__ import annotations

import asyncio
import itertools
import time
from collections.abc import AsyncIterator, Callable, Sequence
from typing import Any

import grpc
from grpc_health.v1 import health, health_pb2, health_pb2_grpc
from grpc_reflection.v1alpha import reflection

from ric.transport.base import E2_METHOD, XAPP_METHOD, Link, LinkHandler, LinkKind, TransportError

MAX_MESSAGE_BYTES = 64 * 1024 * 1024
SERVER_OPTIONS: tuple[tuple[str, Any], ...] = (
    ("grpc.so_reuseport", 0),
    ("grpc.max_receive_message_length", MAX_MESSAGE_BYTES),
    ("grpc.max_send_message_length", MAX_MESSAGE_BYTES),
    ("grpc.keepalive_time_ms", 10_000),
    ("grpc.keepalive_timeout_ms", 5_000),
    ("grpc.keepalive_permit_without_calls", 1),
    ("grpc.http2.min_ping_interval_without_data_ms", 5_000),
    ("grpc.http2.max_pings_without_data", 0),
)
_counter = itertools.count(1)


class GrpcLink(Link):
    """One bidirectional stream; sends go through a bounded queue to the stream's writer."""

    __slots__ = ("_on_drop", "peer", "queue")

    def __init__(self, kind: LinkKind, peer: str, queue_msgs: int, on_drop: Callable[[Link], None] | None) -> None:
        super().__init__(kind, "grpc", f"grpc:{kind}:{peer}#{next(_counter)}")
        self.peer = peer
        self.queue: asyncio.Queue[bytes | None] = asyncio.Queue(maxsize=queue_msgs)
        self._on_drop = on_drop

    def send(self, data: bytes) -> bool:
        if not self.open:
            return False
        try:
            self.queue.put_nowait(data)
        except asyncio.QueueFull:
            if self._on_drop is not None:
                self._on_drop(self)
            return False
        return True

    def close(self) -> None:
        if self.open:
            self.open = False
            try:
                self.queue.put_nowait(None)
            except asyncio.QueueFull:
                self.queue.get_nowait()
                self.queue.put_nowait(None)


class GrpcServer:
    """One ``grpc.aio`` server on one address, with health and reflection.

    Parameters
    ----------
    address : str
        ``host:port`` to bind (port 0 picks one).
    label : str
        What the server serves, for error messages (``E2``, ``xApp``, ``admin``).
    """

    def __init__(self, address: str, label: str) -> None:
        self.address = address
        self.label = label
        self.bound_address = ""
        self._server: grpc.aio.Server | None = None
        self._service_names: list[str] = []
        self._stream_handlers: list[grpc.GenericRpcHandler] = []
        self._servicers: list[tuple[Callable[[Any, grpc.aio.Server], None], Any]] = []
        self._links: set[GrpcLink] = set()
        self._health: Any = None

    # ------------------------------------------------------------------ registration

    def add_stream(
        self,
        kind: LinkKind,
        handler: LinkHandler,
        *,
        queue_msgs: int = 1000,
        on_drop: Callable[[Link], None] | None = None,
    ) -> None:
        """Serve the E2 (``kind='e2'``) or xApp stream method with raw-bytes frames."""
        method = E2_METHOD if kind == "e2" else XAPP_METHOD
        service, name = method.strip("/").split("/")

        async def connect(request_iterator: AsyncIterator[bytes], context: grpc.aio.ServicerContext) -> None:
            await self._serve_stream(kind, handler, queue_msgs, on_drop, request_iterator, context)

        rpc = grpc.stream_stream_rpc_method_handler(connect)
        self._stream_handlers.append(grpc.method_handlers_generic_handler(service, {name: rpc}))
        self._service_names.append(service)

    def add_servicer(self, add_to_server: Callable[[Any, grpc.aio.Server], None], servicer: Any, name: str) -> None:
        """Serve a generated servicer (``add_XServicer_to_server``) under full name ``name``."""
        self._servicers.append((add_to_server, servicer))
        self._service_names.append(name)

    # ------------------------------------------------------------------ lifecycle

    async def start(self) -> str:
        """Bind and start; returns the bound ``host:port``. A port in use raises `TransportError`."""
        server = grpc.aio.server(options=SERVER_OPTIONS)
        for generic in self._stream_handlers:
            server.add_generic_rpc_handlers((generic,))
        for add_to_server, servicer in self._servicers:
            add_to_server(servicer, server)
        self._health = health.aio.HealthServicer()
        health_pb2_grpc.add_HealthServicer_to_server(self._health, server)
        names: Sequence[str] = [*self._service_names, health.SERVICE_NAME, reflection.SERVICE_NAME]
        reflection.enable_server_reflection(names, server)
        try:
            port = server.add_insecure_port(self.address)
        except RuntimeError:
            port = 0
        if port == 0:
            await server.stop(None)
            raise TransportError(
                f"cannot bind {self.label} gRPC endpoint {self.address}: address already in use or not available"
            )
        host = self.address.rsplit(":", 1)[0]
        self.bound_address = f"{host}:{port}"
        await server.start()
        serving = health_pb2.HealthCheckResponse.SERVING
        for name in ("", *self._service_names):
            await self._health.set(name, serving)
        self._server = server
        return self.bound_address

    async def stop(self, grace_s: float | None) -> None:
        """Stop accepting calls, end every stream and wait up to ``grace_s`` for calls to finish."""
        if self._server is None:
            return
        if self._health is not None:
            await self._health.enter_graceful_shutdown()
        for link in list(self._links):
            link.close()
        await self._server.stop(grace_s)
        self._server = None

    # ------------------------------------------------------------------ streams

    async def _serve_stream(
        self,
        kind: LinkKind,
        handler: LinkHandler,
        queue_msgs: int,
        on_drop: Callable[[Link], None] | None,
        request_iterator: AsyncIterator[bytes],
        context: grpc.aio.ServicerContext,
    ) -> None:
        link = GrpcLink(kind, context.peer(), queue_msgs, on_drop)
        self._links.add(link)
        handler.link_opened(link)
        reader = asyncio.create_task(self._read(link, handler, request_iterator), name=f"read-{link.link_id}")
        queue = link.queue
        try:
            while True:
                data = await queue.get()
                if data is None:
                    break
                await context.write(data)
        except (asyncio.CancelledError, grpc.RpcError, grpc.aio.AbortError, grpc.aio.UsageError):
            pass  # the peer went away or the server is stopping: the link ends below
        finally:
            link.open = False
            reader.cancel()
            self._links.discard(link)
            handler.link_closed(link)

    @staticmethod
    async def _read(link: GrpcLink, handler: LinkHandler, request_iterator: AsyncIterator[bytes]) -> None:
        try:
            async for data in request_iterator:
                t_in = time.monotonic_ns()
                link.last_rx_ns = t_in
                handler.link_message(link, data, t_in)
        except (asyncio.CancelledError, grpc.RpcError, grpc.aio.AbortError):
            pass
        finally:
            link.close()
