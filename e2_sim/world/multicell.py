"""Delay-driven multi-cell downlink with spectrum and power allocation: the ``multicell`` world.

Zhang & Guo, "Multi-agent reinforcement learning for multi-cell spectrum and power allocation",
§II-C (cellular network model) and §IV (Table I), as implemented by the authors' public code
(presets ``hex19`` and ``random19``).

``K`` APs (E2 nodes ``bs_0 .. bs_{K−1}``, kind ``gnb``) serve ``N`` devices, each associated
with its nearest AP, on ``S`` orthogonal subbands of bandwidth ``W``. User slot ``u`` of node
``k`` is the ``u``-th device of AP ``k`` (devices ordered by their index in the layout); the
padded axis is ``U = max_devices_per_ap`` and unused slots are inactive.

Per slot ``t`` (duration ``T``):

- control: per AP and subband one of its own devices (``user``) and a power ``power_w``. The AP
  transmits on subband ``s`` only where ``user`` is an active slot of the node, ``mask`` holds,
  ``power_w > 0`` (NaN is off) and the chosen device has packets queued at the start of the slot
  (an AP with nothing to send stays silent, as in the authors' code); the power is clipped to
  ``max_power_dbm``. A device may be served on several subbands.
- channel: ``g_{k→n,s} = α_{k→n}·|β_{k→n,s}|²`` with α the LTE macro path loss
  128.1 + 37.6·log10(d/1 km) dB (no shadowing) and β a complex Gauss–Markov Rayleigh process
  per (AP, device, subband) with ρ = J0(2π·f_d·T) and innovation power
  ``fading_innovation_power`` (`e2_sim.channel.fading`).
- SINR of device ``n`` of AP ``a`` on ``s`` when ``a`` serves it there:
  ``p_{a,s}·g_{a→n,s} / (Σ_{k≠a} p_{k,s}·g_{k→n,s} + σ²)``, clipped to
  ``[sinr_min_db, sinr_max_db]`` (so a served link gets at least log2(1.01) bit/s/Hz). Bits it
  can receive in the slot: ``floor(Σ_s log2(1 + SINR_s)·W·T)`` (`multicell_bits`). The other
  APs' sum is formed without the own AP's term (never as total − signal), so it stays exact to
  float32 rounding of the interference itself even at 80 dB SNR.
- traffic: Poisson packet arrivals of rate λ = ``load`` [packets/s] per device at the start of
  each slot, packets of ``packet_bits``, FIFO queues with per-packet delay accounting
  (`e2_sim.traffic.packets`): a packet's delay ends when its last bit is delivered, at the
  fraction of the slot its last bit took.

Reports for slot ``t`` (after slot ``t``'s arrivals):

- ``gain`` (B, K, U, S, T): α·|β|² from every AP ``T`` to each device; the channel of slot
  ``t − 1`` (one slot old, as the paper's delayed CSI), or slot ``t``'s own channel with genie CSI.
  The channel of slot ``t`` is the same in both modes for the same seed. Zero for inactive slots.
- ``queue_bits`` / ``queue_packets`` (B, K, U): backlog after this slot's arrivals.
- ``interference_w`` (B, K, U, S): what the device received on each subband last slot apart from
  its own signal, plus noise: inter-cell interference, and its own AP's transmission to another
  of its devices on that subband. Noise alone before the first slot. Zero for inactive slots.
- ``spectral_efficiency_bps_hz`` (B, K, U, S): log2(1 + SINR) achieved last slot, 0 where the
  device was not served. This and ``interference_w`` are views of subband-major arrays (the
  world computes per subband), not C-contiguous.
- ``active`` (B, K, U); ``user_pos_m`` (B, K, U, 3) devices on the ground (z = 0);
  ``node_pos_m`` (B, K, 3) APs at ``ap_height_m`` (0 in the presets: ground-level APs, so path
  loss uses the 2-D distance like the authors' code). Read-only arrays shared by every slot.
- ``extra["tx_power_w"]`` (B, K, S): the power each AP transmitted on each subband last slot [W]
  (after the silence and clipping rules): the paper's observation of the previous action.

KPIs: ``delivered_bits`` are the bits sent to each device; ``arrived_bits`` the bits that arrived
at the start of the slot; ``dropped_bits`` arrivals refused by a full buffer (only with
``buffer_packets > 0``). QoS: a device violates QoS in a slot when its queue after the slot's
service holds more than ``qos_max_queue_packets`` packets, the condition on which the paper's
training stops an episode. ``spectral_efficiency_bps_hz`` = delivered bits / (T · S · W).
``extra["tx_power_w"]`` (B, K, S) as in the reports.

``spec.static``: ``neighbours`` (list per node of neighbouring node ids: APs ``a`` and ``k`` are
neighbours when for some device ``n`` of one of them the other's path loss to ``n`` is within
``neighbour_threshold_db`` of its own AP's, PL(other→n) − PL(own→n) < threshold, made symmetric
as in the authors' code), ``devices_per_node``, ``packet_bits``, ``sinr_clip_db``,
``qos_max_queue_packets``, ``fading_rho``, ``layout``, ``fitlinq`` (the scenario's Fair-ITLinQ
thresholds ``eta``, ``eta_bar``, ``c``, ``c_bar``, ``snr_threshold_lin``).

Speed: the fading, path gains and own-AP gains of a block of slots are computed at once
(`GaussMarkovRayleigh.power_block`); arrivals are drawn and queued a block at a time. A slot is
then a fixed sequence of numpy calls on ``(B, K, S)`` and subband-major ``(B, S, K·U)`` arrays.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import numpy as np

from e2_sim.channel.fading import GaussMarkovRayleigh, gauss_markov_rho
from e2_sim.channel.pathloss import db_to_lin, dbm_to_watt, lte_macro_db
from e2_sim.geometry.layouts import CellLayout, hexagonal_layout, random_layout
from e2_sim.scenarios.base import ScenarioBase
from e2_sim.scenarios.multicell import MulticellScenario
from e2_sim.traffic.packets import PacketQueues, PoissonArrivals
from e2_sim.world.base import SlotKpis, World, check_controls, spawn_generators
from ric.protocol import Controls, NodeSpec, Reports, WorldSpec

# generators spawned per world, in this order
_FADING, _TRAFFIC = range(2)
_N_STREAMS = 2
# arrivals are written into the queues ahead for about this many (slot, queue) pairs at a time
_PRELOAD_QUEUE_SLOTS = 1 << 16


def multicell_bits(
    signal_w: np.ndarray,
    interference_w: np.ndarray,
    noise_w: float,
    served: np.ndarray,
    sinr_clip_db: tuple[float, float],
    bandwidth_hz: float,
    slot_s: float,
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Interference plus noise, spectral efficiency and bits of every device.

    Parameters
    ----------
    signal_w : ndarray, (..., S)
        Power received from the own AP where it serves the device, 0 elsewhere [W].
    interference_w : ndarray, (..., S)
        Power received from every transmission not meant for the device on each subband [W].
    noise_w : float
        Noise power per subband [W].
    served : ndarray of bool, (..., S)
        Whether the device is served on each subband.
    sinr_clip_db : (float, float)
        SINR range [dB] applied before the rate.
    bandwidth_hz, slot_s : float
        Subband bandwidth W [Hz] and slot duration T [s].

    Returns
    -------
    interference_plus_noise_w : ndarray, float64, (..., S)
        ``interference_w + noise_w`` [W].
    spectral_efficiency_bps_hz : ndarray, float64, (..., S)
        log2(1 + clip(SINR)) where served, else 0 [bit/s/Hz].
    bits : ndarray, int64, (...)
        floor(Σ_s spectral efficiency · W · T) [bit].
    """
    total = np.add(interference_w, noise_w, dtype=np.float64)
    efficiency = np.add(total, signal_w, dtype=np.float64)
    _efficiency_in_place(efficiency, total, _ratio_clip(sinr_clip_db))
    efficiency *= served
    bits = efficiency.sum(axis=-1)
    bits *= bandwidth_hz * slot_s
    return total, efficiency, bits.astype(np.int64)  # truncation = floor (>= 0)


