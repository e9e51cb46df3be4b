"""The TN–NTN SRB world: power rule, eq. (3) rates, QoS counting, CSI timing, presets, determinism."""

from __future__ import annotations

from typing import Any

import numpy as np
import pytest

from e2_sim.channel.pathloss import a2g_db, dbm_to_watt, winner2_db
from e2_sim.scenarios import ScenarioError, load_scenario
from e2_sim.world import make_world
from e2_sim.world.srb import SrbWorld
from ric.protocol import Controls, Reports

# Relative tolerance of float32 channel/rate arithmetic against float64 hand computations.
RATE_RTOL = 1e-5
POWER_RTOL = 1e-6
# Statistical tolerance, in standard errors of the estimated mean.
MEAN_TOL_SIGMAS = 5.0

PRESETS = {"tn-ntn-srb": (80, 10), "tn-ntn-srb-160": (160, 20), "tn-ntn-srb-320": (320, 30)}


def _world(overrides: dict[str, Any] | None = None, genie: bool = False, preset: str = "tn-ntn-srb") -> SrbWorld:
    world = make_world(load_scenario(preset, overrides), genie_csi=genie)
    assert isinstance(world, SrbWorld)
    return world


def _random_controls(reports: Reports, n_resources: int, rng: np.random.Generator) -> Controls:
    b, k, u = reports.active.shape
    controls = Controls.off(b, k, n_resources)
    controls.user[:] = rng.integers(-1, u, size=controls.user.shape)
    controls.power_w[:] = np.where(rng.random(controls.power_w.shape) < 0.8, 1e3, rng.random(controls.power_w.shape))
    controls.mask[:] = rng.random(controls.mask.shape) < 0.95
    return controls


def _first_active(reports: Reports, b: int, k: int) -> int:
    users = np.flatnonzero(reports.active[b, k])
    assert users.size, "the test seed must give node k an active user"
    return int(users[0])


def test_spec_and_report_shapes() -> None:
    world = _world()
    spec = world.spec
    assert [n.name for n in spec.nodes] == ["bs_0", "bs_1", "uav_0"]
    assert [n.kind for n in spec.nodes] == ["gnb", "gnb", "uav"]
    assert spec.n_resources == 80 and spec.n_users_max == 10
    assert spec.resource_bandwidth_hz == pytest.approx(20e6 / 80)
    assert spec.noise_dbm == pytest.approx(-174.0 + 10 * np.log10(250e3))
    assert spec.static["srb_size"] == 40
    assert spec.static["agents_per_node"] == 2
    assert spec.static["qos_min_rate_bps"] == 2e6
    assert spec.nodes[0].max_power_dbm == pytest.approx(46.0 - 10 * np.log10(2))
    reports = world.reset([3, 4])
    b, k, u, s = 2, 3, 10, 80
    expected = {
        "gain": ((b, k, u, s, k), np.float32),
        "queue_bits": ((b, k, u), np.float32),
        "queue_packets": ((b, k, u), np.float32),
        "interference_w": ((b, k, u, s), np.float32),
        "spectral_efficiency_bps_hz": ((b, k, u, s), np.float32),
        "active": ((b, k, u), np.bool_),
        "user_pos_m": ((b, k, u, 3), np.float32),
        "node_pos_m": ((b, k, 3), np.float32),
    }
    for name, (shape, dtype) in expected.items():
        array = getattr(reports, name)
        assert array.shape == shape, name
        assert array.dtype == dtype, name
    assert reports.extra["pathloss_db"].shape == (b, k, u, k)
    assert reports.extra["pathloss_db"].dtype == np.float32
    # inactive user slots carry nothing
    inactive = ~reports.active
    assert np.all(reports.gain[inactive] == 0.0)
    assert np.all(reports.extra["pathloss_db"][inactive] == 0.0)
    assert np.all(reports.gain[reports.active] > 0.0)


