"""Allocation baselines of the srb and sag worlds: the exhaustive search equals a plain brute
force, refuses instances that are too large, and the reduced instances it names are tractable;
random allocation draws uniformly within the tier rules; equal split gives contiguous equal blocks."""

from __future__ import annotations

import itertools
import math
from typing import Any

import numpy as np
import pytest

from e2_sim.scenarios import load_scenario
from e2_sim.world import World, make_world
from ntnric.evaluate import evaluate
from ric.protocol import Reports, WorldSpec
from xapps.policies import PolicyError, make_policy
from xapps.policies.allocation import (
    MAX_JOINT_ALLOCATIONS,
    SHORTFALL_TOLERANCE_BPS,
    EqualSplit,
    ExhaustiveSearch,
    RandomAllocation,
    reduced_overrides,
)

PRESETS = {"srb": "tn-ntn-srb", "sag": "sag"}
POLICIES = ("exhaustive", "random-allocation", "equal-split")
#: Sum rates of the policy's choice and of the brute force's, recomputed in plain Python, agree to this.
RATE_RTOL = 1e-9
#: Random allocation: 400 draws of each (node, resource) choice; an option's frequency within this of 1/(n+1).
FREQUENCY_TOL = 0.06
RANDOM_DRAWS = 400


def _tiny_overrides(kind: str, users: int) -> dict[str, Any]:
    """An instance small enough for a plain itertools brute force over every node/resource choice."""
    if kind == "srb":
        # 2 subchannels in one SRB (the power split over both is exercised), fixed users
        return {"n_subchannels": 2, "srb_size": 2, "users.max_users_per_node": users, "users.mode": "fixed"}
    overrides = reduced_overrides("sag")
    overrides.update({"spectrum.n_subbands": 2})
    for key in ("satellite.direct_users_per_beam", "hap.direct_users", "tbs.users", "uav.users"):
        overrides[key] = users
    return overrides


def _world(kind: str, overrides: dict[str, Any] | None = None, genie: bool = True, load: float = 1.0) -> World:
    return make_world(load_scenario(PRESETS[kind], overrides), load=load, genie_csi=genie)


# --- the plain reference --------------------------------------------------------------------
def _plain_objective(
    spec: WorldSpec, alloc: tuple[int, ...], gain: np.ndarray, active: np.ndarray
) -> tuple[float, float]:
    """(total QoS shortfall, sum rate) [bit/s] of one allocation, written out loop by loop.

    ``alloc[k * S + s]`` is the user of node k on resource s (−1 off); ``gain`` (K, U, S, T).
    """
    k_nodes, s_res = spec.n_nodes, spec.n_resources
    user = [[alloc[k * s_res + s] for s in range(s_res)] for k in range(k_nodes)]
    power = [[0.0] * s_res for _ in range(k_nodes)]
    for k in range(k_nodes):
        p_node_w = 10 ** ((spec.nodes[k].max_power_dbm - 30) / 10)
        if spec.world_kind == "srb":  # equal over SRBs (p_node = p_max / M), uniform over active ones
            size = spec.static["srb_size"]
            for first in range(0, s_res, size):
                block = range(first, first + size)
                n_on = sum(1 for s in block if user[k][s] >= 0)
                for s in block:
                    power[k][s] = p_node_w / n_on if user[k][s] >= 0 else 0.0
        else:
            power[k] = [p_node_w if user[k][s] >= 0 else 0.0 for s in range(s_res)]
    noise_w = 10 ** ((spec.noise_dbm - 30) / 10)
    rates = np.zeros(active.shape)
    total = 0.0
    for k in range(k_nodes):
        for s in range(s_res):
            u = user[k][s]
            if u < 0:
                continue
            signal = float(gain[k, u, s, k]) * power[k][s]
            interference = sum(float(gain[k, u, s, t]) * power[t][s] for t in range(k_nodes) if t != k)
            rate = spec.resource_bandwidth_hz * math.log2(1 + signal / (interference + noise_w))
            rates[k, u] += rate
            total += rate
    r_min = spec.static["qos_min_rate_bps"]
    shortfall = sum(max(r_min - rates[k, u], 0.0) for k, u in zip(*np.nonzero(active), strict=True))
    return shortfall, total


def _hierarchy_ok(spec: WorldSpec, alloc: tuple[int, ...]) -> bool:
    """sag: on every subband of every beam tree at most one tier (beam, HAP, local nodes) transmits."""
    if spec.world_kind != "sag":
        return True
    s_res = spec.n_resources
    tiers = spec.static["node_tier"]
    for beam in spec.static["beams"]:
        tree = [beam["node"], beam["hap"], *(n for r in beam["regions"] for n in spec.static["regions"][r]["nodes"])]
        for s in range(s_res):
            busy = {tiers[n] for n in tree if alloc[n * s_res + s] >= 0}
            if len(busy) > 1:
                return False
    return True


