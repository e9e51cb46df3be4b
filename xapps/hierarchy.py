"""The space–air–ground hierarchy as three tier xApps (hierarchical-drl-tn-ntn.txt, §3).

Tiers, as `e2_sim.world.sag` defines them and the RIC enforces them:

`SatelliteXApp` (tier 0, every ``satellite.decision_interval_slots`` = 50 slots, the beam nodes)
    Splits each beam's band between the beam's own direct users (the beam node's ``mask``: the
    subbands it keeps and serves) and its HAP: it constrains the HAP node to the rest.
`HapXApp` (tier 1, every ``hap.decision_interval_slots`` = 10 slots, the HAP nodes)
    Splits the HAP's share (its current constraint) between its direct users (its ``mask``) and
    the TBSs/UAVs of its regions: it constrains each of them to the rest of the share.
`LocalXApp` (tier 2, every slot, the TBS and UAV nodes)
    Chooses subband, user and power of every TBS/UAV inside its current constraint, and moves
    the UAVs.

Each higher-tier decision becomes a per-node constraint held by the RIC (`XApp.constrain`): a
lower-tier control that transmits outside it is refused with ``CONSTRAINT_VIOLATION`` and the
node keeps its fallback. A tier learns its current constraint from the RIC's constraint notices
(`XApp.allowed`); at the slots where the tier above re-decides (0, 10, 20, ... for the local
tier; 0, 50, ... for the HAP tier) the runner holds the decision until the new constraint is in,
so the three tiers decide in order within one slot (`xapps.sdk.app`, "Tiers and constraints").

Tier policies
-------------
A tier xApp runs a `TierPolicy`: ``reset()`` and ``decide(reports, allowed) -> TierDecision``
with ``reports`` the tier's reports (arrays ``(1, K, ...)``, rows of other tiers zero) and
``allowed`` ``(K, S)`` bool its current constraints; the decision holds the controls of the
tier's nodes (other rows are not sent) and the constraints it sets for the tier below. The
heuristic defaults:

`ProportionalSatellite`
    A beam keeps ``round(S · d / (d + h))`` subbands (the lowest indices), ``d`` its active direct
    users and ``h`` the users of its HAP tree estimated as the tree's deployed users times the
    beam's own active fraction (the beam does not see the tree's reports; the world's user
    density is uniform). At least one subband goes to each side that has users; none is kept
    while the satellite is below ``orbit.min_elevation_deg`` at the beam centre (no link).
`ProportionalHap`
    The same rule inside the HAP's share: ``d`` its active direct users, ``h`` its regions'
    deployed users times its active fraction; it keeps the lowest subbands of its share.
`EqualSplitLocal`
    Each region divides the subbands its nodes are allowed (the intersection of their
    constraints) among its nodes with active users in contiguous blocks (sizes differ by at most
    one, node order); on every subband a node serves its active users in order of decreasing QoS
    deficit queue (longest deficit first, cycling when it has more subbands than users) at full
    power. A UAV moves toward the centroid of its active users, at most ``uav_max_step_m`` per
    slot, keeping its altitude.

Beams and HAPs serve the subbands they keep the same way (longest deficit first, full power).

Learned tiers (`xapps.policies.learned_sag.OnnxTierPolicy`) implement the same protocol;
`tier_policy_factory` builds either kind for a tier xApp.

In-process hierarchy (`HierarchyPolicy`)
----------------------------------------
The three tiers composed in one `Policy`, as the running xApps compose them: at slot ``t`` the
satellite tier decides when ``t`` is a multiple of its period (its constraints bound the HAPs in
the same slot), then the HAP tier at multiples of its period (bounding the local nodes), then
the local tier. A tier's nodes keep their last control between the tier's decisions (the E2
node's last valid control), and every tier sees only the constraints the tier above set (all
True before any). ``hierarchy`` runs the shipped ONNX tiers of ``models/zoo``
(``sag-satellite.onnx``, ``sag-hap.onnx``, ``sag-local.onnx``), ``hierarchy-heuristic`` the
three heuristics above. The decision time of a slot is the sum of the tiers' times actually
spent in it (`HierarchyPolicy.tier_time_ns` keeps them per tier).
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, ClassVar, Protocol

import numpy as np

from ric.protocol import Controls, Reports, WorldSpec
from xapps.policies import PolicyError, register
from xapps.policies.base import Policy
from xapps.sdk import Stamps, XApp

TIER_NAMES = ("satellite", "hap", "local")


class HierarchyError(ValueError):
    """The world is not a space–air–ground hierarchy (one line)."""


@dataclass
class TierDecision:
    """One tier's decision for one slot.

    Attributes
    ----------
    controls : Controls
        Arrays ``(1, K, S)`` / ``(1, K, 3)``; only the tier's rows are sent.
    constraints : dict of int to ndarray, bool, (S,)
        Node index -> resources the tier below may use there.
    """

    controls: Controls
    constraints: dict[int, np.ndarray] = field(default_factory=dict)


class TierPolicy(Protocol):
    """What a tier xApp runs (module docstring); an ONNX tier policy implements the same two calls."""

    def reset(self) -> None:
        """Forget per-episode state."""
        ...

    def decide(self, reports: Reports, allowed: np.ndarray) -> TierDecision:
        """The tier's decision from its reports ``(1, K, ...)`` and constraints ``allowed`` (K, S) bool."""
        ...