def test_power_split_equally_over_srbs_then_over_active_subchannels() -> None:
    world = _world({"users.mode": "fixed"}, preset="tn-ntn-srb")  # load 0.5: users 0..4 active
    reports = world.reset([1])
    assert reports.active[0, :, :5].all() and not reports.active[0, :, 5:].any()
    p_max_w = 10 ** ((46.0 - 30.0) / 10.0)  # 39.81 W per BS
    controls = Controls.off(1, 3, 80)
    # node 0: three subchannels on in SRB 0, one in SRB 1
    controls.user[0, 0, [0, 1, 2]] = [0, 1, 0]
    controls.user[0, 0, 45] = 3
    controls.power_w[0, 0, [0, 1, 2, 45]] = 1e3
    # node 1: SRB 0 has one real transmission capped at 0.1 W and four that do not count
    controls.user[0, 1, :5] = [0, 1, 2, 7, 99]  # user 7 is inactive, 99 is out of range
    controls.power_w[0, 1, :5] = [0.1, np.nan, 1.0, 1.0, 1.0]
    controls.mask[0, 1, 2] = False
    controls.power_w[0, 1, 10] = -1.0
    controls.user[0, 1, 10] = 0
    # node 1, SRB 1: one subchannel asking for more than the node may give
    controls.user[0, 1, 50] = 4
    controls.power_w[0, 1, 50] = 1e6
    # node 2: every subchannel on
    controls.user[0, 2, :] = np.arange(80) % 5
    controls.power_w[0, 2, :] = np.inf
    power = world.transmit_power_w(controls)
    _, kpis = world.step(controls)
    assert np.array_equal(kpis.extra["tx_power_w"], power)
    expected = np.zeros((3, 80))
    expected[0, [0, 1, 2]] = p_max_w / 2 / 3
    expected[0, 45] = p_max_w / 2 / 1
    expected[1, 0] = 0.1
    expected[1, 50] = p_max_w / 2 / 1
    expected[2, :] = p_max_w / 2 / 40
    np.testing.assert_allclose(power[0], expected, rtol=POWER_RTOL)
    assert np.all(power[0].sum(axis=-1) <= p_max_w * (1 + POWER_RTOL))


def test_rate_on_an_interference_free_subchannel_is_w_log2_1_plus_snr() -> None:
    world = _world(genie=True)
    reports = world.reset([5])
    user = _first_active(reports, 0, 0)
    controls = Controls.off(1, 3, 80)
    controls.user[0, 0, 5] = user
    controls.power_w[0, 0, 5] = 1e3
    gain = float(reports.gain[0, 0, user, 5, 0])  # genie: the channel this slot meets
    p_w = 10 ** ((46.0 - 30.0) / 10.0) / 2  # the SRB's whole share on its only active subchannel
    noise_w = 10 ** ((-174.0 + 10 * np.log10(250e3) - 30.0) / 10.0)
    rate_bps = 250e3 * np.log2(1.0 + gain * p_w / noise_w)
    next_reports, kpis = world.step(controls)
    assert kpis.extra["rate_bps"][0, 0, user] == pytest.approx(rate_bps, rel=RATE_RTOL)
    assert kpis.delivered_bits[0, 0, user] == pytest.approx(rate_bps * 0.01, rel=RATE_RTOL)
    assert kpis.delivered_bits.sum() == pytest.approx(rate_bps * 0.01, rel=RATE_RTOL)
    assert kpis.spectral_efficiency_bps_hz[0] == pytest.approx(rate_bps * 0.01 / (0.01 * 20e6), rel=RATE_RTOL)
    # what the user measured in that slot is reported in the next one
    assert next_reports.interference_w[0, 0, user, 5] == pytest.approx(noise_w, rel=RATE_RTOL)
    assert next_reports.spectral_efficiency_bps_hz[0, 0, user, 5] == pytest.approx(rate_bps / 250e3, rel=RATE_RTOL)
    assert np.count_nonzero(next_reports.spectral_efficiency_bps_hz) == 1


