"""Every E2 procedure round-trips through a real RIC, over ZeroMQ and over gRPC."""

from __future__ import annotations

import time

import numpy as np
import pytest

from ric.protocol import codec
from ric.protocol.gen import e2ap_pb2
from ric.server import RicThread
from ric.transport.client import connect
from tests.ric.ricpeers import (
    E2Agent,
    XappPeer,
    e2_address,
    make_controls,
    make_reports,
    make_spec,
    quiet,
    skip_keepalive,
    xapp_address,
)


def _subscribed(agent: E2Agent, xapp: XappPeer, **kwargs: object) -> e2ap_pb2.RicSubscriptionRequest:
    """Setup + registration + an admitted subscription (all nodes, period 1 by default)."""
    agent.setup()
    xapp.register()
    xapp.subscribe(**({"all_nodes": True} | kwargs))  # type: ignore[arg-type]
    sub = agent.admit_next_subscription()
    xapp.expect("subscription_response")
    return sub


def _wait_for(ric: RicThread, predicate: object, timeout_s: float = 5.0) -> None:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if ric.call(predicate):  # type: ignore[arg-type]
            return
        time.sleep(0.02)
    raise AssertionError("condition not reached in time")


def test_setup_subscription_indication_control_ack(agent: E2Agent, xapp: XappPeer) -> None:
    spec = agent.spec
    response = agent.setup().setup_response
    assert list(response.accepted) == [n.name for n in spec.nodes]
    assert not response.refused

    registered = xapp.register().register_response
    assert [n.name for n in registered.nodes] == [n.name for n in spec.nodes]
    assert list(registered.world_specs.values()) == [spec.to_json()]
    definition = registered.nodes[3].ran_functions[0].definition
    assert (definition.n_users_max, definition.n_resources, definition.n_transmitters) == (3, 3, 19)

    xapp.subscribe(requestor_id=7, all_nodes=True)
    sub = agent.admit_next_subscription()
    assert list(sub.nodes) == [n.name for n in spec.nodes]  # stacking order = world node order
    assert sub.trigger.period_slots == 1
    answer = xapp.expect("subscription_response").subscription_response
    assert answer.requestor_id == 7
    assert {i.node for i in answer.admitted} == {n.name for n in spec.nodes}
    assert {i.instance_id for i in answer.admitted} == {sub.instance_id}

    sent = agent.indicate(sub, slot=7, node_sent=123)
    got = xapp.expect("indication")
    assert got.slot == 7 and got.indication.instance_id == sub.instance_id
    assert got.t.node_sent == 123 and 0 < got.t.ric_in <= got.t.ric_out
    node_ids, reports = codec.decode_reports(got.indication.report)
    assert node_ids == list(range(19))
    np.testing.assert_array_equal(reports.gain, sent.gain)
    np.testing.assert_array_equal(reports.active, sent.active)

    controls = make_controls(spec, seed=3)
    request = xapp.control(spec, slot=7, controls=controls, ack=True, xapp_sent=456)
    forwarded = agent.expect("control_request")
    assert forwarded.slot == 7
    assert forwarded.t.xapp_sent == 456 and 0 < forwarded.t.ric_ctrl_in <= forwarded.t.ric_ctrl_out
    assert list(forwarded.control_request.nodes) == [n.name for n in spec.nodes]
    ids, decoded = codec.decode_controls(forwarded.control_request.control)
    assert ids == list(range(19))
    np.testing.assert_array_equal(decoded.user, controls.user)
    np.testing.assert_array_equal(decoded.power_w, controls.power_w)

    agent.send(e2ap_pb2.E2Pdu(transaction_id=forwarded.transaction_id, slot=7,
                              control_ack=e2ap_pb2.RicControlAcknowledge(nodes=["bs_0"])))
    ack = xapp.expect("control_ack")
    assert ack.transaction_id == request.transaction_id
    assert list(ack.control_ack.nodes) == ["bs_0"]