@dataclass(frozen=True)
class SagTree:
    """The hierarchy of a ``sag`` world, read from ``WorldSpec.static``.

    Attributes
    ----------
    beams : tuple of int
        Beam node indices.
    hap_of_beam : tuple of int
        HAP node under each beam.
    haps : tuple of int
        HAP node indices.
    region_nodes : tuple of tuple of int
        TBS/UAV nodes of each region.
    regions_of_hap : dict of int to tuple of int
        HAP node -> its regions.
    local : tuple of int
        Every TBS/UAV node.
    uavs : tuple of int
        UAV nodes.
    period_slots : tuple of int
        Decision period of the satellite, HAP and local tier [slots].
    """

    beams: tuple[int, ...]
    hap_of_beam: tuple[int, ...]
    haps: tuple[int, ...]
    region_nodes: tuple[tuple[int, ...], ...]
    regions_of_hap: dict[int, tuple[int, ...]]
    local: tuple[int, ...]
    uavs: tuple[int, ...]
    period_slots: tuple[int, int, int]

    @classmethod
    def of(cls, spec: WorldSpec) -> SagTree:
        """Read the tree; `HierarchyError` for a world without one."""
        if spec.world_kind != "sag":
            raise HierarchyError(f"the tier xApps run the space–air–ground world 'sag', not {spec.world_kind!r}")
        try:
            beams = spec.static["beams"]
            regions = spec.static["regions"]
            node_tier = spec.static["node_tier"]
        except KeyError as exc:
            raise HierarchyError(f"the sag world's spec lacks static {exc.args[0]!r}") from None
        tiers = [[k for k, t in enumerate(node_tier) if t == name] for name in TIER_NAMES]
        if not all(tiers):
            raise HierarchyError("the sag world needs beam, HAP and local nodes")
        periods = tuple(spec.nodes[nodes[0]].decision_interval_slots for nodes in tiers)
        return cls(
            beams=tuple(int(b["node"]) for b in beams),
            hap_of_beam=tuple(int(b["hap"]) for b in beams),
            haps=tuple(tiers[1]),
            region_nodes=tuple(tuple(int(n) for n in r["nodes"]) for r in regions),
            regions_of_hap={int(b["hap"]): tuple(int(r) for r in b["regions"]) for b in beams},
            local=tuple(tiers[2]),
            uavs=tuple(k for k in tiers[2] if spec.nodes[k].kind == "uav"),
            period_slots=(int(periods[0]), int(periods[1]), int(periods[2])),
        )

    def tree_nodes(self, hap: int) -> tuple[int, ...]:
        """The TBS/UAV nodes under HAP node ``hap``."""
        return tuple(n for r in self.regions_of_hap[hap] for n in self.region_nodes[r])


