"""Space–air–ground world (`sag`): LEO beams → HAPs → regions of TBSs and UAVs.

Topology (hierarchical-drl-tn-ntn.txt, Table 1; numbers in ``presets/sag.toml``): one LEO
satellite with ``n_beams`` Earth-steered beams; one HAP above each beam centre; regions under
each HAP, each with TBSs and UAVs. Every beam, HAP, TBS and UAV is one E2 node and one
transmitter (``T = K``), in the order ``sat_*``, ``hap_*``, ``bs_*``, ``uav_*``. All nodes share
the same ``S`` subbands; every transmission reaches every receiver on its subband, across all
tiers and beams, so every tier's choice changes rates and interference.

Users (fixed at deployment from ``deployment_seed``; association fixed by design):

- each beam serves ``satellite.direct_users_per_beam`` users in a ring between the HAP coverage
  edge and the beam edge (no terrestrial or HAP coverage there);
- each HAP serves ``hap.direct_users`` users inside its coverage disc, outside the regions;
- each TBS serves ``tbs.users`` users in a disc around it; each UAV serves ``uav.users`` users
  of a hotspot placed at random inside its region (so moving toward it pays).

Node ``k`` holds its users on the padded axis ``U``; a receiver ``r = k·U + u``. ``load`` is
the user density: each deployed user is active in an episode with probability ``load``.
Traffic is full buffer.

Tier semantics (the hierarchy the RIC and its xApps build on):

- a beam node's control ``mask`` = the subbands the beam keeps for its direct users; the rest
  of the band is its HAP's share;
- a HAP node's ``mask`` = the subbands (meant to lie in its share) it keeps for its direct users;
  what remains of its share belongs to the TBSs/UAVs of its regions;
- TBS/UAV nodes are meant to transmit only inside the share left to their region.

The world enforces none of this: a node transmits on subband ``s`` exactly where
``user[s] >= 0`` (an active user of the node), ``mask[s]`` and ``power_w[s] > 0`` hold (power
above the node's maximum is clipped). It *publishes* what the hierarchy implies, from the masks
last applied (the ``initial_split`` of the preset before the first control):
``extra["allowed"]`` (B, K, S) bool = all True for beams, ``~mask[beam]`` for a HAP,
``~mask[beam] & ~mask[hap]`` for a TBS/UAV. Cross-node constraints are the RIC's job.

Channels (linear power gains, antenna gains included, one value per link and subband):

- satellite → user: free space at the SGP4 slant range (`e2_sim.geometry.orbit.LeoOrbit`,
  a pass culminating over the origin) + gaseous absorption A_zenith / sin(elevation)
  (TR 38.811 §6.6.4) + shadow fading; LoS with the TR 38.811 elevation-dependent probability
  of the user's environment, NLoS adds the TR 38.811 Ka-band clutter loss at that elevation.
  Beam gain: TR 38.811 §6.4.1 Bessel pattern G_max·4|J1(ka·sinθ)/(ka·sinθ)|², θ measured from
  the beam's boresight (its beam centre; no scan loss). No link below ``min_elevation_deg``.
  Rician fading (``satellite.rician_k_db``) on LoS links, Rayleigh on NLoS links.
- HAP → user: the same model from a fixed HAP at ``hap.altitude_m`` above its beam centre,
  boresight at nadir.
- UAV → user: Al-Hourani air-to-ground loss with its elevation-dependent LoS probability,
  recomputed every slot as the UAV moves; Rician (LoS) / Rayleigh (NLoS).
- TBS → user: TR 38.901 UMi street canyon with its LoS probability, shadow fading, Rayleigh.
- TBS and UAV antennas: every receiver sees the element gain ``antenna_gain_dbi``; the node's
  own users also get ``beamforming_gain_db`` (the beam steered at them), so a local node's
  interference toward other nodes' users carries no array gain.

A link's LoS state is ``uniform_draw < P_LoS(geometry)`` with one uniform draw per link per
episode, so a link turns LoS as its elevation rises and stays consistent in between. Shadow
fading is one standard normal per link per episode, scaled by the σ of its current state.
Small-scale fading is Gauss–Markov per link and subband (``e2_sim.channel.fading``). Orbit
time advances ``orbit.time_scale`` times faster than slot time (see the preset).

Slot timeline: the controls of slot t meet the channel of slot t; UAV moves (``move_m``,
horizontal step clipped to ``uav.max_step_m``, altitude kept, a non-finite move ignored, position
kept within ``uav.flight_margin_m`` of the region) take effect at the end of the slot.

Reports: ``gain`` is the previous slot's channel (the current one with ``genie_csi``);
``interference_w`` is interference from all *other* nodes plus noise measured last slot;
``spectral_efficiency_bps_hz`` is log2(1+SINR) of served (user, subband) pairs last slot.
``queue_bits`` is the QoS deficit queue of a full-buffer user: q ← min(cap, max(0, q −
delivered) + R_min·slot_s) (``queue_packets`` = q in units of R_min·slot_s); it grows while a
user falls short of its minimum rate and lets queue-driven policies (LLQ) serve those first.
``extra``: ``allowed`` (B, K, S) bool as above; ``elevation_deg`` (B, K) float32: satellite
elevation seen from each beam centre for beam nodes, 0 for the others; ``out_of_region``
(B, K) bool: UAV outside its region (False for other nodes). Padded user slots hold zeros.

KPIs: delivered bits = Σ_s W_s·slot_s·log2(1 + SINR) over served subbands;
``spectral_efficiency_bps_hz`` = delivered bits / (slot_s · total bandwidth). A QoS violation
is an active user whose rate in the slot is below ``users.qos_min_rate_bps``. Full buffer:
``arrived_bits`` equals ``delivered_bits`` and nothing is dropped. ``extra``:
``uav_out_of_region`` (B,) UAVs outside their region after the slot's moves;
``tier_delivered_bits`` (B, 3) bits delivered by the satellite, HAP and local tiers.
"""

