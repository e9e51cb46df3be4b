"""LEO orbit module: synthetic TLEs, SGP4 propagation and look angles."""

from __future__ import annotations

import datetime
import math

import numpy as np
import pytest
from sgp4.api import WGS72, Satrec
from sgp4.propagation import gstime

from e2_sim.geometry.orbit import (
    EARTH_MU_WGS72_M3_S2,
    EARTH_RADIUS_WGS72_M,
    LeoOrbit,
    geodetic_to_ecef_m,
    synthetic_tle,
    tle_checksum,
)

EPOCH = datetime.datetime(2025, 3, 1, 12, 0, 0)
PARIS_LAT_DEG, PARIS_LON_DEG = 48.85, 2.35
#: Agreement between the module and the independent chain [deg]; both use float64.
ELEVATION_TOL_DEG = 1e-6
#: Mean SGP4 radius over an orbit vs. the requested altitude; J2 short-period terms [m].
ALTITUDE_ROUND_TRIP_TOL_M = 3_000.0


def test_checksum_matches_a_published_tle() -> None:
    # ISS element set from the CelesTrak documentation, checksums 7 and 7.
    line1 = "1 25544U 98067A   08264.51782528 -.00002182  00000-0 -11606-4 0  2927"
    line2 = "2 25544  51.6416 247.4627 0006703 130.5360 325.0288 15.72125391563537"
    assert tle_checksum(line1) == int(line1[68])
    assert tle_checksum(line2) == int(line2[68])


def test_synthetic_tle_is_well_formed_and_round_trips() -> None:
    line1, line2 = synthetic_tle(550e3, 53.0, 123.4567, 359.99999, EPOCH, catalog_number=4242)
    assert len(line1) == len(line2) == 69
    assert line1.startswith("1 04242U") and line2.startswith("2 04242 ")
    assert int(line1[68]) == tle_checksum(line1)
    assert int(line2[68]) == tle_checksum(line2)
    assert float(line2[8:16]) == pytest.approx(53.0)
    assert float(line2[17:25]) == pytest.approx(123.4567)
    # Altitude back from the mean motion field by Kepler's third law.
    n_rad_s = float(line2[52:63]) * 2 * math.pi / 86400.0
    altitude_m = (EARTH_MU_WGS72_M3_S2 / n_rad_s**2) ** (1 / 3) - EARTH_RADIUS_WGS72_M
    assert altitude_m == pytest.approx(550e3, abs=1.0)
    # SGP4 reads it back: epoch, inclination and mean radius over one orbit.
    sat = Satrec.twoline2rv(line1, line2, WGS72)
    assert math.degrees(sat.inclo) == pytest.approx(53.0)
    orbit = LeoOrbit(550e3, 53.0, 123.4567, 0.0, EPOCH)
    assert sat.jdsatepoch + sat.jdsatepochF == pytest.approx(orbit._jd_epoch + orbit._fr_epoch, abs=1e-8)
    radius_m = np.linalg.norm(orbit.position_teme_m(np.linspace(0.0, orbit.period_s, 200)), axis=-1)
    assert radius_m.mean() - EARTH_RADIUS_WGS72_M == pytest.approx(550e3, abs=ALTITUDE_ROUND_TRIP_TOL_M)


def test_bad_elements_are_refused() -> None:
    with pytest.raises(ValueError, match="altitude_m"):
        synthetic_tle(50.0, 53.0, 0.0, 0.0, EPOCH)
    with pytest.raises(ValueError, match="inclination_deg"):
        synthetic_tle(550e3, 200.0, 0.0, 0.0, EPOCH)
    with pytest.raises(ValueError, match="never passes"):
        LeoOrbit.overhead(550e3, 70.0, 0.0, EPOCH, inclination_deg=53.0)


def test_geodetic_to_ecef_known_points() -> None:
    np.testing.assert_allclose(geodetic_to_ecef_m(0.0, 0.0, 0.0), [6378137.0, 0.0, 0.0], atol=1e-6)
    np.testing.assert_allclose(geodetic_to_ecef_m(90.0, 0.0, 0.0), [0.0, 0.0, 6356752.314245], atol=1e-3)
    np.testing.assert_allclose(geodetic_to_ecef_m(0.0, 90.0, 1000.0), [0.0, 6379137.0, 0.0], atol=1e-6)
    assert geodetic_to_ecef_m(np.zeros((4, 2)), 0.0, 0.0).shape == (4, 2, 3)


