"""The E2 agent: one process hosting nodes of a world (all, or one) on one RIC connection.

Each node keeps its own E2 identity (its name), Setup entry, subscriptions and slot clock at the
RIC; per slot the agent sends one RIC Indication per due subscription instance with the reports
of that instance's nodes stacked (`ric.protocol.codec.encode_reports`), and applies the
controls that come back.

Timing modes
------------
``lockstep``
    The world advances when every node that reported slot t has its control for slot t (or after
    ``lockstep_timeout_s``, a miss). Deterministic: with the same seed the run reproduces
    ``ntnric eval`` exactly.
``realtime``
    Slots tick on the wall clock every ``slot_wall_s``. A control for slot t counts when it
    arrives before the end of slot t; otherwise the node applies its fallback (its last valid
    control, or the local default scheduler before it has one) and counts a deadline miss. The
    preset's physical slot (rates, delays) is unchanged: a 20 ms slot can be emulated in 1 ms.

The agent survives its peers: a RIC that restarts is set up again (the xApps re-subscribe), a
subscription deleted because its xApp left leaves the nodes on fallback.

World ports
-----------
The agent reaches the world through a `WorldPort`: `LocalWorld` wraps a `World` in this process
and hosts every node (``ntnric sim``); `e2_sim.node.world_server.RemoteWorld` hosts one node of a
world served by another process (``ntnric sim --process-per-node``), which then keeps the slot
clock and the KPIs. Rows of nodes the port does not host are zero in its reports, and the local
default scheduler runs on them: a scheduler that decides each node from its own row
(round-robin, full-power) gives the same control as with the whole world; one that reads its
neighbours' rows sees them empty, as a node alone would.
"""

from __future__ import annotations

import json
import logging
import sys
import time
from dataclasses import dataclass, field
from typing import Any, Literal, Protocol

import numpy as np

from e2_sim.kpi import KpiAccumulator
from e2_sim.node.timing import LatencyRecorder
from e2_sim.world.base import SlotKpis, World
from ric.protocol import Controls, Reports, WorldSpec, codec
from ric.protocol.gen import e2ap_pb2 as ap
from ric.transport.base import TransportError
from ric.transport.client import Client, connect

Mode = Literal["lockstep", "realtime"]
_log = logging.getLogger("ntnric.sim")
MISSED_SLOTS_KEPT = 1000  # slots with a deadline miss listed in a run's result (the count is exact)
# causes meaning "the RIC does not know these nodes" (it restarted): set them up again
_RESETUP_CAUSES = {ap.CAUSE_NOT_REGISTERED, ap.CAUSE_UNKNOWN_NODE}


@dataclass
class Subscription:
    """One subscription instance the RIC opened on this agent."""

    instance_id: int
    names: list[str]
    rows: np.ndarray  # node indices, in the instance's stacking order
    period_slots: int


@dataclass
class AgentStats:
    """Counters of a run (node-decisions: one node, one slot)."""

    expected: int = 0  # node-decisions a control was expected for
    applied: int = 0  # ... and applied in time
    missed: int = 0  # ... and missed (fallback applied)
    late: int = 0  # controls that arrived after their slot was over
    refused_by_node: int = 0
    refused_by_ric: int = 0  # node-decisions whose control the RIC refused (the node kept its fallback)
    fallback_last_valid: int = 0
    fallback_default: int = 0
    uncontrolled: int = 0  # node-slots no xApp subscribed to (local scheduler)
    resetups: int = 0
    missed_slots: list[int] = field(default_factory=list)  # slots with a miss, the first MISSED_SLOTS_KEPT


    def to_json(self) -> dict[str, Any]:
        rate = self.missed / self.expected if self.expected else 0.0
        return {**self.__dict__, "deadline_miss_rate": rate}


