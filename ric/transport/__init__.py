"""Transports of the RIC: ZeroMQ ROUTER/DEALER and gRPC bidirectional streams.

Both carry the same serialized envelopes (``E2Pdu``, ``XappPdu``) and present the same
`Link` / `LinkHandler` interface to the RIC core. Clients (E2 agents, xApps) use
`ric.transport.client`; the servers live in `ric.transport.zmq_server` and
`ric.transport.grpc_server`.
"""

from ric.transport.base import (
    E2_METHOD,
    XAPP_METHOD,
    Link,
    LinkHandler,
    LinkKind,
    TransportError,
    TransportName,
    parse_address,
)

__all__ = [
    "E2_METHOD",
    "XAPP_METHOD",
    "Link",
    "LinkHandler",
    "LinkKind",
    "TransportError",
    "TransportName",
    "parse_address",
]
