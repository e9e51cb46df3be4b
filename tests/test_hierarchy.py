"""The space–air–ground hierarchy: tier xApps, constraints held by the RIC, refusals, tier boundaries."""

from __future__ import annotations

import json
import threading
import time
from typing import Any

import numpy as np
import pytest

from e2_sim.node.agent import AgentConfig, E2Agent
from e2_sim.scenarios import load_scenario
from e2_sim.world import make_world
from e2_sim.world.base import SlotKpis
from ntnric.emulation import EmulationConfig, run_document, run_emulation
from ric.config import RicConfig
from ric.protocol import Controls, Reports, WorldSpec
from ric.server import RicThread
from tests.processes import ntnric_processes
from xapps.hierarchy import (
    EqualSplitLocal,
    HapXApp,
    LocalXApp,
    SagTree,
    SatelliteXApp,
    TierDecision,
    TierXApp,
)
from xapps.policies import make_policy
from xapps.policies.allocation import reduced_overrides
from xapps.sdk import XappRunner

SLOTS = 60  # covers the satellite boundaries 0 and 50 and the HAP boundaries 0, 10, ..., 50
VIOLATING_SLOTS = (5, 6)  # the local tier transmits outside its constraint on one node here
LOCKSTEP_TIMEOUT_S = 10.0  # a lockstep node's wait for a control; the RIC's refusal notice ends it at once