def test_setup_failures(agent: E2Agent) -> None:
    bad = agent.setup_request(["bs_0", "bs_1"])
    bad.setup_request.nodes[1].kind = "leo"  # disagrees with the world spec
    bad.setup_request.nodes.append(bad.setup_request.nodes[0])  # bs_0 twice
    agent.send(bad)
    response = agent.expect("setup_response").setup_response
    assert list(response.accepted) == ["bs_0"]
    causes = {r.node: r.cause.code for r in response.refused}
    assert causes == {"bs_1": e2ap_pb2.CAUSE_INVALID_VALUE, "bs_0": e2ap_pb2.CAUSE_DUPLICATE}

    garbage = agent.setup_request(["bs_2"])
    garbage.setup_request.world_spec_json = "{not json"
    agent.send(garbage)
    failure = agent.expect("setup_failure").setup_failure
    assert failure.cause.code == e2ap_pb2.CAUSE_INVALID_VALUE
    assert "world_spec_json" in failure.cause.detail

    no_function = agent.setup_request(["bs_3"])
    del no_function.setup_request.nodes[0].ran_functions[:]
    agent.send(no_function)
    assert agent.expect("setup_failure").setup_failure.cause.code == e2ap_pb2.CAUSE_UNKNOWN_RAN_FUNCTION


def test_subscriptions_merge_and_delete(ric: RicThread, transport: str, agent: E2Agent, xapp: XappPeer) -> None:
    spec = agent.spec
    agent.setup()
    xapp.register("first")
    xapp.subscribe(requestor_id=1, nodes=["bs_4", "bs_2"], period_slots=10)
    sub = agent.admit_next_subscription()
    assert list(sub.nodes) == ["bs_2", "bs_4"] and sub.trigger.period_slots == 10
    xapp.expect("subscription_response")
    with connect(xapp_address(ric, transport), "xapp") as client:
        second = XappPeer(client)
        second.register("second")
        second.subscribe(requestor_id=9, nodes=["bs_2", "bs_4"], period_slots=10)
        merged = second.expect("subscription_response").subscription_response
        assert {i.instance_id for i in merged.admitted} == {sub.instance_id}  # identical: merged
        assert quiet(agent.client)  # the node was not asked again

        agent.indicate(sub, slot=10)
        assert xapp.expect("indication").slot == 10
        assert second.expect("indication").slot == 10

        xapp.send(e2ap_pb2.XappPdu(transaction_id=50, slot=-1, subscription_delete_request=(
            e2ap_pb2.RicSubscriptionDeleteRequest(requestor_id=1))))
        deleted = xapp.expect("subscription_delete_response")
        assert deleted.transaction_id == 50
        assert sorted(deleted.subscription_delete_response.deleted) == ["bs_2", "bs_4"]
        assert quiet(agent.client)  # still used by the second xApp

        agent.indicate(sub, slot=20)
        assert second.expect("indication").slot == 20
        assert quiet(xapp.client)
    # the second xApp left: its subscription goes, and the instance is deleted at the node
    gone = agent.expect("subscription_delete_request")
    assert gone.subscription_delete_request.instance_id == sub.instance_id
    _wait_for(ric, lambda: not ric.core.subs.instances)

    xapp.send(e2ap_pb2.XappPdu(transaction_id=51, slot=-1, subscription_delete_request=(
        e2ap_pb2.RicSubscriptionDeleteRequest(requestor_id=1))))
    failure = xapp.expect("subscription_delete_failure").subscription_delete_failure
    assert failure.cause.code == e2ap_pb2.CAUSE_UNKNOWN_SUBSCRIPTION
    assert spec.n_nodes == 19


def test_subscription_failures(agent: E2Agent, xapp: XappPeer) -> None:
    agent.setup()
    xapp.register()
    xapp.subscribe(requestor_id=1, nodes=["ghost"])
    failure = xapp.expect("subscription_failure").subscription_failure
    assert failure.cause.code == e2ap_pb2.CAUSE_UNKNOWN_NODE

    xapp.subscribe(requestor_id=2, nodes=["bs_0"], period_slots=0)
    assert xapp.expect("subscription_failure").subscription_failure.cause.code == e2ap_pb2.CAUSE_INVALID_VALUE

    xapp.subscribe(requestor_id=3, nodes=["bs_0"])
    request = agent.expect("subscription_request")
    agent.send(e2ap_pb2.E2Pdu(transaction_id=request.transaction_id, slot=-1,
                              subscription_failure=e2ap_pb2.RicSubscriptionFailure(
                                  instance_id=request.subscription_request.instance_id,
                                  cause=e2ap_pb2.Cause(code=e2ap_pb2.CAUSE_UNSPECIFIED, detail="busy"))))
    refused = xapp.expect("subscription_failure").subscription_failure
    assert refused.requestor_id == 3
    assert [r.node for r in refused.not_admitted] == ["bs_0"]
    assert refused.not_admitted[0].cause.detail == "busy"


