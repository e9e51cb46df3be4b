"""Bad input on both transports and both links: the RIC stays up and answers with Error Indication.

Thousands of frames per run: random bytes, mutated valid envelopes and structurally valid envelopes
with random content. Afterwards a well-formed agent still completes E2 Setup and gets served.
"""

from __future__ import annotations

from typing import Any

import pytest
from google.protobuf.descriptor import FieldDescriptor
from google.protobuf.message import DecodeError, Message
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from ric.protocol.gen import e2ap_pb2
from ric.server import RicThread
from ric.transport.base import LinkKind
from ric.transport.client import Client, connect
from tests.ric.ricpeers import E2Agent, XappPeer, e2_address, make_spec, skip_keepalive, xapp_address

FRAMES_PER_EXAMPLE = 60
EXAMPLES = 10  # x 60 frames x 2 links x 2 transports = 2400 frames
SENTINEL_TXN = 0xFFFF_FFFF

_INT_FIELDS = {FieldDescriptor.TYPE_INT32, FieldDescriptor.TYPE_INT64, FieldDescriptor.TYPE_SINT32,
               FieldDescriptor.TYPE_SINT64, FieldDescriptor.TYPE_SFIXED32, FieldDescriptor.TYPE_SFIXED64}
_UINT_FIELDS = {FieldDescriptor.TYPE_UINT32, FieldDescriptor.TYPE_UINT64, FieldDescriptor.TYPE_FIXED32,
                FieldDescriptor.TYPE_FIXED64, FieldDescriptor.TYPE_ENUM}
_NAMES = st.sampled_from(["bs_0", "bs_1", "uav_0", "", "ghost", "ntnric-slot", "x" * 40])


def _scalar(draw: st.DrawFn, field: FieldDescriptor) -> Any:
    if field.type in _INT_FIELDS:
        bits = 31 if field.type in (FieldDescriptor.TYPE_INT32, FieldDescriptor.TYPE_SINT32,
                                    FieldDescriptor.TYPE_SFIXED32) else 63
        return draw(st.integers(-(2**bits), 2**bits - 1) | st.integers(-3, 40))
    if field.type in _UINT_FIELDS:
        bits = 32 if field.type in (FieldDescriptor.TYPE_UINT32, FieldDescriptor.TYPE_FIXED32,
                                    FieldDescriptor.TYPE_ENUM) else 64
        if field.type == FieldDescriptor.TYPE_ENUM:
            return draw(st.integers(0, 40))
        return draw(st.integers(0, 2**bits - 1) | st.integers(0, 40))
    if field.type == FieldDescriptor.TYPE_BOOL:
        return draw(st.booleans())
    if field.type in (FieldDescriptor.TYPE_DOUBLE, FieldDescriptor.TYPE_FLOAT):
        return draw(st.floats(allow_nan=True, width=32))
    if field.type == FieldDescriptor.TYPE_STRING:
        return draw(_NAMES | st.text(max_size=12))
    return draw(st.binary(max_size=64))


def _fill(draw: st.DrawFn, msg: Message, depth: int) -> None:
    descriptor: Any = msg.DESCRIPTOR
    for field in descriptor.fields:
        if field.containing_oneof is not None or not draw(st.booleans()):
            continue
        is_map = field.message_type is not None and field.message_type.GetOptions().map_entry
        if is_map:
            value_field = field.message_type.fields_by_name["value"]
            if value_field.message_type is None:
                getattr(msg, field.name)[draw(st.text(max_size=6))] = _scalar(draw, value_field)
        elif field.is_repeated:
            container = getattr(msg, field.name)
            for _ in range(draw(st.integers(0, 3))):
                if field.message_type is not None:
                    if depth > 0:
                        _fill(draw, container.add(), depth - 1)
                else:
                    container.append(_scalar(draw, field))
        elif field.message_type is not None:
            if depth > 0:
                _fill(draw, getattr(msg, field.name), depth - 1)
        else:
            setattr(msg, field.name, _scalar(draw, field))
    for oneof in descriptor.oneofs:
        field = draw(st.sampled_from(list(oneof.fields)))
        sub = getattr(msg, field.name)
        sub.SetInParent()
        _fill(draw, sub, depth - 1)


@st.composite
def envelopes(draw: st.DrawFn, cls: type[Message]) -> bytes:
    msg = cls()
    _fill(draw, msg, depth=4)
    return msg.SerializeToString()


@st.composite
def mutated(draw: st.DrawFn, cls: type[Message]) -> bytes:
    raw = bytearray(draw(envelopes(cls)))
    for _ in range(draw(st.integers(1, 4))):
        if raw and draw(st.booleans()):
            raw[draw(st.integers(0, len(raw) - 1))] = draw(st.integers(0, 255))
        else:
            raw = raw[: draw(st.integers(0, len(raw)))]
    return bytes(raw)


