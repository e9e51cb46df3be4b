"""The cognitive satellite–terrestrial world (cstn): layout, link budget, interference at the
satellite users, demand/TTL accounting, determinism, power sweep, orbit motion."""

from __future__ import annotations

import itertools
import math
from typing import Any

import numpy as np
import pytest

from e2_sim.geometry.orbit import LeoOrbit
from e2_sim.scenarios import ScenarioError, load_scenario
from e2_sim.scenarios.cstn import CstnScenario
from e2_sim.world import make_world
from e2_sim.world.cstn import CstnWorld
from ric.protocol import Controls, Reports, WorldSpec

#: Reports carry float32 gains; products and sums of them agree with float64 to this.
FLOAT32_RTOL = 2e-6
#: Free-space constant of 32.44 + 20·log10(d/km) + 20·log10(f/MHz), unrounded: 20·log10(4π·10⁹/c) [dB].
FREE_SPACE_KM_MHZ_DB = 20 * math.log10(4 * math.pi * 1e9 / 299_792_458.0)
#: Elevation from the world vs. the orbit module's look angles at the area centre [deg].
ELEVATION_TOL_DEG = 1e-6


def _world(overrides: dict[str, Any] | None = None, load: float = 1.0, genie: bool = False) -> CstnWorld:
    scenario = load_scenario("cstn", overrides)
    assert isinstance(scenario, CstnScenario)
    world = make_world(scenario, load=load, genie_csi=genie)
    assert isinstance(world, CstnWorld)
    return world


def _serve_all(reports: Reports, power_w: float) -> Controls:
    """Every antenna serves its eligible user with the most waiting demand at ``power_w``."""
    eligible = reports.extra["eligible"] & reports.active[..., None]
    score = np.where(eligible, reports.queue_bits[..., None].astype(np.float64) + 1.0, -1.0)
    batch, n_nodes = reports.active.shape[:2]
    controls = Controls.off(batch, n_nodes, eligible.shape[-1])
    on = eligible.any(axis=2)
    controls.user[...] = np.where(on, np.argmax(score, axis=2), -1)
    controls.power_w[...] = np.where(on, power_w, 0.0)
    return controls


def _random_controls(rng: np.random.Generator, batch: int, world: CstnWorld) -> Controls:
    k, s, u = world.n_bs, world.n_sectors, world.u_max
    controls = Controls.off(batch, k, s)
    controls.user[...] = rng.integers(-1, u + 1, size=(batch, k, s))
    controls.power_w[...] = rng.uniform(-0.2, 1.2, size=(batch, k, s)) * world.antenna_max_power_w
    controls.mask[...] = rng.random((batch, k, s)) < 0.9
    return controls


def test_spec_nodes_sectors_and_power_levels() -> None:
    world = _world()
    spec = world.spec
    scenario = world.scenario
    assert spec.world_kind == "cstn" and spec.n_nodes == 3 and spec.n_resources == 3
    assert [n.name for n in spec.nodes] == ["bs_0", "bs_1", "bs_2"]
    assert {n.kind for n in spec.nodes} == {"gnb"}
    assert spec.resource_bandwidth_hz == 500e6 and spec.noise_dbm == pytest.approx(-87.0)
    assert WorldSpec.from_json(spec.to_json()) == spec  # announced at E2 Setup as JSON
    # antenna maximum = 24 dBW / 3 in dBm, L = 4 uniform levels i/4 of it, all above the 0.1 floor
    ant_max_dbm = 24.0 - 10 * math.log10(3) + 30.0
    for node in spec.nodes:
        assert node.max_power_dbm == pytest.approx(ant_max_dbm)
        levels_w = 10 ** ((np.array(node.power_levels_dbm) - 30.0) / 10.0)
        np.testing.assert_allclose(levels_w / levels_w[-1], [0.25, 0.5, 0.75, 1.0])
        assert levels_w.min() >= 0.1 * world.antenna_max_power_w
    # 4 satellite users, 12 terrestrial: every terrestrial user is on one node or unserved
    assert spec.static["sat_users"] == list(scenario.sat_user_indices)
    on_nodes = [i for users in spec.static["node_users"] for i in users]
    assert sorted(on_nodes + spec.static["unserved_users"]) == sorted(set(range(16)) - set(scenario.sat_user_indices))
    assert spec.n_users_max == max(len(users) for users in spec.static["node_users"])
    # each node user is eligible on exactly its own sector, the one facing it
    reports = world.reset([0])
    eligible = reports.extra["eligible"][0]
    assert eligible.shape == (3, spec.n_users_max, 3)
    np.testing.assert_array_equal(eligible.sum(axis=2), reports.active[0].astype(int))
    for k, users in enumerate(spec.static["node_users"]):
        bs = np.array(spec.static["bs_pos_m"][k])
        for u, i in enumerate(users):
            dx, dy = world.user_pos_m[i, :2] - bs[:2]
            azimuth = math.degrees(math.atan2(dy, dx))
            offsets = [abs((azimuth - b + 180.0) % 360.0 - 180.0) for b in (0.0, 120.0, 240.0)]
            assert eligible[k, u, int(np.argmin(offsets))]
            assert math.hypot(dx, dy) <= 10_000.0