def test_control_failure_causes(ric: RicThread, transport: str, agent: E2Agent, xapp: XappPeer) -> None:
    spec = agent.spec
    sub = _subscribed(agent, xapp)
    agent.indicate(sub, slot=10)
    xapp.expect("indication")

    # stale slot: the node already reported slot 10
    xapp.control(spec, slot=9)
    stale = xapp.expect("control_failure").control_failure
    assert len(stale.refused) == 19
    assert {r.cause.code for r in stale.refused} == {e2ap_pb2.CAUSE_STALE_SLOT}
    # the node hears of it too, for the slot of the control (a lockstep node stops waiting)
    told = agent.expect("control_failure")
    assert told.slot == 9 and len(told.control_failure.refused) == 19

    # unknown node: refused alone, the known one goes on
    pdu = e2ap_pb2.XappPdu(transaction_id=99, slot=10)
    req = pdu.control_request
    req.ran_function_id = codec.SLOT_RAN_FUNCTION_ID
    req.nodes.extend(["bs_5", "ghost"])
    codec.encode_controls(make_controls(spec), 10, [5, 6], out=req.control)
    xapp.send(pdu)
    refused = xapp.expect("control_failure")
    assert refused.transaction_id == 99
    assert [(r.node, r.cause.code) for r in refused.control_failure.refused] == [
        ("ghost", e2ap_pb2.CAUSE_UNKNOWN_NODE)]
    forwarded = agent.expect("control_request").control_request
    assert list(forwarded.nodes) == ["bs_5"]
    ids, decoded = codec.decode_controls(forwarded.control)
    assert ids == [5]
    np.testing.assert_array_equal(decoded.user[0, 0], make_controls(spec).user[0, 5])

    # bad shape: controls of a world with 4 resources for nodes that have 3
    wide = make_spec(n_resources=4)
    xapp.control(wide, slot=10)
    shape = xapp.expect("control_failure").control_failure
    assert {r.cause.code for r in shape.refused} == {e2ap_pb2.CAUSE_BAD_SHAPE}
    assert "user" in shape.refused[0].cause.detail
    assert {r.cause.code for r in agent.expect("control_failure").control_failure.refused} == {
        e2ap_pb2.CAUSE_BAD_SHAPE}

    # constraint violation: a tier-0 xApp allows bs_0 only resource 0
    with connect(xapp_address(ric, transport), "xapp") as client:
        top = XappPeer(client)
        assert top.register("satellite", tier=0, may_constrain=True).register_response.may_constrain
        top.send(e2ap_pb2.XappPdu(transaction_id=5, slot=10, constraint_update=e2ap_pb2.ConstraintUpdate(
            items=[e2ap_pb2.ConstraintItem(node="bs_0", allowed=[True, False, False])])))
        assert list(top.expect("constraint_ack").constraint_ack.nodes) == ["bs_0"]
        # the subscribed lower tier learns its new effective constraint, stamped with the update's slot
        notice = xapp.expect("constraint_notice")
        assert notice.slot == 10
        assert [(n.node, list(n.allowed), n.setter_tier) for n in notice.constraint_notice.nodes] == [
            ("bs_0", [True, False, False], 0)]

        controls = make_controls(spec)
        controls.user[0, 0] = [0, 1, -1]  # bs_0 transmits on resource 1: not allowed
        xapp.control(spec, slot=10, controls=controls)
        violation = xapp.expect("control_failure").control_failure
        assert [(r.node, r.cause.code) for r in violation.refused] == [
            ("bs_0", e2ap_pb2.CAUSE_CONSTRAINT_VIOLATION)]
        rest = agent.expect("control_request").control_request
        assert list(rest.nodes) == [n.name for n in spec.nodes[1:]]
        told = agent.expect("control_failure")
        assert told.slot == 10 and [(r.node, r.cause.code) for r in told.control_failure.refused] == [
            ("bs_0", e2ap_pb2.CAUSE_CONSTRAINT_VIOLATION)]

        controls.power_w[0, 0, 1] = 0.0  # resource 1 off: inside the constraint now
        xapp.control(spec, slot=10, controls=controls)
        assert len(agent.expect("control_request").control_request.nodes) == 19

        # a lower tier may not widen it, and an xApp without authority may not set one
        xapp.send(e2ap_pb2.XappPdu(transaction_id=6, slot=10, constraint_update=e2ap_pb2.ConstraintUpdate(
            items=[e2ap_pb2.ConstraintItem(node="bs_0", allowed=[True, True, True])])))
        assert xapp.expect("constraint_failure").constraint_failure.refused[0].cause.code == (
            e2ap_pb2.CAUSE_NOT_AUTHORISED)
        top.send(e2ap_pb2.XappPdu(transaction_id=7, slot=10, constraint_update=e2ap_pb2.ConstraintUpdate(
            items=[e2ap_pb2.ConstraintItem(node="bs_1", allowed=[True, True])])))
        assert top.expect("constraint_failure").constraint_failure.refused[0].cause.code == e2ap_pb2.CAUSE_BAD_SHAPE
    # the constraining xApp left: its constraint is gone
    _wait_for(ric, lambda: len(ric.core.constraints) == 0)
    controls.power_w[0, 0, 1] = 0.2
    xapp.control(spec, slot=10, controls=controls)
    assert len(agent.expect("control_request").control_request.nodes) == 19


