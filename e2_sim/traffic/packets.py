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

Each queue keeps the arrival slots of its packets in a ring buffer (``(B, Q, C)``, ``C`` a
power of two that doubles when a queue outgrows it). Everything is vectorized over ``(B, Q)``
and over the packets that arrive or complete in a slot; there is no Python loop over queues.

`PoissonArrivals` draws the number of new packets per queue and slot, one
`numpy.random.Generator` per world, in blocks of slots so that the per-world Python call is
paid once per block; world ``b`` draws exactly what a single world with the same generator
draws.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

_INITIAL_CAPACITY = 64


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

    Attributes
    ----------
    queue_bits : ndarray, int64, (B, Q)
        Bits waiting in each queue [bit] (updated in place).
    queue_packets : ndarray, int64, (B, Q)
        Packets waiting; a partly sent head packet counts as one [packet] (updated in place).
    """

    def __init__(self, n_queues: int, packet_bits: int, slot_s: float, buffer_packets: int = 0) -> None:
        if packet_bits <= 0:
            raise ValueError(f"packet_bits must be > 0, got {packet_bits}")
        if buffer_packets < 0:
            raise ValueError(f"buffer_packets must be >= 0, got {buffer_packets}")
        self.n_queues = int(n_queues)
        self.packet_bits = int(packet_bits)
        self.slot_s = float(slot_s)
        self.buffer_packets = int(buffer_packets)
        self.reset(0)

    @property
    def batch(self) -> int:
        return int(self.queue_bits.shape[0])

    @property
    def capacity(self) -> int:
        """Current ring-buffer length ``C`` per queue [packets]."""
        return self._capacity

    def reset(self, batch: int) -> None:
        """Empty every queue of ``batch`` worlds."""
        n = batch * self.n_queues
        self.queue_bits = np.zeros((batch, self.n_queues), dtype=np.int64)
        self.queue_packets = np.zeros((batch, self.n_queues), dtype=np.int64)
        # flat views of the state, indexed by queue q = b·Q + i. The head packet's bits left are
        # derived: queue_bits − (queue_packets − 1)·L.
        self._bits = self.queue_bits.reshape(-1)
        self._count = self.queue_packets.reshape(-1)
        self._head = np.zeros(n, dtype=np.int64)  # ring position of the head packet
        self._ids = np.arange(n, dtype=np.int64)
        self._ranks = np.arange(max(4 * n, 64), dtype=np.int64)
        self._no_drops = np.zeros((batch, self.n_queues), dtype=np.int64)
        self._no_drops.flags.writeable = False
        self._set_capacity(_INITIAL_CAPACITY, np.zeros(n * _INITIAL_CAPACITY, dtype=np.int64))

    def _set_capacity(self, capacity: int, ring: np.ndarray) -> None:
        self._capacity = capacity
        self._mask = capacity - 1
        self._ring = ring  # (B·Q·C,) arrival slot of every queued packet
        self._ring_base = self._ids * capacity

    def _grow(self, needed: int) -> None:
        old, new = self._capacity, self._capacity
        while new < needed:
            new *= 2
        order = (self._head[:, None] + np.arange(old)) & (old - 1)
        grown = np.zeros((self._ids.size, new), dtype=np.int64)
        grown[:, :old] = np.take_along_axis(self._ring.reshape(-1, old), order, axis=1)
        self._head[:] = 0
        self._set_capacity(new, grown.reshape(-1))

    def _rank(self, total: int) -> np.ndarray:
        """0, 1, …, total − 1 (a view of a cached range)."""
        if total > self._ranks.size:
            self._ranks = np.arange(2 * total, dtype=np.int64)
        return self._ranks[:total]

    def arrive(self, packets: np.ndarray, slot: int) -> np.ndarray:
        """Append ``packets`` (B, Q) new packets to the queues at the start of ``slot``.

        Returns the packets dropped because the buffer was full, (B, Q) int64 (a read-only
        array of zeros when the buffer is unbounded).
        """
        packets = np.asarray(packets, dtype=np.int64)
        if self.buffer_packets:
            accepted = np.minimum(packets, self.buffer_packets - self.queue_packets)
            dropped = packets - accepted
        else:
            accepted, dropped = packets, self._no_drops
        new = accepted.reshape(-1)
        count = self._count
        owner = self._ids.repeat(new)
        if owner.size:
            # packet r of queue q (r = rank − first rank of q) goes to ring slot head + count + r
            start = self._head + count
            np.add(count, new, out=count)
            if np.maximum.reduce(count) > self._capacity:
                self._grow(int(np.maximum.reduce(count)))
                start = count - new
            start -= new.cumsum()
            start += new
            position = start[owner]
            position += self._rank(owner.size)
            position &= self._mask
            position += self._ring_base[owner]
            self._ring[position] = slot
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
        queued = self._bits
        # position of the head packet's last bit, relative to the first bit sent, minus L
        last_bit_base = queued - self._count * length
        delivered = np.minimum(offered, queued)
        queued -= delivered
        # packets left = ceil(bits left / L); the difference completed this slot
        left = queued + (length - 1)
        left //= length
        done = self._count - left
        np.copyto(self._count, left)
        owner = self._ids.repeat(done)
        if owner.size:
            rank = self._rank(owner.size)
            first = done - done.cumsum()  # −(rank of the first completed packet of each queue)
            position = (self._head + first)[owner]
            position += rank
            position &= self._mask
            position += self._ring_base[owner]
            # completed packet r of queue q: its last bit is bit (L·(r + 1) + last_bit_base) of the
            # slot, sent at that fraction of the slot's bits
            first += 1
            first *= length
            first += last_bit_base
            last_bit = rank * length
            last_bit += first[owner]
            delays = last_bit / offered[owner]
            delays -= self._ring[position]
            delays += slot
            delays *= self.slot_s
            self._head += done
            self._head &= self._mask
            if self.batch == 1:
                per_world = np.array([owner.size])
            else:
                per_world = np.bincount(owner // self.n_queues, minlength=self.batch)
        else:
            delays = np.zeros(0)
            per_world = np.zeros(self.batch, dtype=np.int64)
        return delivered.reshape(self.queue_bits.shape), delays, per_world

    def queued_packet_ages_s(self, slot: int) -> list[np.ndarray]:
        """Ages at the start of ``slot`` of every packet still queued, one array per world [s]."""
        owner = self._ids.repeat(self._count)
        rank = np.arange(owner.size) - (self._count.cumsum() - self._count)[owner]
        position = ((self._head[owner] + rank) & self._mask) + self._ring_base[owner]
        ages = (slot - self._ring[position]) * self.slot_s
        per_world = np.bincount(owner // self.n_queues, minlength=self.batch)
        return np.split(ages.astype(np.float64), np.cumsum(per_world)[:-1])


class PoissonArrivals:
    """Poisson packet counts per queue and slot for ``B`` worlds, one generator each.

    Parameters
    ----------
    rate_per_slot : array_like, (Q,)
        Mean new packets per slot of each queue (0 for padded slots) [packets/slot].
    block_slots : int
        Slots drawn per generator call; part of the stream definition (a world draws
        ``(block_slots, Q)`` counts at a time).
    """

    def __init__(self, rate_per_slot: np.ndarray, block_slots: int = 256) -> None:
        rate = np.asarray(rate_per_slot, dtype=np.float64)
        if rate.ndim != 1 or np.any(rate < 0) or not np.all(np.isfinite(rate)):
            raise ValueError("rate_per_slot must be a 1-D array of finite rates >= 0")
        self.rate_per_slot = rate
        self.block_slots = int(block_slots)
        self._rngs: list[np.random.Generator] = []
        self._block = np.zeros((0, self.block_slots, rate.size), dtype=np.int64)
        self._next = self.block_slots

    def reset(self, rngs: Sequence[np.random.Generator]) -> None:
        """Start ``len(rngs)`` worlds; world ``b`` draws from ``rngs[b]``."""
        self._rngs = list(rngs)
        self._block = np.zeros((len(self._rngs), self.block_slots, self.rate_per_slot.size), dtype=np.int64)
        self._next = self.block_slots

    def draw(self) -> np.ndarray:
        """New packets per queue for the next slot, (B, Q) int64 (a view into the current block)."""
        if self._next == self.block_slots:
            shape = (self.block_slots, self.rate_per_slot.size)
            for b, rng in enumerate(self._rngs):
                self._block[b] = rng.poisson(self.rate_per_slot, size=shape)
            self._next = 0
        counts = self._block[:, self._next]
        self._next += 1
        return counts
