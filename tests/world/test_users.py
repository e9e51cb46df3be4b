"""The batched user population: Poisson episodes, M/M/∞ arrivals and departures, random walk."""

from __future__ import annotations

import numpy as np
import pytest
from scipy import stats

from e2_sim.geometry.users import UserPopulation

# Statistical tolerances, in standard errors of the estimated quantity.
MEAN_TOL_SIGMAS = 5.0
# Significance level below which a Kolmogorov–Smirnov test rejects the fitted distribution.
KS_ALPHA = 1e-3
# Floating-point slack for geometric checks [m].
GEOM_TOL_M = 1e-9

AREAS_M = [[[0.0, 500.0], [0.0, 500.0]], [[500.0, 1000.0], [0.0, 500.0]], [[250.0, 750.0], [500.0, 1000.0]]]


def _rngs(seeds: list[int]) -> list[np.random.Generator]:
    return [np.random.default_rng(s) for s in seeds]


def test_episode_active_count_is_poisson_half_kmax() -> None:
    k_max = 10
    pop = UserPopulation(AREAS_M, k_max, "episode", 1.5, mean_active=0.5 * k_max)
    pop.reset(_rngs([1, 2, 3, 4]))
    areas = np.asarray(AREAS_M)[None, :, None]  # (1, G, 1, 2, 2)
    counts = []
    occupancy = np.zeros(k_max)
    for _ in range(500):
        pop.new_episode()
        counts.append(pop.counts())
        occupancy += pop.active.sum(axis=(0, 1))
        xy = pop.pos_m[..., :2]
        inside = (xy >= areas[..., 0]) & (xy <= areas[..., 1])
        assert inside.all()
    samples = np.concatenate([c.ravel() for c in counts]).astype(np.float64)
    # Poisson(5) truncated at K_max = 10: the exact mean is E[min(N, 10)]
    n = np.arange(k_max + 1)
    pmf = stats.poisson.pmf(n, 0.5 * k_max)
    truncated_mean = float(np.sum(np.minimum(n, k_max) * pmf) + k_max * stats.poisson.sf(k_max, 0.5 * k_max))
    tol = MEAN_TOL_SIGMAS * samples.std() / np.sqrt(samples.size)
    assert abs(samples.mean() - truncated_mean) < tol
    assert abs(samples.mean() - 0.5 * k_max) < tol + (0.5 * k_max - truncated_mean)
    # variance of a Poisson equals its mean (up to the truncation)
    assert abs(samples.var() - 0.5 * k_max) < 0.1 * 0.5 * k_max
    # which slots are active is uniform over the slots (a policy cannot rely on slot order)
    share = occupancy / occupancy.sum()
    assert np.all(np.abs(share - 1.0 / k_max) < 0.1 / k_max)


def test_episode_positions_uniform_in_each_area() -> None:
    pop = UserPopulation(AREAS_M, 10, "episode", 1.5, mean_active=5.0)
    pop.reset(_rngs([7]))
    xs = []
    for _ in range(300):
        pop.new_episode()
        xs.append(pop.pos_m[0, 2][pop.active[0, 2]])
    pos = np.concatenate(xs)
    assert np.all(pos[:, 2] == 1.5)
    # group 2's area is x in [250, 750], y in [500, 1000]: uniform on each side
    assert stats.kstest((pos[:, 0] - 250.0) / 500.0, "uniform").pvalue > KS_ALPHA
    assert stats.kstest((pos[:, 1] - 500.0) / 500.0, "uniform").pvalue > KS_ALPHA


def test_fixed_population_is_the_same_in_every_world_and_episode() -> None:
    pop = UserPopulation(AREAS_M, 6, "fixed", 1.5, mean_active=4.0, deployment_seed=11)
    pop.reset(_rngs([1, 2]))
    first = pop.pos_m.copy()
    assert np.array_equal(pop.counts(), np.full((2, 3), 4))
    assert np.array_equal(first[0], first[1])
    pop.new_episode()
    assert np.array_equal(pop.pos_m, first)
    other = UserPopulation(AREAS_M, 6, "fixed", 1.5, mean_active=4.0, deployment_seed=12)
    other.reset(_rngs([1]))
    assert not np.array_equal(other.pos_m[0], first[0])


