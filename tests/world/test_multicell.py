"""The multi-cell world: layouts, neighbours, SINR and rates, queues, controls, determinism."""

from __future__ import annotations

import math

import numpy as np
import pytest

from e2_sim.channel.pathloss import dbm_to_watt, lte_macro_db
from e2_sim.geometry.layouts import inside_hexagon
from e2_sim.scenarios import ScenarioError, load_scenario
from e2_sim.scenarios.multicell import MulticellScenario
from e2_sim.world import SlotKpis, make_world
from e2_sim.world.multicell import MulticellWorld, multicell_bits
from ric.protocol import Controls, Reports

# Floating-point slack of geometric checks [m].
GEOM_TOL_M = 1e-6
# Relative tolerance between the world's rates and a float64 closed form on the same gains.
RATE_RTOL = 1e-9
NOISE_W = float(dbm_to_watt(-114.0))
P_MAX_W = float(dbm_to_watt(23.0))


def _world(name: str = "hex19", overrides: dict[str, object] | None = None, **kwargs: object) -> MulticellWorld:
    world = make_world(load_scenario(name, overrides), **kwargs)  # type: ignore[arg-type]
    assert isinstance(world, MulticellWorld)
    return world


def _two_links(**kwargs: object) -> MulticellWorld:
    """Two APs with one device each on one subband (the first two cells of the hexagonal grid)."""
    return _world("hex19", {"n_aps": 2, "n_devices": 2, "n_subbands": 1}, **kwargs)


def _controls(world: MulticellWorld, user: np.ndarray, power_w: np.ndarray) -> Controls:
    b = world.batch
    controls = Controls.off(b, world.spec.n_nodes, world.spec.n_resources)
    controls.user[...] = np.broadcast_to(user, controls.user.shape)
    controls.power_w[...] = np.broadcast_to(power_w, controls.power_w.shape)
    return controls


# -- presets and layouts ------------------------------------------------------------------------
def test_hex19_spec_follows_the_preset() -> None:
    world = _world("hex19")
    spec = world.spec
    assert spec.world_kind == "multicell" and spec.slot_s == 0.02
    assert (spec.n_nodes, spec.n_users_max, spec.n_resources) == (19, 3, 3)
    assert spec.resource_bandwidth_hz == 10e6 and spec.noise_dbm == -114.0
    assert [n.name for n in spec.nodes] == [f"bs_{i}" for i in range(19)]
    node = spec.nodes[0]
    assert node.kind == "gnb" and node.max_power_dbm == 23.0 and node.n_users == 3
    assert node.power_levels_dbm == (0.0, 5.75, 11.5, 17.25, 23.0)
    assert spec.static["packet_bits"] == 500_000 and spec.static["sinr_clip_db"] == [-20.0, 30.0]
    assert spec.static["fading_rho"] == pytest.approx(0.6425, abs=5e-5)
    assert spec.static["fitlinq"] == {"eta": 0.7, "eta_bar": 0.5, "c": 10.0, "c_bar": 0.1, "snr_threshold_lin": 1200.0}


def test_hexagonal_layout_geometry() -> None:
    world = _world("hex19")
    layout = world.layout
    sites = layout.site_xy_m
    spacing = math.sqrt(3.0) * 500.0
    assert np.linalg.norm(sites[0]) == 0.0
    np.testing.assert_allclose(np.sort(np.linalg.norm(sites[1:7], axis=1)), spacing)
    dist = np.linalg.norm(sites[:, None] - sites[None], axis=-1) + np.eye(19) * 1e9
    np.testing.assert_allclose(dist.min(axis=1), spacing, rtol=1e-9)  # a hexagonal grid, no gaps
    own = layout.device_xy_m - sites[layout.device_site]
    d = np.linalg.norm(own, axis=1)
    assert np.all((d > 35.0) & (d < 500.0))
    assert np.all(inside_hexagon(own, 0.0, 500.0 + GEOM_TOL_M))
    np.testing.assert_array_equal(layout.devices_per_site, 3)


def test_random19_layout_has_2_to_5_devices_on_their_nearest_ap() -> None:
    world = _world("random19")
    layout = world.layout
    counts = layout.devices_per_site
    assert counts.sum() == 57 and counts.min() >= 2 and counts.max() <= 5
    np.testing.assert_array_equal(layout.distance_m().argmin(axis=0), layout.device_site)
    assert len(np.unique(counts)) > 1  # an irregular network
    spec = world.spec
    assert spec.n_users_max == 5 and [n.n_users for n in spec.nodes] == counts.tolist()
    reports = world.reset([0])
    np.testing.assert_array_equal(reports.active[0].sum(axis=1), counts)
    assert np.all(reports.gain[0][~reports.active[0]] == 0.0)
    assert np.all(reports.queue_bits[0][~reports.active[0]] == 0.0)


