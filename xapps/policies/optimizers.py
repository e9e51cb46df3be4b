"""Centralized queue-weighted power optimizers for the multi-cell worlds: FP and WMMSE.

Both solve, on every subband separately, the weighted sum-rate problem over *links*: every
device ``n`` of every AP is a link from its AP, as if each link had its own transmitter
(intra-cell links interfere with each other; no one-link-per-AP limit), with weights
``w_n = q_n / sum(q)`` from the queue lengths in packets (empty queues weigh zero) and a box
constraint ``0 <= p_n <= P_max`` per link and subband:

    maximize  sum_n w_n log(1 + SINR_n(p)),   SINR_n = g_nn p_n / (sum_{j != n} g_nj p_j + sigma_n^2).

The solvers run all problems (worlds x subbands) at once on ``(M, N, N)`` arrays; the iteration
loop is the only Python loop. Both start at full power and stop after ``max_iter`` iterations
or when their objective moves by at most ``tol``, each problem on its own.

From links to an AP schedule
----------------------------
The world lets an AP serve one device per subband. The policies (`FpPolicy`, `WmmsePolicy`) keep,
for every AP and subband, the device whose link contributes most to the optimized objective,
``w_n log(1 + SINR_n)`` at the optimized link powers, and give it its optimized power; an AP
whose best contribution is zero stays silent. (The authors' public code has no such step: its
simulator lets every link of an AP transmit at once, superposed.)

References: K. Shen and W. Yu, "Fractional programming for communication systems - Part I",
IEEE TSP 2018; Q. Shi, M. Razaviyayn, Z.-Q. Luo and C. He, "An iteratively weighted MMSE
approach to distributed sum-utility maximization", IEEE TSP 2011.
"""

from __future__ import annotations

from abc import abstractmethod
from typing import Literal, overload

import numpy as np
from numpy.typing import ArrayLike, NDArray

from ric.protocol import Controls, Reports, WorldSpec
from xapps.policies import register
from xapps.policies.base import Policy

FloatArray = NDArray[np.float64]

_TINY = 1e-300  # guards 0/0 where a zero-weight link has no signal at all


def dbm_to_w(value_dbm: float) -> float:
    """Power in dBm to watts."""
    return float(10.0 ** ((value_dbm - 30.0) / 10.0))


def link_gains(gain: np.ndarray) -> FloatArray:
    """Link-level gain matrices of a multi-cell world, one per world and subband.

    Link ``n = k * U + u`` is device ``u`` of AP ``k`` served by AP ``k``.

    Parameters
    ----------
    gain : ndarray, (B, K, U, S, T)
        ``Reports.gain``: power gain from AP ``t`` to device ``u`` of AP ``k`` on subband ``s``
        [linear]; ``T = K``.

    Returns
    -------
    ndarray, float64, (B, S, N, N)
        ``G[b, s, n, m]`` = power gain from the transmitter of link ``m`` (AP ``m // U``) to the
        receiver of link ``n`` on subband ``s`` [linear], ``N = K * U``.
    """
    b, k, u, s, t = gain.shape
    per_rx = np.ascontiguousarray(gain.transpose(0, 3, 1, 2, 4), dtype=np.float64).reshape(b, s, k * u, t)
    return np.repeat(per_rx, u, axis=3)


