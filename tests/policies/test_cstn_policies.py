"""Power baselines of the cognitive satellite–terrestrial world (cstn): ARA keeps every
satellite user under I_th with the largest 0.8-step power, switches base stations off when no
power works, and serves the best-satisfied user; average and random power stay in their ranges."""

from __future__ import annotations

from typing import Any

import numpy as np
import pytest

from e2_sim.scenarios import load_scenario
from e2_sim.world import make_world
from e2_sim.world.cstn import CstnWorld
from ntnric.evaluate import evaluate
from ric.protocol import Controls, Reports
from xapps.policies import PolicyError, make_policy
from xapps.policies.satellite import ARA_STEP_FACTOR, AdaptiveResourceAdjustment, RandomPower

CSTN_POLICIES = ("ara", "average-power", "random-power")
#: An I_th at which ARA's base stations, under Rician fading (``MIXED_FADING``), land on every
#: rung of the 0.8 ladder, some fully on and some off: the preset's own I_th (Table 1) [dBW].
MIXED_THRESHOLD_DBW = -123.0
MIXED_FADING = "rician"
#: An I_th below what one antenna at the floor causes at any satellite user [dBW].
UNREACHABLE_THRESHOLD_DBW = -170.0
ARA_SLOTS = 200
#: The world sums float64 gains; the check recomputed from the reports' float32 gains agrees to this.
FLOAT32_RTOL = 2e-6
#: Random power: 300 slots x 9 antennas uniform draws reach within this fraction of both ends.
RANDOM_RANGE_COVERAGE = 0.02
RANDOM_POWER_SLOTS = 300


def _world(overrides: dict[str, Any] | None = None, genie: bool = True) -> CstnWorld:
    world = make_world(load_scenario("cstn", overrides), load=1.0, genie_csi=genie)
    assert isinstance(world, CstnWorld)
    return world


def _ara(world: CstnWorld) -> AdaptiveResourceAdjustment:
    policy = make_policy("ara", world.spec, seed=1)
    assert isinstance(policy, AdaptiveResourceAdjustment)
    return policy


def _reference_ara_scale(
    sat_user_gain: np.ndarray, on: np.ndarray, p_ant_max_w: float, p_ant_min_w: float, threshold_w: float
) -> np.ndarray:
    """The authors' loop, written plainly: per base station in turn, total power from P_max down
    by 0.8 while any satellite user is above I_th; below the floor the base station is off.

    ``sat_user_gain`` (K, J, S), ``on`` (K, S); returns the antenna power factor per base station (K,).
    """
    k_nodes, j_users, s_antennas = sat_user_gain.shape
    decided = [0.0] * j_users
    scale = []
    for k in range(k_nodes):
        factor = 1.0
        chosen = 0.0
        while factor * p_ant_max_w >= p_ant_min_w:
            trial = [
                decided[j]
                + sum(factor * p_ant_max_w * float(sat_user_gain[k, j, s]) for s in range(s_antennas) if on[k, s])
                for j in range(j_users)
            ]
            if max(trial) <= threshold_w * (1.0 - 1e-6):
                chosen = factor
                break
            factor *= ARA_STEP_FACTOR
        for j in range(j_users):
            on_gain = sum(float(sat_user_gain[k, j, s]) for s in range(s_antennas) if on[k, s])
            decided[j] += chosen * p_ant_max_w * on_gain
        scale.append(chosen)
    return np.array(scale)


def _sat_interference_w(reports: Reports, controls: Controls, world: CstnWorld) -> np.ndarray:
    """Σ over every antenna of p·g at each satellite user, from genie reports and the sent controls, (B, J)."""
    p_w = np.where(
        (controls.user >= 0) & (controls.power_w >= world.antenna_min_power_w),
        np.minimum(controls.power_w, world.antenna_max_power_w),
        0.0,
    )
    return np.einsum("bkjs,bks->bj", reports.extra["sat_user_gain"].astype(np.float64), p_w.astype(np.float64))


