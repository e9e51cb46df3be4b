"""Antenna patterns, vectorized over any array shape; every angle is in degrees.

- Base-station sector antenna, horizontal pattern of 3GPP TR 36.814 Table A.2.1.1-2:
  G(φ) = G_max − min(12·(φ/φ_3dB)², A_m), φ_3dB the 3-dB beamwidth (so G(φ_3dB/2) = G_max − 3 dB).
  The cognitive satellite–terrestrial paper (Zhai et al. 2025, eq. 2) and its public code use the
  same form with a roll-off of 6 instead of 12: 20 dBi − min(6·(θ/30°)², 20 dB).
- Satellite spot beam (ITU-R S.672 / TR 38.811 style Bessel pattern):
  G(θ) = G_max·(J1(u)/(2u) + 36·J3(u)/u³)², u = 2.07123·sin θ / sin θ_3dB, so G(θ_3dB) = G_max − 3 dB.
"""

from __future__ import annotations

import math

import numpy as np
from numpy.typing import ArrayLike
from scipy.special import j0, j1

#: Roll-off of the quadratic term of the 3GPP TR 36.814 sector pattern [dB].
ROLLOFF_3GPP_DB = 12.0
#: u at the half-power angle of the Bessel beam: (J1(u)/2u + 36·J3(u)/u³)² = 1/2 there.
BESSEL_HALF_POWER_U = 2.07123
# Below this u, J3 comes from its power series (the recurrence from J0, J1 cancels there).
_J3_SERIES_BELOW_U = 1.0
# Terms of the J3 power series: (−1)^k / (k!·(k+3)!), k = 0..7 (error < 1e-22 for u < 1).
_J3_SERIES = np.array([(-1.0) ** k / (math.factorial(k) * math.factorial(k + 3)) for k in range(8)])


def wrap_offset_deg(azimuth_deg: ArrayLike, boresight_deg: ArrayLike) -> np.ndarray:
    """Absolute angle between an azimuth and a boresight, wrapped to [0, 180] [deg].

    Parameters
    ----------
    azimuth_deg, boresight_deg : array_like
        Directions in the same convention [deg], broadcastable.
    """
    diff = np.mod(np.asarray(azimuth_deg, dtype=np.float64) - np.asarray(boresight_deg, dtype=np.float64), 360.0)
    return np.minimum(diff, 360.0 - diff)


def sector_gain_db(
    offset_deg: ArrayLike,
    max_gain_dbi: float,
    beamwidth_3db_deg: float,
    front_to_back_db: float,
    rolloff_db: float = ROLLOFF_3GPP_DB,
) -> np.ndarray:
    """Sector pattern G(φ) = G_max − min(c·(φ/φ_3dB)², A_m) [dBi].

    Parameters
    ----------
    offset_deg : array_like
        Angle off boresight φ, any shape [deg]; negative angles count like positive ones.
    max_gain_dbi : float
        Boresight gain G_max [dBi].
    beamwidth_3db_deg : float
        φ_3dB [deg].
    front_to_back_db : float
        Floor A_m below the boresight gain [dB].
    rolloff_db : float
        c: 12 for 3GPP TR 36.814 (default), 6 for the paper's eq. (2).

    Returns
    -------
    numpy.ndarray
        Gain [dBi], shape of ``offset_deg``.
    """
    if beamwidth_3db_deg <= 0:
        raise ValueError(f"beamwidth_3db_deg must be > 0, got {beamwidth_3db_deg}")
    phi = np.asarray(offset_deg, dtype=np.float64) / beamwidth_3db_deg
    return max_gain_dbi - np.minimum(rolloff_db * phi * phi, front_to_back_db)


def sector_gain_3gpp_db(
    offset_deg: ArrayLike, max_gain_dbi: float, beamwidth_3db_deg: float, front_to_back_db: float
) -> np.ndarray:
    """3GPP TR 36.814 sector pattern G_max − min(12·(φ/φ_3dB)², A_m) [dBi] (shape of ``offset_deg``)."""
    return sector_gain_db(offset_deg, max_gain_dbi, beamwidth_3db_deg, front_to_back_db, ROLLOFF_3GPP_DB)