def weighted_rate_nats(gain: ArrayLike, weight: ArrayLike, power_w: ArrayLike, noise_w: ArrayLike) -> FloatArray:
    """Weighted sum rate ``sum_n w_n ln(1 + SINR_n)`` of link problems [nat/s/Hz].

    Parameters
    ----------
    gain : array_like, (..., N, N)
        ``gain[..., n, m]``: power gain from the transmitter of link ``m`` to receiver ``n``.
    weight : array_like, broadcastable to (..., N)
        Link weights.
    power_w : array_like, broadcastable to (..., N)
        Transmit power of every link [W].
    noise_w : array_like, broadcastable to (..., N)
        Noise power at every receiver [W].

    Returns
    -------
    ndarray, float64, (...)
    """
    g = np.asarray(gain, dtype=np.float64)
    p = np.broadcast_to(np.asarray(power_w, dtype=np.float64), g.shape[:-1])
    signal = np.diagonal(g, axis1=-2, axis2=-1) * p
    total = np.matmul(g, p[..., None])[..., 0]
    sinr = signal / (total - signal + np.asarray(noise_w, dtype=np.float64))
    return np.asarray((np.asarray(weight, dtype=np.float64) * np.log1p(sinr)).sum(axis=-1), dtype=np.float64)


class _Problems:
    """Link problems flattened to ``M`` rows, gains normalized by the receivers' noise."""

    def __init__(self, gain: ArrayLike, weight: ArrayLike, p_max_w: ArrayLike, noise_w: ArrayLike) -> None:
        g = np.asarray(gain, dtype=np.float64)
        if g.ndim < 2 or g.shape[-1] != g.shape[-2]:
            raise ValueError(f"gain must have shape (..., N, N); got {g.shape}")
        self.lead = g.shape[:-2]
        n = g.shape[-1]
        shape = (*self.lead, n)
        noise = np.broadcast_to(np.asarray(noise_w, dtype=np.float64), shape)
        if np.any(noise <= 0):
            raise ValueError("noise_w must be positive")
        w = np.broadcast_to(np.asarray(weight, dtype=np.float64), shape)
        if np.any(w < 0):
            raise ValueError("weights must be non-negative")
        p_max = np.broadcast_to(np.asarray(p_max_w, dtype=np.float64), shape)
        if np.any(p_max < 0):
            raise ValueError("p_max_w must be non-negative")
        m = int(np.prod(self.lead, dtype=np.int64))
        self.gain = (g / noise[..., None]).reshape(m, n, n)
        self.weight = np.array(w.reshape(m, n))
        self.p_max = np.array(p_max.reshape(m, n))
        self.direct = np.diagonal(self.gain, axis1=1, axis2=2).copy()
        self.cross = self.gain.copy()
        self.cross[:, np.arange(n), np.arange(n)] = 0.0


class _Stopping:
    """Bookkeeping of per-problem stopping: powers of finished problems and the objective trace."""

    def __init__(self, m: int, n: int, first_objective: FloatArray, trace: bool) -> None:
        self.rows = np.arange(m)
        self.result = np.zeros((m, n))
        self.last = first_objective.copy()
        self.trace: list[FloatArray] | None = [first_objective.copy()] if trace else None

    def record(self, objective: FloatArray) -> None:
        if self.trace is not None:
            self.last[self.rows] = objective
            self.trace.append(self.last.copy())

    def finish(self, done: np.ndarray, power: FloatArray) -> np.ndarray:
        """Store the converged rows' powers; return the mask of rows still running."""
        self.result[self.rows[done]] = power[done]
        keep = ~done
        self.rows = self.rows[keep]
        return keep

    def output(self, lead: tuple[int, ...], power: FloatArray) -> tuple[FloatArray, FloatArray]:
        self.result[self.rows] = power
        n = self.result.shape[1]
        trace = np.stack(self.trace) if self.trace is not None else np.zeros((0, self.result.shape[0]))
        return self.result.reshape(*lead, n), trace.reshape(trace.shape[0], *lead)


@overload
def fp_power(
    gain: ArrayLike, weight: ArrayLike, p_max_w: ArrayLike, noise_w: ArrayLike,
    max_iter: int = ..., tol: float = ..., trace: Literal[False] = ...,
) -> FloatArray: ...


@overload
def fp_power(
    gain: ArrayLike, weight: ArrayLike, p_max_w: ArrayLike, noise_w: ArrayLike,
    max_iter: int = ..., tol: float = ..., *, trace: Literal[True],
) -> tuple[FloatArray, FloatArray]: ...


