"""Cognitive satellite–terrestrial world (``cstn``): 3-sector base stations next to an LEO
satellite with beam hopping, under a cap on the base stations' interference at satellite users.

Zhai et al., Mathematics 13(19) 3133 (2025), "MADQN-IL", and the authors' public code; every
number comes from the scenario (``presets/cstn.toml``).

Layout (fixed per ``deployment_seed``)
    ``n_users`` users are drawn uniformly in the square area (a 2-D Poisson point process
    conditioned on its count). The users listed in ``sat_user_indices`` are satellite users
    (primary); the rest are terrestrial users (secondary), as the public code does with 4 of 16.
    Base stations sit on a ring around the centre. A terrestrial user belongs to its nearest
    base station if that one is within ``bs_coverage_radius_m`` (otherwise it is unserved: it is
    on no node's user axis and in no KPI, the paper's "unserved users"), and to the sector
    (antenna) whose boresight is closest to its azimuth.

E2 nodes
    One node per base station (``bs_k``, kind ``gnb``). The resource axis ``S`` is the base
    station's antennas (sectors); each antenna serves at most one user per slot with the whole
    band. ``U`` = most terrestrial users of one base station. The satellite is the primary
    system and is not controlled by the terrestrial RIC, so it is a component of the world, not
    an E2 node; its beam plan is announced to the nodes in ``extra["sat_beam_active"]``.

Powers
    Antenna maximum P_max / W (``NodeSpec.max_power_dbm``). ``NodeSpec.power_levels_dbm`` lists
    the paper's L uniform levels i·P_max/(L·W), i = 1..L (§3). An antenna whose power is below
    ``min_power_fraction`` of its maximum is off; the paper writes the floor as 0.1·P_max and
    this world takes it per antenna (0.1·P_max/W), so that all L levels are usable (with the
    floor on the base station's total, the lowest of the L = 4 levels would be off). Any power
    between the floor and the maximum is accepted; above the maximum it is clipped.

Channel
    Base-station links: free-space loss 20·log10(4π·d·f/c) (the paper's 32.44 + 20·log10(d/km) +
    20·log10(f/MHz)) up to the reference distance d_ref and distance exponent n beyond it, i.e.
    32.44 + 20·log10(f/MHz) + 10·n·log10(d/d_ref) with d_ref = 1 km (n = 2: free space; the
    authors' code uses n = 4), on the 3-D distance, the sector pattern G_max − min(c·(φ/φ_3dB)², A_m) of
    the transmitting antenna, the receiver's gain, and Gauss–Markov Rician fading per
    (base station, antenna, user). Satellite links: the satellite follows a circular LEO orbit
    (SGP4) whose pass culminates over the area centre at the scenario epoch; slot 0 falls at a
    random time within the scenario's window, so elevation and path loss change over a run.
    Position, beam gains and path losses are refreshed every ``geometry_update_slots`` slots and
    held in between. Beams are steered to fixed ground points (Bessel pattern, peak
    ``max_gain_dbi``, 3 dB down at ``half_power_angle_deg``), free-space loss on the slant range,
    Rician fading per user. The area is a flat East-North-Up frame at the area centre.
    Random streams per world (spawned in this order): fading, demand, beam hopping, orbit start.

Beam hopping
    ``n_active_beams`` beams are lit per slot and share the satellite power equally.
    ``round_robin``: beams ``(φ + n_active·t + j) mod n_beams``, j < n_active, with the phase φ
    drawn at reset; ``max_demand``: the beams whose satellite users wait for the most demand,
    ties (within one bit) broken at random. Both draw from the world's hopping generator.

Slot
    SINR of the user served by antenna (k, s) = its signal / (every other active antenna of
    every base station + every lit satellite beam + noise). Rate W·log2(1 + SINR) (SINR clipped
    at ``sinr_max_db`` when given); the bits served are limited by the user's waiting demand,
    oldest first. A satellite user is served by the satellite when its beam is lit, with the
    base stations' interference and the other lit beams in its SINR. Demand: Poisson rate per
    user and slot, means redrawn every ``redraw_interval_slots``, unmet demand dropped after
    ``ttl_slots`` (`e2_sim.traffic.demand`). Demand is drawn for every user (unserved ones too)
    so that the random streams do not depend on the layout.

QoS
    Two kinds of violation, both counted per slot:
    ``SlotKpis.qos_violated[b, k, u]`` is True when terrestrial user u of base station k had
    demand dropped (TTL expired) at the end of the slot; ``qos_checked`` is every terrestrial
    user on a node. The primary system's constraint is reported beside it:
    ``extra["sat_user_qos_violated"][b, j]`` is True when the aggregate interference of all
    base-station antennas at satellite user j exceeded I_th in the slot, checked for every
    satellite user in every slot whether or not its beam is lit
    (``extra["sat_user_qos_checked"]`` all True). The world's QoS violation rate is
    (Σ qos_violated + Σ sat_user_qos_violated) / (Σ qos_checked + Σ sat_user_qos_checked).
    The interference is the sum over every antenna of every base station, as the paper's text
    states the constraint (its eq. for I_BS_to_LEO writes the largest single-antenna term).
    ``SlotKpis.spectral_efficiency_bps_hz``: terrestrial delivered bits / (slot_s · bandwidth).

Reports (``T`` = ``K`` base stations; CSI one slot old unless ``genie_csi``)
    ``gain`` (B, K, U, S, T): gain from base station t's antenna s to user u of node k, antenna
    and receive gains and fading included. ``interference_w`` (B, K, U, S): interference plus
    noise user u would have met last slot on its base station's antenna s (everything received
    except that antenna's own signal; at slot 0, noise plus the satellite's interference).
    ``spectral_efficiency_bps_hz``: log2(1 + SINR) last slot where u was served on s, else 0.
    ``queue_bits``: waiting demand after this slot's arrivals; ``queue_packets``: slots' demands
    still (partly) waiting. ``active``: every terrestrial user on a node, in every slot.
    ``user_pos_m``, ``node_pos_m`` in the area-centre frame (x east, y north, z up). Padded user
    slots hold zeros.

Reports.extra (each (B, K, ...))
    ``eligible`` (B, K, U, S) bool: user u of node k lies in sector s.
    ``sat_user_interference_w`` (B, K, J): aggregate base-station interference at each of the
    J satellite users last slot (the same for every node; zeros at slot 0).
    ``sat_user_gain`` (B, K, J, S): gain from node k's antenna s to satellite user j (one slot old
    unless genie).
    ``demand_by_age_bits`` (B, K, U, TTL): the node users' waiting demand by age, index 0 the
    newest (the paper's traffic matrix F).
    ``sat_user_demand_by_age_bits`` (B, K, J, TTL): the same for the satellite users.
    ``sat_beam_active`` (B, K, NB) bool: beams lit in the slot the controls apply to.

SlotKpis.extra
    ``sat_user_interference_w`` (B, J), ``sat_user_qos_checked`` / ``sat_user_qos_violated``
    (B, J), ``interference_violated`` (B,) (any satellite user above I_th: the paper's penalty
    condition), ``sat_user_delivered_bits`` / ``sat_user_dropped_bits`` / ``sat_user_arrived_bits``
    (B, J), ``sat_beam_active`` (B, NB), ``sat_elevation_deg`` (B,), ``sat_user_path_loss_db`` (B, J).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np
from scipy.constants import speed_of_light

from e2_sim.channel.antenna import BESSEL_HALF_POWER_U, bessel_beam_pattern, sector_gain_db, wrap_offset_deg
from e2_sim.channel.fading import GaussMarkovRician, gauss_markov_rho
from e2_sim.channel.pathloss import db_to_lin, free_space_db
from e2_sim.geometry.orbit import LeoOrbit
from e2_sim.scenarios.base import ScenarioBase
from e2_sim.scenarios.cstn import CstnScenario
from e2_sim.traffic.demand import PoissonRateDemand
from e2_sim.world.base import SlotKpis, World, check_controls
from ric.protocol import Controls, NodeSpec, Reports, WorldSpec

# Random streams spawned per world, in this order.
_STREAMS = ("fading", "demand", "hopping", "orbit")
# Samples of satellite geometry computed at once.
_SAT_CHUNK_SAMPLES = 128
# Largest lag-one correlation handed to the fading process (a static user would give exactly 1).
_RHO_MAX = 1.0 - 1e-12
# Jitter (in bits) that breaks ties between beams of equal waiting demand.
_TIE_JITTER_BITS = 0.5


class CstnWorld(World):
    """Batch of ``B`` cognitive satellite–terrestrial worlds (see the module docstring).

    Parameters
    ----------
    scenario : CstnScenario
        A validated ``cstn`` scenario.
    load : float
        Demand scale: each user's mean rate is drawn in ``load·[min, max]``.
    genie_csi : bool
        Reports carry the channel the controls will meet instead of last slot's.
    """

    def __init__(self, scenario: ScenarioBase, load: float = 1.0, genie_csi: bool = False) -> None:
        if not isinstance(scenario, CstnScenario):
            raise ValueError(f"scenario {scenario.name!r} is a {scenario.world!r} scenario, not 'cstn'")
        if not np.isfinite(load) or load <= 0:
            raise ValueError(f"load must be > 0, got {load}")
        self.scenario = scenario
        self.load = float(load)
        self.genie_csi = bool(genie_csi)
        self.batch = 0
        self._build_layout()
        self._build_spec()
        self._build_models()

    # construction ------------------------------------------------------------------------------
    def _build_layout(self) -> None:
        sc = self.scenario
        rng = np.random.default_rng(sc.deployment_seed)
        half = sc.area_side_m / 2.0
        n = sc.n_users
        users_xy = rng.uniform(-half, half, size=(n, 2))
        self.user_pos_m = np.column_stack([users_xy, np.full(n, sc.user_height_m)])  # (N, 3)
        angles = np.radians(np.asarray(sc.bs_ring_angles_deg))
        self.bs_pos_m = np.column_stack(
            [
                sc.bs_ring_radius_m * np.cos(angles),
                sc.bs_ring_radius_m * np.sin(angles),
                np.full(angles.size, sc.bs_height_m),
            ]
        )  # (T, 3)
        self.n_bs = t = angles.size
        self.n_sectors = s = sc.n_antennas
        self.sat_users = np.asarray(sc.sat_user_indices, dtype=np.int64)  # (J,)
        is_sat = np.zeros(n, dtype=bool)
        is_sat[self.sat_users] = True

        delta = self.user_pos_m[None, :, :2] - self.bs_pos_m[:, None, :2]  # (T, N, 2)
        ground_m = np.hypot(delta[..., 0], delta[..., 1])
        nearest = np.argmin(ground_m, axis=0)
        covered = ~is_sat & (ground_m[nearest, np.arange(n)] <= sc.bs_coverage_radius_m)
        azimuth_deg = np.degrees(np.arctan2(delta[..., 1], delta[..., 0]))  # (T, N)
        boresight = np.asarray(sc.sector_antenna.boresights_deg)
        offset_deg = wrap_offset_deg(azimuth_deg[:, None, :], boresight[None, :, None])  # (T, S, N)
        sector = np.argmin(offset_deg[nearest, :, np.arange(n)], axis=1)  # (N,)

        self.node_users: list[list[int]] = [
            [int(i) for i in np.flatnonzero(covered & (nearest == k))] for k in range(t)
        ]
        self.unserved_users = [int(i) for i in np.flatnonzero(~is_sat & ~covered)]
        self.n_users_node = np.array([len(u) for u in self.node_users], dtype=np.int64)
        self.u_max = u_max = max(1, int(self.n_users_node.max()))
        # (K, U) global user index, n (a zero "no user" column) on padded slots
        self.user_index = np.full((t, u_max), n, dtype=np.int64)
        self.active = np.zeros((t, u_max), dtype=bool)
        self.eligible = np.zeros((t, u_max, s), dtype=bool)
        self.user_sector = np.full((t, u_max), -1, dtype=np.int64)
        for k, members in enumerate(self.node_users):
            for u, i in enumerate(members):
                self.user_index[k, u] = i
                self.active[k, u] = True
                self.user_sector[k, u] = sector[i]
                self.eligible[k, u, sector[i]] = True
        self.user_index_clipped = np.minimum(self.user_index, n - 1)

        # static link gain antenna -> user (T, S, N): sector pattern + receive gain - free space
        d3_m = np.sqrt(ground_m**2 + (sc.bs_height_m - sc.user_height_m) ** 2)
        ant = sc.sector_antenna
        pattern_dbi = sector_gain_db(
            offset_deg, ant.max_gain_dbi, ant.beamwidth_3db_deg, ant.front_to_back_db, ant.rolloff_db
        )
        rx_gain_dbi = np.where(is_sat, sc.sat_user_rx_gain_from_bs_dbi, sc.terrestrial_user_rx_gain_dbi)
        loss_db = free_space_db(d3_m, sc.carrier_hz) + 10.0 * (sc.bs_path_loss_exponent - 2.0) * np.log10(
            d3_m / sc.bs_path_loss_reference_m
        )  # (T, N)
        self.bs_static_gain = db_to_lin(pattern_dbi + rx_gain_dbi[None, None, :] - loss_db[:, None, :])

        # satellite: beam centres on the ground, satellite users' beams, orbit
        sat = sc.satellite
        centres = np.asarray(sat.beam_centres_m, dtype=np.float64)
        self.beam_centres_m = np.column_stack([centres, np.zeros(len(centres))])  # (NB, 3)
        self.n_beams = len(centres)
        su_xy = self.user_pos_m[self.sat_users, :2]
        self.sat_user_beam = np.argmin(
            np.hypot(*(su_xy[:, None, :] - centres[None, :, :]).transpose(2, 0, 1)), axis=1
        )  # (J,)
        self._sat_user_beam_onehot = np.eye(self.n_beams)[self.sat_user_beam]  # (J, NB)
        # round robin: row r lights beams r, r+1, ..., r+n_active−1 (mod NB)
        window = (np.arange(self.n_beams)[:, None] + np.arange(sat.n_active_beams)[None, :]) % self.n_beams
        self._round_robin_plan = np.zeros((self.n_beams, self.n_beams), dtype=bool)
        np.put_along_axis(self._round_robin_plan, window, True, axis=1)
        self.sat_rx_gain_lin = db_to_lin(np.where(is_sat, sat.sat_user_rx_gain_dbi, sat.terrestrial_user_rx_gain_dbi))
        self.beam_power_w = float(db_to_lin(sat.total_power_dbw)) / sat.n_active_beams
        self.orbit = LeoOrbit.overhead(
            sat.altitude_m,
            sat.origin_lat_deg,
            sat.origin_lon_deg,
            sat.epoch,
            pass_offset_s=0.0,
            inclination_deg=sat.inclination_deg,
        )

    def _build_spec(self) -> None:
        sc = self.scenario
        ant_max_dbm = sc.antenna_max_power_dbw + 30.0
        self.antenna_max_power_w = float(db_to_lin(sc.antenna_max_power_dbw))
        self.antenna_min_power_w = sc.min_power_fraction * self.antenna_max_power_w
        fractions = np.asarray(sc.power_level_fractions())
        levels_dbm = tuple(float(v) for v in ant_max_dbm + 10.0 * np.log10(fractions))
        self.noise_w = float(db_to_lin(sc.noise_dbw))
        self.threshold_w = float(db_to_lin(sc.interference_threshold_dbw))
        nodes = tuple(
            NodeSpec(
                node_id=k,
                name=f"bs_{k}",
                kind="gnb",
                n_users=int(self.n_users_node[k]),
                n_resources=self.n_sectors,
                max_power_dbm=float(ant_max_dbm),
                power_levels_dbm=levels_dbm,
                decision_interval_slots=1,
            )
            for k in range(self.n_bs)
        )
        static: dict[str, Any] = {
            "node_users": self.node_users,
            "user_sector": [
                [int(self.user_sector[k, u]) for u in range(len(m))] for k, m in enumerate(self.node_users)
            ],
            "unserved_users": self.unserved_users,
            "sat_users": [int(i) for i in self.sat_users],
            "sat_user_pos_m": self.user_pos_m[self.sat_users].tolist(),
            "sat_user_beam": [int(b) for b in self.sat_user_beam],
            "sat_beam_centres_m": self.beam_centres_m.tolist(),
            "sat_n_active_beams": sc.satellite.n_active_beams,
            "bs_pos_m": self.bs_pos_m.tolist(),
            "sector_boresights_deg": list(sc.sector_antenna.boresights_deg),
            "interference_threshold_w": self.threshold_w,
            "noise_w": self.noise_w,
            "antenna_max_power_w": self.antenna_max_power_w,
            "antenna_min_power_w": self.antenna_min_power_w,
            "power_levels_w": [float(f * self.antenna_max_power_w) for f in fractions],
            "bandwidth_hz": sc.bandwidth_hz,
            "ttl_slots": sc.demand.ttl_slots,
        }
        self.spec = WorldSpec(
            scenario=sc.name,
            world_kind="cstn",
            slot_s=sc.slot_s,
            n_users_max=self.u_max,
            n_resources=self.n_sectors,
            resource_bandwidth_hz=sc.bandwidth_hz,
            noise_dbm=sc.noise_dbw + 30.0,
            nodes=nodes,
            static=static,
        )

    def _build_models(self) -> None:
        sc = self.scenario
        n = sc.n_users
        dm = sc.demand
        self.demand = PoissonRateDemand(
            n_users=n,
            slot_s=sc.slot_s,
            mean_rate_min_bps=self.load * dm.mean_rate_min_bps,
            mean_rate_max_bps=self.load * dm.mean_rate_max_bps,
            rate_unit_bps=dm.rate_unit_bps,
            redraw_interval_slots=dm.redraw_interval_slots,
            ttl_slots=dm.ttl_slots,
        )
        fd = sc.fading
        # one process for every link: rows 0..T·S−1 antenna → user, row T·S satellite → user
        self.fading: GaussMarkovRician | None = None
        if fd.kind == "rician":
            doppler_hz = fd.user_speed_mps * sc.carrier_hz / speed_of_light
            rho = min(gauss_markov_rho(doppler_hz, sc.slot_s), _RHO_MAX)
            k_factor_db = np.full((self.n_bs * self.n_sectors + 1, 1), fd.bs_k_factor_db)
            k_factor_db[-1] = fd.sat_k_factor_db
            self.fading = GaussMarkovRician((self.n_bs * self.n_sectors + 1, n), rho, k_factor_db)
        self.rate_scale_bits = sc.bandwidth_hz * sc.slot_s
        self.sinr_max = None if sc.sinr_max_db is None else float(db_to_lin(sc.sinr_max_db))
        t, s = self.n_bs, self.n_sectors
        # flat indices into the (B, T*S*(N+1)) gain array
        ts = np.arange(t * s).reshape(t, s)
        n1 = n + 1
        self._flat_gain_report = (ts.T[None, None, :, :] * n1 + self.user_index[:, :, None, None]).astype(np.int64)
        self._flat_gain_own = (ts[:, None, :] * n1 + self.user_index[:, :, None]).astype(np.int64)  # (K, U, S)
        self._flat_gain_sat = (ts[:, None, :] * n1 + self.sat_users[None, :, None]).astype(np.int64)  # (K, J, S)
        self._bs_static_flat = self.bs_static_gain.reshape(t * s, n)
        self._eligible_flat = self.eligible.reshape(-1)
        self._user_index_flat = self.user_index.reshape(-1)
        self._sector_of_resource = np.arange(s)
        self._node_col = np.arange(t)[:, None]
        self._node_user_base = self._node_col * self.u_max
        self._ts_cols = np.arange(t * s)[None, :]
        self._n_users_node_col = self.n_users_node[:, None]

    # reset / step -----------------------------------------------------------------------------
    def reset(self, seeds: Sequence[int]) -> Reports:
        """Start ``len(seeds)`` worlds; returns the reports for slot 0."""
        if len(seeds) == 0:
            raise ValueError("reset needs at least one seed")
        self.batch = b = len(seeds)
        streams = [np.random.SeedSequence(int(seed)).spawn(len(_STREAMS)) for seed in seeds]
        rngs = {name: [np.random.default_rng(st[i]) for st in streams] for i, name in enumerate(_STREAMS)}
        sc = self.scenario
        n, t, s = sc.n_users, self.n_bs, self.n_sectors
        self.slot = 0
        self._batch_rows = np.arange(b)[:, None]
        k, u, j = self.n_bs, self.u_max, self.sat_users.size
        # static report fields: read-only views shared by every slot's reports
        self._active_b = np.broadcast_to(self.active, (b, k, u))
        self._eligible_b = np.broadcast_to(self.eligible, (b, k, u, s))
        user_pos = np.where(self.active[..., None], self.user_pos_m[self.user_index_clipped], 0.0)
        self._user_pos_b = np.broadcast_to(user_pos.astype(np.float32), (b, k, u, 3))
        self._node_pos_b = np.broadcast_to(self.bs_pos_m.astype(np.float32), (b, k, 3))
        self._sat_checked_b = np.broadcast_to(np.ones(j, dtype=bool), (b, j))

        self._start_s = np.array(
            [r.uniform(sc.satellite.start_offset_min_s, sc.satellite.start_offset_max_s) for r in rngs["orbit"]]
        )
        self._sat_chunk_start = -(10**9)
        self._hop_rngs = rngs["hopping"]
        self._sat_rx_w = np.zeros((b, self.n_beams, n))
        self._sat_interference = np.zeros((b, n + 1))  # lit beams' power at each user, 0 at "no user"
        self._hop_phase = np.array([r.integers(0, self.n_beams) for r in self._hop_rngs], dtype=np.int64)

        self._gain = np.zeros((b, t, s, n + 1))
        self._gain_prev = np.zeros((b, t, s, n + 1))
        if self.fading is not None:
            self._apply_fading(self.fading.reset(rngs["fading"]), self._gain_prev)
            self._sat_fade = self._apply_fading(self.fading.step(), self._gain)
        else:
            self._gain_prev[..., :n] = self.bs_static_gain
            self._gain[..., :n] = self.bs_static_gain
            self._sat_fade = np.ones((b, n))

        self._arrived = self.demand.reset(rngs["demand"])
        self._satellite_slot()

        self._last_interference_w = np.zeros((b, k, u, s), dtype=np.float32)
        self._last_interference_w[...] = (self.noise_w + self._sat_interference[:, self.user_index_clipped])[..., None]
        self._last_interference_w *= self.active[None, :, :, None]
        self._last_se = np.zeros((b, k, u, s), dtype=np.float32)
        self._last_sat_user_interference_w = np.zeros((b, j))
        return self._reports()

    def _apply_fading(self, fade: np.ndarray, gain: np.ndarray) -> np.ndarray:
        """Write static gain × fading into ``gain`` (B, T, S, N+1); return the satellite links' (B, N)."""
        ts, n = self.n_bs * self.n_sectors, self.scenario.n_users
        np.multiply(self._bs_static_flat, fade[:, :ts], out=gain.reshape(self.batch, ts, n + 1)[:, :, :n])
        sat_fade: np.ndarray = fade[:, ts].astype(np.float64)
        return sat_fade

    def _satellite_chunk(self, first_sample: int) -> None:
        """Satellite geometry at samples ``first_sample .. + chunk − 1`` of every world.

        Sample g holds for slots ``g·M .. g·M + M − 1`` (M = ``geometry_update_slots``).
        """
        sc = self.scenario
        sat = sc.satellite
        samples = first_sample + np.arange(_SAT_CHUNK_SAMPLES)
        times_s = self._start_s[:, None] + samples[None, :] * (sat.geometry_update_slots * sc.slot_s)
        sat_m = self.orbit.enu_m(times_s, sat.origin_lat_deg, sat.origin_lon_deg)  # (B, C, 3)
        to_users = self.user_pos_m[None, None, :, :] - sat_m[:, :, None, :]  # (B, C, N, 3)
        to_beams = self.beam_centres_m[None, None, :, :] - sat_m[:, :, None, :]  # (B, C, NB, 3)
        range_m = np.linalg.norm(to_users, axis=-1)  # (B, C, N)
        beam_range_m = np.linalg.norm(to_beams, axis=-1)
        cos = np.einsum("bcmx,bcnx->bcmn", to_beams, to_users) / (beam_range_m[..., :, None] * range_m[..., None, :])
        sin = np.sqrt(np.maximum(1.0 - cos * cos, 0.0))
        sin = np.where(cos < 0.0, 1.0, sin)  # beyond 90° off axis: treat as the 90° side lobe
        u = (BESSEL_HALF_POWER_U / np.sin(np.radians(sat.half_power_angle_deg))) * sin
        loss_db = free_space_db(range_m, sc.carrier_hz)
        gain_db = sat.max_gain_dbi - loss_db  # (B, C, N)
        # received power per lit beam [W], before fading: (B, C, NB, N)
        self._sat_geo_w = (
            self.beam_power_w * bessel_beam_pattern(u) * (db_to_lin(gain_db) * self.sat_rx_gain_lin)[:, :, None, :]
        )
        self._sat_elevation_deg = np.degrees(np.arctan2(sat_m[..., 2], np.hypot(sat_m[..., 0], sat_m[..., 1])))
        self._sat_user_loss_db = loss_db[:, :, self.sat_users]
        self._sat_chunk_start = first_sample

    def _hop(self) -> np.ndarray:
        """Beams lit in the current slot, (B, NB) bool."""
        n_active = self.scenario.satellite.n_active_beams
        if self.scenario.satellite.hopping_rule == "round_robin":
            plan: np.ndarray = self._round_robin_plan[(self._hop_phase + n_active * self.slot) % self.n_beams]
            return plan
        waiting = self.demand.fifo.waiting_bits()[:, self.sat_users]  # (B, J)
        beam_demand = np.einsum("bj,jm->bm", waiting, self._sat_user_beam_onehot)  # (B, NB)
        jitter = np.stack([r.random(self.n_beams) for r in self._hop_rngs]) * _TIE_JITTER_BITS
        idx = np.argpartition(-(beam_demand + jitter), n_active - 1, axis=1)[:, :n_active]
        lit = np.zeros((self.batch, self.n_beams), dtype=bool)
        lit[self._batch_rows, idx] = True
        return lit

    def _satellite_slot(self) -> None:
        """Beam plan, satellite received powers and interference for the current slot."""
        sample = self.slot // self.scenario.satellite.geometry_update_slots
        c = sample - self._sat_chunk_start
        if not 0 <= c < _SAT_CHUNK_SAMPLES:
            self._satellite_chunk(sample)
            c = 0
        n = self.scenario.n_users
        self._beam_lit = self._hop()
        np.multiply(self._sat_geo_w[:, c], self._sat_fade[:, None, :], out=self._sat_rx_w)  # (B, NB, N)
        lit_rx = self._sat_rx_w * self._beam_lit[:, :, None]
        lit_rx.sum(axis=1, out=self._sat_interference[:, :n])
        self._elevation_now = self._sat_elevation_deg[:, c]
        self._sat_user_loss_now = self._sat_user_loss_db[:, c]

    def _effective_power(self, controls: Controls) -> tuple[np.ndarray, np.ndarray]:
        """Transmit power per antenna (B, K, S) [W] and served global user (B, K, S) (N = none)."""
        user = controls.user.astype(np.int64)
        u_clip = np.minimum(np.maximum(user, 0), self.u_max - 1)
        node_user = self._node_user_base + u_clip  # (B, K, S) index into (K·U)
        clipped = np.minimum(np.asarray(controls.power_w, dtype=np.float64), self.antenna_max_power_w)
        on = (user >= 0) & (user < self._n_users_node_col) & np.asarray(controls.mask, dtype=bool)
        on &= self._eligible_flat[node_user * self.n_sectors + self._sector_of_resource]
        on &= clipped >= self.antenna_min_power_w  # False for NaN
        p_w = np.where(on, clipped, 0.0)
        served = np.where(on, self._user_index_flat[node_user], self.scenario.n_users)
        return p_w, served

    def step(self, controls: Controls) -> tuple[Reports, SlotKpis]:
        """Apply ``controls`` to the current slot and advance one slot."""
        if self.batch == 0:
            raise RuntimeError("call reset() before step()")
        check_controls(controls, self.batch, self.spec)
        sc = self.scenario
        b, n, t, s = self.batch, sc.n_users, self.n_bs, self.n_sectors
        k, u_max = t, self.u_max
        p_w, served = self._effective_power(controls)  # (B, K, S)
        p_flat = p_w.reshape(b, t * s)
        gain = self._gain.reshape(b, t * s, n + 1)
        # (B, N+1): all base-station power received; einsum keeps it off the multithreaded BLAS
        rx_bs_w = np.einsum("bk,bkn->bn", p_flat, gain)
        served_flat = served.reshape(b, t * s)
        rows = self._batch_rows
        signal_w = gain[rows, self._ts_cols, served_flat] * p_flat
        other_w = rx_bs_w[rows, served_flat] - signal_w
        interference_w = np.maximum(other_w, 0.0) + self._sat_interference[rows, served_flat]
        sinr = signal_w / (interference_w + self.noise_w)
        if self.sinr_max is not None:
            np.minimum(sinr, self.sinr_max, out=sinr)
        se_link = np.log2(1.0 + sinr)  # (B, K*S), 0 where off
        capacity_bits = np.zeros((b, n + 1))
        capacity_bits[rows, served_flat] = se_link * self.rate_scale_bits  # one antenna per user at most

        # satellite users: served by the satellite when their beam is lit
        su = self.sat_users
        sat_user_interference_w = rx_bs_w[:, su]  # (B, J)
        lit_su = self._beam_lit[:, self.sat_user_beam]  # (B, J)
        sat_signal_w = self._sat_rx_w[:, self.sat_user_beam, su] * lit_su
        sat_other_w = np.maximum(self._sat_interference[:, su] - sat_signal_w, 0.0)
        sat_sinr = sat_signal_w / (sat_other_w + sat_user_interference_w + self.noise_w)
        if self.sinr_max is not None:
            np.minimum(sat_sinr, self.sinr_max, out=sat_sinr)
        capacity_bits[:, su] = np.log2(1.0 + sat_sinr) * self.rate_scale_bits

        delivered = self.demand.serve(capacity_bits[:, :n])  # (B, N)
        arrived = self._arrived
        dropped, self._arrived = self.demand.end_slot()

        # KPIs
        idx = self.user_index_clipped
        active = self._active_b
        delivered_node = delivered[:, idx] * self.active
        dropped_node = dropped[:, idx] * self.active
        violated_su = sat_user_interference_w > self.threshold_w
        kpis = SlotKpis(
            delivered_bits=delivered_node,
            arrived_bits=arrived[:, idx] * self.active,
            dropped_bits=dropped_node,
            active=active,
            qos_checked=active,
            qos_violated=dropped_node > 0.0,
            spectral_efficiency_bps_hz=delivered_node.sum(axis=(1, 2)) / self.rate_scale_bits,
            packet_delays_s=None,
            extra={
                "sat_user_interference_w": sat_user_interference_w,
                "sat_user_qos_checked": self._sat_checked_b,
                "sat_user_qos_violated": violated_su,
                "interference_violated": violated_su.any(axis=1),
                "sat_user_delivered_bits": delivered[:, su],
                "sat_user_dropped_bits": dropped[:, su],
                "sat_user_arrived_bits": arrived[:, su],
                "sat_beam_active": self._beam_lit,
                "sat_elevation_deg": self._elevation_now,
                "sat_user_path_loss_db": self._sat_user_loss_now,
            },
        )

        # measurements of this slot, reported next slot
        flat_gain = self._gain.reshape(b, -1)
        own_w = flat_gain[:, self._flat_gain_own] * p_w[:, :, None, :]
        measured = rx_bs_w[:, idx][..., None] - own_w + (self._sat_interference[:, idx] + self.noise_w)[..., None]
        self._last_interference_w = (np.maximum(measured, self.noise_w) * self.active[None, :, :, None]).astype(
            np.float32
        )
        se_report = np.zeros((b, k, u_max, s), dtype=np.float32)
        on = served != n
        user_slot = np.where(on, controls.user, 0)
        se_report[self._batch_rows[:, :, None], self._node_col, user_slot, self._sector_of_resource] = np.where(
            on, se_link.reshape(b, k, s), 0.0
        )
        self._last_se = se_report
        self._last_sat_user_interference_w = sat_user_interference_w

        # advance to the next slot
        self.slot += 1
        self._gain, self._gain_prev = self._gain_prev, self._gain
        if self.fading is not None:
            self._sat_fade = self._apply_fading(self.fading.step(), self._gain)
        else:
            self._gain[...] = self._gain_prev
        self._satellite_slot()
        return self._reports(), kpis

    def _reports(self) -> Reports:
        """Reports for the current slot."""
        b, k = self.batch, self.n_bs
        csi = (self._gain if self.genie_csi else self._gain_prev).reshape(b, -1)
        idx = self.user_index_clipped
        queue = self.demand.fifo.queue_bits  # (B, N, TTL)
        waiting = self.demand.fifo.waiting_bits()
        batches = self.demand.fifo.waiting_batches()
        active = self.active
        return Reports(
            slot=self.slot,
            gain=csi[:, self._flat_gain_report].astype(np.float32),
            queue_bits=(waiting[:, idx] * active).astype(np.float32),
            queue_packets=(batches[:, idx] * active).astype(np.float32),
            interference_w=self._last_interference_w,
            spectral_efficiency_bps_hz=self._last_se,
            active=self._active_b,
            user_pos_m=self._user_pos_b,
            node_pos_m=self._node_pos_b,
            extra={
                "eligible": self._eligible_b,
                "sat_user_interference_w": np.repeat(
                    self._last_sat_user_interference_w.astype(np.float32)[:, None, :], k, axis=1
                ),
                "sat_user_gain": csi[:, self._flat_gain_sat].astype(np.float32),
                "demand_by_age_bits": (queue[:, idx] * active[..., None]).astype(np.float32),
                "sat_user_demand_by_age_bits": np.repeat(
                    queue[:, self.sat_users].astype(np.float32)[:, None], k, axis=1
                ),
                "sat_beam_active": np.repeat(self._beam_lit[:, None, :], k, axis=1),
            },
        )
