"""One world served to nodes that run as their own processes (``ntnric sim --process-per-node``).

`WorldServer` owns the `World` (batch 1), the slot clock and the KPIs. Each node runs the E2
agent (`e2_sim.node.agent.E2Agent`) in its own process with its own RIC connection, E2
association and identity, and reaches the world through `RemoteWorld`, a `WorldPort` that hosts
exactly that node. Per slot the server sends every node its report, waits for the control each
node applied for that slot, assembles the `Controls` and steps the world.

Timing
------
``lockstep``
    The server waits for every node's control; a node waits for its xApp control up to its
    lockstep timeout. Same seed, same KPIs as ``ntnric eval``.
``realtime``
    The server ticks every ``slot_wall_s`` and sends each slot's reports with the slot's end as a
    deadline (``time.monotonic_ns``, one clock for every process on the host). The E2 deadline
    logic stays in the nodes: a node without a control by the deadline applies its fallback (its
    last valid control, or its local default scheduler computed from its own report; the other
    rows of its `Reports` are zero) and sends the server the control it applied.

Wire
----
ZeroMQ ROUTER here, one DEALER per node process with identity ``str(node_index)``. Frames are a
tag, then protobuf payloads of the SLOT service model (`ric.protocol.codec`) or fixed
little-endian structs; nothing is pickled.

=================  ======================================================================
node -> server
``hello``          the node process is up
``ready``          its node is set up at the RIC and subscribed
``control``        ``SlotControl`` (``N = 1``, the control applied), status ``<IIIIq``:
                   expected, applied, missed, resetups (the node's counters so far) and the
                   decision latency of this slot's control [ns] (0 = none arrived)
``result``         at the end: the node's counters (JSON) and its latency stamps (int64
                   ``(n, 11)``, as `e2_sim.node.timing.LatencyRecorder` keeps them)
server -> node
``world``          answer to ``hello``: ``<q`` seed, ``WorldSpec`` JSON, slot-0 ``SlotReport``
``slot``           ``<q`` deadline [ns] (0 in lockstep), the node's ``SlotReport``
``end``            the run is over
=================  ======================================================================
"""

from __future__ import annotations

import json
import logging
import os
import struct
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass, field, fields
from typing import Any

import numpy as np
import zmq

from e2_sim.kpi import KpiAccumulator
from e2_sim.node.agent import MISSED_SLOTS_KEPT, AgentStats, E2Agent, Mode, write_progress
from e2_sim.node.timing import LatencyRecorder
from e2_sim.world.base import SlotKpis, World
from ric.protocol import Controls, Reports, WorldSpec, codec
from ric.protocol.sm import REPORT_ARRAYS, NodeReport

_log = logging.getLogger("ntnric.world")

HELLO, READY, CONTROL, RESULT = b"hello", b"ready", b"control", b"result"
WORLD, SLOT, END = b"world", b"slot", b"end"
_STATUS = struct.Struct("<IIIIq")
_INT64 = struct.Struct("<q")
_POLL_MS = 200
_HWM_MSGS = 10_000
_RECENT_LATENCIES = 2000


class WorldServerError(RuntimeError):
    """A node process or the world server broke the run; the message is one line."""


def ipc_address(directory: str) -> str:
    """A ZeroMQ address for the world server inside ``directory`` (ipc where the OS has it)."""
    if zmq.has("ipc") and len(directory) < 90:
        return f"ipc://{os.path.join(directory, 'world.sock')}"
    return "tcp://127.0.0.1:*"


# ---------------------------------------------------------------------- server


@dataclass
class ServerConfig:
    """How the world server runs (see the module docstring)."""

    mode: Mode = "lockstep"
    slot_wall_s: float = 0.001
    ready_timeout_s: float = 120.0  # every node process up, set up and subscribed by then
    control_timeout_s: float = 60.0  # no control from a node for this long: the run fails
    progress_interval_s: float = 0.5
    progress_stream: Any = field(default=None)


