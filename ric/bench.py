"""Loopback benchmark of the RIC alone: a synthetic E2 agent and a synthetic xApp, no world, no policy.

Three processes: the RIC, an xApp (decodes every indication, builds a trivial control, encodes it)
and the agent (this process), which sends one stacked indication per slot for ``n_nodes`` nodes on
the wall clock and measures the per-decision latency (indication handed to the transport ->
control received). It isolates what the E2 path costs (codec, transports, RIC hot path) from the
radio world and the policy.

``python -m ric.bench --transport zmq --slot-ms 1 --slots 3000``
"""

from __future__ import annotations

import argparse
import json
import multiprocessing as mp
import sys
import time
from typing import Any

import numpy as np

from ric.config import RicConfig
from ric.protocol import codec
from ric.protocol.gen import e2ap_pb2
from ric.protocol.sm import Controls, Reports
from ric.protocol.spec import NodeSpec, WorldSpec
from ric.transport.client import Client, connect

PERCENTILES = (50.0, 90.0, 99.0, 99.9)
# the RIC serves only the transport under test (and no HTTP/admin) so nothing else shares its loop
ONLY: dict[str, dict[str, Any]] = {
    "zmq": {"e2_grpc": None, "xapp_grpc": None, "admin_grpc": None, "metrics_port": None},
    "grpc": {"e2_zmq": None, "xapp_zmq": None, "admin_grpc": None, "metrics_port": None},
}


def synthetic_spec(n_nodes: int, n_users: int, n_resources: int) -> WorldSpec:
    """A world description with hex19-like axes (``T = K``)."""
    nodes = tuple(NodeSpec(k, f"bs_{k}", "gnb", n_users, n_resources, 23.0) for k in range(n_nodes))
    return WorldSpec("bench", "multicell", 1e-3, n_users, n_resources, 1e7, -114.0, nodes)


def synthetic_reports(spec: WorldSpec, rng: np.random.Generator) -> Reports:
    k, u, s = spec.n_nodes, spec.n_users_max, spec.n_resources
    return Reports(
        slot=0,
        gain=rng.random((1, k, u, s, k), dtype=np.float32),
        queue_bits=rng.random((1, k, u), dtype=np.float32),
        queue_packets=rng.random((1, k, u), dtype=np.float32),
        interference_w=rng.random((1, k, u, s), dtype=np.float32),
        spectral_efficiency_bps_hz=rng.random((1, k, u, s), dtype=np.float32),
        active=np.ones((1, k, u), dtype=bool),
        user_pos_m=rng.random((1, k, u, 3), dtype=np.float32),
        node_pos_m=rng.random((1, k, 3), dtype=np.float32),
    )


def _recv(client: Client, which: str, timeout_s: float = 10.0) -> Any:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        pdu = client.recv(deadline - time.monotonic())
        if pdu is not None and pdu.WhichOneof("procedure") == which:
            return pdu
    raise TimeoutError(f"no {which} within {timeout_s:g} s")


def _run_ric(config: RicConfig, queue: Any) -> None:
    import asyncio

    from ric.server import serve

    asyncio.run(serve(config, ready=lambda endpoints: queue.put(endpoints.as_dict())))


def _run_xapp(address: str, n_nodes: int) -> None:
    client = connect(address, "xapp")
    client.send(e2ap_pb2.XappPdu(transaction_id=1, register_request=e2ap_pb2.XappRegisterRequest(name="bench")))
    _recv(client, "register_response")
    client.send(e2ap_pb2.XappPdu(transaction_id=2, subscription_request=e2ap_pb2.RicSubscriptionRequest(
        requestor_id=1, ran_function_id=codec.SLOT_RAN_FUNCTION_ID, all_nodes=True,
        trigger=e2ap_pb2.EventTrigger(period_slots=1))))
    layout: codec.Layout | None = None
    while True:
        data = client.recv_bytes()
        if data is None:
            continue
        t_in = time.monotonic_ns()
        pdu = e2ap_pb2.XappPdu.FromString(data)
        if pdu.WhichOneof("procedure") != "indication":
            continue
        ind = pdu.indication
        node_ids, reports = codec.decode_reports(ind.report)
        t_features = time.monotonic_ns()
        controls = Controls.off(1, len(node_ids), reports.gain.shape[3])
        controls.user[0] = np.argmax(reports.queue_bits[0], axis=1)[:, None]
        controls.power_w[0] = 0.2
        t_decision = time.monotonic_ns()
        out = e2ap_pb2.XappPdu(transaction_id=pdu.slot, slot=pdu.slot, t=pdu.t)
        t = out.t
        t.xapp_in, t.features_done, t.inference_done = t_in, t_features, t_decision
        req = out.control_request
        req.ran_function_id = ind.ran_function_id
        req.nodes.extend(ind.nodes)
        if layout is None:
            layout = codec.Layout.of_controls(controls)
        codec.encode_controls(controls, pdu.slot, node_ids, layout=layout, out=req.control)
        t.decode_done = t.xapp_sent = time.monotonic_ns()
        client.send_bytes(out.SerializeToString())


