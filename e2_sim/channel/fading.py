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
advances per second. Each complex innovation costs 16 random bits (a quarter of a 64-bit word
from ``bit_generator.random_raw``) and one lookup in a 65 536-entry table of complex values:

- the upper 11 bits pick the magnitude, a quantile of the Rayleigh law at probability
  (i + ½)/2048 (|e|² is an Exp(1) quantile; the table is renormalised to E|e|² = 1 exactly);
- the lower 5 bits pick one of 32 equally spaced phases, shifted per magnitude level by the
  golden-ratio sequence so that all 65 536 entries have distinct phases.

The resolution is 1/2048 in probability on |e|²; the tail is truncated at |e|² ≤ ln 4096 ≈ 8.3
times the mean (probability mass 2.4·10⁻⁴ moved inward), i.e. each real component stays within
≈ ±4.1 of its own standard deviation. Because the 32 phases are uniform for every magnitude,
E[e] = E[e²] = 0 hold exactly: real and imaginary parts are uncorrelated with variance σ²/2 each.

Every world takes a fixed number of 64-bit words from its own generator per slot, in order; for
small batches several slots are drawn per call (fewer Python calls, the table stays in cache),
which does not change the values a world sees.
"""

from __future__ import annotations

from collections.abc import Sequence
from functools import lru_cache

import numpy as np
from scipy.special import j0

MAGNITUDE_BITS = 11
"""Bits of each table index that select the Rayleigh magnitude quantile."""
PHASE_BITS = 5
"""Bits of each table index that select the phase."""
_TABLE_SIZE = 1 << (MAGNITUDE_BITS + PHASE_BITS)


def gauss_markov_rho(doppler_hz: float, slot_s: float) -> float:
    """Lag-one correlation ρ = J0(2π·f_d·T) of a Jakes channel sampled every ``slot_s`` seconds."""
    return float(j0(2.0 * np.pi * doppler_hz * slot_s))


@lru_cache(maxsize=1)
def complex_gaussian_table() -> np.ndarray:
    """The 65 536 equiprobable values of the unit-power complex Gaussian sampler.

    Returns
    -------
    ndarray, complex64, (65536,)
        Entry ``(i << PHASE_BITS) | j`` has magnitude quantile ``i`` and phase ``j``; E|e|² = 1.
    """
    n_mag, n_phase = 1 << MAGNITUDE_BITS, 1 << PHASE_BITS
    level = np.arange(n_mag, dtype=np.float64)
    power = -np.log1p(-(level + 0.5) / n_mag)  # Exp(1) quantiles of |e|²
    power /= power.mean()
    golden = (np.sqrt(5.0) - 1.0) / 2.0
    offset = (level * golden) % 1.0
    phase = 2.0 * np.pi * (np.arange(n_phase)[None, :] + offset[:, None]) / n_phase
    table = np.sqrt(power)[:, None] * np.exp(1j * phase)
    table = table.reshape(-1).astype(np.complex64)
    table.flags.writeable = False
    return table


# Innovations are drawn for several slots at once while the batch is small (fewer Python calls,
# the table stays in cache); about this many coefficients per refill.
_BLOCK_COEFFICIENTS = 1 << 16
_MAX_BLOCK_SLOTS = 16


class _TableSampler:
    """Draws complex Gaussians for ``B`` worlds, one generator each, into preallocated buffers.

    Each world consumes its generator's 64-bit words in order, a fixed number per slot, so the
    values do not depend on the batch size or on how many slots are drawn per refill. Buffers are
    slot-major, ``(slots, B, n)``, so that one slot of every world is one contiguous array.
    """

    def __init__(self, rngs: Sequence[np.random.Generator], n_per_world: int) -> None:
        self.rngs = list(rngs)
        self.n = n_per_world
        self.n_words = (n_per_world + 3) // 4  # four 16-bit indices per 64-bit word
        batch = max(len(self.rngs), 1)
        self.block = int(np.clip(_BLOCK_COEFFICIENTS // (batch * max(n_per_world, 1)), 1, _MAX_BLOCK_SLOTS))
        shape = (self.block, len(self.rngs))
        self._raw = np.empty((*shape, self.n_words), dtype=np.uint64)
        self._index = np.empty((*shape, n_per_world), dtype=np.intp)
        self._values = np.empty((*shape, n_per_world), dtype=np.complex64)
        self._next = self.block

    def _fill(self, table: np.ndarray, slots: int) -> None:
        raw, index = self._raw[:slots], self._index[:slots]
        words = slots * self.n_words
        for b, rng in enumerate(self.rngs):
            raw[:, b] = rng.bit_generator.random_raw(words).reshape(slots, self.n_words)
        np.copyto(index, raw.view(np.uint16)[..., : self.n])
        # indices are < 65 536 by construction: 'clip' skips the bounds check
        np.take(table, index, out=self._values[:slots], mode="clip")

    def draw_one(self, table: np.ndarray, out: np.ndarray) -> None:
        """Fill ``out`` (B, n) complex64 with one slot's values (outside the block sequence)."""
        if self._next != self.block:
            raise RuntimeError("draw_one() must come before the first next()")
        self._fill(table, 1)
        np.copyto(out, self._values[0])

    def next(self, table: np.ndarray) -> np.ndarray:
        """One slot's values (B, n) complex64 from ``table``: a view valid until the next call."""
        if self._next == self.block:
            self._fill(table, self.block)
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
        # two block buffers used in turn: the state is a view of the one written last
        self._holder: np.ndarray | None = None
        self._spare: np.ndarray | None = None

    @property
    def batch(self) -> int:
        return int(self._h.shape[0])

    @property
    def block_slots(self) -> int:
        """Slots of innovations drawn per generator call; `power_block` calls of this many slots
        are the cheapest [slots]."""
        return self._sampler.block

    def reset(self, rngs: Sequence[np.random.Generator]) -> np.ndarray:
        """Draw the stationary initial state for ``len(rngs)`` worlds; returns |h|², (B, *shape)."""
        batch = len(rngs)
        self._sampler = _TableSampler(rngs, self.size)
        self._h = np.empty((batch, self.size), dtype=np.complex64)
        self._power = np.empty((batch, *self.shape), dtype=np.float32)
        self._holder = self._spare = None
        self._sampler.draw_one(self._initial_table, self._h)
        return self.power()

    def step(self) -> np.ndarray:
        """Advance one slot; returns the power gains |h|², shape (B, *shape), float32."""
        noise = self._sampler.next(self._innovation_table)
        flat = self._h.view(np.float32)
        np.multiply(flat, self._rho32, out=flat)
        np.add(flat, noise.view(np.float32), out=flat)
        return self.power()

    def power_block(self, slots: int) -> np.ndarray:
        """Advance ``slots`` slots; returns |h|² of each, (slots, B, *shape) float32, a new array.

        World ``b`` of the result equals what ``slots`` calls of `step` return for it.
        """
        if slots <= 0:
            raise ValueError(f"slots must be > 0, got {slots}")
        batch = self.batch
        block = self._spare
        if block is None or block.shape[:2] != (slots, batch):
            block = np.empty((slots, batch, self.size), dtype=np.complex64)
        previous = self._h.view(np.float32)
        for i in range(slots):
            noise = self._sampler.next(self._innovation_table)
            current = block[i].view(np.float32)
            np.multiply(previous, self._rho32, out=current)
            np.add(current, noise.view(np.float32), out=current)
            previous = current
        # the state is a view of the block's last slot; the other block is written next time
        self._h = block[slots - 1]
        self._spare, self._holder = self._holder, block
        out = np.empty((slots, batch, *self.shape), dtype=np.float32)
        self._block_power(block, out.reshape(slots, batch, self.size))
        return out

    def _block_power(self, h: np.ndarray, out: np.ndarray) -> None:
        """|h|² of a block (slots, B, n) complex64 into ``out`` (slots, B, n) float32."""
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

    def _block_power(self, h: np.ndarray, out: np.ndarray) -> None:
        shape = (h.shape[0], self.batch, *self.shape)
        total = h.reshape(shape) * self._nlos_amp
        total += self._los
        _power_into(total, out.reshape(shape))

    def power(self) -> np.ndarray:
        np.multiply(self._h.reshape(self._total.shape), self._nlos_amp, out=self._total)
        np.add(self._total, self._los, out=self._total)
        return _power_into(self._total, self._power)
