"""FP and WMMSE: the solvers' monotone objectives, their gain over full power, the two-link
optimum, and the multi-cell policies built on them."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np
import pytest

from ric.protocol import NodeSpec, Reports, WorldSpec
from xapps.policies import PolicyError, make_policy
from xapps.policies.optimizers import fp_power, link_gains, weighted_rate_nats, wmmse_power

NOISE_DBM = -114.0
MAX_POWER_DBM = 23.0
NOISE_W = 10 ** ((NOISE_DBM - 30) / 10)
P_MAX_W = 10 ** ((MAX_POWER_DBM - 30) / 10)
Solver = Callable[..., Any]
SOLVERS: list[Solver] = [fp_power, wmmse_power]

# Monotonicity is exact in exact arithmetic; allow float64 rounding relative to the objective.
MONOTONE_RTOL = 1e-12
# Two-link optimum: grid step over [0, P_max] and how close the solvers must land.
GRID_POINTS = 1001
POWER_TOL_FRACTION = 3.0 / (GRID_POINTS - 1)  # three grid steps, as a fraction of P_max
RATE_TOL_NAT = 1e-6


def hex_sites_m(n_sites: int = 19, radius_m: float = 500.0) -> np.ndarray:
    """AP positions of a 19-cell hexagonal layout (centre, ring 1, ring 2), (K, 2) [m]."""
    isd_m = np.sqrt(3.0) * radius_m
    sites = [np.zeros(2)]
    for ring in (1, 2):
        for side in range(6):
            a0, a1 = np.pi / 3 * side + np.pi / 6, np.pi / 3 * (side + 1) + np.pi / 6
            c0 = ring * isd_m * np.array([np.cos(a0), np.sin(a0)])
            c1 = ring * isd_m * np.array([np.cos(a1), np.sin(a1)])
            sites += [c0 + (c1 - c0) * step / ring for step in range(ring)]
    return np.array(sites[:n_sites])


def multicell_spec(n_users: int = 3, scenario: str = "hex19") -> WorldSpec:
    nodes = tuple(
        NodeSpec(node_id=i, name=f"bs_{i}", kind="gnb", n_users=n_users, n_resources=3, max_power_dbm=MAX_POWER_DBM)
        for i in range(19)
    )
    return WorldSpec(scenario, "multicell", 0.02, n_users, 3, 10e6, NOISE_DBM, nodes)


def multicell_gain(rng: np.random.Generator, batch: int, n_users: int = 3, n_subbands: int = 3) -> np.ndarray:
    """(B, K, U, S, T) gains: 128.1 + 37.6 log10(d/km) path loss on a hex layout x Rayleigh fading."""
    sites = hex_sites_m()
    k = sites.shape[0]
    r_m = rng.uniform(35.0, 450.0, (k, n_users))
    angle = rng.uniform(0.0, 2 * np.pi, (k, n_users))
    devices = sites[:, None, :] + np.stack([r_m * np.cos(angle), r_m * np.sin(angle)], axis=-1)
    distance_m = np.linalg.norm(devices[:, :, None, :] - sites[None, None, :, :], axis=-1)
    path_gain = 10 ** (-(128.1 + 37.6 * np.log10(distance_m / 1000.0)) / 10)  # (K, U, T)
    fading = rng.exponential(1.0, (batch, k, n_users, n_subbands, k))
    return (path_gain[None, :, :, None, :] * fading).astype(np.float32)


def multicell_reports(rng: np.random.Generator, spec: WorldSpec, batch: int, mean_queue: float = 2.0) -> Reports:
    k, u, s = spec.n_nodes, spec.n_users_max, spec.n_resources
    active = np.ones((batch, k, u), dtype=bool)
    if u > 3:  # padded layout: 2..u devices per AP
        active = np.arange(u)[None, None, :] < rng.integers(2, u + 1, (batch, k, 1))
    queue_packets = np.where(active, rng.poisson(mean_queue, (batch, k, u)), 0).astype(np.float32)
    gain = multicell_gain(rng, batch, u, s) * active[..., None, None]
    return Reports(
        slot=0, gain=gain, queue_bits=queue_packets * 5e5, queue_packets=queue_packets,
        interference_w=np.zeros((batch, k, u, s), np.float32),
        spectral_efficiency_bps_hz=np.zeros((batch, k, u, s), np.float32), active=active,
        user_pos_m=np.zeros((batch, k, u, 3), np.float32), node_pos_m=np.zeros((batch, k, 3), np.float32),
    )


def link_problem(seed: int, batch: int = 2) -> tuple[np.ndarray, np.ndarray]:
    """Link gains (B, S, N, N) and queue weights (B, 1, N) of a synthetic hex19 slot."""
    rng = np.random.default_rng(seed)
    gain = link_gains(multicell_gain(rng, batch))
    queue = rng.poisson(2.0, (batch, 1, gain.shape[-1])).astype(np.float64)
    return gain, queue / queue.sum(axis=2, keepdims=True)


@pytest.mark.parametrize("seed", range(4))
def test_wmmse_weighted_mse_never_increases(seed: int) -> None:
    gain, weight = link_problem(seed)
    _, trace = wmmse_power(gain, weight, P_MAX_W, NOISE_W, trace=True)
    assert trace.shape[1:] == gain.shape[:2] and trace.shape[0] >= 3
    steps = np.diff(trace, axis=0)
    assert np.all(steps <= MONOTONE_RTOL * np.abs(trace[:-1]))
    assert np.all(trace[-1] < trace[0])  # it does move


@pytest.mark.parametrize("seed", range(4))
def test_fp_surrogate_never_decreases(seed: int) -> None:
    gain, weight = link_problem(seed)
    _, trace = fp_power(gain, weight, P_MAX_W, NOISE_W, trace=True)
    assert trace.shape[1:] == gain.shape[:2] and trace.shape[0] >= 3
    steps = np.diff(trace, axis=0)
    assert np.all(steps >= -MONOTONE_RTOL * np.abs(trace[:-1]))
    assert np.all(trace[-1] > trace[0])


@pytest.mark.parametrize("solver", SOLVERS)
def test_trace_ends_at_the_returned_powers(solver: Solver) -> None:
    gain, weight = link_problem(7)
    power, trace = solver(gain, weight, P_MAX_W, NOISE_W, trace=True)
    rate = weighted_rate_nats(gain, weight, power, NOISE_W)
    if solver is wmmse_power:  # objective = sum(w) - weighted sum rate with the MMSE receiver
        np.testing.assert_allclose(trace[-1], weight.sum(axis=-1) - rate, rtol=1e-9)
    else:  # surrogate at the final powers never exceeds the rate it lower-bounds
        assert np.all(trace[-1] <= rate * (1 + 1e-12))
    np.testing.assert_array_equal(power, solver(gain, weight, P_MAX_W, NOISE_W))


@pytest.mark.parametrize("solver", SOLVERS)
def test_weighted_sum_rate_beats_full_power_on_every_instance(solver: Solver) -> None:
    for seed in range(30):
        gain, weight = link_problem(100 + seed, batch=1)
        power = solver(gain, weight, P_MAX_W, NOISE_W)
        assert np.all((power >= 0) & (power <= P_MAX_W * (1 + 1e-12)))
        optimized = weighted_rate_nats(gain, weight, power, NOISE_W)
        full = weighted_rate_nats(gain, weight, P_MAX_W, NOISE_W)
        assert np.all(optimized > full), f"seed {100 + seed}: {optimized} vs full power {full}"


@pytest.mark.parametrize("solver", SOLVERS)
def test_zero_weight_links_get_zero_power(solver: Solver) -> None:
    gain, weight = link_problem(3, batch=1)
    weight = weight.copy()
    weight[..., ::4] = 0.0
    power = solver(gain, weight, P_MAX_W, NOISE_W)
    assert np.all(power[..., ::4] == 0.0)
    assert np.all(solver(gain, np.zeros_like(weight), P_MAX_W, NOISE_W) == 0.0)


TWO_LINK_CASES = {
    # (gain [rx, tx] normalized to noise, weights): grid optimum; each has one local maximum
    "weak interference": ([[100.0, 1.0], [2.0, 50.0]], [0.5, 0.5]),  # (P, P)
    "interior first": ([[348.4, 43.8], [0.96, 118.6]], [0.3, 0.7]),  # (0.572 P, P)
    "interior second": ([[20.8, 3.07], [0.294, 12.53]], [0.615, 0.385]),  # (P, 0.399 P)
}


def grid_rate(gain: np.ndarray, weight: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Weighted sum rate on a (GRID_POINTS, GRID_POINTS) grid of (p1, p2) in [0, 1]^2."""
    p = np.linspace(0.0, 1.0, GRID_POINTS)
    p1, p2 = np.meshgrid(p, p, indexing="ij")
    rate = weight[0] * np.log1p(gain[0, 0] * p1 / (gain[0, 1] * p2 + 1.0)) + weight[1] * np.log1p(
        gain[1, 1] * p2 / (gain[1, 0] * p1 + 1.0)
    )
    return np.stack([p1, p2], axis=-1), rate


