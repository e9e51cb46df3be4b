"""The space–air–ground world: hierarchy semantics, channels, UAV moves, KPIs, determinism."""

from __future__ import annotations

import json
from typing import Any

import numpy as np
import pytest

from e2_sim.scenarios import ScenarioError, load_scenario
from e2_sim.world import make_world
from e2_sim.world.sag import SagWorld, bessel_pattern_db
from ric.protocol import Controls, Reports

SEED = 7
#: Orbit time (s) a little before culmination: the satellite is high over every beam.
HIGH_PASS_START_S = 240.0
#: Relative tolerance of the SINR/rate formula check (float32 gains) [-].
RATE_RTOL = 1e-4


def _world(genie: bool = False, load: float = 1.0, overrides: dict[str, Any] | None = None) -> SagWorld:
    world = make_world(load_scenario("sag", overrides or {}), load=load, genie_csi=genie)
    assert isinstance(world, SagWorld)
    return world


def _max_power_w(world: SagWorld) -> np.ndarray:
    return np.array([10 ** ((n.max_power_dbm - 30) / 10) for n in world.spec.nodes], dtype=np.float32)


def _hierarchical_controls(
    world: SagWorld, reports: Reports, sat_keep: np.ndarray, hap_keep: np.ndarray, slot: int
) -> Controls:
    """Every node at full power on the subbands it may use, users round-robin.

    Beams use ``sat_keep``; HAPs ``hap_keep`` (inside their share); TBS/UAV nodes use what the
    published ``allowed`` leaves them.
    """
    spec = world.spec
    b, k, s = reports.batch, spec.n_nodes, spec.n_resources
    controls = Controls.off(b, k, s)
    tier = np.array(spec.static["node_tier"])
    controls.mask[:, tier == "satellite"] = sat_keep
    controls.mask[:, tier == "hap"] = hap_keep
    local = tier == "local"
    controls.mask[:, local] = reports.extra["allowed"][:, local]
    n_users = np.array([n.n_users for n in spec.nodes])
    controls.user[...] = ((np.arange(s)[None, :] + slot) % n_users[:, None])[None]
    controls.power_w[...] = _max_power_w(world)[None, :, None]
    return controls


def test_spec_describes_the_three_tiers() -> None:
    world = _world()
    spec = world.spec
    names = [n.name for n in spec.nodes]
    assert names[:4] == ["sat_0", "sat_1", "hap_0", "hap_1"]
    assert names[4:12] == [f"bs_{i}" for i in range(8)] and names[12:] == [f"uav_{i}" for i in range(4)]
    assert {n.kind for n in spec.nodes} == {"leo", "hap", "gnb", "uav"}
    assert spec.n_resources == 10 and spec.resource_bandwidth_hz == pytest.approx(20e6)
    assert spec.noise_dbm == pytest.approx(-174 + 10 * np.log10(20e6))
    intervals = {n.kind: n.decision_interval_slots for n in spec.nodes}
    assert intervals == {"leo": 50, "hap": 10, "gnb": 1, "uav": 1}
    powers = {n.kind: n.max_power_dbm for n in spec.nodes}
    assert powers == {"leo": 45.0, "hap": 36.0, "gnb": 16.0, "uav": 8.0}
    # 10 users per region: 3 per TBS (2 TBSs) + 4 for the UAV
    static = spec.static
    for region in static["regions"]:
        assert sum(spec.nodes[i].n_users for i in region["nodes"]) == 10
        assert static["parent_hap"][region["nodes"][0]] == region["hap"]
    assert static["reward_weights"] == {
        "spectral_efficiency": 1.5,
        "fairness": 0.5,
        "uav_out_of_region": -1.0,
        "qos_violation": -0.5,
    }
    json.dumps(static)  # JSON-serialisable
    assert type(spec).from_json(spec.to_json()) == spec


def test_report_shapes_and_dtypes() -> None:
    world = _world()
    reports = world.reset([SEED, SEED + 1])
    k, u, s = world.spec.n_nodes, world.spec.n_users_max, world.spec.n_resources
    assert reports.gain.shape == (2, k, u, s, k) and reports.gain.dtype == np.float32
    assert reports.interference_w.shape == (2, k, u, s) and reports.interference_w.dtype == np.float32
    assert reports.active.dtype == bool and reports.user_pos_m.shape == (2, k, u, 3)
    assert reports.extra["allowed"].shape == (2, k, s) and reports.extra["allowed"].dtype == bool
    assert reports.extra["elevation_deg"].shape == (2, k)
    assert reports.extra["out_of_region"].shape == (2, k)
    # padded user slots are empty: no gain, never active
    n_users = np.array([n.n_users for n in world.spec.nodes])
    padded = np.arange(u)[None, :] >= n_users[:, None]
    assert not reports.active[:, padded].any()
    assert np.all(reports.gain[:, padded] == 0.0)


