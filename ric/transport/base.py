"""What every transport presents to the RIC core: links, a handler, address parsing.

A `Link` is one connected peer (an E2 agent process or an xApp instance), whatever carries it:
a ZeroMQ DEALER identity behind the RIC's ROUTER or one gRPC bidirectional stream. The core
sees only `Link.send(bytes)` and the three `LinkHandler` callbacks, so its logic is written once.
Everything runs on one asyncio event loop; callbacks never block and sends never wait.
"""

from __future__ import annotations

import re
from abc import ABC, abstractmethod
from typing import Literal, Protocol

LinkKind = Literal["e2", "xapp"]
TransportName = Literal["zmq", "grpc"]

E2_METHOD = "/ntnric.v1.E2/Connect"
"""gRPC method of the E2 stream (one per E2 agent connection)."""
XAPP_METHOD = "/ntnric.v1.XappService/Connect"
"""gRPC method of the xApp stream (one per xApp instance)."""

_ZMQ_RE = re.compile(r"^(tcp://(\[[0-9a-fA-F:.]+\]|[A-Za-z0-9_.\-*]+):(\d{1,5}|\*)|ipc://.+|inproc://.+)$")
_GRPC_RE = re.compile(r"^(\[[0-9a-fA-F:.]+\]|[A-Za-z0-9_.\-]+):(\d{1,5})$")


class TransportError(RuntimeError):
    """A transport problem the user must fix (bad address, port in use); one-line message."""


def parse_address(address: str) -> tuple[TransportName, str]:
    """Which transport an address names, and the address in that transport's own form.

    ``tcp://host:port``, ``ipc://path`` and ``inproc://name`` are ZeroMQ; ``host:port`` and
    ``grpc://host:port`` are gRPC. Raises `TransportError` for anything else.
    """
    text = address.strip()
    if text.startswith(("tcp://", "ipc://", "inproc://")):
        if not _ZMQ_RE.match(text):
            raise TransportError(f"bad ZeroMQ address {address!r} (expected tcp://HOST:PORT or ipc://PATH)")
        port = text.rsplit(":", 1)[-1]
        if text.startswith("tcp://") and port not in ("*", "0") and not 0 < int(port) < 65536:
            raise TransportError(f"bad port in address {address!r}")
        if text.startswith("tcp://") and port == "0":
            text = text[:-1] + "*"
        return "zmq", text
    if text.startswith("grpc://"):
        text = text[len("grpc://"):]
    match = _GRPC_RE.match(text)
    if not match or int(match.group(2)) > 65535:
        raise TransportError(
            f"bad address {address!r} (expected tcp://HOST:PORT for ZeroMQ or HOST:PORT for gRPC)"
        )
    return "grpc", text


class Link(ABC):
    """One connected peer as the RIC core sees it.

    Attributes
    ----------
    kind : {'e2', 'xapp'}
        Which envelope the link carries (``E2Pdu`` or ``XappPdu``).
    transport : {'zmq', 'grpc'}
        What carries it.
    link_id : str
        Unique, readable id for logs and metrics.
    last_rx_ns : int
        Monotonic time of the last message received from the peer [ns].
    """

    __slots__ = ("__weakref__", "kind", "last_rx_ns", "link_id", "open", "transport")

    def __init__(self, kind: LinkKind, transport: TransportName, link_id: str) -> None:
        self.kind: LinkKind = kind
        self.transport: TransportName = transport
        self.link_id = link_id
        self.last_rx_ns = 0
        self.open = True

    @abstractmethod
    def send(self, data: bytes) -> bool:
        """Queue one serialized envelope to the peer without waiting.

        Returns False when it was dropped (the peer's queue is full or the peer is gone).
        """

    @abstractmethod
    def close(self) -> None:
        """Forget the peer (gRPC: end its stream); the handler gets `LinkHandler.link_closed`."""

    def __repr__(self) -> str:
        return f"<{type(self).__name__} {self.link_id}>"


class LinkHandler(Protocol):
    """The RIC core side of a transport (all calls on the event loop thread)."""

    def link_opened(self, link: Link) -> None:
        """A peer connected (first message of a ZeroMQ identity, or a new gRPC stream)."""

    def link_message(self, link: Link, data: bytes, t_in_ns: int) -> None:
        """One envelope from ``link``, received at monotonic time ``t_in_ns`` [ns]."""

    def link_closed(self, link: Link) -> None:
        """The peer is gone (stream ended, ZeroMQ peer unreachable) or the link was closed."""

    def keepalive(self, kind: LinkKind) -> bytes:
        """A serialized keepalive envelope for a link of ``kind`` (liveness probes)."""
