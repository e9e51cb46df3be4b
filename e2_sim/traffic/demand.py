"""Rate demand with a time-to-live: the demand pool of the cognitive satellite–terrestrial paper.

Each user asks every slot for a Poisson-distributed rate (Zhai et al. 2025, §2 and §4.1): its
requirement r ~ Poisson(λ / unit)·unit [bit/s], so the slot brings r·slot_s bits of demand. The
mean λ of every user is drawn uniformly in [λ_min, λ_max] and redrawn every
``redraw_interval_slots`` slots. Demand that is not served waits in a pool, oldest served first,
for at most ``ttl_slots`` slots (the paper's N × TTL traffic matrix F), then it is dropped.

Everything is batched over ``B`` worlds and ``N`` users; the only Python loop is over the batch
to draw from each world's own `numpy.random.Generator`. Bits are conserved exactly up to float
rounding: demanded = served + waiting + dropped.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np


class DemandFifo:
    """Demand bits of ``B`` worlds × ``N`` users, binned by age, dropped after ``ttl_slots``.

    A slot is: `push` (this slot's demand, age 0), `serve` (oldest first), `expire` (the bin of
    age ``ttl_slots − 1`` is dropped, every other bin ages by one slot). Demand that arrived in
    slot ``t`` can therefore be served in slots ``t .. t + ttl_slots − 1``.

    Parameters
    ----------
    n_users : int
        Users per world ``N``.
    ttl_slots : int
        Slots a demand may wait, counting the slot it arrived in [slots].

    Attributes
    ----------
    queue_bits : numpy.ndarray, float64, (B, N, ttl_slots)
        Waiting demand per age; index 0 holds the newest bits [bit].
    """

    def __init__(self, n_users: int, ttl_slots: int) -> None:
        if n_users < 1:
            raise ValueError(f"n_users must be >= 1, got {n_users}")
        if ttl_slots < 1:
            raise ValueError(f"ttl_slots must be >= 1, got {ttl_slots}")
        self.n_users = int(n_users)
        self.ttl_slots = int(ttl_slots)
        self.queue_bits = np.zeros((0, self.n_users, self.ttl_slots))

    @property
    def batch(self) -> int:
        return int(self.queue_bits.shape[0])

    def reset(self, batch: int) -> None:
        """Empty pools for ``batch`` worlds."""
        self.queue_bits = np.zeros((batch, self.n_users, self.ttl_slots))

    def push(self, bits: np.ndarray) -> None:
        """Add this slot's demand at age 0.

        Parameters
        ----------
        bits : numpy.ndarray, (B, N)
            New demand per user [bit]; negative values are refused.
        """
        bits = np.asarray(bits, dtype=np.float64)
        if bits.shape != self.queue_bits.shape[:2]:
            raise ValueError(f"bits has shape {bits.shape}, expected {self.queue_bits.shape[:2]}")
        if np.any(bits < 0):
            raise ValueError("demand bits must be >= 0")
        self._push_unchecked(bits)

    def _push_unchecked(self, bits: np.ndarray) -> None:
        self.queue_bits[:, :, 0] += bits

    def serve(self, capacity_bits: np.ndarray) -> np.ndarray:
        """Serve up to ``capacity_bits`` of each user's waiting demand, oldest first.

        Parameters
        ----------
        capacity_bits : numpy.ndarray, (B, N)
            Bits each user's link could carry this slot [bit]; negative counts as 0.

        Returns
        -------
        numpy.ndarray, float64, (B, N)
            Bits served = min(capacity, waiting) [bit].
        """
        capacity = np.maximum(np.asarray(capacity_bits, dtype=np.float64), 0.0)
        oldest_first = self.queue_bits[:, :, ::-1]  # view
        before = np.cumsum(oldest_first, axis=2)
        before -= oldest_first  # bits older than each bin
        np.subtract(capacity[:, :, None], before, out=before)
        taken = np.clip(before, 0.0, oldest_first, out=before)
        oldest_first -= taken
        served: np.ndarray = taken.sum(axis=2)
        return served

    def expire(self) -> np.ndarray:
        """Drop the demand that has waited ``ttl_slots`` slots and age the rest by one slot.

        Returns
        -------
        numpy.ndarray, float64, (B, N)
            Bits dropped [bit].
        """
        dropped = self.queue_bits[:, :, -1].copy()
        self.queue_bits[:, :, 1:] = self.queue_bits[:, :, :-1]
        self.queue_bits[:, :, 0] = 0.0
        return dropped

    def waiting_bits(self) -> np.ndarray:
        """Total waiting demand per user, (B, N) float64 [bit]."""
        total: np.ndarray = self.queue_bits.sum(axis=2)
        return total

    def waiting_batches(self) -> np.ndarray:
        """Number of slots' demands still (partly) waiting per user, (B, N) int64."""
        count: np.ndarray = np.count_nonzero(self.queue_bits > 0.0, axis=2)
        return count


