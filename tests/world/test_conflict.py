"""The conflict-graph world: the graph of the paper, the collision rule, queues and determinism."""

from __future__ import annotations

import numpy as np
import pytest

from e2_sim.scenarios import load_scenario
from e2_sim.world import make_world
from e2_sim.world.conflict import ConflictWorld, collision_success
from ric.protocol import Controls

SLOT_S = 0.001
# Delays are exact fractions of the slot; float rounding only.
DELAY_TOL_S = 1e-12


def _world(load: float = 0.4) -> ConflictWorld:
    world = make_world(load_scenario("conflict8"), load=load)
    assert isinstance(world, ConflictWorld)
    return world


def _controls(batch: int, user: list[list[int]]) -> Controls:
    """``user[k][s]``: local slot node k schedules on subband s (−1 = nothing), power on."""
    controls = Controls.off(batch, 4, 3)
    controls.user[...] = np.asarray(user, dtype=np.int16)[None]
    controls.power_w[...] = 1e-3
    return controls


def test_graph_and_neighbourhoods_of_the_paper() -> None:
    world = _world()
    static = world.spec.static
    edges = {tuple(e) for e in static["conflict_edges"]}
    assert len(edges) == 8 * 2 + 8
    # Fig. 2 (1-indexed in the paper): scheduling device 1 conflicts with devices 2, 3 and 8
    assert {j for i, j in edges if i == 0} == {1, 2, 7}
    assert (1, 7) in edges and (7, 1) not in edges
    assert static["neighbours"] == [[1, 3], [0, 2], [1, 3], [2, 0]]
    spec = world.spec
    assert (spec.n_nodes, spec.n_users_max, spec.n_resources) == (4, 2, 3)
    assert [n.name for n in spec.nodes] == ["bs_0", "bs_1", "bs_2", "bs_3"]


def test_collision_rule_is_directional() -> None:
    conflict = np.zeros((3, 3), dtype=bool)
    conflict[0, 1] = True  # 0 breaks 1, not the other way round
    scheduled = np.array([[[True], [True], [False]]])
    np.testing.assert_array_equal(collision_success(scheduled, conflict)[0, :, 0], [True, False, False])
    scheduled = np.array([[[False], [True], [True]]])
    np.testing.assert_array_equal(collision_success(scheduled, conflict)[0, :, 0], [False, True, True])


def test_a_device_succeeds_only_without_scheduled_in_neighbours() -> None:
    world = _world(load=50.0)  # every queue holds packets
    world.reset([1])
    # subband 0: devices 0 (node 0) and 2 (node 1); 0 → 2 breaks 2, nothing breaks 0 (its in-edges
    # come from 1, 6, 7). subband 1: devices 1 and 4 do not touch. subband 2: devices 1 and 2
    # break each other (both ways).
    controls = _controls(1, [[0, 1, 1], [0, -1, 0], [-1, 0, -1], [-1, -1, -1]])
    reports, kpis = world.step(controls)
    sent = reports.spectral_efficiency_bps_hz[0]  # (K, U, S): 1 bit/s/Hz per packet sent
    expected = np.zeros((4, 2, 3))
    expected[0, 0, 0] = 1.0  # device 0 on subband 0
    expected[0, 1, 1] = 1.0  # device 1 on subband 1
    expected[2, 0, 1] = 1.0  # device 4 on subband 1
    np.testing.assert_array_equal(sent, expected)
    np.testing.assert_array_equal(kpis.delivered_bits[0], expected.sum(axis=-1) * 1000)
    scheduled = reports.extra["scheduled"][0]
    assert scheduled[1, 0, 0] and scheduled[1, 0, 2] and scheduled[0, 1, 2]
    assert scheduled.sum() == 6