def frames(cls: type[Message]) -> st.SearchStrategy[list[bytes]]:
    one = st.binary(max_size=200) | envelopes(cls) | mutated(cls)
    return st.lists(one, min_size=FRAMES_PER_EXAMPLE, max_size=FRAMES_PER_EXAMPLE)


def _send_batch(
    client: Client, cls: type[Message], batch: list[bytes]
) -> list[e2ap_pb2.E2Pdu | e2ap_pb2.XappPdu]:
    """Send the frames, then a sentinel; return every reply up to the sentinel's."""
    for frame in batch:
        client.send_bytes(frame)
    sentinel: e2ap_pb2.E2Pdu | e2ap_pb2.XappPdu
    if cls is e2ap_pb2.E2Pdu:
        sentinel = e2ap_pb2.E2Pdu(transaction_id=SENTINEL_TXN, removal_request=e2ap_pb2.E2RemovalRequest(
            nodes=["no-such-node"]))
    else:
        sentinel = e2ap_pb2.XappPdu(transaction_id=SENTINEL_TXN, subscription_delete_request=(
            e2ap_pb2.RicSubscriptionDeleteRequest(requestor_id=SENTINEL_TXN)))
    client.send(sentinel)
    replies: list[e2ap_pb2.E2Pdu | e2ap_pb2.XappPdu] = []
    while True:
        reply = skip_keepalive(client, timeout_s=10.0)
        replies.append(reply)
        which = reply.WhichOneof("procedure")
        if which == "error_indication" and reply.error_indication.transaction_id == SENTINEL_TXN:
            return replies
        if reply.transaction_id == SENTINEL_TXN:
            return replies


def _undecodable(cls: type[Message], frame: bytes) -> bool:
    try:
        cls.FromString(frame)
    except DecodeError:
        return True
    return False


@pytest.mark.parametrize("link", ["e2", "xapp"])
def test_fuzzed_frames_get_error_indications_and_the_ric_keeps_serving(ric: RicThread, transport: str,
                                                                       link: LinkKind) -> None:
    cls: type[Message] = e2ap_pb2.E2Pdu if link == "e2" else e2ap_pb2.XappPdu
    address = e2_address(ric, transport) if link == "e2" else xapp_address(ric, transport)
    registry = ric.core.metrics.registry
    sent = {"frames": 0, "undecodable": 0}

    with connect(address, link) as client:

        @settings(max_examples=EXAMPLES, deadline=None, database=None, derandomize=True,
                  suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])
        @given(frames(cls))
        def run(batch: list[bytes]) -> None:
            replies = _send_batch(client, cls, batch)
            undecodable = sum(1 for f in batch if _undecodable(cls, f))
            malformed = sum(1 for r in replies if r.WhichOneof("procedure") == "error_indication"
                            and r.error_indication.cause.code == e2ap_pb2.CAUSE_MALFORMED_MESSAGE)
            assert malformed == undecodable  # every frame that does not decode is answered
            sent["frames"] += len(batch)
            sent["undecodable"] += undecodable

        run()

    assert sent["frames"] >= EXAMPLES * FRAMES_PER_EXAMPLE
    assert sent["undecodable"] > 0
    malformed_total = sum(
        registry.get_sample_value("ntnric_ric_malformed_messages_total", {"link": link, "reason": r}) or 0.0
        for r in ("undecodable", "no_procedure", "unexpected", "not_set_up", "not_registered", "empty_control")
    )
    assert malformed_total >= sent["undecodable"]
    errors_sent = sum(
        registry.get_sample_value("ntnric_ric_error_indications_total", {"direction": "sent", "cause": c}) or 0.0
        for c in ("malformed_message", "invalid_value", "unexpected_message", "not_registered",
                  "unknown_subscription")
    )
    assert errors_sent >= sent["undecodable"]
    assert registry.get_sample_value("ntnric_ric_internal_errors_total") == 0.0

    # the RIC still serves a well-formed agent and xApp
    spec = make_spec(n_nodes=4)
    with connect(e2_address(ric, transport), "e2") as e2, connect(xapp_address(ric, transport), "xapp") as xc:
        agent, xapp = E2Agent(e2, spec), XappPeer(xc)
        assert len(agent.setup().setup_response.accepted) == 4
        xapp.register("after-fuzz")
        xapp.subscribe(requestor_id=1, nodes=["bs_0", "bs_3"])
        sub = agent.admit_next_subscription()
        xapp.expect("subscription_response")
        agent.indicate(sub, slot=1)
        assert xapp.expect("indication").slot == 1
        xapp.control(spec, slot=1, names=["bs_0", "bs_3"])
        assert list(agent.expect("control_request").control_request.nodes) == ["bs_0", "bs_3"]