def test_rate_under_inter_bs_interference_follows_eq3() -> None:
    world = _world(genie=True)
    reports = world.reset([6])
    u0, u2 = _first_active(reports, 0, 0), _first_active(reports, 0, 2)
    controls = Controls.off(1, 3, 80)
    controls.user[0, 0, 7], controls.user[0, 2, 7] = u0, u2
    controls.user[0, 2, 8] = u2  # a second subchannel in the UAV's SRB 0 halves its power
    controls.power_w[0, :, :] = 1e3
    p_max_w = 10 ** ((46.0 - 30.0) / 10.0)
    p0, p2 = p_max_w / 2, p_max_w / 2 / 2
    noise_w = 10 ** ((-174.0 + 10 * np.log10(250e3) - 30.0) / 10.0)
    g = reports.gain[0].astype(np.float64)
    sinr0 = g[0, u0, 7, 0] * p0 / (g[0, u0, 7, 2] * p2 + noise_w)
    sinr2_7 = g[2, u2, 7, 2] * p2 / (g[2, u2, 7, 0] * p0 + noise_w)
    sinr2_8 = g[2, u2, 8, 2] * p2 / noise_w
    _, kpis = world.step(controls)
    rates = kpis.extra["rate_bps"][0]
    assert rates[0, u0] == pytest.approx(250e3 * np.log2(1 + sinr0), rel=RATE_RTOL)
    assert rates[2, u2] == pytest.approx(250e3 * (np.log2(1 + sinr2_7) + np.log2(1 + sinr2_8)), rel=RATE_RTOL)


def test_qos_violation_is_an_active_user_below_the_minimum_rate() -> None:
    world = _world(genie=True)
    reports = world.reset([8])
    active = reports.active[0]
    # nothing transmitted: every active user misses 2 Mbps
    _, kpis = world.step(Controls.off(1, 3, 80))
    assert np.array_equal(kpis.qos_checked[0], active)
    assert np.array_equal(kpis.qos_violated[0], active)
    # all of node 0's subchannels to one user: only that user can meet its minimum
    reports2 = world.step(Controls.off(1, 3, 80))[0]
    user = _first_active(reports2, 0, 0)
    controls = Controls.off(1, 3, 80)
    controls.user[0, 0, :] = user
    controls.power_w[0, 0, :] = 1e3
    _, kpis = world.step(controls)
    rate = kpis.extra["rate_bps"][0, 0, user]
    assert rate > 2e6
    violated = kpis.qos_violated[0]
    assert not violated[0, user]
    assert int(violated.sum()) == int(reports2.active.sum()) - 1
    assert np.array_equal(violated, kpis.active[0] & (kpis.extra["rate_bps"][0] < 2e6))


def test_reported_csi_is_one_slot_old_unless_genie() -> None:
    delayed, genie = _world(), _world(genie=True)
    r_delayed, r_genie = delayed.reset([9]), genie.reset([9])
    off = Controls.off(1, 3, 80)
    for _ in range(5):
        previous_genie = r_genie.gain
        r_delayed, _ = delayed.step(off)
        r_genie, _ = genie.step(off)
        np.testing.assert_array_equal(r_delayed.gain, previous_genie)
    assert not np.array_equal(r_genie.gain, r_delayed.gain)


