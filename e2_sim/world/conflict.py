"""Scheduling on a directed conflict graph: the ``conflict`` world.

Zhang & Guo, "Multi-agent reinforcement learning for multi-cell spectrum and power allocation",
§II-B: ``K`` agents (E2 nodes ``bs_0 .. bs_{K−1}``) each own ``U`` devices (device ``d`` is
user slot ``d mod U`` of node ``d div U``); a directed edge ``i → j`` means that device ``i``
transmitting on a subband breaks device ``j``'s transmission on that subband.

Per slot, on each of ``S`` subbands:

- control: each node picks one of its devices (``user``). The device is scheduled on the
  subband where ``user`` is a valid slot, ``mask`` holds, ``power_w > 0`` (its value is
  otherwise ignored) and the device has packets queued at the start of the slot; scheduling an
  empty device is ignored (it neither sends nor blocks anyone).
- collision model (eq. 3, per subband): a scheduled device with no scheduled in-neighbour on the
  subband sends one packet there; otherwise nothing gets through. A device scheduled cleanly on
  ``m`` subbands sends ``m`` packets.
- traffic: Poisson arrivals of ``load`` packets per slot per device at the start of each slot,
  FIFO queues of ``packet_bits``-bit packets (`e2_sim.traffic.packets`). The ``m`` packets of a
  slot leave at fractions 1/m, 2/m, …, 1 of the slot, so a packet sent alone in its arrival slot
  has a delay of one slot.

Reports (what they hold in a world without radio channels):

- ``gain`` (B, K, U, S, T): 1.0 where node ``T`` is the device's own node or owns a device with a
  conflict edge into it (its transmissions on that subband can break the device), else 0.
  Constant.
- ``queue_bits`` = packets × ``packet_bits``; ``queue_packets`` (B, K, U) after this slot's
  arrivals.
- ``interference_w`` (B, K, U, S): zeros (no radio model).
- ``spectral_efficiency_bps_hz`` (B, K, U, S): last slot, ``packet_bits / (W·slot_s)`` where the
  device sent a packet on the subband (1.0 in the preset), else 0.
- ``active`` all True; ``user_pos_m`` / ``node_pos_m``: the preset's drawing positions (z = 0).
- ``extra["scheduled"]`` (B, K, U, S) bool: which devices were scheduled last slot (after the
  empty-queue rule), e.g. for carrier-sensing baselines.

KPIs: delivered, arrived and dropped bits (drops only with ``buffer_packets > 0``); QoS: a device
violates QoS in a slot when its queue after service holds more than ``qos_max_queue_packets``
packets; ``spectral_efficiency_bps_hz`` = delivered bits / (slot_s · S · W).

``spec.static``: ``conflict_edges`` (list of directed device pairs [i, j]), ``neighbours`` (per
node, the neighbouring node ids), ``devices_per_node``, ``packet_bits``, ``qos_max_queue_packets``.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import numpy as np

from e2_sim.scenarios.base import ScenarioBase
from e2_sim.scenarios.conflict import ConflictScenario
from e2_sim.traffic.packets import PacketQueues, PoissonArrivals
from e2_sim.world.base import SlotKpis, World, check_controls, spawn_generators
from ric.protocol import Controls, NodeSpec, Reports, WorldSpec

_TRAFFIC = 0
_N_STREAMS = 1


def collision_success(scheduled: np.ndarray, conflict: np.ndarray) -> np.ndarray:
    """Which scheduled devices get their packet through (eq. 3 of the paper, per subband).

    Parameters
    ----------
    scheduled : ndarray of bool, (B, D, S)
        Device ``d`` scheduled on subband ``s``.
    conflict : ndarray of bool, (D, D)
        ``conflict[i, j]``: device ``i`` transmitting breaks device ``j``.

    Returns
    -------
    ndarray of bool, (B, D, S)
        Scheduled and no scheduled in-neighbour on the same subband.
    """
    blockers = np.matmul(conflict.T.astype(np.float32), scheduled.astype(np.float32))
    return scheduled & (blockers == 0.0)


class ConflictWorld(World):
    """``B`` copies of a conflict-graph scheduling scenario (model in the module docstring).

    Parameters
    ----------
    scenario : ConflictScenario
        A validated ``conflict`` scenario.
    load : float
        Poisson arrivals per slot per device [packets/slot].
    genie_csi : bool
        Accepted for the common signature; the conflict graph has no channel to be stale.
    """

    def __init__(self, scenario: ScenarioBase, load: float, genie_csi: bool = False) -> None:
        if not isinstance(scenario, ConflictScenario):
            raise ValueError(f"ConflictWorld needs a 'conflict' scenario, got world kind {scenario.world!r}")
        if not (math.isfinite(load) and load >= 0.0):
            raise ValueError(f"load must be a finite number >= 0 ({scenario.load_unit}), got {load}")
        self.scenario = scenario
        self.load = float(load)
        self.genie_csi = bool(genie_csi)
        self.batch = 0
        self.slot = 0
        sc = scenario
        k, u, s = sc.n_nodes, sc.devices_per_node, sc.n_subbands
        d = k * u
        self.n_nodes, self.n_users, self.n_subbands, self.n_devices = k, u, s, d
        self.edges = sc.directed_edges
        device_node = np.arange(d) // u
        conflict = np.zeros((d, d), dtype=bool)  # [i, j]: device i breaks device j
        reaches = np.zeros((d, k), dtype=bool)  # [j, t]: node t can break device j
        for i, j in self.edges:
            conflict[i, j] = True
            reaches[j, device_node[i]] = True
        reaches[np.arange(d), device_node] = True
        self.conflict = conflict
        self._gain = np.repeat(reaches.astype(np.float32).reshape(k, u, 1, k), s, axis=2)  # (K, U, S, T)
        self.packet_bits = sc.packet_bits
        self._efficiency_per_packet = sc.packet_bits / (sc.subband_bandwidth_hz * sc.slot_s)
        self._efficiency_per_bit = 1.0 / (sc.slot_s * s * sc.subband_bandwidth_hz)
        self._slot_rank1 = (np.arange(d) % u + 1)[:, None]  # (D, 1): local slot + 1
        self._node_first_slot = (np.arange(k) * u)[:, None]  # (K, 1)

        self.arrivals = PoissonArrivals(np.full(d, self.load))
        self.queues = PacketQueues(d, sc.packet_bits, sc.slot_s, sc.buffer_packets)
        nodes = tuple(
            NodeSpec(
                node_id=i,
                name=f"bs_{i}",
                kind="gnb",
                n_users=u,
                n_resources=s,
                max_power_dbm=sc.nominal_power_dbm,
                power_levels_dbm=(sc.nominal_power_dbm,),
            )
            for i in range(k)
        )
        self.spec = WorldSpec(
            scenario=sc.name,
            world_kind="conflict",
            slot_s=sc.slot_s,
            n_users_max=u,
            n_resources=s,
            resource_bandwidth_hz=sc.subband_bandwidth_hz,
            noise_dbm=sc.noise_dbm,
            nodes=nodes,
            static={
                "conflict_edges": [[i, j] for i, j in self.edges],
                "neighbours": [list(row) for row in sc.neighbours],
                "devices_per_node": [u] * k,
                "packet_bits": sc.packet_bits,
                "qos_max_queue_packets": sc.qos_max_queue_packets,
            },
        )
        self._batch_first_slot = np.zeros((0, k, 1), dtype=np.int64)

    def _shared(self, array: np.ndarray) -> np.ndarray:
        """``array`` broadcast over the batch, copied once and frozen (reports share it)."""
        out = np.ascontiguousarray(np.broadcast_to(array, (self.batch, *array.shape)))
        out.flags.writeable = False
        return out

    def _reports(self, scheduled: np.ndarray, success: np.ndarray) -> Reports:
        b, k, u, s = self.batch, self.n_nodes, self.n_users, self.n_subbands
        return Reports(
            slot=self.slot,
            gain=self._gain_b,
            queue_bits=self.queues.queue_bits.astype(np.float32).reshape(b, k, u),
            queue_packets=self.queues.queue_packets.astype(np.float32).reshape(b, k, u),
            interference_w=self._zeros_kus,
            spectral_efficiency_bps_hz=(success * np.float32(self._efficiency_per_packet)).reshape(b, k, u, s),
            active=self._active,
            user_pos_m=self._user_pos,
            node_pos_m=self._node_pos,
            extra={"scheduled": scheduled.reshape(b, k, u, s)},
        )

    def reset(self, seeds: Sequence[int]) -> Reports:
        if len(seeds) == 0:
            raise ValueError("reset needs at least one seed")
        streams = spawn_generators(seeds, _N_STREAMS)
        self.batch = b = len(seeds)
        self.slot = 0
        k, u, s, d = self.n_nodes, self.n_users, self.n_subbands, self.n_devices
        sc = self.scenario
        self._gain_b = self._shared(self._gain)
        self._zeros_kus = self._shared(np.zeros((k, u, s), dtype=np.float32))
        self._active = self._shared(np.ones((k, u), dtype=bool))
        user_pos = np.zeros((k, u, 3), dtype=np.float32)
        user_pos[..., :2] = np.asarray(sc.device_positions_m, dtype=np.float32).reshape(k, u, 2)
        node_pos = np.zeros((k, 3), dtype=np.float32)
        node_pos[:, :2] = np.asarray(sc.node_positions_m, dtype=np.float32)
        self._user_pos = self._shared(user_pos)
        self._node_pos = self._shared(node_pos)
        self._batch_first_slot = np.arange(b)[:, None, None] * d + self._node_first_slot[None]

        self.arrivals.reset(streams[_TRAFFIC])
        self.queues.reset(b)
        self._arrived = self.arrivals.draw()
        dropped = self.queues.arrive(self._arrived, 0)
        self._dropped_bits = self._shared(np.zeros((k, u)))
        if self.queues.buffer_packets:
            self._dropped_bits = (dropped * float(self.packet_bits)).reshape(b, k, u)
        nothing = np.zeros((b, d, s), dtype=bool)
        return self._reports(nothing, nothing)

    def step(self, controls: Controls) -> tuple[Reports, SlotKpis]:
        if self.batch == 0:
            raise RuntimeError("step() called before reset()")
        check_controls(controls, self.batch, self.spec)
        b, k, u = self.batch, self.n_nodes, self.n_users
        t = self.slot
        queues = self.queues

        chosen = controls.user.astype(np.intp)
        on = (chosen >= 0) & (chosen < u) & controls.mask & (controls.power_w > 0)
        chosen *= on
        on &= queues.queue_packets.reshape(-1)[self._batch_first_slot + chosen] > 0
        chosen += 1
        chosen *= on  # local slot + 1 where scheduled, 0 elsewhere
        scheduled = chosen.repeat(u, axis=1) == self._slot_rank1  # (B, D, S)
        success = collision_success(scheduled, self.conflict)
        packets = success.sum(axis=-1)
        delivered, delays, per_world = queues.serve(packets * self.packet_bits, t)

        shape = (b, k, u)
        ends = per_world.cumsum().tolist()
        kpis = SlotKpis(
            delivered_bits=delivered.astype(np.float64).reshape(shape),
            arrived_bits=(self._arrived * float(self.packet_bits)).reshape(shape),
            dropped_bits=self._dropped_bits,
            active=self._active,
            qos_checked=self._active,
            qos_violated=(queues.queue_packets > self.scenario.qos_max_queue_packets).reshape(shape),
            spectral_efficiency_bps_hz=delivered.sum(axis=1) * self._efficiency_per_bit,
            packet_delays_s=[delays[start:end] for start, end in zip([0, *ends[:-1]], ends, strict=True)],
            extra={"packets_sent": packets.reshape(shape)},
        )

        self._arrived = self.arrivals.draw()
        dropped = queues.arrive(self._arrived, t + 1)
        if queues.buffer_packets:
            self._dropped_bits = (dropped * float(self.packet_bits)).reshape(shape)
        self.slot = t + 1
        return self._reports(scheduled, success), kpis

    def queued_packet_ages_s(self) -> list[np.ndarray]:
        """Ages at the start of the current slot of every packet still queued, per world [s]."""
        return self.queues.queued_packet_ages_s(self.slot)