def _brute_force(spec: WorldSpec, gain: np.ndarray, active: np.ndarray) -> tuple[int, float, float]:
    """Count of admissible allocations and the best (shortfall, sum rate) by itertools."""
    choices = []
    for k in range(spec.n_nodes):
        own = [-1, *np.flatnonzero(active[k]).tolist()]
        choices += [own] * spec.n_resources
    scored = [
        _plain_objective(spec, alloc, gain, active)
        for alloc in itertools.product(*choices)
        if _hierarchy_ok(spec, alloc)
    ]
    best_shortfall = min(s for s, _ in scored)
    best_rate = max(r for s, r in scored if s <= best_shortfall + SHORTFALL_TOLERANCE_BPS)
    return len(scored), best_shortfall, best_rate


@pytest.mark.parametrize(
    ("kind", "users", "qos_override"),
    [("srb", 2, None), ("srb", 2, 60e6), ("sag", 1, None), ("sag", 2, None), ("sag", 2, 2e9)],
)
def test_exhaustive_equals_brute_force(kind: str, users: int, qos_override: float | None) -> None:
    overrides = _tiny_overrides(kind, users)
    if qos_override is not None:  # a minimum rate some users cannot reach: the shortfall decides first
        overrides["qos_min_rate_bps" if kind == "srb" else "users.qos_min_rate_bps"] = qos_override
    world = _world(kind, overrides)
    policy = make_policy("exhaustive", world.spec, seed=0)
    assert isinstance(policy, ExhaustiveSearch)
    reports = world.reset([7])
    policy.reset(1)
    for _ in range(2):
        controls = policy.decide(reports)
        gain, active = reports.gain[0], reports.active[0]
        count, best_shortfall, best_rate = _brute_force(world.spec, gain, active)
        assert policy.last_instance_sizes == [count]
        chosen = tuple(int(u) for u in controls.user[0].reshape(-1))
        assert _hierarchy_ok(world.spec, chosen)
        shortfall, rate = _plain_objective(world.spec, chosen, gain, active)
        assert shortfall == pytest.approx(best_shortfall, abs=SHORTFALL_TOLERANCE_BPS)
        assert rate == pytest.approx(best_rate, rel=RATE_RTOL)
        if qos_override is not None:
            assert best_shortfall > 0.0
        reports, kpis = world.step(controls)
        # the world delivers what the search computed for the chosen allocation
        assert kpis.delivered_bits.sum() == pytest.approx(rate * world.spec.slot_s, rel=1e-5)


def test_exhaustive_puts_qos_before_sum_rate() -> None:
    """With two users per base station, the rate-only optimum starves a user; the search does not."""
    world = _world("srb", _tiny_overrides("srb", 2) | {"qos_min_rate_bps": 10e6})
    policy = make_policy("exhaustive", world.spec, seed=0)
    reports = world.reset([1])
    starved_by_rate_only = 0
    for _ in range(5):
        gain, active = reports.gain[0], reports.active[0]
        choices = [[-1, *np.flatnonzero(active[k]).tolist()] for k in range(3) for _ in range(2)]
        scored = [_plain_objective(world.spec, a, gain, active) for a in itertools.product(*choices)]
        rate_only = max(scored, key=lambda x: x[1])
        controls = policy.decide(reports)
        chosen = _plain_objective(world.spec, tuple(int(u) for u in controls.user[0].reshape(-1)), gain, active)
        assert chosen[0] <= min(s for s, _ in scored) + SHORTFALL_TOLERANCE_BPS
        starved_by_rate_only += rate_only[0] > chosen[0] + SHORTFALL_TOLERANCE_BPS
        reports, _ = world.step(controls)
    assert starved_by_rate_only > 0


@pytest.mark.parametrize("kind", ["srb", "sag"])
def test_exhaustive_refuses_the_full_preset_in_one_line(kind: str) -> None:
    spec = _world(kind, genie=False, load=0.5 if kind == "srb" else 1.0).spec
    with pytest.raises(PolicyError) as info:
        make_policy("exhaustive", spec)
    message = str(info.value)
    assert "\n" not in message
    assert "joint allocations" in message and f"limit of {MAX_JOINT_ALLOCATIONS}" in message
    assert "--set spectrum.n_subbands=4" in message or "--set n_subchannels=4" in message


