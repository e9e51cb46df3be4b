"""FIFO packet queues: exact delays on hand-made traces, bit conservation, Poisson arrivals."""

from __future__ import annotations

import math

import numpy as np
import pytest
from scipy import stats

from e2_sim.traffic.packets import PacketQueues, PoissonArrivals, poisson_cdf

SLOT_S = 0.01
L = 100  # packet size [bit]
# Delays are exact rationals of the slot; float rounding only.
DELAY_TOL_S = 1e-12
# Mean of Poisson counts within this many standard errors.
MEAN_TOL_SIGMAS = 5.0
# Chi-square goodness of fit of the Poisson sampler: reject only below this p-value.
CHI2_ALPHA = 1e-4
# Distribution-function tables: float64 rounding of log-probabilities of counts up to ~2e5.
CDF_TOL = 1e-9


def test_hand_made_trace_gives_exact_delays() -> None:
    q = PacketQueues(2, L, SLOT_S)
    q.reset(1)
    # slot 0: 3 packets at queue 0, 1 at queue 1; 150 bits and 40 bits of service
    q.arrive(np.array([[3, 1]]), slot=0)
    delivered, delays, per_world = q.serve(np.array([[150, 40]]), slot=0)
    np.testing.assert_array_equal(delivered, [[150, 40]])
    # queue 0's first packet ends at bit 100 of 150 served: 2/3 of the slot
    np.testing.assert_allclose(delays, [100 / 150 * SLOT_S], atol=DELAY_TOL_S)
    np.testing.assert_array_equal(per_world, [1])
    np.testing.assert_array_equal(q.queue_bits, [[150, 60]])
    np.testing.assert_array_equal(q.queue_packets, [[2, 1]])  # a partly sent head counts as one

    # slot 1: one more packet at queue 0; queue 0 may send 1000 bits (only 250 queued), queue 1 60
    q.arrive(np.array([[1, 0]]), slot=1)
    delivered, delays, _ = q.serve(np.array([[1000, 60]]), slot=1)
    np.testing.assert_array_equal(delivered, [[250, 60]])
    expected = [
        (1 - 0 + 50 / 1000) * SLOT_S,  # rest of the old head: 50 bits, arrived in slot 0
        (1 - 0 + 150 / 1000) * SLOT_S,  # second packet of slot 0
        (1 - 1 + 250 / 1000) * SLOT_S,  # the packet of slot 1
        (1 - 0 + 60 / 60) * SLOT_S,  # queue 1: its last bit is the slot's last bit
    ]
    np.testing.assert_allclose(delays, expected, atol=DELAY_TOL_S)
    assert q.queue_bits.sum() == 0 and q.queue_packets.sum() == 0


def test_no_service_and_partial_head_service() -> None:
    q = PacketQueues(1, L, SLOT_S)
    q.reset(1)
    q.arrive(np.array([[2]]), slot=4)
    for slot, bits in ((4, 0), (5, 30), (6, 30)):
        delivered, delays, _ = q.serve(np.array([[bits]]), slot=slot)
        assert delivered[0, 0] == bits and delays.size == 0
    # 40 bits left of the head; 140 bits finish both packets: at 40/140 and 140/140 of slot 7
    _, delays, _ = q.serve(np.array([[140]]), slot=7)
    np.testing.assert_allclose(delays, [(3 + 40 / 140) * SLOT_S, (3 + 1.0) * SLOT_S], atol=DELAY_TOL_S)


def _reference_serve(fifo: list[list[int]], bits: int, slot: int) -> list[float]:
    """Packet-by-packet FIFO: fifo holds [arrival slot, bits left]; returns completion delays."""
    delays, sent = [], 0
    while fifo and sent + fifo[0][1] <= bits:
        sent += fifo[0][1]
        delays.append((slot - fifo.pop(0)[0] + sent / bits) * SLOT_S)
    if fifo:
        fifo[0][1] -= bits - sent
    return delays