def test_holding_times_are_exponential_with_the_configured_mean() -> None:
    mean_hold_s, dt_s, rate_per_min = 3.0, 0.01, 600.0
    pop = UserPopulation(
        AREAS_M[:2], 200, "dynamic", 1.5, arrival_rate_per_min=rate_per_min, mean_holding_s=mean_hold_s
    )
    pop.reset(_rngs([5]))
    drawn: list[np.ndarray] = []
    arrived_at: dict[tuple[int, int], float] = {}
    stays: list[float] = []
    was_active = pop.active.copy()
    steps = 2500
    for _ in range(steps):
        pop.step(dt_s)
        left = was_active & ~pop.active
        for g, u in zip(*np.nonzero(left[0]), strict=True):
            stays.append(pop.time_s - arrived_at.pop((int(g), int(u))))
        new = pop.renewed[0]
        drawn.append((pop.departure_s[0] - pop.arrival_s[0])[new])
        for g, u in zip(*np.nonzero(new), strict=True):
            arrived_at[(int(g), int(u))] = pop.time_s
        was_active = pop.active.copy()
    holds = np.concatenate(drawn)
    assert stats.kstest(holds, "expon", args=(0.0, mean_hold_s)).pvalue > KS_ALPHA
    # arrivals: Poisson with the configured rate per group
    expected = rate_per_min / 60.0 * steps * dt_s * 2
    assert abs(pop.arrivals.sum() - expected) < MEAN_TOL_SIGMAS * np.sqrt(expected)
    assert pop.blocked.sum() == 0
    # realised stays are the holding times rounded up to the slot grid
    realised = np.asarray(stays)
    tol = MEAN_TOL_SIGMAS * realised.std() / np.sqrt(realised.size)
    assert abs(realised.mean() - (mean_hold_s + dt_s / 2)) < tol


def test_stationary_start_holds_the_mm_infinity_mean() -> None:
    rate_per_min, mean_hold_s = 5.0, 180.0  # paper's busiest flexibility setting: 15 users on average
    pop = UserPopulation(
        AREAS_M, 60, "dynamic", 1.5, arrival_rate_per_min=rate_per_min, mean_holding_s=mean_hold_s, initial="stationary"
    )
    pop.reset(_rngs(list(range(100))))
    counts = pop.counts().ravel().astype(np.float64)
    expected = rate_per_min / 60.0 * mean_hold_s
    assert abs(counts.mean() - expected) < MEAN_TOL_SIGMAS * np.sqrt(expected / counts.size)
    empty = UserPopulation(AREAS_M, 60, "dynamic", 1.5, arrival_rate_per_min=rate_per_min, initial="empty")
    empty.reset(_rngs([1]))
    assert not empty.active.any()


def test_arrivals_beyond_the_slots_are_blocked() -> None:
    pop = UserPopulation(AREAS_M[:1], 2, "dynamic", 1.5, arrival_rate_per_min=6000.0, mean_holding_s=60.0)
    pop.reset(_rngs([3]))
    for _ in range(200):
        pop.step(0.01)
        assert pop.counts().max() <= 2
    assert pop.counts()[0, 0] == 2
    assert pop.blocked[0, 0] > 0
    assert pop.arrivals[0, 0] == pop.blocked[0, 0] + 2