from __future__ import annotations

import math
from collections import OrderedDict
from collections.abc import Sequence
from typing import Any

import numpy as np
import numpy.typing as npt
from scipy.special import j1

from e2_sim.channel.fading import GaussMarkovRayleigh, GaussMarkovRician, gauss_markov_rho
from e2_sim.channel.pathloss import (
    a2g_db,
    a2g_los_probability,
    atmospheric_db,
    free_space_db,
    ntn_los_probability,
    umi_los_probability,
    umi_street_canyon_db,
)
from e2_sim.geometry.orbit import LeoOrbit
from e2_sim.scenarios.base import ScenarioBase
from e2_sim.scenarios.sag import SagScenario
from e2_sim.world.base import SlotKpis, World, check_controls
from ric.protocol import Controls, NodeSpec, Reports, WorldSpec

__all__ = ["SagWorld", "bessel_pattern_db"]

#: Argument x at which (2·J1(x)/x)² = 1/2: the half-power point of a uniform circular aperture.
_BESSEL_HALF_POWER_X = 1.6162941
_TIERS = ("satellite", "hap", "local")
#: Orbit slots per cached satellite table chunk, and how many chunks are kept.
_ORBIT_CHUNK = 500
_ORBIT_CACHE_CHUNKS = 40

F64 = npt.NDArray[np.float64]


def bessel_pattern_db(off_axis_rad: npt.ArrayLike, max_gain_dbi: float, half_power_beamwidth_deg: float) -> F64:
    """TR 38.811 §6.4.1 aperture pattern: G_max · 4|J1(ka·sinθ) / (ka·sinθ)|² [dBi].

    Parameters
    ----------
    off_axis_rad : array_like
        Angle from boresight θ [rad], any shape.
    max_gain_dbi : float
        Boresight gain [dBi].
    half_power_beamwidth_deg : float
        Full 3 dB beamwidth [deg]; sets ka = 1.6163 / sin(HPBW / 2).
    """
    ka = _BESSEL_HALF_POWER_X / math.sin(math.radians(half_power_beamwidth_deg) / 2.0)
    x = ka * np.abs(np.sin(np.asarray(off_axis_rad, dtype=np.float64)))
    safe = np.maximum(x, 1e-9)
    pattern = np.where(x < 1e-6, 1.0, 4.0 * (j1(safe) / safe) ** 2)
    return max_gain_dbi + 10.0 * np.log10(np.maximum(pattern, 1e-30))


def _angle_between(a: F64, b: F64) -> F64:
    """Angle between vectors along the last axis [rad] (broadcasting)."""
    dot = np.sum(a * b, axis=-1)
    norms = np.linalg.norm(a, axis=-1) * np.linalg.norm(b, axis=-1)
    return np.arccos(np.clip(dot / np.maximum(norms, 1e-12), -1.0, 1.0))


def _dbm_to_w(dbm: float) -> float:
    return 10.0 ** ((dbm - 30.0) / 10.0)


