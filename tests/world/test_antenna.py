"""Antenna patterns: 3GPP sector, the MADQN-IL code's sector variant, the satellite Bessel beam."""

from __future__ import annotations

import numpy as np
import pytest
from scipy.special import jv

from e2_sim.channel.antenna import (
    BESSEL_HALF_POWER_U,
    bessel_beam_gain_db,
    bessel_beam_pattern,
    off_axis_angle_deg,
    sector_gain_3gpp_db,
    sector_gain_db,
    sector_gain_madqn_code_db,
    wrap_offset_deg,
)

#: Half power in dB, 10·log10(1/2).
HALF_POWER_DB = 10.0 * np.log10(0.5)
#: Agreement of the fast Bessel pattern with scipy's general-order jv (absolute, linear).
BESSEL_ABS_TOL = 1e-12


def test_3gpp_sector_boresight_3db_point_and_floor() -> None:
    # TR 36.814: G_max = 14 dBi, φ_3dB = 70°, A_m = 20 dB
    gain = sector_gain_3gpp_db(np.array([0.0, 35.0, -35.0, 60.0, 180.0]), 14.0, 70.0, 20.0)
    assert gain[0] == pytest.approx(14.0)
    assert gain[1] == pytest.approx(14.0 - 3.0)  # 12·(1/2)² = 3 dB down at half the beamwidth
    assert gain[2] == pytest.approx(gain[1])  # symmetric
    assert gain[3] == pytest.approx(14.0 - 12.0 * (60.0 / 70.0) ** 2)
    assert gain[4] == pytest.approx(14.0 - 20.0)  # front-to-back floor


def test_madqn_code_sector_variant() -> None:
    # 20 dBi − min(6·(θ/30°)², 20 dB)
    theta = np.array([0.0, 30.0 / np.sqrt(2.0), 30.0, 30.0 * np.sqrt(20.0 / 6.0), 90.0, 180.0])
    gain = sector_gain_madqn_code_db(theta)
    np.testing.assert_allclose(gain, [20.0, 17.0, 14.0, 0.0, 0.0, 0.0], atol=1e-12)
    np.testing.assert_allclose(gain, sector_gain_db(theta, 20.0, 30.0, 20.0, rolloff_db=6.0))


def test_sector_gain_keeps_shape_and_refuses_bad_beamwidth() -> None:
    offsets = np.linspace(-180.0, 180.0, 24).reshape(2, 3, 4)
    gain = sector_gain_3gpp_db(offsets, 20.0, 30.0, 20.0)
    assert gain.shape == (2, 3, 4)
    assert np.all(gain <= 20.0) and np.all(gain >= 0.0)
    with pytest.raises(ValueError, match="beamwidth_3db_deg"):
        sector_gain_db(0.0, 20.0, 0.0, 20.0)


def test_offset_wraps_to_half_turn() -> None:
    np.testing.assert_allclose(
        wrap_offset_deg([350.0, 190.0, -170.0, 120.0], [10.0, 0.0, 180.0, 240.0]), [20.0, 170.0, 10.0, 120.0]
    )


def test_bessel_beam_peak_half_power_and_reference() -> None:
    gain = bessel_beam_gain_db(np.array([0.0, 1.0, -1.0]), max_gain_dbi=42.0, half_power_angle_deg=1.0)
    assert gain[0] == pytest.approx(42.0)
    assert gain[1] == pytest.approx(42.0 + HALF_POWER_DB, abs=1e-4)
    assert gain[2] == pytest.approx(gain[1])
    # against scipy's general-order Bessel functions, across the series/recurrence switch
    u = np.concatenate([[1e-9, 1e-4, 0.3, 0.999, 1.0, 1.001, BESSEL_HALF_POWER_U], np.linspace(0.01, 60.0, 5000)])
    reference = (jv(1, u) / (2.0 * u) + 36.0 * jv(3, u) / u**3) ** 2
    np.testing.assert_allclose(bessel_beam_pattern(u), reference, rtol=0, atol=BESSEL_ABS_TOL)
    assert bessel_beam_pattern(0.0) == pytest.approx(1.0)


def test_off_axis_angle_geometry() -> None:
    apex = np.array([0.0, 0.0, 1000.0])
    axis_target = np.array([0.0, 0.0, 0.0])
    points = np.array([[0.0, 0.0, 0.0], [1000.0, 0.0, 0.0], [0.0, -1000.0 * np.sqrt(3.0), 0.0]])
    np.testing.assert_allclose(off_axis_angle_deg(apex, axis_target, points), [0.0, 45.0, 60.0], atol=1e-9)
