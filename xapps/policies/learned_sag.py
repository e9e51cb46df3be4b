"""Learned tiers of the space–air–ground hierarchy (``sag``): observations, action masks and
decoding shared by training (``models.hppo``, ``models.sag_flat``) and the tier xApps, and the
ONNX tier policy.

Every builder reads only the rows of its own tier's nodes (what a tier xApp subscribes to) plus
the world's static description, so the same code runs on the RIC's per-tier reports and on a
whole world's reports. Arrays carry the batch axis ``B`` first; a tier xApp passes ``B = 1``.
Subband axes are padded to ``P`` (the model's ``max_subbands``, default the world's ``S``):
padded subbands read as zeros and their actions are masked, so a model trained with ``P``
subbands runs on any world with ``S <= P`` (e.g. the reduced instance of
`xapps.policies.allocation.reduced_overrides`).

Split tiers — satellite (agent = beam, ``sag-split-v1``) and HAP (agent = HAP)
-----------------------------------------------------------------------------
Observation (`SPLIT_DIM` numbers): share size / S; active direct users / U; the direct users'
part ``d / (d + h)`` of the tree (``h``: the users below, estimated as in
`xapps.hierarchy.ProportionalSatellite`); the proportional rule's keep count / S; link
visible (satellite above ``min_elevation_deg`` at the beam centre; 1 for a HAP); elevation /
90° (0 for a HAP); the direct users' mean last-slot spectral efficiency summed over subbands /
10 [bit/s/Hz]; their mean ``log1p(queue_packets)`` / 5; the fraction of them below the QoS rate
last slot; their mean SNR at full power over subbands [dB] / 100.
Action: one head of size ``P + 1``, the number of subbands of the share the node keeps (the
lowest indices of its share, as the heuristics). Masked to ``<=`` the share size, and to 0 when
the node has no active direct user or (satellite) no link.

Local tier — agent = TBS/UAV node (``sag-local-v1``)
----------------------------------------------------
Observation: per subband (``P`` each) allowed by the constraint; in the region's equal-split
block of this node (`xapps.hierarchy.EqualSplitLocal`); mean SNR of its active users at full
power [dB] / 100; mean last-slot interference plus noise over noise at them [dB] / 100; their
mean last-slot spectral efficiency / 10; then `LOCAL_SCALARS` numbers: is a UAV; active users
/ U; mean ``log1p(queue_packets)`` / 5; fraction below the QoS rate last slot; allowed subbands
/ S; region nodes with active users / region nodes; UAV offset from its region centre / half
the region size (x, y); vector to its active users' centroid / `CENTROID_SCALE_M` (x, y).
Action: ``P`` heads of size ``L + 1`` (off, or power level ``l`` of the node's
``power_levels_dbm``), forced off outside the constraint; one move head (`MOVES`: stay, one
``uav_max_step_m`` step toward its active users' centroid, or toward its region centre),
forced to stay for a TBS. On the subbands it transmits, a node serves its active users by
decreasing QoS deficit queue, cycling (as `xapps.hierarchy._serve`).

Flat baseline — agent = every node, every slot (``sag-flat-v1``)
----------------------------------------------------------------
Observation: per subband mean SNR at full power, interference over noise, spectral efficiency
(as above) and whether the heuristic hierarchy (proportional satellite and HAP splits, equal
split in the regions, recomputed every slot) gives the subband to this node; then a tier
one-hot (3), is a UAV, active users / U, ``log1p`` queue / 5, QoS-violation fraction,
elevation / 90°, visible, UAV region offset (2), centroid vector (2). Action: ``P`` heads of
size ``L_max + 1`` (levels above a node's own count are masked) and the move head; no
constraints (beams and HAPs transmit where they choose, every node every slot).
"""

from __future__ import annotations

import time
from collections.abc import Callable
from pathlib import Path
from typing import Any, ClassVar

import numpy as np

from ric.protocol import Controls, Reports, WorldSpec
from ric.protocol.models import (
    INPUT_OBS,
    INPUT_STATE,
    OUTPUT_LOGITS,
    OUTPUT_STATE,
    ModelError,
    ModelInfo,
    session_options,
    validate_model,
)
from xapps.hierarchy import SagTree, TierDecision
from xapps.policies import PolicyError, register
from xapps.policies.base import Policy

SPLIT_BUILDER = "sag-split-v1"
LOCAL_BUILDER = "sag-local-v1"
FLAT_BUILDER = "sag-flat-v1"
#: xApp kind of each tier's models, and of the flat baseline's.
TIER_XAPP_KINDS = {"satellite": "sag-satellite", "hap": "sag-hap", "local": "sag-local"}
FLAT_XAPP_KIND = "sag-flat"
SPLIT_DIM = 10
LOCAL_PER_SUBBAND = 5
LOCAL_SCALARS = 10
FLAT_PER_SUBBAND = 4
FLAT_SCALARS = 13
MOVES = ("stay", "toward-users", "toward-region-centre")
#: Scale of the UAV's vector to its users' centroid in the observation [m].
CENTROID_SCALE_M = 500.0
_DB_FLOOR = -30.0
_DB_CAP = 100.0
_MASKED = np.float32(-1e9)

F32 = np.float32