def test_random19_seed_2023_is_the_published_deployment() -> None:
    # the authors' generator: AP 1 of Fig. 6b sits at about (947, 223) m, 2–4 devices per AP
    sites = _world("random19").layout.site_xy_m
    np.testing.assert_allclose(sites[1], [947.0, 223.0], atol=1.0)
    np.testing.assert_allclose(sites[18], [1216.0, 277.0], atol=1.0)


def test_bad_scenario_values_give_one_line_errors() -> None:
    with pytest.raises(ScenarioError, match="n_devices"):
        load_scenario("hex19", {"n_devices": 58})
    with pytest.raises(ScenarioError, match="random"):
        load_scenario("hex19", {"layout": "random"})
    with pytest.raises(ScenarioError, match="power_levels_dbm"):
        load_scenario("hex19", {"power_levels_dbm": [30.0]})
    with pytest.raises(ScenarioError, match="fitlinq"):
        load_scenario("hex19", {"fitlinq.c_bar": 0.0})


# -- neighbours ---------------------------------------------------------------------------------
@pytest.mark.parametrize("name", ["hex19", "random19"])
def test_neighbours_follow_the_path_loss_margin_rule(name: str) -> None:
    world = _world(name)
    layout = world.layout
    pathloss = lte_macro_db(layout.distance_m())  # (K, N)
    threshold = world.scenario.neighbour_threshold_db
    expected: list[set[int]] = [set() for _ in range(19)]
    for n, a in enumerate(layout.device_site):
        for k in range(19):
            if k != a and pathloss[k, n] - pathloss[a, n] < threshold:
                expected[a].add(k)
                expected[k].add(a)
    got = world.spec.static["neighbours"]
    assert [set(row) for row in got] == expected
    assert all(row == sorted(row) for row in got)
    assert all(a in got[k] for a in range(19) for k in got[a])  # symmetric


def test_a_wider_margin_gives_more_neighbours() -> None:
    narrow = _world("hex19", {"neighbour_threshold_db": 4.0}).spec.static["neighbours"]
    wide = _world("hex19", {"neighbour_threshold_db": 16.0}).spec.static["neighbours"]
    assert all(set(n) <= set(w) for n, w in zip(narrow, wide, strict=True))
    assert sum(map(len, wide)) > sum(map(len, narrow))


# -- SINR and rate --------------------------------------------------------------------------------
def test_multicell_bits_closed_form_and_clipping() -> None:
    w_hz, t_s = 10e6, 0.02
    signal = np.array([[1e-12, 1e-9, 0.0]])  # (1 device, 3 subbands)
    interference = np.array([[1e-13, 0.0, 5e-13]])
    served = np.array([[True, True, False]])
    total, efficiency, bits = multicell_bits(signal, interference, NOISE_W, served, (-20.0, 30.0), w_hz, t_s)
    sinr0 = 1e-12 / (1e-13 + NOISE_W)
    np.testing.assert_allclose(total, interference + NOISE_W, rtol=1e-12)
    # subband 1 is far above 30 dB: clipped to 1000
    np.testing.assert_allclose(efficiency, [[math.log2(1 + sinr0), math.log2(1001.0), 0.0]], rtol=1e-12)
    assert bits[0] == math.floor((math.log2(1 + sinr0) + math.log2(1001.0)) * w_hz * t_s)
    # a served link below −20 dB still gets log2(1.01)
    tiny = np.array([1e-20])
    _, eff_low, _ = multicell_bits(tiny, tiny, NOISE_W, np.array([True]), (-20.0, 30.0), 1.0, 1.0)
    assert eff_low[0] == pytest.approx(math.log2(1.01))


def test_two_links_rates_match_the_sinr_closed_form() -> None:
    world = _two_links(load=5000.0, genie_csi=True)  # 100 packets a slot: queues never run dry
    reports = world.reset([3])
    p = np.array([[[P_MAX_W], [0.05]]])  # (B, K, S)
    for _ in range(5):
        g = reports.gain[0].astype(np.float64)  # genie: the channel step() will use, (K, U, S, T)
        reports, kpis = world.step(_controls(world, np.zeros((1, 2, 1), np.int16), p))
        for k, other in ((0, 1), (1, 0)):
            interference = p[0, other, 0] * g[k, 0, 0, other] + NOISE_W
            sinr = min(max(p[0, k, 0] * g[k, 0, 0, k] / interference, 0.01), 1000.0)
            expected_bits = math.floor(math.log2(1.0 + sinr) * 10e6 * 0.02)
            assert kpis.delivered_bits[0, k, 0] == expected_bits
            assert reports.interference_w[0, k, 0, 0] == pytest.approx(interference, rel=1e-6)
            assert reports.spectral_efficiency_bps_hz[0, k, 0, 0] == pytest.approx(math.log2(1.0 + sinr), rel=1e-6)
        np.testing.assert_allclose(reports.extra["tx_power_w"][0], p[0], rtol=1e-7)