def _ratio_clip(sinr_clip_db: tuple[float, float]) -> tuple[float, float]:
    """The SINR range as a range of 1 + SINR (linear)."""
    return 1.0 + 10.0 ** (sinr_clip_db[0] / 10.0), 1.0 + 10.0 ** (sinr_clip_db[1] / 10.0)


def _efficiency_in_place(received: np.ndarray, total: np.ndarray, ratio_clip: tuple[float, float]) -> None:
    """Turn ``received`` = signal + interference + noise into log2(1 + clip(SINR)) [bit/s/Hz]."""
    np.divide(received, total, out=received)
    np.maximum(received, ratio_clip[0], out=received)
    np.minimum(received, ratio_clip[1], out=received)
    np.log2(received, out=received)


def neighbour_lists(pathloss_db: np.ndarray, device_node: np.ndarray, threshold_db: float) -> list[list[int]]:
    """Neighbouring APs by the path-loss margin rule (see the module docstring).

    Parameters
    ----------
    pathloss_db : ndarray, (K, N)
        Path loss from every AP to every device [dB].
    device_node : ndarray of int, (N,)
        Serving AP of each device.
    threshold_db : float
        Margin below which another AP counts as a strong interferer [dB].
    """
    n_nodes, n_devices = pathloss_db.shape
    own = pathloss_db[device_node, np.arange(n_devices)]
    strong = (pathloss_db - own) < threshold_db  # (K, N): AP k reaches device n within the margin
    strong[device_node, np.arange(n_devices)] = False
    serves = np.zeros((n_nodes, n_devices), dtype=bool)
    serves[device_node, np.arange(n_devices)] = True
    directed = (serves.astype(np.int64) @ strong.T.astype(np.int64)) > 0  # [a, k]: k interferes with a device of a
    mutual = directed | directed.T
    np.fill_diagonal(mutual, False)
    return [np.flatnonzero(row).tolist() for row in mutual]


