"""Test peers of the RIC: an E2 agent and an xApp speaking the envelopes directly, plus world fakes."""

from __future__ import annotations

import time
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from ric.protocol import codec
from ric.protocol.gen import e2ap_pb2
from ric.protocol.sm import Controls, Reports
from ric.protocol.spec import NodeSpec, WorldSpec
from ric.server import RicThread
from ric.transport.client import Client, P

RECV_TIMEOUT_S = 5.0
HEX19 = {"n_nodes": 19, "n_users": 3, "n_resources": 3}


def make_spec(n_nodes: int = 19, n_users: int = 3, n_resources: int = 3, prefix: str = "bs") -> WorldSpec:
    """A small multicell-like world description (hex19 axes by default)."""
    nodes = tuple(
        NodeSpec(node_id=k, name=f"{prefix}_{k}", kind="gnb", n_users=n_users, n_resources=n_resources,
                 max_power_dbm=23.0, power_levels_dbm=(0.0, 5.75, 11.5, 17.25, 23.0))
        for k in range(n_nodes)
    )
    return WorldSpec(scenario="test", world_kind="multicell", slot_s=0.001, n_users_max=n_users,
                     n_resources=n_resources, resource_bandwidth_hz=1e7, noise_dbm=-114.0, nodes=nodes,
                     static={"neighbours": [[(k + 1) % n_nodes] for k in range(n_nodes)]})


def make_reports(spec: WorldSpec, slot: int, seed: int = 0) -> Reports:
    """Random reports with the world's shapes, ``B = 1``."""
    rng = np.random.default_rng(seed + slot)
    k, u, s = spec.n_nodes, spec.n_users_max, spec.n_resources

    def f32(*shape: int) -> np.ndarray:
        return rng.random(shape, dtype=np.float32)

    return Reports(slot=slot, gain=f32(1, k, u, s, k), queue_bits=f32(1, k, u), queue_packets=f32(1, k, u),
                   interference_w=f32(1, k, u, s), spectral_efficiency_bps_hz=f32(1, k, u, s),
                   active=np.ones((1, k, u), bool), user_pos_m=f32(1, k, u, 3), node_pos_m=f32(1, k, 3))


def make_controls(spec: WorldSpec, seed: int = 0) -> Controls:
    rng = np.random.default_rng(seed)
    k, s = spec.n_nodes, spec.n_resources
    controls = Controls.off(1, k, s)
    controls.user[:] = rng.integers(0, spec.n_users_max, size=(1, k, s))
    controls.power_w[:] = 0.2
    return controls


def skip_keepalive(client: Client[P], timeout_s: float = RECV_TIMEOUT_S) -> P:
    """Next envelope that is not a keepalive (fails the test on timeout)."""
    while True:
        pdu = client.recv(timeout_s)
        assert pdu is not None, "no message from the RIC in time"
        if pdu.WhichOneof("procedure") != "keepalive":
            return pdu


def setup_request(spec: WorldSpec, names: Sequence[str] | None = None, txn: int = 1) -> e2ap_pb2.E2Pdu:
    """E2 Setup Request for the nodes ``names`` of ``spec`` (all by default)."""
    layout = codec.Layout.of_reports(make_reports(spec, 0))
    nodes = [n for n in spec.nodes if names is None or n.name in names]
    return e2ap_pb2.E2Pdu(transaction_id=txn, slot=-1, setup_request=e2ap_pb2.E2SetupRequest(
        nodes=[codec.node_item(spec, n, layout) for n in nodes], world_spec_json=spec.to_json(),
        agent_name="test-agent"))