def test_matches_a_packet_by_packet_fifo_through_ring_growth() -> None:
    n_queues, batch = 3, 2
    q = PacketQueues(n_queues, L, SLOT_S, initial_capacity=16)
    q.reset(batch)
    start = q.capacity
    assert start == 16
    reference: list[list[list[int]]] = [[] for _ in range(batch * n_queues)]
    rng = np.random.default_rng(0)
    for slot in range(400):
        packets = rng.integers(0, 4, size=(batch, n_queues)) if slot < 200 else np.zeros((batch, n_queues), int)
        q.arrive(packets, slot)
        for i, n in enumerate(packets.reshape(-1)):
            reference[i] += [[slot, L] for _ in range(n)]
        bits = rng.integers(0, 2 * L, size=(batch, n_queues)) if slot < 200 else np.full((batch, n_queues), 7 * L)
        _, delays, per_world = q.serve(bits, slot)
        per_queue = [_reference_serve(reference[i], int(b), slot) for i, b in enumerate(bits.reshape(-1))]
        np.testing.assert_allclose(delays, [d for queue in per_queue for d in queue], atol=DELAY_TOL_S)
        counts = [sum(len(x) for x in per_queue[w * n_queues : (w + 1) * n_queues]) for w in range(batch)]
        np.testing.assert_array_equal(per_world, counts)
        np.testing.assert_array_equal(q.queue_packets.reshape(-1), [len(x) for x in reference])
    assert q.capacity > start  # the backlog outgrew the initial ring and the test crossed the growth
    assert q.queue_packets.sum() == 0


def test_bit_conservation_with_and_without_a_buffer_cap() -> None:
    rng = np.random.default_rng(1)
    for cap in (0, 5):
        q = PacketQueues(4, L, SLOT_S, buffer_packets=cap)
        q.reset(3)
        arrived = served = dropped = 0
        for slot in range(400):
            packets = rng.poisson(1.2, size=(3, 4))
            lost = q.arrive(packets, slot)
            delivered, _, _ = q.serve(rng.integers(0, 2 * L, size=(3, 4)), slot)
            arrived += int(packets.sum()) * L
            dropped += int(lost.sum()) * L
            served += int(delivered.sum())
            assert q.queue_packets.max() <= (cap or np.inf)
        assert arrived == served + int(q.queue_bits.sum()) + dropped
        assert (dropped > 0) == (cap > 0)


def test_queued_packet_ages() -> None:
    q = PacketQueues(2, L, SLOT_S)
    q.reset(2)
    q.arrive(np.array([[1, 0], [0, 2]]), slot=3)
    q.arrive(np.array([[0, 1], [1, 0]]), slot=5)
    ages = q.queued_packet_ages_s(slot=7)
    np.testing.assert_allclose(ages[0], [4 * SLOT_S, 2 * SLOT_S], atol=DELAY_TOL_S)
    np.testing.assert_allclose(sorted(ages[1]), [2 * SLOT_S, 4 * SLOT_S, 4 * SLOT_S], atol=DELAY_TOL_S)


def test_delays_are_returned_world_by_world() -> None:
    q = PacketQueues(1, L, SLOT_S)
    q.reset(3)
    q.arrive(np.array([[2], [0], [1]]), slot=0)
    _, delays, per_world = q.serve(np.array([[2 * L], [L], [L]]), slot=0)
    np.testing.assert_array_equal(per_world, [2, 0, 1])
    np.testing.assert_allclose(delays, [0.5 * SLOT_S, SLOT_S, SLOT_S], atol=DELAY_TOL_S)


def test_poisson_arrivals_rate_and_batch_independence() -> None:
    rate = np.array([0.4, 0.0, 2.5])
    batched, single = PoissonArrivals(rate, block_slots=16), PoissonArrivals(rate, block_slots=16)
    batched.reset([np.random.default_rng(s) for s in (1, 2)])
    single.reset([np.random.default_rng(2)])
    counts = []
    for _ in range(2000):
        both = batched.draw()
        np.testing.assert_array_equal(both[1], single.draw()[0])
        counts.append(both.copy())
    mean = np.mean(counts, axis=0).mean(axis=0)
    stderr = np.sqrt(rate / (2 * 2000))
    assert mean[1] == 0.0
    assert np.all(np.abs(mean - rate) <= MEAN_TOL_SIGMAS * np.maximum(stderr, 1e-12))


def test_bad_parameters_are_refused() -> None:
    with pytest.raises(ValueError, match="packet_bits"):
        PacketQueues(2, 0, SLOT_S)
    with pytest.raises(ValueError, match="rate_per_slot"):
        PoissonArrivals(np.array([-1.0]))
    assert math.isfinite(PacketQueues(1, L, SLOT_S).slot_s)


