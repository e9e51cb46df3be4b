"""Running the RIC: configuration errors, ports in use, /metrics, /healthz and the Admin service."""

from __future__ import annotations

import json
import re
import socket
import urllib.request

import grpc
import pytest
from pydantic import ValidationError

from ric.admin import bucket_quantile
from ric.config import RicConfig
from ric.protocol.gen import services_pb2, services_pb2_grpc
from ric.server import RicError, RicThread
from ric.transport.base import TransportError, parse_address
from tests.ric.ricpeers import E2Agent, XappPeer


def test_address_parsing_and_config_validation() -> None:
    assert parse_address("tcp://127.0.0.1:5555") == ("zmq", "tcp://127.0.0.1:5555")
    assert parse_address("tcp://127.0.0.1:0") == ("zmq", "tcp://127.0.0.1:*")
    assert parse_address("127.0.0.1:50051") == ("grpc", "127.0.0.1:50051")
    assert parse_address("grpc://[::1]:50051") == ("grpc", "[::1]:50051")
    with pytest.raises(TransportError, match="bad address"):
        parse_address("localhost")
    with pytest.raises(ValidationError, match=r"e2_grpc: 'tcp://127\.0\.0\.1:1' is not a grpc address"):
        RicConfig(e2_grpc="tcp://127.0.0.1:1")
    with pytest.raises(ValidationError, match="needs an E2 endpoint"):
        RicConfig(e2_zmq=None, e2_grpc=None)


def _busy_port() -> tuple[socket.socket, int]:
    sock = socket.socket()
    sock.bind(("127.0.0.1", 0))
    sock.listen()
    return sock, sock.getsockname()[1]


@pytest.mark.parametrize("field", ["e2_zmq", "xapp_grpc", "metrics_port"])
def test_port_in_use_is_a_one_line_error(field: str) -> None:
    sock, port = _busy_port()
    try:
        value: object = {"e2_zmq": f"tcp://127.0.0.1:{port}", "xapp_grpc": f"127.0.0.1:{port}",
                         "metrics_port": port}[field]
        config = RicConfig.ephemeral().model_copy(update={field: value})
        with pytest.raises(RicError) as info:
            RicThread(config).start()
        message = str(info.value)
        assert "\n" not in message
        assert str(port) in message and ("in use" in message or "not available" in message)
    finally:
        sock.close()


def test_metrics_health_and_admin(ric: RicThread, agent: E2Agent, xapp: XappPeer) -> None:
    agent.setup()
    xapp.register("admin-test")
    xapp.subscribe(requestor_id=3, all_nodes=True)
    sub = agent.admit_next_subscription()
    xapp.expect("subscription_response")
    agent.indicate(sub, slot=2)
    xapp.expect("indication")
    xapp.control(agent.spec, slot=1)  # stale: refused
    xapp.expect("control_failure")

    base = ric.endpoints.metrics
    assert base is not None
    with urllib.request.urlopen(f"{base}/metrics", timeout=5) as response:
        text = response.read().decode()
    assert "ntnric_ric_indications_total 1.0" in text
    assert 'ntnric_ric_control_refusals_total{cause="stale_slot"} 19.0' in text
    assert re.search(r'ntnric_ric_hot_path_seconds_bucket\{le="5e-05",path="indication"\} [01]\.0', text)
    assert 'ntnric_ric_hot_path_seconds_count{path="indication"} 1.0' in text
    with urllib.request.urlopen(f"{base}/healthz", timeout=5) as response:
        health = json.loads(response.read())
    assert health["status"] == "SERVING" and health["nodes"] == 19 and health["xapps"] == 1

    assert ric.endpoints.admin_grpc is not None
    with grpc.insecure_channel(ric.endpoints.admin_grpc) as channel:
        admin = services_pb2_grpc.AdminStub(channel)
        reply = admin.Health(services_pb2.HealthRequest(), timeout=5)
        assert reply.status == "SERVING" and reply.nodes == 19 and reply.subscriptions == 1
        assert reply.endpoints["e2_zmq"] == ric.endpoints.e2_zmq
        nodes = admin.ListNodes(services_pb2.ListNodesRequest(include_world_specs=True), timeout=5)
        assert len(nodes.nodes) == 19 and nodes.nodes[0].last_slot == 2 and len(nodes.world_specs) == 1
        xapps = admin.ListXapps(services_pb2.ListXappsRequest(), timeout=5)
        assert [(x.name, list(x.requestor_ids)) for x in xapps.xapps] == [("admin-test", [3])]
        subs = admin.ListSubscriptions(services_pb2.ListSubscriptionsRequest(), timeout=5)
        assert {s.node for s in subs.subscriptions} == {n.name for n in agent.spec.nodes}
        assert {s.state for s in subs.subscriptions} == {"active"}
        summary = admin.MetricsSummary(services_pb2.MetricsSummaryRequest(), timeout=5)
        assert summary.counters["ntnric_ric_indications_total"] == 1.0
        hot = [x for x in summary.latencies
               if x.name == "ntnric_ric_hot_path_seconds" and x.labels == "path=indication"]
        assert hot[0].count == 1 and hot[0].p50_us > 0
        # standard health checking and reflection are served too
        from grpc_health.v1 import health_pb2, health_pb2_grpc
        status = health_pb2_grpc.HealthStub(channel).Check(health_pb2.HealthCheckRequest(service=""), timeout=5)
        assert status.status == health_pb2.HealthCheckResponse.SERVING


def test_bucket_quantile_interpolates() -> None:
    buckets = [(1.0, 10.0), (2.0, 30.0), (float("inf"), 40.0)]
    assert bucket_quantile(buckets, 0.25) == pytest.approx(1.0)
    assert bucket_quantile(buckets, 0.5) == pytest.approx(1.5)
    assert bucket_quantile(buckets, 0.99) == pytest.approx(2.0)
