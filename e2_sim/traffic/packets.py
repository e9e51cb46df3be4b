"""Batched FIFO packet queues in bits, with per-packet delays, and Poisson packet arrivals.

`PacketQueues` holds ``B`` worlds × ``Q`` queues of fixed-size packets (``L`` bits each). A slot
``t`` of a queue is:

1. arrivals at the start of the slot (`PacketQueues.arrive`), stamped with arrival slot ``t``;
2. service of ``b`` bits at a constant rate over the slot (`PacketQueues.serve`), head packet
   first. The packet whose last bit is the ``x``-th bit served in the slot completes at time
   ``(x / b)·slot_s`` into the slot, so its delay is ``(t − t_arrival + x / b)·slot_s``: a packet
   that arrives and is fully sent within one slot has a delay below one slot, and partial
   service of the head packet counts as the fraction of the slot used.

Bits are conserved exactly (integers): arrived = served + queued + dropped. Drops only happen
when a buffer capacity is set; arrivals that find the buffer full are dropped whole.

Packets are numbered per queue in arrival order; a queue keeps how many packets it has accepted
and how many bits it has sent since the reset, so packet ``m`` completes when the sent bits
reach ``(m + 1)·L``. The arrival slot of packet ``m`` sits at column ``m mod C`` of the queue's
row of a ring buffer ``(B·Q, C)`` (``C`` a power of two that doubles when a queue outgrows it).
Everything is vectorized over ``(B, Q)`` and over the packets that arrive or complete in a slot;
there is no Python loop over queues. With unbounded buffers the arrivals of a whole block of slots
can be written into the rings at once (`PacketQueues.preload`); the slots of the block then only
update the counters.

`PoissonArrivals` draws the number of new packets per queue and slot by inversion of the
Poisson distribution function, one `numpy.random.Generator` per world, in blocks of slots so
that the per-world Python call is paid once per block; world ``b`` draws exactly what a single
world with the same generator draws.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
from scipy.special import gammaln

# Arrival slots are kept as int32.
_MAX_SLOT = np.iinfo(np.int32).max
# A new queue set gets a ring of about this many entries in all, and at least this many per queue.
_RING_ENTRIES = 1 << 17
_MIN_CAPACITY = 64


def _check_slot(slot: int) -> None:
    if not 0 <= slot <= _MAX_SLOT:
        raise ValueError(f"slot must be in [0, {_MAX_SLOT}], got {slot}")


def _power_of_two_at_least(value: int) -> int:
    return 1 << max(int(value) - 1, 0).bit_length()


class PacketQueues:
    """FIFO queues of fixed-size packets for ``B`` worlds × ``Q`` queues.

    Parameters
    ----------
    n_queues : int
        ``Q``, queues per world (devices, padded slots included).
    packet_bits : int
        ``L``, size of every packet [bit].
    slot_s : float
        Slot duration used to turn slots into seconds [s].
    buffer_packets : int
        Capacity of each queue; 0 means unbounded (no drops) [packets].
    initial_capacity : int or None
        Ring-buffer length per queue after a reset (rounded up to a power of two); None sizes
        the ring from the number of queues [packets].

    Attributes
    ----------
    queue_bits : ndarray, int64, (B, Q)
        Bits waiting in each queue [bit] (updated in place).
    queue_packets : ndarray, int64, (B, Q)
        Packets waiting; a partly sent head packet counts as one [packet] (updated in place).
    """

    def __init__(
        self,
        n_queues: int,
        packet_bits: int,
        slot_s: float,
        buffer_packets: int = 0,
        initial_capacity: int | None = None,
    ) -> None:
        if packet_bits <= 0:
            raise ValueError(f"packet_bits must be > 0, got {packet_bits}")
        if buffer_packets < 0:
            raise ValueError(f"buffer_packets must be >= 0, got {buffer_packets}")
        self.n_queues = int(n_queues)
        self.packet_bits = int(packet_bits)
        self.slot_s = float(slot_s)
        self.buffer_packets = int(buffer_packets)
        self.initial_capacity = None if initial_capacity is None else _power_of_two_at_least(max(initial_capacity, 1))
        self.reset(0)

    @property
    def batch(self) -> int:
        return int(self.queue_bits.shape[0])

    @property
    def capacity(self) -> int:
        """Current ring-buffer length ``C`` per queue [packets]."""
        return int(self._ring.shape[1])

    def reset(self, batch: int) -> None:
        """Empty every queue of ``batch`` worlds."""
        n = batch * self.n_queues
        self.queue_bits = np.zeros((batch, self.n_queues), dtype=np.int64)
        self.queue_packets = np.zeros((batch, self.n_queues), dtype=np.int64)
        # flat views of the state, indexed by queue q = b·Q + i
        self._bits = self.queue_bits.reshape(-1)
        self._count = self.queue_packets.reshape(-1)
        self._sent_bits = np.zeros(n, dtype=np.int64)  # bits sent so far
        self._sent_packets = np.zeros(n, dtype=np.int64)  # packets completed so far: number of the head
        self._ids = np.arange(n, dtype=np.int64)
        self._ranks = np.arange(max(4 * n, 64), dtype=np.int64)
        self._starts = np.zeros(n + 1, dtype=np.int64)  # exclusive running sums over the queues
        self._no_drops = np.zeros((batch, self.n_queues), dtype=np.int64)
        self._no_drops.flags.writeable = False
        capacity = self.initial_capacity or max(
            _MIN_CAPACITY, _power_of_two_at_least(_RING_ENTRIES // max(n, 1) + 1) // 2
        )
        self._ring = np.zeros((n, capacity), dtype=np.int32)  # arrival slot of packet m at [q, m mod C]
        self._mask = capacity - 1
        self._longest_bound = 0  # an upper bound on the longest queue [packets]
        # arrivals written ahead by `preload`: slots [_preload_next, _preload_end), their bits
        self._preload_next = self._preload_end = 0
        self._preload_bits = np.zeros((0, n), dtype=np.int64)

    def _rank(self, total: int) -> np.ndarray:
        """0, 1, …, total − 1 (a view of a cached range)."""
        if total > self._ranks.size:
            self._ranks = np.arange(2 * total, dtype=np.int64)
        return self._ranks[:total]

    def _numbered(self, counts: np.ndarray, first: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Queue and packet number of ``counts`` (B·Q,) consecutive packets per queue starting at
        number ``first`` (B·Q,), queue by queue (P,)."""
        owner = self._ids.repeat(counts)
        counts.cumsum(out=self._starts[1:])
        number = (first - self._starts[:-1]).take(owner)
        number += self._rank(owner.size)
        return owner, number

    def _slots_of(self, owner: np.ndarray, number: np.ndarray) -> np.ndarray:
        """Flat ring positions (P,) of packets ``number`` of queues ``owner``."""
        position = number & self._mask
        position += owner * (self._mask + 1)
        return position

    def _ensure_capacity(self, longest: int) -> None:
        """Grow the rings to hold ``longest`` packets per queue."""
        if longest > self._mask + 1:
            capacity = _power_of_two_at_least(longest)
            owner, number = self._numbered(self._count, self._sent_packets)
            arrival = self._ring.reshape(-1).take(self._slots_of(owner, number))
            self._ring, self._mask = np.zeros((self._ids.size, capacity), dtype=np.int32), capacity - 1
            self._ring.reshape(-1)[self._slots_of(owner, number)] = arrival
        self._longest_bound = max(longest, self._longest_bound)

    def preload(self, packets: np.ndarray, first_slot: int) -> None:
        """Write the arrival slots of the next ``R`` slots of arrivals into the rings at once.

        Only for unbounded queues (every packet is accepted). The next ``R`` calls of `arrive`
        must be for slots ``first_slot, first_slot + 1, …`` with ``packets[0], packets[1], …``;
        they then only update the counters.

        Parameters
        ----------
        packets : ndarray, int, (R, B, Q)
            New packets per slot and queue.
        first_slot : int
            Slot of ``packets[0]``.
        """
        if self.buffer_packets:
            raise ValueError("preload needs unbounded queues (buffer_packets = 0)")
        if self._preload_next != self._preload_end:
            raise RuntimeError("the previous preload has not been consumed by arrive()")
        slots = packets.shape[0]
        _check_slot(first_slot + slots - 1)
        per_slot = np.asarray(packets, dtype=np.int64).reshape(slots, -1)  # (R, B·Q)
        total = per_slot.sum(axis=0)
        self._ensure_capacity(int(np.maximum.reduce(self._count + total)))
        # packets of the block, queue by queue and slot by slot: number and arrival slot
        owner, number = self._numbered(total, self._sent_packets + self._count)
        arrival = np.tile(np.arange(first_slot, first_slot + slots, dtype=np.int32), self._ids.size)
        self._ring.reshape(-1)[self._slots_of(owner, number)] = arrival.repeat(per_slot.T.reshape(-1))
        self._preload_bits = per_slot * self.packet_bits
        self._preload_next, self._preload_end = first_slot, first_slot + slots

    def arrive(self, packets: np.ndarray, slot: int) -> np.ndarray:
        """Append ``packets`` (B, Q) new packets to the queues at the start of ``slot``.

        Returns the packets dropped because the buffer was full, (B, Q) int64 (a read-only
        array of zeros when the buffer is unbounded).
        """
        new = np.asarray(packets, dtype=np.int64).reshape(-1)
        if self._preload_next != self._preload_end:
            if slot != self._preload_next:
                raise RuntimeError(f"arrivals of slot {self._preload_next} were preloaded, got slot {slot}")
            self._count += new
            self._bits += self._preload_bits[slot - self._preload_end]
            self._preload_next = slot + 1
            return self._no_drops
        if self.buffer_packets:
            accepted = np.minimum(new, self.buffer_packets - self._count)
            dropped = (new - accepted).reshape(self.queue_bits.shape)
            new = accepted
        else:
            dropped = self._no_drops
        total = int(np.add.reduce(new))
        if total:
            _check_slot(slot)
            if self._longest_bound + total > self._mask + 1:
                self._longest_bound = 0
                self._ensure_capacity(int(np.maximum.reduce(self._count + new)))
            else:
                self._longest_bound += total
            owner, number = self._numbered(new, self._sent_packets + self._count)
            self._ring.reshape(-1)[self._slots_of(owner, number)] = slot
            self._count += new
            self._bits += new * self.packet_bits
        return dropped

    def serve(self, bits: np.ndarray, slot: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """Send up to ``bits`` (B, Q) bits from each queue during ``slot``.

        Returns
        -------
        delivered_bits : ndarray, int64, (B, Q)
            Bits actually sent: min(bits, queue_bits) [bit].
        delays_s : ndarray, float64, (P,)
            Delays of the ``P`` packets completed this slot, world by world, queue by queue,
            oldest first [s].
        completed_per_world : ndarray, int64, (B,)
            How many of ``delays_s`` belong to each world (``np.split`` at its cumulative sum).
        """
        length = self.packet_bits
        offered = np.asarray(bits, dtype=np.int64).reshape(-1)
        delivered = np.minimum(offered, self._bits)
        self._bits -= delivered
        sent_before = self._sent_bits
        sent = sent_before + delivered
        completed = sent // length
        done = completed - self._sent_packets
        owner, number = self._numbered(done, self._sent_packets)
        if owner.size:
            arrival = self._ring.reshape(-1).take(self._slots_of(owner, number))
            # packet m's last bit is bit (m + 1)·L − sent_before of this slot's service
            number *= length
            sent_before -= length
            number -= sent_before.take(owner)
            delays = number / offered.take(owner)
            delays -= arrival
            delays += slot
            delays *= self.slot_s
        else:
            delays = np.zeros(0)
        self._sent_bits = sent
        self._sent_packets = completed
        self._count -= done
        if self._ids.size == self.n_queues:  # one world
            return delivered.reshape(self.queue_bits.shape), delays, np.array([delays.size])
        per_world = self._starts[:: self.n_queues]
        return delivered.reshape(self.queue_bits.shape), delays, per_world[1:] - per_world[:-1]

    def queued_packet_ages_s(self, slot: int) -> list[np.ndarray]:
        """Ages at the start of ``slot`` of every packet still queued, one array per world [s]."""
        owner, number = self._numbered(self._count, self._sent_packets)
        ages = (slot - self._ring.reshape(-1).take(self._slots_of(owner, number))) * self.slot_s
        per_world = self._starts[:: self.n_queues]
        return np.split(ages.astype(np.float64), per_world[1:-1])


# Bits of the uniform variate that index the guide table of the Poisson sampler.
_GUIDE_BITS = 12
# The table of a Poisson law of mean λ spans λ ± (this·√λ + 30): the mass left out is below 1e-40.
_TAIL_SIGMAS = 14.0
_MAX_RATE_PER_SLOT = 1e7


def poisson_cdf(rate: float) -> tuple[int, np.ndarray]:
    """Distribution function of a Poisson law of mean ``rate`` where it is not 0 or 1.

    Returns
    -------
    first : int
        The first count of the table.
    cdf : ndarray, float64, (n,)
        ``P(X <= first + i)``.
    """
    if rate == 0.0:
        return 0, np.ones(1)
    spread = _TAIL_SIGMAS * np.sqrt(rate) + 30.0
    first = max(0, int(np.floor(rate - spread)))
    k = np.arange(first, int(np.ceil(rate + spread)) + 1, dtype=np.float64)
    pmf = np.exp(k * np.log(rate) - rate - gammaln(k + 1.0))
    return first, np.cumsum(pmf)


class PoissonArrivals:
    """Poisson packet counts per queue and slot for ``B`` worlds, one generator each.

    A count is drawn by inversion: a 64-bit word ``w`` of the world's generator gives the
    uniform ``u = ⌊w / 2¹¹⌋ / 2⁵³`` and the count is the number of ``k`` with
    ``P(X <= k) <= u``. Its top 12 bits select a cell of a guide table that already holds the
    answer for every ``u`` of the cell unless a step of the distribution function falls inside
    the cell; those few are searched exactly.

    Parameters
    ----------
    rate_per_slot : array_like, (Q,)
        Mean new packets per slot of each queue (0 for padded slots), at most 1e7
        [packets/slot].
    block_slots : int
        Slots drawn per generator call; part of the stream definition (a world draws
        ``(block_slots, Q)`` words at a time).
    """

    def __init__(self, rate_per_slot: np.ndarray, block_slots: int = 256) -> None:
        rate = np.asarray(rate_per_slot, dtype=np.float64)
        if rate.ndim != 1 or not np.all(np.isfinite(rate)) or np.any(rate < 0) or np.any(rate > _MAX_RATE_PER_SLOT):
            raise ValueError(f"rate_per_slot must be a 1-D array of finite rates in [0, {_MAX_RATE_PER_SLOT:g}]")
        self.rate_per_slot = rate
        self.block_slots = int(block_slots)
        rates, which = np.unique(rate, return_inverse=True)
        cells = np.arange((1 << _GUIDE_BITS) + 1, dtype=np.float64) / (1 << _GUIDE_BITS)
        self._tables = [poisson_cdf(float(r)) for r in rates]
        guide, unsure = [], []
        for first, cdf in self._tables:
            low = np.searchsorted(cdf, cells[:-1], side="right")
            high = np.searchsorted(cdf, cells[1:], side="left")
            guide.append(first + low)
            unsure.append(low != high)
        self._guide = np.concatenate(guide).astype(np.int64)
        self._unsure = np.concatenate(unsure)
        self._cell_offset = (which.reshape(-1) << _GUIDE_BITS).astype(np.int64)
        self._rngs: list[np.random.Generator] = []
        self._block = np.zeros((self.block_slots, 0, rate.size), dtype=np.int64)
        self._next = self.block_slots

    def reset(self, rngs: Sequence[np.random.Generator]) -> None:
        """Start ``len(rngs)`` worlds; world ``b`` draws from ``rngs[b]``."""
        self._rngs = list(rngs)
        self._block = np.zeros((self.block_slots, len(self._rngs), self.rate_per_slot.size), dtype=np.int64)
        self._next = self.block_slots

    def _fill(self) -> None:
        slots, n_queues = self.block_slots, self.rate_per_slot.size
        words = np.empty((slots, len(self._rngs), n_queues), dtype=np.uint64)
        for b, rng in enumerate(self._rngs):
            words[:, b] = rng.bit_generator.random_raw(slots * n_queues).reshape(slots, n_queues)
        cell = np.right_shift(words, np.uint64(64 - _GUIDE_BITS)).view(np.int64)
        cell += self._cell_offset
        counts = self._guide.take(cell)
        unsure = np.flatnonzero(self._unsure.take(cell))
        if unsure.size:
            uniform = np.right_shift(words.reshape(-1)[unsure], np.uint64(11)) * 2.0**-53
            table = cell.reshape(-1)[unsure] >> _GUIDE_BITS
            flat = counts.reshape(-1)
            for index in np.unique(table).tolist():
                first, cdf = self._tables[index]
                chosen = table == index
                flat[unsure[chosen]] = first + np.searchsorted(cdf, uniform[chosen], side="right")
        self._block = counts
        self._next = 0

    def draw_block(self) -> np.ndarray:
        """New packets per queue for the rest of the current block, or for a whole new block when
        none is left: (R, B, Q) int64 (R ≤ ``block_slots``), a view."""
        if self._next == self.block_slots:
            self._fill()
        counts = self._block[self._next :]
        self._next = self.block_slots
        return counts

    def draw(self) -> np.ndarray:
        """New packets per queue for the next slot, (B, Q) int64 (a view into the current block)."""
        if self._next == self.block_slots:
            self._fill()
        counts = self._block[self._next]
        self._next += 1
        return counts
