"""Operator views of a running RIC: the gRPC Admin service and the HTTP /metrics and /healthz.

The Admin service runs on the RIC's event loop (it reads the core directly). The HTTP server runs
in its own thread so a Prometheus scrape never waits for the loop; /healthz reads only sizes.
"""

from __future__ import annotations

import json
import math
import threading
from collections.abc import Callable
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import grpc
from prometheus_client import CONTENT_TYPE_LATEST, CollectorRegistry, generate_latest

from ric.core import RicCore
from ric.protocol.gen import e2ap_pb2, services_pb2, services_pb2_grpc
from ric.transport.base import TransportError


def bucket_quantile(buckets: list[tuple[float, float]], q: float) -> float:
    """Quantile ``q`` from cumulative histogram buckets ``[(upper_bound, cumulative_count), ...]``.

    Linear interpolation inside the bucket that holds the quantile (the Prometheus
    ``histogram_quantile`` rule); NaN when empty, the largest finite bound when it falls in +Inf.
    """
    if not buckets or buckets[-1][1] <= 0:
        return math.nan
    total = buckets[-1][1]
    rank = q * total
    lower_bound, lower_count = 0.0, 0.0
    for upper, count in buckets:
        if count >= rank:
            if math.isinf(upper):
                return lower_bound
            if count == lower_count:
                return upper
            return lower_bound + (upper - lower_bound) * (rank - lower_count) / (count - lower_count)
        lower_bound, lower_count = upper, count
    return lower_bound


def metrics_summary(registry: CollectorRegistry) -> services_pb2.MetricsSummaryReply:
    """Counters (``name{labels}`` -> value) and latency histograms with estimated p50/p99 [µs]."""
    reply = services_pb2.MetricsSummaryReply()
    for family in registry.collect():
        if family.type == "counter":
            for sample in family.samples:
                if sample.name.endswith("_total"):
                    labels = ",".join(f"{k}={v}" for k, v in sorted(sample.labels.items()))
                    reply.counters[f"{sample.name}{{{labels}}}" if labels else sample.name] = sample.value
        elif family.type == "histogram":
            series: dict[str, dict[str, Any]] = {}
            for sample in family.samples:
                key = ",".join(f"{k}={v}" for k, v in sorted(sample.labels.items()) if k != "le")
                entry = series.setdefault(key, {"buckets": [], "count": 0.0, "sum": 0.0})
                if sample.name.endswith("_bucket"):
                    entry["buckets"].append((float(sample.labels["le"]), sample.value))
                elif sample.name.endswith("_count"):
                    entry["count"] = sample.value
                elif sample.name.endswith("_sum"):
                    entry["sum"] = sample.value
            for key, entry in series.items():
                count = entry["count"]
                buckets = sorted(entry["buckets"])
                reply.latencies.add(
                    name=family.name,
                    labels=key,
                    count=int(count),
                    mean_us=entry["sum"] / count * 1e6 if count else math.nan,
                    p50_us=bucket_quantile(buckets, 0.5) * 1e6,
                    p99_us=bucket_quantile(buckets, 0.99) * 1e6,
                )
    return reply