class SagWorld(World):
    """``B`` copies of the space–air–ground world (see the module docstring).

    Parameters
    ----------
    scenario : SagScenario
        A validated ``sag`` scenario.
    load : float
        User density: probability that a deployed user is active in an episode, in (0, 1].
    genie_csi : bool
        Reports carry the channel the controls will meet instead of last slot's.
    """

    def __init__(self, scenario: ScenarioBase, load: float, genie_csi: bool = False) -> None:
        if not isinstance(scenario, SagScenario):
            raise ValueError(f"SagWorld needs a 'sag' scenario, got world kind {scenario.world!r}")
        if not (np.isfinite(load) and 0.0 < load <= 1.0):
            raise ValueError(f"load for 'sag' is the fraction of users active, in (0, 1]; got {load}")
        self.scenario = scenario
        self.load = float(load)
        self.genie_csi = bool(genie_csi)
        self.batch = 0
        sc = scenario
        self._n_sub = sc.spectrum.n_subbands
        self._sub_bw_hz = sc.spectrum.total_bandwidth_hz / self._n_sub
        noise_dbm = sc.spectrum.noise_psd_dbm_hz + 10.0 * math.log10(self._sub_bw_hz) + sc.spectrum.noise_figure_db
        self._noise_w = np.float32(_dbm_to_w(noise_dbm))
        self._qos_bits = sc.users.qos_min_rate_bps * sc.slot_s
        self._qos_cap_bits = sc.users.qos_min_rate_bps * sc.users.qos_deficit_cap_s
        self._build_deployment()
        self._build_static_channel()
        self.orbit = LeoOrbit.overhead(
            sc.orbit.altitude_m,
            sc.orbit.origin_lat_deg,
            sc.orbit.origin_lon_deg,
            sc.orbit.epoch_utc,
            pass_offset_s=sc.orbit.culmination_s,
            inclination_deg=sc.orbit.inclination_deg,
        )
        rho = max(0.0, min(gauss_markov_rho(sc.channel.doppler_hz, sc.slot_s), 0.999))
        self._rho = rho
        self._orbit_step_s = sc.slot_s * sc.orbit.time_scale
        self._sat_cache: OrderedDict[int, dict[str, np.ndarray]] = OrderedDict()
        _, _, sig_los, sig_nlos = self._ntn_terms(np.full(self._r, 90.0))
        self._sat_sig_los, self._sat_sig_nlos = sig_los, sig_nlos
        self.spec = self._build_spec(noise_dbm)

    # ------------------------------------------------------------------ deployment
    def _build_deployment(self) -> None:
        sc = self.scenario
        rng = np.random.default_rng(sc.deployment_seed)
        nb = len(sc.satellite.beam_centers_m)
        n_reg_per_hap = len(sc.region.offsets_m)
        n_tbs_per_reg = len(sc.tbs.offsets_m)
        n_uav_per_reg = len(sc.uav.start_offsets_m)
        half = sc.region.size_m / 2.0
        beam_xy = np.asarray(sc.satellite.beam_centers_m, dtype=np.float64)
        region_xy = np.array(
            [beam_xy[h] + np.asarray(off) for h in range(nb) for off in sc.region.offsets_m], dtype=np.float64
        )
        n_reg = len(region_xy)
        region_hap = np.repeat(np.arange(nb), n_reg_per_hap)

        def in_any_region(p: F64) -> bool:
            return bool(np.any(np.all(np.abs(region_xy - p) <= half, axis=1)))

        def draw_disc(center: F64, r_in: float, r_out: float, accept: Any) -> F64:
            for _ in range(10_000):
                radius = math.sqrt(rng.uniform(r_in**2, r_out**2))
                angle = rng.uniform(0.0, 2.0 * math.pi)
                p = center + radius * np.array([math.cos(angle), math.sin(angle)])
                if accept(p):
                    return p
            raise ValueError("cannot place a user: the preset's user areas are empty")

        names: list[str] = []
        kinds: list[str] = []
        tiers: list[str] = []
        node_xyz: list[F64] = []
        beam_of: list[int] = []
        hap_of: list[int] = []
        region_of: list[int] = []
        users: list[list[F64]] = []
        envs: list[str] = []

        def add(name: str, kind: str, tier: str, xyz: F64, beam: int, hap: int, region: int) -> None:
            names.append(name)
            kinds.append(kind)
            tiers.append(tier)
            node_xyz.append(xyz)
            beam_of.append(beam)
            hap_of.append(hap)
            region_of.append(region)

        direct_env = sc.users.direct_environment
        for b in range(nb):
            add(f"sat_{b}", "leo", "satellite", np.zeros(3), b, -1, -1)
            r_in, r_out = sc.satellite.direct_user_ring_m
            users.append(
                [
                    draw_disc(beam_xy[b], r_in, r_out, lambda p: not in_any_region(p))
                    for _ in range(sc.satellite.direct_users_per_beam)
                ]
            )
            envs.append(direct_env)
        for h in range(nb):
            add(f"hap_{h}", "hap", "hap", np.array([*beam_xy[h], sc.hap.altitude_m]), h, h, -1)
            users.append(
                [
                    draw_disc(beam_xy[h], 0.0, sc.hap.coverage_radius_m, lambda p: not in_any_region(p))
                    for _ in range(sc.hap.direct_users)
                ]
            )
            envs.append(direct_env)

        def in_region(j: int) -> Any:
            return lambda p: bool(np.all(np.abs(p - region_xy[j]) <= half))

        i_bs = 0
        for j in range(n_reg):
            for off in sc.tbs.offsets_m:
                xy = region_xy[j] + np.asarray(off)
                add(f"bs_{i_bs}", "gnb", "local", np.array([*xy, sc.tbs.height_m]), region_hap[j], region_hap[j], j)
                users.append([draw_disc(xy, 0.0, sc.tbs.user_radius_m, in_region(j)) for _ in range(sc.tbs.users)])
                envs.append(sc.region.environment)
                i_bs += 1
        i_uav = 0
        self._uav_home = np.zeros((n_reg * n_uav_per_reg, 2))
        for j in range(n_reg):
            for off in sc.uav.start_offsets_m:
                xy = region_xy[j] + np.asarray(off)
                add(f"uav_{i_uav}", "uav", "local", np.array([*xy, sc.uav.altitude_m]), region_hap[j], region_hap[j], j)
                margin = min(sc.uav.hotspot_radius_m, half)
                hotspot = region_xy[j] + rng.uniform(-(half - margin), half - margin, size=2)
                users.append(
                    [draw_disc(hotspot, 0.0, sc.uav.hotspot_radius_m, in_region(j)) for _ in range(sc.uav.users)]
                )
                envs.append(sc.region.environment)
                self._uav_home[i_uav] = xy
                i_uav += 1

        k = len(names)
        self._n_beams = nb
        self._n_tbs = n_reg * n_tbs_per_reg
        self._n_uav = n_reg * n_uav_per_reg
        self._names, self._kinds, self._tiers = names, kinds, tiers
        self._n_users = np.array([len(u) for u in users], dtype=np.int64)
        u_max = int(self._n_users.max())
        self._k, self._u = k, u_max
        self._r = k * u_max
        self._beam_xy, self._region_xy, self._region_hap = beam_xy, region_xy, region_hap
        self._node_xyz = np.array(node_xyz)
        self._beam_of = np.array(beam_of)
        self._hap_of = np.array(hap_of)
        self._region_of = np.array(region_of)
        # slices of the transmitter axis
        self._sl_sat = slice(0, nb)
        self._sl_hap = slice(nb, 2 * nb)
        self._sl_tbs = slice(2 * nb, 2 * nb + self._n_tbs)
        self._sl_uav = slice(2 * nb + self._n_tbs, k)
        self._uav_nodes = np.arange(self._sl_uav.start, k)
        self._uav_region = self._region_of[self._uav_nodes]
        # receivers: r = k * U + u; padded slots are invalid
        rx = np.zeros((k, u_max, 3))
        valid = np.zeros((k, u_max), dtype=bool)
        urban = np.zeros((k, u_max), dtype=bool)
        for node, pts in enumerate(users):
            for u, p in enumerate(pts):
                rx[node, u] = (*p, sc.users.height_m)
                valid[node, u] = True
                urban[node, u] = envs[node] == sc.region.environment
        self._user_pos = rx
        self._rx_pos = rx.reshape(-1, 3)
        self._rx_valid = valid.reshape(-1)
        self._user_valid = valid
        self._rx_env = np.where(urban.reshape(-1), sc.region.environment, direct_env)
        self._own_tx = np.repeat(np.arange(k), u_max)  # (R,) node serving each receiver
        # hierarchy parents as node ids (-1 = none)
        self._parent_beam = np.where(self._region_of >= 0, self._beam_of, -1)
        self._parent_beam[self._sl_hap] = np.arange(nb)
        self._parent_hap = np.where(self._region_of >= 0, nb + self._hap_of, -1)

    def _env_lookup(self, values: dict[str, F64]) -> F64:
        """Pick per receiver the entry of ``values`` for its environment, shape (..., R)."""
        out = np.zeros_like(next(iter(values.values())))
        for env, val in values.items():
            out = np.where(self._rx_env == env, val, out)
        return out

    def _ntn_terms(self, elevation_deg: F64) -> tuple[F64, F64, F64, F64]:
        """LoS probability, NLoS clutter loss [dB], shadow σ LoS / NLoS [dB] for NTN links (..., R)."""
        ch = self.scenario.channel
        envs = sorted(set(self._rx_env.tolist()))
        p_los = self._env_lookup({e: ntn_los_probability(elevation_deg, e) for e in envs})
        clutter = self._env_lookup(
            {e: np.interp(elevation_deg, ch.clutter_elevation_deg, ch.clutter_loss_db[e]) for e in envs}
        )
        sigma_los = self._env_lookup({e: np.full_like(elevation_deg, ch.ntn_shadow_sigma_db[e][0]) for e in envs})
        sigma_nlos = self._env_lookup({e: np.full_like(elevation_deg, ch.ntn_shadow_sigma_db[e][1]) for e in envs})
        return p_los, clutter, sigma_los, sigma_nlos

    def _build_static_channel(self) -> None:
        """Deterministic parts of the HAP, TBS links (fixed geometry), shape (n_tx, R)."""
        sc = self.scenario
        fc = sc.spectrum.carrier_hz
        g_ue = sc.users.antenna_gain_dbi
        rx = self._rx_pos
        # HAP links
        hap = self._node_xyz[self._sl_hap]
        vec = rx[None, :, :] - hap[:, None, :]
        dist = np.linalg.norm(vec, axis=-1)
        elev = np.degrees(np.arcsin(np.clip(-vec[..., 2] / dist, -1.0, 1.0)))
        off_axis = _angle_between(vec, np.array([0.0, 0.0, -1.0]))
        self._hap_base_db = (
            bessel_pattern_db(off_axis, sc.hap.max_gain_dbi, sc.hap.half_power_beamwidth_deg)
            + g_ue
            - free_space_db(dist, fc)
            - atmospheric_db(elev, sc.channel.atmospheric_zenith_db)
        )
        self._hap_p_los, self._hap_clutter_db, self._hap_sig_los, self._hap_sig_nlos = self._ntn_terms(elev)
        # TBS links
        tbs = self._node_xyz[self._sl_tbs]
        d2d = np.hypot(rx[None, :, 0] - tbs[:, None, 0], rx[None, :, 1] - tbs[:, None, 1])
        h_bs, h_ut = sc.tbs.height_m, sc.users.height_m
        self._tbs_pl_los_db = umi_street_canyon_db(d2d, h_bs, h_ut, fc, True)
        self._tbs_pl_nlos_db = umi_street_canyon_db(d2d, h_bs, h_ut, fc, False)
        self._tbs_p_los = umi_los_probability(d2d)
        self._tbs_base_db = sc.tbs.antenna_gain_dbi + g_ue
        # array gain of TBS/UAV beams toward their own users only, (T, R) [dB]
        self._own_bf_db = np.zeros((self._k, self._r))
        own = self._own_tx[None, :] == np.arange(self._k)[:, None]
        self._own_bf_db[self._sl_tbs] = np.where(own[self._sl_tbs], sc.tbs.beamforming_gain_db, 0.0)
        self._own_bf_db[self._sl_uav] = np.where(own[self._sl_uav], sc.uav.beamforming_gain_db, 0.0)

    def _build_spec(self, noise_dbm: float) -> WorldSpec:
        sc = self.scenario
        nodes = []
        for node, (name, kind) in enumerate(zip(self._names, self._kinds, strict=True)):
            if kind == "leo":
                p_max, levels, every = (
                    sc.satellite.max_power_dbm,
                    sc.satellite.power_levels_dbm,
                    sc.satellite.decision_interval_slots,
                )
            elif kind == "hap":
                p_max, levels, every = sc.hap.max_power_dbm, sc.hap.power_levels_dbm, sc.hap.decision_interval_slots
            elif kind == "gnb":
                p_max, levels, every = sc.tbs.max_power_dbm, sc.tbs.power_levels_dbm, sc.local_decision_interval_slots
            else:
                p_max, levels, every = sc.uav.max_power_dbm, sc.uav.power_levels_dbm, sc.local_decision_interval_slots
            nodes.append(
                NodeSpec(
                    node_id=node,
                    name=name,
                    kind=kind,
                    n_users=int(self._n_users[node]),
                    n_resources=self._n_sub,
                    max_power_dbm=float(p_max),
                    power_levels_dbm=tuple(float(x) for x in levels),
                    decision_interval_slots=int(every),
                )
            )
        self._p_max_w = np.array([_dbm_to_w(n.max_power_dbm) for n in nodes], dtype=np.float32)
        half = sc.region.size_m / 2.0
        nb = self._n_beams
        region_nodes = [np.flatnonzero(self._region_of == j).tolist() for j in range(len(self._region_xy))]
        static: dict[str, Any] = {
            "tiers": list(_TIERS),
            "node_tier": list(self._tiers),
            "parent_beam": self._parent_beam.tolist(),
            "parent_hap": self._parent_hap.tolist(),
            "node_region": self._region_of.tolist(),
            "beams": [
                {
                    "node": b,
                    "center_m": self._beam_xy[b].tolist(),
                    "hap": nb + b,
                    "regions": np.flatnonzero(self._region_hap == b).tolist(),
                }
                for b in range(nb)
            ],
            "haps": [
                {
                    "node": nb + h,
                    "beam": h,
                    "position_m": self._node_xyz[nb + h].tolist(),
                    "coverage_radius_m": sc.hap.coverage_radius_m,
                    "regions": np.flatnonzero(self._region_hap == h).tolist(),
                }
                for h in range(nb)
            ],
            "regions": [
                {
                    "region": j,
                    "hap": nb + int(self._region_hap[j]),
                    "beam": int(self._region_hap[j]),
                    "center_m": self._region_xy[j].tolist(),
                    "bounds_m": [
                        (self._region_xy[j] - half).tolist(),
                        (self._region_xy[j] + half).tolist(),
                    ],
                    "nodes": region_nodes[j],
                }
                for j in range(len(self._region_xy))
            ],
            "uav_max_step_m": sc.uav.max_step_m,
            "qos_min_rate_bps": sc.users.qos_min_rate_bps,
            "total_bandwidth_hz": sc.spectrum.total_bandwidth_hz,
            "initial_masks": self._initial_masks().astype(int).tolist(),
            "reward_weights": {
                "spectral_efficiency": sc.reward.spectral_efficiency,
                "fairness": sc.reward.fairness,
                "uav_out_of_region": sc.reward.uav_out_of_region,
                "qos_violation": sc.reward.qos_violation,
            },
            "orbit": {
                "tle": list(self.orbit.tle),
                "altitude_m": sc.orbit.altitude_m,
                "origin_lat_deg": sc.orbit.origin_lat_deg,
                "origin_lon_deg": sc.orbit.origin_lon_deg,
                "culmination_s": sc.orbit.culmination_s,
                "time_scale": sc.orbit.time_scale,
                "min_elevation_deg": sc.orbit.min_elevation_deg,
            },
        }
        return WorldSpec(
            scenario=sc.name,
            world_kind="sag",
            slot_s=sc.slot_s,
            n_users_max=self._u,
            n_resources=self._n_sub,
            resource_bandwidth_hz=self._sub_bw_hz,
            noise_dbm=noise_dbm,
            nodes=tuple(nodes),
            static=static,
        )

    def _initial_masks(self) -> npt.NDArray[np.bool_]:
        """(K, S) masks in force before the first control (the preset's ``initial_split``)."""
        split = self.scenario.initial_split
        s = np.arange(self._n_sub)
        masks = np.ones((self._k, self._n_sub), dtype=bool)
        masks[self._sl_sat] = s < split.satellite_subbands
        masks[self._sl_hap] = (s >= split.satellite_subbands) & (s < split.satellite_subbands + split.hap_subbands)
        masks[self._sl_tbs.start :] = s >= split.satellite_subbands + split.hap_subbands
        return masks

    # ------------------------------------------------------------------ per-slot geometry
    def _satellite_chunk(self, chunk: int) -> dict[str, np.ndarray]:
        """Deterministic satellite link terms for orbit slots ``chunk·C .. chunk·C + C − 1``.

        Orbit slot ``n`` is orbit time ``start_s + n · slot_s · time_scale``; every world's slot
        maps to an orbit slot (its random start is a whole number of slots), so one table
        serves the whole batch. Arrays: ``pos`` (C, 3) satellite ENU [m]; ``elev_beam``
        (C, n_beams) elevation at the beam centres [deg]; ``base_db`` (C, n_beams, R) beam gain +
        UE gain − free-space − gaseous loss [dB]; ``clutter_db``, ``p_los`` (C, R); ``visible``
        (C, R) elevation above the service mask.
        """
        cached = self._sat_cache.get(chunk)
        if cached is not None:
            self._sat_cache.move_to_end(chunk)
            return cached
        sc = self.scenario
        n = np.arange(chunk * _ORBIT_CHUNK, (chunk + 1) * _ORBIT_CHUNK)
        tau = sc.orbit.start_s + n * self._orbit_step_s
        sat = self.orbit.enu_m(tau, sc.orbit.origin_lat_deg, sc.orbit.origin_lon_deg)  # (C, 3)
        vec = sat[:, None, :] - self._rx_pos[None, :, :]  # (C, R, 3) user -> satellite
        dist = np.linalg.norm(vec, axis=-1)
        elev = np.degrees(np.arcsin(np.clip(vec[..., 2] / dist, -1.0, 1.0)))
        p_los, clutter, _, _ = self._ntn_terms(elev)
        beam_ground = np.concatenate([self._beam_xy, np.zeros((self._n_beams, 1))], axis=1)
        to_beam = beam_ground[None, :, :] - sat[:, None, :]  # (C, nb, 3)
        off_axis = _angle_between(-vec[:, None, :, :], to_beam[:, :, None, :])  # (C, nb, R)
        base_db = (
            bessel_pattern_db(off_axis, sc.satellite.max_gain_dbi, sc.satellite.half_power_beamwidth_deg)
            + sc.users.antenna_gain_dbi
            - free_space_db(dist, sc.spectrum.carrier_hz)[:, None, :]
            - atmospheric_db(elev, sc.channel.atmospheric_zenith_db)[:, None, :]
        )
        elev_beam = np.degrees(np.arcsin(np.clip(-to_beam[..., 2] / np.linalg.norm(to_beam, axis=-1), -1.0, 1.0)))
        table = {
            "pos": sat,
            "elev_beam": elev_beam.astype(np.float32),
            "base_db": base_db,
            "clutter_db": clutter,
            "p_los": p_los,
            "visible": (elev >= sc.orbit.min_elevation_deg) & self._rx_valid[None, :],
        }
        self._sat_cache[chunk] = table
        if len(self._sat_cache) > _ORBIT_CACHE_CHUNKS:
            self._sat_cache.popitem(last=False)
        return table

    def _update_satellite(self) -> None:
        """Satellite position, elevations and beam gains for the current slot, (B, n_beams, R)."""
        n = self._orbit_offset + self._slot  # (B,) orbit slot of each world
        chunk, row = np.divmod(n, _ORBIT_CHUNK)
        if np.all(chunk == chunk[0]):
            table = self._satellite_chunk(int(chunk[0]))
            rows = {name: value[row] for name, value in table.items()}
        else:
            parts = [self._satellite_chunk(int(c)) for c in chunk]
            rows = {name: np.stack([p[name][i] for p, i in zip(parts, row, strict=True)]) for name in parts[0]}
        los = self._u_sat < rows["p_los"]  # (B, R)
        loss_db = np.where(los, self._z_sat * self._sat_sig_los, rows["clutter_db"] + self._z_sat * self._sat_sig_nlos)
        gain_db = rows["base_db"] - loss_db[:, None, :]
        self._large[:, self._sl_sat] = np.where(rows["visible"][:, None, :], 10.0 ** (gain_db / 10.0), 0.0)
        self._los[:, self._sl_sat] = los[:, None, :]
        self._sat_pos = rows["pos"]
        self._sat_elev_beam = rows["elev_beam"]

    def _update_uavs(self) -> None:
        """Air-to-ground gains of the UAVs at their current positions, (B, n_uav, R)."""
        sc = self.scenario
        pos = np.concatenate([self._uav_xy, np.full((*self._uav_xy.shape[:2], 1), sc.uav.altitude_m)], axis=-1)
        vec = pos[:, :, None, :] - self._rx_pos[None, None, :, :]
        dist = np.linalg.norm(vec, axis=-1)
        elev = np.degrees(np.arcsin(np.clip(vec[..., 2] / dist, -1.0, 1.0)))
        los = self._u_uav < a2g_los_probability(elev, sc.uav.environment)
        gain_db = (
            sc.uav.antenna_gain_dbi
            + self._own_bf_db[self._sl_uav]
            + sc.users.antenna_gain_dbi
            - a2g_db(dist, sc.spectrum.carrier_hz, los, sc.uav.environment)
        )
        self._large[:, self._sl_uav] = np.where(self._rx_valid, 10.0 ** (gain_db / 10.0), 0.0)
        self._los[:, self._sl_uav] = los

    def _combine(self, rayleigh: npt.NDArray[np.float32], rician: npt.NDArray[np.float32]) -> npt.NDArray[np.float32]:
        """Channel (B, T, R, S) [linear], a new array: large-scale gain × |h|², with the Rician
        process on line-of-sight satellite/HAP/UAV links and the Rayleigh one elsewhere."""
        gain = np.multiply(rayleigh, self._large[..., None], out=np.empty(rayleigh.shape, dtype=np.float32))
        n_top = self._sl_hap.stop  # beams and HAPs come first on the transmitter axis
        for tx, part in ((slice(0, n_top), slice(0, n_top)), (self._sl_uav, slice(n_top, None))):
            los_gain = rician[:, part] * self._large[:, tx, :, None]
            np.copyto(gain[:, tx], los_gain, where=self._los[:, tx, :, None])
        return gain

    def _draw_channel(self) -> npt.NDArray[np.float32]:
        """Advance the fading one slot; the full channel (B, T, R, S) [linear], a new array."""
        return self._combine(self._rayleigh.step(), self._rician.step())

    # ------------------------------------------------------------------ World API
    def reset(self, seeds: Sequence[int]) -> Reports:
        """Start ``len(seeds)`` worlds; returns the reports for slot 0."""
        if len(seeds) == 0:
            raise ValueError("reset needs at least one seed")
        sc = self.scenario
        b_n, k, r, s = len(seeds), self._k, self._r, self._n_sub
        nb, nh, nt, nu = self._n_beams, self._n_beams, self._n_tbs, self._n_uav
        self.batch = b_n
        channel_rngs, rayleigh_rngs, rician_rngs, traffic_rngs, mobility_rngs = [], [], [], [], []
        for seed in seeds:
            ss = np.random.SeedSequence(int(seed)).spawn(5)
            gens = [np.random.default_rng(x) for x in ss]
            channel_rngs.append(gens[0])
            rayleigh_rngs.append(gens[1])
            rician_rngs.append(gens[2])
            traffic_rngs.append(gens[3])
            mobility_rngs.append(gens[4])
        # per-episode link states: uniform LoS draws and standard-normal shadowing
        self._u_sat = np.stack([g.random(r) for g in channel_rngs])
        self._z_sat = np.stack([g.standard_normal(r) for g in channel_rngs])
        u_hap = np.stack([g.random((nh, r)) for g in channel_rngs])
        z_hap = np.stack([g.standard_normal((nh, r)) for g in channel_rngs])
        u_tbs = np.stack([g.random((nt, r)) for g in channel_rngs])
        z_tbs = np.stack([g.standard_normal((nt, r)) for g in channel_rngs])
        self._u_uav = np.stack([g.random((nu, r)) for g in channel_rngs])
        self._active = np.stack([g.random((k, self._u)) < self.load for g in traffic_rngs]) & self._user_valid
        jitter_slots = np.floor(
            np.array([g.uniform(0.0, 1.0) for g in mobility_rngs]) * sc.orbit.start_jitter_s / self._orbit_step_s
        )
        self._orbit_offset = jitter_slots.astype(np.int64)
        self._slot = 0

        self._large = np.zeros((b_n, k, r), dtype=np.float32)
        self._los = np.zeros((b_n, k, r), dtype=bool)
        hap_los = u_hap < self._hap_p_los
        hap_db = (
            self._hap_base_db
            - np.where(hap_los, 0.0, self._hap_clutter_db)
            - z_hap * np.where(hap_los, self._hap_sig_los, self._hap_sig_nlos)
        )
        self._large[:, self._sl_hap] = np.where(self._rx_valid, 10.0 ** (hap_db / 10.0), 0.0)
        self._los[:, self._sl_hap] = hap_los
        tbs_los = u_tbs < self._tbs_p_los
        sig_los, sig_nlos = sc.channel.umi_shadow_sigma_db
        tbs_db = (
            self._tbs_base_db
            + self._own_bf_db[self._sl_tbs]
            - np.where(tbs_los, self._tbs_pl_los_db, self._tbs_pl_nlos_db)
            - z_tbs * np.where(tbs_los, sig_los, sig_nlos)
        )
        self._large[:, self._sl_tbs] = np.where(self._rx_valid, 10.0 ** (tbs_db / 10.0), 0.0)
        self._uav_xy = np.broadcast_to(self._uav_home, (b_n, nu, 2)).copy()
        self._update_satellite()
        self._update_uavs()

        self._ntn_tx = np.concatenate([np.arange(self._sl_sat.start, self._sl_hap.stop), self._uav_nodes])
        k_db = np.concatenate(
            [np.full(nb, sc.satellite.rician_k_db), np.full(nh, sc.hap.rician_k_db), np.full(nu, sc.uav.rician_k_db)]
        )
        self._rayleigh = GaussMarkovRayleigh((k, r, s), self._rho, 1.0)
        self._rician = GaussMarkovRician((len(self._ntn_tx), r, s), self._rho, k_db[:, None, None])
        # the channel of "slot -1" (what the first non-genie report shows), then slot 0's
        self._gain_prev = self._combine(self._rayleigh.reset(rayleigh_rngs), self._rician.reset(rician_rngs))
        self._gain_now = self._draw_channel()
        self._rx_buf = np.empty_like(self._gain_now)

        self._masks = np.broadcast_to(self._initial_masks(), (b_n, k, s)).copy()
        self._deficit_bits = np.where(self._active, self._qos_bits, 0.0)
        self._last_interference = np.where(self._user_valid[None, :, :, None], self._noise_w, 0.0).astype(np.float32)
        self._last_interference = np.broadcast_to(self._last_interference, (b_n, k, self._u, s)).copy()
        self._last_se = np.zeros((b_n, k, self._u, s), dtype=np.float32)
        return self._reports()

    def _allowed(self) -> npt.NDArray[np.bool_]:
        """(B, K, S) subbands each node's parents leave to it, from the masks last applied."""
        allowed = np.ones_like(self._masks)
        has_beam = self._parent_beam >= 0
        allowed[:, has_beam] &= ~self._masks[:, self._parent_beam[has_beam]]
        has_hap = self._parent_hap >= 0
        allowed[:, has_hap] &= ~self._masks[:, self._parent_hap[has_hap]]
        return allowed

    def _out_of_region(self) -> npt.NDArray[np.bool_]:
        """(B, n_uav) UAVs outside their region."""
        half = self.scenario.region.size_m / 2.0
        centre = self._region_xy[self._uav_region]
        return np.any(np.abs(self._uav_xy - centre[None]) > half, axis=-1)

    def _reports(self) -> Reports:
        b_n, k, u, s = self.batch, self._k, self._u, self._n_sub
        gain = self._gain_now if self.genie_csi else self._gain_prev
        gain_report = np.ascontiguousarray(gain.reshape(b_n, k, k, u, s).transpose(0, 2, 3, 4, 1))
        node_pos = np.broadcast_to(self._node_xyz, (b_n, k, 3)).copy()
        node_pos[:, self._sl_sat] = self._sat_pos[:, None, :]
        node_pos[:, self._sl_uav, :2] = self._uav_xy
        out_of_region = np.zeros((b_n, k), dtype=bool)
        out_of_region[:, self._sl_uav] = self._out_of_region()
        elevation = np.zeros((b_n, k), dtype=np.float32)
        elevation[:, self._sl_sat] = self._sat_elev_beam
        queue_bits = self._deficit_bits.astype(np.float32)
        return Reports(
            slot=self._slot,
            gain=gain_report,
            queue_bits=queue_bits,
            queue_packets=(queue_bits / np.float32(self._qos_bits)).astype(np.float32),
            interference_w=self._last_interference.copy(),
            spectral_efficiency_bps_hz=self._last_se.copy(),
            active=self._active.copy(),
            user_pos_m=np.broadcast_to(self._user_pos, (b_n, k, u, 3)).astype(np.float32),
            node_pos_m=node_pos.astype(np.float32),
            extra={"allowed": self._allowed(), "elevation_deg": elevation, "out_of_region": out_of_region},
        )

    def step(self, controls: Controls) -> tuple[Reports, SlotKpis]:
        """Apply ``controls`` to the current slot, advance one slot (see the module docstring)."""
        if self.batch == 0:
            raise RuntimeError("call reset() before step()")
        check_controls(controls, self.batch, self.spec)
        sc = self.scenario
        b_n, k, u, s, r = self.batch, self._k, self._u, self._n_sub, self._r
        user = np.asarray(controls.user).astype(np.int64)
        power = np.asarray(controls.power_w, dtype=np.float64)
        mask = np.asarray(controls.mask).astype(bool)
        in_range = (user >= 0) & (user < self._n_users[None, :, None])
        user_c = np.clip(user, 0, u - 1)
        user_active = np.take_along_axis(self._active, user_c, axis=2)
        on = in_range & user_active & mask & np.isfinite(power) & (power > 0.0)
        p_tx = np.where(on, np.minimum(np.nan_to_num(power), self._p_max_w[None, :, None]), 0.0).astype(np.float32)

        gain = self._gain_now  # (B, T, R, S)
        received = np.multiply(gain, p_tx[:, :, None, :], out=self._rx_buf)  # (B, T, R, S)
        # own-node links: the diagonal T = K of (B, T, K, U, S), a writeable view
        own_links = np.einsum("bkkus->bkus", received.reshape(b_n, k, k, u, s))
        own = own_links.reshape(b_n, r, s).copy()  # (B, R, S) power of each receiver's own node
        own_links[...] = 0.0
        interference = np.add.reduce(received, axis=1) + self._noise_w  # other nodes + noise (B, R, S)
        served = (user_c[:, :, None, :] == np.arange(u)[None, None, :, None]) & on[:, :, None, :]
        served = served.reshape(b_n, r, s)
        sinr = np.where(served, own / interference, 0.0)
        se = np.log2(1.0 + sinr).astype(np.float32)  # (B, R, S)
        bits = se.astype(np.float64) * (self._sub_bw_hz * sc.slot_s)
        delivered = bits.sum(axis=-1).reshape(b_n, k, u)

        tier_bits = np.stack(
            [
                delivered[:, self._sl_sat].sum(axis=(1, 2)),
                delivered[:, self._sl_hap].sum(axis=(1, 2)),
                delivered[:, self._sl_tbs.start :].sum(axis=(1, 2)),
            ],
            axis=1,
        )
        violated = self._active & (delivered < self._qos_bits)
        self._last_interference = np.where(
            self._user_valid[None, :, :, None], interference.reshape(b_n, k, u, s), 0.0
        ).astype(np.float32)
        self._last_se = se.reshape(b_n, k, u, s)
        self._masks = mask.copy()
        self._deficit_bits = np.where(
            self._active,
            np.minimum(np.maximum(self._deficit_bits - delivered, 0.0) + self._qos_bits, self._qos_cap_bits),
            0.0,
        )

        # UAV moves take effect at the end of the slot
        step_xy = np.asarray(controls.move_m, dtype=np.float64)[:, self._uav_nodes, :2]
        step_xy = np.where(np.isfinite(step_xy).all(axis=-1, keepdims=True), step_xy, 0.0)  # NaN/inf: stay
        length = np.linalg.norm(step_xy, axis=-1, keepdims=True)
        scale = np.minimum(1.0, sc.uav.max_step_m / np.maximum(length, 1e-12))
        limit = sc.region.size_m / 2.0 + sc.uav.flight_margin_m
        centre = self._region_xy[self._uav_region][None]
        moved_xy = np.clip(self._uav_xy + step_xy * scale, centre - limit, centre + limit)
        uav_moved = not np.array_equal(moved_xy, self._uav_xy)
        self._uav_xy = moved_xy
        out_count = self._out_of_region().sum(axis=1)

        kpis = SlotKpis(
            delivered_bits=delivered,
            arrived_bits=delivered.copy(),
            dropped_bits=np.zeros_like(delivered),
            active=self._active.copy(),
            qos_checked=self._active.copy(),
            qos_violated=violated,
            spectral_efficiency_bps_hz=delivered.sum(axis=(1, 2)) / (sc.slot_s * sc.spectrum.total_bandwidth_hz),
            extra={"uav_out_of_region": out_count.astype(np.int64), "tier_delivered_bits": tier_bits},
        )

        self._slot += 1
        self._update_satellite()
        if uav_moved:
            self._update_uavs()
        self._gain_prev = self._gain_now
        self._gain_now = self._draw_channel()
        return self._reports(), kpis
