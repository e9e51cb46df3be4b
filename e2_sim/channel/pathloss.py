"""Large-scale path loss models, vectorized over any array shape.

Every function takes distances in metres and returns a loss in dB (positive = attenuation).
References: 3GPP TR 36.814 (LTE macro), TR 38.901 §7.4.1-1 (UMi street canyon, UMa) and
Table 7.4.2-1 (LoS probability), TR 38.811 §6.6 (NTN: free space, LoS probability per
elevation, gaseous absorption), WINNER II D1.1.2 §4.3 (B1, C2), Al-Hourani et al., IEEE WCL 2014
(air-to-ground LoS probability).
"""

from __future__ import annotations

import numpy as np
from numpy.typing import ArrayLike
from scipy.constants import speed_of_light

# TR 38.811 Table 6.6.1-1: LoS probability [%] at elevations 10°, 20°, ..., 90°.
NTN_LOS_ELEVATION_DEG = np.arange(10.0, 91.0, 10.0)
NTN_LOS_PROBABILITY_PERCENT = {
    "dense_urban": np.array([28.2, 33.1, 39.8, 46.8, 53.7, 61.2, 73.8, 82.0, 98.1]),
    "urban": np.array([24.6, 38.6, 49.3, 61.3, 72.6, 80.5, 91.9, 96.8, 99.2]),
    "suburban": np.array([78.2, 86.9, 91.9, 92.9, 93.5, 94.0, 94.9, 95.2, 99.8]),
}

# Al-Hourani et al. 2014, (a, b, eta_los_db, eta_nlos_db) per environment.
A2G_PARAMETERS = {
    "suburban": (4.88, 0.43, 0.1, 21.0),
    "urban": (9.61, 0.16, 1.0, 20.0),
    "dense_urban": (12.08, 0.11, 1.6, 23.0),
    "highrise_urban": (27.23, 0.08, 2.3, 34.0),
}


def lte_macro_db(distance_m: ArrayLike) -> np.ndarray:
    """LTE macro-cell loss 128.1 + 37.6·log10(d / 1 km) (TR 36.814 Table A.2.1.1-2) [dB]."""
    d_km = np.asarray(distance_m, dtype=np.float64) / 1000.0
    return 128.1 + 37.6 * np.log10(d_km)


def free_space_db(distance_m: ArrayLike, carrier_hz: float) -> np.ndarray:
    """Free-space loss 20·log10(4π·d·f / c) (= 32.45 + 20·log10(d/km) + 20·log10(f/MHz)) [dB]."""
    d = np.asarray(distance_m, dtype=np.float64)
    return 20.0 * np.log10(4.0 * np.pi * d * carrier_hz / speed_of_light)


def _breakpoint_m(h_bs_m: ArrayLike, h_ut_m: ArrayLike, carrier_hz: float) -> np.ndarray:
    """Effective breakpoint distance d'_BP = 4·h'_BS·h'_UT·f/c with 1 m environment height."""
    return 4.0 * (np.asarray(h_bs_m) - 1.0) * (np.asarray(h_ut_m) - 1.0) * carrier_hz / speed_of_light


