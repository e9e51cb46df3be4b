"""Direct evaluation: each policy against the radio world, same world seed, no E2 in between.

This is the reference the emulation must reproduce exactly in lockstep mode, and what
`ntnric eval` and `ntnric reproduce` run.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from e2_sim.kpi import KpiAccumulator, percentile_summary
from e2_sim.scenarios import load_scenario
from e2_sim.scenarios.base import ScenarioBase
from e2_sim.world import make_world
from xapps.policies import make_policy

ProgressCallback = Callable[[str, int], None]


@dataclass
class PolicyResult:
    """KPIs of one policy over one evaluation, plus what the plots need."""

    name: str
    genie: bool
    kpis: dict[str, Any]
    packet_delays_s: np.ndarray = field(repr=False)


@dataclass
class Evaluation:
    """A whole `ntnric eval`: the scenario, its settings and every policy's result."""

    scenario: ScenarioBase
    load: float
    slots: int
    seed: int
    overrides: dict[str, Any]
    results: list[PolicyResult]

    def to_json(self) -> dict[str, Any]:
        """The stable JSON document described in the README (kind ``eval``)."""
        return {
            "kind": "eval",
            "scenario": self.scenario.name,
            "world": self.scenario.world,
            "seed": self.seed,
            "load": self.load,
            "load_unit": self.scenario.load_unit,
            "slots": self.slots,
            "slot_s": self.scenario.slot_s,
            "overrides": self.overrides,
            "policies": {r.name: {"genie": r.genie, **r.kpis} for r in self.results},
        }


def run_policy(
    scenario: ScenarioBase,
    policy_name: str,
    load: float,
    slots: int,
    seed: int,
    progress: ProgressCallback | None = None,
) -> PolicyResult:
    """Run one policy for ``slots`` slots on a world seeded ``seed``; time every decision.

    The policy's own random stream is seeded independently of the world's, so every policy
    meets exactly the same channel and traffic realisation.
    """
    probe = make_world(scenario, load=load)
    policy = make_policy(policy_name, probe.spec, seed=policy_seed(seed))
    world = make_world(scenario, load=load, genie_csi=True) if policy.genie else probe
    reports = world.reset([seed])
    policy.reset(1)
    accumulator = KpiAccumulator(world.spec, batch=1)
    decision_ns = np.empty(slots, dtype=np.int64)
    clock = time.perf_counter_ns
    started = time.perf_counter()
    for t in range(slots):
        t0 = clock()
        controls = policy.decide(reports)
        decision_ns[t] = clock() - t0
        reports, slot_kpis = world.step(controls)
        accumulator.add(slot_kpis)
        if progress is not None and (t + 1) % 250 == 0:
            progress(policy_name, 250)
    if progress is not None and slots % 250:
        progress(policy_name, slots % 250)
    queued = world.queued_packet_ages_s()
    kpis = accumulator.summary(queued)
    kpis["decision_time_us"] = percentile_summary(decision_ns, 1e-3)
    kpis["wall_s"] = time.perf_counter() - started
    return PolicyResult(
        name=policy_name,
        genie=policy.genie,
        kpis=kpis,
        packet_delays_s=accumulator.packet_delays_for_cdf_s(queued) if accumulator.has_packets else np.zeros(0),
    )


def evaluate(
    scenario_name: str,
    policies: list[str],
    load: float | None = None,
    slots: int | None = None,
    seed: int = 0,
    overrides: dict[str, Any] | None = None,
    progress: ProgressCallback | None = None,
) -> Evaluation:
    """Evaluate ``policies`` on ``scenario_name`` (a preset or a file), one after the other.

    Parameters
    ----------
    load : float, optional
        In the scenario's ``load_unit``; the scenario's default when None.
    slots : int, optional
        Slots per policy; the scenario's ``test_slots`` when None.
    overrides : dict, optional
        Scenario field overrides (dotted names), validated like the file itself.
    """
    scenario = load_scenario(scenario_name, overrides)
    load_value = scenario.default_load if load is None else load
    n_slots = scenario.test_slots if slots is None else slots
    results = [run_policy(scenario, name, load_value, n_slots, seed, progress) for name in policies]
    return Evaluation(scenario, load_value, n_slots, seed, dict(overrides or {}), results)


def policy_seed(world_seed: int) -> int:
    """Seed of a policy's own random stream for a run with world seed ``world_seed``.

    `ntnric eval` and the xApp of `ntnric run` both use it, so a lockstep emulation makes
    exactly the decisions of the direct evaluation.
    """
    return world_seed + 1