def fp_power(
    gain: ArrayLike, weight: ArrayLike, p_max_w: ArrayLike, noise_w: ArrayLike,
    max_iter: int = 100, tol: float = 1e-3, trace: bool = False,
) -> FloatArray | tuple[FloatArray, FloatArray]:
    """Weighted sum-rate power control by fractional programming (quadratic transform).

    Each iteration, from the current powers ``p``: ``gamma_n = SINR_n(p)``;
    ``y_n = sqrt(w_n (1 + gamma_n) g_nn p_n) / (sum_j g_nj p_j + sigma_n^2)``;
    ``p_n = min(P_max_n, y_n^2 w_n (1 + gamma_n) g_nn / (sum_j y_j^2 g_jn)^2)``.
    The surrogate ``f(p, y, gamma) = sum_n [w_n ln(1 + gamma_n) - w_n gamma_n
    + 2 y_n sqrt(w_n (1 + gamma_n) g_nn p_n) - y_n^2 (sum_j g_nj p_j + sigma_n^2)]``
    is evaluated after every power update; a problem stops when it improves by ``<= tol``.

    Parameters
    ----------
    gain : array_like, (..., N, N)
        ``gain[..., n, m]``: power gain from the transmitter of link ``m`` to the receiver of
        link ``n`` [linear]; every leading index is an independent problem.
    weight : array_like, broadcastable to (..., N)
        Non-negative link weights.
    p_max_w : array_like, broadcastable to (..., N)
        Maximum power of every link [W]; 0 removes a link.
    noise_w : array_like, broadcastable to (..., N)
        Noise power at every receiver [W].
    max_iter : int
        Iteration limit.
    tol : float
        Stop a problem once its surrogate improves by at most this much [nat].
    trace : bool
        Also return the objective trace.

    Returns
    -------
    power_w : ndarray, float64, (..., N)
        Optimized powers [W].
    objective : ndarray, float64, (I + 1, ...), only with ``trace=True``
        Entry 0 is the weighted sum rate at full power (the surrogate at its optimal
        auxiliaries), entry ``i`` the surrogate after power update ``i`` [nat]; a stopped
        problem repeats its last value. Non-decreasing by construction.
    """
    pr = _Problems(gain, weight, p_max_w, noise_w)
    g, cross, direct, w, p_max = pr.gain, pr.cross, pr.direct, pr.weight, pr.p_max
    m, n = w.shape
    p = p_max.copy()
    interference = np.matmul(cross, p[..., None])[..., 0]
    gamma = direct * p / (interference + 1.0)
    previous = (w * np.log1p(gamma)).sum(axis=1)  # surrogate at p0 with its optimal y and gamma
    stop = _Stopping(m, n, previous, trace)
    for _ in range(max_iter):
        signal = direct * p
        impairment = interference + 1.0
        gamma = signal / impairment
        a = w * (1.0 + gamma)
        y = np.sqrt(a * signal) / (impairment + signal)
        y2 = y * y
        column = np.matmul(y2[:, None, :], g)[:, 0, :]  # sum_j y_j^2 g_jn
        c = a * direct
        p_new = np.minimum(p_max, y2 * c / np.maximum(column * column, _TINY))
        objective = (w * (np.log1p(gamma) - gamma) + 2.0 * y * np.sqrt(c * p_new) - y2 - p_new * column).sum(axis=1)
        stop.record(objective)
        done = objective - previous <= tol
        if done.any():
            keep = stop.finish(done, p_new)
            if not keep.any():
                p = p_new[keep]
                break
            g, cross, direct, w, p_max = g[keep], cross[keep], direct[keep], w[keep], p_max[keep]
            p_new, objective = p_new[keep], objective[keep]
        p = p_new
        previous = objective
        interference = np.matmul(cross, p[..., None])[..., 0]
    power, objective_trace = stop.output(pr.lead, p)
    return (power, objective_trace) if trace else power