def test_random_walk_stays_inside_and_moves_at_the_configured_speed() -> None:
    speed_mps, dt_s = 1.0, 0.5
    small = [[[0.0, 20.0], [0.0, 10.0]], [[100.0, 130.0], [50.0, 60.0]]]
    pop = UserPopulation(small, 8, "fixed", 1.5, mean_active=8.0, speed_mps=speed_mps, turn_interval_s=5.0)
    pop.reset(_rngs([9]))
    lo = np.asarray(small)[None, :, None, :, 0]
    hi = np.asarray(small)[None, :, None, :, 1]
    step_lengths = []
    along_heading = []
    prev = pop.pos_m[..., :2].copy()
    seen_lo, seen_hi = prev.min(axis=(0, 2)), prev.max(axis=(0, 2))  # (G, 2)
    for _ in range(1000):
        heading_before = pop.heading_rad.copy()
        pop.step(dt_s)
        xy = pop.pos_m[..., :2]
        assert np.all(xy >= lo - GEOM_TOL_M) and np.all(xy <= hi + GEOM_TOL_M)
        delta = xy - prev
        step_lengths.append(np.linalg.norm(delta, axis=-1).ravel())
        # a step that neither turned nor met a wall goes speed·dt along the heading it had
        unchanged = pop.heading_rad == heading_before
        expected = speed_mps * dt_s * np.stack([np.cos(heading_before), np.sin(heading_before)], axis=-1)
        along_heading.append(np.abs(delta - expected).max(axis=-1)[unchanged])
        prev = xy.copy()
        seen_lo, seen_hi = np.minimum(seen_lo, xy.min(axis=(0, 2))), np.maximum(seen_hi, xy.max(axis=(0, 2)))
    lengths = np.concatenate(step_lengths)
    assert lengths.max() <= speed_mps * dt_s + GEOM_TOL_M
    # away from walls every step is exactly speed·dt; a reflection shortens only the chord
    exact = np.isclose(lengths, speed_mps * dt_s, atol=GEOM_TOL_M)
    assert exact.mean() > 0.8
    deviations = np.concatenate(along_heading)
    assert deviations.size > 0.8 * lengths.size
    assert deviations.max() < GEOM_TOL_M
    # the users' walks cover their areas, edge to edge
    sides = hi[0, :, 0] - lo[0, :, 0]  # (G, 2)
    assert np.all(seen_hi - seen_lo > 0.9 * sides)


def test_batch_member_follows_the_single_world() -> None:
    kwargs = dict(arrival_rate_per_min=300.0, mean_holding_s=2.0, speed_mps=1.0, turn_interval_s=0.3)
    batch = UserPopulation(AREAS_M, 5, "dynamic", 1.5, initial="stationary", **kwargs)  # type: ignore[arg-type]
    single = UserPopulation(AREAS_M, 5, "dynamic", 1.5, initial="stationary", **kwargs)  # type: ignore[arg-type]
    batch.reset(_rngs([10, 11, 12]))
    single.reset(_rngs([11]))
    for _ in range(300):
        batch.step(0.01)
        single.step(0.01)
        assert np.array_equal(batch.active[1], single.active[0])
        assert np.array_equal(batch.pos_m[1], single.pos_m[0])
        assert np.array_equal(batch.departure_s[1], single.departure_s[0])
    assert batch.arrivals[1].sum() > 0


@pytest.mark.parametrize(
    ("args", "kwargs", "message"),
    [
        (([[0.0, 1.0]], 3, "episode", 1.5), {}, "areas_m"),
        (([[[0.0, 1.0], [1.0, 0.0]]], 3, "episode", 1.5), {}, "x_min < x_max"),
        ((AREAS_M, 3, "poisson", 1.5), {}, "mode"),
        ((AREAS_M, 3, "dynamic", 1.5), {"arrival_rate_per_min": -1.0}, "arrival_rate_per_min"),
        ((AREAS_M, 0, "episode", 1.5), {}, "n_slots"),
    ],
)
def test_bad_input_is_a_clear_error(args: tuple, kwargs: dict, message: str) -> None:
    with pytest.raises(ValueError, match=message):
        UserPopulation(*args, **kwargs)


def test_walk_step_longer_than_the_area_is_refused() -> None:
    pop = UserPopulation([[[0.0, 1.0], [0.0, 1.0]]], 2, "fixed", 1.5, mean_active=2.0, speed_mps=5.0)
    pop.reset(_rngs([0]))
    with pytest.raises(ValueError, match="exceeds the smallest area side"):
        pop.step(1.0)