def test_bessel_pattern_half_power_and_first_null() -> None:
    assert bessel_pattern_db(0.0, 38.5, 1.7647) == pytest.approx(38.5)
    half = np.radians(1.7647 / 2)
    assert bessel_pattern_db(half, 38.5, 1.7647) == pytest.approx(38.5 - 3.0103, abs=0.01)
    # first null of J1 at x = 3.8317
    ka = 1.6162941 / np.sin(half)
    assert bessel_pattern_db(np.arcsin(3.8317 / ka), 38.5, 1.7647) < 38.5 - 50.0


def _drive(world: SagWorld, seeds: list[int], n_slots: int) -> tuple[list[Reports], list[Any]]:
    """Run a randomized controller whose draws depend only on (seed, slot)."""
    reports = world.reset(seeds)
    spec = world.spec
    out_r, out_k = [reports], []
    for slot in range(n_slots):
        controls = Controls.off(len(seeds), spec.n_nodes, spec.n_resources)
        for b, seed in enumerate(seeds):
            rng = np.random.default_rng([seed, slot])
            controls.user[b] = rng.integers(-1, spec.n_users_max, size=(spec.n_nodes, spec.n_resources))
            controls.power_w[b] = (
                rng.uniform(0.0, 1.0, size=(spec.n_nodes, spec.n_resources)) * _max_power_w(world)[:, None]
            )
            controls.mask[b] = rng.random((spec.n_nodes, spec.n_resources)) < 0.7
            controls.move_m[b] = rng.normal(0.0, 20.0, size=(spec.n_nodes, 3))
        reports, kpis = world.step(controls)
        out_r.append(reports)
        out_k.append(kpis)
    return out_r, out_k


def test_batch_member_follows_the_single_world_of_its_seed() -> None:
    overrides = {"orbit.start_jitter_s": 300.0, "default_load": 0.75}
    seeds = [11, 12, 13]
    batch_r, batch_k = _drive(_world(load=0.75, overrides=overrides), seeds, 12)
    for b, seed in enumerate(seeds):
        single_r, single_k = _drive(_world(load=0.75, overrides=overrides), [seed], 12)
        for rb, rs in zip(batch_r, single_r, strict=True):
            np.testing.assert_array_equal(rb.gain[b], rs.gain[0])
            np.testing.assert_array_equal(rb.interference_w[b], rs.interference_w[0])
            np.testing.assert_array_equal(rb.node_pos_m[b], rs.node_pos_m[0])
            np.testing.assert_array_equal(rb.active[b], rs.active[0])
            for name in rb.extra:
                np.testing.assert_array_equal(rb.extra[name][b], rs.extra[name][0])
        for kb, ks in zip(batch_k, single_k, strict=True):
            np.testing.assert_array_equal(kb.delivered_bits[b], ks.delivered_bits[0])
            np.testing.assert_array_equal(kb.extra["uav_out_of_region"][b], ks.extra["uav_out_of_region"][0])
    # different seeds give different worlds (the jitter puts them at different orbit times)
    assert not np.array_equal(batch_r[-1].gain[0], batch_r[-1].gain[1])
    assert not np.array_equal(batch_r[-1].node_pos_m[0, 0], batch_r[-1].node_pos_m[1, 0])


def test_same_seed_same_trajectory() -> None:
    first_r, first_k = _drive(_world(), [SEED], 5)
    second_r, second_k = _drive(_world(), [SEED], 5)
    for a, b in zip(first_k, second_k, strict=True):
        np.testing.assert_array_equal(a.delivered_bits, b.delivered_bits)
    np.testing.assert_array_equal(first_r[-1].gain, second_r[-1].gain)