class WorldServer:
    """Serves a world (batch 1) to one process per node over ZeroMQ.

    Parameters
    ----------
    world : World
        The world; reset by `run`.
    config : ServerConfig
        Timing mode and limits.
    address : str
        Where to bind the ROUTER (``ipc://PATH`` or ``tcp://127.0.0.1:*`` for a free port);
        `address` gives the bound endpoint.
    """

    def __init__(self, world: World, config: ServerConfig, address: str = "tcp://127.0.0.1:*") -> None:
        self.world = world
        self.spec = world.spec
        self.config = config
        self._sock: zmq.Socket[Any] = zmq.Context.instance().socket(zmq.ROUTER)
        self._sock.setsockopt(zmq.ROUTER_MANDATORY, 1)
        self._sock.setsockopt(zmq.SNDHWM, _HWM_MSGS)
        self._sock.setsockopt(zmq.RCVHWM, _HWM_MSGS)
        self._sock.setsockopt(zmq.LINGER, 0)
        try:
            self._sock.bind(address)
        except zmq.ZMQError as exc:
            self._sock.close(0)
            raise WorldServerError(f"cannot bind the world server to {address}: {exc}") from None
        self.address: str = self._sock.getsockopt_string(zmq.LAST_ENDPOINT)
        k = self.spec.n_nodes
        self._identities = [str(i).encode() for i in range(k)]
        self._index = {ident: i for i, ident in enumerate(self._identities)}
        self._control_layout = codec.control_layout(self.spec.n_resources)
        self._controls = Controls.off(1, k, self.spec.n_resources)
        self._status = np.zeros((k, 4), dtype=np.int64)  # expected, applied, missed, resetups
        self._recent_latency_us: list[float] = []
        self.latency = LatencyRecorder(capacity=1)
        self._check: Callable[[], None] = lambda: None

    def close(self) -> None:
        """Unbind (the node processes see the server go)."""
        if not self._sock.closed:
            self._sock.close(0)

    # ------------------------------------------------------------------ messages

    def _recv(self, until: float, what: str) -> tuple[int, list[bytes]]:
        """The next message of a known node (its index and frames after the identity)."""
        while True:
            if self._sock.poll(_POLL_MS):
                ident, *frames = self._sock.recv_multipart()
                node = self._index.get(ident)
                if node is None or not frames:
                    _log.warning("unknown_peer identity=%r", ident[:32])
                    continue
                return node, frames
            self._check()
            if time.monotonic() > until:
                raise WorldServerError(f"world server: no {what} within the time limit")

    def _send(self, node: int, frames: list[bytes]) -> None:
        try:
            self._sock.send_multipart([self._identities[node], *frames])
        except zmq.ZMQError as exc:
            raise WorldServerError(f"world server: node {node} unreachable: {exc}") from None

    def _report_frame(self, reports: Reports, node: int, layout: codec.Layout) -> bytes:
        return codec.encode_report(reports.node(node), layout).SerializeToString()

    def _gather(self, tag: bytes, timeout_s: float, reports: Reports | None, seed: int,
                layout: codec.Layout | None) -> list[list[bytes]]:
        """Wait for message ``tag`` from every node (answering ``hello`` meanwhile, while starting)."""
        k = self.spec.n_nodes
        got: list[list[bytes] | None] = [None] * k
        until = time.monotonic() + timeout_s
        while any(g is None for g in got):
            node, frames = self._recv(until, f"{tag.decode()} from every node")
            if frames[0] == HELLO and reports is not None and layout is not None:
                self._send(node, [WORLD, _INT64.pack(seed), self.spec.to_json().encode(),
                                  self._report_frame(reports, node, layout)])
            elif frames[0] == tag:
                got[node] = frames
            else:
                _log.warning("unexpected_message node=%d tag=%r", node, frames[0][:16])
        return [g for g in got if g is not None]

    def _collect_controls(self, slot: int) -> None:
        """Every node's applied control for ``slot``, into ``self._controls``."""
        k = self.spec.n_nodes
        got = np.zeros(k, dtype=bool)
        c = self._controls
        until = time.monotonic() + self.config.control_timeout_s
        while not got.all():
            node, frames = self._recv(until, f"control for slot {slot} from nodes "
                                             f"{np.flatnonzero(~got).tolist()}")
            if frames[0] != CONTROL or len(frames) != 3:
                _log.warning("unexpected_message node=%d tag=%r slot=%d", node, frames[0][:16], slot)
                continue
            try:
                control = codec.decode_control(frames[1], self._control_layout)
            except codec.CodecError as exc:
                raise WorldServerError(f"world server: node {node} sent a bad control: {exc}") from None
            if control.slot != slot or control.node_id != node:
                raise WorldServerError(f"world server: node {node} sent a control of node {control.node_id} "
                                       f"for slot {control.slot} at slot {slot}")
            c.user[0, node] = control.user
            c.power_w[0, node] = control.power_w
            c.mask[0, node] = control.mask
            c.move_m[0, node] = control.move_m
            expected, applied, missed, resetups, latency_ns = _STATUS.unpack(frames[2])
            self._status[node] = (expected, applied, missed, resetups)
            if latency_ns > 0:
                self._recent_latency_us.append(latency_ns / 1e3)
            got[node] = True
        if len(self._recent_latency_us) > 2 * _RECENT_LATENCIES:
            del self._recent_latency_us[:-_RECENT_LATENCIES]

    # ------------------------------------------------------------------ the slot loop

    def run(self, slots: int, seed: int, check: Callable[[], None] | None = None) -> dict[str, Any]:
        """Serve ``slots`` slots to the node processes; KPIs, merged latency and miss counters.

        Parameters
        ----------
        slots : int
            Slots to run (the node processes are started with the same number).
        seed : int
            World seed.
        check : callable, optional
            Called while waiting; raises when a node process died (`ntnric.launcher`).
        """
        cfg = self.config
        self._check = check or (lambda: None)
        k = self.spec.n_nodes
        reports = self.world.reset([seed])
        layout = codec.Layout.of_reports(reports)
        self._gather(READY, cfg.ready_timeout_s, reports, seed, layout)
        accumulator = KpiAccumulator(self.spec, batch=1)
        slot_ns = int(cfg.slot_wall_s * 1e9)
        realtime = cfg.mode == "realtime"
        started = time.monotonic()
        next_progress = started + cfg.progress_interval_s
        tick_ns = time.monotonic_ns()
        for t in range(slots):
            header = _INT64.pack(tick_ns + slot_ns if realtime else 0)
            for node in range(k):
                self._send(node, [SLOT, header, self._report_frame(reports, node, layout)])
            self._collect_controls(t)
            reports, kpis = self.world.step(self._controls)
            accumulator.add(kpis)
            if cfg.progress_stream is not None and time.monotonic() >= next_progress:
                next_progress += cfg.progress_interval_s
                self._progress(t + 1, slots, started, accumulator)
            if realtime:
                tick_ns += slot_ns
                now = time.monotonic_ns()
                if now < tick_ns:
                    time.sleep((tick_ns - now) / 1e9)
                elif now - tick_ns > 20 * slot_ns:
                    tick_ns = now  # far behind (e.g. the machine stalled): restart the clock
        wall_s = time.monotonic() - started
        for node in range(k):
            self._send(node, [END])
        results = self._gather(RESULT, cfg.control_timeout_s, None, seed, None)
        stats = AgentStats()
        for frames in results:
            counters = json.loads(frames[1])
            for f in fields(AgentStats):
                if f.name == "missed_slots":
                    stats.missed_slots = sorted({*stats.missed_slots, *counters[f.name]})[:MISSED_SLOTS_KEPT]
                else:
                    setattr(stats, f.name, getattr(stats, f.name) + int(counters[f.name]))
        self.latency = LatencyRecorder.merged([np.frombuffer(frames[2], dtype="<i8") for frames in results])
        if cfg.progress_stream is not None:
            self._progress(slots, slots, started, accumulator)
        return {
            "kpis": accumulator.summary(self.world.queued_packet_ages_s()),
            **self.latency.summary(),
            **stats.to_json(),
            "slots": slots,
            "wall_s": wall_s,
            "slots_per_s": slots / wall_s if wall_s > 0 else 0.0,
            "node_processes": k,
        }

    def _progress(self, done: int, slots: int, started: float, accumulator: KpiAccumulator) -> None:
        expected, applied, missed, resetups = (int(v) for v in self._status.sum(axis=0))
        write_progress(self.config.progress_stream or sys.stdout, done, slots, started, accumulator,
                       np.asarray(self._recent_latency_us[-_RECENT_LATENCIES:]), expected, applied, missed, resetups)


