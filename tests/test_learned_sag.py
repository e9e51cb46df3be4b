"""Learned tiers of the sag hierarchy: observation shapes, action masks, decoding inside the
constraints, the vectorised heuristics, and the in-process hierarchy's tier timing."""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
import pytest

from e2_sim.scenarios import load_scenario
from e2_sim.world import make_world
from ric.protocol import Reports, WorldSpec
from xapps.hierarchy import (
    HierarchyPolicy,
    ProportionalHap,
    ProportionalSatellite,
    TierDecision,
    TierPolicy,
    tier_policy_factory,
)
from xapps.policies import PolicyError, make_policy
from xapps.policies.allocation import reduced_overrides
from xapps.policies.learned_sag import FlatNodes, LocalTier, SplitTier, masked_argmax, serve_users

SLOTS = 60  # satellite boundaries 0 and 50, HAP boundaries 0, 10, ..., 50


@pytest.fixture(scope="module")
def world_and_reports() -> tuple[object, Reports]:
    world = make_world(load_scenario("sag"), load=1.0)
    reports = world.reset([5])
    policy = make_policy("hierarchy-heuristic", world.spec, 0)
    for _ in range(3):
        reports, _ = world.step(policy.decide(reports))
    reports.extra["elevation_deg"][:, 0] = 45.0  # one beam sees the satellite, the other not (below 10 deg)
    return world, reports


def test_shapes_and_split_mask(world_and_reports: tuple[object, Reports]) -> None:
    world, reports = world_and_reports
    spec: WorldSpec = world.spec  # type: ignore[attr-defined]
    s, k = spec.n_resources, spec.n_nodes
    rng = np.random.default_rng(0)
    allowed = rng.random((1, k, s)) < 0.5
    sat = SplitTier(spec, "satellite")
    obs, valid, teacher = sat.observe(reports, allowed)
    assert obs.shape == (1, len(sat.agents), sat.dim) and valid.shape == (1, len(sat.agents), s + 1)
    share = allowed[0, sat.agents].sum(-1)
    active = reports.active[0, sat.agents].any(-1) & sat.layout.visible(reports)[0]
    # a count above the share (or any count without direct users or link) is masked
    assert np.array_equal(valid[0].sum(-1), np.where(active, share, 0) + 1)
    logits = rng.standard_normal((len(sat.agents), s + 1)).astype(np.float32)
    actions = masked_argmax(logits, valid[0], sat.heads)
    assert np.all(actions[:, 0] <= share)
    keep, user, _ = sat.decode(actions[None], reports, allowed)
    assert np.all(keep <= allowed[:, sat.agents])  # kept subbands lie in the share
    assert np.array_equal(keep.sum(-1)[0], actions[:, 0])
    assert np.all((user >= 0) <= keep)
    local = LocalTier(spec)
    obs, valid, teacher = local.observe(reports, allowed)
    assert obs.shape == (1, 12, local.dim) and valid.shape[-1] == sum(local.heads)
    flat = FlatNodes(spec)
    obs, valid, teacher = flat.observe(reports)
    assert obs.shape == (1, k, flat.dim) and teacher.shape == (1, k, s + 1)


def test_local_tier_never_acts_outside_its_constraint(world_and_reports: tuple[object, Reports]) -> None:
    world, reports = world_and_reports
    spec: WorldSpec = world.spec  # type: ignore[attr-defined]
    local = LocalTier(spec)
    rng = np.random.default_rng(1)
    for _ in range(5):
        allowed = rng.random((1, spec.n_nodes, spec.n_resources)) < 0.4
        _, valid, _ = local.observe(reports, allowed)
        # masked greedy actions, and raw random actions that ignore the mask
        logits = rng.standard_normal((len(local.agents), sum(local.heads))).astype(np.float32)
        masked = masked_argmax(logits, valid[0], local.heads)[None]
        raw = rng.integers(0, local.n_levels + 1, size=masked.shape)
        for actions in (masked, raw):
            user, power, move = local.decode(actions, reports, allowed)
            on = (user >= 0) & (power > 0)
            assert not np.any(on & ~allowed[:, local.agents])
        tbs = ~spec_is_uav(spec)[local.agents]
        assert np.all(valid[0, tbs, -2:] == 0)  # a TBS cannot move
        assert np.all(np.linalg.norm(move[0], axis=-1) <= float(spec.static["uav_max_step_m"]) + 1e-4)


def spec_is_uav(spec: WorldSpec) -> np.ndarray:
    return np.array([n.kind == "uav" for n in spec.nodes])


def test_serve_users_longest_deficit_first_cycling() -> None:
    active = np.array([[[True, False, True, True]]])
    queue = np.array([[[5.0, 99.0, 7.0, 5.0]]], dtype=np.float32)
    on = np.array([[[True, False, True, True, True, True]]])
    # order by decreasing deficit among active users: 2 (7), 0 (5), 3 (5, later slot), then cycle
    assert serve_users(active, queue, on).tolist() == [[[2, -1, 0, 3, 2, 0]]]