def test_pathloss_follows_winner2_for_gnbs_and_air_to_ground_for_the_uav() -> None:
    world = _world()
    reports = world.reset([12, 13])
    active = reports.active
    pos = reports.user_pos_m.astype(np.float64)
    nodes = world.node_pos_m
    d3 = np.linalg.norm(pos[:, :, :, None, :] - nodes, axis=-1)  # (B, K, U, T)
    pl = reports.extra["pathloss_db"].astype(np.float64)
    tn = winner2_db(np.maximum(d3[..., :2], 50.0), 25.0, 2e9, "C2_nlos")
    np.testing.assert_allclose(pl[..., :2][active], tn[active], rtol=1e-5)
    los_db = a2g_db(d3[..., 2], 2e9, True, "urban")
    nlos_db = a2g_db(d3[..., 2], 2e9, False, "urban")
    is_los = np.isclose(pl[..., 2], los_db, rtol=1e-5)
    assert np.all((is_los | np.isclose(pl[..., 2], nlos_db, rtol=1e-5))[active])
    assert is_los[active].any() and (~is_los[active]).any()
    # a LoS UAV link has no small-scale fading: the same gain on every subchannel, = 10^(−PL/10)
    gain_uav = reports.gain[..., 2].astype(np.float64)  # (B, K, U, S)
    los_active = is_los & active
    expected = np.broadcast_to(np.power(10.0, -pl[..., 2][los_active] / 10.0)[:, None], gain_uav[los_active].shape)
    np.testing.assert_allclose(gain_uav[los_active], expected, rtol=1e-5)
    # a terrestrial link fades (Rayleigh): its gain varies over subchannels around the path loss
    gain_tn = reports.gain[..., 0][active].astype(np.float64)
    ratio = gain_tn / np.power(10.0, -pl[..., 0][active] / 10.0)[:, None]
    assert ratio.std(axis=-1).min() > 0.0
    assert 0.8 < ratio.mean() < 1.2  # E|h|² = 1 over ~400 draws


def test_same_seed_same_run_and_batch_member_equals_single_world() -> None:
    overrides = {"users.episode_slots": 20}
    batch, single, again = _world(overrides), _world(overrides), _world(overrides)
    seeds = [21, 22, 23]
    r_batch, r_single, r_again = batch.reset(seeds), single.reset([22]), again.reset([22])
    rng = np.random.default_rng(0)
    for _ in range(45):  # crosses two population redraws
        controls = _random_controls(r_batch, 80, rng)
        one = Controls(
            user=controls.user[1:2].copy(),
            power_w=controls.power_w[1:2].copy(),
            mask=controls.mask[1:2].copy(),
            move_m=controls.move_m[1:2].copy(),
        )
        r_batch, k_batch = batch.step(controls)
        r_single, k_single = single.step(one)
        r_again, k_again = again.step(one.copy())
        for name in ("gain", "interference_w", "spectral_efficiency_bps_hz", "active", "user_pos_m"):
            np.testing.assert_array_equal(getattr(r_batch, name)[1], getattr(r_single, name)[0], err_msg=name)
            np.testing.assert_array_equal(getattr(r_again, name), getattr(r_single, name), err_msg=name)
        np.testing.assert_array_equal(r_batch.extra["pathloss_db"][1], r_single.extra["pathloss_db"][0])
        np.testing.assert_array_equal(k_batch.delivered_bits[1], k_single.delivered_bits[0])
        np.testing.assert_array_equal(k_batch.qos_violated[1], k_single.qos_violated[0])
        np.testing.assert_array_equal(k_again.delivered_bits, k_single.delivered_bits)
    assert not np.array_equal(r_batch.active[0], r_batch.active[1]) or not np.array_equal(
        r_batch.user_pos_m[0], r_batch.user_pos_m[1]
    )


def test_dynamic_mode_batch_member_equals_single_world() -> None:
    overrides = {"users.mode": "dynamic", "users.speed_mps": 1.0, "users.mean_holding_s": 0.5}
    scenario = load_scenario("tn-ntn-srb", overrides)
    assert scenario.load_unit == "user arrivals per minute per BS"
    batch = SrbWorld(scenario, load=600.0)  # 10 arrivals per second per BS, 0.5 s stays
    single = SrbWorld(scenario, load=600.0)
    r_batch, r_single = batch.reset([31, 32]), single.reset([32])
    rng = np.random.default_rng(1)
    counts = []
    for _ in range(60):
        controls = _random_controls(r_batch, 80, rng)
        one = Controls(
            user=controls.user[1:], power_w=controls.power_w[1:], mask=controls.mask[1:], move_m=controls.move_m[1:]
        )
        r_batch, k_batch = batch.step(controls)
        r_single, k_single = single.step(one)
        np.testing.assert_array_equal(r_batch.gain[1], r_single.gain[0])
        np.testing.assert_array_equal(r_batch.user_pos_m[1], r_single.user_pos_m[0])
        np.testing.assert_array_equal(k_batch.delivered_bits[1], k_single.delivered_bits[0])
        counts.append(k_single.extra["n_active_users"][0].copy())
    assert len({tuple(c) for c in counts}) > 1  # users came and went


