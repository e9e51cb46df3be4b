"""LEO orbits propagated with SGP4, and the frames a ground observer needs.

A circular orbit is written as a two-line element set (TLE) whose mean motion follows from
Kepler's third law with the WGS-72 constants SGP4 uses, then propagated with the ``sgp4``
package (``Satrec.twoline2rv`` / ``sgp4_array``). Positions come out in the TEME frame; the
Earth-fixed frame is obtained by the rotation through the Greenwich mean sidereal time (IAU-82,
the convention of Vallado's SGP4 reference code; polar motion and UT1−UTC are neglected, which
moves a LEO satellite by less than a few tens of metres). Ground points are WGS-84 geodetic
coordinates; look angles are taken in the local East-North-Up frame of the observer.

All times are seconds after the orbit's epoch (UTC). All distances are metres.
"""

from __future__ import annotations

import datetime
import math

import numpy as np
import numpy.typing as npt
from sgp4.api import WGS72, Satrec, SatrecArray, jday

__all__ = [
    "EARTH_MU_WGS72_M3_S2",
    "EARTH_RADIUS_WGS72_M",
    "LeoOrbit",
    "geodetic_to_ecef_m",
    "gmst_rad",
    "synthetic_tle",
    "tle_checksum",
]

#: Earth's gravitational parameter of WGS-72, the constant set of SGP4 [m^3/s^2].
EARTH_MU_WGS72_M3_S2 = 398600.8e9
#: Equatorial Earth radius of WGS-72 [m]; synthetic TLE altitudes are measured from it.
EARTH_RADIUS_WGS72_M = 6378135.0
#: WGS-84 semi-major axis [m] and flattening, for ground points.
WGS84_A_M = 6378137.0
WGS84_F = 1.0 / 298.257223563
_WGS84_E2 = WGS84_F * (2.0 - WGS84_F)
_SECONDS_PER_DAY = 86400.0

FloatArray = npt.NDArray[np.float64]


def tle_checksum(line: str) -> int:
    """Modulo-10 checksum of the first 68 characters of a TLE line.

    Digits count their value, a minus sign counts 1, everything else 0.
    """
    total = 0
    for ch in line[:68]:
        if ch.isdigit():
            total += int(ch)
        elif ch == "-":
            total += 1
    return total % 10


def _utc(epoch: datetime.datetime) -> datetime.datetime:
    """``epoch`` as a naive UTC datetime (a naive input is taken as UTC)."""
    if epoch.tzinfo is not None:
        epoch = epoch.astimezone(datetime.UTC).replace(tzinfo=None)
    return epoch


def kepler_mean_motion_rev_per_day(altitude_m: float) -> float:
    """Mean motion of a circular orbit at ``altitude_m`` above the WGS-72 equator [rev/day].

    Kepler's third law: ``n = sqrt(mu / a^3)`` with ``a = R_E + h``.
    """
    semi_major_m = EARTH_RADIUS_WGS72_M + altitude_m
    n_rad_s = math.sqrt(EARTH_MU_WGS72_M3_S2 / semi_major_m**3)
    return n_rad_s * _SECONDS_PER_DAY / (2.0 * math.pi)


def synthetic_tle(
    altitude_m: float,
    inclination_deg: float,
    raan_deg: float,
    mean_anomaly_deg: float,
    epoch: datetime.datetime,
    catalog_number: int = 99999,
) -> tuple[str, str]:
    """Two TLE lines for a circular orbit (eccentricity 0, argument of perigee 0).

    Parameters
    ----------
    altitude_m : float
        Orbit altitude above the WGS-72 equatorial radius [m]; the mean motion follows from
        Kepler's third law.
    inclination_deg, raan_deg, mean_anomaly_deg : float
        Inclination [0, 180], right ascension of the ascending node and mean anomaly at epoch
        [deg]; the angles are wrapped to [0, 360).
    epoch : datetime.datetime
        Element epoch (UTC; a naive datetime is taken as UTC).
    catalog_number : int
        Satellite catalog number, 0..99999.

    Returns
    -------
    tuple[str, str]
        Line 1 and line 2, 69 characters each, with valid checksums.
    """
    if not 0 <= catalog_number <= 99999:
        raise ValueError(f"catalog_number must be in 0..99999, got {catalog_number}")
    if not 0.0 <= inclination_deg <= 180.0:
        raise ValueError(f"inclination_deg must be in [0, 180], got {inclination_deg}")
    if not 100e3 <= altitude_m <= 3000e3:
        raise ValueError(f"altitude_m must be a LEO altitude in [100 km, 3000 km], got {altitude_m}")
    ep = _utc(epoch)
    start_of_year = datetime.datetime(ep.year, 1, 1)
    day_of_year = 1.0 + (ep - start_of_year).total_seconds() / _SECONDS_PER_DAY
    mean_motion = kepler_mean_motion_rev_per_day(altitude_m)
    raan = raan_deg % 360.0
    anomaly = mean_anomaly_deg % 360.0
    # Formatting can round 359.99999 up to 360.0000; keep the 8-character fields valid.
    raan = 0.0 if round(raan, 4) >= 360.0 else raan
    anomaly = 0.0 if round(anomaly, 4) >= 360.0 else anomaly
    body1 = (
        f"1 {catalog_number:05d}U 24001A   {ep.year % 100:02d}{day_of_year:012.8f}  .00000000  00000-0  00000-0 0  999"
    )
    body2 = (
        f"2 {catalog_number:05d} {inclination_deg:8.4f} {raan:8.4f} 0000000 "
        f"{0.0:8.4f} {anomaly:8.4f} {mean_motion:11.8f}    1"
    )
    assert len(body1) == 68 and len(body2) == 68, (body1, body2)
    return body1 + str(tle_checksum(body1)), body2 + str(tle_checksum(body2))