class WorldPort(Protocol):
    """The agent's view of the world whose nodes it hosts (batch 1).

    Attributes
    ----------
    spec : WorldSpec
        The whole world (every node, also those hosted elsewhere).
    hosted : ndarray, intp, (N,)
        World indices of the nodes this agent sets up, reports and controls.
    deadline_ns : int or None
        In realtime mode, the end of the current slot (``time.monotonic_ns``) when the port keeps
        the slot clock; None when the agent keeps it.
    """

    spec: WorldSpec
    hosted: np.ndarray
    deadline_ns: int | None

    def reset(self, seed: int) -> Reports:
        """Start the world seeded ``seed``; the reports of slot 0, arrays ``(1, K, ...)``."""
        ...

    def start(self) -> Reports:
        """The nodes are set up and subscribed: start the slot clock; the reports of slot 0."""
        ...

    def step(self, controls: Controls) -> tuple[Reports, SlotKpis | None]:
        """Apply ``controls`` (``(1, K, S)``; only hosted rows count) and advance one slot.

        Returns the next slot's reports and the slot's KPIs, or None when the KPIs are kept
        elsewhere.
        """
        ...

    def queued_packet_ages_s(self) -> list[np.ndarray] | None:
        """Ages of the packets queued at the end [s], or None when the KPIs are kept elsewhere."""
        ...


class LocalWorld:
    """`WorldPort` of a world in this process: every node hosted, reports straight from the world.

    Parameters
    ----------
    world : World
        The world (batch 1 after `reset`).
    """

    deadline_ns: int | None = None

    def __init__(self, world: World) -> None:
        self.world = world
        self.spec = world.spec
        self.hosted = np.arange(world.spec.n_nodes, dtype=np.intp)
        self._first: Reports | None = None

    def reset(self, seed: int) -> Reports:
        self._first = self.world.reset([seed])
        return self._first

    def start(self) -> Reports:
        assert self._first is not None, "reset first"
        return self._first

    def step(self, controls: Controls) -> tuple[Reports, SlotKpis | None]:
        return self.world.step(controls)

    def queued_packet_ages_s(self) -> list[np.ndarray] | None:
        return self.world.queued_packet_ages_s()


@dataclass
class AgentConfig:
    """How the agent runs (see the module docstring)."""

    ric: str
    mode: Mode = "lockstep"
    slot_wall_s: float = 0.001
    lockstep_timeout_s: float = 5.0
    await_subscriptions_s: float = 15.0
    name: str = "sim"
    progress_interval_s: float = 0.5
    progress_stream: Any = field(default=None)
    busy_poll: bool = False  # ZeroMQ: wait for controls without sleeping (see ric.transport.client)


