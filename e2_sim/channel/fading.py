"""Small-scale fading: Gauss–Markov (first-order autoregressive) Rayleigh and Rician processes.

Each process holds complex coefficients of shape ``(B, *shape)`` and one
`numpy.random.Generator` per batch member, so world ``b`` of a batch draws exactly what a single
world with the same generator draws. The update is

    h_t = ρ·h_{t−1} + √(1 − ρ²)·e_t,   e_t ~ CN(0, σ²),   ρ = J0(2π·f_d·T)

(Jakes' autocorrelation sampled at the slot period; Zhang & Guo, eq. (11) and the text below it).
The stationary mean power E|h|² equals the innovation variance σ²; the initial state is drawn
from the stationary law.

Sampling
--------
The innovations are drawn by table-based inverse-transform sampling, which is several times
faster than `Generator.standard_normal` for the millions of coefficients a batched world
advances per second. Each complex innovation takes a 16-bit field of a 64-bit word from
``bit_generator.random_raw`` (four per word); the field's low 13 bits index a table of 8192
equiprobable complex values (64 KiB, so it stays in the processor's cache between slots):

- the upper 10 bits pick the magnitude: |e|² of level ``i`` is the mean of Exp(1) over its
  quantile bin [i/1024, (i + 1)/1024) of probability, so E|e|² = 1 exactly and the last level
  carries the mean of the whole tail (1 + ln 1024 ≈ 7.9 times the mean);
- the lower 3 bits pick one of 8 equally spaced phases, shifted per magnitude level by the
  golden-ratio sequence so that all 8192 entries have distinct phases.

The resolution is 1/1024 in probability on |e|². With 8 equally spaced phases per magnitude,
E[e^a·ē^b] = 0 holds exactly for every 0 < |a − b| < 8: in particular E[e] = E[e²] = 0, so real
and imaginary parts are uncorrelated with variance σ²/2 each, and their fourth moments are
those of a circular law. The Gauss–Markov state sums innovations over many slots, which
smooths the remaining discreteness away (see the statistical tests).

Every world takes a fixed number of 64-bit words from its own generator per slot, in order; for
small batches several slots are drawn per call (fewer Python calls), which does not change the
values a world sees.
"""

from __future__ import annotations

from collections.abc import Sequence
from functools import lru_cache

import numpy as np
from scipy.special import j0

MAGNITUDE_BITS = 10
"""Bits of each table index that select the Rayleigh magnitude level."""
PHASE_BITS = 3
"""Bits of each table index that select the phase."""
TABLE_SIZE = 1 << (MAGNITUDE_BITS + PHASE_BITS)
"""Entries of the sampler table."""


def gauss_markov_rho(doppler_hz: float, slot_s: float) -> float:
    """Lag-one correlation ρ = J0(2π·f_d·T) of a Jakes channel sampled every ``slot_s`` seconds."""
    return float(j0(2.0 * np.pi * doppler_hz * slot_s))


@lru_cache(maxsize=1)
def complex_gaussian_table() -> np.ndarray:
    """The equiprobable values of the unit-power complex Gaussian sampler.

    Returns
    -------
    ndarray, complex64, (TABLE_SIZE,)
        Entry ``(i << PHASE_BITS) | j`` has magnitude level ``i`` and phase ``j``; E|e|² = 1.
    """
    n_mag, n_phase = 1 << MAGNITUDE_BITS, 1 << PHASE_BITS
    level = np.arange(n_mag, dtype=np.float64)
    # E[X | X in the quantile bin] for X ~ Exp(1): n·[(a + 1)·e^−a − (b + 1)·e^−b], a, b the bin's
    # edges, with e^−a = 1 − i/n; the last bin reaches infinity
    survival = 1.0 - level / n_mag
    lower = -np.log(survival)
    upper_term = np.append((lower[1:] + 1.0) * survival[1:], 0.0)
    power = n_mag * ((lower + 1.0) * survival - upper_term)
    golden = (np.sqrt(5.0) - 1.0) / 2.0
    offset = (level * golden) % 1.0
    phase = 2.0 * np.pi * (np.arange(n_phase)[None, :] + offset[:, None]) / n_phase
    table = np.sqrt(power)[:, None] * np.exp(1j * phase)
    table = table.reshape(-1).astype(np.complex64)
    table.flags.writeable = False
    return table


