"""Prometheus metrics of the RIC (prometheus-client), one registry per RIC instance.

Hot-path updates use pre-bound label children (no label lookup per message) and one
observation per message, not per node.
"""

from __future__ import annotations

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram

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
        self.messages = Counter(f"{PREFIX}_messages", "Envelopes received", ["link", "transport"], registry=r)
        self.malformed = Counter(
            f"{PREFIX}_malformed_messages", "Envelopes that did not decode or were unexpected", ["link", "reason"],
            registry=r,
        )
        self.error_indications = Counter(
            f"{PREFIX}_error_indications", "Error Indications sent or received", ["direction", "cause"], registry=r
        )
        self.indications = Counter(f"{PREFIX}_indications", "RIC Indications received from nodes", registry=r)
        self.indication_nodes = Counter(
            f"{PREFIX}_indication_node_reports", "Node reports received (one per node per indication)", registry=r
        )
        self.indications_routed = Counter(
            f"{PREFIX}_indications_routed", "Indication deliveries to xApps", registry=r
        )
        self.indications_unrouted = Counter(
            f"{PREFIX}_indications_unrouted", "Indications refused (unknown instance, wrong connection)", registry=r
        )
        self.controls = Counter(f"{PREFIX}_controls", "RIC Control Requests received from xApps", registry=r)
        self.control_nodes = Counter(
            f"{PREFIX}_control_nodes", "Node controls by outcome", ["outcome"], registry=r
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
        self.nodes = Gauge(f"{PREFIX}_nodes", "E2 nodes set up", registry=r)
        self.xapps = Gauge(f"{PREFIX}_xapps", "xApps registered", registry=r)
        self.links = Gauge(f"{PREFIX}_links", "Connected peers", ["link"], registry=r)
        self.subscriptions = Gauge(f"{PREFIX}_subscription_instances", "Subscription instances", registry=r)
        self.hot_path = Histogram(
            f"{PREFIX}_hot_path_seconds", "Time the RIC spends on one per-slot message (receive to send)",
            ["path"], buckets=HOT_PATH_BUCKETS_S, registry=r,
        )
        self.transport_in = Histogram(
            f"{PREFIX}_transport_in_seconds", "One-way latency of per-slot messages into the RIC (sender stamp to receipt)",
            ["path"], buckets=TRANSPORT_BUCKETS_S, registry=r,
        )
        # pre-bound children for the per-slot paths
        self.hot_indication = self.hot_path.labels("indication")
        self.hot_control = self.hot_path.labels("control")
        self.in_indication = self.transport_in.labels("indication")
        self.in_control = self.transport_in.labels("control")
        self.nodes_forwarded = self.control_nodes.labels("forwarded")
        self.nodes_refused = self.control_nodes.labels("refused")
        self.messages_by_link = {
            (link, transport): self.messages.labels(link, transport) for link in ("e2", "xapp") for transport in ("zmq", "grpc")
        }