@overload
def wmmse_power(
    gain: ArrayLike, weight: ArrayLike, p_max_w: ArrayLike, noise_w: ArrayLike,
    max_iter: int = ..., tol: float = ..., trace: Literal[False] = ...,
) -> FloatArray: ...


@overload
def wmmse_power(
    gain: ArrayLike, weight: ArrayLike, p_max_w: ArrayLike, noise_w: ArrayLike,
    max_iter: int = ..., tol: float = ..., *, trace: Literal[True],
) -> tuple[FloatArray, FloatArray]: ...


def wmmse_power(
    gain: ArrayLike, weight: ArrayLike, p_max_w: ArrayLike, noise_w: ArrayLike,
    max_iter: int = 100, tol: float = 1e-3, trace: bool = False,
) -> FloatArray | tuple[FloatArray, FloatArray]:
    """Weighted sum-rate power control by weighted MMSE (single-antenna links).

    With amplitudes ``v = sqrt(p)`` starting at ``sqrt(P_max)``: receiver
    ``u_i = sqrt(g_ii) v_i / (sum_j g_ij v_j^2 + sigma_i^2)``, MSE weight
    ``w_i = 1 / (1 - u_i sqrt(g_ii) v_i)``; then repeat
    ``v_i = clip(a_i w_i u_i sqrt(g_ii) / sum_j a_j w_j u_j^2 g_ji, 0, sqrt(P_max_i))`` followed by
    the ``u`` and ``w`` updates, with ``a`` the link weights. The weighted-MSE objective
    ``sum_i a_i (w_i e_i - ln w_i)`` (``e_i`` the MSE of the MMSE receiver, ``w_i = 1 / e_i``,
    so the objective equals ``sum_i a_i (1 + ln e_i)``) is evaluated after every iteration; a
    problem stops when it changes by ``<= tol``.

    Parameters
    ----------
    gain, weight, p_max_w, noise_w, max_iter : as `fp_power`.
    tol : float
        Stop a problem once its objective changes by at most this much [nat].
    trace : bool
        Also return the objective trace.

    Returns
    -------
    power_w : ndarray, float64, (..., N)
        Optimized powers ``v^2`` [W].
    objective : ndarray, float64, (I + 1, ...), only with ``trace=True``
        Weighted-MSE objective at the start (entry 0) and after every iteration; a stopped
        problem repeats its last value. Non-increasing by construction.
    """
    pr = _Problems(gain, weight, p_max_w, noise_w)
    g, cross, direct, a, v_max = pr.gain, pr.cross, pr.direct, pr.weight, np.sqrt(pr.p_max)
    m, n = a.shape
    root = np.sqrt(direct)
    v = v_max.copy()
    v2 = v * v
    impairment = np.matmul(cross, v2[..., None])[..., 0] + 1.0
    total = impairment + direct * v2
    u = root * v / total
    mse = impairment / total
    previous = (a * (1.0 + np.log(mse))).sum(axis=1)
    stop = _Stopping(m, n, previous, trace)
    for _ in range(max_iter):
        c = a * u / mse  # a_i w_i u_i
        column = np.matmul((c * u)[:, None, :], g)[:, 0, :]  # sum_j a_j w_j u_j^2 g_ji
        v = np.minimum(c * root / np.maximum(column, _TINY), v_max)
        v2 = v * v
        impairment = np.matmul(cross, v2[..., None])[..., 0] + 1.0
        total = impairment + direct * v2
        u = root * v / total
        mse = impairment / total
        objective = (a * (1.0 + np.log(mse))).sum(axis=1)
        stop.record(objective)
        done = np.abs(objective - previous) <= tol
        if done.any():
            keep = stop.finish(done, v2)
            if not keep.any():
                v2 = v2[keep]
                break
            g, cross, direct, a, v_max, root = g[keep], cross[keep], direct[keep], a[keep], v_max[keep], root[keep]
            u, mse, v2, objective = u[keep], mse[keep], v2[keep], objective[keep]
        previous = objective
    power, objective_trace = stop.output(pr.lead, v2)
    return (power, objective_trace) if trace else power