def test_ara_never_exceeds_the_threshold_and_takes_the_largest_feasible_step() -> None:
    world = _world({"interference_threshold_dbw": MIXED_THRESHOLD_DBW, "fading.kind": MIXED_FADING})
    policy = _ara(world)
    reports = world.reset([3])
    policy.reset(1)
    scales_seen: set[float] = set()
    n_off = n_on = 0
    for _ in range(ARA_SLOTS):
        controls = policy.decide(reports)
        recomputed_w = _sat_interference_w(reports, controls, world)
        # reference: the plain loop over base stations and 0.8 steps
        wanted: np.ndarray = np.any(reports.extra["eligible"] & (reports.queue_bits[..., None] > 0), axis=2)[0]
        expected = _reference_ara_scale(
            reports.extra["sat_user_gain"][0],
            wanted,
            world.antenna_max_power_w,
            world.antenna_min_power_w,
            world.threshold_w,
        )
        sent = np.where(controls.user[0] >= 0, controls.power_w[0], 0.0).max(axis=1) / world.antenna_max_power_w
        np.testing.assert_allclose(sent, expected, rtol=FLOAT32_RTOL)
        reports, kpis = world.step(controls)
        measured_w = kpis.extra["sat_user_interference_w"]
        assert not kpis.extra["sat_user_qos_violated"].any()
        assert np.all(measured_w <= world.threshold_w)
        np.testing.assert_allclose(recomputed_w, measured_w, rtol=FLOAT32_RTOL, atol=1e-30)
        scales_seen.update(np.round(expected, 6).tolist())
        n_off += int((expected == 0).sum())
        n_on += int((expected > 0).sum())
    # the run exercised full power, intermediate steps and switched-off base stations
    assert 1.0 in scales_seen and 0.0 in scales_seen
    assert len(scales_seen - {0.0, 1.0}) >= 3
    assert n_off > 0 and n_on > 0


def test_ara_switches_antennas_off_when_no_power_meets_the_threshold() -> None:
    world = _world({"interference_threshold_dbw": UNREACHABLE_THRESHOLD_DBW})
    policy = _ara(world)
    reports = world.reset([0])
    # even one antenna at the floor is above I_th at some satellite user
    floor_w = world.antenna_min_power_w * reports.extra["sat_user_gain"][0].max(axis=(1, 2))
    assert np.all(floor_w > world.threshold_w)
    for _ in range(5):
        controls = policy.decide(reports)
        assert np.all(controls.user == -1)
        assert np.all(controls.power_w == 0.0)
        reports, kpis = world.step(controls)
        assert np.all(kpis.extra["sat_user_interference_w"] == 0.0)
        assert kpis.delivered_bits.sum() == 0.0


def test_ara_decides_base_stations_in_turn_on_a_constructed_case() -> None:
    """BS 0 fits at 0.8², BS 1 cannot fit next to it (off), BS 2 alone fits at full power."""
    world = _world()
    policy = _ara(world)
    k, s, j = 3, world.n_sectors, world.sat_users.size
    th = world.threshold_w
    p = world.antenna_max_power_w
    gain = np.zeros((1, k, j, s), dtype=np.float32)
    gain[0, 0, 0, :] = 0.5 * th / p  # 3 antennas: 1.5 I_th at full power, 0.96 I_th at 0.64
    gain[0, 1, 0, 0] = 0.5 * th / p  # alone 0.5 I_th; on top of BS 0 too much even at the floor
    gain[0, 2, 1, 0] = 0.9 * th / p  # another satellite user: 0.9 I_th at full power
    on = np.ones((1, k, s), dtype=bool)
    on[0, 1:, 1:] = False
    scale = policy.antenna_scale(gain, on)[0]
    np.testing.assert_allclose(scale, [ARA_STEP_FACTOR**2, 0.0, 1.0])


def test_ara_serves_the_best_satisfied_user_of_each_sector() -> None:
    world = _world({"interference_threshold_dbw": -90.0})
    policy = _ara(world)
    reports = world.reset([0])
    controls = policy.decide(reports)
    on = controls.user[0] >= 0
    assert on.any()
    bits_per_bps = world.scenario.bandwidth_hz * world.scenario.slot_s
    for k, antenna in zip(*np.nonzero(on), strict=True):
        candidates = np.flatnonzero(reports.extra["eligible"][0, k, :, antenna] & (reports.queue_bits[0, k] > 0))
        p_w = float(controls.power_w[0, k, antenna])
        satisfaction = []
        for u in candidates:
            capacity = bits_per_bps * np.log2(
                1 + p_w * float(reports.gain[0, k, u, antenna, k]) / float(reports.interference_w[0, k, u, antenna])
            )
            demand = float(reports.queue_bits[0, k, u])
            satisfaction.append(min(capacity, demand) / demand)
        assert satisfaction[list(candidates).index(controls.user[0, k, antenna])] == pytest.approx(max(satisfaction))