def grid_local_maxima(rate: np.ndarray) -> np.ndarray:
    """Grid points no lower than any of their (up to 8) neighbours, (count, 2) indices."""
    padded = np.pad(rate, 1, constant_values=-np.inf)
    n0, n1 = rate.shape
    is_max = np.ones(rate.shape, dtype=bool)
    for di in (-1, 0, 1):
        for dj in (-1, 0, 1):
            if di or dj:
                is_max &= rate >= padded[1 + di : 1 + di + n0, 1 + dj : 1 + dj + n1]
    return np.argwhere(is_max)


@pytest.mark.parametrize("solver", SOLVERS)
@pytest.mark.parametrize("case", list(TWO_LINK_CASES))
def test_two_links_reach_the_grid_optimum(solver: Solver, case: str) -> None:
    # FP and WMMSE converge to stationary points; with a single local maximum on the grid the
    # one they reach must be the global optimum, so converge tightly and compare with the grid
    gain, weight = (np.array(x) for x in TWO_LINK_CASES[case])
    points, rate = grid_rate(gain, weight)
    maxima = grid_local_maxima(rate)
    assert len(maxima) == 1, f"instance has {len(maxima)} local maxima"
    best_power = points[tuple(maxima[0])]
    power = solver(gain, weight, 1.0, 1.0, max_iter=20_000, tol=1e-13)
    assert weighted_rate_nats(gain, weight, power, 1.0) >= rate.max() - RATE_TOL_NAT
    np.testing.assert_allclose(power, best_power, atol=POWER_TOL_FRACTION)