@pytest.mark.parametrize("kind", ["srb", "sag"])
def test_reduced_overrides_give_a_tractable_instance(kind: str) -> None:
    overrides = reduced_overrides(kind)
    overrides["x"] = 1  # a copy: the caller may change it
    assert "x" not in reduced_overrides(kind)
    world = _world(kind, reduced_overrides(kind), load=0.5 if kind == "srb" else 1.0)
    policy = make_policy("exhaustive", world.spec, seed=0)
    assert isinstance(policy, ExhaustiveSearch)
    s = world.spec.n_resources
    expected = 3 ** (3 * s) if kind == "srb" else (1 + 2 + 2 + 3 * 3 - 1) ** s
    assert policy.instance_size == expected <= MAX_JOINT_ALLOCATIONS
    assert str(expected) in policy.describe()
    reports = world.reset([0])
    controls = policy.decide(reports)
    assert 1 <= policy.last_instance_sizes[0] <= policy.instance_size
    world.step(controls)
    with pytest.raises(ValueError, match="no reduced instance"):
        reduced_overrides("cstn")


# --- random allocation ------------------------------------------------------------------------
def test_random_allocation_is_uniform_over_off_and_active_users_in_srb() -> None:
    world = _world("srb", genie=False, load=0.5)
    policy = make_policy("random-allocation", world.spec, seed=3)
    reports = world.reset([2])
    active = reports.active[0]
    counts = np.zeros((world.spec.n_nodes, world.spec.n_users_max + 1))  # column 0 = off
    for _ in range(RANDOM_DRAWS):
        user = policy.decide(reports).user[0].astype(int)  # (K, S)
        for k in range(world.spec.n_nodes):
            served = user[k][user[k] >= 0]
            assert active[k, served].all()
            counts[k] += np.bincount(user[k] + 1, minlength=counts.shape[1])
    for k in range(world.spec.n_nodes):
        options = [0, *(np.flatnonzero(active[k]) + 1)]
        freq = counts[k, options] / counts[k].sum()
        np.testing.assert_allclose(freq, 1.0 / len(options), atol=FREQUENCY_TOL)


def test_random_allocation_in_sag_respects_tiers_and_decision_intervals() -> None:
    world = _world("sag", genie=False)
    spec = world.spec
    policy = make_policy("random-allocation", spec, seed=4)
    assert isinstance(policy, RandomAllocation)
    tiers = np.array(spec.static["node_tier"])
    beam_nodes = np.flatnonzero(tiers == "satellite")
    reports = world.reset([0])
    tier_counts = np.zeros(3)
    previous = None
    beam_interval = spec.nodes[beam_nodes[0]].decision_interval_slots
    for t in range(2 * beam_interval + 1):
        c = policy.decide(reports)
        for beam in spec.static["beams"]:
            b_node, h_node = beam["node"], beam["hap"]
            local = [n for r in beam["regions"] for n in spec.static["regions"][r]["nodes"]]
            assert not (c.mask[0, b_node] & c.mask[0, h_node]).any()
            assert np.all(c.user[0, b_node][~c.mask[0, b_node]] == -1)
            assert np.all(c.user[0, h_node][~c.mask[0, h_node]] == -1)
            taken = c.mask[0, b_node] | c.mask[0, h_node]
            assert np.all(c.user[0, local][:, taken] == -1)
            tier_counts += [c.mask[0, b_node].sum(), c.mask[0, h_node].sum(), (~taken).sum()]
        if previous is not None and t % beam_interval:
            np.testing.assert_array_equal(c.mask[0, beam_nodes], previous.mask[0, beam_nodes])
            np.testing.assert_array_equal(c.user[0, beam_nodes], previous.user[0, beam_nodes])
        previous = c
        reports, _ = world.step(c)
    # HAPs redraw every 10 slots and local nodes every slot: every tier gets a share
    freq = tier_counts / tier_counts.sum()
    assert np.all(freq > 0.1)


# --- equal split --------------------------------------------------------------------------------
def _blocks_are_equal_and_contiguous(user: np.ndarray, owners: list[int]) -> None:
    """``user`` (S,) over the node's resources: each owner one contiguous block, sizes differ ≤ 1."""
    sizes = [int((user == u).sum()) for u in owners]
    assert max(sizes) - min(sizes) <= 1 and sum(sizes) == user.size
    assert [int(u) for u in user] == sorted(int(u) for u in user)