def test_poisson_cdf_table_is_the_distribution_function() -> None:
    for rate in (0.4, 7.3, 150.0, 2e5):
        first, cdf = poisson_cdf(rate)
        k = np.arange(first, first + cdf.size)
        np.testing.assert_allclose(cdf, stats.poisson.cdf(k, rate), atol=CDF_TOL)
        assert stats.poisson.cdf(first - 1, rate) < CDF_TOL and cdf[-1] == pytest.approx(1.0, abs=CDF_TOL)
    assert poisson_cdf(0.0) == (0, pytest.approx(np.ones(1)))


@pytest.mark.parametrize("rate", [0.4, 7.3, 150.0])
def test_poisson_sampler_follows_the_poisson_law(rate: float) -> None:
    """Counts by inversion (guide table, exact search in the cells a step falls into) are Poisson."""
    arrivals = PoissonArrivals(np.full(50, rate), block_slots=200)
    arrivals.reset([np.random.default_rng(7)])
    counts = np.concatenate([arrivals.draw_block().reshape(-1) for _ in range(4)])  # 40 000 draws
    # bins: every count from the 1e-4 to the 1e-4 upper quantile, the tails folded into the ends
    low, high = stats.poisson.ppf([1e-4, 1 - 1e-4], rate).astype(int)
    observed = np.bincount(np.clip(counts, low, high) - low, minlength=high - low + 1)
    probability = np.diff(stats.poisson.cdf(np.arange(low - 1, high + 1), rate))
    probability[0] += stats.poisson.cdf(low - 1, rate)
    probability[-1] += stats.poisson.sf(high, rate)
    expected = probability * counts.size
    keep = expected >= 5.0
    chi2 = np.sum((observed[keep] - expected[keep]) ** 2 / expected[keep])
    assert stats.chi2.sf(chi2, keep.sum() - 1) > CHI2_ALPHA
    assert counts.mean() == pytest.approx(rate, abs=MEAN_TOL_SIGMAS * np.sqrt(rate / counts.size))


def test_poisson_blocks_and_slots_draw_the_same_counts() -> None:
    rate = np.array([0.4, 0.0, 3.0, 0.4])
    by_slot, by_block = PoissonArrivals(rate, block_slots=8), PoissonArrivals(rate, block_slots=8)
    by_slot.reset([np.random.default_rng(1), np.random.default_rng(2)])
    by_block.reset([np.random.default_rng(1), np.random.default_rng(2)])
    slots = np.stack([by_slot.draw().copy() for _ in range(24)])
    first = by_block.draw().copy()  # one slot, then the rest of its block, then whole blocks
    blocks = [first[None], by_block.draw_block(), by_block.draw_block(), by_block.draw_block()]
    assert [x.shape[0] for x in blocks] == [1, 7, 8, 8]
    np.testing.assert_array_equal(np.concatenate(blocks), slots)
    assert np.all(slots[:, :, 1] == 0)
    with pytest.raises(ValueError, match="rate_per_slot"):
        PoissonArrivals(np.array([1e8]))


def test_preloaded_arrivals_give_the_same_queues_and_delays() -> None:
    rng = np.random.default_rng(3)
    counts = rng.poisson(0.8, size=(3, 40, 2, 5))  # blocks × slots × worlds × queues
    plain, preloaded = PacketQueues(5, L, SLOT_S, initial_capacity=4), PacketQueues(5, L, SLOT_S, initial_capacity=4)
    plain.reset(2)
    preloaded.reset(2)
    slot = 0
    for block in counts:
        preloaded.preload(block, slot)
        for packets in block:
            plain.arrive(packets, slot)
            assert np.all(preloaded.arrive(packets, slot) == 0)
            np.testing.assert_array_equal(preloaded.queue_bits, plain.queue_bits)
            bits = rng.integers(0, 3 * L, size=(2, 5))
            a, b = plain.serve(bits, slot), preloaded.serve(bits, slot)
            for x, y in zip(a, b, strict=True):
                np.testing.assert_array_equal(x, y)
            slot += 1
    assert preloaded.capacity > 4  # preloading grew the rings
    for x, y in zip(plain.queued_packet_ages_s(slot), preloaded.queued_packet_ages_s(slot), strict=True):
        np.testing.assert_array_equal(x, y)
    preloaded.preload(counts[0], slot)
    with pytest.raises(RuntimeError, match="preloaded"):
        preloaded.arrive(counts[0, 0], slot + 1)
    with pytest.raises(ValueError, match="unbounded"):
        PacketQueues(5, L, SLOT_S, buffer_packets=3).preload(counts[0], 0)