def test_error_indications(agent: E2Agent, xapp: XappPeer) -> None:
    def error_of(peer: E2Agent | XappPeer) -> e2ap_pb2.ErrorIndication:
        pdu: e2ap_pb2.E2Pdu | e2ap_pb2.XappPdu = skip_keepalive(peer.client)  # type: ignore[misc]
        assert pdu.WhichOneof("procedure") == "error_indication", pdu
        return pdu.error_indication

    agent.client.send_bytes(b"\xff\xff\xff")
    assert error_of(agent).cause.code == e2ap_pb2.CAUSE_MALFORMED_MESSAGE
    agent.client.send_bytes(b"")
    assert error_of(agent).cause.code == e2ap_pb2.CAUSE_INVALID_VALUE
    agent.send(e2ap_pb2.E2Pdu(transaction_id=4, slot=1, indication=e2ap_pb2.RicIndication(instance_id=1)))
    err = error_of(agent)
    assert (err.cause.code, err.transaction_id, err.procedure) == (e2ap_pb2.CAUSE_NOT_REGISTERED, 4, "indication")
    agent.setup()
    agent.send(e2ap_pb2.E2Pdu(transaction_id=5, slot=1, control_request=e2ap_pb2.RicControlRequest()))
    err = error_of(agent)
    assert (err.cause.code, err.transaction_id, err.procedure) == (
        e2ap_pb2.CAUSE_UNEXPECTED_MESSAGE, 5, "control_request")
    agent.send(e2ap_pb2.E2Pdu(transaction_id=6, slot=1, indication=e2ap_pb2.RicIndication(instance_id=777)))
    assert error_of(agent).cause.code == e2ap_pb2.CAUSE_UNKNOWN_SUBSCRIPTION

    xapp.subscribe(all_nodes=True)
    assert error_of(xapp).cause.code == e2ap_pb2.CAUSE_NOT_REGISTERED
    xapp.send(e2ap_pb2.XappPdu(transaction_id=8, indication=e2ap_pb2.RicIndication()))
    err = error_of(xapp)
    assert (err.cause.code, err.transaction_id) == (e2ap_pb2.CAUSE_UNEXPECTED_MESSAGE, 8)
    # an error indication from a peer is taken in, not answered
    agent.send(e2ap_pb2.E2Pdu(error_indication=e2ap_pb2.ErrorIndication(cause=e2ap_pb2.Cause(code=e2ap_pb2.CAUSE_MALFORMED_MESSAGE))))
    assert quiet(agent.client)


def test_reset_restarts_the_slot_clock_and_subscriptions(agent: E2Agent, xapp: XappPeer) -> None:
    spec = agent.spec
    sub = _subscribed(agent, xapp)
    agent.indicate(sub, slot=500)
    xapp.expect("indication")
    agent.send(e2ap_pb2.E2Pdu(transaction_id=11, slot=-1, reset_request=e2ap_pb2.ResetRequest(
        cause=e2ap_pb2.Cause(code=e2ap_pb2.CAUSE_UNSPECIFIED, detail="new episode"))))
    response = agent.expect("reset_response")
    assert response.transaction_id == 11
    assert len(response.reset_response.nodes) == 19
    update = xapp.expect("node_update").node_update
    assert update.event == e2ap_pb2.NodeUpdate.EVENT_RESET and len(update.nodes) == 19
    again = agent.admit_next_subscription()  # the RIC re-subscribes for the xApp
    assert again.instance_id != sub.instance_id
    readmitted = xapp.expect("subscription_response")
    assert readmitted.transaction_id == 0  # unsolicited
    assert {i.instance_id for i in readmitted.subscription_response.admitted} == {again.instance_id}
    agent.indicate(again, slot=0)
    xapp.expect("indication")
    xapp.control(spec, slot=0)  # slot 0 is current again, not stale
    assert agent.expect("control_request").slot == 0