def _sat_keeps(slot: int) -> int:
    """Subbands the test satellite policy keeps: 1 in even 50-slot periods, 2 in odd ones."""
    return 1 + (slot // 50) % 2


def _hap_keeps(slot: int) -> bool:
    """Whether the test HAP policy keeps the first subband of its share: in even 10-slot periods."""
    return (slot // 10) % 2 == 0


class AlternatingSatellite:
    """Keeps the lowest `_sat_keeps` subbands; the HAP gets the rest."""

    def __init__(self, spec: WorldSpec) -> None:
        self.spec, self.tree = spec, SagTree.of(spec)

    def reset(self) -> None:
        return

    def decide(self, reports: Reports, allowed: np.ndarray) -> TierDecision:
        controls = Controls.off(1, self.spec.n_nodes, self.spec.n_resources)
        constraints = {}
        for beam, hap in zip(self.tree.beams, self.tree.hap_of_beam, strict=True):
            keep = np.arange(self.spec.n_resources) < _sat_keeps(reports.slot)
            controls.mask[0, beam] = keep
            controls.user[0, beam, keep] = 0
            controls.power_w[0, beam, keep] = 1.0
            constraints[hap] = ~keep
        return TierDecision(controls, constraints)


class AlternatingHap:
    """Keeps the first subband of its share in even 10-slot periods; its regions get the rest."""

    def __init__(self, spec: WorldSpec) -> None:
        self.spec, self.tree = spec, SagTree.of(spec)
        self.seen: dict[int, np.ndarray] = {}

    def reset(self) -> None:
        return

    def decide(self, reports: Reports, allowed: np.ndarray) -> TierDecision:
        controls = Controls.off(1, self.spec.n_nodes, self.spec.n_resources)
        constraints = {}
        for hap in self.tree.haps:
            self.seen[reports.slot] = allowed[hap].copy()
            share = np.flatnonzero(allowed[hap])
            keep = share[:1] if _hap_keeps(reports.slot) else share[:0]
            controls.mask[0, hap] = False
            controls.mask[0, hap, keep] = True
            controls.user[0, hap, keep] = 0
            controls.power_w[0, hap, keep] = 0.5
            rest = allowed[hap].copy()
            rest[keep] = False
            for node in self.tree.tree_nodes(hap):
                constraints[node] = rest
        return TierDecision(controls, constraints)


class RecordingLocal(EqualSplitLocal):
    """The equal-split local tier, recording what it saw and sent; violates on one node at `VIOLATING_SLOTS`."""

    def __init__(self, spec: WorldSpec) -> None:
        super().__init__(spec)
        self.violator = self.tree.local[0]
        self.seen: dict[int, np.ndarray] = {}
        self.sent: dict[int, Controls] = {}

    def decide(self, reports: Reports, allowed: np.ndarray) -> TierDecision:
        decision = super().decide(reports, allowed)
        if reports.slot in VIOLATING_SLOTS:
            decision.controls.user[0, self.violator] = 0
            decision.controls.power_w[0, self.violator] = 0.01
        self.seen[reports.slot] = allowed.copy()
        self.sent[reports.slot] = decision.controls
        return decision


def _expected_local_allowed(slot: int, n_subbands: int) -> np.ndarray:
    hap_share = np.arange(n_subbands) >= _sat_keeps(slot - slot % 50)
    allowed = hap_share.copy()
    if _hap_keeps(slot - slot % 10):
        allowed[np.flatnonzero(hap_share)[0]] = False
    return allowed


@pytest.fixture(scope="module")
def in_process_run() -> dict[str, Any]:
    """RIC, the sag nodes (lockstep) and the three tier xApps in one process, `SLOTS` slots."""
    scenario = load_scenario("sag", reduced_overrides("sag"))
    world = make_world(scenario, load=1.0)
    applied: list[Controls] = []
    published: list[np.ndarray] = []
    step = world.step

    def recording_step(controls: Controls) -> tuple[Reports, SlotKpis]:
        applied.append(Controls(**{f: getattr(controls, f).copy() for f in ("user", "power_w", "mask", "move_m")}))
        reports, kpis = step(controls)
        published.append(reports.extra["allowed"][0].copy())
        return reports, kpis

    world.step = recording_step  # type: ignore[method-assign]
    policies: dict[str, Any] = {}

    def keep(factory: Any) -> Any:
        def build(spec: WorldSpec) -> Any:
            policy = factory(spec)
            policies[factory.__name__] = policy
            return policy
        return build

    config = RicConfig.ephemeral(constraint_xapps=("sag-satellite", "sag-hap"))
    with RicThread(config) as ric:
        assert ric.endpoints.xapp_zmq is not None and ric.endpoints.e2_zmq is not None
        apps: list[TierXApp] = [SatelliteXApp(keep(AlternatingSatellite)), HapXApp(keep(AlternatingHap)),
                                LocalXApp(keep(RecordingLocal))]
        runners = [XappRunner(app, ric.endpoints.xapp_zmq, constraint_wait_s=2.0) for app in apps]
        threads = [threading.Thread(target=r.run, daemon=True) for r in runners]
        for thread in threads:
            thread.start()
        agent = E2Agent(world, make_policy("round-robin", world.spec).decide,
                        AgentConfig(ric=ric.endpoints.e2_zmq, lockstep_timeout_s=LOCKSTEP_TIMEOUT_S))
        result = agent.run(SLOTS, seed=3)
        time.sleep(0.1)  # the last answers reach the xApps
        for runner in runners:
            runner.stop()
        for thread in threads:
            thread.join(5.0)
        refusals_metric = ric.core.metrics.refusals.labels("constraint_violation")._value.get()
    return {"spec": world.spec, "applied": applied, "published": published, "result": result,
            "summaries": {app.name: r.summary() for app, r in zip(apps, runners, strict=True)},
            "policies": policies, "refusals_metric": refusals_metric}


def test_control_inside_the_constraint_is_accepted_and_applied(in_process_run: dict[str, Any]) -> None:
    spec, local = in_process_run["spec"], in_process_run["policies"]["RecordingLocal"]
    tree = SagTree.of(spec)
    for t in range(SLOTS):
        if t in VIOLATING_SLOTS:
            continue
        sent, applied = local.sent[t], in_process_run["applied"][t]
        for node in tree.local:
            used = (sent.user[0, node] >= 0) & (sent.power_w[0, node] > 0)
            assert not (used & ~_expected_local_allowed(t, spec.n_resources)).any()
            np.testing.assert_array_equal(applied.user[0, node], sent.user[0, node])
            np.testing.assert_array_equal(applied.move_m[0, node], sent.move_m[0, node])
    assert in_process_run["result"]["applied"] == in_process_run["result"]["expected"] - len(VIOLATING_SLOTS)


def test_control_outside_the_constraint_is_refused_counted_and_the_node_keeps_its_fallback(
        in_process_run: dict[str, Any]) -> None:
    local = in_process_run["policies"]["RecordingLocal"]
    summary = in_process_run["summaries"]["sag-local"]
    assert summary["refusals"] == {"constraint_violation": len(VIOLATING_SLOTS)}
    assert in_process_run["refusals_metric"] == len(VIOLATING_SLOTS)
    result = in_process_run["result"]
    # the RIC told the node: no deadline miss, no lockstep wait (the run is shorter than one timeout)
    assert result["refused_by_ric"] == len(VIOLATING_SLOTS) and result["missed"] == 0
    assert result["fallback_last_valid"] == len(VIOLATING_SLOTS) and result["wall_s"] < LOCKSTEP_TIMEOUT_S
    node, before = local.violator, VIOLATING_SLOTS[0] - 1
    for t in VIOLATING_SLOTS:
        applied = in_process_run["applied"][t]
        assert (local.sent[t].user[0, node] >= 0).all()  # what was refused: every subband
        np.testing.assert_array_equal(applied.user[0, node], local.sent[before].user[0, node])
        other = SagTree.of(in_process_run["spec"]).local[1]  # the same control's other row went through
        np.testing.assert_array_equal(applied.user[0, other], local.sent[t].user[0, other])


def test_constraints_change_at_tier_boundaries_and_the_lower_tier_sees_them(in_process_run: dict[str, Any]) -> None:
    spec = in_process_run["spec"]
    tree = SagTree.of(spec)
    local, hap = in_process_run["policies"]["RecordingLocal"], in_process_run["policies"]["AlternatingHap"]
    s = spec.n_resources
    assert sorted(hap.seen) == list(range(0, SLOTS, 10))
    for t, seen in hap.seen.items():
        np.testing.assert_array_equal(seen, np.arange(s) >= _sat_keeps(t - t % 50))
    assert sorted(local.seen) == list(range(SLOTS))
    for t in range(SLOTS):
        for node in tree.local:
            np.testing.assert_array_equal(local.seen[t][node], _expected_local_allowed(t, s), err_msg=f"slot {t}")
            # the world publishes the split the tiers applied, one slot later
            np.testing.assert_array_equal(in_process_run["published"][t][node], _expected_local_allowed(t, s))
    # the split did change at the boundaries: 10 (HAP) and 50 (satellite)
    assert not np.array_equal(local.seen[9][tree.local[0]], local.seen[10][tree.local[0]])
    assert not np.array_equal(hap.seen[40], hap.seen[50])
    for name, decisions in (("sag-satellite", 2), ("sag-hap", 6), ("sag-local", SLOTS)):
        summary = in_process_run["summaries"][name]
        assert summary["decisions"] == decisions and summary["constraint_wait_timeouts"] == 0




def test_lockstep_hierarchy_run_terminates_with_every_tier_deciding_and_leaves_no_process() -> None:
    before = ntnric_processes()
    overrides = tuple(f"{k}={json.dumps(v)}" for k, v in reduced_overrides("sag").items())
    config = EmulationConfig(scenario="sag", policy="hierarchy", mode="lockstep", slots=SLOTS, overrides=overrides,
                             hierarchy=True)
    document = run_document(config, run_emulation(config))
    tiers = document["tiers"]
    assert {t: tiers[t]["decisions"] for t in tiers} == {"satellite": 2, "hap": 6, "local": SLOTS}
    assert all(t["decisions"] == t["expected_decisions"] for t in tiers.values())
    assert all(t["latency_us"]["count"] == t["decisions"] for t in tiers.values())
    assert document["refusals_by_cause"] == {}
    assert document["misses"]["missed"] == 0
    assert document["misses"]["applied"] == 2 * 1 + 6 * 1 + SLOTS * 2  # beams, HAPs, TBS + UAV
    time.sleep(0.2)
    assert ntnric_processes() <= before