def umi_street_canyon_db(
    distance_2d_m: ArrayLike, h_bs_m: ArrayLike, h_ut_m: ArrayLike, carrier_hz: float, los: ArrayLike
) -> np.ndarray:
    """TR 38.901 Table 7.4.1-1 UMi street canyon, LoS or NLoS per link [dB].

    Parameters
    ----------
    distance_2d_m : array
        Ground distance [m].
    h_bs_m, h_ut_m : array
        Antenna heights of base station and user [m].
    carrier_hz : float
        Carrier frequency [Hz].
    los : array of bool
        Whether each link is line of sight.
    """
    d2 = np.maximum(np.asarray(distance_2d_m, dtype=np.float64), 10.0)
    h_bs = np.asarray(h_bs_m, dtype=np.float64)
    h_ut = np.asarray(h_ut_m, dtype=np.float64)
    d3 = np.sqrt(d2**2 + (h_bs - h_ut) ** 2)
    fc_ghz = carrier_hz / 1e9
    d_bp = _breakpoint_m(h_bs, h_ut, carrier_hz)
    pl1 = 32.4 + 21.0 * np.log10(d3) + 20.0 * np.log10(fc_ghz)
    pl2 = 32.4 + 40.0 * np.log10(d3) + 20.0 * np.log10(fc_ghz) - 9.5 * np.log10(d_bp**2 + (h_bs - h_ut) ** 2)
    pl_los = np.where(d2 <= d_bp, pl1, pl2)
    pl_nlos = 35.3 * np.log10(d3) + 22.4 + 21.3 * np.log10(fc_ghz) - 0.3 * (h_ut - 1.5)
    return np.where(np.asarray(los, dtype=bool), pl_los, np.maximum(pl_los, pl_nlos))


def uma_db(
    distance_2d_m: ArrayLike, h_bs_m: ArrayLike, h_ut_m: ArrayLike, carrier_hz: float, los: ArrayLike
) -> np.ndarray:
    """TR 38.901 Table 7.4.1-1 UMa, LoS or NLoS per link [dB] (parameters as `umi_street_canyon_db`)."""
    d2 = np.maximum(np.asarray(distance_2d_m, dtype=np.float64), 10.0)
    h_bs = np.asarray(h_bs_m, dtype=np.float64)
    h_ut = np.asarray(h_ut_m, dtype=np.float64)
    d3 = np.sqrt(d2**2 + (h_bs - h_ut) ** 2)
    fc_ghz = carrier_hz / 1e9
    d_bp = _breakpoint_m(h_bs, h_ut, carrier_hz)
    pl1 = 28.0 + 22.0 * np.log10(d3) + 20.0 * np.log10(fc_ghz)
    pl2 = 28.0 + 40.0 * np.log10(d3) + 20.0 * np.log10(fc_ghz) - 9.0 * np.log10(d_bp**2 + (h_bs - h_ut) ** 2)
    pl_los = np.where(d2 <= d_bp, pl1, pl2)
    pl_nlos = 13.54 + 39.08 * np.log10(d3) + 20.0 * np.log10(fc_ghz) - 0.6 * (h_ut - 1.5)
    return np.where(np.asarray(los, dtype=bool), pl_los, np.maximum(pl_los, pl_nlos))


def umi_los_probability(distance_2d_m: ArrayLike) -> np.ndarray:
    """TR 38.901 Table 7.4.2-1 UMi LoS probability: 1 up to 18 m, then 18/d + e^(−d/36)(1 − 18/d)."""
    d = np.maximum(np.asarray(distance_2d_m, dtype=np.float64), 1e-9)
    return np.where(d <= 18.0, 1.0, 18.0 / d + np.exp(-d / 36.0) * (1.0 - 18.0 / d))


def winner2_db(distance_m: ArrayLike, h_bs_m: ArrayLike, carrier_hz: float, scenario: str = "C2_nlos") -> np.ndarray:
    """WINNER II (D1.1.2 Table 4-4) path loss [dB].

    ``B1_los``: 22.7·log10(d) + 41.0 + 20·log10(f/5 GHz);
    ``C2_nlos``: (44.9 − 6.55·log10(h_BS))·log10(d) + 34.46 + 5.83·log10(h_BS) + 23·log10(f/5 GHz).
    """
    d = np.maximum(np.asarray(distance_m, dtype=np.float64), 1.0)
    f_term = np.log10(carrier_hz / 5e9)
    if scenario == "B1_los":
        return 22.7 * np.log10(d) + 41.0 + 20.0 * f_term
    if scenario == "C2_nlos":
        h = np.asarray(h_bs_m, dtype=np.float64)
        return (44.9 - 6.55 * np.log10(h)) * np.log10(d) + 34.46 + 5.83 * np.log10(h) + 23.0 * f_term
    raise ValueError(f"unknown WINNER II scenario {scenario!r}; expected 'B1_los' or 'C2_nlos'")


