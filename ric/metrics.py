"""Prometheus metrics of the RIC (prometheus-client), one registry per RIC instance.

The per-slot paths update plain counters and fixed-bucket histograms (`FastCounter`,
`FastHistogram`: one integer addition, no lock) that a custom collector exports at scrape time;
prometheus-client's own metric objects (a lock and checks per update) serve everything else.
The RIC updates all of them from its event loop thread only; a scrape reads them from the HTTP
thread, which at worst sees one message's updates half applied.
"""

from __future__ import annotations

from bisect import bisect_left
from collections.abc import Iterator

from prometheus_client import CollectorRegistry, Counter, Gauge
from prometheus_client.core import CounterMetricFamily, HistogramMetricFamily, Metric
from prometheus_client.registry import Collector

# [s]: 5 µs .. 50 ms, dense below 1 ms where the per-slot paths live
HOT_PATH_BUCKETS_S: tuple[float, ...] = (
    5e-6, 10e-6, 20e-6, 30e-6, 50e-6, 75e-6, 100e-6, 150e-6, 200e-6, 300e-6, 500e-6, 750e-6,
    1e-3, 2e-3, 5e-3, 10e-3, 50e-3,
)
# [s]: node_sent -> ric_in and xapp_sent -> ric_ctrl_in (one-way transport latency)
TRANSPORT_BUCKETS_S: tuple[float, ...] = (
    10e-6, 20e-6, 50e-6, 75e-6, 100e-6, 150e-6, 200e-6, 300e-6, 500e-6, 750e-6, 1e-3, 1.5e-3, 2e-3, 5e-3,
    10e-3, 50e-3,
)

PREFIX = "ntnric_ric"


class FastCounter:
    """A counter for one thread: ``inc`` is one addition."""

    __slots__ = ("value",)

    def __init__(self) -> None:
        self.value = 0.0

    def inc(self, amount: float = 1.0) -> None:
        self.value += amount


class FastHistogram:
    """Fixed-bucket histogram for one thread (Prometheus ``le`` buckets, plus +Inf).

    Parameters
    ----------
    bounds_s : tuple of float
        Upper bucket bounds, increasing [s].
    """

    __slots__ = ("bounds", "counts", "sum")

    def __init__(self, bounds_s: tuple[float, ...]) -> None:
        self.bounds = bounds_s
        self.counts = [0] * (len(bounds_s) + 1)
        self.sum = 0.0

    def observe(self, value_s: float) -> None:
        self.counts[bisect_left(self.bounds, value_s)] += 1
        self.sum += value_s

    @property
    def count(self) -> int:
        return sum(self.counts)

    def cumulative(self) -> list[tuple[str, float]]:
        """``[(le, cumulative count), ...]`` ending with ``+Inf``."""
        out: list[tuple[str, float]] = []
        total = 0
        for bound, n in zip((*self.bounds, float("inf")), self.counts, strict=True):
            total += n
            out.append(("+Inf" if bound == float("inf") else repr(bound), float(total)))
        return out


class _HotPathCollector(Collector):
    def __init__(self, metrics: RicMetrics) -> None:
        self._m = metrics

    def collect(self) -> Iterator[Metric]:
        m = self._m
        messages = CounterMetricFamily(f"{PREFIX}_messages", "Envelopes received", labels=["link", "transport"])
        for (link, transport), counter in m.messages_by_link.items():
            messages.add_metric([link, transport], counter.value)
        yield messages
        for name, doc, counter in (
            ("indications", "RIC Indications received from nodes", m.indications),
            ("indication_node_reports", "Node reports received (one per node per indication)", m.indication_nodes),
            ("indications_routed", "Indication deliveries to xApps", m.indications_routed),
            ("controls", "RIC Control Requests received from xApps", m.controls),
        ):
            yield CounterMetricFamily(f"{PREFIX}_{name}", doc, value=counter.value)
        nodes = CounterMetricFamily(f"{PREFIX}_control_nodes", "Node controls by outcome", labels=["outcome"])
        nodes.add_metric(["forwarded"], m.nodes_forwarded.value)
        nodes.add_metric(["refused"], m.nodes_refused.value)
        yield nodes
        for name, doc, series in (
            ("hot_path_seconds", "Time the RIC spends on one per-slot message (receive to send)",
             {"indication": m.hot_indication, "control": m.hot_control}),
            ("transport_in_seconds", "One-way latency of per-slot messages into the RIC (sender stamp to receipt)",
             {"indication": m.in_indication, "control": m.in_control}),
        ):
            family = HistogramMetricFamily(f"{PREFIX}_{name}", doc, labels=["path"])
            for path, hist in series.items():
                family.add_metric([path], hist.cumulative(), hist.sum)
            yield family