def run(transport: str, n_nodes: int, n_users: int, n_resources: int, slot_ms: float, slots: int) -> dict[str, Any]:
    """Run the loopback and return latency percentiles [µs], hop shares [µs] and the miss rate."""
    config = RicConfig.ephemeral(log_level="WARNING", **ONLY[transport])
    ctx = mp.get_context("spawn")
    ready: Any = ctx.Queue()
    ric = ctx.Process(target=_run_ric, args=(config, ready), daemon=True)
    ric.start()
    endpoints = ready.get(timeout=30)
    e2 = endpoints["e2_zmq" if transport == "zmq" else "e2_grpc"]
    xapp_address = endpoints["xapp_zmq" if transport == "zmq" else "xapp_grpc"]
    xapp = ctx.Process(target=_run_xapp, args=(xapp_address, n_nodes), daemon=True)
    xapp.start()
    spec = synthetic_spec(n_nodes, n_users, n_resources)
    rng = np.random.default_rng(0)
    reports = synthetic_reports(spec, rng)
    layout = codec.Layout.of_reports(reports)
    client = connect(e2, "e2")
    try:
        client.send(e2ap_pb2.E2Pdu(transaction_id=1, setup_request=e2ap_pb2.E2SetupRequest(
            nodes=[codec.node_item(spec, n, layout) for n in spec.nodes], world_spec_json=spec.to_json(),
            agent_name="bench")))
        _recv(client, "setup_response")
        sub_pdu = _recv(client, "subscription_request", timeout_s=30)
        sub = sub_pdu.subscription_request
        client.send(e2ap_pb2.E2Pdu(transaction_id=sub_pdu.transaction_id, subscription_response=(
            e2ap_pb2.RicSubscriptionResponse(instance_id=sub.instance_id, admitted=[
                e2ap_pb2.SubscriptionItem(node=n, instance_id=sub.instance_id) for n in sub.nodes]))))
        latencies_us: list[float] = []
        hops: dict[str, list[float]] = {"to_ric": [], "ric_indication": [], "to_xapp": [], "xapp": [],
                                        "to_ric_ctrl": [], "ric_control": [], "to_node": []}
        misses = 0
        slot_ns = int(slot_ms * 1e6)
        warmup = min(200, slots // 5)
        start = time.monotonic_ns() + slot_ns
        for slot in range(slots + warmup):
            begin = start + slot * slot_ns
            if (wait_ns := begin - time.monotonic_ns()) > 300_000:
                time.sleep((wait_ns - 200_000) / 1e9)  # sleep most of the gap, spin the rest
            while time.monotonic_ns() < begin:
                pass
            reports.slot = slot
            pdu = e2ap_pb2.E2Pdu(slot=slot)
            ind = pdu.indication
            ind.instance_id = sub.instance_id
            ind.ran_function_id = codec.SLOT_RAN_FUNCTION_ID
            ind.nodes.extend(sub.nodes)
            codec.encode_reports(reports, layout=layout, out=ind.report)
            pdu.t.node_sent = sent = time.monotonic_ns()
            client.send_bytes(pdu.SerializeToString())
            deadline = begin + slot_ns
            got = None
            while got is None and (left := deadline - time.monotonic_ns()) > 0:
                data = client.recv_bytes(left / 1e9)
                if data is None:
                    break
                recv = time.monotonic_ns()
                reply = e2ap_pb2.E2Pdu.FromString(data)
                if reply.WhichOneof("procedure") == "control_request" and reply.slot == slot:
                    got = reply
            if slot < warmup:
                continue
            if got is None:
                misses += 1
                continue
            latencies_us.append((recv - sent) / 1e3)
            t = got.t
            hops["to_ric"].append((t.ric_in - t.node_sent) / 1e3)
            hops["ric_indication"].append((t.ric_out - t.ric_in) / 1e3)
            hops["to_ric_ctrl"].append((t.ric_ctrl_in - t.xapp_sent) / 1e3)
            hops["ric_control"].append((t.ric_ctrl_out - t.ric_ctrl_in) / 1e3)
            hops["xapp"].append((t.xapp_sent - t.xapp_in) / 1e3)
            hops["to_xapp"].append((t.xapp_in - t.ric_out) / 1e3)
            hops["to_node"].append((recv - t.ric_ctrl_out) / 1e3)
    finally:
        client.close()
        xapp.terminate()
        ric.terminate()
        xapp.join(5)
        ric.join(5)
    lat = np.asarray(latencies_us)
    return {
        "transport": transport,
        "n_nodes": n_nodes,
        "slot_ms": slot_ms,
        "slots": slots,
        "decision_latency_us": {f"p{p:g}": float(np.percentile(lat, p)) for p in PERCENTILES} | {
            "max": float(lat.max())} if lat.size else {},
        "deadline_miss_rate": misses / slots,
        "hop_p50_us": {k: float(np.median(v)) for k, v in hops.items() if v},
        "hop_p99_us": {k: float(np.percentile(v, 99)) for k, v in hops.items() if v},
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--transport", choices=("zmq", "grpc"), default="zmq")
    parser.add_argument("--nodes", type=int, default=19)
    parser.add_argument("--users", type=int, default=3)
    parser.add_argument("--resources", type=int, default=3)
    parser.add_argument("--slot-ms", type=float, default=1.0)
    parser.add_argument("--slots", type=int, default=3000)
    args = parser.parse_args(argv)
    result = run(args.transport, args.nodes, args.users, args.resources, args.slot_ms, args.slots)
    json.dump(result, sys.stdout, indent=2)
    print()
    return 0


if __name__ == "__main__":
    sys.exit(main())