def test_rates_follow_shannon_on_the_reported_genie_channel() -> None:
    world = _world(genie=True, overrides={"orbit.start_s": HIGH_PASS_START_S})
    reports = world.reset([SEED])
    spec = world.spec
    controls = _hierarchical_controls(world, reports, np.arange(10) < 3, np.arange(10) == 3, 0)
    controls.mask[:] = True  # everyone everywhere: every tier interferes with every other
    _, kpis = world.step(controls)
    p = np.where(controls.user[0] >= 0, controls.power_w[0], 0.0).astype(np.float64)  # (K, S)
    gain = reports.gain[0].astype(np.float64)  # (K, U, S, T)
    noise_w = 10 ** ((spec.noise_dbm - 30) / 10)
    slot_bits = spec.resource_bandwidth_hz * spec.slot_s
    expected = np.zeros((spec.n_nodes, spec.n_users_max))
    for k in range(spec.n_nodes):
        for s in range(spec.n_resources):
            u = controls.user[0, k, s]
            received = gain[k, u, s, :] * p[:, s]
            interference = received.sum() - received[k] + noise_w
            expected[k, u] += slot_bits * np.log2(1 + received[k] / interference)
    np.testing.assert_allclose(kpis.delivered_bits[0], expected, rtol=RATE_RTOL, atol=1e-3)
    assert kpis.spectral_efficiency_bps_hz[0] == pytest.approx(expected.sum() / (spec.slot_s * 200e6))
    rate_bps = kpis.delivered_bits[0] / spec.slot_s
    np.testing.assert_array_equal(kpis.qos_violated[0], kpis.active[0] & (rate_bps < 10e6))
    tier_bits = kpis.extra["tier_delivered_bits"][0]
    assert tier_bits.sum() == pytest.approx(expected.sum())


def test_reports_carry_last_slots_channel_unless_genie() -> None:
    genie, delayed = _world(genie=True), _world(genie=False)
    r_genie, r_delayed = genie.reset([SEED]), delayed.reset([SEED])
    off = Controls.off(1, genie.spec.n_nodes, genie.spec.n_resources)
    for _ in range(3):
        previous_genie = r_genie.gain.copy()
        r_genie, _ = genie.step(off)
        r_delayed, _ = delayed.step(off)
        np.testing.assert_array_equal(r_delayed.gain, previous_genie)


def test_satellite_mask_moves_capacity_between_tiers() -> None:
    """Handing subbands from the beam to the HAP's region raises local rates, lowers the beam's."""
    results = {}
    for sat_subbands in (4, 1):
        world = _world(overrides={"orbit.start_s": HIGH_PASS_START_S})
        reports = world.reset([SEED])
        sat_keep = np.arange(10) < sat_subbands
        hap_keep = np.arange(10) == sat_subbands  # one subband right after the beam's
        tier_bits = np.zeros(3)
        for slot in range(20):
            reports, kpis = world.step(_hierarchical_controls(world, reports, sat_keep, hap_keep, slot))
            tier_bits += kpis.extra["tier_delivered_bits"][0]
        results[sat_subbands] = tier_bits
    satellite, _, local = 0, 1, 2
    assert results[1][local] > 1.2 * results[4][local]
    assert results[1][satellite] < 0.5 * results[4][satellite]


def test_allowed_follows_the_parents_masks() -> None:
    world = _world()
    reports = world.reset([SEED])
    static = world.spec.static
    # before any control: the preset's initial split (beam 0-1, HAP 2-3, regions 4-9)
    local = np.array(static["node_tier"]) == "local"
    np.testing.assert_array_equal(reports.extra["allowed"][0, local], np.tile(np.arange(10) >= 4, (12, 1)))
    controls = Controls.off(1, world.spec.n_nodes, 10)
    controls.mask[0, 0] = np.isin(np.arange(10), [0, 5])  # beam 0 keeps 0 and 5
    controls.mask[0, 1] = np.isin(np.arange(10), [1])  # beam 1 keeps 1
    controls.mask[0, 2] = np.isin(np.arange(10), [2, 3])  # HAP 0 keeps 2 and 3
    controls.mask[0, 3] = np.isin(np.arange(10), [9])  # HAP 1 keeps 9
    reports, _ = world.step(controls)
    allowed = reports.extra["allowed"][0]
    assert allowed[:2].all()
    np.testing.assert_array_equal(allowed[2], ~controls.mask[0, 0])
    np.testing.assert_array_equal(allowed[3], ~controls.mask[0, 1])
    for node in np.flatnonzero(local):
        beam, hap = static["parent_beam"][node], static["parent_hap"][node]
        np.testing.assert_array_equal(allowed[node], ~controls.mask[0, beam] & ~controls.mask[0, hap])


