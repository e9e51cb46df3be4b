"""Path-loss models against hand-evaluated points of their standards' formulas."""

from __future__ import annotations

import math

import numpy as np
import pytest
from scipy.constants import speed_of_light

from e2_sim.channel import pathloss as pl

# Hand-evaluated numbers are compared to this many dB.
DB_TOL = 1e-6
# 32.45 in the free-space shorthand is 20·log10(4π·10⁹/c) = 32.4478… rounded.
SHORTHAND_TOL_DB = 0.005


def log10(x: float) -> float:
    return math.log10(x)


def test_lte_macro_reference_distances() -> None:
    assert float(pl.lte_macro_db(1000.0)) == pytest.approx(128.1, abs=DB_TOL)
    assert float(pl.lte_macro_db(100.0)) == pytest.approx(128.1 - 37.6, abs=DB_TOL)
    assert float(pl.lte_macro_db(500.0)) == pytest.approx(128.1 + 37.6 * log10(0.5), abs=DB_TOL)


@pytest.mark.parametrize(("distance_m", "carrier_hz"), [(1000.0, 2e9), (35_786e3, 20e9), (550e3, 2.0e9), (50.0, 28e9)])
def test_free_space_matches_the_km_mhz_shorthand(distance_m: float, carrier_hz: float) -> None:
    shorthand = 32.45 + 20.0 * log10(distance_m / 1e3) + 20.0 * log10(carrier_hz / 1e6)
    exact = 20.0 * log10(4.0 * math.pi * distance_m * carrier_hz / speed_of_light)
    value = float(pl.free_space_db(distance_m, carrier_hz))
    assert value == pytest.approx(exact, abs=DB_TOL)
    assert value == pytest.approx(shorthand, abs=SHORTHAND_TOL_DB)


# TR 38.901 Table 7.4.1-1 evaluated by hand: fc = 3.5 GHz, h_UT = 1.5 m, h_E = 1 m.
FC_HZ = 3.5e9
H_UT = 1.5


def _bp(h_bs: float) -> float:
    return 4.0 * (h_bs - 1.0) * (H_UT - 1.0) * FC_HZ / speed_of_light


def test_umi_los_both_sides_of_the_breakpoint() -> None:
    h_bs = 10.0
    d_bp = _bp(h_bs)  # 210.1 m
    assert 200.0 < d_bp < 220.0
    near, far = 100.0, 500.0
    d3_near, d3_far = math.hypot(near, h_bs - H_UT), math.hypot(far, h_bs - H_UT)
    pl1 = 32.4 + 21.0 * log10(d3_near) + 20.0 * log10(3.5)
    pl2 = 32.4 + 40.0 * log10(d3_far) + 20.0 * log10(3.5) - 9.5 * log10(d_bp**2 + (h_bs - H_UT) ** 2)
    got = pl.umi_street_canyon_db([near, far], h_bs, H_UT, FC_HZ, los=True)
    np.testing.assert_allclose(got, [pl1, pl2], atol=DB_TOL)


def test_umi_nlos_is_the_larger_of_los_and_nlos_formula() -> None:
    h_bs = 10.0
    d2 = 300.0
    d3 = math.hypot(d2, h_bs - H_UT)
    pl_los = 32.4 + 40.0 * log10(d3) + 20.0 * log10(3.5) - 9.5 * log10(_bp(h_bs) ** 2 + (h_bs - H_UT) ** 2)
    pl_nlos = 35.3 * log10(d3) + 22.4 + 21.3 * log10(3.5) - 0.3 * (H_UT - 1.5)
    got = float(pl.umi_street_canyon_db(d2, h_bs, H_UT, FC_HZ, los=False))
    assert got == pytest.approx(max(pl_los, pl_nlos), abs=DB_TOL)
    assert pl_nlos > pl_los  # the NLoS branch is the one exercised here


def test_uma_los_both_sides_of_the_breakpoint_and_nlos() -> None:
    h_bs = 25.0
    d_bp = _bp(h_bs)  # 560.3 m
    near, far = 200.0, 1500.0
    d3_near, d3_far = math.hypot(near, h_bs - H_UT), math.hypot(far, h_bs - H_UT)
    pl1 = 28.0 + 22.0 * log10(d3_near) + 20.0 * log10(3.5)
    pl2 = 28.0 + 40.0 * log10(d3_far) + 20.0 * log10(3.5) - 9.0 * log10(d_bp**2 + (h_bs - H_UT) ** 2)
    np.testing.assert_allclose(pl.uma_db([near, far], h_bs, H_UT, FC_HZ, los=True), [pl1, pl2], atol=DB_TOL)
    nlos = 13.54 + 39.08 * log10(d3_near) + 20.0 * log10(3.5) - 0.6 * (H_UT - 1.5)
    assert float(pl.uma_db(near, h_bs, H_UT, FC_HZ, los=False)) == pytest.approx(max(pl1, nlos), abs=DB_TOL)