def _db(x: np.ndarray) -> np.ndarray:
    """Clipped dB of a positive ratio, / 100."""
    return (np.clip(10.0 * np.log10(np.maximum(x, 1e-3)), _DB_FLOOR, _DB_CAP) / 100.0).astype(F32)


def _watts(dbm: float) -> float:
    return float(10.0 ** ((dbm - 30.0) / 10.0))


def serve_users(active: np.ndarray, queue_bits: np.ndarray, on: np.ndarray) -> np.ndarray:
    """Users served on the subbands ``on``: active users by decreasing deficit queue, cycling.

    Parameters
    ----------
    active : ndarray, bool, (B, N, U)
    queue_bits : ndarray, float32, (B, N, U)
        QoS deficit queue [bit].
    on : ndarray, bool, (B, N, S)
        Subbands the node transmits on.

    Returns
    -------
    ndarray, int16, (B, N, S)
        User slot per subband, −1 where off or without active user (as `xapps.hierarchy._serve`).
    """
    key = np.where(active, -queue_bits, np.inf)
    order = np.argsort(key, axis=-1, kind="stable")
    n_act = active.sum(axis=-1, keepdims=True)
    rank = np.cumsum(on, axis=-1) - 1
    idx = np.where(n_act > 0, rank % np.maximum(n_act, 1), 0)
    user = np.take_along_axis(order, idx, axis=-1)
    return np.where(on & (n_act > 0), user, -1).astype(np.int16)


def split_count(n_share: np.ndarray, direct: np.ndarray, below: np.ndarray) -> np.ndarray:
    """`xapps.hierarchy._split_count`, elementwise: subbands kept of ``n_share`` (int64)."""
    n = n_share.astype(np.float64)
    with np.errstate(invalid="ignore", divide="ignore"):
        prop = np.round(n * direct / (direct + below))
    keep = np.where(n > 1, np.minimum(np.maximum(prop, 1), n - 1), 0)
    keep = np.where(below <= 0, n, keep)
    keep = np.where((n == 0) | (direct <= 0), 0, keep)
    return np.nan_to_num(keep).astype(np.int64)


def lowest_of_share(allowed: np.ndarray, count: np.ndarray) -> np.ndarray:
    """The ``count`` lowest subbands of each share, (B, N, S) bool, from ``allowed`` (B, N, S) and ``count`` (B, N)."""
    return allowed & (np.cumsum(allowed, axis=-1) <= count[..., None])