def test_satellite_on_a_shared_subband_lowers_local_sinr() -> None:
    world_quiet, world_loud = (
        _world(overrides={"orbit.start_s": HIGH_PASS_START_S}),
        _world(overrides={"orbit.start_s": HIGH_PASS_START_S}),
    )
    r_quiet = world_quiet.reset([SEED])
    world_loud.reset([SEED])
    controls = _hierarchical_controls(world_quiet, r_quiet, np.arange(10) < 2, np.arange(10) == 2, 0)
    loud = controls.copy()
    # beam 0 also transmits on subband 5, which belongs to the regions under HAP 0
    loud.mask[0, 0, 5] = True
    loud.user[0, 0, 5] = 0
    next_quiet, k_quiet = world_quiet.step(controls)
    next_loud, k_loud = world_loud.step(loud)
    region_nodes = [i for r in world_quiet.spec.static["regions"] if r["beam"] == 0 for i in r["nodes"]]
    served = [(k, int(controls.user[0, k, 5])) for k in region_nodes if controls.user[0, k, 5] >= 0]
    assert served
    for k, u in served:
        assert next_loud.interference_w[0, k, u, 5] > next_quiet.interference_w[0, k, u, 5]
        assert next_loud.spectral_efficiency_bps_hz[0, k, u, 5] < next_quiet.spectral_efficiency_bps_hz[0, k, u, 5]
    # the beam's extra transmission cost the region's nodes rate in total
    local_quiet = k_quiet.delivered_bits[0, region_nodes].sum()
    local_loud = k_loud.delivered_bits[0, region_nodes].sum()
    assert local_loud < local_quiet
    # other subbands were untouched
    np.testing.assert_array_equal(next_loud.interference_w[0, :, :, 6], next_quiet.interference_w[0, :, :, 6])


def test_uav_moves_are_clipped_and_leaving_the_region_is_flagged() -> None:
    world = _world()
    reports = world.reset([SEED])
    spec = world.spec
    uav = next(n.node_id for n in spec.nodes if n.name == "uav_0")
    region = spec.static["regions"][spec.static["node_region"][uav]]
    start = reports.node_pos_m[0, uav].copy()
    controls = Controls.off(1, spec.n_nodes, spec.n_resources)
    controls.move_m[0, uav] = (30.0, 40.0, 500.0)  # 50 m asked, 10 m allowed; z ignored
    controls.move_m[0, 0] = (1000.0, 0.0, 0.0)  # a beam cannot move
    reports, kpis = world.step(controls)
    np.testing.assert_allclose(reports.node_pos_m[0, uav] - start, [6.0, 8.0, 0.0], atol=1e-3)
    assert reports.node_pos_m[0, uav, 2] == pytest.approx(100.0)
    controls.move_m[0, uav] = (np.nan, 1.0, 0.0)  # malformed move: no move
    before = reports.node_pos_m[0, uav].copy()
    reports, _ = world.step(controls)
    np.testing.assert_array_equal(reports.node_pos_m[0, uav], before)
    assert not reports.extra["out_of_region"].any() and kpis.extra["uav_out_of_region"][0] == 0
    # fly east until past the region edge, then keep pushing: flagged, held at the flight margin
    controls.move_m[0, uav] = (10.0, 0.0, 0.0)
    east_edge = region["bounds_m"][1][0]
    for _ in range(250):
        reports, kpis = world.step(controls)
    x = reports.node_pos_m[0, uav, 0]
    assert x > east_edge
    assert x == pytest.approx(east_edge + world.scenario.uav.flight_margin_m)
    assert reports.extra["out_of_region"][0, uav]
    assert reports.extra["out_of_region"][0].sum() == 1
    assert kpis.extra["uav_out_of_region"][0] == 1


def test_uav_moving_to_its_hotspot_raises_its_users_gain() -> None:
    world = _world()
    reports = world.reset([SEED])
    spec = world.spec
    uav = next(n.node_id for n in spec.nodes if n.name == "uav_1")
    n_users = spec.nodes[uav].n_users
    target = reports.user_pos_m[0, uav, :n_users, :2].mean(axis=0)
    gain_before = reports.gain[0, uav, :n_users, :, uav].mean()
    controls = Controls.off(1, spec.n_nodes, spec.n_resources)
    for _ in range(150):
        delta = target - reports.node_pos_m[0, uav, :2]
        controls.move_m[0, uav, :2] = delta
        reports, _ = world.step(controls)
    assert np.linalg.norm(reports.node_pos_m[0, uav, :2] - target) < 10.0
    assert reports.gain[0, uav, :n_users, :, uav].mean() > 10.0 * gain_before