def _max_power_w(spec: WorldSpec) -> np.ndarray:
    """Per-node maximum power per subband (K,) [W]."""
    return np.array([10.0 ** ((n.max_power_dbm - 30.0) / 10.0) for n in spec.nodes], dtype=np.float32)


def _split_count(n_share: int, direct: float, below: float) -> int:
    """Subbands of ``n_share`` kept for ``direct`` users when ``below`` users share the rest."""
    if n_share == 0 or direct <= 0:
        return 0
    if below <= 0:
        return n_share
    keep = round(n_share * direct / (direct + below))
    return min(max(keep, 1), n_share - 1) if n_share > 1 else 0


def _serve(controls: Controls, reports: Reports, node: int, subbands: np.ndarray, power_w: float) -> None:
    """Node ``node`` serves ``subbands`` (indices): active users by decreasing deficit queue, full power."""
    active = np.flatnonzero(reports.active[0, node])
    if active.size == 0 or subbands.size == 0:
        return
    order = active[np.argsort(-reports.queue_bits[0, node, active], kind="stable")]
    controls.user[0, node, subbands] = order[np.arange(subbands.size) % order.size]
    controls.power_w[0, node, subbands] = power_w


def _estimate_below(spec: WorldSpec, reports: Reports, node: int, below: tuple[int, ...]) -> tuple[float, float]:
    """Active direct users of ``node`` and the estimated active users of the nodes ``below`` it."""
    deployed = spec.nodes[node].n_users
    direct = float(reports.active[0, node].sum())
    fraction = direct / deployed if deployed else 1.0
    tree = sum(spec.nodes[k].n_users for k in below)
    return direct, tree * (fraction if deployed else 1.0)


class ProportionalSatellite:
    """Tier-0 heuristic: beam keeps a share proportional to its users (module docstring)."""

    def __init__(self, spec: WorldSpec) -> None:
        self.spec = spec
        self.tree = SagTree.of(spec)
        self.power_w = _max_power_w(spec)
        self.min_elevation_deg = float(spec.static.get("orbit", {}).get("min_elevation_deg", 0.0))

    def reset(self) -> None:
        return

    def decide(self, reports: Reports, allowed: np.ndarray) -> TierDecision:
        s = self.spec.n_resources
        controls = Controls.off(1, self.spec.n_nodes, s)
        constraints = {}
        elevation = reports.extra.get("elevation_deg")
        for beam, hap in zip(self.tree.beams, self.tree.hap_of_beam, strict=True):
            share = np.flatnonzero(allowed[beam])
            direct, below = _estimate_below(self.spec, reports, beam, (hap, *self.tree.tree_nodes(hap)))
            visible = elevation is None or float(elevation[0, beam]) >= self.min_elevation_deg
            keep = share[: _split_count(share.size, direct if visible else 0.0, below)]
            controls.mask[0, beam] = False
            controls.mask[0, beam, keep] = True
            _serve(controls, reports, beam, keep, float(self.power_w[beam]))
            hap_allowed = allowed[beam].copy()
            hap_allowed[keep] = False
            constraints[hap] = hap_allowed
        return TierDecision(controls, constraints)


class ProportionalHap:
    """Tier-1 heuristic: HAP keeps a part of its share proportional to its users (module docstring)."""

    def __init__(self, spec: WorldSpec) -> None:
        self.spec = spec
        self.tree = SagTree.of(spec)
        self.power_w = _max_power_w(spec)

    def reset(self) -> None:
        return

    def decide(self, reports: Reports, allowed: np.ndarray) -> TierDecision:
        controls = Controls.off(1, self.spec.n_nodes, self.spec.n_resources)
        constraints = {}
        for hap in self.tree.haps:
            share = np.flatnonzero(allowed[hap])
            below = self.tree.tree_nodes(hap)
            direct, tree = _estimate_below(self.spec, reports, hap, below)
            keep = share[: _split_count(share.size, direct, tree)]
            controls.mask[0, hap] = False
            controls.mask[0, hap, keep] = True
            _serve(controls, reports, hap, keep, float(self.power_w[hap]))
            local_allowed = allowed[hap].copy()
            local_allowed[keep] = False
            for node in below:
                constraints[node] = local_allowed
        return TierDecision(controls, constraints)