def gmst_rad(jd_ut1: npt.ArrayLike) -> FloatArray:
    """Greenwich mean sidereal time (IAU-82, as in SGP4's ``gstime``) [rad, 0..2π).

    Parameters
    ----------
    jd_ut1 : array_like
        Julian date, UT1 (UTC is used) [days].
    """
    t_cent = (np.asarray(jd_ut1, dtype=np.float64) - 2451545.0) / 36525.0
    gmst_s = -6.2e-6 * t_cent**3 + 0.093104 * t_cent**2 + (876600.0 * 3600.0 + 8640184.812866) * t_cent + 67310.54841
    return np.mod(np.deg2rad(gmst_s / 240.0), 2.0 * np.pi)


def geodetic_to_ecef_m(lat_deg: npt.ArrayLike, lon_deg: npt.ArrayLike, alt_m: npt.ArrayLike) -> FloatArray:
    """WGS-84 geodetic coordinates to Earth-centred Earth-fixed Cartesian coordinates.

    Parameters
    ----------
    lat_deg, lon_deg : array_like
        Geodetic latitude and longitude [deg], broadcastable.
    alt_m : array_like
        Height above the ellipsoid [m].

    Returns
    -------
    numpy.ndarray
        ECEF position [m], shape (..., 3).
    """
    lat = np.deg2rad(np.asarray(lat_deg, dtype=np.float64))
    lon = np.deg2rad(np.asarray(lon_deg, dtype=np.float64))
    alt = np.asarray(alt_m, dtype=np.float64)
    sin_lat = np.sin(lat)
    prime_vertical_m = WGS84_A_M / np.sqrt(1.0 - _WGS84_E2 * sin_lat**2)
    x = (prime_vertical_m + alt) * np.cos(lat) * np.cos(lon)
    y = (prime_vertical_m + alt) * np.cos(lat) * np.sin(lon)
    z = (prime_vertical_m * (1.0 - _WGS84_E2) + alt) * sin_lat
    x, y, z = np.broadcast_arrays(x, y, z)
    return np.stack([x, y, z], axis=-1)


def _enu_rotation(lat_deg: float, lon_deg: float) -> FloatArray:
    """Rows: unit East, North, Up vectors of the WGS-84 local frame, in ECEF. Shape (3, 3)."""
    lat = math.radians(lat_deg)
    lon = math.radians(lon_deg)
    sl, cl, so, co = math.sin(lat), math.cos(lat), math.sin(lon), math.cos(lon)
    return np.array(
        [
            [-so, co, 0.0],
            [-sl * co, -sl * so, cl],
            [cl * co, cl * so, sl],
        ]
    )


def _circular_satrec(
    altitude_m: float,
    inclination_deg: float,
    raan_deg: float,
    mean_anomaly_deg: float,
    epoch: datetime.datetime,
) -> Satrec:
    """A ``Satrec`` built from the elements directly (no TLE rounding), for orbit searches."""
    ep = _utc(epoch)
    jd, fr = jday(ep.year, ep.month, ep.day, ep.hour, ep.minute, ep.second + ep.microsecond * 1e-6)
    sat = Satrec()
    sat.sgp4init(
        WGS72,
        "i",
        99999,
        (jd - 2433281.5) + fr,
        0.0,
        0.0,
        0.0,
        0.0,
        0.0,
        math.radians(inclination_deg),
        math.radians(mean_anomaly_deg % 360.0),
        kepler_mean_motion_rev_per_day(altitude_m) * 2.0 * math.pi / 1440.0,
        math.radians(raan_deg % 360.0),
    )
    return sat