@pytest.mark.parametrize("solver", SOLVERS)
def test_strong_interference_switches_the_light_link_off(solver: Solver) -> None:
    # two local maxima, (P, 0) and (0, P); from full power both solvers end at the global one,
    # the heavily weighted link alone at full power
    gain, weight = np.array([[100.0, 80.0], [90.0, 100.0]]), np.array([0.8, 0.2])
    points, rate = grid_rate(gain, weight)
    best_power = points[np.unravel_index(np.argmax(rate), rate.shape)]
    np.testing.assert_array_equal(best_power, [1.0, 0.0])
    power = solver(gain, weight, 1.0, 1.0, max_iter=20_000, tol=1e-13)
    np.testing.assert_allclose(power, best_power, atol=POWER_TOL_FRACTION)
    assert weighted_rate_nats(gain, weight, power, 1.0) >= rate.max() - RATE_TOL_NAT


def test_bad_solver_input_is_a_clear_error() -> None:
    with pytest.raises(ValueError, match="gain must have shape"):
        fp_power(np.ones((2, 3)), 1.0, 1.0, 1.0)
    with pytest.raises(ValueError, match="noise_w must be positive"):
        wmmse_power(np.ones((2, 2)), 1.0, 1.0, 0.0)
    with pytest.raises(ValueError, match="weights must be non-negative"):
        fp_power(np.ones((2, 2)), [-1.0, 1.0], 1.0, 1.0)


def test_link_gains_maps_devices_and_transmitters() -> None:
    rng = np.random.default_rng(0)
    gain = rng.random((2, 4, 3, 2, 4))  # (B, K, U, S, T)
    links = link_gains(gain)
    assert links.shape == (2, 2, 12, 12)
    b, s, k_rx, u_rx, k_tx, u_tx = 1, 1, 2, 1, 3, 2
    assert links[b, s, k_rx * 3 + u_rx, k_tx * 3 + u_tx] == gain[b, k_rx, u_rx, s, k_tx]