def test_satellite_elevation_and_path_loss_change_over_the_pass() -> None:
    # 1 s of orbit per slot: the whole pass (rise, culmination at slot 250, set) in 500 slots
    world = _world(overrides={"orbit.time_scale": 100.0})
    reports = world.reset([SEED])
    off = Controls.off(1, world.spec.n_nodes, world.spec.n_resources)
    elevation = [reports.extra["elevation_deg"][0, 0]]
    own_gain = [reports.gain[0, 0, :, :, 0].mean()]
    positions = [reports.node_pos_m[0, 0]]
    for _ in range(500):
        reports, _ = world.step(off)
        elevation.append(reports.extra["elevation_deg"][0, 0])
        own_gain.append(reports.gain[0, 0, :, :, 0].mean())
        positions.append(reports.node_pos_m[0, 0])
    el = np.array(elevation)
    peak = int(np.argmax(el))
    assert el[peak] > 75.0 and 200 < peak < 300
    assert el[0] < 20.0 and el[-1] < 20.0
    assert np.all(np.diff(el[: peak - 5]) > 0) and np.all(np.diff(el[peak + 5 :]) < 0)
    np.testing.assert_array_equal(reports.extra["elevation_deg"][0, 2:], 0.0)
    # the slant range shrinks ~3x from 10-20 deg to zenith: the beam's gain to its users rises
    gain = np.array(own_gain)
    assert gain[peak - 5 : peak + 5].mean() > 5.0 * gain[1:10].mean()
    assert np.linalg.norm(positions[peak]) < np.linalg.norm(positions[0])


def test_ill_formed_controls_are_off_or_rejected() -> None:
    world = _world(genie=True, overrides={"orbit.start_s": HIGH_PASS_START_S})
    world.reset([SEED])
    spec = world.spec
    bad = Controls.off(1, spec.n_nodes, spec.n_resources + 1)
    with pytest.raises(ValueError, match=r"controls\.user"):
        world.step(bad)
    controls = Controls.off(1, spec.n_nodes, spec.n_resources)
    controls.user[0, 4, 0] = spec.n_users_max + 3  # no such user
    controls.user[0, 4, 1] = 3  # padded slot of a TBS (3 users)
    controls.user[0, 4, 2] = 0
    controls.power_w[0, 4, 2] = -1.0  # negative power
    controls.user[0, 4, 3] = 0
    controls.power_w[0, 4, 3] = np.nan
    controls.power_w[0, 4, :2] = 0.01
    _, kpis = world.step(controls)
    assert kpis.delivered_bits.sum() == 0.0
    assert kpis.qos_violated[0].sum() == kpis.active[0].sum()  # nobody served: all violate
    # power above the maximum is clipped to it
    results = []
    for power_w in (_max_power_w(world)[4], 1e3):
        world = _world(genie=True, overrides={"orbit.start_s": HIGH_PASS_START_S})
        world.reset([SEED])
        controls = Controls.off(1, spec.n_nodes, spec.n_resources)
        controls.user[0, 4, :] = 0
        controls.power_w[0, 4, :] = power_w
        _, kpis = world.step(controls)
        results.append(kpis.delivered_bits[0, 4, 0])
    assert results[0] > 0 and results[0] == pytest.approx(results[1])


def test_load_sets_user_density_and_bad_inputs_fail_clearly() -> None:
    world = _world(load=0.5, overrides={"default_load": 0.5})
    active = np.concatenate([world.reset([s]).active.ravel() for s in range(20)])
    n_users = sum(n.n_users for n in world.spec.nodes)
    assert active.sum() / (20 * n_users) == pytest.approx(0.5, abs=0.05)
    with pytest.raises(ValueError, match="load"):
        _world(load=1.5)
    with pytest.raises(ScenarioError, match="n_subbands"):
        load_scenario("sag", {"spectrum.n_subbands": 0})
    with pytest.raises(ScenarioError, match="initial_split"):
        load_scenario("sag", {"initial_split.satellite_subbands": 8, "initial_split.hap_subbands": 4})