class AdminService(services_pb2_grpc.AdminServicer):
    """gRPC Admin service (``ntnric.v1.Admin``) over a `RicCore`."""

    def __init__(self, core: RicCore, endpoints: Callable[[], dict[str, str]]) -> None:
        self._core = core
        self._endpoints = endpoints

    async def Health(
        self, request: services_pb2.HealthRequest, context: grpc.aio.ServicerContext
    ) -> services_pb2.HealthReply:
        health = self._core.health()
        return services_pb2.HealthReply(endpoints=self._endpoints(), **health)

    async def ListNodes(
        self, request: services_pb2.ListNodesRequest, context: grpc.aio.ServicerContext
    ) -> services_pb2.ListNodesReply:
        nodes = list(self._core.registry.nodes.values())
        reply = services_pb2.ListNodesReply(nodes=[n.info() for n in nodes])
        if request.include_world_specs:
            for world_id, text in self._core.registry.specs_for(nodes).items():
                reply.world_specs[world_id] = text
        return reply

    async def ListXapps(
        self, request: services_pb2.ListXappsRequest, context: grpc.aio.ServicerContext
    ) -> services_pb2.ListXappsReply:
        return services_pb2.ListXappsReply(
            xapps=[
                services_pb2.XappInfo(
                    xapp_id=x.xapp_id, name=x.name, tier=x.tier, may_constrain=x.may_constrain,
                    transport=x.link.transport, requestor_ids=sorted(x.subscriptions),
                )
                for x in self._core.registry.xapps.values()
            ]
        )

    async def ListSubscriptions(
        self, request: services_pb2.ListSubscriptionsRequest, context: grpc.aio.ServicerContext
    ) -> services_pb2.ListSubscriptionsReply:
        reply = services_pb2.ListSubscriptionsReply()
        for inst in self._core.subs.instances.values():
            for name in inst.names:
                reply.subscriptions.add(
                    instance_id=inst.instance_id, node=name, ran_function_id=inst.ran_function_id,
                    period_slots=inst.period_slots, state="active" if inst.active else "pending",
                    xapps=sorted({s.xapp.xapp_id for s in inst.subscribers}),
                )
        return reply

    async def MetricsSummary(
        self, request: services_pb2.MetricsSummaryRequest, context: grpc.aio.ServicerContext
    ) -> services_pb2.MetricsSummaryReply:
        return metrics_summary(self._core.metrics.registry)


    async def DeployModel(
        self, request: services_pb2.DeployModelRequest, context: grpc.aio.ServicerContext
    ) -> services_pb2.ModelChangeReply:
        return await self._core.models.deploy(request.xapp, request.model, request.file_name)

    async def ListModels(
        self, request: services_pb2.ListModelsRequest, context: grpc.aio.ServicerContext
    ) -> services_pb2.ListModelsReply:
        return self._core.models.list(request.xapp)

    async def RollbackModel(
        self, request: services_pb2.RollbackModelRequest, context: grpc.aio.ServicerContext
    ) -> services_pb2.ModelChangeReply:
        return await self._core.models.rollback(request.xapp)


def add_admin(servicer: AdminService, server: grpc.aio.Server) -> None:
    services_pb2_grpc.add_AdminServicer_to_server(servicer, server)


ADMIN_SERVICE_NAME = services_pb2.DESCRIPTOR.services_by_name["Admin"].full_name
_ = e2ap_pb2  # E2NodeInfo lives in e2ap.proto; keep the dependency explicit


class HttpEndpoint:
    """``GET /metrics`` (Prometheus text format) and ``GET /healthz`` (JSON) in a daemon thread.

    Parameters
    ----------
    host, port : str, int
        Where to listen (port 0 picks one).
    registry : CollectorRegistry
        What /metrics exports.
    health : callable
        Returns the /healthz document (must be cheap and thread-safe).
    """

    def __init__(self, host: str, port: int, registry: CollectorRegistry, health: Callable[[], dict[str, Any]]) -> None:
        outer_registry, outer_health = registry, health

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self) -> None:
                path = self.path.split("?", 1)[0]
                if path == "/metrics":
                    body, ctype, status = generate_latest(outer_registry), CONTENT_TYPE_LATEST, 200
                elif path in ("/healthz", "/health"):
                    body, ctype, status = json.dumps(outer_health()).encode(), "application/json", 200
                else:
                    body, ctype, status = b"not found: try /metrics or /healthz\n", "text/plain", 404
                self.send_response(status)
                self.send_header("Content-Type", ctype)
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def log_message(self, format: str, *args: Any) -> None:
                return

        try:
            self._server = ThreadingHTTPServer((host, port), Handler)
        except OSError as exc:
            raise TransportError(f"cannot bind metrics endpoint {host}:{port}: {exc.strerror or exc}") from None
        self._server.daemon_threads = True
        self.address = f"http://{host}:{self._server.server_address[1]}"
        self._thread = threading.Thread(target=self._server.serve_forever, name="ric-http", daemon=True)

    def start(self) -> None:
        self._thread.start()

    def stop(self) -> None:
        self._server.shutdown()
        self._server.server_close()
        self._thread.join(timeout=2.0)