class LeoOrbit:
    """A circular LEO orbit propagated with SGP4.

    Parameters
    ----------
    altitude_m : float
        Altitude above the WGS-72 equatorial radius [m].
    inclination_deg, raan_deg, mean_anomaly_deg : float
        Orbital elements at epoch [deg].
    epoch : datetime.datetime
        Element epoch (UTC); ``t_s`` arguments count seconds from it.

    Attributes
    ----------
    tle : tuple[str, str]
        The synthetic TLE the orbit was built from.
    satrec : sgp4.api.Satrec
        The SGP4 record.
    """

    def __init__(
        self,
        altitude_m: float,
        inclination_deg: float,
        raan_deg: float,
        mean_anomaly_deg: float,
        epoch: datetime.datetime,
    ) -> None:
        self.altitude_m = float(altitude_m)
        self.inclination_deg = float(inclination_deg)
        self.raan_deg = float(raan_deg) % 360.0
        self.mean_anomaly_deg = float(mean_anomaly_deg) % 360.0
        self.epoch = _utc(epoch)
        self.tle = synthetic_tle(altitude_m, inclination_deg, raan_deg, mean_anomaly_deg, self.epoch)
        self.satrec = Satrec.twoline2rv(self.tle[0], self.tle[1], WGS72)
        self._jd_epoch = float(self.satrec.jdsatepoch)
        self._fr_epoch = float(self.satrec.jdsatepochF)

    def __repr__(self) -> str:
        return (
            f"LeoOrbit(altitude_m={self.altitude_m:.0f}, inclination_deg={self.inclination_deg:.4f}, "
            f"raan_deg={self.raan_deg:.4f}, mean_anomaly_deg={self.mean_anomaly_deg:.4f}, "
            f"epoch={self.epoch.isoformat()})"
        )

    @property
    def period_s(self) -> float:
        """Orbital period from the TLE mean motion [s]."""
        return 2.0 * math.pi / (float(self.satrec.no_kozai) / 60.0)

    def _julian(self, t_s: npt.ArrayLike) -> tuple[FloatArray, FloatArray]:
        t = np.asarray(t_s, dtype=np.float64)
        return np.full(t.shape, self._jd_epoch), self._fr_epoch + t / _SECONDS_PER_DAY

    def position_teme_m(self, t_s: npt.ArrayLike) -> FloatArray:
        """Satellite position in the TEME frame [m], shape (*t_s.shape, 3).

        Parameters
        ----------
        t_s : array_like
            Seconds after epoch [s], any shape.
        """
        jd, fr = self._julian(t_s)
        err, r_km, _ = self.satrec.sgp4_array(jd.ravel(), fr.ravel())
        if np.any(err != 0):
            raise RuntimeError(f"SGP4 propagation failed (error codes {sorted(set(err.tolist()) - {0})})")
        return (np.asarray(r_km, dtype=np.float64) * 1e3).reshape(*jd.shape, 3)

    def position_ecef_m(self, t_s: npt.ArrayLike) -> FloatArray:
        """Satellite position in the Earth-fixed frame [m], shape (*t_s.shape, 3).

        TEME is rotated about z by the Greenwich mean sidereal time.
        """
        r_teme = self.position_teme_m(t_s)
        jd, fr = self._julian(t_s)
        theta = gmst_rad(jd + fr)
        c, s = np.cos(theta), np.sin(theta)
        x, y, z = r_teme[..., 0], r_teme[..., 1], r_teme[..., 2]
        return np.stack([c * x + s * y, -s * x + c * y, z], axis=-1)

    def enu_m(self, t_s: npt.ArrayLike, origin_lat_deg: float, origin_lon_deg: float) -> FloatArray:
        """Satellite position in the East-North-Up frame of a ground origin [m].

        Parameters
        ----------
        t_s : array_like
            Seconds after epoch [s].
        origin_lat_deg, origin_lon_deg : float
            WGS-84 geodetic origin on the ellipsoid surface [deg].

        Returns
        -------
        numpy.ndarray
            (east, north, up) [m], shape (*t_s.shape, 3).
        """
        origin = geodetic_to_ecef_m(origin_lat_deg, origin_lon_deg, 0.0)
        rel = self.position_ecef_m(t_s) - origin
        return rel @ _enu_rotation(origin_lat_deg, origin_lon_deg).T

    def look_angles(
        self, t_s: npt.ArrayLike, lat_deg: float, lon_deg: float
    ) -> tuple[FloatArray, FloatArray, FloatArray]:
        """Elevation, azimuth and slant range of the satellite seen from a ground point.

        Returns
        -------
        elevation_deg : numpy.ndarray
            Elevation above the local horizon [deg], shape of ``t_s``.
        azimuth_deg : numpy.ndarray
            Azimuth clockwise from North [deg, 0..360), shape of ``t_s``.
        slant_range_m : numpy.ndarray
            Distance observer–satellite [m], shape of ``t_s``.
        """
        enu = self.enu_m(t_s, lat_deg, lon_deg)
        east, north, up = enu[..., 0], enu[..., 1], enu[..., 2]
        horizontal = np.hypot(east, north)
        elevation = np.rad2deg(np.arctan2(up, horizontal))
        azimuth = np.mod(np.rad2deg(np.arctan2(east, north)), 360.0)
        return elevation, azimuth, np.linalg.norm(enu, axis=-1)

    @classmethod
    def overhead(
        cls,
        altitude_m: float,
        origin_lat_deg: float,
        origin_lon_deg: float,
        epoch: datetime.datetime,
        pass_offset_s: float = 0.0,
        inclination_deg: float = 53.0,
    ) -> LeoOrbit:
        """An orbit whose ascending pass culminates (near zenith) over a ground point.

        The RAAN and mean anomaly are first set so that the two-body sub-satellite point at
        ``pass_offset_s`` is the origin, then refined by a vectorized grid search with SGP4
        (three grids of 21 × 21 candidates, steps 0.2°, 0.02°, 0.002°) that maximises the
        elevation seen from the origin at ``pass_offset_s``.

        Parameters
        ----------
        altitude_m : float
            Orbit altitude [m].
        origin_lat_deg, origin_lon_deg : float
            Ground point [deg]; ``|origin_lat_deg|`` must not exceed the inclination
            (or 180° minus it for retrograde orbits).
        epoch : datetime.datetime
            Element epoch (UTC).
        pass_offset_s : float
            Seconds after epoch at which the pass culminates [s].
        inclination_deg : float
            Orbit inclination [deg].
        """
        ep = _utc(epoch)
        incl = math.radians(inclination_deg)
        lat_gc = math.atan((1.0 - _WGS84_E2) * math.tan(math.radians(origin_lat_deg)))
        if abs(math.sin(lat_gc)) > abs(math.sin(incl)) + 1e-12:
            raise ValueError(f"an orbit inclined {inclination_deg}° never passes over latitude {origin_lat_deg}°")
        arg_lat = math.asin(max(-1.0, min(1.0, math.sin(lat_gc) / math.sin(incl))))
        jd, fr = jday(ep.year, ep.month, ep.day, ep.hour, ep.minute, ep.second + ep.microsecond * 1e-6)
        theta = float(gmst_rad(jd + fr + pass_offset_s / _SECONDS_PER_DAY))
        ra_point = math.atan2(math.cos(incl) * math.sin(arg_lat), math.cos(arg_lat))
        raan = math.degrees(theta + math.radians(origin_lon_deg) - ra_point)
        n_rad_s = kepler_mean_motion_rev_per_day(altitude_m) * 2.0 * math.pi / _SECONDS_PER_DAY
        anomaly = math.degrees(arg_lat - n_rad_s * pass_offset_s)

        origin = geodetic_to_ecef_m(origin_lat_deg, origin_lon_deg, 0.0)
        rot = _enu_rotation(origin_lat_deg, origin_lon_deg)
        offsets = np.linspace(-10.0, 10.0, 21)
        for step_deg in (0.2, 0.02, 0.002):
            d_raan, d_anom = np.meshgrid(offsets * step_deg, offsets * step_deg, indexing="ij")
            cands = [
                _circular_satrec(altitude_m, inclination_deg, raan + a, anomaly + b, ep)
                for a, b in zip(d_raan.ravel(), d_anom.ravel(), strict=True)
            ]
            sats = SatrecArray(cands)
            err, r_km, _ = sats.sgp4(np.array([jd]), np.array([fr + pass_offset_s / _SECONDS_PER_DAY]))
            r_teme = np.asarray(r_km, dtype=np.float64)[:, 0, :] * 1e3
            c, s = math.cos(theta), math.sin(theta)
            r_ecef = np.stack(
                [c * r_teme[:, 0] + s * r_teme[:, 1], -s * r_teme[:, 0] + c * r_teme[:, 1], r_teme[:, 2]],
                axis=-1,
            )
            enu = (r_ecef - origin) @ rot.T
            elevation = np.arctan2(enu[:, 2], np.hypot(enu[:, 0], enu[:, 1]))
            elevation[np.asarray(err)[:, 0] != 0] = -np.inf
            best = int(np.argmax(elevation))
            raan += float(d_raan.ravel()[best])
            anomaly += float(d_anom.ravel()[best])
        return cls(altitude_m, inclination_deg, raan, anomaly, ep)