def elevation_deg(tx_pos_m: np.ndarray, rx_pos_m: np.ndarray) -> np.ndarray:
    """Elevation angle of ``tx`` seen from ``rx`` on a flat local frame, in degrees (…, 3) → (…)."""
    delta = np.asarray(tx_pos_m, dtype=np.float64) - np.asarray(rx_pos_m, dtype=np.float64)
    ground = np.hypot(delta[..., 0], delta[..., 1])
    return np.degrees(np.arctan2(delta[..., 2], ground))


def a2g_los_probability(elevation_deg_: ArrayLike, environment: str = "urban") -> np.ndarray:
    """Air-to-ground LoS probability 1 / (1 + a·exp(−b(θ − a))) (Al-Hourani 2014), θ in degrees."""
    a, b, _, _ = A2G_PARAMETERS[environment]
    theta = np.asarray(elevation_deg_, dtype=np.float64)
    return 1.0 / (1.0 + a * np.exp(-b * (theta - a)))


def a2g_db(distance_m: ArrayLike, carrier_hz: float, los: ArrayLike, environment: str = "urban") -> np.ndarray:
    """Air-to-ground loss: free space plus the environment's LoS or NLoS excess loss [dB]."""
    _, _, eta_los, eta_nlos = A2G_PARAMETERS[environment]
    excess = np.where(np.asarray(los, dtype=bool), eta_los, eta_nlos)
    return free_space_db(distance_m, carrier_hz) + excess


def a2g_mean_db(
    distance_m: ArrayLike, elevation_deg_: ArrayLike, carrier_hz: float, environment: str = "urban"
) -> np.ndarray:
    """LoS-probability-weighted air-to-ground loss (Al-Hourani 2014, eq. 5) [dB]."""
    _, _, eta_los, eta_nlos = A2G_PARAMETERS[environment]
    p_los = a2g_los_probability(elevation_deg_, environment)
    return free_space_db(distance_m, carrier_hz) + p_los * eta_los + (1.0 - p_los) * eta_nlos


def ntn_los_probability(elevation_deg_: ArrayLike, environment: str = "urban") -> np.ndarray:
    """TR 38.811 Table 6.6.1-1 LoS probability, linear in elevation between the table's points."""
    table = NTN_LOS_PROBABILITY_PERCENT[environment] / 100.0
    theta = np.clip(np.asarray(elevation_deg_, dtype=np.float64), 10.0, 90.0)
    return np.interp(theta, NTN_LOS_ELEVATION_DEG, table)


def atmospheric_db(elevation_deg_: ArrayLike, zenith_attenuation_db: float) -> np.ndarray:
    """Gaseous absorption along a slant path, A_zenith / sin(θ) (TR 38.811 §6.6.4, ITU-R P.676) [dB].

    Elevations below 10° are clamped to 10° where the flat-layer approximation stops holding.
    """
    theta = np.radians(np.clip(np.asarray(elevation_deg_, dtype=np.float64), 10.0, 90.0))
    return zenith_attenuation_db / np.sin(theta)


def db_to_lin(value_db: ArrayLike) -> np.ndarray:
    """10^(x/10)."""
    return np.power(10.0, np.asarray(value_db, dtype=np.float64) / 10.0)


def lin_to_db(value: ArrayLike) -> np.ndarray:
    """10·log10(x)."""
    return 10.0 * np.log10(np.asarray(value, dtype=np.float64))


def dbm_to_watt(value_dbm: ArrayLike) -> np.ndarray:
    """Power in dBm to watts."""
    return np.power(10.0, (np.asarray(value_dbm, dtype=np.float64) - 30.0) / 10.0)


def watt_to_dbm(value_w: ArrayLike) -> np.ndarray:
    """Power in watts to dBm."""
    return 10.0 * np.log10(np.asarray(value_w, dtype=np.float64)) + 30.0
