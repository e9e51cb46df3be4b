"""ZeroMQ ROUTER endpoint of the RIC (E2 nodes and xApps connect with DEALER sockets).

Frames: ``[identity, envelope]`` on the ROUTER side, ``[envelope]`` on the DEALER side; the
envelope is one serialized ``E2Pdu`` or ``XappPdu``. The socket is driven by the event loop
through its file descriptor (``loop.add_reader``): the reader drains every queued message and
calls the handler synchronously, and sends use ``NOBLOCK``, so a message costs no task or
future. ZeroMQ's descriptor is edge-triggered, so after every send the endpoint checks
``EVENTS`` and schedules a drain when input is pending.

Socket options, on purpose:

- ``ROUTER_MANDATORY``: a send to a vanished peer raises ``EHOSTUNREACH`` instead of dropping
  silently; the link is then closed.
- ``ROUTER_HANDOVER``: a peer that reconnects with the same identity (process restart) takes
  its identity over.
- ``SNDHWM`` / ``RCVHWM`` = ``hwm_msgs`` per peer (default 1000, about one second of 1 ms
  slots): a peer that falls further behind loses messages (counted) instead of growing memory.
- ZMTP heartbeats (``HEARTBEAT_IVL`` / ``HEARTBEAT_TIMEOUT``) drop dead TCP peers; a periodic
  probe sends a keepalive to links silent for ``probe_interval_s`` so their loss is noticed.
- ``MAXMSGSIZE`` bounds a frame; ``LINGER`` 0 so shutdown never hangs.
"""

from __future__ import annotations

import asyncio
import errno
import time
from collections.abc import Callable

import zmq

from ric.transport.base import Link, LinkHandler, LinkKind, TransportError

MAX_MESSAGE_BYTES = 64 * 1024 * 1024
_DRAIN_BATCH = 512


class ZmqLink(Link):
    """A DEALER peer behind the RIC's ROUTER, known by its identity frame."""

    __slots__ = ("_endpoint", "identity")

    def __init__(self, endpoint: ZmqRouterEndpoint, identity: bytes) -> None:
        readable = identity.isascii() and identity.decode("ascii").isprintable()
        name = identity.decode("ascii") if readable and identity else identity.hex()
        super().__init__(endpoint.kind, "zmq", f"zmq:{endpoint.kind}:{name}")
        self._endpoint = endpoint
        self.identity = identity

    def send(self, data: bytes) -> bool:
        return self._endpoint.send_to(self, data)

    def close(self) -> None:
        self._endpoint.forget(self)