def test_umi_los_probability() -> None:
    got = pl.umi_los_probability([5.0, 18.0, 50.0, 200.0])
    expected = [1.0, 1.0] + [18.0 / d + math.exp(-d / 36.0) * (1.0 - 18.0 / d) for d in (50.0, 200.0)]
    np.testing.assert_allclose(got, expected, atol=1e-12)


def test_winner2_b1_and_c2() -> None:
    # B1 LoS: 22.7·log10(d) + 41 + 20·log10(f/5 GHz)
    assert float(pl.winner2_db(100.0, 10.0, 5e9, "B1_los")) == pytest.approx(22.7 * 2.0 + 41.0, abs=DB_TOL)
    assert float(pl.winner2_db(100.0, 10.0, 2.5e9, "B1_los")) == pytest.approx(
        22.7 * 2.0 + 41.0 + 20.0 * log10(0.5), abs=DB_TOL
    )
    # C2 NLoS, h_BS = 25 m, d = 500 m, 2 GHz
    expected = (44.9 - 6.55 * log10(25.0)) * log10(500.0) + 34.46 + 5.83 * log10(25.0) + 23.0 * log10(2.0 / 5.0)
    assert float(pl.winner2_db(500.0, 25.0, 2e9, "C2_nlos")) == pytest.approx(expected, abs=DB_TOL)
    with pytest.raises(ValueError, match="unknown WINNER II scenario"):
        pl.winner2_db(100.0, 10.0, 2e9, "A1")


def test_air_to_ground_al_hourani() -> None:
    a, b, eta_los, eta_nlos = pl.A2G_PARAMETERS["urban"]
    assert (a, b, eta_los, eta_nlos) == (9.61, 0.16, 1.0, 20.0)
    # at θ = a the exponent vanishes: P_LoS = 1 / (1 + a)
    assert float(pl.a2g_los_probability(a, "urban")) == pytest.approx(1.0 / (1.0 + a), abs=1e-12)
    theta = 45.0
    p_los = 1.0 / (1.0 + a * math.exp(-b * (theta - a)))
    assert float(pl.a2g_los_probability(theta, "urban")) == pytest.approx(p_los, abs=1e-12)
    fspl = float(pl.free_space_db(300.0, 2e9))
    assert float(pl.a2g_db(300.0, 2e9, los=True)) == pytest.approx(fspl + eta_los, abs=DB_TOL)
    assert float(pl.a2g_db(300.0, 2e9, los=False)) == pytest.approx(fspl + eta_nlos, abs=DB_TOL)
    mean = fspl + p_los * eta_los + (1.0 - p_los) * eta_nlos
    assert float(pl.a2g_mean_db(300.0, theta, 2e9)) == pytest.approx(mean, abs=DB_TOL)


def test_elevation_angle() -> None:
    assert float(pl.elevation_deg(np.array([0.0, 0.0, 100.0]), np.array([100.0, 0.0, 0.0]))) == pytest.approx(45.0)
    assert float(pl.elevation_deg(np.array([0.0, 0.0, 550e3]), np.zeros(3))) == pytest.approx(90.0)


def test_ntn_los_table_points_and_interpolation() -> None:
    # TR 38.811 Table 6.6.1-1
    assert float(pl.ntn_los_probability(30.0, "urban")) == pytest.approx(0.493)
    assert float(pl.ntn_los_probability(10.0, "dense_urban")) == pytest.approx(0.282)
    assert float(pl.ntn_los_probability(90.0, "suburban")) == pytest.approx(0.998)
    assert float(pl.ntn_los_probability(35.0, "urban")) == pytest.approx((0.493 + 0.613) / 2.0)
    assert float(pl.ntn_los_probability(5.0, "urban")) == pytest.approx(0.246)  # held at 10°


def test_atmospheric_loss_scales_with_one_over_sin_elevation() -> None:
    np.testing.assert_allclose(pl.atmospheric_db([90.0, 30.0], 1.0), [1.0, 2.0], atol=1e-12)
    assert float(pl.atmospheric_db(5.0, 1.0)) == pytest.approx(1.0 / math.sin(math.radians(10.0)))


def test_db_helpers() -> None:
    assert float(pl.db_to_lin(10.0)) == pytest.approx(10.0)
    assert float(pl.lin_to_db(100.0)) == pytest.approx(20.0)
    assert float(pl.dbm_to_watt(30.0)) == pytest.approx(1.0)
    assert float(pl.dbm_to_watt(-114.0)) == pytest.approx(10.0 ** (-14.4))
    assert float(pl.watt_to_dbm(0.2)) == pytest.approx(10.0 * log10(200.0))