def build_layout(scenario: MulticellScenario) -> CellLayout:
    """The fixed deployment of ``scenario`` (seeded by ``deployment_seed``)."""
    if scenario.layout == "hexagonal" and scenario.hexagonal is not None:
        hexagonal = scenario.hexagonal
        return hexagonal_layout(
            scenario.n_aps,
            scenario.n_devices // scenario.n_aps,
            scenario.cell_radius_m,
            hexagonal.min_device_distance_m,
            hexagonal.max_device_distance_m,
            scenario.deployment_seed,
        )
    if scenario.layout == "random" and scenario.random is not None:
        rand = scenario.random
        return random_layout(
            scenario.n_aps,
            scenario.n_devices,
            scenario.cell_radius_m,
            rand.site_offset_max_m,
            rand.device_square_m,
            rand.min_devices_per_ap,
            rand.max_devices_per_ap,
            scenario.deployment_seed,
        )
    raise ValueError(f"layout {scenario.layout!r} has no [{scenario.layout}] section")


class MulticellWorld(World):
    """``B`` copies of a multi-cell spectrum/power scenario (model in the module docstring).

    Parameters
    ----------
    scenario : MulticellScenario
        A validated ``multicell`` scenario.
    load : float
        Poisson packet arrival rate λ per device [packets/s].
    genie_csi : bool
        Reports carry the channel the controls will meet instead of last slot's.
    """

    def __init__(self, scenario: ScenarioBase, load: float, genie_csi: bool = False) -> None:
        if not isinstance(scenario, MulticellScenario):
            raise ValueError(f"MulticellWorld needs a 'multicell' scenario, got world kind {scenario.world!r}")
        if not (math.isfinite(load) and load >= 0.0):
            raise ValueError(f"load must be a finite number >= 0 ({scenario.load_unit}), got {load}")
        self.scenario = scenario
        self.load = float(load)
        self.genie_csi = bool(genie_csi)
        self.batch = 0
        self.slot = 0
        sc = scenario
        layout = build_layout(sc)
        k, u, s = sc.n_aps, sc.max_devices_per_ap, sc.n_subbands
        n = layout.device_xy_m.shape[0]
        self.n_nodes, self.n_users, self.n_subbands, self.n_devices = k, u, s, n
        self.slot_s = sc.slot_s
        self.bandwidth_hz = sc.subband_bandwidth_hz
        self.noise_w = float(dbm_to_watt(sc.noise_dbm))
        self.max_power_w = np.float32(dbm_to_watt(sc.max_power_dbm))
        self.sinr_clip_db = (sc.sinr_min_db, sc.sinr_max_db)
        self.layout = layout

        # device n ↔ user slot d = k·U + u (u = rank of n among its AP's devices)
        counts = layout.devices_per_site
        first = np.cumsum(counts) - counts
        local = np.arange(n) - first[layout.device_site]
        self.device_slot = layout.device_site * u + local  # (N,)
        n_slots = k * u
        self.slot_active = np.zeros(n_slots, dtype=bool)
        self.slot_active[self.device_slot] = True
        self._identity_slots = bool(n == n_slots and np.array_equal(self.device_slot, np.arange(n)))
        row_of_slot = np.zeros(n_slots, dtype=np.intp)
        row_of_slot[self.device_slot] = np.arange(n)
        self._row_of_slot = row_of_slot

        # geometry and large-scale gains
        self.node_pos_m = np.column_stack([layout.site_xy_m, np.full(k, sc.ap_height_m)])  # (K, 3)
        user_pos = np.zeros((n_slots, 3))
        user_pos[self.device_slot, :2] = layout.device_xy_m
        self.user_pos_m = user_pos  # (K·U, 3)
        distance_m = np.sqrt(layout.distance_m() ** 2 + sc.ap_height_m**2)  # (T, N)
        self.pathloss_db = lte_macro_db(distance_m)
        # α per user slot, repeated over subbands: (K·U, S·T), zero for inactive slots
        path_gain = np.zeros((n_slots, s, k), dtype=np.float32)
        path_gain[self.device_slot] = db_to_lin(-self.pathloss_db).T[:, None, :]
        self._path_gain = path_gain.reshape(-1)
        self.neighbours = neighbour_lists(self.pathloss_db, layout.device_site, sc.neighbour_threshold_db)

        # per-slot index helpers. Arrays over (device slot, subband) are kept subband-major,
        # (B, S, K·U), inside a slot: sums over subbands and the interference matmul are then
        # plain row operations.
        slot_node = np.arange(n_slots) // u
        own_index = np.arange(n_slots)[None, :] * (s * k) + np.arange(s)[:, None] * k + slot_node[None, :]
        self._own_index = own_index.reshape(-1)  # (S·K·U,): flat index of g[d, s, node(d)] in (K·U, S, T)
        self._slot_active_sd = self.slot_active[None, :]  # (1, K·U)
        self._efficiency_per_bit = 1.0 / (sc.slot_s * s * sc.subband_bandwidth_hz)
        self._bits_per_efficiency = sc.subband_bandwidth_hz * sc.slot_s
        self._ratio_clip = _ratio_clip(self.sinr_clip_db)
        self._packet_bits_f = float(sc.packet_bits)
        self._qos_max_queue_packets = sc.qos_max_queue_packets
        self._max_user = np.uint64(u)
        self._last_user = np.uint64(u - 1)
        self._no_power = np.float32(0.0)

        self.rho = gauss_markov_rho(sc.doppler_hz, sc.slot_s)
        self.fading = GaussMarkovRayleigh((n, s, k), self.rho, sc.fading_innovation_power)
        rate = np.where(self.slot_active, self.load * sc.slot_s, 0.0)
        self.arrivals = PoissonArrivals(rate)
        self.queues = PacketQueues(n_slots, sc.packet_bits, sc.slot_s, sc.buffer_packets)
        self.packet_bits = sc.packet_bits

        nodes = tuple(
            NodeSpec(
                node_id=i,
                name=f"bs_{i}",
                kind="gnb",
                n_users=int(counts[i]),
                n_resources=s,
                max_power_dbm=sc.max_power_dbm,
                power_levels_dbm=tuple(sc.power_levels_dbm),
            )
            for i in range(k)
        )
        self.spec = WorldSpec(
            scenario=sc.name,
            world_kind="multicell",
            slot_s=sc.slot_s,
            n_users_max=u,
            n_resources=s,
            resource_bandwidth_hz=sc.subband_bandwidth_hz,
            noise_dbm=sc.noise_dbm,
            nodes=nodes,
            static={
                "neighbours": self.neighbours,
                "devices_per_node": counts.tolist(),
                "packet_bits": sc.packet_bits,
                "sinr_clip_db": [sc.sinr_min_db, sc.sinr_max_db],
                "qos_max_queue_packets": sc.qos_max_queue_packets,
                "fading_rho": self.rho,
                "layout": sc.layout,
                "fitlinq": sc.fitlinq.model_dump(),
            },
        )
        # channel of the current slot (views into the block of slots computed at once)
        empty = np.zeros((0, 0, k, u, s, k), dtype=np.float32)
        self._gain_block = empty  # (R, B, K, U, S, T)
        self._own_block = empty.reshape(0, 0, s, k * u)  # (R, B, S, K·U)
        self._others_block = empty.reshape(0, 0, k * u, s, k).transpose(0, 1, 3, 2, 4)  # (R, B, S, K·U, T)
        self._own_positions = np.zeros((0, 0, s, k * u), dtype=np.intp)  # (R, B, S, K·U) in the block
        self._block_next = 0
        self._arrival_block = np.zeros((0, 0, k * u), dtype=np.int64)  # (R, B, K·U) Poisson counts
        self._arrival_next = self._preloaded_until = 0
        self._gain_now = np.zeros((0, k, u, s, k), dtype=np.float32)  # (B, K, U, S, T)
        self._own_now = np.zeros((0, s, k * u), dtype=np.float32)  # (B, S, K·U)
        self._others_now = self._others_block[0:0].reshape(0, s, k * u, k)  # (B, S, K·U, T)

    # ------------------------------------------------------------------------------------------
    def _gain(self, fading_power: np.ndarray) -> np.ndarray:
        """Path gain × fading, (..., K·U·S·T) float32, a new array, from |β|² (..., N, S, T)."""
        lead = fading_power.shape[:-3]
        if self._identity_slots:
            gain = fading_power.reshape(*lead, -1) * self._path_gain
        else:
            power = fading_power.reshape(*lead, self.n_devices, -1)
            gain = power.take(self._row_of_slot, axis=-2).reshape(*lead, -1)
            gain *= self._path_gain
        return gain

    def _fill_block(self) -> None:
        """Channels of the next ``fading.block_slots`` slots: gains, own-AP gains, others' gains."""
        b, k, u, s = self.batch, self.n_nodes, self.n_users, self.n_subbands
        slots = self._block_slots
        if self._identity_slots:  # devices are the user slots: the fading process applies the path gain
            gain = self.fading.power_block(slots, self._path_gain).reshape(slots, b, -1)
        else:
            gain = self._gain(self.fading.power_block(slots))  # (R, B, K·U·S·T)
        self._gain_block = gain.reshape(slots, b, k, u, s, k)
        self._gain_flat = gain.reshape(-1)
        self._own_block = self._gain_flat.take(self._own_positions)  # (R, B, S, K·U)
        self._others_block = gain.reshape(slots, b, k * u, s, k).transpose(0, 1, 3, 2, 4)
        self._block_next = 0

    def _advance_channel(self) -> None:
        """Move the current channel to the next slot."""
        if self._block_next == self._gain_block.shape[0]:
            self._fill_block()
        j = self._block_next
        self._gain_now = self._gain_block[j]
        self._own_now = self._own_block[j]
        self._others_now = self._others_block[j]
        self._own_positions_now = self._own_positions[j]
        self._block_next = j + 1

    def _arrive(self, slot: int) -> None:
        """Poisson arrivals at the start of ``slot``, drawn and (unbounded queues) written into the
        queues a block of slots at a time."""
        b, k, u = self.batch, self.n_nodes, self.n_users
        if self._arrival_next == self._arrival_block.shape[0]:
            self._arrival_block = self.arrivals.draw_block()
            self._arrival_next = self._preloaded_until = 0
            self._arrived_block = (self._arrival_block * self._packet_bits_f).reshape(-1, b, k, u)
        j = self._arrival_next
        if j == self._preloaded_until and not self.queues.buffer_packets:
            # a few slots at a time, so that the preload's per-packet arrays stay cache-sized
            self._preloaded_until = min(j + max(1, _PRELOAD_QUEUE_SLOTS // (b * k * u)), len(self._arrival_block))
            self.queues.preload(self._arrival_block[j : self._preloaded_until], slot)
        dropped = self.queues.arrive(self._arrival_block[j], slot)
        self._arrived_bits = self._arrived_block[j]
        if self.queues.buffer_packets:
            self._dropped_bits = (dropped * self._packet_bits_f).reshape(b, k, u)
        self._arrival_next = j + 1

    def _shared(self, array: np.ndarray) -> np.ndarray:
        """``array`` broadcast over the batch, copied once and frozen (reports share it)."""
        out = np.ascontiguousarray(np.broadcast_to(array, (self.batch, *array.shape)))
        out.flags.writeable = False
        return out

    # ------------------------------------------------------------------------------------------
    def reset(self, seeds: Sequence[int]) -> Reports:
        if len(seeds) == 0:
            raise ValueError("reset needs at least one seed")
        streams = spawn_generators(seeds, _N_STREAMS)
        self.batch = b = len(seeds)
        self.slot = 0
        k, u, s = self.n_nodes, self.n_users, self.n_subbands
        shape = (b, k, u)
        self._active = self._shared(self.slot_active.reshape(k, u))
        self._user_pos = self._shared(self.user_pos_m.reshape(k, u, 3).astype(np.float32))
        self._node_pos = self._shared(self.node_pos_m.astype(np.float32))

        gain_before = self._gain(self.fading.reset(streams[_FADING])).reshape(b, k, u, s, k)  # slot −1
        self._block_slots = self.fading.block_slots
        self._gain_block = self._gain_block[:0]
        n_gains = k * u * s * k
        self._own_positions = (
            (
                (np.arange(self._block_slots)[:, None, None] * b + np.arange(b)[None, :, None]) * n_gains
                + self._own_index[None, None, :]
            )
            .astype(np.intp)
            .reshape(self._block_slots, b, s, k * u)
        )
        self._block_next = 0
        self._advance_channel()  # slot 0
        self.arrivals.reset(streams[_TRAFFIC])
        self.queues.reset(b)
        self._queue_bits = self.queues.queue_bits.reshape(shape)  # views of the queues' state
        self._queue_packets = self.queues.queue_packets.reshape(shape)
        # flat positions of node k's user slot 0 for each (world, node, subband) of a control:
        # in the queues (B·K·U) and in a (B, S, K·U) array
        world, node, subband = np.ogrid[:b, :k, :s]
        self._queue_base = np.broadcast_to(world * (k * u) + node * u, (b, k, s)).astype(np.intp)
        self._sd_offset = np.broadcast_to(world * ((s - 1) * k * u) + subband * (k * u), (b, k, s)).astype(np.intp)
        self._arrival_block = np.zeros((0, b, k * u), dtype=np.int64)
        self._arrival_next = self._preloaded_until = 0
        self._dropped_bits = self._shared(np.zeros((k, u)))
        self._arrive(0)

        noise = np.where(self.slot_active, self.noise_w, 0.0).astype(np.float32).reshape(k, u, 1)
        return Reports(
            slot=0,
            gain=self._gain_now if self.genie_csi else gain_before,
            queue_bits=self._queue_bits.astype(np.float32),
            queue_packets=self._queue_packets.astype(np.float32),
            interference_w=np.repeat(noise[None], b, axis=0).repeat(s, axis=3),
            spectral_efficiency_bps_hz=np.zeros((b, k, u, s), dtype=np.float32),
            active=self._active,
            user_pos_m=self._user_pos,
            node_pos_m=self._node_pos,
            extra={"tx_power_w": np.zeros((b, k, s), dtype=np.float32)},
        )

    def step(self, controls: Controls) -> tuple[Reports, SlotKpis]:
        if self.batch == 0:
            raise RuntimeError("step() called before reset()")
        check_controls(controls, self.batch, self.spec)
        b, k, u, s = self.batch, self.n_nodes, self.n_users, self.n_subbands
        t = self.slot
        queues = self.queues
        gain = self._gain_now

        # who transmits, (B, K, S): an own user slot (negative users wrap to huge unsigned values;
        # slots beyond a node's devices never have packets) with packets queued, mask, power > 0
        # (NaN compares False); the power is clipped to the maximum
        power = controls.power_w
        on = power > self._no_power
        on &= controls.mask
        chosen = controls.user.astype(np.intp)
        user_slot = chosen.view(np.uint64)
        on &= user_slot < self._max_user
        np.minimum(user_slot, self._last_user, out=user_slot)  # keeps every position in its node
        chosen += self._queue_base  # flat queue of the chosen device
        on &= queues.queue_packets.take(chosen, mode="clip") > 0
        tx = np.empty((b, k, s), dtype=np.float32)
        np.fmax(power, self._no_power, out=tx, casting="same_kind")  # NaN, −inf → 0
        np.fmin(tx, self.max_power_w, out=tx)
        tx *= on
        chosen += self._sd_offset  # position of the chosen device in a (B, S, K·U) array

        # received power (B, S, K·U) [W]: from the own AP in exact float64 products, from the
        # other APs by a float32 matmul over the gains with each device's own AP left out (zeroed
        # for the product, then restored), so that no large own signal is ever subtracted
        tx_sk = tx.transpose(0, 2, 1)  # (B, S, K)
        own = np.multiply(self._own_now, tx_sk.repeat(u, axis=2), dtype=np.float64)
        flat = own.reshape(-1)
        signal = flat.take(chosen)  # (B, K, S), 0 where the node is silent
        flat[chosen] = 0.0  # what is left of the own AP's power is meant for another device
        self._gain_flat[self._own_positions_now] = 0.0
        others = np.matmul(self._others_now, tx_sk[..., None])  # (B, S, K·U, 1)
        self._gain_flat[self._own_positions_now] = self._own_now
        own += others.reshape(b, s, k * u)
        own += self.noise_w  # interference plus noise at every device
        # the rate of the served devices only: (B, K, S)
        total = flat.take(chosen)
        chosen_efficiency = total + signal
        _efficiency_in_place(chosen_efficiency, total, self._ratio_clip)
        chosen_efficiency *= on
        efficiency = np.zeros((b, s, k * u))
        efficiency.reshape(-1)[chosen] = chosen_efficiency
        if not self._identity_slots:
            own *= self._slot_active_sd
        bits = np.add.reduce(efficiency, axis=1)  # (B, K·U)
        bits *= self._bits_per_efficiency

        delivered, delays, per_world = queues.serve(bits.astype(np.int64), t)  # truncation = floor
        shape = (b, k, u)
        if b == 1:
            delays_per_world = [delays]
        else:
            ends = per_world.cumsum().tolist()
            delays_per_world = [delays[start:end] for start, end in zip([0, *ends[:-1]], ends, strict=True)]
        kpis = SlotKpis(
            delivered_bits=delivered.astype(np.float64).reshape(shape),
            arrived_bits=self._arrived_bits,
            dropped_bits=self._dropped_bits,
            active=self._active,
            qos_checked=self._active,
            qos_violated=np.greater(self._queue_packets, self._qos_max_queue_packets),
            spectral_efficiency_bps_hz=np.add.reduce(delivered, axis=1) * self._efficiency_per_bit,
            packet_delays_s=delays_per_world,
            extra={"tx_power_w": tx},
        )

        # next slot: channel, arrivals
        self._advance_channel()
        self._arrive(t + 1)
        self.slot = t + 1
        reports = Reports(
            slot=t + 1,
            gain=self._gain_now if self.genie_csi else gain,
            queue_bits=self._queue_bits.astype(np.float32),
            queue_packets=self._queue_packets.astype(np.float32),
            interference_w=own.astype(np.float32).reshape(b, s, k, u).transpose(0, 2, 3, 1),
            spectral_efficiency_bps_hz=efficiency.astype(np.float32).reshape(b, s, k, u).transpose(0, 2, 3, 1),
            active=self._active,
            user_pos_m=self._user_pos,
            node_pos_m=self._node_pos,
            extra={"tx_power_w": tx},
        )
        return reports, kpis

    def queued_packet_ages_s(self) -> list[np.ndarray]:
        """Ages at the start of the current slot of every packet still queued, per world [s]."""
        return self.queues.queued_packet_ages_s(self.slot)