class _QueueWeightedOptimizer(Policy):
    """Shared part of FP and WMMSE as multi-cell policies (see the module docstring)."""

    genie = True
    world_kinds = ("multicell",)
    max_iter = 100
    tol = 1e-3

    def __init__(self, spec: WorldSpec, seed: int = 0) -> None:
        super().__init__(spec, seed)
        u = spec.n_users_max
        self._p_max_link_w = np.repeat(self.max_power_w().astype(np.float64), u)  # (N,)
        self._noise_w = dbm_to_w(spec.noise_dbm)

    @abstractmethod
    def solve(self, gain: FloatArray, weight: FloatArray, p_max_w: FloatArray) -> FloatArray:
        """Link powers (B, S, N) [W] for link gains (B, S, N, N), weights and limits (B, S, N)."""

    def decide(self, reports: Reports) -> Controls:
        b, k, u = reports.queue_packets.shape
        s = self.spec.n_resources
        n = k * u
        eligible = self.eligible(reports).transpose(0, 3, 1, 2).reshape(b, s, n)  # (B, S, N)
        queue = np.where(reports.active, reports.queue_packets.astype(np.float64), 0.0).reshape(b, 1, n)
        total = queue.sum(axis=2, keepdims=True)
        weight = np.where(eligible, queue / np.maximum(total, 1.0), 0.0)  # (B, S, N)
        gain = link_gains(reports.gain)
        p_max = np.where(eligible, self._p_max_link_w, 0.0)
        power = self.solve(gain, weight, p_max)
        signal = np.diagonal(gain, axis1=2, axis2=3) * power
        received = np.matmul(gain, power[..., None])[..., 0]
        sinr = signal / np.maximum(received - signal + self._noise_w, self._noise_w)
        contribution = (weight * np.log1p(sinr)).reshape(b, s, k, u)
        best = np.argmax(contribution, axis=3)  # (B, S, K)
        best_contribution = np.take_along_axis(contribution, best[..., None], axis=3)[..., 0]
        best_power = np.take_along_axis(power.reshape(b, s, k, u), best[..., None], axis=3)[..., 0]
        best_power = best_power.astype(np.float32)  # as sent; a power below float32 range is off
        on = (best_contribution > 0.0) & (best_power > 0.0)
        controls = Controls.off(b, k, s)
        controls.user[...] = np.where(on, best, -1).transpose(0, 2, 1)
        controls.power_w[...] = np.where(on, best_power, 0.0).transpose(0, 2, 1)
        return controls


@register
class FpPolicy(_QueueWeightedOptimizer):
    """FP (fractional programming), queue-weighted and centralized with genie CSI.

    Per subband `fp_power` over all links with weights ``q_n / sum(q)`` from the queue lengths in
    packets, then one device per AP and subband (module docstring).
    """

    name = "fp"

    def solve(self, gain: FloatArray, weight: FloatArray, p_max_w: FloatArray) -> FloatArray:
        return fp_power(gain, weight, p_max_w, self._noise_w, self.max_iter, self.tol)


@register
class WmmsePolicy(_QueueWeightedOptimizer):
    """WMMSE, queue-weighted and centralized with genie CSI.

    Per subband `wmmse_power` over all links with weights ``q_n / sum(q)`` from the queue
    lengths in packets, then one device per AP and subband (module docstring).
    """

    name = "wmmse"

    def solve(self, gain: FloatArray, weight: FloatArray, p_max_w: FloatArray) -> FloatArray:
        return wmmse_power(gain, weight, p_max_w, self._noise_w, self.max_iter, self.tol)