class SagLayout:
    """Static facts of a ``sag`` world the builders need (from its `WorldSpec` only).

    Parameters
    ----------
    spec : WorldSpec
        A ``sag`` world; `xapps.hierarchy.HierarchyError` otherwise.
    """

    def __init__(self, spec: WorldSpec) -> None:
        self.spec = spec
        self.tree = SagTree.of(spec)
        t = self.tree
        self.k, self.u, self.s = spec.n_nodes, spec.n_users_max, spec.n_resources
        self.beams = np.array(t.beams)
        self.haps = np.array(t.haps)
        self.hap_of_beam = np.array(t.hap_of_beam)
        self.local = np.array(t.local)
        self.deployed = np.array([n.n_users for n in spec.nodes], dtype=np.float64)
        self.power_max_w = np.array([_watts(n.max_power_dbm) for n in spec.nodes], dtype=F32)
        self.levels_w = [[_watts(x) for x in (n.power_levels_dbm or (n.max_power_dbm,))] for n in spec.nodes]
        self.noise_w = _watts(spec.noise_dbm)
        self.snr_scale = (self.power_max_w / self.noise_w).astype(F32)
        self.qos_bps = float(spec.static.get("qos_min_rate_bps", 0.0))
        self.bandwidth_hz = spec.resource_bandwidth_hz
        self.min_elevation_deg = float(spec.static.get("orbit", {}).get("min_elevation_deg", 0.0))
        self.max_step_m = float(spec.static.get("uav_max_step_m", 0.0))
        self.is_uav = np.array([n.kind == "uav" for n in spec.nodes])
        # deployed users below each beam (HAP + tree) and below each HAP (tree)
        self.below_beam = np.array([self.deployed[[h, *t.tree_nodes(h)]].sum() for h in t.hap_of_beam])
        self.below_hap = np.array([self.deployed[list(t.tree_nodes(h))].sum() for h in t.haps])
        self.tree_of_hap = [np.array(t.tree_nodes(h)) for h in t.haps]
        # region of each local node, its rank in the region, region centres and half sizes
        regions = spec.static["regions"]
        self.region_nodes = [np.array(r["nodes"]) for r in regions]
        width = max(len(nodes) for nodes in self.region_nodes)
        self.region_table = np.zeros((len(regions), width), dtype=np.intp)  # padding rows read node 0
        self.region_real = np.zeros((len(regions), width), dtype=bool)
        for j, nodes in enumerate(self.region_nodes):
            self.region_table[j, : len(nodes)] = nodes
            self.region_real[j, : len(nodes)] = True
        self.region_of = np.full(self.k, -1)
        for j, nodes in enumerate(self.region_nodes):
            self.region_of[nodes] = j
        self.region_centre_m = np.array([r["center_m"] for r in regions], dtype=np.float64)
        self.region_half_m = np.array(
            [(np.asarray(r["bounds_m"][1]) - np.asarray(r["bounds_m"][0])) / 2.0 for r in regions]
        )
        tiers = spec.static["node_tier"]
        self.tier_of = np.array([("satellite", "hap", "local").index(x) for x in tiers])

    # per-node statistics of the node's own users ------------------------------------------------
    def user_stats(self, reports: Reports, nodes: np.ndarray) -> dict[str, np.ndarray]:
        """Per-node summaries of ``nodes``' users, arrays (B, N) / (B, N, S) float32."""
        active = reports.active[:, nodes]  # (B, N, U)
        act_f = active.astype(F32)
        n_act = act_f.sum(-1)
        denom = np.maximum(n_act, 1.0)
        se = reports.spectral_efficiency_bps_hz[:, nodes]  # (B, N, U, S)
        rate_bps = se.sum(-1) * F32(self.bandwidth_hz)
        violated = (rate_bps < self.qos_bps) & active
        gain = reports.gain[:, nodes][..., :, :, :]  # (B, N, U, S, T)
        own = np.take_along_axis(gain, nodes[None, :, None, None, None], axis=-1)[..., 0]  # (B, N, U, S)
        snr = own * self.snr_scale[nodes][None, :, None, None]
        w = act_f[..., None]
        snr_db = (_db(snr) * w).sum(2) / denom[..., None]  # (B, N, S)
        inr_db = (_db(reports.interference_w[:, nodes] / F32(self.noise_w)) * w).sum(2) / denom[..., None]
        se_s = (se * w).sum(2) / denom[..., None] / F32(10.0)
        return {
            "active": active,
            "n_active": n_act,
            "queue": (np.log1p(reports.queue_packets[:, nodes]) * act_f).sum(-1) / denom / F32(5.0),
            "violation": violated.sum(-1) / denom,
            "se_user": (se.sum(-1) * act_f).sum(-1) / denom / F32(10.0),
            "snr_db": snr_db,
            "inr_db": inr_db,
            "se_s": se_s,
        }

    def visible(self, reports: Reports) -> np.ndarray:
        """(B, n_beams) bool: the satellite is above the service elevation at each beam centre."""
        elevation = reports.extra.get("elevation_deg")
        if elevation is None:
            return np.ones((reports.batch, len(self.beams)), dtype=bool)
        return np.asarray(elevation)[:, self.beams] >= self.min_elevation_deg

    def equal_split_blocks(self, active: np.ndarray, allowed: np.ndarray) -> np.ndarray:
        """`xapps.hierarchy.EqualSplitLocal`'s blocks: (B, K, S) bool, True where a local node gets a subband.

        ``active`` (B, K, U) and ``allowed`` (B, K, S) over every node (only local rows are read).
        All regions at once: ``region_table`` (R, n) lists each region's nodes, padded with a
        node that never serves and allows everything.
        """
        b = active.shape[0]
        table, real = self.region_table, self.region_real  # (R, n) int, (R, n) bool
        serving = active[:, table].any(-1) & real  # (B, R, n)
        n_serving = np.maximum(serving.sum(-1), 1)  # (B, R)
        share: np.ndarray = np.asarray((allowed[:, table] | ~real[None, :, :, None]).all(2))  # (B, R, S)
        m = share.sum(-1)  # (B, R)
        pos = np.cumsum(share, axis=-1) - 1  # (B, R, S)
        q, r = m // n_serving, m % n_serving
        big = (r * (q + 1))[..., None]
        block = np.where(pos < big, pos // (q + 1)[..., None],
                         r[..., None] + (pos - big) // np.maximum(q, 1)[..., None])
        rank = np.cumsum(serving, axis=-1) - 1  # (B, R, n)
        got = (block[:, :, None, :] == rank[..., None]) & share[:, :, None, :] & serving[..., None]
        out = np.zeros((b, self.k, self.s), dtype=bool)
        out[:, table[real]] = got[:, real]
        return out

    def uav_geometry(self, reports: Reports, nodes: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """Region offset / half size (B, N, 2), vector to the users' centroid [m] (B, N, 2) and to
        the region centre [m] (B, N, 2) of ``nodes`` (zeros where a node is not a UAV or has no user)."""
        pos = reports.node_pos_m[:, nodes, :2].astype(np.float64)
        region = self.region_of[nodes]
        centre = np.where(region[:, None] >= 0, self.region_centre_m[np.maximum(region, 0)], 0.0)
        half = np.where(region[:, None] >= 0, self.region_half_m[np.maximum(region, 0)], 1.0)
        uav = self.is_uav[nodes][None, :, None]
        offset = np.where(uav, (pos - centre[None]) / half[None], 0.0)
        active = reports.active[:, nodes]
        n_act = active.sum(-1, keepdims=True)
        users = reports.user_pos_m[:, nodes, :, :2].astype(np.float64)
        centroid = (users * active[..., None]).sum(2) / np.maximum(n_act, 1)
        to_users = np.where(uav & (n_act > 0), centroid - pos, 0.0)
        to_centre = np.where(uav, centre[None] - pos, 0.0)
        return offset.astype(F32), to_users, to_centre

    def step_toward(self, delta_m: np.ndarray) -> np.ndarray:
        """A move of at most ``max_step_m`` along ``delta_m`` (..., 2) [m]."""
        dist = np.linalg.norm(delta_m, axis=-1, keepdims=True)
        return np.where(dist > 0, delta_m * np.minimum(1.0, self.max_step_m / np.maximum(dist, 1e-12)), 0.0)

    def heuristic_allocation(self, reports: Reports) -> np.ndarray:
        """Subbands every node transmits on under the three heuristics composed in one slot, (B, K, S) bool."""
        b = reports.batch
        on = np.zeros((b, self.k, self.s), dtype=bool)
        allowed = np.ones((b, self.k, self.s), dtype=bool)
        direct = reports.active[:, self.beams].sum(-1).astype(np.float64)
        frac = np.where(self.deployed[self.beams] > 0, direct / np.maximum(self.deployed[self.beams], 1), 1.0)
        visible = self.visible(reports)
        keep = split_count(np.full(direct.shape, self.s), np.where(visible, direct, 0.0), self.below_beam * frac)
        beam_on = lowest_of_share(allowed[:, self.beams], keep)
        on[:, self.beams] = beam_on
        allowed[:, self.hap_of_beam] = ~beam_on
        direct = reports.active[:, self.haps].sum(-1).astype(np.float64)
        frac = np.where(self.deployed[self.haps] > 0, direct / np.maximum(self.deployed[self.haps], 1), 1.0)
        share = allowed[:, self.haps]
        keep = split_count(share.sum(-1), direct, self.below_hap * frac)
        hap_on = lowest_of_share(share, keep)
        on[:, self.haps] = hap_on
        for i, nodes in enumerate(self.tree_of_hap):
            allowed[:, nodes] = (share[:, i] & ~hap_on[:, i])[:, None, :]
        on |= self.equal_split_blocks(reports.active, allowed)
        return on


def _pad(x: np.ndarray, p: int) -> np.ndarray:
    """Pad the last axis (S) with zeros to ``p``."""
    s = x.shape[-1]
    if s == p:
        return x
    return np.concatenate([x, np.zeros((*x.shape[:-1], p - s), dtype=x.dtype)], axis=-1)


class SplitTier:
    """Satellite (``tier = "satellite"``, agents = beams) or HAP (``"hap"``, agents = HAPs) split tier.

    Parameters
    ----------
    spec : WorldSpec
        A ``sag`` world.
    tier : {"satellite", "hap"}
    max_subbands : int, optional
        ``P``, the padded subband count of the model (default: the world's ``S``).
    """

    def __init__(self, spec: WorldSpec, tier: str, max_subbands: int | None = None) -> None:
        if tier not in ("satellite", "hap"):
            raise ValueError(f"split tier is 'satellite' or 'hap', not {tier!r}")
        self.layout = SagLayout(spec)
        self.tier = tier
        lay = self.layout
        self.p = int(max_subbands or lay.s)
        if self.p < lay.s:
            raise ModelError(f"the world has {lay.s} subbands, the model at most {self.p}")
        self.agents = lay.beams if tier == "satellite" else lay.haps
        self.dim = SPLIT_DIM
        self.heads = [self.p + 1]

    def observation_spec(self) -> dict[str, Any]:
        """The model's ``observation`` metadata."""
        return {"builder": SPLIT_BUILDER, "dim": self.dim, "max_subbands": self.p, "tier": self.tier}

    def action_spec(self) -> dict[str, Any]:
        """The model's ``action`` metadata."""
        return {"heads": list(self.heads), "meaning": "subbands of the share kept (lowest indices)"}

    def _direct_below(self, reports: Reports) -> tuple[np.ndarray, np.ndarray]:
        lay = self.layout
        direct = reports.active[:, self.agents].sum(-1).astype(np.float64)
        dep = lay.deployed[self.agents]
        frac = np.where(dep > 0, direct / np.maximum(dep, 1), 1.0)
        below = (lay.below_beam if self.tier == "satellite" else lay.below_hap) * frac
        if self.tier == "satellite":
            direct = np.where(lay.visible(reports), direct, 0.0)
        return direct, below

    def observe(self, reports: Reports, allowed: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """Observations (B, N, dim) float32, valid actions (B, N, P+1) bool and the proportional
        rule's action (B, N, 1) int64, for ``allowed`` (B, K, S) bool."""
        lay = self.layout
        b = reports.batch
        share = allowed[:, self.agents]
        n_share = share.sum(-1)
        direct, below = self._direct_below(reports)
        keep = split_count(n_share, direct, below)
        st = lay.user_stats(reports, self.agents)
        obs = np.zeros((b, len(self.agents), self.dim), dtype=F32)
        obs[..., 0] = n_share / lay.s
        obs[..., 1] = st["n_active"] / lay.u
        with np.errstate(invalid="ignore", divide="ignore"):
            obs[..., 2] = np.nan_to_num(direct / (direct + below))
        obs[..., 3] = keep / lay.s
        if self.tier == "satellite":
            vis = lay.visible(reports)
            obs[..., 4] = vis
            elevation = reports.extra.get("elevation_deg")
            if elevation is not None:
                obs[..., 5] = np.asarray(elevation)[:, self.agents] / 90.0
        else:
            obs[..., 4] = 1.0
        obs[..., 6] = st["se_user"]
        obs[..., 7] = st["queue"]
        obs[..., 8] = st["violation"]
        obs[..., 9] = st["snr_db"].mean(-1)
        counts = np.arange(self.p + 1)
        valid = counts[None, None, :] <= np.where(direct > 0, n_share, 0)[..., None]
        return obs, valid, keep[..., None]

    def decode(self, actions: np.ndarray, reports: Reports, allowed: np.ndarray
               ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """Kept subbands (B, N, S) bool, served users (B, N, S) int16, powers (B, N, S) [W] for
        ``actions`` (B, N, 1); a count above the share keeps the whole share."""
        lay = self.layout
        share = allowed[:, self.agents]
        keep = lowest_of_share(share, actions[..., 0])
        user = serve_users(reports.active[:, self.agents], reports.queue_bits[:, self.agents], keep)
        power = np.where(user >= 0, lay.power_max_w[self.agents][None, :, None], F32(0.0)).astype(F32)
        return keep, user, power


class LocalTier:
    """The local tier: subband, power and move of every TBS/UAV (module docstring).

    Parameters
    ----------
    spec : WorldSpec
        A ``sag`` world.
    max_subbands : int, optional
        ``P`` (default: the world's ``S``).
    """

    def __init__(self, spec: WorldSpec, max_subbands: int | None = None) -> None:
        self.layout = lay = SagLayout(spec)
        self.p = int(max_subbands or lay.s)
        if self.p < lay.s:
            raise ModelError(f"the world has {lay.s} subbands, the model at most {self.p}")
        self.agents = lay.local
        self.n_levels = max(len(lay.levels_w[k]) for k in self.agents)
        self.dim = LOCAL_PER_SUBBAND * self.p + LOCAL_SCALARS
        self.heads = [self.n_levels + 1] * self.p + [len(MOVES)]
        table = np.zeros((len(self.agents), self.n_levels + 1), dtype=F32)
        for i, k in enumerate(self.agents):
            levels = lay.levels_w[k]
            table[i, 1 : 1 + len(levels)] = levels
            table[i, 1 + len(levels) :] = levels[-1]
        self.power_table_w = table
        self.level_valid = np.zeros((len(self.agents), self.n_levels + 1), dtype=bool)
        for i, k in enumerate(self.agents):
            self.level_valid[i, : 1 + len(lay.levels_w[k])] = True
        self.top_level = np.array([len(lay.levels_w[k]) for k in self.agents])

    def observation_spec(self) -> dict[str, Any]:
        """The model's ``observation`` metadata."""
        return {"builder": LOCAL_BUILDER, "dim": self.dim, "max_subbands": self.p, "tier": "local"}

    def action_spec(self) -> dict[str, Any]:
        """The model's ``action`` metadata."""
        nodes = self.layout.spec.nodes
        levels = {nodes[k].kind: list(nodes[k].power_levels_dbm) for k in self.agents}
        return {"heads": list(self.heads), "moves": list(MOVES), "power_levels_dbm": dict(sorted(levels.items()))}

    def observe(self, reports: Reports, allowed: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """Observations (B, N, dim), valid actions (B, N, Σ heads) bool and the heuristic's action
        (B, N, P+1) int64, for ``allowed`` (B, K, S) bool."""
        lay, p, s = self.layout, self.p, self.layout.s
        b, n = reports.batch, len(self.agents)
        own_allowed = allowed[:, self.agents]
        blocks = lay.equal_split_blocks(reports.active, allowed)[:, self.agents]
        st = lay.user_stats(reports, self.agents)
        offset, to_users, _ = lay.uav_geometry(reports, self.agents)
        per = np.stack([own_allowed.astype(F32), blocks.astype(F32), st["snr_db"], st["inr_db"], st["se_s"]], axis=2)
        obs = np.zeros((b, n, self.dim), dtype=F32)
        obs[..., : LOCAL_PER_SUBBAND * p] = _pad(per, p).reshape(b, n, -1)
        region_serving = np.zeros((b, n), dtype=F32)
        for nodes in lay.region_nodes:
            idx = np.searchsorted(self.agents, nodes)
            region_serving[:, idx] = reports.active[:, nodes].any(-1).mean(-1, keepdims=True)
        sc = obs[..., LOCAL_PER_SUBBAND * p :]
        sc[..., 0] = lay.is_uav[self.agents]
        sc[..., 1] = st["n_active"] / lay.u
        sc[..., 2] = st["queue"]
        sc[..., 3] = st["violation"]
        sc[..., 4] = own_allowed.sum(-1) / s
        sc[..., 5] = region_serving
        sc[..., 6:8] = offset
        sc[..., 8:10] = to_users / CENTROID_SCALE_M
        # valid actions: off everywhere; levels of the node only on allowed (real) subbands
        l1 = self.n_levels + 1
        sub_ok = _pad(own_allowed, p)  # (B, N, P)
        valid_levels = sub_ok[..., None] & self.level_valid[None, :, None, :]
        valid_levels[..., 0] = True
        move_ok = np.zeros((b, n, len(MOVES)), dtype=bool)
        move_ok[..., 0] = True
        move_ok[..., 1:] = lay.is_uav[self.agents][None, :, None]
        valid = np.concatenate([valid_levels.reshape(b, n, p * l1), move_ok], axis=-1)
        teacher = np.zeros((b, n, p + 1), dtype=np.int64)
        teacher[..., :p] = _pad(blocks, p) * self.top_level[None, :, None]
        has_users = st["n_active"] > 0
        teacher[..., p] = np.where(lay.is_uav[self.agents][None] & has_users, 1, 0)
        return obs, valid, teacher

    def decode(self, actions: np.ndarray, reports: Reports, allowed: np.ndarray
               ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """Served users (B, N, S) int16, powers (B, N, S) [W] and moves (B, N, 3) [m] for
        ``actions`` (B, N, P+1); subbands outside ``allowed`` are off whatever the action."""
        lay, s = self.layout, self.layout.s
        level = np.clip(actions[..., :s], 0, self.n_levels)
        power = np.take_along_axis(self.power_table_w[None], level, axis=-1)  # (B, N, S)
        on = (power > 0) & allowed[:, self.agents]
        user = serve_users(reports.active[:, self.agents], reports.queue_bits[:, self.agents], on)
        power = np.where(user >= 0, power, F32(0.0)).astype(F32)
        _, to_users, to_centre = lay.uav_geometry(reports, self.agents)
        mv = actions[..., self.p]
        delta = np.where((mv == 1)[..., None], to_users, np.where((mv == 2)[..., None], to_centre, 0.0))
        move = np.zeros((*mv.shape, 3), dtype=F32)
        move[..., :2] = lay.step_toward(delta)
        return user, power, move


class FlatNodes:
    """The flat baseline: every node decides subbands, power and move every slot, unconstrained.

    Parameters
    ----------
    spec : WorldSpec
        A ``sag`` world.
    max_subbands : int, optional
        ``P`` (default: the world's ``S``).
    """

    def __init__(self, spec: WorldSpec, max_subbands: int | None = None) -> None:
        self.layout = lay = SagLayout(spec)
        self.p = int(max_subbands or lay.s)
        if self.p < lay.s:
            raise ModelError(f"the world has {lay.s} subbands, the model at most {self.p}")
        self.agents = np.arange(lay.k)
        self.n_levels = max(len(x) for x in lay.levels_w)
        self.dim = FLAT_PER_SUBBAND * self.p + FLAT_SCALARS
        self.heads = [self.n_levels + 1] * self.p + [len(MOVES)]
        table = np.zeros((lay.k, self.n_levels + 1), dtype=F32)
        self.level_valid = np.zeros((lay.k, self.n_levels + 1), dtype=bool)
        for k, levels in enumerate(lay.levels_w):
            table[k, 1 : 1 + len(levels)] = levels
            table[k, 1 + len(levels) :] = levels[-1]
            self.level_valid[k, : 1 + len(levels)] = True
        self.power_table_w = table
        self.top_level = np.array([len(x) for x in lay.levels_w])

    def observation_spec(self) -> dict[str, Any]:
        """The model's ``observation`` metadata."""
        return {"builder": FLAT_BUILDER, "dim": self.dim, "max_subbands": self.p, "tier": "flat"}

    def action_spec(self) -> dict[str, Any]:
        """The model's ``action`` metadata."""
        return {"heads": list(self.heads), "moves": list(MOVES)}

    def observe(self, reports: Reports) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """Observations (B, K, dim), valid actions (B, K, Σ heads) and the heuristic hierarchy's
        action (B, K, P+1) int64."""
        lay, p = self.layout, self.p
        b, k = reports.batch, lay.k
        st = lay.user_stats(reports, self.agents)
        suggestion = lay.heuristic_allocation(reports)
        per = np.stack([st["snr_db"], st["inr_db"], st["se_s"], suggestion.astype(F32)], axis=2)
        obs = np.zeros((b, k, self.dim), dtype=F32)
        obs[..., : FLAT_PER_SUBBAND * p] = _pad(per, p).reshape(b, k, -1)
        sc = obs[..., FLAT_PER_SUBBAND * p :]
        sc[..., 0:3] = np.eye(3, dtype=F32)[lay.tier_of][None]
        sc[..., 3] = lay.is_uav
        sc[..., 4] = st["n_active"] / lay.u
        sc[..., 5] = st["queue"]
        sc[..., 6] = st["violation"]
        elevation = reports.extra.get("elevation_deg")
        if elevation is not None:
            sc[..., 7] = np.asarray(elevation) / 90.0
        sc[..., 8] = 1.0
        sc[:, lay.beams, 8] = lay.visible(reports)
        offset, to_users, _ = lay.uav_geometry(reports, self.agents)
        sc[..., 9:11] = offset
        sc[..., 11:13] = to_users / CENTROID_SCALE_M
        l1 = self.n_levels + 1
        real = np.arange(p) < lay.s
        valid_levels = np.broadcast_to(real[None, None, :, None] & self.level_valid[None, :, None, :],
                                       (b, k, p, l1)).copy()
        valid_levels[..., 0] = True
        move_ok = np.zeros((b, k, len(MOVES)), dtype=bool)
        move_ok[..., 0] = True
        move_ok[..., 1:] = lay.is_uav[None, :, None]
        valid = np.concatenate([valid_levels.reshape(b, k, p * l1), move_ok], axis=-1)
        teacher = np.zeros((b, k, p + 1), dtype=np.int64)
        teacher[..., :p] = _pad(suggestion, p) * self.top_level[None, :, None]
        teacher[..., p] = np.where(lay.is_uav[None] & (st["n_active"] > 0), 1, 0)
        return obs, valid, teacher

    def decode(self, actions: np.ndarray, reports: Reports) -> Controls:
        """`Controls` (B, K, ...) for ``actions`` (B, K, P+1); masks are all True (no hierarchy)."""
        lay, s = self.layout, self.layout.s
        b = actions.shape[0]
        level = np.clip(actions[..., :s], 0, self.n_levels)
        power = np.take_along_axis(self.power_table_w[None], level, axis=-1)
        user = serve_users(reports.active, reports.queue_bits, power > 0)
        controls = Controls.off(b, lay.k, s)
        controls.user[...] = user
        controls.power_w[...] = np.where(user >= 0, power, F32(0.0))
        _, to_users, to_centre = lay.uav_geometry(reports, self.agents)
        mv = actions[..., self.p]
        delta = np.where((mv == 1)[..., None], to_users, np.where((mv == 2)[..., None], to_centre, 0.0))
        controls.move_m[..., :2] = lay.step_toward(delta)
        return controls


def masked_argmax(logits: np.ndarray, valid: np.ndarray, heads: list[int]) -> np.ndarray:
    """Greedy action per head among the valid ones: (N, Σ heads) → (N, len(heads)) int64."""
    scores = np.where(valid, logits, _MASKED)
    out = np.empty((logits.shape[0], len(heads)), dtype=np.int64)
    start = 0
    for i, size in enumerate(heads):
        out[:, i] = scores[:, start : start + size].argmax(axis=1)
        start += size
    return out


def tier_model_spec(builder: SplitTier | LocalTier | FlatNodes, kind: str) -> dict[str, Any]:
    """The model spec (xApp kind, world kind, observation, action) a model must match."""
    return {"xapp_kind": kind, "world_kind": "sag", "observation": builder.observation_spec(),
            "action": builder.action_spec()}


def _builder_for(spec: WorldSpec, tier: str, max_subbands: int | None) -> SplitTier | LocalTier | FlatNodes:
    if tier in ("satellite", "hap"):
        return SplitTier(spec, tier, max_subbands)
    if tier == "local":
        return LocalTier(spec, max_subbands)
    if tier == "flat":
        return FlatNodes(spec, max_subbands)
    raise ModelError(f"unknown sag tier {tier!r}; one of satellite, hap, local, flat")


class _OnnxRunner:
    """One onnxruntime session of a sag model, checked against the world (tier, subbands, specs)."""

    def __init__(self, spec: WorldSpec, tier: str, model: bytes, source: str) -> None:
        import onnxruntime as ort

        kind = FLAT_XAPP_KIND if tier == "flat" else TIER_XAPP_KINDS.get(tier, "")
        info = self._peek(model, source)
        meta = info
        have_kind = meta.get("xapp_kind")
        if have_kind != kind:
            raise ModelError(f"{source}: a {have_kind!r} model cannot run the sag {tier} tier (needs {kind!r})")
        p = int(meta.get("observation", {}).get("max_subbands", 0))
        if p < spec.n_resources:
            raise ModelError(f"{source}: model handles at most {p} subbands, the world has {spec.n_resources}")
        self.builder = _builder_for(spec, tier, p)
        expected = tier_model_spec(self.builder, kind)
        try:
            self.info: ModelInfo = validate_model(model, expected)
        except ModelError as exc:
            raise ModelError(f"{source}: {exc}") from None
        self.session = ort.InferenceSession(model, session_options(), providers=["CPUExecutionProvider"])
        self.heads = list(self.builder.heads)

    @staticmethod
    def _peek(model: bytes, source: str) -> dict[str, Any]:
        import onnx

        from ric.protocol.models import read_metadata

        try:
            proto = onnx.load_from_string(model)
        except Exception:  # onnx raises several unrelated types for a corrupt file
            raise ModelError(f"{source}: not a valid ONNX model") from None
        try:
            return read_metadata(proto)
        except ModelError as exc:
            raise ModelError(f"{source}: {exc}") from None

    def act(self, obs: np.ndarray, valid: np.ndarray) -> np.ndarray | None:
        """Greedy actions (B, N, len(heads)) for ``obs`` (B, N, dim); None when outputs are not finite."""
        b, n, d = obs.shape
        flat = obs.reshape(b * n, d)
        state = np.zeros((b * n, self.info.hidden), dtype=F32)
        logits, _ = self.session.run([OUTPUT_LOGITS, OUTPUT_STATE], {INPUT_OBS: flat, INPUT_STATE: state})
        if not np.isfinite(logits).all():
            return None
        return masked_argmax(logits, valid.reshape(b * n, -1), self.heads).reshape(b, n, -1)


def _read_model(path: str | Path) -> bytes:
    file = Path(path).expanduser()
    if not file.is_file():
        raise ModelError(f"model file {str(path)!r} not found")
    return file.read_bytes()


class OnnxTierPolicy:
    """A tier of the hierarchy run by an ONNX model (the `xapps.hierarchy.TierPolicy` protocol).

    One onnxruntime session (one thread, sequential); every agent of the tier in one call. The
    model's metadata must name this tier's xApp kind and match the world's observation/action
    spec; otherwise `ModelError` with one line. A slot whose outputs are not finite is decided by
    the tier's heuristic and counted in `fallbacks`.

    Parameters
    ----------
    spec : WorldSpec
        The ``sag`` world.
    tier : {"satellite", "hap", "local"}
    model : bytes
        The ONNX file's content.
    source : str
        Where it came from, for messages.
    """

    def __init__(self, spec: WorldSpec, tier: str, model: bytes, source: str = "model") -> None:
        from xapps.hierarchy import TIER_HEURISTICS

        if tier not in TIER_XAPP_KINDS:
            raise ModelError(f"unknown sag tier {tier!r}; one of {', '.join(TIER_XAPP_KINDS)}")
        self.spec, self.tier = spec, tier
        self.runner = _OnnxRunner(spec, tier, model, source)
        builder = self.runner.builder
        assert isinstance(builder, SplitTier | LocalTier)
        self.builder: SplitTier | LocalTier = builder
        self.heuristic = TIER_HEURISTICS[tier](spec)
        self.fallbacks = 0
        self.layout = SagLayout(spec)

    @classmethod
    def from_path(cls, spec: WorldSpec, tier: str, path: str | Path) -> OnnxTierPolicy:
        """Load the model at ``path``; `ModelError` (one line) when missing or unfit."""
        return cls(spec, tier, _read_model(path), source=str(path))

    @property
    def metadata(self) -> dict[str, Any]:
        return self.runner.info.metadata

    def reset(self) -> None:
        self.heuristic.reset()

    def decide(self, reports: Reports, allowed: np.ndarray) -> TierDecision:
        """The tier's decision from its reports (1, K, ...) and constraints ``allowed`` (K, S) bool."""
        allowed_b = np.asarray(allowed, dtype=bool)[None]
        obs, valid, _ = self.builder.observe(reports, allowed_b)
        actions = self.runner.act(obs, valid)
        if actions is None:
            self.fallbacks += 1
            return self.heuristic.decide(reports, allowed)
        return self.decision(actions, reports, allowed_b)

    def decision(self, actions: np.ndarray, reports: Reports, allowed_b: np.ndarray) -> TierDecision:
        """The `TierDecision` of ``actions`` (1, N, heads) under ``allowed_b`` (1, K, S)."""
        lay = self.layout
        controls = Controls.off(1, lay.k, lay.s)
        constraints: dict[int, np.ndarray] = {}
        agents = self.builder.agents
        if isinstance(self.builder, SplitTier):
            keep, user, power = self.builder.decode(actions, reports, allowed_b)
            controls.mask[0, agents] = keep[0]
            controls.user[0, agents] = user[0]
            controls.power_w[0, agents] = power[0]
            for i, node in enumerate(agents):
                child = allowed_b[0, node] & ~keep[0, i]
                if self.tier == "satellite":
                    constraints[int(lay.hap_of_beam[i])] = child
                else:
                    for below in lay.tree_of_hap[i]:
                        constraints[int(below)] = child.copy()
        else:
            assert isinstance(self.builder, LocalTier)
            user, power, move = self.builder.decode(actions, reports, allowed_b)
            controls.user[0, agents] = user[0]
            controls.power_w[0, agents] = power[0]
            controls.move_m[0, agents] = move[0]
        return TierDecision(controls, constraints)


@register
class FlatMappo(Policy):
    """The flat multi-agent PPO baseline on ``sag`` (``flat-mappo``): the shipped
    ``models/zoo/sag-flat.onnx`` decides every node every slot, without tiers or constraints."""

    name = "flat-mappo"
    world_kinds = ("sag",)
    model_path: ClassVar[Path] = Path(__file__).resolve().parents[2] / "models" / "zoo" / "sag-flat.onnx"

    def __init__(self, spec: WorldSpec, seed: int = 0, model: bytes | None = None, source: str = "") -> None:
        super().__init__(spec, seed)
        if model is None:
            if not self.model_path.is_file():
                raise PolicyError(f"policy {self.name!r} needs the shipped model {self.model_path} (not found)")
            model, source = self.model_path.read_bytes(), str(self.model_path)
        try:
            self.runner = _OnnxRunner(spec, "flat", model, source or "model")
        except ModelError as exc:
            raise PolicyError(str(exc)) from None
        builder = self.runner.builder
        assert isinstance(builder, FlatNodes)
        self.builder = builder
        self.fallbacks = 0

    def decide(self, reports: Reports) -> Controls:
        obs, valid, teacher = self.builder.observe(reports)
        actions = self.runner.act(obs, valid)
        if actions is None:
            self.fallbacks += 1
            actions = teacher
        return self.builder.decode(actions, reports)


TierFactory = Callable[[WorldSpec], Any]


def onnx_tier_factory(tier: str, path: str | Path) -> TierFactory:
    """``WorldSpec -> OnnxTierPolicy`` loading ``path`` (reads the file once)."""
    data = _read_model(path)

    def factory(spec: WorldSpec) -> OnnxTierPolicy:
        return OnnxTierPolicy(spec, tier, data, source=str(path))

    return factory


def timed(call: Callable[[], Any]) -> tuple[Any, int]:
    """``call()`` and its wall time [ns]."""
    t0 = time.perf_counter_ns()
    out = call()
    return out, time.perf_counter_ns() - t0


__all__ = [
    "FLAT_XAPP_KIND",
    "MOVES",
    "TIER_XAPP_KINDS",
    "FlatMappo",
    "FlatNodes",
    "LocalTier",
    "OnnxTierPolicy",
    "SagLayout",
    "SplitTier",
    "masked_argmax",
    "onnx_tier_factory",
    "serve_users",
    "split_count",
    "tier_model_spec",
]