class EqualSplitLocal:
    """Tier-2 heuristic: equal split of the allowed subbands in each region, UAVs fly to their users."""

    def __init__(self, spec: WorldSpec) -> None:
        self.spec = spec
        self.tree = SagTree.of(spec)
        self.power_w = _max_power_w(spec)
        self.max_step_m = float(spec.static.get("uav_max_step_m", 0.0))

    def reset(self) -> None:
        return

    def decide(self, reports: Reports, allowed: np.ndarray) -> TierDecision:
        controls = Controls.off(1, self.spec.n_nodes, self.spec.n_resources)
        for nodes in self.tree.region_nodes:
            serving = [n for n in nodes if reports.active[0, n].any()]
            if not serving:
                continue
            share = np.flatnonzero(np.logical_and.reduce([allowed[n] for n in nodes]))
            for node, block in zip(serving, np.array_split(share, len(serving)), strict=True):
                _serve(controls, reports, node, block, float(self.power_w[node]))
        for uav in self.tree.uavs:
            active = reports.active[0, uav]
            if not active.any():
                continue
            target = reports.user_pos_m[0, uav, active, :2].mean(axis=0)
            delta = target - reports.node_pos_m[0, uav, :2]
            distance_m = float(np.hypot(*delta))
            if distance_m > 0:
                controls.move_m[0, uav, :2] = delta * min(1.0, self.max_step_m / distance_m)
        return TierDecision(controls)


PolicyFactory = Callable[[WorldSpec], TierPolicy]

#: The heuristic of each tier.
TIER_HEURISTICS: dict[str, Callable[[WorldSpec], TierPolicy]] = {
    "satellite": ProportionalSatellite,
    "hap": ProportionalHap,
    "local": EqualSplitLocal,
}
#: Where the shipped tier models live: ``ZOO_DIR / "sag-<tier>.onnx"``.
ZOO_DIR = Path(__file__).resolve().parent.parent / "models" / "zoo"


def zoo_model(tier_name: str) -> Path:
    """Path of the shipped model of tier ``tier_name``."""
    return ZOO_DIR / f"sag-{tier_name}.onnx"


def tier_policy_factory(tier_name: str, model_path: str | Path | None = None) -> PolicyFactory:
    """``WorldSpec -> TierPolicy`` for a tier xApp: the tier's heuristic (no model), or the ONNX
    model at ``model_path`` (read now; checked against the world when the xApp starts).

    Raises
    ------
    HierarchyError
        Unknown tier name.
    ric.protocol.models.ModelError
        Model file missing (one line).
    """
    if tier_name not in TIER_HEURISTICS:
        raise HierarchyError(f"tier must be one of {', '.join(TIER_NAMES)}, got {tier_name!r}")
    if model_path is None:
        return TIER_HEURISTICS[tier_name]
    from xapps.policies.learned_sag import onnx_tier_factory

    return onnx_tier_factory(tier_name, model_path)


def zoo_tier_model(tier_name: str, n_subbands: int) -> Path:
    """The shipped model of ``tier_name`` for a world of ``n_subbands``: of ``sag-<tier>.onnx`` and
    ``sag-reduced-<tier>.onnx``, the one trained for the fewest subbands that still covers the
    world (a model handles up to its ``max_subbands``); the preset's when none fits."""
    import onnx

    from ric.protocol.models import ModelError, read_metadata

    best: tuple[int, Path] | None = None
    for path in (zoo_model(tier_name), ZOO_DIR / f"sag-reduced-{tier_name}.onnx"):
        if not path.is_file():
            continue
        try:
            p = int(read_metadata(onnx.load(str(path))).get("observation", {}).get("max_subbands", 0))
        except (ModelError, OSError, ValueError):
            continue
        if p >= n_subbands and (best is None or p < best[0]):
            best = (p, path)
    return zoo_model(tier_name) if best is None else best[1]