def test_report_and_kpi_shapes() -> None:
    world = _world()
    b, k, u, s = 2, 3, world.u_max, 3
    reports = world.reset([1, 2])
    assert reports.gain.shape == (b, k, u, s, k) and reports.gain.dtype == np.float32
    for name in ("queue_bits", "queue_packets"):
        assert getattr(reports, name).shape == (b, k, u)
    assert reports.interference_w.shape == reports.spectral_efficiency_bps_hz.shape == (b, k, u, s)
    assert reports.active.dtype == bool and reports.user_pos_m.shape == (b, k, u, 3)
    assert reports.extra["sat_user_gain"].shape == (b, k, 4, s)
    assert reports.extra["sat_user_interference_w"].shape == (b, k, 4)
    assert reports.extra["demand_by_age_bits"].shape == (b, k, u, 40)
    np.testing.assert_allclose(reports.extra["demand_by_age_bits"].sum(axis=3), reports.queue_bits, rtol=1e-6)
    _, kpis = world.step(_serve_all(reports, world.antenna_max_power_w))
    assert kpis.delivered_bits.shape == (b, k, u) and kpis.spectral_efficiency_bps_hz.shape == (b,)
    assert kpis.extra["sat_user_interference_w"].shape == (b, 4)
    with pytest.raises(ValueError, match=r"controls\.power_w"):
        world.step(
            Controls(
                reports.extra["eligible"][..., 0, :].astype(np.int16),
                np.zeros((b, k, 2)),
                np.ones((b, k, s), bool),
                np.zeros((b, k, 3)),
            )
        )


@pytest.mark.parametrize("exponent", [2.0, 4.0])
def test_gain_is_distance_law_times_sector_pattern_without_fading(exponent: float) -> None:
    """32.44 + 20·lg(f/MHz) + 10·n·lg(d/km): n = 2 the paper's free space, n = 4 the preset's (authors' code)."""
    world = _world({"fading.kind": "none", "bs_path_loss_exponent": exponent})
    reports = world.reset([0])
    gain = reports.extra["sat_user_gain"][0]  # (K, J, S)
    for k in range(3):
        bs = np.array(world.spec.static["bs_pos_m"][k])
        for j, i in enumerate(world.spec.static["sat_users"]):
            delta = world.user_pos_m[i] - bs
            d_km = float(np.linalg.norm(delta)) / 1e3
            azimuth = math.degrees(math.atan2(delta[1], delta[0]))
            for s, boresight in enumerate((0.0, 120.0, 240.0)):
                phi = abs((azimuth - boresight + 180.0) % 360.0 - 180.0)
                pattern_dbi = 20.0 - min(6.0 * (phi / 30.0) ** 2, 20.0)
                loss_db = FREE_SPACE_KM_MHZ_DB + 10 * exponent * math.log10(d_km) + 20 * math.log10(20e3)  # MHz
                assert gain[k, j, s] == pytest.approx(10 ** ((pattern_dbi - loss_db) / 10), rel=FLOAT32_RTOL, abs=0)


def _valid_random_controls(rng: np.random.Generator, reports: Reports, world: CstnWorld) -> Controls:
    """Each antenna with users serves a random one of them at a power in [0.1, 1]·max, or is off."""
    eligible = reports.extra["eligible"] & reports.active[..., None]
    score = np.where(eligible, rng.random(eligible.shape), -1.0)
    on = eligible.any(axis=2) & (rng.random(score.shape[:2] + score.shape[3:]) < 0.8)
    batch, n_nodes = reports.active.shape[:2]
    controls = Controls.off(batch, n_nodes, eligible.shape[-1])
    controls.user[...] = np.where(on, np.argmax(score, axis=2), -1)
    controls.power_w[...] = np.where(on, rng.uniform(0.1, 1.0, on.shape) * world.antenna_max_power_w, 0.0)
    return controls