def test_reports_carry_last_slots_channel_unless_genie() -> None:
    genie, delayed = _two_links(genie_csi=True), _two_links(genie_csi=False)
    g_reports, d_reports = genie.reset([8]), delayed.reset([8])
    off = Controls.off(1, 2, 1)
    for _ in range(4):
        previous, previous_array = g_reports.gain.copy(), g_reports.gain
        g_reports, _ = genie.step(off)
        d_reports, _ = delayed.step(off)
        np.testing.assert_array_equal(d_reports.gain, previous)  # one slot old = genie's of last slot
        np.testing.assert_array_equal(previous_array, previous)  # stepping left the handed-out gains as they were
    assert not np.array_equal(g_reports.gain, d_reports.gain)


def test_an_ap_with_nothing_to_send_stays_silent() -> None:
    world = _two_links(load=0.0)
    world.reset([1])
    reports, kpis = world.step(_controls(world, np.zeros((1, 2, 1), np.int16), np.full((1, 2, 1), P_MAX_W)))
    assert np.all(reports.extra["tx_power_w"] == 0.0)
    np.testing.assert_allclose(reports.interference_w, NOISE_W, rtol=1e-6)
    assert kpis.delivered_bits.sum() == 0.0 and reports.spectral_efficiency_bps_hz.sum() == 0.0


def test_out_of_range_controls_mean_off_and_power_is_clipped() -> None:
    world = _world("random19", load=2000.0)  # 40 packets a slot: every device has packets
    reports = world.reset([2])
    k = world.spec.n_nodes
    user = np.zeros((1, k, 3), np.int16)
    power = np.full((1, k, 3), 10.0)  # way above 23 dBm: clipped
    user[0, 0] = [-1, 5, 4]  # off, beyond U, an inactive slot (node 0 has fewer than 5 devices)
    power[0, 1] = [np.nan, -1.0, 0.0]
    controls = _controls(world, user, power)
    controls.mask[0, 2, 0] = False
    assert world.spec.nodes[0].n_users < 5
    reports, _ = world.step(controls)
    tx = reports.extra["tx_power_w"][0]
    assert np.all(tx[0] == 0.0) and np.all(tx[1] == 0.0) and tx[2, 0] == 0.0
    np.testing.assert_allclose(tx[3:], np.float32(P_MAX_W))
    # only the chosen device of a transmitting node is served; the others of its cell hear it
    efficiency = reports.spectral_efficiency_bps_hz[0]
    assert np.all(efficiency[:2] == 0.0) and efficiency[2, 0, 0] == 0.0
    assert np.all(efficiency[3:, 0] > 0.0) and np.all(efficiency[3:, 1:] == 0.0)
    with pytest.raises(ValueError, match=r"controls\.power_w"):
        short = controls.power_w[:, :, :2]
        world.step(Controls(user=controls.user, power_w=short, mask=controls.mask, move_m=controls.move_m))


# -- queues, KPIs ---------------------------------------------------------------------------------
@pytest.mark.parametrize("buffer_packets", [0, 60])
def test_bits_are_conserved_slot_by_slot(buffer_packets: int) -> None:
    world = _world("hex19", {"buffer_packets": buffer_packets}, load=200.0)
    reports = world.reset([4])
    queued = world.queues.queue_bits.reshape(1, 19, 3).astype(np.float64)  # exact (reports are float32)
    rng = np.random.default_rng(0)
    arrived = delivered = dropped = np.zeros((1, 19, 3))
    for _ in range(60):
        user = rng.integers(-1, 3, size=(1, 19, 3)).astype(np.int16)
        power = rng.uniform(0.0, P_MAX_W, size=(1, 19, 3)).astype(np.float32)
        reports, kpis = world.step(_controls(world, user, power))
        # queue after slot t's arrivals = arrivals up to t − deliveries before t − drops up to t
        arrived = arrived + kpis.arrived_bits
        dropped = dropped + kpis.dropped_bits
        np.testing.assert_array_equal(queued, arrived - delivered - dropped)
        delivered = delivered + kpis.delivered_bits
        assert np.all(kpis.delivered_bits >= 0)
        assert kpis.spectral_efficiency_bps_hz[0] == pytest.approx(kpis.delivered_bits.sum() / (0.02 * 3 * 10e6))
        queued = world.queues.queue_bits.reshape(1, 19, 3).astype(np.float64)
        np.testing.assert_allclose(reports.queue_bits, queued, rtol=1e-7)
    assert delivered.sum() > 0
    assert (dropped.sum() > 0) == (buffer_packets > 0)
    assert world.queues.queue_packets.max() <= (buffer_packets or np.inf)
    np.testing.assert_array_equal(reports.queue_packets, np.ceil(queued / 500_000))


