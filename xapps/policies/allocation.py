"""Allocation baselines of the TN–NTN worlds ``srb`` and ``sag``: exhaustive search, random
allocation and equal split.

A joint allocation gives every node, on every resource (subchannel in ``srb``, subband in
``sag``), one of its users or "off". How the nodes' choices combine follows the world:

``srb`` (Le et al., §II)
    Every base station uses the whole band; on each subchannel it serves one of its active users
    or leaves the subchannel off. Power follows the world's rule: ``p_max`` split equally over the
    SRBs, then uniformly over the SRB's active subchannels (the policies send the node's
    per-resource maximum ``p_max / M`` as the cap, so the rule applies unchanged).

``sag`` (Mohsin et al., §3.2, with the tier semantics of `e2_sim.world.sag`)
    The nodes under one beam form a tree: the beam, its HAP and the TBSs/UAVs of the HAP's
    regions. On each subband the tree's spectrum goes to exactly one tier: the beam keeps it for
    its direct users, or passes it to the HAP, which keeps it or passes it on to the local nodes.
    A beam's ``mask`` is the set of subbands it keeps, a HAP's the set it keeps; on the local
    tier's subbands every TBS/UAV of the tree may serve one of its users (local nodes reuse the
    local share, as the world lets them). Different beams' trees reuse the whole band. Every
    transmitting node sends at its maximum power per subband; UAVs hover (``move_m`` = 0).

Exhaustive search (``exhaustive``, genie)
    Enumerates every joint allocation of one slot and keeps the best for the paper's problem:
    maximise the sum rate Σ_k Σ_f R_{k,f} (equivalently the spectral efficiency) subject to every
    active user reaching the minimum rate R_min (``static["qos_min_rate_bps"]``: the paper's (P1)
    with constraint (4) in ``srb``; the world's QoS rule in ``sag``). When no allocation meets
    every minimum, the one with the smallest total shortfall Σ_k max(R_min − R_k, 0) (the
    paper's cost (11)) wins, ties broken by the sum rate. Rates use the current channel of every
    link (genie CSI) and the world's SINR: own signal over the other nodes' power on that
    resource plus noise. Ties between allocations go to the one enumerated first.

    The enumeration is exact and therefore exponential: one slot has
    Π_groups (options per resource)^S joint allocations, options = active users + 1 per node in
    ``srb`` and 1 + (beam users) + (HAP users) + (Π_local (users + 1) − 1) per beam tree in
    ``sag``. The policy refuses, at construction, a world whose worst case (every user active)
    exceeds `MAX_JOINT_ALLOCATIONS`; `reduced_overrides` gives the scenario overrides of a
    reduced instance it accepts. Candidates are evaluated as arrays, in chunks.

Random allocation (``random-allocation``)
    Every resource serves a uniformly random choice among the node's active users and "off". In
    ``sag`` each tree's subbands are first given to a uniformly random tier (beam, HAP or local);
    every node redraws its choices at its own decision interval (``decision_interval_slots``:
    the beam every 50 slots, the HAP every 10, local nodes every slot in the preset), and a
    HAP redraws whenever its beam does.

Equal split (``equal-split``)
    A node divides its resources equally among its active users in contiguous blocks (block
    sizes differ by at most one, lower user slots first); with fewer resources than users it
    serves them in turn, the starting user advancing by the number of resources every slot. In
    ``sag`` every tier first splits what it receives equally with the tier below: a beam keeps
    the first ⌊S/2⌋ subbands, its HAP the next ⌊(S − ⌊S/2⌋)/2⌋, and the rest goes to the local
    tier, which every region divides among its TBSs and UAVs the same way (contiguous blocks,
    in node order; in turn when there are fewer subbands than nodes). With S = 10: 5 / 2 / 3.
"""

from __future__ import annotations

import itertools
import json
import math
import time
from dataclasses import dataclass
from typing import Any

import numpy as np

from ric.protocol import Controls, Reports, WorldSpec
from xapps.policies import PolicyError, register
from xapps.policies.base import Policy

#: World kinds the allocation baselines support.
ALLOCATION_WORLDS = ("srb", "sag")
#: Largest number of joint allocations per slot the exhaustive search accepts (worst case).
MAX_JOINT_ALLOCATIONS = 2**20
#: Array elements (candidates × K × S × T) evaluated at once by the exhaustive search.
_CHUNK_ELEMENTS = 2**21
#: Two total QoS shortfalls closer than this are equal; the sum rate decides between them [bit/s].
SHORTFALL_TOLERANCE_BPS = 1e-3