def sector_gain_madqn_code_db(offset_deg: ArrayLike) -> np.ndarray:
    """The MADQN-IL public code's sector gain 20 dBi − min(6·(θ/30°)², 20 dB) [dBi] (shape of ``offset_deg``)."""
    return sector_gain_db(offset_deg, max_gain_dbi=20.0, beamwidth_3db_deg=30.0, front_to_back_db=20.0, rolloff_db=6.0)


def bessel_beam_gain_db(offset_deg: ArrayLike, max_gain_dbi: float, half_power_angle_deg: float) -> np.ndarray:
    """Satellite spot-beam gain G_max·(J1(u)/(2u) + 36·J3(u)/u³)² in dBi.

    Parameters
    ----------
    offset_deg : array_like
        Angle at the satellite between the beam axis and the receiver, any shape [deg].
    max_gain_dbi : float
        Peak gain on the beam axis [dBi].
    half_power_angle_deg : float
        Off-axis angle θ_3dB at which the gain is 3 dB below the peak [deg].

    Returns
    -------
    numpy.ndarray
        Gain [dBi], shape of ``offset_deg``; nulls of the pattern are floored at 1e-30 (−300 dB).
    """
    if half_power_angle_deg <= 0:
        raise ValueError(f"half_power_angle_deg must be > 0, got {half_power_angle_deg}")
    theta = np.radians(np.asarray(offset_deg, dtype=np.float64))
    u = BESSEL_HALF_POWER_U * np.abs(np.sin(theta)) / np.sin(np.radians(half_power_angle_deg))
    return max_gain_dbi + 10.0 * np.log10(np.maximum(bessel_beam_pattern(u), 1e-30))


def bessel_beam_pattern(u: ArrayLike) -> np.ndarray:
    """Normalised Bessel beam pattern (J1(u)/(2u) + 36·J3(u)/u³)², 1 at u = 0 (linear, any shape).

    J3 is obtained from J0 and J1 by the recurrence J3 = (8/u² − 1)·J1 − (4/u)·J0 for u ≥ 1 and
    from its power series below, which is much faster than a general-order Bessel routine.
    """
    u = np.abs(np.asarray(u, dtype=np.float64))
    pattern = np.empty_like(u)
    small = u < _J3_SERIES_BELOW_U
    if small.any():
        us = u[small]
        x = 0.25 * us * us
        j3_over_u3 = np.zeros_like(us)  # series: J3(u)/u³ = Σ_k c_k·(u/2)^(2k) / 8
        for coefficient in _J3_SERIES[::-1]:
            j3_over_u3 *= x
            j3_over_u3 += coefficient
        j3_over_u3 /= 8.0
        us_safe = np.where(us > 0.0, us, 1.0)
        j1_over_2u = np.where(us > 0.0, 0.5 * j1(us_safe) / us_safe, 0.25)
        pattern[small] = (j1_over_2u + 36.0 * j3_over_u3) ** 2
    large = ~small
    if large.any():
        ul = u[large]
        inv = 1.0 / ul
        jv1 = j1(ul)
        j3 = (8.0 * inv * inv - 1.0) * jv1 - 4.0 * inv * j0(ul)
        pattern[large] = (0.5 * jv1 * inv + 36.0 * j3 * inv * inv * inv) ** 2
    return pattern


def off_axis_angle_deg(apex_m: np.ndarray, axis_target_m: np.ndarray, point_m: np.ndarray) -> np.ndarray:
    """Angle at ``apex`` between the directions to ``axis_target`` and to ``point`` [deg].

    Parameters
    ----------
    apex_m, axis_target_m, point_m : numpy.ndarray
        Positions (..., 3) [m], broadcastable (e.g. satellite (B, 1, 1, 3), beam centres
        (1, NB, 1, 3), users (1, 1, N, 3)).

    Returns
    -------
    numpy.ndarray
        Angles in [0, 180] [deg], the broadcast shape without the last axis.
    """
    a = np.asarray(axis_target_m, dtype=np.float64) - apex_m
    p = np.asarray(point_m, dtype=np.float64) - apex_m
    cos = np.sum(a * p, axis=-1) / (np.linalg.norm(a, axis=-1) * np.linalg.norm(p, axis=-1))
    return np.degrees(np.arccos(np.clip(cos, -1.0, 1.0)))
