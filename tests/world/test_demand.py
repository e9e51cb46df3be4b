"""Rate demand with TTL: oldest-first service, expiry after TTL slots, bit conservation, Poisson means."""

from __future__ import annotations

import numpy as np
import pytest

from e2_sim.traffic.demand import DemandFifo, PoissonRateDemand

#: Relative tolerance of bit conservation (float64 sums over a few hundred slots).
CONSERVATION_RTOL = 1e-12
#: Relative tolerance of a mean estimated from ~10^4 Poisson draws of mean ~100 (σ/μ ≈ 0.1%).
POISSON_MEAN_RTOL = 0.01


def test_hand_trace_oldest_first_and_ttl_drop() -> None:
    fifo = DemandFifo(n_users=2, ttl_slots=3)
    fifo.reset(batch=1)
    # slot 0: user 0 asks 100, user 1 asks 10; serve 30 and 50
    fifo.push(np.array([[100.0, 10.0]]))
    np.testing.assert_array_equal(fifo.serve(np.array([[30.0, 50.0]])), [[30.0, 10.0]])
    np.testing.assert_array_equal(fifo.expire(), [[0.0, 0.0]])
    # slot 1: user 0 asks 50 more; 80 bits go to the 70 old ones first, then 10 of the new ones
    fifo.push(np.array([[50.0, 0.0]]))
    np.testing.assert_array_equal(fifo.serve(np.array([[80.0, 0.0]])), [[80.0, 0.0]])
    np.testing.assert_array_equal(fifo.queue_bits[0, 0], [40.0, 0.0, 0.0])
    np.testing.assert_array_equal(fifo.expire(), [[0.0, 0.0]])
    # slots 2..3: nothing served; the 40 bits of slot 1 wait slots 1, 2, 3 and are dropped after slot 3
    fifo.push(np.array([[5.0, 0.0]]))
    fifo.serve(np.zeros((1, 2)))
    np.testing.assert_array_equal(fifo.expire(), [[0.0, 0.0]])
    fifo.push(np.array([[0.0, 0.0]]))
    fifo.serve(np.zeros((1, 2)))
    np.testing.assert_array_equal(fifo.expire(), [[40.0, 0.0]])
    np.testing.assert_array_equal(fifo.waiting_bits(), [[5.0, 0.0]])
    np.testing.assert_array_equal(fifo.waiting_batches(), [[1, 0]])


def test_demand_served_in_its_last_slot_is_not_dropped() -> None:
    fifo = DemandFifo(n_users=1, ttl_slots=2)
    fifo.reset(batch=1)
    fifo.push(np.array([[7.0]]))
    fifo.serve(np.zeros((1, 1)))
    assert fifo.expire()[0, 0] == 0.0
    fifo.push(np.array([[0.0]]))
    assert fifo.serve(np.array([[100.0]]))[0, 0] == 7.0  # slot t + TTL − 1: still servable
    assert fifo.expire()[0, 0] == 0.0


def test_conservation_and_batch_rows_are_independent() -> None:
    rng = np.random.default_rng(7)
    batch, users, ttl, slots = 4, 5, 6, 300
    fifo = DemandFifo(users, ttl)
    fifo.reset(batch)
    singles = [DemandFifo(users, ttl) for _ in range(batch)]
    for single in singles:
        single.reset(1)
    pushed = np.zeros((batch, users))
    served = np.zeros((batch, users))
    dropped = np.zeros((batch, users))
    for _ in range(slots):
        bits = rng.exponential(100.0, size=(batch, users)) * (rng.random((batch, users)) < 0.7)
        capacity = rng.exponential(60.0, size=(batch, users))
        fifo.push(bits)
        waiting_before = fifo.waiting_bits()
        got = fifo.serve(capacity)
        assert np.all(got <= capacity + 1e-9) and np.all(got <= waiting_before + 1e-9)
        np.testing.assert_allclose(got, np.minimum(capacity, waiting_before), rtol=1e-12, atol=1e-9)
        lost = fifo.expire()
        pushed += bits
        served += got
        dropped += lost
        for b, single in enumerate(singles):
            single.push(bits[b : b + 1])
            np.testing.assert_array_equal(single.serve(capacity[b : b + 1]), got[b : b + 1])
            np.testing.assert_array_equal(single.expire(), lost[b : b + 1])
    assert dropped.sum() > 0  # the trace overloads the links, so TTL expiry happened
    np.testing.assert_allclose(pushed, served + fifo.waiting_bits() + dropped, rtol=CONSERVATION_RTOL)


def test_bad_input_is_refused() -> None:
    fifo = DemandFifo(2, 3)
    fifo.reset(1)
    with pytest.raises(ValueError, match="shape"):
        fifo.push(np.zeros((1, 3)))
    with pytest.raises(ValueError, match=">= 0"):
        fifo.push(np.array([[-1.0, 0.0]]))
    with pytest.raises(ValueError, match="ttl_slots"):
        DemandFifo(2, 0)


def _demand(slot_s: float = 0.002) -> PoissonRateDemand:
    return PoissonRateDemand(
        n_users=16,
        slot_s=slot_s,
        mean_rate_min_bps=50e6,
        mean_rate_max_bps=150e6,
        rate_unit_bps=1e6,
        redraw_interval_slots=200,
        ttl_slots=40,
    )


def test_poisson_rate_demand_means_units_and_redraw() -> None:
    demand = _demand()
    arrived = demand.reset([np.random.default_rng(s) for s in (1, 2)])
    means = demand.mean_rate_bps.copy()
    assert means.shape == (2, 16)
    assert np.all((means >= 50e6) & (means <= 150e6))
    # bits come in whole rate units: r·slot_s with r a whole number of Mbit/s
    np.testing.assert_allclose(np.mod(arrived / (1e6 * 0.002), 1.0), 0.0, atol=1e-9)
    total = arrived.copy()
    for slot in range(1, 200):
        demand.serve(np.full((2, 16), np.inf))
        _, got = demand.end_slot()
        total += got
        assert demand.slot == slot
        np.testing.assert_array_equal(demand.mean_rate_bps, means)  # unchanged before slot 200
    # the sample mean rate of 16 × 2 users over 200 slots matches the drawn means
    np.testing.assert_allclose(total.sum() / (200 * 0.002), means.sum(), rtol=POISSON_MEAN_RTOL)
    demand.end_slot()
    assert demand.slot == 200
    assert not np.any(demand.mean_rate_bps == means)  # redrawn at slot 200


def test_poisson_rate_demand_is_reproducible_per_world() -> None:
    a, b = _demand(), _demand()
    first = a.reset([np.random.default_rng(11), np.random.default_rng(12)])
    second = b.reset([np.random.default_rng(12)])
    np.testing.assert_array_equal(first[1:], second)
    for _ in range(5):
        capacity = np.full((2, 16), 1e5)
        np.testing.assert_array_equal(a.serve(capacity)[1:], b.serve(capacity[1:]))
        (drop_a, new_a), (drop_b, new_b) = a.end_slot(), b.end_slot()
        np.testing.assert_array_equal(new_a[1:], new_b)
        np.testing.assert_array_equal(drop_a[1:], drop_b)