class PoissonRateDemand:
    """Per-user Poisson rate demand whose means are redrawn periodically, in a TTL pool.

    Parameters
    ----------
    n_users : int
        Users per world ``N``.
    slot_s : float
        Slot duration [s].
    mean_rate_min_bps, mean_rate_max_bps : float
        Range of the uniform draw of each user's mean rate λ [bit/s].
    rate_unit_bps : float
        Granularity of the rate requirement: r = Poisson(λ / unit)·unit [bit/s].
    redraw_interval_slots : int
        Slots between redraws of the means [slots].
    ttl_slots : int
        Slots an unmet demand waits before it is dropped [slots].

    Attributes
    ----------
    fifo : DemandFifo
        The pool of waiting demand.
    mean_rate_bps : numpy.ndarray, float64, (B, N)
        Current mean rate of each user [bit/s].
    slot : int
        Index of the current slot (0 after `reset`).
    """

    def __init__(
        self,
        n_users: int,
        slot_s: float,
        mean_rate_min_bps: float,
        mean_rate_max_bps: float,
        rate_unit_bps: float,
        redraw_interval_slots: int,
        ttl_slots: int,
    ) -> None:
        if not 0.0 <= mean_rate_min_bps <= mean_rate_max_bps:
            raise ValueError(
                f"need 0 <= mean_rate_min_bps <= mean_rate_max_bps, got {mean_rate_min_bps}, {mean_rate_max_bps}"
            )
        if slot_s <= 0 or rate_unit_bps <= 0 or redraw_interval_slots < 1:
            raise ValueError("slot_s and rate_unit_bps must be > 0 and redraw_interval_slots >= 1")
        self.n_users = int(n_users)
        self.slot_s = float(slot_s)
        self.mean_rate_min_bps = float(mean_rate_min_bps)
        self.mean_rate_max_bps = float(mean_rate_max_bps)
        self.rate_unit_bps = float(rate_unit_bps)
        self.redraw_interval_slots = int(redraw_interval_slots)
        self.fifo = DemandFifo(n_users, ttl_slots)
        self.mean_rate_bps = np.zeros((0, self.n_users))
        self.slot = 0
        self._rngs: list[np.random.Generator] = []
        self._block_units = np.zeros((0, self.redraw_interval_slots, self.n_users))
        self._bits_per_unit = self.rate_unit_bps * self.slot_s

    def _redraw_means(self) -> None:
        """New means, then the demand of every slot until the next redraw (one draw per world).

        Drawing the interval's slots at once takes the generator's values in the same order as
        drawing slot by slot, so the stream does not depend on how it is consumed.
        """
        lam = np.empty((len(self._rngs), self.n_users))
        for b, rng in enumerate(self._rngs):
            self.mean_rate_bps[b] = rng.uniform(self.mean_rate_min_bps, self.mean_rate_max_bps, size=self.n_users)
            lam[b] = self.mean_rate_bps[b] / self.rate_unit_bps
            self._block_units[b] = rng.poisson(lam[b], size=(self.redraw_interval_slots, self.n_users))

    def _draw_arrivals(self) -> np.ndarray:
        """This slot's demand (B, N) [bit]."""
        bits: np.ndarray = self._block_units[:, self.slot % self.redraw_interval_slots] * self._bits_per_unit
        return bits

    def reset(self, rngs: Sequence[np.random.Generator]) -> np.ndarray:
        """Start ``len(rngs)`` worlds: draw the means and slot 0's demand.

        Returns
        -------
        numpy.ndarray, float64, (B, N)
            Demand that arrived for slot 0 [bit].
        """
        self._rngs = list(rngs)
        self.slot = 0
        self.mean_rate_bps = np.zeros((len(self._rngs), self.n_users))
        self._block_units = np.zeros((len(self._rngs), self.redraw_interval_slots, self.n_users))
        self.fifo.reset(len(self._rngs))
        self._redraw_means()
        arrived = self._draw_arrivals()
        self.fifo.push(arrived)
        return arrived

    def serve(self, capacity_bits: np.ndarray) -> np.ndarray:
        """Serve this slot, oldest demand first; returns the served bits (B, N) [bit]."""
        return self.fifo.serve(capacity_bits)

    def end_slot(self) -> tuple[np.ndarray, np.ndarray]:
        """Close the slot: drop expired demand, move to the next slot and draw its demand.

        Returns
        -------
        dropped_bits : numpy.ndarray, float64, (B, N)
            Demand dropped at the end of this slot [bit].
        arrived_bits : numpy.ndarray, float64, (B, N)
            Demand that arrived for the next slot [bit].
        """
        dropped = self.fifo.expire()
        self.slot += 1
        if self.slot % self.redraw_interval_slots == 0:
            self._redraw_means()
        arrived = self._draw_arrivals()
        self.fifo._push_unchecked(arrived)
        return dropped, arrived