def test_episode_mode_redraws_users_every_episode() -> None:
    world = _world({"users.episode_slots": 10})
    reports = world.reset([40])
    off = Controls.off(1, 3, 80)
    positions = [reports.user_pos_m.copy()]
    for _ in range(10):
        reports, _ = world.step(off)
        positions.append(reports.user_pos_m.copy())
    assert all(np.array_equal(p, positions[0]) for p in positions[1:10])  # static within the episode
    assert not np.array_equal(positions[10], positions[0])  # a new population at slot 10


@pytest.mark.parametrize("preset", sorted(PRESETS))
def test_each_preset_loads_and_runs(preset: str) -> None:
    n_subchannels, k_max = PRESETS[preset]
    scenario = load_scenario(preset)
    world = make_world(scenario)
    assert world.spec.n_resources == n_subchannels
    assert world.spec.n_users_max == k_max
    assert world.spec.static["agents_per_node"] == n_subchannels // 40
    reports = world.reset([1, 2])
    rng = np.random.default_rng(2)
    for _ in range(3):
        controls = _random_controls(reports, n_subchannels, rng)
        reports, kpis = world.step(controls)
        assert np.all(np.isfinite(kpis.delivered_bits)) and np.all(kpis.delivered_bits >= 0.0)
        total_w = kpis.extra["tx_power_w"].sum(axis=-1)
        assert np.all(total_w <= dbm_to_watt(46.0) * (1 + POWER_RTOL))
        assert np.all(np.isfinite(reports.interference_w))
    mean_active = reports.active.sum(axis=-1).mean()
    assert 0 < mean_active <= k_max


def test_malformed_controls_are_a_clear_error() -> None:
    world = _world()
    world.reset([0])
    controls = Controls.off(1, 3, 79)
    with pytest.raises(ValueError, match=r"controls\.user has shape"):
        world.step(controls)
    controls = Controls.off(1, 3, 80)
    controls.user = controls.user.astype(np.float32)
    with pytest.raises(ValueError, match="must hold integers"):
        world.step(controls)


def test_bad_scenarios_are_one_line_errors() -> None:
    with pytest.raises(ScenarioError, match="not a multiple of srb_size") as err:
        load_scenario("tn-ntn-srb", {"n_subchannels": 100})
    assert "\n" not in str(err.value)
    with pytest.raises(ScenarioError, match="must be uav_<index>"):
        load_scenario(
            "tn-ntn-srb",
            {
                "nodes": [
                    {
                        "name": "bs_0",
                        "kind": "uav",
                        "position_m": [0, 0, 100],
                        "max_power_dbm": 46,
                        "user_area_m": [[0, 1], [0, 1]],
                    }
                ]
            },
        )
    with pytest.raises(ScenarioError, match="leaves the area"):
        load_scenario("tn-ntn-srb", {"area_m": [400.0, 400.0]})
    with pytest.raises(ValueError, match="load must be"):
        SrbWorld(load_scenario("tn-ntn-srb"), load=float("nan"))


def test_episode_population_has_half_kmax_users_per_bs_on_average() -> None:
    world = _world({"users.episode_slots": 1})  # a new Poisson(0.5·K_max) draw every slot
    world.reset([50, 51])
    off = Controls.off(2, 3, 80)
    counts = np.array([world.step(off)[1].extra["n_active_users"] for _ in range(300)], dtype=np.float64)
    tol = MEAN_TOL_SIGMAS * counts.std() / np.sqrt(counts.size)
    truncation = 0.0222  # E[Poisson(5)] − E[min(Poisson(5), 10)]
    assert abs(counts.mean() - 0.5 * 10) < tol + truncation
