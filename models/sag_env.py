"""Batched space–air–ground environment for the hierarchical and the flat trainers.

`SagEnv` steps ``B`` `e2_sim.world.sag.SagWorld` copies and composes the tiers exactly as
`xapps.hierarchy.HierarchyPolicy` does: at slot ``t`` the satellite tier acts when ``t`` is a
multiple of its period and its constraints bound the HAPs in the same slot, then the HAP tier,
then the local tier; a tier's nodes keep their last control between its decisions. Observations,
action masks, teacher actions and decoding come from `xapps.policies.learned_sag`, so training
sees what the xApps see.

Rewards (hierarchical-drl-tn-ntn.txt, §3.2–3.3), per scope and slot::

    r = w_se · η + w_fair · J + w_qos · V + w_uav · P

with η the scope's delivered bits / (slot_s · total bandwidth) [bit/s/Hz], J Jain's index of the
rates of the scope's active users, V the fraction of them below the QoS rate in the slot, and P
the fraction of the scope's UAVs outside their region after the slot's moves (the weights carry
their signs; the preset's ``[reward]`` table gives the paper's 1.5, 0.5, −0.5, −1.0). Scopes:
each region (its TBSs and UAVs: the local agents' reward), each HAP's tree (the HAP, its direct
users and its regions) and each beam's tree (the beam, its direct users and its HAP tree).
"""

from __future__ import annotations

from typing import Any

import numpy as np

from e2_sim.scenarios import load_scenario
from e2_sim.world import make_world
from e2_sim.world.base import SlotKpis
from ric.protocol import Controls, Reports
from xapps.policies.learned_sag import FlatNodes, LocalTier, SagLayout, SplitTier

TIERS = ("satellite", "hap", "local")
#: Order of the reward weights: spectral efficiency, fairness, QoS violation, UAV out of region.
REWARD_TERMS = ("spectral_efficiency", "fairness", "qos_violation", "uav_out_of_region")


def preset_weights(spec_static: dict[str, Any]) -> tuple[float, float, float, float]:
    """The scenario's reward weights in `REWARD_TERMS` order."""
    w = spec_static["reward_weights"]
    return (float(w["spectral_efficiency"]), float(w["fairness"]), float(w["qos_violation"]),
            float(w["uav_out_of_region"]))


class ScopeRewards:
    """Per-scope reward terms of one slot (module docstring).

    Parameters
    ----------
    layout : SagLayout
        The world's layout.
    slot_s, total_bandwidth_hz : float
        Slot length [s] and system bandwidth [Hz] (η's denominator).
    """

    def __init__(self, layout: SagLayout, slot_s: float, total_bandwidth_hz: float) -> None:
        k = layout.k
        self.norm_bits = slot_s * total_bandwidth_hz
        regions = [np.isin(np.arange(k), nodes) for nodes in layout.region_nodes]
        haps = [np.isin(np.arange(k), [h, *tree]) for h, tree in zip(layout.haps, layout.tree_of_hap, strict=True)]
        beams = [np.isin(np.arange(k), [b, *np.flatnonzero(haps[i])]) for i, b in enumerate(layout.beams)]
        #: scope membership (n_scope, K) float, per scope kind
        self.scopes = {"region": np.array(regions, dtype=np.float64), "hap": np.array(haps, dtype=np.float64),
                       "beam": np.array(beams, dtype=np.float64)}
        self.uav = layout.is_uav.astype(np.float64)

    def terms(self, kpis: SlotKpis, out_of_region: np.ndarray) -> dict[str, np.ndarray]:
        """Reward terms (B, n_scope, 4) per scope kind, in `REWARD_TERMS` order.

        ``out_of_region`` (B, K) bool: UAVs outside their region after the slot.
        """
        bits = kpis.delivered_bits  # (B, K, U)
        active = kpis.active.astype(np.float64)
        node_bits = bits.sum(-1)
        node_sum = (bits * active).sum(-1)
        node_sq = (bits * bits * active).sum(-1)
        node_n = active.sum(-1)
        node_v = (kpis.qos_violated & kpis.active).sum(-1).astype(np.float64)
        out = out_of_region.astype(np.float64) * self.uav
        result = {}
        for name, m in self.scopes.items():
            se = node_bits @ m.T / self.norm_bits
            s1, s2, n = node_sum @ m.T, node_sq @ m.T, node_n @ m.T
            with np.errstate(invalid="ignore", divide="ignore"):
                jain = np.where(s2 > 0, s1 * s1 / np.maximum(n * s2, 1e-30), 0.0)
                viol = np.where(n > 0, (node_v @ m.T) / np.maximum(n, 1), 0.0)
            n_uav = m @ self.uav
            uav = np.where(n_uav > 0, (out @ m.T) / np.maximum(n_uav, 1), 0.0)
            result[name] = np.stack([se, jain, viol, uav], axis=-1)
        return result