def test_several_clean_subbands_send_several_packets_spread_over_the_slot() -> None:
    world = _world(load=0.0)
    world.reset([0])
    world.queues.arrive(np.array([[3, 0, 0, 0, 0, 0, 0, 0]]), slot=0)  # three packets for device 0
    _, kpis = world.step(_controls(1, [[0, 0, 0], [-1, -1, -1], [-1, -1, -1], [-1, -1, -1]]))
    assert kpis.packet_delays_s is not None
    np.testing.assert_allclose(kpis.packet_delays_s[0], [SLOT_S / 3, 2 * SLOT_S / 3, SLOT_S], atol=DELAY_TOL_S)
    assert kpis.spectral_efficiency_bps_hz[0] == pytest.approx(3 * 1000 / (SLOT_S * 3 * 1e6))


def test_scheduling_an_empty_device_neither_sends_nor_blocks() -> None:
    world = _world(load=0.0)
    world.reset([0])
    world.queues.arrive(np.array([[0, 0, 5, 0, 0, 0, 0, 0]]), slot=0)  # only device 2 has packets
    # device 0 (empty) would break device 2 on subband 0
    reports, kpis = world.step(_controls(1, [[0, -1, -1], [0, -1, -1], [-1, -1, -1], [-1, -1, -1]]))
    assert kpis.delivered_bits[0, 1, 0] == 1000.0
    assert not reports.extra["scheduled"][0, 0, 0, 0]


def test_out_of_range_controls_are_off() -> None:
    world = _world(load=50.0)
    world.reset([0])
    controls = _controls(1, [[2, -5, 0], [0, 0, 0], [-1, -1, -1], [-1, -1, -1]])
    controls.power_w[0, 1] = [0.0, np.nan, -1.0]
    controls.mask[0, 0, 2] = False
    reports, kpis = world.step(controls)
    assert kpis.delivered_bits.sum() == 0.0 and not reports.extra["scheduled"].any()


def test_queues_delays_and_conservation() -> None:
    world = _world(load=0.5)
    reports = world.reset([5])
    rng = np.random.default_rng(3)
    arrived = delivered = 0.0
    for _ in range(300):
        controls = _controls(1, rng.integers(-1, 2, size=(4, 3)).tolist())
        assert reports.queue_packets.sum() * 1000 == reports.queue_bits.sum()
        reports, kpis = world.step(controls)
        arrived += kpis.arrived_bits.sum()
        delivered += kpis.delivered_bits.sum()
        assert kpis.packet_delays_s is not None
        delays = kpis.packet_delays_s[0]
        assert delays.size * 1000 == kpis.delivered_bits.sum()  # whole packets only
        assert np.all(delays > 0.0)
        np.testing.assert_allclose(np.round(delays / SLOT_S * 6), delays / SLOT_S * 6, atol=1e-9)  # k/m slots
    ages = world.queued_packet_ages_s()[0]
    assert arrived == delivered + (ages.size - np.count_nonzero(ages == 0.0)) * 1000
    np.testing.assert_array_equal(reports.gain[0, 0, 0, 0], [1.0, 0.0, 0.0, 1.0])  # node 3's device 7 breaks 0


def test_same_seed_same_trajectory_and_batch_member_equals_single_world() -> None:
    single, batched = _world(), _world()
    r1, rb = single.reset([7]), batched.reset([6, 7])
    rng = np.random.default_rng(0)
    for _ in range(50):
        user = rng.integers(-1, 2, size=(4, 3)).tolist()
        r1, k1 = single.step(_controls(1, user))
        rb, kb = batched.step(_controls(2, user))
        np.testing.assert_array_equal(r1.queue_bits[0], rb.queue_bits[1])
        np.testing.assert_array_equal(r1.spectral_efficiency_bps_hz[0], rb.spectral_efficiency_bps_hz[1])
        assert k1.packet_delays_s is not None and kb.packet_delays_s is not None
        np.testing.assert_array_equal(k1.packet_delays_s[0], kb.packet_delays_s[1])
    assert not np.array_equal(rb.queue_bits[0], rb.queue_bits[1])