# Reduced instances on which the exhaustive search is tractable (see `reduced_overrides`).
_REDUCED_OVERRIDES: dict[str, dict[str, Any]] = {
    # 3 base stations x 4 subchannels (2 SRBs of 2), at most 2 users each: 3^12 = 531 441
    "srb": {"n_subchannels": 4, "srb_size": 2, "users.max_users_per_node": 2},
    # 1 beam, 1 HAP, 1 region with 1 TBS and 1 UAV, 2 users per node, 4 subbands:
    # per subband 1 + 2 + 2 + (3·3 − 1) = 13 choices, 13^4 = 28 561
    "sag": {
        "satellite.beam_centers_m": [[-10000.0, 0.0]],
        "region.offsets_m": [[-1250.0, 0.0]],
        "tbs.offsets_m": [[-500.0, -300.0]],
        "spectrum.n_subbands": 4,
        "initial_split.satellite_subbands": 1,
        "initial_split.hap_subbands": 1,
        "satellite.direct_users_per_beam": 2,
        "hap.direct_users": 2,
        "tbs.users": 2,
        "uav.users": 2,
    },
}

_TIER_BEAM, _TIER_HAP, _TIER_LOCAL = 0, 1, 2


def reduced_overrides(world_kind: str) -> dict[str, Any]:
    """Scenario overrides (dotted names, as ``--set``) that make the exhaustive search tractable.

    ``srb``: 4 subchannels in 2 SRBs of 2 (the band stays 20 MHz), K_max = 2 users per base
    station; at most 3^12 = 531 441 joint allocations per slot. ``sag``: one beam with its HAP
    and one region holding one TBS and one UAV, 2 users per node, 4 subbands of the 200 MHz; at
    most 13^4 = 28 561 joint allocations per slot. Both are under `MAX_JOINT_ALLOCATIONS`.

    Raises
    ------
    ValueError
        For a world kind without a reduced instance.
    """
    if world_kind not in _REDUCED_OVERRIDES:
        raise ValueError(f"no reduced instance for world kind {world_kind!r}; known: {', '.join(_REDUCED_OVERRIDES)}")
    return json.loads(json.dumps(_REDUCED_OVERRIDES[world_kind]))  # a deep copy the caller may change


def _dbm_to_w(dbm: float) -> float:
    return float(10.0 ** ((dbm - 30.0) / 10.0))