def test_interference_at_satellite_users_is_the_sum_of_gains_times_powers() -> None:
    world = _world(genie=True)
    rng = np.random.default_rng(3)
    reports = world.reset([5, 6])
    threshold_w = 10 ** (-123.0 / 10)
    for _ in range(5):
        controls = _valid_random_controls(rng, reports, world)
        gain = reports.extra["sat_user_gain"].astype(np.float64)  # (B, K, J, S), the slot's channel
        hand = np.einsum("bks,bkjs->bj", controls.power_w.astype(np.float64), gain)
        next_reports, kpis = world.step(controls)
        measured = kpis.extra["sat_user_interference_w"]
        np.testing.assert_allclose(measured, hand, rtol=FLOAT32_RTOL)
        assert hand.min() > 0.0
        # one slot later the nodes see it; the QoS flag is the comparison with I_th
        np.testing.assert_allclose(next_reports.extra["sat_user_interference_w"][:, 0], measured, rtol=FLOAT32_RTOL)
        np.testing.assert_array_equal(kpis.extra["sat_user_qos_violated"], measured > threshold_w)
        np.testing.assert_array_equal(kpis.extra["interference_violated"], (measured > threshold_w).any(axis=1))
        reports = next_reports


def test_sinr_counts_interference_from_every_antenna_of_every_bs() -> None:
    # satellite silenced so that the interference is base stations plus noise only
    world = _world({"satellite.total_power_dbw": -200.0}, genie=True)
    noise_w = 10 ** (-117.0 / 10)
    pmax = world.antenna_max_power_w
    reports = world.reset([9])
    node_user = int(np.flatnonzero(reports.extra["eligible"][0, 0].any(axis=1))[0])
    sector = int(np.flatnonzero(reports.extra["eligible"][0, 0, node_user])[0])
    alone = Controls.off(1, 3, 3)
    alone.user[0, 0, sector] = node_user
    alone.power_w[0, 0, sector] = pmax
    g = float(reports.gain[0, 0, node_user, sector, 0])
    reports_after, _ = world.step(alone)
    i_alone = float(reports_after.interference_w[0, 0, node_user, sector])
    assert i_alone == pytest.approx(noise_w, rel=FLOAT32_RTOL, abs=0)
    se_alone = float(reports_after.spectral_efficiency_bps_hz[0, 0, node_user, sector])
    assert se_alone == pytest.approx(math.log2(1 + pmax * g / noise_w), rel=1e-5)
    # every antenna of every base station on: own-BS sectors and the other two BSs interfere
    busy = _serve_all(reports_after, pmax)
    busy.user[0, 0, sector] = node_user
    gain_now = reports_after.gain[0].astype(np.float64)  # genie: this slot's channel, (K, U, S, T)
    on = busy.user[0] >= 0
    interference_by_bs = [
        sum(pmax * gain_now[0, node_user, s, t] for s in range(3) if on[t, s] and (t, s) != (0, sector))
        for t in range(3)
    ]
    assert min(interference_by_bs[1:]) > 0.0  # inter-BS interference is there
    reports_busy, _ = world.step(busy)
    i_busy = float(reports_busy.interference_w[0, 0, node_user, sector])
    assert i_busy == pytest.approx(noise_w + sum(interference_by_bs), rel=1e-5, abs=0)
    se_busy = float(reports_busy.spectral_efficiency_bps_hz[0, 0, node_user, sector])
    assert se_busy == pytest.approx(math.log2(1 + pmax * gain_now[0, node_user, sector, 0] / i_busy), rel=1e-5)


def test_satellite_beams_interfere_with_terrestrial_users_as_they_hop() -> None:
    world = _world()
    noise_w = 10 ** (-117.0 / 10)
    reports = world.reset([9])
    measured = []
    for _ in range(8):
        reports, _ = world.step(Controls.off(1, 3, 3))
        measured.append(reports.interference_w[0][reports.active[0]][:, 0])  # base stations silent
    excess_db = 10 * np.log10(np.array(measured) / noise_w)
    assert excess_db.max() > 3.0  # a lit beam over a terrestrial user is well above the noise
    assert np.ptp(excess_db, axis=0).max() > 3.0  # and it comes and goes with the hopping