def test_every_packet_is_either_delivered_once_or_still_queued() -> None:
    world = _world("hex19", load=15.0)
    world.reset([6])
    controls = _controls(world, np.arange(3, dtype=np.int16)[None, None, :], np.full((1, 19, 3), P_MAX_W))
    completed, arrived = 0, 0.0
    for _ in range(100):
        _, kpis = world.step(controls)
        assert kpis.packet_delays_s is not None and len(kpis.packet_delays_s) == 1
        delays = kpis.packet_delays_s[0]
        assert np.all(delays > 0.0)
        completed += delays.size
        arrived += kpis.arrived_bits.sum() / 500_000
    ages = world.queued_packet_ages_s()[0]
    assert np.all(ages >= 0.0)
    # queued packets include this slot's arrivals (age 0), not yet in any KPI
    assert completed + ages.size == arrived + np.count_nonzero(ages == 0.0)
    assert completed > 0


def test_qos_violation_is_a_queue_above_50_packets() -> None:
    world = _world("hex19", load=400.0)  # 8 packets a slot per device, nobody served
    off = Controls.off(1, 19, 3)
    reports = world.reset([0])
    for _ in range(8):
        before = reports.queue_packets  # nothing is served: the queue after this slot's service
        reports, kpis = world.step(off)
        np.testing.assert_array_equal(kpis.qos_violated, before > 50)
    assert kpis.qos_violated.any() and not kpis.qos_violated.all() and kpis.qos_checked.all()


# -- determinism ----------------------------------------------------------------------------------
def _trajectory(world: MulticellWorld, seeds: list[int], slots: int) -> list[tuple[Reports, SlotKpis | None]]:
    reports = world.reset(seeds)
    rng = np.random.default_rng(99)
    out: list[tuple[Reports, SlotKpis | None]] = [(reports, None)]
    k, s = world.spec.n_nodes, world.spec.n_resources
    for _ in range(slots):
        user = rng.integers(-1, world.spec.n_users_max, size=(1, k, s)).astype(np.int16)
        power = rng.uniform(0.0, P_MAX_W, size=(1, k, s)).astype(np.float32)
        controls = _controls(world, user, power)
        out.append(world.step(controls))
    return out


def _assert_same_world(a: Reports, b: Reports, ia: int, ib: int) -> None:
    for name in ("gain", "queue_bits", "queue_packets", "interference_w", "spectral_efficiency_bps_hz", "active"):
        np.testing.assert_array_equal(getattr(a, name)[ia], getattr(b, name)[ib], err_msg=name)


def test_same_seed_same_trajectory_and_batch_member_equals_single_world() -> None:
    slots = 25
    single = _trajectory(_world("random19"), [21], slots)
    again = _trajectory(_world("random19"), [21], slots)
    batched = _trajectory(_world("random19"), [20, 21, 22], slots)
    for (rs, ks), (ra, _), (rb, kb) in zip(single, again, batched, strict=True):
        _assert_same_world(rs, ra, 0, 0)
        _assert_same_world(rs, rb, 0, 1)
        if ks is not None and kb is not None:
            assert ks.packet_delays_s is not None and kb.packet_delays_s is not None
            np.testing.assert_array_equal(ks.delivered_bits[0], kb.delivered_bits[1])
            np.testing.assert_array_equal(ks.packet_delays_s[0], kb.packet_delays_s[1])
    other = _trajectory(_world("random19"), [22], 3)
    assert not np.array_equal(other[1][0].gain[0], single[1][0].gain[0])


def test_step_before_reset_and_bad_seeds() -> None:
    world = _two_links()
    with pytest.raises(RuntimeError, match="reset"):
        world.step(Controls.off(1, 2, 1))
    with pytest.raises(ValueError, match="seeds"):
        world.reset([-1])
    with pytest.raises(ValueError, match="load"):
        MulticellWorld(load_scenario("hex19"), load=float("nan"))
    assert isinstance(load_scenario("hex19"), MulticellScenario)