def test_average_and_random_power_stay_in_their_ranges() -> None:
    world = _world(genie=False)
    average = make_policy("average-power", world.spec, seed=1)
    random_power = make_policy("random-power", world.spec, seed=2)
    assert isinstance(random_power, RandomPower)
    p_max, p_min = world.antenna_max_power_w, world.antenna_min_power_w
    assert p_min == pytest.approx(0.1 * p_max)
    assert p_max == pytest.approx(10 ** (world.scenario.bs_max_power_dbw / 10) / 3)  # P_max / 3
    reports = world.reset([0])
    served = reports.extra["eligible"][0].any(axis=1)  # (K, S) sectors with a user
    drawn = []
    for _ in range(RANDOM_POWER_SLOTS):
        a = average.decide(reports)
        r = random_power.decide(reports)
        np.testing.assert_array_equal(a.user[0] >= 0, served)
        np.testing.assert_array_equal(r.user[0] >= 0, served)
        np.testing.assert_allclose(a.power_w[0][served], p_max, rtol=1e-6)
        powers = r.power_w[0][served]
        assert np.all((powers >= np.float32(p_min)) & (powers <= np.float32(p_max)))
        drawn.append(powers)
        reports, kpis = world.step(r)
        assert kpis.delivered_bits.sum() > 0.0  # the world accepted every antenna (none under the floor)
    values = np.concatenate(drawn) / p_max
    assert values.min() < 0.1 + RANDOM_RANGE_COVERAGE * 0.9
    assert values.max() > 1.0 - RANDOM_RANGE_COVERAGE * 0.9


@pytest.mark.parametrize("name", CSTN_POLICIES)
@pytest.mark.parametrize("batch", [1, 2])
def test_controls_shapes_for_batches(name: str, batch: int) -> None:
    probe = _world(genie=False)
    policy = make_policy(name, probe.spec, seed=0)
    world = _world(genie=policy.genie)
    reports = world.reset(list(range(batch)))
    policy.reset(batch)
    controls = policy.decide(reports)
    k, s = world.spec.n_nodes, world.spec.n_resources
    assert controls.user.shape == controls.power_w.shape == controls.mask.shape == (batch, k, s)
    assert controls.move_m.shape == (batch, k, 3)
    assert controls.user.dtype == np.int16 and controls.power_w.dtype == np.float32 and controls.mask.dtype == bool
    world.step(controls)
    if name != "random-power" and batch == 2:  # deterministic: world b of the batch decides as alone
        for b in range(batch):
            single = _world(genie=policy.genie).reset([b])
            alone = make_policy(name, probe.spec, seed=0).decide(single)
            np.testing.assert_array_equal(alone.user[0], controls.user[b])
            np.testing.assert_allclose(alone.power_w[0], controls.power_w[b])


def test_every_policy_runs_100_slots_of_the_preset() -> None:
    result = evaluate("cstn", list(CSTN_POLICIES), slots=100)
    by_name = {r.name: r for r in result.results}
    assert by_name["ara"].genie and not by_name["average-power"].genie
    for r in result.results:
        assert r.kpis["decision_time_us"]["count"] == 100
    # the fixed rules transmit every slot
    assert by_name["average-power"].kpis["throughput_mbps"] > 0.0
    assert by_name["random-power"].kpis["throughput_mbps"] > 0.0


def test_cstn_policies_refuse_other_worlds() -> None:
    srb_spec = make_world(load_scenario("tn-ntn-srb"), load=0.5).spec
    for name in CSTN_POLICIES:
        with pytest.raises(PolicyError, match="does not support 'srb'"):
            make_policy(name, srb_spec)