class E2Agent:
    """Runs the hosted nodes of a world (batch 1) as E2 nodes connected to a RIC.

    Parameters
    ----------
    world : World or WorldPort
        The world (a `World` is hosted whole through `LocalWorld`); reset by `run`.
    fallback : callable
        The local default scheduler: ``Reports -> Controls``, arrays ``(1, K, ...)``.
    config : AgentConfig
        Address, timing mode and limits.
    """

    def __init__(self, world: World | WorldPort, fallback: Any, config: AgentConfig) -> None:
        self.port: WorldPort = LocalWorld(world) if isinstance(world, World) else world
        self.spec = self.port.spec
        self.fallback = fallback
        self.config = config
        self._hosted = np.zeros(self.spec.n_nodes, dtype=bool)
        self._hosted[self.port.hosted] = True
        self.names = [self.spec.nodes[i].name for i in self.port.hosted]
        self.row_of = {name: int(i) for name, i in zip(self.names, self.port.hosted, strict=True)}
        self.subscriptions: dict[int, Subscription] = {}
        self.stats = AgentStats()
        self.latency = LatencyRecorder()
        self.link: Client[ap.E2Pdu] | None = None
        self._txn = 0
        self._setup_done = False
        self._layout: codec.Layout | None = None
        k, s = self.spec.n_nodes, self.spec.n_resources
        self._controls = Controls.off(1, k, s)
        self._last_valid = Controls.off(1, k, s)
        self._has_valid = np.zeros(k, dtype=bool)
        self._got = np.zeros(k, dtype=bool)
        self._expected = np.zeros(k, dtype=bool)
        self._refused = np.zeros(k, dtype=bool)  # this slot's controls the RIC refused (told by control_failure)
        self._misses_since_report = np.zeros(k, dtype=np.uint32)
        self._slot = -1

    # ------------------------------------------------------------------ connection

    def _next_txn(self) -> int:
        self._txn += 1
        return self._txn

    def _send(self, pdu: ap.E2Pdu) -> None:
        assert self.link is not None
        try:
            self.link.send(pdu)
        except TransportError as exc:
            _log.warning("send_failed error=%s", exc)
            self._reconnect()

    def _reconnect(self) -> None:
        if self.link is not None:
            self.link.close()
        self.link = None
        self._setup_done = False
        self.subscriptions.clear()
        self.stats.resetups += 1
        deadline = time.monotonic() + 30.0
        while self.link is None:
            try:
                self.link = connect(self.config.ric, "e2", busy_poll=self.config.busy_poll)
            except TransportError as exc:
                if time.monotonic() > deadline:
                    raise
                _log.info("ric_unreachable error=%s", exc)
                time.sleep(0.2)
        self._send_setup()

    def _send_setup(self) -> None:
        assert self._layout is not None
        self._send(ap.E2Pdu(transaction_id=self._next_txn(), slot=-1, setup_request=ap.E2SetupRequest(
            nodes=[codec.node_item(self.spec, self.spec.nodes[i], self._layout) for i in self.port.hosted],
            world_spec_json=self.spec.to_json(), agent_name=self.config.name)))

    def _recv(self, timeout_s: float) -> ap.E2Pdu | None:
        assert self.link is not None
        try:
            return self.link.recv(max(timeout_s, 0.0))
        except TransportError as exc:
            _log.warning("link_lost error=%s", exc)
            self._reconnect()
            return None

    # ------------------------------------------------------------------ messages from the RIC

    def _handle(self, pdu: ap.E2Pdu) -> None:
        which = pdu.WhichOneof("procedure")
        if which == "control_request":
            self._on_control(pdu)
        elif which == "subscription_request":
            self._on_subscription(pdu)
        elif which == "subscription_delete_request":
            req = pdu.subscription_delete_request
            gone = self.subscriptions.pop(req.instance_id, None)
            self._send(ap.E2Pdu(transaction_id=pdu.transaction_id, slot=-1,
                                subscription_delete_response=ap.RicSubscriptionDeleteResponse(
                                    requestor_id=req.requestor_id, instance_id=req.instance_id,
                                    deleted=gone.names if gone else [])))
        elif which == "setup_response":
            self._setup_done = True
            refused = pdu.setup_response.refused
            if refused:
                _log.warning("setup_refused nodes=%s", ",".join(r.node for r in refused))
        elif which == "setup_failure":
            raise SystemExit(f"E2 Setup refused by the RIC: {pdu.setup_failure.cause.detail}")
        elif which == "error_indication":
            err = pdu.error_indication
            _log.warning("error_indication cause=%s detail=%s", err.cause.code, err.cause.detail)
            if err.cause.code in _RESETUP_CAUSES and self._setup_done:
                # the RIC no longer knows us (it restarted): set up again, xApps will re-subscribe
                self._setup_done = False
                self.subscriptions.clear()
                self.stats.resetups += 1
                self._send_setup()
        elif which == "control_failure":
            self._on_refused(pdu)
        elif which == "control_ack" or which == "keepalive" or which == "reset_response":
            pass
        else:
            self._send(ap.E2Pdu(transaction_id=pdu.transaction_id, slot=-1, error_indication=ap.ErrorIndication(
                cause=ap.Cause(code=ap.CAUSE_UNEXPECTED_MESSAGE, detail=f"an E2 node does not handle {which}"),
                transaction_id=pdu.transaction_id, procedure=which or "")))

    def _on_subscription(self, pdu: ap.E2Pdu) -> None:
        req = pdu.subscription_request
        unknown = [n for n in req.nodes if n not in self.row_of]
        period = max(int(req.trigger.period_slots), 1)
        if unknown or not req.nodes:
            self._send(ap.E2Pdu(transaction_id=pdu.transaction_id, slot=-1,
                                subscription_failure=ap.RicSubscriptionFailure(
                                    instance_id=req.instance_id,
                                    cause=ap.Cause(code=ap.CAUSE_UNKNOWN_NODE,
                                                   detail=f"not hosted here: {', '.join(unknown) or '(none)'}"))))
            return
        rows = np.array([self.row_of[n] for n in req.nodes], dtype=np.intp)
        self.subscriptions[req.instance_id] = Subscription(req.instance_id, list(req.nodes), rows, period)
        self._send(ap.E2Pdu(transaction_id=pdu.transaction_id, slot=-1,
                            subscription_response=ap.RicSubscriptionResponse(
                                instance_id=req.instance_id, ran_function_id=req.ran_function_id,
                                trigger=req.trigger,
                                admitted=[ap.SubscriptionItem(node=n, instance_id=req.instance_id)
                                          for n in req.nodes])))
        _log.info("subscribed instance=%d nodes=%d period_slots=%d", req.instance_id, len(rows), period)

    def _on_control(self, pdu: ap.E2Pdu) -> None:
        recv_ns = time.monotonic_ns()
        req = pdu.control_request
        if pdu.slot != self._slot:
            if pdu.slot < self._slot:
                self.stats.late += 1
            self._send(ap.E2Pdu(transaction_id=pdu.transaction_id, slot=pdu.slot, control_failure=ap.RicControlFailure(
                refused=[ap.ItemRefusal(node=n, cause=ap.Cause(
                    code=ap.CAUSE_STALE_SLOT, detail=f"control for slot {pdu.slot} at slot {self._slot}"))
                    for n in req.nodes])))
            self.stats.refused_by_node += len(req.nodes)
            return
        try:
            node_ids, controls = codec.decode_controls(req.control)
        except codec.CodecError as exc:
            self._send(ap.E2Pdu(transaction_id=pdu.transaction_id, slot=pdu.slot, error_indication=ap.ErrorIndication(
                cause=ap.Cause(code=ap.CAUSE_INVALID_VALUE, detail=str(exc)), transaction_id=pdu.transaction_id,
                procedure="control_request")))
            return
        rows = np.asarray(node_ids, dtype=np.intp)
        if rows.size and (rows.min() < 0 or rows.max() >= self.spec.n_nodes or not self._hosted[rows].all()):
            return
        target = self._controls
        target.user[0, rows] = controls.user[0]
        target.power_w[0, rows] = controls.power_w[0]
        target.mask[0, rows] = controls.mask[0]
        target.move_m[0, rows] = controls.move_m[0]
        self._got[rows] = True
        self.latency.add(pdu.t, recv_ns)
        if req.ack_requested:
            self._send(ap.E2Pdu(transaction_id=pdu.transaction_id, slot=pdu.slot,
                                control_ack=ap.RicControlAcknowledge(nodes=list(req.nodes))))

    def _on_refused(self, pdu: ap.E2Pdu) -> None:
        """The RIC refused an xApp's control for some of our nodes: stop waiting for it this slot."""
        if pdu.slot != self._slot:
            return
        rows = [self.row_of[item.node] for item in pdu.control_failure.refused if item.node in self.row_of]
        fresh = [r for r in rows if self._expected[r] and not self._got[r] and not self._refused[r]]
        self._refused[fresh] = True
        self.stats.refused_by_ric += len(fresh)

    # ------------------------------------------------------------------ the slot loop

    def _indicate(self, reports: Reports, slot: int) -> None:
        assert self._layout is not None
        if not self._setup_done:
            return
        for sub in self.subscriptions.values():
            if slot % sub.period_slots:
                continue
            pdu = ap.E2Pdu(slot=slot)
            ind = pdu.indication
            ind.instance_id = sub.instance_id
            ind.ran_function_id = codec.SLOT_RAN_FUNCTION_ID
            ind.nodes.extend(sub.names)
            ind.deadline_misses.extend(self._misses_since_report[sub.rows].tolist())
            self._misses_since_report[sub.rows] = 0
            codec.encode_reports(reports, sub.rows, layout=self._layout, out=ind.report)
            self._expected[sub.rows] = True
            pdu.t.node_sent = time.monotonic_ns()
            self._send(pdu)

    def _await_controls(self, deadline_ns: int) -> None:
        """Handle messages until every expected control is in or ``deadline_ns`` passes."""
        expected = self._expected
        while True:
            if not np.any(expected & ~self._got & ~self._refused):
                return
            left_s = (deadline_ns - time.monotonic_ns()) / 1e9
            if left_s <= 0:
                return
            pdu = self._recv(left_s)
            if pdu is not None:
                self._handle(pdu)

    def _drain(self) -> None:
        while (pdu := self._recv(0.0)) is not None:
            self._handle(pdu)

    def _resolve(self, reports: Reports) -> Controls:
        """This slot's controls: received ones, else last valid, else the default scheduler."""
        expected, got = self._expected, self._got
        n_expected = int(expected.sum())
        applied = expected & got
        self.stats.expected += n_expected
        self.stats.applied += int(applied.sum())
        missed = expected & ~got & ~self._refused
        n_missed = int(missed.sum())
        self.stats.missed += n_missed
        if n_missed and len(self.stats.missed_slots) < MISSED_SLOTS_KEPT:
            self.stats.missed_slots.append(self._slot)
        self._misses_since_report[missed] += 1
        self.stats.uncontrolled += int((self._hosted & ~expected).sum())
        need = self._hosted & ~applied
        if np.any(need):
            use_last = need & self._has_valid
            self.stats.fallback_last_valid += int((use_last & expected).sum())
            self.stats.fallback_default += int((need & ~self._has_valid & expected).sum())
            default = self.fallback(reports) if np.any(need & ~self._has_valid) else None
            for name in ("user", "power_w", "mask", "move_m"):
                out = getattr(self._controls, name)[0]
                out[use_last] = getattr(self._last_valid, name)[0][use_last]
                if default is not None:
                    fresh = need & ~self._has_valid
                    out[fresh] = getattr(default, name)[0][fresh]
        if np.any(applied):
            for name in ("user", "power_w", "mask", "move_m"):
                getattr(self._last_valid, name)[0][applied] = getattr(self._controls, name)[0][applied]
            self._has_valid |= applied
        return self._controls

    def run(self, slots: int, seed: int) -> dict[str, Any]:
        """Set up, wait for subscriptions, run ``slots`` slots; return KPIs, latency and misses."""
        cfg = self.config
        port = self.port
        reports = port.reset(seed)
        self._layout = codec.Layout.of_reports(reports)
        self.link = connect(cfg.ric, "e2", busy_poll=cfg.busy_poll)
        self._send_setup()
        self._wait_ready(reports)
        reports = port.start()
        accumulator = KpiAccumulator(self.spec, batch=1)
        started = time.monotonic()
        tick_ns = time.monotonic_ns()
        slot_ns = int(cfg.slot_wall_s * 1e9)
        next_progress = started + cfg.progress_interval_s
        for t in range(slots):
            self._slot = t
            self._got[:] = False
            self._expected[:] = False
            self._refused[:] = False
            self._indicate(reports, t)
            if cfg.mode == "realtime":
                deadline_ns = tick_ns + slot_ns if port.deadline_ns is None else port.deadline_ns
                self._await_controls(deadline_ns)
            else:
                self._await_controls(time.monotonic_ns() + int(cfg.lockstep_timeout_s * 1e9))
            controls = self._resolve(reports)
            reports, kpis = port.step(controls)
            if kpis is not None:
                accumulator.add(kpis)
            if cfg.progress_stream is not None and time.monotonic() >= next_progress:
                next_progress += cfg.progress_interval_s
                self._progress(t + 1, slots, started, accumulator)
            if cfg.mode == "realtime" and port.deadline_ns is None:
                tick_ns += slot_ns
                now = time.monotonic_ns()
                if now < tick_ns:
                    self._serve_until(tick_ns)
                elif now - tick_ns > 20 * slot_ns:
                    tick_ns = now  # far behind (e.g. the machine stalled): restart the clock
        self._slot = slots
        wall_s = time.monotonic() - started
        self._drain()
        queued_ages_s = port.queued_packet_ages_s()
        result: dict[str, Any] = {
            **({} if queued_ages_s is None else {"kpis": accumulator.summary(queued_ages_s)}),
            **self.latency.summary(),
            **self.stats.to_json(),
            "slots": slots,
            "wall_s": wall_s,
            "slots_per_s": slots / wall_s if wall_s > 0 else 0.0,
        }
        if cfg.progress_stream is not None:
            self._progress(slots, slots, started, accumulator)
        self._remove()
        return result

    def _serve_until(self, until_ns: int) -> None:
        """Handle control-plane messages (subscriptions, late controls) until ``until_ns``."""
        while (left_s := (until_ns - time.monotonic_ns()) / 1e9) > 0:
            pdu = self._recv(left_s)
            if pdu is not None:
                self._handle(pdu)

    def _wait_ready(self, reports: Reports) -> None:
        """Until every node is subscribed (or ``await_subscriptions_s``); resend Setup meanwhile."""
        deadline = time.monotonic() + self.config.await_subscriptions_s
        resend = time.monotonic() + 1.0
        while time.monotonic() < deadline:
            covered = ~self._hosted
            for sub in self.subscriptions.values():
                covered[sub.rows] = True
            if covered.all():
                # let the other subscriptions of the same xApps land before slot 0
                self._serve_until(time.monotonic_ns() + 50_000_000)
                return
            pdu = self._recv(0.05)
            if pdu is not None:
                self._handle(pdu)
            if not self._setup_done and time.monotonic() > resend:
                resend = time.monotonic() + 1.0
                self._send_setup()
        _log.warning("start_without_full_subscription subscribed_instances=%d", len(self.subscriptions))

    def _remove(self) -> None:
        if self.link is None:
            return
        try:
            self.link.send(ap.E2Pdu(transaction_id=self._next_txn(), slot=-1,
                                    removal_request=ap.E2RemovalRequest(nodes=self.names)))
            time.sleep(0.05)
        except TransportError:
            pass
        self.link.close()
        self.link = None

    def _progress(self, done: int, slots: int, started: float, accumulator: KpiAccumulator) -> None:
        st = self.stats
        write_progress(self.config.progress_stream or sys.stdout, done, slots, started, accumulator,
                       self.latency.decision_latency_us()[-2000:], st.expected, st.applied, st.missed, st.resetups)


def write_progress(stream: Any, done: int, slots: int, started: float, accumulator: KpiAccumulator,
                   recent_latency_us: np.ndarray, expected: int, applied: int, missed: int, resetups: int) -> None:
    """One JSON progress line (``{"progress": {...}}``) on ``stream``: what `ntnric run` shows live.

    ``monotonic_s`` is this host's `time.monotonic`, comparable across processes.
    """
    elapsed = max(time.monotonic() - started, 1e-9)
    duration_s = max(accumulator.slots * accumulator.spec.slot_s, 1e-12)
    tail = np.asarray(recent_latency_us)
    line = {
        "progress": {
            "slot": done,
            "slots": slots,
            "elapsed_s": elapsed,
            "monotonic_s": time.monotonic(),
            "slots_per_s": done / elapsed,
            "throughput_mbps": float(accumulator.delivered_bits.sum()) / duration_s / 1e6,
            "latency_p50_us": float(np.percentile(tail, 50)) if tail.size else 0.0,
            "latency_p99_us": float(np.percentile(tail, 99)) if tail.size else 0.0,
            "misses": missed,
            "expected": expected,
            "applied": applied,
            "resetups": resetups,
        }
    }
    stream.write(json.dumps(line) + "\n")
    stream.flush()