class ZmqRouterEndpoint:
    """One bound ROUTER socket serving links of one kind.

    Parameters
    ----------
    address : str
        ZeroMQ endpoint to bind, e.g. ``tcp://127.0.0.1:5555`` (``:*`` or ``:0`` picks a port).
    kind : {'e2', 'xapp'}
        Envelope carried.
    handler : LinkHandler
        The RIC core.
    context : zmq.Context
        Shared context.
    hwm_msgs : int
        Send and receive high-water mark per peer [messages].
    probe_interval_s : float
        Links silent this long get a keepalive probe [s].
    on_drop : callable, optional
        Called with the link when a message to it is dropped (full queue).
    """

    def __init__(
        self,
        address: str,
        kind: LinkKind,
        handler: LinkHandler,
        *,
        context: zmq.Context,
        hwm_msgs: int = 1000,
        probe_interval_s: float = 1.0,
        heartbeat_ivl_ms: int = 1000,
        heartbeat_timeout_ms: int = 3000,
        on_drop: Callable[[Link], None] | None = None,
    ) -> None:
        self.address = address
        self.kind: LinkKind = kind
        self._handler = handler
        self._on_drop = on_drop
        self._probe_interval_ns = int(probe_interval_s * 1e9)
        self._links: dict[bytes, ZmqLink] = {}
        self._loop: asyncio.AbstractEventLoop | None = None
        self._drain_scheduled = False
        self._probe_task: asyncio.Task[None] | None = None
        self.bound_address = ""
        sock = context.socket(zmq.ROUTER)
        sock.setsockopt(zmq.ROUTER_MANDATORY, 1)
        sock.setsockopt(zmq.ROUTER_HANDOVER, 1)
        sock.setsockopt(zmq.SNDHWM, hwm_msgs)
        sock.setsockopt(zmq.RCVHWM, hwm_msgs)
        sock.setsockopt(zmq.LINGER, 0)
        sock.setsockopt(zmq.MAXMSGSIZE, MAX_MESSAGE_BYTES)
        sock.setsockopt(zmq.HEARTBEAT_IVL, heartbeat_ivl_ms)
        sock.setsockopt(zmq.HEARTBEAT_TIMEOUT, heartbeat_timeout_ms)
        if "[" in address:
            sock.setsockopt(zmq.IPV6, 1)
        self._sock = sock

    @property
    def links(self) -> list[ZmqLink]:
        return list(self._links.values())

    def bind(self) -> str:
        """Bind the socket; returns the bound address (the real port when it was ``*``)."""
        try:
            self._sock.bind(self.address)
        except zmq.ZMQError as exc:
            self._sock.close(0)
            reason = "address already in use" if exc.errno == errno.EADDRINUSE else str(exc)
            raise TransportError(f"cannot bind {self.kind} ZeroMQ endpoint {self.address}: {reason}") from None
        endpoint = self._sock.getsockopt(zmq.LAST_ENDPOINT)
        self.bound_address = endpoint.decode() if isinstance(endpoint, bytes) else str(endpoint)
        return self.bound_address

    def start(self, loop: asyncio.AbstractEventLoop) -> None:
        """Start serving on ``loop`` (the reader callback and the liveness probe)."""
        self._loop = loop
        loop.add_reader(self._sock.getsockopt(zmq.FD), self._drain)
        self._probe_task = loop.create_task(self._probe_forever(), name=f"zmq-probe-{self.kind}")
        self._schedule_drain()

    async def close(self) -> None:
        """Stop serving; every link is reported closed."""
        if self._probe_task is not None:
            self._probe_task.cancel()
            self._probe_task = None
        if self._loop is not None and not self._sock.closed:
            self._loop.remove_reader(self._sock.getsockopt(zmq.FD))
        for link in list(self._links.values()):
            self.forget(link)
        if not self._sock.closed:
            self._sock.close(0)

    # ------------------------------------------------------------------ receive

    def _schedule_drain(self) -> None:
        if not self._drain_scheduled and self._loop is not None:
            self._drain_scheduled = True
            self._loop.call_soon(self._drain)

    def drain(self) -> None:
        """Handle every queued message now (busy polling calls this in a loop)."""
        self._drain()

    def _drain(self) -> None:
        self._drain_scheduled = False
        sock = self._sock
        if sock.closed:
            return
        recv = sock.recv_multipart
        handler = self._handler
        links = self._links
        for _ in range(_DRAIN_BATCH):
            try:
                frames = recv(zmq.NOBLOCK)
            except zmq.Again:
                return
            except zmq.ZMQError:
                return
            t_in = time.monotonic_ns()
            identity = frames[0]
            link = links.get(identity)
            if link is None:
                link = ZmqLink(self, identity)
                links[identity] = link
                handler.link_opened(link)
            link.last_rx_ns = t_in
            data = frames[1] if len(frames) == 2 else b"".join(frames[1:])
            handler.link_message(link, data, t_in)
        self._schedule_drain()  # more may be queued: yield to the loop, then go on

    # ------------------------------------------------------------------ send

    def send_to(self, link: ZmqLink, data: bytes) -> bool:
        """Send one envelope to ``link`` without blocking."""
        sock = self._sock
        try:
            sock.send(link.identity, zmq.SNDMORE | zmq.NOBLOCK)
            sock.send(data, zmq.NOBLOCK, copy=len(data) < 65536)
        except zmq.Again:
            if self._on_drop is not None:
                self._on_drop(link)
            return False
        except zmq.ZMQError as exc:
            if exc.errno == errno.EHOSTUNREACH:
                if self._loop is not None:
                    self._loop.call_soon(self.forget, link)
                return False
            raise
        finally:
            if not sock.closed and sock.getsockopt(zmq.EVENTS) & zmq.POLLIN:
                self._schedule_drain()
        return True

    def forget(self, link: ZmqLink) -> None:
        """Drop the link and tell the handler (idempotent)."""
        if self._links.get(link.identity) is link:
            del self._links[link.identity]
            link.open = False
            self._handler.link_closed(link)

    # ------------------------------------------------------------------ liveness

    async def _probe_forever(self) -> None:
        interval_s = self._probe_interval_ns / 1e9
        while True:
            await asyncio.sleep(interval_s)
            self.probe(time.monotonic_ns())

    def probe(self, now_ns: int) -> None:
        """Send a keepalive to every link silent for the probe interval; unreachable ones close."""
        keepalive = self._handler.keepalive(self.kind)
        for link in list(self._links.values()):
            if now_ns - link.last_rx_ns >= self._probe_interval_ns:
                self.send_to(link, keepalive)