def zoo_tier_factory(tier_name: str) -> PolicyFactory:
    """``WorldSpec -> TierPolicy`` running the shipped model of the tier that fits the world
    (`zoo_tier_model`); `ric.protocol.models.ModelError` (one line) when it is missing or unfit."""

    def build(spec: WorldSpec) -> TierPolicy:
        policy: TierPolicy = tier_policy_factory(tier_name, zoo_tier_model(tier_name, spec.n_resources))(spec)
        return policy

    return build


class TierXApp(XApp):
    """An xApp of one tier: subscribes to the tier's nodes, runs a `TierPolicy`, sets its constraints.

    Parameters
    ----------
    policy : callable, optional
        ``WorldSpec -> TierPolicy``; the tier's heuristic when None.
    name : str, optional
        xApp name at the RIC (default ``sag-<tier>``).
    """

    tier_index = 2
    default_policy: PolicyFactory = EqualSplitLocal

    def __init__(self, policy: PolicyFactory | None = None, name: str | None = None) -> None:
        self.factory = policy or type(self).default_policy
        self.name = name or f"sag-{TIER_NAMES[self.tier_index]}"
        self.tier = self.tier_index
        self.may_constrain = self.tier_index < 2
        self.policy: TierPolicy | None = None
        self.tree: SagTree | None = None

    def on_start(self, spec: WorldSpec) -> None:
        self.tree = SagTree.of(spec)
        self.period_slots = self.tree.period_slots[self.tier_index]
        self.constraint_period_slots = self.tree.period_slots[self.tier_index - 1] if self.tier_index else 0
        self.policy = self.factory(spec)
        self.policy.reset()

    def nodes(self, spec: WorldSpec) -> list[int] | None:
        tree = self.tree or SagTree.of(spec)
        return list((tree.beams, tree.haps, tree.local)[self.tier_index])

    def on_reports(self, reports: Reports, stamps: Stamps) -> Controls | None:
        assert self.policy is not None
        decision = self.policy.decide(reports, self.allowed)
        for node, allowed in decision.constraints.items():
            self.constrain(node, allowed)
        return decision.controls

    def stats(self) -> dict[str, Any]:
        return {"tier_name": TIER_NAMES[self.tier_index]}


class SatelliteXApp(TierXApp):
    """Tier 0: the beams' split between direct users and HAP (module docstring)."""

    tier_index = 0
    default_policy = ProportionalSatellite


class HapXApp(TierXApp):
    """Tier 1: the HAPs' split between direct users and regions (module docstring)."""

    tier_index = 1
    default_policy = ProportionalHap


class LocalXApp(TierXApp):
    """Tier 2: subband, user and power of every TBS/UAV, and UAV moves (module docstring)."""

    tier_index = 2
    default_policy = EqualSplitLocal


TIER_XAPPS: dict[str, type[TierXApp]] = {"satellite": SatelliteXApp, "hap": HapXApp, "local": LocalXApp}