def test_removal_disconnect_and_setup_after_restart(ric: RicThread, transport: str, agent: E2Agent,
                                                    xapp: XappPeer) -> None:
    spec = agent.spec
    _subscribed(agent, xapp)
    agent.send(e2ap_pb2.E2Pdu(transaction_id=3, slot=-1, removal_request=e2ap_pb2.E2RemovalRequest(nodes=["bs_18"])))
    assert list(agent.expect("removal_response").removal_response.nodes) == ["bs_18"]
    removed = xapp.expect("node_update").node_update
    assert removed.event == e2ap_pb2.NodeUpdate.EVENT_REMOVED and [n.name for n in removed.nodes] == ["bs_18"]
    # the node set of the connection changed: the old instance goes, a new one covers the rest
    assert agent.expect("subscription_delete_request")
    narrowed = agent.admit_next_subscription()
    assert list(narrowed.nodes) == [n.name for n in spec.nodes[:18]]
    xapp.expect("subscription_response")
    xapp.control(spec, slot=0, names=["bs_18"])
    assert xapp.expect("control_failure").control_failure.refused[0].cause.code == e2ap_pb2.CAUSE_UNKNOWN_NODE

    agent.client.close()  # the agent process dies
    gone = xapp.expect("node_update").node_update
    assert gone.event == e2ap_pb2.NodeUpdate.EVENT_REMOVED and len(gone.nodes) == 18
    _wait_for(ric, lambda: not ric.core.registry.nodes and not ric.core.subs.instances)

    with connect(e2_address(ric, transport), "e2") as client:  # restarted agent: new connection
        restarted = E2Agent(client, spec)
        assert len(restarted.setup().setup_response.accepted) == 19
        assert xapp.expect("node_update").node_update.event == e2ap_pb2.NodeUpdate.EVENT_ADDED
        sub = restarted.admit_next_subscription()  # the xApp's all-nodes subscription is restored
        assert len(sub.nodes) == 19
        assert xapp.expect("subscription_response").subscription_response.admitted[0].instance_id == sub.instance_id
        restarted.indicate(sub, slot=1)
        assert xapp.expect("indication").slot == 1


def test_setup_again_moves_nodes_to_the_new_connection(ric: RicThread, transport: str, agent: E2Agent,
                                                       xapp: XappPeer) -> None:
    spec = agent.spec
    old_sub = _subscribed(agent, xapp)
    with connect(e2_address(ric, transport), "e2") as client:
        newer = E2Agent(client, spec)
        newer.setup(["bs_0"])  # bs_0 restarts in another process before the old one is gone
        new_sub = newer.admit_next_subscription()
        assert list(new_sub.nodes) == ["bs_0"]
        old_gone = agent.expect("subscription_delete_request").subscription_delete_request
        assert old_gone.instance_id == old_sub.instance_id
        rest = agent.admit_next_subscription()
        assert list(rest.nodes) == [n.name for n in spec.nodes[1:]]
        agent.indicate(old_sub, slot=3)  # the old instance is gone
        assert skip_keepalive(agent.client).error_indication.cause.code == e2ap_pb2.CAUSE_UNKNOWN_SUBSCRIPTION


@pytest.mark.parametrize("transport", ["zmq"])  # the timeout is transport-independent
def test_subscription_times_out_when_the_node_does_not_answer(agent: E2Agent, xapp: XappPeer) -> None:
    agent.setup()
    xapp.register()
    xapp.subscribe(requestor_id=4, nodes=["bs_1"])
    agent.expect("subscription_request")  # never answered
    failure = xapp.expect("subscription_failure", timeout_s=5.0).subscription_failure
    assert failure.requestor_id == 4
    assert failure.not_admitted[0].cause.code == e2ap_pb2.CAUSE_TIMEOUT


def test_reported_misses_are_counted(ric: RicThread, agent: E2Agent, xapp: XappPeer) -> None:
    sub = _subscribed(agent, xapp)
    misses = [0] * 19
    misses[2] = 3
    agent.indicate(sub, slot=4, misses=misses)
    xapp.expect("indication")
    registry = ric.core.metrics.registry
    assert registry.get_sample_value("ntnric_ric_node_deadline_misses_total", {"node": "bs_2"}) == 3.0
    assert registry.get_sample_value("ntnric_ric_indications_total") == 1.0
    assert make_reports(agent.spec, 0).gain.shape == (1, 19, 3, 3, 19)