def test_invalid_control_entries_are_off_and_power_is_clipped() -> None:
    world = _world(genie=True)
    rng = np.random.default_rng(8)
    reports = world.reset([4])
    pmax, pmin = world.antenna_max_power_w, 0.1 * world.antenna_max_power_w
    eligible = reports.extra["eligible"][0]
    n_users = [node.n_users for node in world.spec.nodes]
    for _ in range(10):
        controls = _random_controls(rng, 1, world)
        controls.power_w[0, 0, 0] = np.nan
        controls.power_w[0, 1, 0] = np.inf
        controls.power_w[0, 2, 0] = 0.05 * pmax
        expected = np.zeros((3, 3))
        for k in range(3):
            for s in range(3):
                u, p = int(controls.user[0, k, s]), float(controls.power_w[0, k, s])
                p = min(p, pmax)  # NaN stays NaN
                if 0 <= u < n_users[k] and eligible[k, u, s] and controls.mask[0, k, s] and p >= pmin:
                    expected[k, s] = p
        hand = np.einsum("ks,kjs->j", expected, reports.extra["sat_user_gain"][0].astype(np.float64))
        reports, kpis = world.step(controls)
        np.testing.assert_allclose(kpis.extra["sat_user_interference_w"][0], hand, rtol=FLOAT32_RTOL)
    _, kpis_off = world.step(Controls.off(1, 3, 3))
    assert np.all(kpis_off.extra["sat_user_interference_w"] == 0.0)
    assert np.all(kpis_off.delivered_bits == 0.0)


def test_starved_users_drop_after_ttl_and_bits_are_conserved() -> None:
    world = _world()
    reports = world.reset([12])
    ttl = world.scenario.demand.ttl_slots
    for slot in range(ttl):
        next_reports, kpis = world.step(Controls.off(1, 3, 3))
        if slot < ttl - 1:
            assert not kpis.qos_violated.any() and kpis.dropped_bits.sum() == 0.0
        reports = next_reports
    # slot 0's demand expired at the end of slot TTL − 1, for every active user
    np.testing.assert_array_equal(kpis.qos_violated, kpis.active & (kpis.dropped_bits > 0))
    assert kpis.qos_violated[kpis.active].all()
    # demanded = served + waiting + dropped, slot by slot, under a serving policy:
    # waiting(t+1) = waiting(t) − served(t) − dropped(t) + arrived(t+1)
    history = []
    for _ in range(60):
        next_reports, kpis = world.step(_serve_all(reports, world.antenna_max_power_w))
        history.append((reports.queue_bits.astype(np.float64), kpis))
        reports = next_reports
    for (waiting, kpis), (waiting_next, kpis_next) in itertools.pairwise(history):
        np.testing.assert_allclose(
            waiting - kpis.delivered_bits - kpis.dropped_bits + kpis_next.arrived_bits,
            waiting_next,
            rtol=1e-6,
            atol=1.0,
        )
    assert sum(k.delivered_bits.sum() for _, k in history) > 0
    assert kpis.spectral_efficiency_bps_hz[0] == pytest.approx(kpis.delivered_bits.sum() / (0.002 * 500e6))


def test_same_seed_same_run_and_batch_member_equals_single_world() -> None:
    seeds = [21, 22, 23]
    batch_world = _world()
    singles = [_world() for _ in seeds]
    batch_reports = batch_world.reset(seeds)
    single_reports = [w.reset([s]) for w, s in zip(singles, seeds, strict=True)]
    rng = np.random.default_rng(0)
    for _ in range(40):
        controls = _random_controls(rng, len(seeds), batch_world)
        batch_reports, batch_kpis = batch_world.step(controls)
        for b, world in enumerate(singles):
            one = Controls(
                controls.user[b : b + 1],
                controls.power_w[b : b + 1],
                controls.mask[b : b + 1],
                controls.move_m[b : b + 1],
            )
            single_reports[b], kpis = world.step(one)
            for name in ("gain", "queue_bits", "interference_w", "spectral_efficiency_bps_hz"):
                np.testing.assert_array_equal(getattr(batch_reports, name)[b], getattr(single_reports[b], name)[0])
            for name, value in batch_reports.extra.items():
                np.testing.assert_array_equal(value[b], single_reports[b].extra[name][0])
            np.testing.assert_array_equal(batch_kpis.delivered_bits[b], kpis.delivered_bits[0])
            np.testing.assert_array_equal(
                batch_kpis.extra["sat_user_interference_w"][b], kpis.extra["sat_user_interference_w"][0]
            )
    # and a fresh world with the same seed replays it
    again = _world()
    again_reports = again.reset([seeds[1]])
    first = _world()
    first_reports = first.reset([seeds[1]])
    np.testing.assert_array_equal(again_reports.gain, first_reports.gain)