def test_equal_split_in_srb_gives_every_active_user_one_contiguous_block() -> None:
    world = _world("srb", genie=False, load=0.5)
    policy = make_policy("equal-split", world.spec)
    reports = world.reset([5])
    controls = policy.decide(reports)
    for k in range(world.spec.n_nodes):
        owners = np.flatnonzero(reports.active[0, k]).tolist()
        assert owners
        _blocks_are_equal_and_contiguous(controls.user[0, k], owners)
    np.testing.assert_allclose(controls.power_w[0], 10 ** ((world.spec.nodes[0].max_power_dbm - 30) / 10), rtol=1e-6)


def test_equal_split_in_sag_halves_each_tier_and_splits_regions() -> None:
    world = _world("sag", genie=False)
    spec = world.spec
    policy = make_policy("equal-split", spec)
    assert isinstance(policy, EqualSplit)
    s = spec.n_resources
    beam_share, hap_share = s // 2, (s - s // 2) // 2
    assert (beam_share, hap_share, s - beam_share - hap_share) == (5, 2, 3)
    reports = world.reset([0])
    served_by_hap: dict[int, set[int]] = {}
    for _ in range(2):
        c = policy.decide(reports)
        for beam in spec.static["beams"]:
            b_node, h_node = beam["node"], beam["hap"]
            np.testing.assert_array_equal(c.mask[0, b_node], np.arange(s) < beam_share)
            np.testing.assert_array_equal(c.mask[0, h_node], (np.arange(s) >= beam_share) & (np.arange(s) < 7))
            beam_users = np.flatnonzero(reports.active[0, b_node]).tolist()
            _blocks_are_equal_and_contiguous(c.user[0, b_node, :beam_share], beam_users)
            served_by_hap.setdefault(h_node, set()).update(c.user[0, h_node, beam_share:7].tolist())
            for r in beam["regions"]:
                nodes = spec.static["regions"][r]["nodes"]
                on = c.user[0, nodes][:, 7:] >= 0  # local share: one subband per region node
                np.testing.assert_array_equal(on.sum(axis=0), 1)
                np.testing.assert_array_equal(on.sum(axis=1), 1)
        reports, _ = world.step(c)
    # 4 HAP users on 2 subbands: all of them served within two slots
    for h_node, served in served_by_hap.items():
        assert served == set(np.flatnonzero(reports.active[0, h_node]).tolist())


# --- every policy -------------------------------------------------------------------------------
def _instance(kind: str, name: str) -> dict[str, Any] | None:
    """Overrides a policy runs on: the full preset, or a tiny instance for the exhaustive search."""
    if name != "exhaustive":
        return None
    overrides = _tiny_overrides(kind, 2)
    if kind == "srb":
        overrides["users.mode"] = "episode"  # users come and go as in the preset
    return overrides


@pytest.mark.parametrize("kind", ["srb", "sag"])
@pytest.mark.parametrize("name", POLICIES)
@pytest.mark.parametrize("batch", [1, 2])
def test_controls_shapes_for_batches(kind: str, name: str, batch: int) -> None:
    overrides = _instance(kind, name)
    load = 0.5 if kind == "srb" else 1.0
    spec = _world(kind, overrides, genie=False, load=load).spec
    policy = make_policy(name, spec, seed=0)
    world = _world(kind, overrides, genie=policy.genie, load=load)
    reports: Reports = world.reset(list(range(batch)))
    policy.reset(batch)
    controls = policy.decide(reports)
    k, s = spec.n_nodes, spec.n_resources
    assert controls.user.shape == controls.power_w.shape == controls.mask.shape == (batch, k, s)
    assert controls.move_m.shape == (batch, k, 3)
    assert controls.user.dtype == np.int16 and controls.power_w.dtype == np.float32 and controls.mask.dtype == bool
    world.step(controls)
    if name != "random-allocation" and batch == 2:  # deterministic: world b decides as if alone
        for b in range(batch):
            alone = make_policy(name, spec, seed=0).decide(_world(kind, overrides, policy.genie, load).reset([b]))
            np.testing.assert_array_equal(alone.user[0], controls.user[b])
            np.testing.assert_array_equal(alone.mask[0], controls.mask[b])


@pytest.mark.parametrize("kind", ["srb", "sag"])
def test_every_policy_runs_100_slots(kind: str) -> None:
    for name in POLICIES:
        result = evaluate(PRESETS[kind], [name], slots=100, overrides=_instance(kind, name))
        (r,) = result.results
        assert r.genie == (name == "exhaustive")
        assert r.kpis["decision_time_us"]["count"] == 100
        assert r.kpis["throughput_mbps"] > 0.0


def test_allocation_policies_refuse_other_worlds() -> None:
    cstn_spec = make_world(load_scenario("cstn"), load=1.0).spec
    for name in POLICIES:
        with pytest.raises(PolicyError, match="does not support 'cstn'"):
            make_policy(name, cstn_spec)