# ---------------------------------------------------------------------- node side


class RemoteWorld:
    """`WorldPort` of one node of a world served by a `WorldServer` in another process.

    Connecting asks the server for the world (`spec`) and the node's slot-0 report. The port's
    reports are ``(1, K, ...)`` arrays in which only the hosted node's row is filled.

    Parameters
    ----------
    address : str
        The server's ZeroMQ address.
    node : int
        World index of the hosted node.
    connect_timeout_s : float
        How long to wait for the server's answer [s].
    """

    def __init__(self, address: str, node: int, connect_timeout_s: float = 120.0) -> None:
        self.node = node
        self.hosted = np.array([node], dtype=np.intp)
        self.deadline_ns: int | None = None
        self.latency = LatencyRecorder()
        self._stats: AgentStats | None = None
        self._parent_pid = os.getppid()
        self._sock: zmq.Socket[Any] = zmq.Context.instance().socket(zmq.DEALER)
        self._sock.setsockopt(zmq.IDENTITY, str(node).encode())
        self._sock.setsockopt(zmq.SNDHWM, _HWM_MSGS)
        self._sock.setsockopt(zmq.RCVHWM, _HWM_MSGS)
        self._sock.setsockopt(zmq.LINGER, 2000)
        self._sock.connect(address)
        self._sock.send(HELLO)
        frames = self._recv(time.monotonic() + connect_timeout_s, WORLD)
        (self.seed,) = _INT64.unpack(frames[1])
        self.spec = WorldSpec.from_json(frames[2].decode())
        if not 0 <= node < self.spec.n_nodes:
            raise WorldServerError(f"node {node} is not in the world ({self.spec.n_nodes} nodes)")
        self._control_layout = codec.control_layout(self.spec.n_resources)
        self._reports = self._allocate(codec.decode_report(frames[3]))
        self._update(frames[3])
        self._slot = 0
        self._ended = False
        self._recorded = 0  # decisions already reported to the server

    def attach(self, agent: E2Agent) -> None:
        """Report ``agent``'s counters and decision latencies to the server with every control."""
        self._stats = agent.stats
        agent.latency = self.latency

    # ------------------------------------------------------------------ messages

    def _recv(self, until: float, *tags: bytes) -> list[bytes]:
        while True:
            if self._sock.poll(_POLL_MS):
                frames: list[bytes] = self._sock.recv_multipart()
                if frames and frames[0] in tags:
                    return frames
                _log.warning("unexpected_message tag=%r", frames[0][:16] if frames else b"")
                continue
            if os.getppid() != self._parent_pid:
                raise WorldServerError("the world server process is gone")
            if time.monotonic() > until:
                raise WorldServerError(f"no answer from the world server within the time limit ({tags[0].decode()})")

    def _allocate(self, first: NodeReport) -> Reports:
        k = self.spec.n_nodes
        arrays = {name: np.zeros((1, k, *np.shape(getattr(first, name))), dtype=getattr(first, name).dtype)
                  for name in REPORT_ARRAYS}
        extra = {name: np.zeros((1, k, *a.shape), dtype=a.dtype) for name, a in first.extra.items()}
        return Reports(slot=0, extra=extra, **arrays)

    def _update(self, frame: bytes) -> None:
        report = codec.decode_report(frame)
        if report.node_id != self.node:
            raise WorldServerError(f"the world server sent node {report.node_id}'s report to node {self.node}")
        r, k = self._reports, self.node
        r.slot = report.slot
        for name in REPORT_ARRAYS:
            getattr(r, name)[0, k] = getattr(report, name)
        for name, value in report.extra.items():
            r.extra[name][0, k] = value

    def _next_slot(self) -> None:
        frames = self._recv(float("inf"), SLOT, END)
        if frames[0] == END:
            self._ended = True
            return
        (deadline_ns,) = _INT64.unpack(frames[1])
        self.deadline_ns = deadline_ns or None
        self._update(frames[2])
        self._slot = self._reports.slot

    # ------------------------------------------------------------------ WorldPort

    def reset(self, seed: int) -> Reports:
        if seed != self.seed:
            raise WorldServerError(f"the world server runs seed {self.seed}, this node was started with {seed}")
        return self._reports

    def start(self) -> Reports:
        self._sock.send(READY)
        self._next_slot()
        return self._reports

    def step(self, controls: Controls) -> tuple[Reports, SlotKpis | None]:
        if self._ended:
            raise WorldServerError("the world server ended the run")
        control = controls.node(self.node, self._slot)
        data = codec.encode_control(control, self._control_layout).SerializeToString()
        s = self._stats
        counters = (s.expected, s.applied, s.missed, s.resetups) if s is not None else (0, 0, 0, 0)
        recorded = self.latency.count
        latency_ns = self.latency.last_latency_ns() if recorded > self._recorded else 0
        self._recorded = recorded
        self._sock.send_multipart([CONTROL, data, _STATUS.pack(*counters, max(latency_ns, 0))])
        self._next_slot()
        return self._reports, None

    def queued_packet_ages_s(self) -> list[np.ndarray] | None:
        return None

    def send_result(self, stats: AgentStats) -> None:
        """Send the server this node's counters and latency stamps, then disconnect."""
        counters = {f.name: getattr(stats, f.name) for f in fields(AgentStats)}
        self._sock.send_multipart([RESULT, json.dumps(counters).encode(),
                                   np.ascontiguousarray(self.latency.stamps(), dtype="<i8").tobytes()])
        self._sock.close()