# Innovations are drawn for several slots at once while the batch is small (fewer Python calls);
# about this many coefficients per refill.
_BLOCK_COEFFICIENTS = 1 << 15
_MAX_BLOCK_SLOTS = 16
# `power_block` works through the batch in chunks of worlds of about this many coefficients per
# slot block, so that its buffers stay in the processor's cache.
_CHUNK_COEFFICIENTS = 1 << 16
# keeps the low 13 bits of each 16-bit field of a 64-bit word: the table index
_INDEX_MASK = np.uint64(sum((TABLE_SIZE - 1) << (16 * i) for i in range(4)))


class _TableSampler:
    """Draws complex Gaussians for ``B`` worlds, one generator each.

    Each world consumes its generator's 64-bit words in order, a fixed number per slot, so the
    values do not depend on the batch size, on how many slots are drawn per call or on which
    worlds are drawn together. Buffers are slot-major, ``(slots, worlds, n)``.
    """

    def __init__(self, rngs: Sequence[np.random.Generator], n_per_world: int) -> None:
        self.rngs = list(rngs)
        self._raw_words = [rng.bit_generator.random_raw for rng in self.rngs]
        self.n = n_per_world
        self.n_words = (n_per_world + 3) // 4  # four 16-bit fields per 64-bit word
        batch = max(len(self.rngs), 1)
        self.block = int(np.clip(_BLOCK_COEFFICIENTS // (batch * max(n_per_world, 1)), 1, _MAX_BLOCK_SLOTS))
        self._values = np.empty((self.block, len(self.rngs), n_per_world), dtype=np.complex64)
        self._next = self.block
        self._raw = np.empty(0, dtype=np.uint64)
        self._index = np.empty(0, dtype=np.intp)

    @property
    def pending(self) -> int:
        """Slots drawn ahead by `next` and not handed out yet."""
        return self.block - self._next

    def draw(self, table: np.ndarray, slots: int, worlds: slice, out: np.ndarray) -> None:
        """Values of the next ``slots`` slots of ``worlds`` into ``out`` (slots, worlds, n) complex64."""
        raw_words = self._raw_words[worlds]
        shape = (slots, len(raw_words))
        size = slots * len(raw_words)
        if self._raw.size < size * self.n_words:
            self._raw = np.empty(size * self.n_words, dtype=np.uint64)
            self._index = np.empty(size * self.n, dtype=np.intp)
        raw = self._raw[: size * self.n_words].reshape(*shape, self.n_words)
        index = self._index[: size * self.n].reshape(*shape, self.n)
        if slots == 1:
            for b, draw in enumerate(raw_words):
                raw[0, b] = draw(self.n_words)
        else:
            words = slots * self.n_words
            for b, draw in enumerate(raw_words):
                raw[:, b] = draw(words).reshape(slots, self.n_words)
        np.bitwise_and(raw, _INDEX_MASK, out=raw)
        np.copyto(index, raw.view(np.uint16)[..., : self.n])
        # indices are < TABLE_SIZE by construction: 'clip' skips the bounds check
        np.take(table, index, out=out, mode="clip")

    def draw_one(self, table: np.ndarray, out: np.ndarray) -> None:
        """Fill ``out`` (B, n) complex64 with one slot's values (outside the block sequence)."""
        if self.pending:
            raise RuntimeError("draw_one() must come before the first next()")
        self.draw(table, 1, slice(None), out[None])

    def next(self, table: np.ndarray) -> np.ndarray:
        """One slot's values (B, n) complex64 from ``table``: a view valid until the next call."""
        if self._next == self.block:
            self.draw(table, self.block, slice(None), self._values)
            self._next = 0
        values = self._values[self._next]
        self._next += 1
        return values


def _power_into(h: np.ndarray, out: np.ndarray) -> np.ndarray:
    """|h|² of complex64 ``h`` into float32 ``out`` (same shape)."""
    np.abs(h, out=out)
    return np.square(out, out=out)


class GaussMarkovRayleigh:
    """Complex Gauss–Markov Rayleigh fading for ``B`` worlds.

    Parameters
    ----------
    shape : tuple of int
        Per-world shape of the coefficient array, e.g. ``(T, N, S)``.
    rho : float
        Lag-one correlation in [0, 1).
    innovation_power : float
        σ², the variance of the complex innovation and the stationary mean of |h|².

    Notes
    -----
    `step` and `power` return a float32 buffer that is overwritten on the next call; copy it
    (or multiply it into an array of your own) to keep a slot's gains. `power_block` advances
    several slots at once and returns a new array; it computes exactly what the same number of
    `step` calls would.
    """

    def __init__(self, shape: Sequence[int], rho: float, innovation_power: float = 1.0) -> None:
        if not 0.0 <= rho < 1.0:
            raise ValueError(f"rho must be in [0, 1), got {rho}")
        if not innovation_power > 0.0:
            raise ValueError(f"innovation_power must be > 0, got {innovation_power}")
        self.shape = tuple(int(s) for s in shape)
        self.size = int(np.prod(self.shape, dtype=np.int64))
        self.rho = float(rho)
        self.innovation_power = float(innovation_power)
        base = complex_gaussian_table()
        self._initial_table = (base * np.float32(np.sqrt(innovation_power))).astype(np.complex64)
        self._innovation_table = (base * np.float32(np.sqrt((1.0 - rho**2) * innovation_power))).astype(np.complex64)
        self._rho32 = np.float32(rho)
        self._sampler = _TableSampler([], self.size)
        self._h = np.zeros((0, self.size), dtype=np.complex64)
        self._power = np.zeros((0, *self.shape), dtype=np.float32)
        self._spare_state = np.zeros((0, self.size), dtype=np.complex64)
        self._chunk_values = np.zeros((0, 0, self.size), dtype=np.complex64)
        self._chunk_scratch = np.zeros((0, 2 * self.size), dtype=np.float32)

    @property
    def batch(self) -> int:
        return int(self._h.shape[0])

    def reset(self, rngs: Sequence[np.random.Generator]) -> np.ndarray:
        """Draw the stationary initial state for ``len(rngs)`` worlds; returns |h|², (B, *shape)."""
        batch = len(rngs)
        self._sampler = _TableSampler(rngs, self.size)
        self._h = np.empty((batch, self.size), dtype=np.complex64)
        self._power = np.empty((batch, *self.shape), dtype=np.float32)
        self._sampler.draw_one(self._initial_table, self._h)
        return self.power()

    def step(self) -> np.ndarray:
        """Advance one slot; returns the power gains |h|², shape (B, *shape), float32."""
        noise = self._sampler.next(self._innovation_table)
        flat = self._h.view(np.float32)
        np.multiply(flat, self._rho32, out=flat)
        np.add(flat, noise.view(np.float32), out=flat)
        return self.power()

    @property
    def block_slots(self) -> int:
        """Slots per `power_block` call that keep its buffers cache-sized for this batch [slots]."""
        return int(np.clip(_CHUNK_COEFFICIENTS // (max(self.batch, 1) * max(self.size, 1)), 1, _MAX_BLOCK_SLOTS))

    def power_block(self, slots: int, scale: np.ndarray | None = None) -> np.ndarray:
        """Advance ``slots`` slots; returns |h|² of each, (slots, B, *shape) float32, a new array.

        World ``b`` of the result equals what ``slots`` calls of `step` return for it.

        Parameters
        ----------
        slots : int
            Slots to advance.
        scale : ndarray, broadcastable to ``shape``, optional
            Multiplies every |h|² (e.g. a path gain) [linear]; a contiguous float32 array of
            ``prod(shape)`` entries is used as it is.
        """
        if slots <= 0:
            raise ValueError(f"slots must be > 0, got {slots}")
        batch, size = self.batch, self.size
        out = np.empty((slots, batch, size), dtype=np.float32)
        first = 0
        while self._sampler.pending and first < slots:  # slots already drawn ahead by `step`
            self.step()
            out[first] = self._power.reshape(batch, size)
            first += 1
        if scale is not None:
            if scale.size != size or scale.dtype != np.float32 or not scale.flags.c_contiguous:
                scale = np.ascontiguousarray(np.broadcast_to(scale, self.shape), dtype=np.float32)
            scale = scale.reshape(-1)
            out[:first] *= scale
        rest = slots - first
        if rest == 0:
            return out.reshape(slots, batch, *self.shape)
        chunk = max(1, min(batch, _CHUNK_COEFFICIENTS // (rest * max(size, 1))))
        if self._chunk_values.shape[:2] != (rest, chunk):
            self._chunk_values = np.empty((rest, chunk, size), dtype=np.complex64)
            self._chunk_scratch = np.empty((chunk, 2 * size), dtype=np.float32)
        # one slot at a time: the new state is written straight into a second state buffer
        next_state = self._h
        if rest == 1:
            next_state = self._spare_state if self._spare_state.shape == self._h.shape else np.empty_like(self._h)
        table = self._innovation_table
        for start in range(0, batch, chunk):
            worlds = slice(start, min(batch, start + chunk))
            count = worlds.stop - start
            values = next_state[None, worlds] if rest == 1 else self._chunk_values[:, :count]
            scratch = self._chunk_scratch[:count]
            self._sampler.draw(table, rest, worlds, values)
            floats = values.view(np.float32)
            previous = self._h[worlds].view(np.float32)
            for current in floats:
                np.multiply(previous, self._rho32, out=scratch)
                np.add(current, scratch, out=current)
                previous = current
            if rest > 1:
                self._h[worlds] = values[rest - 1]
            power = out[first:, worlds]
            self._block_power(values, power, worlds)
            if scale is not None:
                np.multiply(power, scale, out=power)
        if rest == 1:
            self._spare_state, self._h = self._h, next_state
        return out.reshape(slots, batch, *self.shape)

    def _block_power(self, h: np.ndarray, out: np.ndarray, worlds: slice) -> None:
        """|h|² of a block (slots, worlds, n) complex64 into ``out`` (slots, worlds, n) float32."""
        _power_into(h, out)

    @property
    def h(self) -> np.ndarray:
        """Complex coefficients, shape (B, *shape), complex64 (a copy)."""
        return self._h.reshape(self.batch, *self.shape).copy()

    def power(self) -> np.ndarray:
        """Current power gains |h|², shape (B, *shape), float32 (a buffer reused every slot)."""
        _power_into(self._h, self._power.reshape(self.batch, self.size))
        return self._power


class GaussMarkovRician(GaussMarkovRayleigh):
    """Rician fading: a fixed line-of-sight phasor plus a Gauss–Markov scattered part.

    h = √(K/(K+1))·e^{jφ} + √(1/(K+1))·h_scatter, with φ drawn once per link at reset and
    E|h|² = 1 (the path loss carries the mean power).

    Parameters
    ----------
    shape : tuple of int
        Per-world shape of the coefficient array.
    rho : float
        Lag-one correlation of the scattered part in [0, 1).
    k_factor_db : float or array broadcastable to ``shape``
        Rician K-factor [dB]; −inf (or very small) gives Rayleigh.
    """

    def __init__(self, shape: Sequence[int], rho: float, k_factor_db: float | np.ndarray) -> None:
        super().__init__(shape, rho, innovation_power=1.0)
        k = np.power(10.0, np.asarray(k_factor_db, dtype=np.float64) / 10.0)
        self._los_amp = np.sqrt(k / (k + 1.0)).astype(np.float32)
        self._nlos_amp = np.sqrt(1.0 / (k + 1.0)).astype(np.float32)
        self._los = np.zeros((0, *self.shape), dtype=np.complex64)
        self._total = np.zeros((0, *self.shape), dtype=np.complex64)

    def reset(self, rngs: Sequence[np.random.Generator]) -> np.ndarray:
        self._los = np.zeros((len(rngs), *self.shape), dtype=np.complex64)
        self._total = np.empty((len(rngs), *self.shape), dtype=np.complex64)
        super().reset(rngs)
        phase = np.stack([rng.uniform(0.0, 2.0 * np.pi, size=self.shape) for rng in rngs])
        self._los = (self._los_amp * np.exp(1j * phase)).astype(np.complex64)
        return self.power()

    def _block_power(self, h: np.ndarray, out: np.ndarray, worlds: slice) -> None:
        shape = (h.shape[0], h.shape[1], *self.shape)
        total = h.reshape(shape) * self._nlos_amp
        np.add(total, self._los[worlds], out=total)
        _power_into(total, out.reshape(shape))

    def power(self) -> np.ndarray:
        np.multiply(self._h.reshape(self._total.shape), self._nlos_amp, out=self._total)
        np.add(self._total, self._los, out=self._total)
        return _power_into(self._total, self._power)
