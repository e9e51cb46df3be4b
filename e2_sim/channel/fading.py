"""Small-scale fading: Gauss–Markov (first-order autoregressive) Rayleigh and Rician processes.

Each process holds complex coefficients of shape ``(B, *shape)`` and one
`numpy.random.Generator` per batch member, so world ``b`` of a batch draws exactly what a single
world with the same generator draws. The update is

    h_t = ρ·h_{t−1} + √(1 − ρ²)·e_t,   e_t ~ CN(0, σ²),   ρ = J0(2π·f_d·T)

(Jakes' autocorrelation sampled at the slot period; Zhang & Guo, eq. for the cellular model).
The stationary mean power E|h|² equals the innovation variance σ².
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
from scipy.special import j0


def gauss_markov_rho(doppler_hz: float, slot_s: float) -> float:
    """Lag-one correlation ρ = J0(2π·f_d·T) of a Jakes channel sampled every ``slot_s`` seconds."""
    return float(j0(2.0 * np.pi * doppler_hz * slot_s))


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
    """

    def __init__(self, shape: Sequence[int], rho: float, innovation_power: float = 1.0) -> None:
        if not 0.0 <= rho < 1.0:
            raise ValueError(f"rho must be in [0, 1), got {rho}")
        if innovation_power <= 0.0:
            raise ValueError(f"innovation_power must be > 0, got {innovation_power}")
        self.shape = tuple(int(s) for s in shape)
        self.rho = float(rho)
        self.innovation_power = float(innovation_power)
        self._scale = np.float32(np.sqrt(innovation_power / 2.0))
        self._innovation_scale = np.float32(np.sqrt(1.0 - rho**2) * np.sqrt(innovation_power / 2.0))
        self._rngs: list[np.random.Generator] = []
        # real and imaginary parts kept apart: (B, 2, *shape) float32, updated in place
        self.h_re_im = np.zeros((0, 2, *self.shape), dtype=np.float32)
        self._noise = np.zeros((0, 2, *self.shape), dtype=np.float32)
        self._power = np.zeros((0, *self.shape), dtype=np.float32)

    def _draw(self) -> np.ndarray:
        for b, rng in enumerate(self._rngs):
            rng.standard_normal(out=self._noise[b], dtype=np.float32)
        return self._noise

    def reset(self, rngs: Sequence[np.random.Generator]) -> np.ndarray:
        """Draw the stationary initial state for ``len(rngs)`` worlds; returns |h|², (B, *shape)."""
        self._rngs = list(rngs)
        batch = len(self._rngs)
        self._noise = np.empty((batch, 2, *self.shape), dtype=np.float32)
        self._power = np.empty((batch, *self.shape), dtype=np.float32)
        self.h_re_im = self._draw() * self._scale
        return self.power()

    def step(self) -> np.ndarray:
        """Advance one slot; returns the power gains |h|², shape (B, *shape), float32."""
        noise = self._draw()
        noise *= self._innovation_scale
        self.h_re_im *= np.float32(self.rho)
        self.h_re_im += noise
        return self.power()

    @property
    def h(self) -> np.ndarray:
        """Complex coefficients, shape (B, *shape)."""
        return self.h_re_im[:, 0] + 1j * self.h_re_im[:, 1]

    def power(self) -> np.ndarray:
        """Current power gains |h|², shape (B, *shape), float32 (a buffer reused every slot)."""
        np.multiply(self.h_re_im[:, 0], self.h_re_im[:, 0], out=self._power)
        self._power += self.h_re_im[:, 1] * self.h_re_im[:, 1]
        return self._power


class GaussMarkovRician(GaussMarkovRayleigh):
    """Rician fading: a fixed line-of-sight phasor plus a Gauss–Markov scattered part.

    h = √(K/(K+1))·e^{jφ} + √(1/(K+1))·h_scatter, with φ drawn once per link at reset and
    E|h|² = 1 (the path loss carries the mean power).

    Parameters
    ----------
    k_factor_db : float or array broadcastable to ``shape``
        Rician K-factor [dB]; −inf (or very small) gives Rayleigh.
    """

    def __init__(self, shape: Sequence[int], rho: float, k_factor_db: float | np.ndarray) -> None:
        super().__init__(shape, rho, innovation_power=1.0)
        k = np.power(10.0, np.asarray(k_factor_db, dtype=np.float64) / 10.0)
        self._los_amp = np.sqrt(k / (k + 1.0)).astype(np.float32)
        self._nlos_amp = np.sqrt(1.0 / (k + 1.0)).astype(np.float32)
        self._los = np.zeros((0, *self.shape), dtype=np.complex64)

    def reset(self, rngs: Sequence[np.random.Generator]) -> np.ndarray:
        super().reset(rngs)
        phase = np.stack([rng.uniform(0.0, 2.0 * np.pi, size=self.shape) for rng in self._rngs])
        self._los = (self._los_amp * np.exp(1j * phase)).astype(np.complex64)
        return self.power()

    def power(self) -> np.ndarray:
        total = self._los + self._nlos_amp * self.h
        return (total.real**2 + total.imag**2).astype(np.float32)