def _independent_elevation_deg(line1: str, line2: str, t_s: np.ndarray, lat_deg: float, lon_deg: float) -> np.ndarray:
    """Elevation by a separate chain: scalar sgp4 per time, sgp4's own gstime, a rotation
    matrix built per time, and sin(el) = (range vector · ellipsoid normal) / |range|."""
    sat = Satrec.twoline2rv(line1, line2, WGS72)
    a_m, f = 6378137.0, 1 / 298.257223563
    e2 = f * (2 - f)
    lat, lon = math.radians(lat_deg), math.radians(lon_deg)
    n_m = a_m / math.sqrt(1 - e2 * math.sin(lat) ** 2)
    observer = np.array(
        [
            n_m * math.cos(lat) * math.cos(lon),
            n_m * math.cos(lat) * math.sin(lon),
            n_m * (1 - e2) * math.sin(lat),
        ]
    )
    normal = np.array([math.cos(lat) * math.cos(lon), math.cos(lat) * math.sin(lon), math.sin(lat)])
    out = []
    for t in t_s:
        fr = sat.jdsatepochF + t / 86400.0
        err, r_km, _ = sat.sgp4(sat.jdsatepoch, fr)
        assert err == 0
        theta = gstime(sat.jdsatepoch + fr)
        rot = np.array(
            [
                [math.cos(theta), math.sin(theta), 0.0],
                [-math.sin(theta), math.cos(theta), 0.0],
                [0.0, 0.0, 1.0],
            ]
        )
        rho = rot @ (np.array(r_km) * 1e3) - observer
        out.append(math.degrees(math.asin(float(rho @ normal) / float(np.linalg.norm(rho)))))
    return np.array(out)


def test_elevation_over_a_pass_matches_the_orbit_library() -> None:
    orbit = LeoOrbit.overhead(550e3, PARIS_LAT_DEG, PARIS_LON_DEG, EPOCH, pass_offset_s=400.0)
    t_s = np.arange(0.0, 800.0, 7.0)
    elevation_deg, azimuth_deg, range_m = orbit.look_angles(t_s, PARIS_LAT_DEG, PARIS_LON_DEG)
    expected = _independent_elevation_deg(*orbit.tle, t_s, PARIS_LAT_DEG, PARIS_LON_DEG)
    np.testing.assert_allclose(elevation_deg, expected, atol=ELEVATION_TOL_DEG)
    assert elevation_deg.shape == azimuth_deg.shape == range_m.shape == t_s.shape
    assert np.all((azimuth_deg >= 0.0) & (azimuth_deg < 360.0))


def test_overhead_pass_rises_peaks_near_zenith_and_sets() -> None:
    pass_offset_s = 300.0
    orbit = LeoOrbit.overhead(550e3, PARIS_LAT_DEG, PARIS_LON_DEG, EPOCH, pass_offset_s=pass_offset_s)
    t_s = np.arange(0.0, 600.0, 1.0)
    elevation_deg, _, range_m = orbit.look_angles(t_s, PARIS_LAT_DEG, PARIS_LON_DEG)
    peak = int(np.argmax(elevation_deg))
    assert elevation_deg[peak] > 85.0
    assert abs(t_s[peak] - pass_offset_s) <= 2.0
    # Rises monotonically to the peak, then sets monotonically; low at both ends.
    assert np.all(np.diff(elevation_deg[:peak]) > 0.0)
    assert np.all(np.diff(elevation_deg[peak + 1 :]) < 0.0)
    assert elevation_deg[0] < 30.0 and elevation_deg[-1] < 30.0
    # At zenith the slant range is the altitude above the local ellipsoid (within 25 km).
    assert range_m[peak] == pytest.approx(550e3, abs=25e3)
    enu = orbit.enu_m(t_s[peak], PARIS_LAT_DEG, PARIS_LON_DEG)
    assert enu.shape == (3,)
    assert enu[2] > 0.99 * range_m[peak]


def test_positions_accept_any_time_shape() -> None:
    orbit = LeoOrbit(550e3, 53.0, 40.0, 10.0, EPOCH)
    t_s = np.arange(12.0).reshape(3, 4)
    assert orbit.position_teme_m(t_s).shape == (3, 4, 3)
    assert orbit.position_ecef_m(5.0).shape == (3,)
    # ECEF and TEME differ only by a rotation about z: same norm and z.
    np.testing.assert_allclose(orbit.position_ecef_m(t_s)[..., 2], orbit.position_teme_m(t_s)[..., 2])
    np.testing.assert_allclose(
        np.linalg.norm(orbit.position_ecef_m(t_s), axis=-1),
        np.linalg.norm(orbit.position_teme_m(t_s), axis=-1),
    )