def test_more_bs_power_raises_throughput_and_satellite_user_interference() -> None:
    results = {}
    for power_dbw in (16.0, 28.0):
        world = _world({"bs_max_power_dbw": power_dbw}, load=3.0)
        reports = world.reset([3])
        delivered, interference = 0.0, []
        for _ in range(150):
            reports, kpis = world.step(_serve_all(reports, world.antenna_max_power_w))
            delivered += kpis.delivered_bits.sum()
            interference.append(kpis.extra["sat_user_interference_w"][0])
        results[power_dbw] = (delivered, np.mean(interference, axis=0))
    assert results[28.0][0] > 1.05 * results[16.0][0]
    # same channel realisation, every antenna 12 dB stronger: interference rises by exactly 12 dB
    np.testing.assert_allclose(10 * np.log10(results[28.0][1] / results[16.0][1]), 12.0, atol=1e-6)


def test_satellite_moves_over_a_run() -> None:
    world = _world({"satellite.start_offset_min_s": -60.0, "satellite.start_offset_max_s": -60.0})
    world.reset([1])
    loss, elevation = [], []
    for _ in range(1000):
        _, kpis = world.step(Controls.off(1, 3, 3))
        loss.append(kpis.extra["sat_user_path_loss_db"][0])
        elevation.append(kpis.extra["sat_elevation_deg"][0])
    loss_db = np.array(loss)
    # 2 s before the culmination the satellite approaches: elevation up, path loss down
    assert elevation[-1] > elevation[0] + 0.5
    assert np.all(loss_db[-1] < loss_db[0] - 0.05)
    sc = world.scenario.satellite
    orbit = LeoOrbit.overhead(
        sc.altitude_m, sc.origin_lat_deg, sc.origin_lon_deg, sc.epoch, inclination_deg=sc.inclination_deg
    )
    # the geometry is refreshed every geometry_update_slots slots and held in between
    held_slot = 999 // sc.geometry_update_slots * sc.geometry_update_slots
    el, _, _ = orbit.look_angles(np.array([-60.0, -60.0 + held_slot * 0.002]), sc.origin_lat_deg, sc.origin_lon_deg)
    np.testing.assert_allclose([elevation[0], elevation[-1]], el, atol=ELEVATION_TOL_DEG)
    assert elevation[held_slot] == elevation[-1] and elevation[held_slot - 1] != elevation[-1]


def test_beam_hopping_lights_four_beams_round_robin() -> None:
    world = _world()
    reports = world.reset([2])
    lit = []
    for _ in range(14):
        lit.append(reports.extra["sat_beam_active"][0, 0])
        reports, kpis = world.step(Controls.off(1, 3, 3))
        np.testing.assert_array_equal(kpis.extra["sat_beam_active"][0], lit[-1])
    lit_arr = np.array(lit)
    assert np.all(lit_arr.sum(axis=1) == 4)
    np.testing.assert_array_equal(lit_arr.sum(axis=0), 8)  # 14 slots × 4 beams over 7 beams
    world_demand = _world({"satellite.hopping_rule": "max_demand"})
    reports = world_demand.reset([2])
    assert reports.extra["sat_beam_active"][0, 0, world_demand.sat_user_beam].all()


def test_bad_scenarios_give_one_line_errors() -> None:
    with pytest.raises(ScenarioError, match="n_power_levels") as info:
        load_scenario("cstn", {"n_power_levels": 12})
    assert "\n" not in str(info.value)
    with pytest.raises(ScenarioError, match=r"satellite\.n_active_beams"):
        load_scenario("cstn", {"satellite.n_active_beams": 9})
    with pytest.raises(ScenarioError, match="sat_user_indices"):
        load_scenario("cstn", {"sat_user_indices": [0, 16]})
    ten_levels = load_scenario("cstn", {"n_power_levels": 10})
    assert isinstance(ten_levels, CstnScenario)
    assert ten_levels.power_level_fractions()[0] == pytest.approx(0.1)