@pytest.mark.parametrize("name", ["fp", "wmmse"])
@pytest.mark.parametrize("batch", [1, 4])
def test_policy_controls_follow_the_link_solution(name: str, batch: int) -> None:
    spec = multicell_spec(n_users=5, scenario="random19")
    policy = make_policy(name, spec, seed=0)
    assert policy.genie
    policy.reset(batch)
    reports = multicell_reports(np.random.default_rng(batch), spec, batch)
    controls = policy.decide(reports)
    k, u, s = spec.n_nodes, spec.n_users_max, spec.n_resources
    assert controls.user.shape == controls.power_w.shape == controls.mask.shape == (batch, k, s)
    assert controls.user.dtype == np.int16 and controls.power_w.dtype == np.float32
    on = controls.user >= 0
    assert on.any()
    b_idx, k_idx, s_idx = np.nonzero(on)
    user = controls.user[on]
    assert np.all(reports.active[b_idx, k_idx, user]) and np.all(reports.queue_packets[b_idx, k_idx, user] > 0)
    assert np.all(controls.power_w[~on] == 0.0)
    # each served device gets the power its link got from the solver, and has the largest
    # weighted rate among its AP's devices at the solver's powers
    gain = link_gains(reports.gain)
    queue = reports.queue_packets.reshape(batch, 1, k * u).astype(np.float64)
    weight = np.broadcast_to(queue / queue.sum(axis=2, keepdims=True), (batch, s, k * u))
    p_max = np.broadcast_to(np.where(reports.active, P_MAX_W, 0.0).reshape(batch, 1, k * u), weight.shape)
    solver = fp_power if name == "fp" else wmmse_power
    power = solver(gain, weight, p_max, NOISE_W)
    np.testing.assert_allclose(controls.power_w[on], power[b_idx, s_idx, k_idx * u + user], rtol=1e-6)
    signal = np.diagonal(gain, axis1=2, axis2=3) * power
    sinr = signal / (np.matmul(gain, power[..., None])[..., 0] - signal + NOISE_W)
    contribution = (weight * np.log1p(sinr)).reshape(batch, s, k, u)
    np.testing.assert_allclose(
        contribution[b_idx, s_idx, k_idx, user], contribution.max(axis=3)[b_idx, s_idx, k_idx], rtol=1e-9
    )


@pytest.mark.parametrize("name", ["fp", "wmmse"])
def test_policy_is_silent_without_traffic(name: str) -> None:
    spec = multicell_spec()
    policy = make_policy(name, spec)
    reports = multicell_reports(np.random.default_rng(0), spec, 2, mean_queue=0.0)
    controls = policy.decide(reports)
    assert np.all(controls.user == -1) and np.all(controls.power_w == 0.0)


def test_policies_refuse_other_world_kinds() -> None:
    spec = multicell_spec()
    other = WorldSpec("conflict8", "conflict", 1.0, 2, 3, 1.0, -100.0, spec.nodes[:4])
    for name in ("fp", "wmmse"):
        with pytest.raises(PolicyError, match="does not support 'conflict'"):
            make_policy(name, other)


def test_policies_on_the_multicell_world() -> None:
    # with genie CSI the reported gains are the channel the controls meet, so the link model the
    # optimizers reason with must predict the spectral efficiency the world reports next slot
    pytest.importorskip("e2_sim.world.multicell")
    from e2_sim.scenarios import ScenarioError, load_scenario
    from e2_sim.world import make_world

    try:
        scenario = load_scenario("hex19")
    except ScenarioError as exc:
        pytest.skip(f"hex19 preset not available: {exc}")
    world = make_world(scenario, genie_csi=True)
    k, s = world.spec.n_nodes, world.spec.n_resources
    clip_min, clip_max = 10 ** (np.array(world.spec.static.get("sinr_clip_db", [-20.0, 30.0])) / 10)
    for name in ("fp", "wmmse"):
        policy = make_policy(name, world.spec, seed=1)
        policy.reset(2)
        reports = world.reset([3, 4])
        for _ in range(5):
            controls = policy.decide(reports)
            assert controls.user.shape == (2, k, s)
            served = controls.user >= 0
            b_idx, k_idx, s_idx = np.nonzero(served)
            u_idx = controls.user[served]
            assert np.all(reports.queue_packets[b_idx, k_idx, u_idx] > 0)
            gain = reports.gain[b_idx, k_idx, u_idx, s_idx, :].astype(np.float64)  # (links, T)
            tx_w = np.where(served, controls.power_w, 0.0).transpose(0, 2, 1)[b_idx, s_idx, :]  # (links, T)
            signal = gain[np.arange(len(k_idx)), k_idx] * tx_w[np.arange(len(k_idx)), k_idx]
            sinr = signal / ((gain * tx_w).sum(axis=1) - signal + NOISE_W)
            expected = np.log2(1.0 + np.clip(sinr, clip_min, clip_max))
            reports, _ = world.step(controls)
            reported = reports.spectral_efficiency_bps_hz[b_idx, k_idx, u_idx, s_idx]
            np.testing.assert_allclose(reported, expected, rtol=1e-4)