class RicMetrics:
    """Every metric of one RIC.

    Parameters
    ----------
    registry : CollectorRegistry, optional
        Where to register (a fresh registry when None, so several RICs can live in one process).
    """

    def __init__(self, registry: CollectorRegistry | None = None) -> None:
        self.registry = registry if registry is not None else CollectorRegistry()
        r = self.registry
        # per-slot paths: exported by _HotPathCollector
        self.messages_by_link = {
            (link, transport): FastCounter() for link in ("e2", "xapp") for transport in ("zmq", "grpc")
        }
        self.indications = FastCounter()
        self.indication_nodes = FastCounter()
        self.indications_routed = FastCounter()
        self.controls = FastCounter()
        self.nodes_forwarded = FastCounter()
        self.nodes_refused = FastCounter()
        self.hot_indication = FastHistogram(HOT_PATH_BUCKETS_S)
        self.hot_control = FastHistogram(HOT_PATH_BUCKETS_S)
        self.in_indication = FastHistogram(TRANSPORT_BUCKETS_S)
        self.in_control = FastHistogram(TRANSPORT_BUCKETS_S)
        r.register(_HotPathCollector(self))
        # everything else
        self.malformed = Counter(
            f"{PREFIX}_malformed_messages", "Envelopes that did not decode or were unexpected", ["link", "reason"],
            registry=r,
        )
        self.error_indications = Counter(
            f"{PREFIX}_error_indications", "Error Indications sent or received", ["direction", "cause"], registry=r
        )
        self.indications_unrouted = Counter(
            f"{PREFIX}_indications_unrouted", "Indications refused (unknown instance, wrong connection)", registry=r
        )
        self.refusals = Counter(
            f"{PREFIX}_control_refusals", "Node controls refused by the RIC or a node, by cause", ["cause"], registry=r
        )
        self.misses = Counter(
            f"{PREFIX}_node_deadline_misses", "Slots in which a node ran its fallback, as reported by the node",
            ["node"], registry=r,
        )
        self.dropped = Counter(
            f"{PREFIX}_dropped_messages", "Messages dropped because a peer's queue was full", ["link"], registry=r
        )
        self.setups = Counter(f"{PREFIX}_e2_setups", "E2 Setup outcomes per node", ["outcome"], registry=r)
        self.resets = Counter(f"{PREFIX}_resets", "Node resets", registry=r)
        self.subscription_events = Counter(
            f"{PREFIX}_subscription_events", "Subscription procedures by outcome", ["event"], registry=r
        )
        self.constraint_updates = Counter(
            f"{PREFIX}_constraint_updates", "Constraint items by outcome", ["outcome"], registry=r
        )
        self.internal_errors = Counter(
            f"{PREFIX}_internal_errors", "Messages whose handling failed inside the RIC", registry=r
        )
        self.model_requests = Counter(
            f"{PREFIX}_model_requests", "Model deploys and rollbacks by outcome (activated, unconfirmed, refused)",
            ["request", "outcome"], registry=r,
        )
        self.model_switches = Counter(
            f"{PREFIX}_model_switches", "Model switches xApps reported (activated, load_failed)", ["outcome"],
            registry=r,
        )
        self.nodes = Gauge(f"{PREFIX}_nodes", "E2 nodes set up", registry=r)
        self.xapps = Gauge(f"{PREFIX}_xapps", "xApps registered", registry=r)
        self.links = Gauge(f"{PREFIX}_links", "Connected peers", ["link"], registry=r)
        self.subscriptions = Gauge(f"{PREFIX}_subscription_instances", "Subscription instances", registry=r)
