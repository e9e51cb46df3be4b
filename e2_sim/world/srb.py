"""TN–NTN spectrum sharing with subset resource blocks (SRBs): the ``srb`` world.

Le, Vu, Andrenacci, Chatzinotas, "Constrained MARL for Coexisting TN-NTN Resource Allocation:
Scalability and Flexibility", §II (system model) and §III-C (power rule), numbers in §IV.

Terrestrial base stations (``bs_i``, kind ``gnb``) and hovering UAVs (``uav_i``) share one band
of ``F`` subchannels of bandwidth ``W``. Every base station ``n`` serves its own users (those
placed in its area, see `e2_sim.geometry.users`) and splits its subchannels into ``M = F/40``
SRBs of consecutive subchannels: SRB ``m`` is subchannels ``40m .. 40m+39``, one agent each.

Per slot (one 10 ms frame), with ``p_{n,f}`` the power of BS ``n`` on subchannel ``f``:

- power rule (§III-C): the total ``p_max`` is split equally over the ``M`` SRBs, then uniformly
  over the SRB's active subchannels, ``p_{n,f} = p_max / (M · |active subchannels of the SRB|)``.
  A subchannel is active where ``user`` is an active user of the node, ``mask`` holds and
  ``power_w > 0`` (NaN is off). ``power_w`` is a cap: the node transmits
  ``min(power_w, p_max / (M·n_active))``, so a control at the node's per-resource maximum
  (``NodeSpec.max_power_dbm`` = ``p_max / M``, the one-active-subchannel share) gets the paper's
  rule exactly and a lower value transmits less; unused power is not redistributed.
- SINR of user ``k`` of BS ``n`` on ``f`` (eq. 3):
  ``|h_{k,n,f}|² p_{n,f} / (Σ_{l≠n} |h_{k,l,f}|² p_{l,f} + N0·W)``; its rate is
  ``Σ_f W·log2(1 + SINR)`` over the subchannels assigned to it.
- channels: gNB → user: WINNER II path loss (``terrestrial.winner2_scenario``, 3-D distance,
  held constant below ``min_distance_m``) with Rayleigh fading; UAV → user: air-to-ground loss
  (free space + Al-Hourani LoS/NLoS excess) whose LoS state is drawn from the elevation-dependent
  LoS probability; a LoS UAV link has no small-scale fading (the paper: "h represents a
  line-of-sight channel"), an NLoS one is Rayleigh. The fading is `GaussMarkovRayleigh` with
  ``fading_rho`` (≈ 0: i.i.d. per frame as in the paper). The LoS state of a link is the fixed
  uniform draw of its user compared with the LoS probability at the current elevation, so it
  changes only as the user moves (redrawn when a new user takes the slot).
- traffic: full buffer; delivered bits = rate × slot_s (arrived bits are reported equal to the
  delivered bits, nothing is dropped).
- QoS: a violation is an active user whose rate in the slot is below ``qos_min_rate_bps``.

Reports (beyond the shared fields):

- ``gain`` (B, K, U, S, T): path loss × small-scale fading from every BS ``T`` to user ``U`` of
  node ``K``; the fading is that of the previous slot (one slot old) on the current path loss,
  or the slot's own channel with genie CSI. Zero for inactive user slots.
- ``interference_w`` (B, K, U, S): inter-BS interference plus noise measured last slot (zero for
  inactive user slots); ``spectral_efficiency_bps_hz`` (B, K, U, S) last slot's log2(1+SINR) where
  served.
- ``queue_bits`` and ``queue_packets`` are zeros (full buffer, no queues).
- ``extra["pathloss_db"]`` (B, K, U, T), float32: path loss of every BS to each user [dB] (the
  SRB agents observe it for all BSs and users); zero for inactive user slots.
- ``Controls.move_m`` is ignored: the UAVs hover at their preset positions.

``spec.static``: ``srb_size``, ``agents_per_node`` (M), ``qos_min_rate_bps``,
``node_total_power_dbm``, ``user_area_m`` per node, ``users_mode`` and one-line notes on the power
rule, association and traffic. ``NodeSpec.max_power_dbm`` is the one-active-subchannel share
``p_max / M``, also its only power level (the SRB agents choose subchannel → user, not power).

KPI extras: ``rate_bps`` (B, K, U) per-user rate, ``tx_power_w`` (B, K, S) the power each node
transmitted on each subchannel, ``n_active_users`` (B, K).

What ``load`` means follows ``users.mode``: ``episode`` / ``fixed``: mean active users per BS as a
fraction of K_max; ``dynamic``: user arrivals per minute per BS.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import numpy as np

from e2_sim.channel.fading import GaussMarkovRayleigh
from e2_sim.channel.pathloss import a2g_db, a2g_los_probability, dbm_to_watt, elevation_deg, winner2_db
from e2_sim.geometry.users import UserPopulation
from e2_sim.scenarios.base import ScenarioBase
from e2_sim.scenarios.srb import SrbScenario
from e2_sim.world.base import SlotKpis, World, check_controls
from ric.protocol import Controls, NodeSpec, Reports, WorldSpec

# generators spawned per world, in this order
_FADING, _USERS, _LOS = range(3)
_N_STREAMS = 3


class SrbWorld(World):
    """``B`` copies of a TN–NTN SRB scenario (see the module docstring for the model).

    Parameters
    ----------
    scenario : SrbScenario
        A validated ``srb`` scenario.
    load : float
        ``episode``/``fixed``: mean active users per BS as a fraction of K_max;
        ``dynamic``: user arrivals per minute per BS.
    genie_csi : bool
        Reports carry the channel the controls will meet instead of last slot's.
    """

    def __init__(self, scenario: ScenarioBase, load: float, genie_csi: bool = False) -> None:
        if not isinstance(scenario, SrbScenario):
            raise ValueError(f"SrbWorld needs an 'srb' scenario, got world kind {scenario.world!r}")
        if not (math.isfinite(load) and load > 0.0):
            raise ValueError(f"load must be a finite number > 0 ({scenario.load_unit}), got {load}")
        self.scenario = scenario
        self.load = float(load)
        self.genie_csi = bool(genie_csi)
        nodes = scenario.nodes
        self.n_nodes = len(nodes)
        self.n_users = scenario.users.max_users_per_node
        self.n_subchannels = scenario.n_subchannels
        self.srb_size = scenario.srb_size
        self.n_srbs = scenario.agents_per_node
        self.slot_s = scenario.slot_s
        self.subchannel_bandwidth_hz = scenario.subchannel_bandwidth_hz
        self.noise_w = float(dbm_to_watt(scenario.noise_dbm))
        self.node_pos_m = np.array([n.position_m for n in nodes], dtype=np.float64)  # (T, 3)
        self.is_uav = np.array([n.kind == "uav" for n in nodes])  # (T,)
        self.total_power_w = np.array([dbm_to_watt(n.max_power_dbm) for n in nodes], dtype=np.float64)
        self.srb_power_w = (self.total_power_w / self.n_srbs).astype(np.float32)  # (K,)
        srb_power_dbm = [n.max_power_dbm - 10.0 * math.log10(self.n_srbs) for n in nodes]

        users = scenario.users
        dynamic = users.mode == "dynamic"
        self.population = UserPopulation(
            [n.user_area_m for n in nodes],
            self.n_users,
            users.mode,
            users.height_m,
            mean_active=0.0 if dynamic else self.load * self.n_users,
            arrival_rate_per_min=self.load if dynamic else 0.0,
            mean_holding_s=users.mean_holding_s,
            initial=users.initial,
            speed_mps=users.speed_mps,
            turn_interval_s=users.turn_interval_s,
            deployment_seed=scenario.deployment_seed,
        )
        k, u, s = self.n_nodes, self.n_users, self.n_subchannels
        self.fading = GaussMarkovRayleigh((k, u, s, k), rho=scenario.fading_rho)
        self._not_self = 1.0 - np.eye(k, dtype=np.float32)  # (K, T): 1 where t ≠ k

        self.spec = WorldSpec(
            scenario=scenario.name,
            world_kind="srb",
            slot_s=self.slot_s,
            n_users_max=u,
            n_resources=s,
            resource_bandwidth_hz=self.subchannel_bandwidth_hz,
            noise_dbm=scenario.noise_dbm,
            nodes=tuple(
                NodeSpec(
                    node_id=i,
                    name=node.name,
                    kind=node.kind,
                    n_users=u,
                    n_resources=s,
                    max_power_dbm=srb_power_dbm[i],
                    power_levels_dbm=(srb_power_dbm[i],),
                    decision_interval_slots=1,
                )
                for i, node in enumerate(nodes)
            ),
            static={
                "srb_size": self.srb_size,
                "agents_per_node": self.n_srbs,
                "qos_min_rate_bps": scenario.qos_min_rate_bps,
                "node_total_power_dbm": [n.max_power_dbm for n in nodes],
                "power_rule": "equal over SRBs, then uniform over the SRB's active subchannels; power_w caps it",
                "association": "by area: user slots of node k hold the users placed in node k's user_area_m",
                "user_area_m": [[list(a) for a in n.user_area_m] for n in nodes],
                "users_mode": users.mode,
                "traffic": "full_buffer",
            },
        )
        self.batch = 0
        self.slot = 0

    # ------------------------------------------------------------------------------------------
    def reset(self, seeds: Sequence[int]) -> Reports:
        """Start ``len(seeds)`` worlds; world ``b`` draws only from generators spawned from ``seeds[b]``."""
        if len(seeds) == 0:
            raise ValueError("reset needs at least one seed")
        streams = [np.random.SeedSequence(int(seed)).spawn(_N_STREAMS) for seed in seeds]
        rngs = [[np.random.default_rng(s) for s in world] for world in streams]
        self._los_rngs = [r[_LOS] for r in rngs]
        b, k, u, s = len(seeds), self.n_nodes, self.n_users, self.n_subchannels
        self.batch = b
        self.slot = 0
        self._los_uniform = np.ones((b, k, u, k), dtype=np.float64)
        self._pathloss_db = np.zeros((b, k, u, k), dtype=np.float32)
        self.population.reset([r[_USERS] for r in rngs])
        self._population_changed()
        self._fading_prev = np.array(self.fading.reset([r[_FADING] for r in rngs]), dtype=np.float32)
        self._fading_now = self.fading.step()
        self._gain_now = self._gain(self._fading_now)
        self._interference_w = np.zeros((b, k, u, s), dtype=np.float32)
        self._interference_w[...] = np.float32(self.noise_w) * self.population.active[..., None]
        self._se = np.zeros((b, k, u, s), dtype=np.float32)
        return self._reports()

    def _population_changed(self) -> None:
        """Recompute path loss after users moved, arrived or were redrawn."""
        pop = self.population
        renewed = pop.renewed
        if renewed.any():
            for b, rng in enumerate(self._los_rngs):
                if renewed[b].any():
                    draws = rng.random(self._los_uniform.shape[1:])
                    self._los_uniform[b][renewed[b]] = draws[renewed[b]]
        sc = self.scenario
        users = pop.pos_m[:, :, :, None, :]  # (B, K, U, 1, 3)
        nodes = self.node_pos_m  # (T, 3)
        d3 = np.linalg.norm(users - nodes, axis=-1)  # (B, K, U, T)
        terrestrial = winner2_db(
            np.maximum(d3, sc.terrestrial.min_distance_m), nodes[:, 2], sc.carrier_hz, sc.terrestrial.winner2_scenario
        )
        env = sc.air_to_ground.environment
        los = self._los_uniform < a2g_los_probability(elevation_deg(nodes, users), env)
        aerial = a2g_db(d3, sc.carrier_hz, los, env)
        pl_db = np.where(self.is_uav, aerial, terrestrial)
        active = pop.active[..., None]  # (B, K, U, 1)
        self._pathloss_db = np.where(active, pl_db, 0.0).astype(np.float32)
        pl_lin = np.where(active, np.power(10.0, -pl_db / 10.0), 0.0)
        fixed = los & self.is_uav
        # tiled over subchannels once per change: a same-shape product is several times faster than
        # broadcasting over the middle axis with the short transmitter axis innermost
        full = (*fixed.shape[:3], self.n_subchannels, fixed.shape[3])
        pl_fading = np.where(fixed, 0.0, pl_lin).astype(np.float32)[:, :, :, None, :]
        pl_fixed = np.where(fixed, pl_lin, 0.0).astype(np.float32)[:, :, :, None, :]
        self._pl_fading = np.ascontiguousarray(np.broadcast_to(pl_fading, full))
        self._pl_fixed = np.ascontiguousarray(np.broadcast_to(pl_fixed, full))

    def _gain(self, fading_power: np.ndarray) -> np.ndarray:
        """Linear power gains (B, K, U, S, T) for small-scale fading powers of the same shape."""
        gain = self._pl_fading * fading_power
        gain += self._pl_fixed
        return gain

    def _reports(self) -> Reports:
        pop = self.population
        gain = self._gain_now if self.genie_csi else self._gain(self._fading_prev)
        b, k, u = self.batch, self.n_nodes, self.n_users
        node_pos = np.broadcast_to(self.node_pos_m.astype(np.float32), (b, k, 3)).copy()
        return Reports(
            slot=self.slot,
            gain=gain.copy() if gain is self._gain_now else gain,
            queue_bits=np.zeros((b, k, u), dtype=np.float32),
            queue_packets=np.zeros((b, k, u), dtype=np.float32),
            interference_w=self._interference_w,
            spectral_efficiency_bps_hz=self._se,
            active=pop.active.copy(),
            user_pos_m=pop.pos_m.astype(np.float32),
            node_pos_m=node_pos,
            extra={"pathloss_db": self._pathloss_db.copy()},
        )

    # ------------------------------------------------------------------------------------------
    def transmit_power_w(self, controls: Controls) -> np.ndarray:
        """Power each node transmits on each subchannel under ``controls``, (B, K, S) float32 [W].

        Equal split over SRBs, then uniform over the SRB's active subchannels, capped by
        ``power_w``; zero where the subchannel is off (module docstring).
        """
        return self._power(controls)[0]

    def _power(self, controls: Controls) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """(power (B, K, S) float32 [W], on (B, K, S) bool, served user (B, K, S) int64, 0 where off)."""
        check_controls(controls, self.batch, self.spec)
        user = np.asarray(controls.user)
        if not np.issubdtype(user.dtype, np.integer):
            raise ValueError(f"controls.user must hold integers, got dtype {user.dtype}")
        b, k, s, m = self.batch, self.n_nodes, self.n_subchannels, self.n_srbs
        power = np.asarray(controls.power_w, dtype=np.float32)
        in_range = (user >= 0) & (user < self.n_users)
        served = np.where(in_range, user, 0).astype(np.int64)
        on = in_range & np.asarray(controls.mask, dtype=bool) & (power > 0.0)
        on &= np.take_along_axis(self.population.active, served, axis=2)
        n_on = on.reshape(b, k, m, self.srb_size).sum(axis=-1)  # (B, K, M)
        share = self.srb_power_w[None, :, None] / np.maximum(n_on, 1)  # (B, K, M)
        capped = np.minimum(power.reshape(b, k, m, self.srb_size), share[..., None]).reshape(b, k, s)
        return np.where(on, capped, np.float32(0.0)).astype(np.float32), on, served

    def step(self, controls: Controls) -> tuple[Reports, SlotKpis]:
        """Apply ``controls`` to the current slot, advance one slot (module docstring)."""
        if self.batch == 0:
            raise RuntimeError("call reset(seeds) before step()")
        power, on, served = self._power(controls)
        b, k, u, s = self.batch, self.n_nodes, self.n_users, self.n_subchannels
        gain = self._gain_now  # (B, K, U, S, T)
        active = self.population.active.copy()

        # interference + noise at every user on every subchannel: Σ_{t≠k} G[b,k,u,s,t]·p[b,t,s]
        interference = np.full((b, k, u, s), np.float32(self.noise_w), dtype=np.float32)
        for t in range(k):
            interference += gain[..., t] * (power[:, None, t, :] * self._not_self[:, t, None])[:, :, None, :]
        # own signal of the served user on each subchannel
        own_all = np.einsum("bkusk->bkus", gain)  # G[b,k,u,s,k]: (B, K, U, S)
        own = np.take_along_axis(own_all, served[:, :, None, :], axis=2)[:, :, 0, :]  # (B, K, S)
        sub_interference = np.take_along_axis(interference, served[:, :, None, :], axis=2)[:, :, 0, :]
        sinr = own * power / sub_interference
        se_sub = np.where(on, np.log2(1.0 + sinr), np.float32(0.0)).astype(np.float32)  # (B, K, S)
        rate_sub = se_sub.astype(np.float64) * self.subchannel_bandwidth_hz

        flat = (np.arange(b)[:, None, None] * k + np.arange(k)[None, :, None]) * u + served
        rate_bps = np.bincount(flat[on], weights=rate_sub[on], minlength=b * k * u).reshape(b, k, u)
        delivered = rate_bps * self.slot_s
        violated = active & (rate_bps < self.scenario.qos_min_rate_bps)

        se_users = np.zeros((b, k, u, s), dtype=np.float32)
        bi, ki, si = np.nonzero(on)
        se_users[bi, ki, served[bi, ki, si], si] = se_sub[bi, ki, si]
        self._se = se_users
        interference *= active[..., None]
        self._interference_w = interference

        kpis = SlotKpis(
            delivered_bits=delivered,
            arrived_bits=delivered.copy(),
            dropped_bits=np.zeros((b, k, u)),
            active=active,
            qos_checked=active.copy(),
            qos_violated=violated,
            spectral_efficiency_bps_hz=delivered.sum(axis=(1, 2)) / (self.slot_s * self.scenario.bandwidth_hz),
            extra={"rate_bps": rate_bps, "tx_power_w": power, "n_active_users": active.sum(axis=-1)},
        )
        self._advance()
        return self._reports(), kpis

    def _advance(self) -> None:
        """Move to the next slot: users, path loss, fading."""
        self.slot += 1
        pop = self.population
        pop.step(self.slot_s)
        if pop.mode != "dynamic" and self.slot % self.scenario.users.episode_slots == 0:
            pop.new_episode()
        if pop.changed:
            self._population_changed()
        np.copyto(self._fading_prev, self._fading_now)
        self._fading_now = self.fading.step()
        self._gain_now = self._gain(self._fading_now)