@pytest.mark.parametrize("overrides", [None, reduced_overrides("sag")])
def test_teacher_actions_reproduce_the_heuristic_tiers(overrides: dict | None) -> None:
    world = make_world(load_scenario("sag", overrides), load=1.0)
    spec = world.spec
    reports = world.reset([3])
    heuristic = make_policy("hierarchy-heuristic", spec, 0)
    controls = heuristic.decide(reports)
    allowed = np.ones((1, spec.n_nodes, spec.n_resources), dtype=bool)
    sat, hap, local = SplitTier(spec, "satellite"), SplitTier(spec, "hap"), LocalTier(spec)
    _, _, teacher = sat.observe(reports, allowed)
    keep, user, _ = sat.decode(teacher, reports, allowed)
    assert np.array_equal(user, controls.user[:, sat.agents])
    allowed[:, sat.layout.hap_of_beam] = ~keep
    _, _, teacher = hap.observe(reports, allowed)
    keep, user, _ = hap.decode(teacher, reports, allowed)
    assert np.array_equal(user, controls.user[:, hap.agents])
    for i, nodes in enumerate(hap.layout.tree_of_hap):
        allowed[:, nodes] = (allowed[:, hap.layout.haps[i]] & ~keep[:, i])[:, None]
    _, valid, teacher = local.observe(reports, allowed)
    user, power, move = local.decode(teacher, reports, allowed)
    assert np.array_equal(user, controls.user[:, local.agents])
    assert np.allclose(power, controls.power_w[:, local.agents])
    assert np.allclose(move, controls.move_m[:, local.agents], atol=1e-3)
    # the teacher's action is always a valid one
    flat_idx = np.concatenate([np.arange(local.p) * (local.n_levels + 1) + teacher[0, :, : local.p],
                               local.p * (local.n_levels + 1) + teacher[0, :, local.p :]], axis=1)
    assert np.all(np.take_along_axis(valid[0], flat_idx, axis=1))


class Recording:
    """Wraps a heuristic tier: records the slots it decides at and the constraints it sees."""

    def __init__(self, inner: object, log: list[tuple[int, np.ndarray]]) -> None:
        self.inner, self.log = inner, log

    def reset(self) -> None:
        return

    def decide(self, reports: Reports, allowed: np.ndarray) -> TierDecision:
        self.log.append((reports.slot, allowed.copy()))
        return self.inner.decide(reports, allowed)  # type: ignore[attr-defined]


def test_hierarchy_policy_tier_timing_and_constraint_propagation() -> None:
    world = make_world(load_scenario("sag"), load=1.0)
    spec = world.spec
    logs: list[list[tuple[int, np.ndarray]]] = [[], [], []]
    factories: list[Callable[[WorldSpec], TierPolicy]] = [
        lambda sp: Recording(ProportionalSatellite(sp), logs[0]),
        lambda sp: Recording(ProportionalHap(sp), logs[1]),
        lambda sp: Recording(tier_policy_factory("local")(sp), logs[2]),
    ]
    policy = HierarchyPolicy(spec, 0, factories=factories)
    reports = world.reset([1])
    policy.reset(1)
    beams = list(policy.tree.beams)
    held_beam = None
    for t in range(SLOTS):
        controls = policy.decide(reports)
        if t % 50 == 0:
            held_beam = controls.user[0, beams].copy()
        assert held_beam is not None and np.array_equal(controls.user[0, beams], held_beam)  # held 50 slots
        # the HAP's constraint is the complement of what its beam keeps; locals get the HAP's rest
        for beam, hap in zip(beams, policy.tree.hap_of_beam, strict=True):
            assert np.array_equal(policy._allowed[0, hap], ~controls.mask[0, beam])
            for node in policy.tree.tree_nodes(hap):
                expect = ~controls.mask[0, beam] & ~controls.mask[0, hap]
                assert np.array_equal(policy._allowed[0, node], expect)
                assert not np.any((controls.user[0, node] >= 0) & ~expect)
        reports, _ = world.step(controls)
    assert [slot for slot, _ in logs[0]] == [0, 50]
    assert [slot for slot, _ in logs[1]] == list(range(0, SLOTS, 10))
    assert [slot for slot, _ in logs[2]] == list(range(SLOTS))
    assert policy.tier_decisions.tolist() == [2, 6, SLOTS]
    assert np.all(policy.tier_time_ns > 0)


def test_learned_hierarchy_refuses_without_models(tmp_path: object, monkeypatch: pytest.MonkeyPatch) -> None:
    from pathlib import Path

    from xapps.hierarchy import LearnedHierarchy

    spec = make_world(load_scenario("sag"), load=1.0).spec
    missing = {name: Path(str(tmp_path)) / f"{name}.onnx" for name in ("satellite", "hap", "local")}
    monkeypatch.setattr(LearnedHierarchy, "model_paths", missing)
    with pytest.raises(PolicyError, match="missing"):
        make_policy("hierarchy", spec)
    with pytest.raises(PolicyError, match="does not support"):
        make_policy("hierarchy-heuristic", make_world(load_scenario("hex19"), load=20.0).spec)