class SagEnv:
    """``B`` sag worlds driven tier by tier (module docstring).

    Parameters
    ----------
    scenario : str
        Preset name or TOML path (a ``sag`` world).
    load : float or None
        User density (the scenario's default when None).
    batch : int
        Worlds stepped together.
    overrides : dict, optional
        Scenario overrides (dotted names).
    max_subbands : int, optional
        ``P`` of the models (default: the world's ``S``).
    flat : bool
        Flat mode: every node acts every slot through `FlatNodes`, no tiers or constraints.
    """

    def __init__(self, scenario: str, load: float | None, batch: int, overrides: dict[str, Any] | None = None,
                 max_subbands: int | None = None, flat: bool = False) -> None:
        sc = load_scenario(scenario, overrides or None)
        if sc.world != "sag":
            raise ValueError(f"the sag trainers need a 'sag' scenario, not {sc.world!r}")
        self.scenario = sc
        self.load = float(sc.default_load if load is None else load)
        self.world = make_world(sc, load=self.load)
        self.spec = self.world.spec
        self.batch = batch
        self.layout = SagLayout(self.spec)
        self.flat = flat
        self.tiers: dict[str, SplitTier | LocalTier] = {
            "satellite": SplitTier(self.spec, "satellite", max_subbands),
            "hap": SplitTier(self.spec, "hap", max_subbands),
            "local": LocalTier(self.spec, max_subbands),
        }
        self.flat_nodes = FlatNodes(self.spec, max_subbands)
        self.periods = self.layout.tree.period_slots
        self.rewards = ScopeRewards(self.layout, sc.slot_s, float(self.spec.static["total_bandwidth_hz"]))
        self.reports: Reports | None = None
        self.slot = 0

    def reset(self, seeds: list[int]) -> None:
        """Start the worlds seeded ``seeds`` (len = batch)."""
        k, s = self.spec.n_nodes, self.spec.n_resources
        self.reports = self.world.reset(seeds)
        self.slot = 0
        self.allowed = np.ones((self.batch, k, s), dtype=bool)
        self.held = Controls.off(self.batch, k, s)

    def due(self, tier: str) -> bool:
        """Whether ``tier`` decides in the current slot."""
        return self.slot % self.periods[TIERS.index(tier)] == 0

    def observe(self, tier: str) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """Observations, valid actions and teacher actions of ``tier`` (or ``"flat"``) now."""
        assert self.reports is not None
        if tier == "flat":
            return self.flat_nodes.observe(self.reports)
        return self.tiers[tier].observe(self.reports, self.allowed)

    def act(self, tier: str, actions: np.ndarray) -> None:
        """Apply ``tier``'s ``actions`` (B, N, heads): its nodes' controls and its constraints."""
        assert self.reports is not None
        lay = self.layout
        if tier == "flat":
            self.held = self.flat_nodes.decode(actions, self.reports)
            return
        builder = self.tiers[tier]
        agents = builder.agents
        if isinstance(builder, SplitTier):
            keep, user, power = builder.decode(actions, self.reports, self.allowed)
            self.held.mask[:, agents] = keep
            self.held.user[:, agents] = user
            self.held.power_w[:, agents] = power
            child = self.allowed[:, agents] & ~keep
            if tier == "satellite":
                self.allowed[:, lay.hap_of_beam] = child
            else:
                for i, nodes in enumerate(lay.tree_of_hap):
                    self.allowed[:, nodes] = child[:, i][:, None, :]
        else:
            user, power, move = builder.decode(actions, self.reports, self.allowed)
            self.held.user[:, agents] = user
            self.held.power_w[:, agents] = power
            self.held.move_m[:, agents] = move

    def step(self) -> tuple[dict[str, np.ndarray], SlotKpis]:
        """Step the worlds with the held controls; per-scope reward terms and the slot's KPIs."""
        self.reports, kpis = self.world.step(self.held.copy())
        self.slot += 1
        terms = self.rewards.terms(kpis, self.reports.extra["out_of_region"])
        return terms, kpis


def weighted(terms: np.ndarray, weights: tuple[float, float, float, float]) -> np.ndarray:
    """Reward ``terms`` (..., 4) combined with ``weights`` (`REWARD_TERMS` order)."""
    return terms @ np.asarray(weights, dtype=np.float64)


__all__ = ["REWARD_TERMS", "TIERS", "SagEnv", "ScopeRewards", "preset_weights", "weighted"]