@dataclass(frozen=True)
class AllocationLayout:
    """How a world's nodes share its resources (see the module docstring).

    Attributes
    ----------
    world_kind : str
        ``srb`` or ``sag``.
    groups : tuple of tuple of int
        Node ids whose choices on one resource are made jointly: one node per group in ``srb``;
        in ``sag`` one beam tree ``(beam, hap, local nodes...)``.
    tier : ndarray, int, (K,)
        ``sag``: 0 beam, 1 HAP, 2 local; ``srb``: 2 for every node (no hierarchy).
    tree : ndarray, int, (K,)
        Index of the group holding each node.
    regions : tuple of tuple of int
        ``sag``: the local nodes of each region, in node order; ``srb``: empty.
    power_w : ndarray, float64, (K,)
        Power each node sends as its per-resource control (its ``max_power_dbm``) [W].
    srb_size : int
        ``srb``: subchannels per SRB (the power rule's unit); 0 in ``sag``.
    """

    world_kind: str
    groups: tuple[tuple[int, ...], ...]
    tier: np.ndarray
    tree: np.ndarray
    regions: tuple[tuple[int, ...], ...]
    power_w: np.ndarray
    srb_size: int

    @classmethod
    def from_spec(cls, spec: WorldSpec, policy: str) -> AllocationLayout:
        """Read the layout from a ``srb`` or ``sag`` world's spec; `PolicyError` if it is incomplete."""
        k = spec.n_nodes
        power_w = np.array([_dbm_to_w(n.max_power_dbm) for n in spec.nodes])
        if spec.world_kind == "srb":
            srb_size = int(spec.static.get("srb_size", 0))
            if srb_size <= 0 or spec.n_resources % srb_size:
                raise PolicyError(
                    f"policy {policy!r}: static srb_size = {srb_size} does not divide {spec.n_resources} subchannels"
                )
            return cls(
                "srb", tuple((i,) for i in range(k)), np.full(k, _TIER_LOCAL), np.arange(k), (), power_w, srb_size
            )
        try:
            node_tier = spec.static["node_tier"]
            beams = spec.static["beams"]
            regions = spec.static["regions"]
        except KeyError as exc:
            raise PolicyError(f"policy {policy!r} needs the sag world's static {exc.args[0]!r}") from None
        tier = np.array([{"satellite": _TIER_BEAM, "hap": _TIER_HAP}.get(t, _TIER_LOCAL) for t in node_tier])
        tree = np.full(k, -1)
        groups = []
        for g, beam in enumerate(beams):
            local = sorted({int(n) for r in beam["regions"] for n in regions[r]["nodes"]})
            group = (int(beam["node"]), int(beam["hap"]), *local)
            groups.append(group)
            tree[list(group)] = g
        if (tree < 0).any():
            raise PolicyError(f"policy {policy!r}: nodes {np.flatnonzero(tree < 0).tolist()} belong to no beam tree")
        region_nodes = tuple(tuple(sorted(int(n) for n in r["nodes"])) for r in regions)
        return cls("sag", tuple(groups), tier, tree, region_nodes, power_w, 0)

    def group_options(self, group: int, users: list[list[int]]) -> list[tuple[int, ...]]:
        """Every choice of group ``group`` on one resource, as one user (−1 = off) per node.

        ``users[k]`` lists the users node ``k`` may serve. The first option is "all off".
        """
        nodes = self.groups[group]
        if self.world_kind == "srb":
            return [(-1,), *((u,) for u in users[nodes[0]])]
        beam, hap, *local = nodes
        off = (-1,) * len(local)
        options: list[tuple[int, ...]] = [(-1, -1, *off)]
        options += [(u, -1, *off) for u in users[beam]]
        options += [(-1, u, *off) for u in users[hap]]
        options += [(-1, -1, *combo) for combo in itertools.product(*([-1, *users[n]] for n in local)) if combo != off]
        return options

    def options_count(self, group: int, n_users: list[int]) -> int:
        """Number of `group_options` when node ``k`` has ``n_users[k]`` users (no enumeration)."""
        nodes = self.groups[group]
        if self.world_kind == "srb":
            return n_users[nodes[0]] + 1
        beam, hap, *local = nodes
        return 1 + n_users[beam] + n_users[hap] + math.prod(n_users[n] + 1 for n in local) - 1

    def transmit_power_w(self, on: np.ndarray) -> np.ndarray:
        """Power on every resource under the world's power rule, (..., K, S) [W] for ``on`` (..., K, S)."""
        if self.world_kind == "srb":
            shape = on.shape
            blocks = on.reshape(*shape[:-1], shape[-1] // self.srb_size, self.srb_size)
            n_on = blocks.sum(axis=-1, keepdims=True)
            share = self.power_w[:, None, None] / np.maximum(n_on, 1)
            return np.where(blocks, share, 0.0).reshape(shape)
        return np.where(on, self.power_w[:, None], 0.0)

    def masks(self, user: np.ndarray) -> np.ndarray:
        """Control masks (B, K, S) for an allocation ``user`` (B, K, S): in ``sag`` a beam's and a
        HAP's mask are the subbands they keep (where they transmit); all True otherwise."""
        mask = np.ones(user.shape, dtype=bool)
        keeper = self.tier != _TIER_LOCAL
        mask[:, keeper] = user[:, keeper] >= 0
        return mask


class _AllocationPolicy(Policy):
    """Shared construction of the srb / sag allocation baselines."""

    world_kinds = ALLOCATION_WORLDS

    def __init__(self, spec: WorldSpec, seed: int = 0) -> None:
        super().__init__(spec, seed)
        self.layout = AllocationLayout.from_spec(spec, self.name)

    def _controls(self, user: np.ndarray, mask: np.ndarray | None = None) -> Controls:
        """Controls serving ``user`` (B, K, S) (−1 = off) at every node's per-resource power cap."""
        b, k, s = user.shape
        controls = Controls.off(b, k, s)
        on = user >= 0
        controls.user[...] = np.where(on, user, -1)
        controls.power_w[...] = np.where(on, self.layout.power_w[None, :, None], 0.0)
        controls.mask[...] = self.layout.masks(user) if mask is None else mask
        return controls


def _active_order(active: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """User slots with the active ones first (in slot order), (B, K, U), and their count (B, K)."""
    order = np.argsort(~active, axis=-1, kind="stable")
    return order, active.sum(axis=-1)


@register
class ExhaustiveSearch(_AllocationPolicy):
    """Exhaustive search over every joint allocation of a slot (genie CSI); see the module
    docstring for the objective and the instance size.

    Attributes
    ----------
    instance_size : int
        Joint allocations per slot in the worst case (every user active); at most
        `MAX_JOINT_ALLOCATIONS`.
    last_instance_sizes : list of int
        Joint allocations enumerated in the last `decide`, one entry per world of the batch.
    last_search_s : float
        Wall time of the last `decide` [s].
    """

    name = "exhaustive"
    genie = True

    def __init__(self, spec: WorldSpec, seed: int = 0) -> None:
        super().__init__(spec, seed)
        if "qos_min_rate_bps" not in spec.static:
            raise PolicyError(f"policy {self.name!r} needs the world's static 'qos_min_rate_bps'")
        self.min_rate_bps = float(spec.static["qos_min_rate_bps"])
        self.noise_w = _dbm_to_w(spec.noise_dbm)
        self.bandwidth_hz = spec.resource_bandwidth_hz
        s = spec.n_resources
        n_users = [n.n_users for n in spec.nodes]
        self.instance_size = math.prod(
            self.layout.options_count(g, n_users) ** s for g in range(len(self.layout.groups))
        )
        if self.instance_size > MAX_JOINT_ALLOCATIONS:
            size = (
                str(self.instance_size)
                if self.instance_size < 10**9
                else f"about 10^{math.log10(self.instance_size):.0f}"
            )
            hint = " ".join(
                f"--set {key}={json.dumps(value, separators=(',', ':'))}"
                for key, value in _REDUCED_OVERRIDES[spec.world_kind].items()
            )
            raise PolicyError(
                f"exhaustive search on {spec.scenario!r} ({spec.n_nodes} nodes x {s} resources) has {size} joint "
                f"allocations per slot, above the limit of {MAX_JOINT_ALLOCATIONS}; use a reduced instance: {hint}"
            )
        self.last_instance_sizes: list[int] = []
        self.last_search_s = 0.0
        k = spec.n_nodes
        self._not_self = 1.0 - np.eye(k)

    def describe(self) -> str:
        """One line for result tables: what the search enumerates."""
        return (
            f"exhaustive search (genie CSI) over at most {self.instance_size} joint allocations per slot "
            f"({self.spec.n_nodes} nodes x {self.spec.n_resources} resources, scenario {self.spec.scenario!r})"
        )

    def objective(self, user: np.ndarray, gain: np.ndarray, active: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Total QoS shortfall and sum rate of candidate allocations of one world.

        Parameters
        ----------
        user : ndarray, int, (C, K, S)
            Candidate allocations: user served by node k on resource s, −1 = off.
        gain : ndarray, float64, (K, U, S, T)
            Channel power gain from transmitter t to user u of node k on resource s [linear].
        active : ndarray, bool, (K, U)
            Active users (only they count for QoS).

        Returns
        -------
        shortfall_bps : ndarray, float64, (C,)
            Σ over active users of max(R_min − rate, 0) [bit/s].
        sum_rate_bps : ndarray, float64, (C,)
            Σ over resources of W·log2(1 + SINR) [bit/s].
        """
        c, k, s = user.shape
        on = user >= 0
        power_w = self.layout.transmit_power_w(on)  # (C, K, S)
        served_gain = gain[np.arange(k)[None, :, None], np.maximum(user, 0), np.arange(s)[None, None, :]]  # (C,K,S,T)
        received_w = served_gain * power_w.transpose(0, 2, 1)[:, None, :, :]  # (C, K, S, T)
        own_w = np.einsum("cksk->cks", received_w)
        interference_w = np.einsum("ckst,kt->cks", received_w, self._not_self) + self.noise_w
        rate_bps = np.where(on, self.bandwidth_hz * np.log2(1.0 + own_w / interference_w), 0.0)
        shortfall_bps = np.zeros(c)
        for u in range(gain.shape[1]):
            user_rate_bps = np.where(user == u, rate_bps, 0.0).sum(axis=2)  # (C, K)
            shortfall_bps += (np.maximum(self.min_rate_bps - user_rate_bps, 0.0) * active[None, :, u]).sum(axis=1)
        return shortfall_bps, rate_bps.sum(axis=(1, 2))

    def search(self, gain: np.ndarray, active: np.ndarray) -> np.ndarray:
        """Best joint allocation of one world, (K, S) int (−1 = off).

        Parameters
        ----------
        gain : ndarray, (K, U, S, T)
            Current channel gains [linear].
        active : ndarray, bool, (K, U)
            Active users.
        """
        k, s = self.spec.n_nodes, self.spec.n_resources
        users = [np.flatnonzero(active[i, : self.spec.nodes[i].n_users]).tolist() for i in range(k)]
        n_groups = len(self.layout.groups)
        options = [np.array(self.layout.group_options(g, users), dtype=np.int64) for g in range(n_groups)]
        radix = np.repeat([len(o) for o in options], s)  # one digit per (group, resource)
        size = math.prod(int(r) for r in radix)
        strides = np.array([math.prod(int(r) for r in radix[i + 1 :]) for i in range(radix.size)], dtype=np.int64)
        self.last_instance_sizes.append(size)

        def decode(index: np.ndarray) -> np.ndarray:
            digits = ((index[:, None] // strides[None, :]) % radix[None, :]).reshape(index.size, len(options), s)
            user = np.empty((index.size, k, s), dtype=np.int64)
            for g, nodes in enumerate(self.layout.groups):
                user[:, list(nodes), :] = options[g][digits[:, g, :]].transpose(0, 2, 1)
            return user

        gain64 = gain.astype(np.float64)
        shortfall_bps = np.empty(size)
        sum_rate_bps = np.empty(size)
        chunk = max(1, _CHUNK_ELEMENTS // (k * s * k))
        for start in range(0, size, chunk):
            index = np.arange(start, min(size, start + chunk), dtype=np.int64)
            shortfall_bps[index], sum_rate_bps[index] = self.objective(decode(index), gain64, active)
        admissible = shortfall_bps <= shortfall_bps.min() + SHORTFALL_TOLERANCE_BPS
        best = int(np.argmax(np.where(admissible, sum_rate_bps, -np.inf)))
        return decode(np.array([best], dtype=np.int64))[0]

    def decide(self, reports: Reports) -> Controls:
        started = time.perf_counter()
        self.last_instance_sizes = []
        user = np.stack([self.search(reports.gain[b], reports.active[b]) for b in range(reports.batch)])
        controls = self._controls(user)
        self.last_search_s = time.perf_counter() - started
        return controls


@register
class RandomAllocation(_AllocationPolicy):
    """Random allocation: every resource a uniformly random active user of the node or off (see
    the module docstring for the tiers of ``sag`` and their decision intervals)."""

    name = "random-allocation"

    def __init__(self, spec: WorldSpec, seed: int = 0) -> None:
        super().__init__(spec, seed)
        self._interval = np.array([max(1, n.decision_interval_slots) for n in spec.nodes])
        self._held_user: np.ndarray | None = None
        self._tier_of_resource: np.ndarray | None = None  # (B, n_trees, S): tier owning the subband

    def reset(self, batch: int = 1) -> None:
        super().reset(batch)
        self._held_user = None
        self._tier_of_resource = None

    def _draw_users(self, active: np.ndarray) -> np.ndarray:
        """(B, K, S): uniform over "off" and the node's active users, independently per resource."""
        order, n_active = _active_order(active)
        s = self.spec.n_resources
        pick = np.floor(self.rng.random((*n_active.shape, s)) * (n_active[..., None] + 1)).astype(np.int64)
        pick = np.minimum(pick, n_active[..., None])  # 0 = off, i = i-th active user
        user = np.take_along_axis(order, np.maximum(pick - 1, 0), axis=2)
        return np.where(pick > 0, user, -1)

    def decide(self, reports: Reports) -> Controls:
        drawn = self._draw_users(reports.active)
        if self.layout.world_kind == "srb":
            return self._controls(drawn)
        b, k, s = drawn.shape
        layout = self.layout
        n_trees = len(layout.groups)
        if self._held_user is None or self._tier_of_resource is None or self._held_user.shape != drawn.shape:
            due = np.ones(k, dtype=bool)  # first slot of an episode: every node draws
            held, tier = drawn, np.full((b, n_trees, s), _TIER_LOCAL)
        else:
            due = reports.slot % self._interval == 0  # (K,) nodes whose decision interval is up
            held = np.where(due[None, :, None], drawn, self._held_user)
            tier = self._tier_of_resource
        beam_due = due[[g[0] for g in layout.groups]]  # (n_trees,)
        hap_due = due[[g[1] for g in layout.groups]] | beam_due
        # every tier equally likely: the beam keeps a subband with 1/3, its HAP half of the rest
        beam_keeps = np.where(beam_due[None, :, None], self.rng.random((b, n_trees, s)) < 1.0 / 3.0, tier == _TIER_BEAM)
        hap_draw = self.rng.random((b, n_trees, s)) < 0.5
        hap_keeps = ~beam_keeps & np.where(hap_due[None, :, None], hap_draw, tier == _TIER_HAP)
        tier = np.where(beam_keeps, _TIER_BEAM, np.where(hap_keeps, _TIER_HAP, _TIER_LOCAL))
        self._held_user, self._tier_of_resource = held, tier

        node_tier_share = tier[:, layout.tree, :] == layout.tier[None, :, None]  # (B, K, S)
        user = np.where(node_tier_share, held, -1)
        mask = np.where((layout.tier != _TIER_LOCAL)[None, :, None], node_tier_share, True)
        return self._controls(user, mask)


def _owners(n_items: int, n_owners: int, turn: int) -> np.ndarray:
    """Owner of each of ``n_items`` consecutive items split among ``n_owners`` (n_items,) int.

    Contiguous blocks whose sizes differ by at most one when there are at least as many items as
    owners; otherwise item i goes to owner (i + turn·n_items) mod n_owners.
    """
    items = np.arange(n_items)
    if n_owners == 0:
        return np.full(n_items, -1)
    if n_items >= n_owners:
        return items * n_owners // n_items
    return (items + turn * n_items) % n_owners


@register
class EqualSplit(_AllocationPolicy):
    """Equal split: resources divided equally, in contiguous blocks, among a node's active users
    (and, in ``sag``, between the tiers and among a region's nodes; see the module docstring)."""

    name = "equal-split"

    def __init__(self, spec: WorldSpec, seed: int = 0) -> None:
        super().__init__(spec, seed)
        s = spec.n_resources
        self._beam_subbands = s // 2
        self._hap_subbands = (s - self._beam_subbands) // 2
        share = np.zeros((spec.n_nodes, s), dtype=bool)  # static part: beam and HAP shares
        if self.layout.world_kind == "srb":
            share[:] = True
        else:
            share[self.layout.tier == _TIER_BEAM, : self._beam_subbands] = True
            hap_end = self._beam_subbands + self._hap_subbands
            share[self.layout.tier == _TIER_HAP, self._beam_subbands : hap_end] = True
        self._keeper_share = share

    def node_resources(self, turn: int) -> np.ndarray:
        """(K, S) bool: the resources each node divides among its users in slot ``turn``."""
        share = self._keeper_share.copy()
        if self.layout.world_kind == "sag":
            local = np.arange(self._beam_subbands + self._hap_subbands, self.spec.n_resources)
            for nodes in self.layout.regions:
                owner = _owners(local.size, len(nodes), turn)
                for i, node in enumerate(nodes):
                    share[node, local[owner == i]] = True
        return share

    def decide(self, reports: Reports) -> Controls:
        turn = int(reports.slot)
        share = self.node_resources(turn)  # (K, S)
        order, n_active = _active_order(reports.active)  # (B, K, U), (B, K)
        n_items = share.sum(axis=1)  # (K,)
        position = np.cumsum(share, axis=1) - 1  # (K, S): index of the resource in the node's list
        n = n_active[..., None]  # (B, K, 1)
        m = np.maximum(n_items, 1)[None, :, None]
        blocks = position[None] * n // m
        in_turn = (position[None] + turn * m) % np.maximum(n, 1)
        rank = np.where(n <= m, blocks, in_turn)
        user = np.take_along_axis(order, np.clip(rank, 0, order.shape[-1] - 1), axis=2)
        user = np.where(share[None] & (n > 0), user, -1)
        mask = np.where((self.layout.tier != _TIER_LOCAL)[:, None], share, True)
        return self._controls(user, np.broadcast_to(mask, user.shape))