class HierarchyPolicy(Policy):
    """The three tiers of the hierarchy composed in one policy (module docstring).

    Attributes
    ----------
    tiers : list of TierPolicy
        Satellite, HAP and local tier policies.
    tier_time_ns : ndarray, int64, (3,)
        Wall time spent in each tier's decisions since `reset` [ns].
    tier_decisions : ndarray, int64, (3,)
        Decisions taken by each tier since `reset` (per world).
    """

    world_kinds = ("sag",)

    def __init__(self, spec: WorldSpec, seed: int = 0, factories: list[PolicyFactory] | None = None) -> None:
        super().__init__(spec, seed)
        try:
            self.tree = SagTree.of(spec)
        except HierarchyError as exc:
            raise PolicyError(str(exc)) from None
        self.tiers: list[TierPolicy] = [f(spec) for f in (factories or self.default_factories())]
        self.tier_nodes = [np.array(self.tree.beams), np.array(self.tree.haps), np.array(self.tree.local)]
        self.tier_time_ns = np.zeros(3, dtype=np.int64)
        self.tier_decisions = np.zeros(3, dtype=np.int64)
        self.reset(1)

    def default_factories(self) -> list[PolicyFactory]:
        """Tier policies of this policy name."""
        return [TIER_HEURISTICS[name] for name in TIER_NAMES]

    def reset(self, batch: int = 1) -> None:
        super().reset(batch)
        k, s = self.spec.n_nodes, self.spec.n_resources
        self._allowed = np.ones((batch, k, s), dtype=bool)
        self._held = Controls.off(batch, k, s)
        self.tier_time_ns[:] = 0
        self.tier_decisions[:] = 0
        for tier in self.tiers:
            tier.reset()

    def decide(self, reports: Reports) -> Controls:
        b = reports.batch
        if self._allowed.shape[0] != b:
            self.reset(b)
        periods = self.tree.period_slots
        clock = time.perf_counter_ns
        for w in range(b):
            world = reports if b == 1 else _world_of(reports, w)
            for index, tier in enumerate(self.tiers):
                if reports.slot % periods[index]:
                    continue
                t0 = clock()
                decision = tier.decide(world, self._allowed[w])
                for node, allowed in decision.constraints.items():
                    self._allowed[w, node] = allowed
                nodes = self.tier_nodes[index]
                for name in ("user", "power_w", "mask", "move_m"):
                    getattr(self._held, name)[w, nodes] = getattr(decision.controls, name)[0, nodes]
                self.tier_time_ns[index] += clock() - t0
                self.tier_decisions[index] += 1
        return self._held.copy()


def _prebuilt(policy: TierPolicy) -> PolicyFactory:
    """A factory returning an already built ``policy``."""

    def factory(spec: WorldSpec) -> TierPolicy:
        return policy

    return factory


def _world_of(reports: Reports, w: int) -> Reports:
    """World ``w`` of a batch of reports, as a ``B = 1`` batch (views)."""
    arrays = {name: getattr(reports, name)[w : w + 1] for name in
              ("gain", "queue_bits", "queue_packets", "interference_w", "spectral_efficiency_bps_hz", "active",
               "user_pos_m", "node_pos_m")}
    return Reports(slot=reports.slot, extra={k: v[w : w + 1] for k, v in reports.extra.items()}, **arrays)


@register
class HeuristicHierarchy(HierarchyPolicy):
    """``hierarchy-heuristic``: the proportional satellite and HAP splits and the local equal split."""

    name = "hierarchy-heuristic"


@register
class LearnedHierarchy(HierarchyPolicy):
    """``hierarchy``: the shipped ONNX tier models of ``models/zoo``.

    Per tier the candidates are ``sag-<tier>.onnx`` (trained on the preset) and
    ``sag-reduced-<tier>.onnx`` (trained on the reduced instance of
    `xapps.policies.allocation.reduced_overrides`); the tier runs the one trained for the fewest
    subbands that still covers the world's (a model handles up to its ``max_subbands``).
    """

    name = "hierarchy"
    model_paths: ClassVar[dict[str, Path] | None] = None

    def default_factories(self) -> list[PolicyFactory]:
        from ric.protocol.models import ModelError

        paths = self.model_paths or {name: zoo_tier_model(name, self.spec.n_resources) for name in TIER_NAMES}
        missing = [str(paths[name]) for name in TIER_NAMES if not Path(paths[name]).is_file()]
        if missing:
            raise PolicyError(f"policy 'hierarchy' needs the shipped tier models; missing: {', '.join(missing)}")
        try:
            built = [tier_policy_factory(name, paths[name])(self.spec) for name in TIER_NAMES]
        except ModelError as exc:
            raise PolicyError(f"policy 'hierarchy': {exc}") from None
        return [_prebuilt(policy) for policy in built]