@dataclass
class E2Agent:
    """A test E2 agent hosting the nodes of ``spec`` on one connection."""

    client: Client[e2ap_pb2.E2Pdu]
    spec: WorldSpec
    txn: int = 0

    def send(self, pdu: e2ap_pb2.E2Pdu) -> None:
        self.client.send(pdu)

    def expect(self, which: str, timeout_s: float = RECV_TIMEOUT_S) -> e2ap_pb2.E2Pdu:
        pdu = skip_keepalive(self.client, timeout_s)
        got = pdu.WhichOneof("procedure")
        assert got == which, f"expected {which}, got {got}: {pdu}"
        assert isinstance(pdu, e2ap_pb2.E2Pdu)
        return pdu

    def setup_request(self, names: Sequence[str] | None = None) -> e2ap_pb2.E2Pdu:
        self.txn += 1
        return setup_request(self.spec, names, self.txn)

    def setup(self, names: Sequence[str] | None = None) -> e2ap_pb2.E2Pdu:
        self.send(self.setup_request(names))
        return self.expect("setup_response")

    def admit_next_subscription(self) -> e2ap_pb2.RicSubscriptionRequest:
        """Answer the next RIC Subscription Request with a response admitting it."""
        pdu = self.expect("subscription_request")
        req = pdu.subscription_request
        self.send(e2ap_pb2.E2Pdu(transaction_id=pdu.transaction_id, slot=-1,
                                 subscription_response=e2ap_pb2.RicSubscriptionResponse(
                                     instance_id=req.instance_id, ran_function_id=req.ran_function_id,
                                     trigger=req.trigger,
                                     admitted=[e2ap_pb2.SubscriptionItem(node=n, instance_id=req.instance_id)
                                               for n in req.nodes])))
        return req

    def indicate(self, sub: e2ap_pb2.RicSubscriptionRequest, slot: int, misses: Sequence[int] = (),
                 node_sent: int = 1) -> Reports:
        reports = make_reports(self.spec, slot)
        index = {n.name: n.node_id for n in self.spec.nodes}
        rows = [index[name] for name in sub.nodes]
        pdu = e2ap_pb2.E2Pdu(slot=slot, t=e2ap_pb2.HopTimes(node_sent=node_sent))
        ind = pdu.indication
        ind.instance_id = sub.instance_id
        ind.ran_function_id = sub.ran_function_id
        ind.nodes.extend(sub.nodes)
        ind.deadline_misses.extend(misses)
        codec.encode_reports(reports, rows, out=ind.report)
        self.send(pdu)
        return reports


@dataclass
class XappPeer:
    """A test xApp."""

    client: Client[e2ap_pb2.XappPdu]
    txn: int = 0

    def send(self, pdu: e2ap_pb2.XappPdu) -> None:
        self.client.send(pdu)

    def expect(self, which: str, timeout_s: float = RECV_TIMEOUT_S) -> e2ap_pb2.XappPdu:
        while True:
            pdu = skip_keepalive(self.client, timeout_s)
            got = pdu.WhichOneof("procedure")
            if got == "node_update" and which != "node_update":
                continue
            assert got == which, f"expected {which}, got {got}: {pdu}"
            assert isinstance(pdu, e2ap_pb2.XappPdu)
            return pdu

    def register(self, name: str = "test-xapp", tier: int = 2, may_constrain: bool = False) -> e2ap_pb2.XappPdu:
        self.txn += 1
        self.send(e2ap_pb2.XappPdu(transaction_id=self.txn, slot=-1, register_request=e2ap_pb2.XappRegisterRequest(
            name=name, tier=tier, may_constrain=may_constrain)))
        return self.expect("register_response")

    def subscribe(self, requestor_id: int = 1, nodes: Sequence[str] = (), all_nodes: bool = False,
                  period_slots: int = 1) -> None:
        self.txn += 1
        self.send(e2ap_pb2.XappPdu(transaction_id=self.txn, slot=-1,
                                   subscription_request=e2ap_pb2.RicSubscriptionRequest(
                                       requestor_id=requestor_id, ran_function_id=codec.SLOT_RAN_FUNCTION_ID,
                                       trigger=e2ap_pb2.EventTrigger(period_slots=period_slots), nodes=nodes,
                                       all_nodes=all_nodes)))

    def control(self, spec: WorldSpec, slot: int, names: Sequence[str] | None = None,
                controls: Controls | None = None, ack: bool = False, xapp_sent: int = 1) -> e2ap_pb2.XappPdu:
        controls = controls if controls is not None else make_controls(spec, slot)
        index = {n.name: n.node_id for n in spec.nodes}
        names = list(names) if names is not None else [n.name for n in spec.nodes]
        self.txn += 1
        pdu = e2ap_pb2.XappPdu(transaction_id=self.txn, slot=slot, t=e2ap_pb2.HopTimes(xapp_sent=xapp_sent))
        req = pdu.control_request
        req.ran_function_id = codec.SLOT_RAN_FUNCTION_ID
        req.nodes.extend(names)
        req.ack_requested = ack
        codec.encode_controls(controls, slot, [index[n] for n in names], out=req.control)
        self.send(pdu)
        return pdu



def e2_address(ric: RicThread, transport: str) -> str:
    address = ric.endpoints.e2_zmq if transport == "zmq" else ric.endpoints.e2_grpc
    assert address is not None
    return address


def xapp_address(ric: RicThread, transport: str) -> str:
    address = ric.endpoints.xapp_zmq if transport == "zmq" else ric.endpoints.xapp_grpc
    assert address is not None
    return address


def quiet(client: Client[Any], timeout_s: float = 0.3) -> bool:
    """True when nothing but keepalives arrives within ``timeout_s``."""
    deadline = time.monotonic() + timeout_s
    while (left := deadline - time.monotonic()) > 0:
        pdu = client.recv(left)
        if pdu is None:
            return True
        if pdu.WhichOneof("procedure") != "keepalive":
            return False
    return True
