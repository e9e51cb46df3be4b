"""Fixed cellular layouts: a hexagonal grid of sites and the devices around them.

Two deployments of Zhang & Guo ("Multi-agent reinforcement learning for multi-cell spectrum and
power allocation", §IV-A, Fig. 6), built from one seed:

``hexagonal``
    Sites on a hexagonal grid with circumradius ``R`` (inter-site distance √3·R), grown ring by
    ring in the order of the authors' code (site 0 at the origin, site ``i``'s six neighbours at
    angles 0°, 60°, …, 300°, skipping sites already placed). Each cell is a pointy-top hexagon
    (vertices at ±90°). Every site gets the same number of devices, uniform in its own hexagon
    at a distance ``d_min < d < d_max`` from the site (rejection sampling).
``random``
    The same ring-by-ring growth, but each new site is its parent's (already displaced) position
    plus one hexagonal step plus an offset uniform in ``[0, offset_max]`` on x and on y. Devices
    are dropped uniformly in a square of side ``square_side`` centred on a site, sites taken in
    turn (the same number per site), and each device is then associated with its nearest site,
    so sites end up with different numbers of devices (2–5 in the paper).

Positions are 2-D ground coordinates [m]; heights are the caller's choice.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from numpy.typing import ArrayLike

_SQRT3 = float(np.sqrt(3.0))


@dataclass(frozen=True)
class CellLayout:
    """A fixed deployment of sites (access points) and devices.

    Attributes
    ----------
    site_xy_m : ndarray, float64, (K, 2)
        Site positions [m].
    device_xy_m : ndarray, float64, (N, 2)
        Device positions [m], ordered by serving site (devices of site 0 first).
    device_site : ndarray, int64, (N,)
        Serving site of each device (non-decreasing).
    """

    site_xy_m: np.ndarray
    device_xy_m: np.ndarray
    device_site: np.ndarray

    @property
    def n_sites(self) -> int:
        return int(self.site_xy_m.shape[0])

    @property
    def devices_per_site(self) -> np.ndarray:
        """Number of devices of each site, (K,) int64."""
        return np.bincount(self.device_site, minlength=self.n_sites)

    def distance_m(self) -> np.ndarray:
        """Ground distance from every site to every device, (K, N) [m]."""
        delta = self.site_xy_m[:, None, :] - self.device_xy_m[None, :, :]
        return np.hypot(delta[..., 0], delta[..., 1])


def hex_grid_sites(n_sites: int, cell_radius_m: float) -> np.ndarray:
    """Centres of ``n_sites`` hexagonal cells grown ring by ring around the origin.

    Parameters
    ----------
    n_sites : int
        ``K`` (19 = the centre cell and two rings).
    cell_radius_m : float
        Circumradius ``R`` of a cell [m]; neighbouring sites are √3·R apart.

    Returns
    -------
    ndarray, float64, (K, 2)
        Site positions [m]; site 0 at the origin.
    """
    if n_sites < 1:
        raise ValueError(f"n_sites must be >= 1, got {n_sites}")
    angles = np.arange(6) * np.pi / 3.0
    steps = _SQRT3 * cell_radius_m * np.stack([np.cos(angles), np.sin(angles)], axis=1)
    sites = np.zeros((n_sites, 2))
    placed, parent = 1, 0
    while placed < n_sites:
        for step in steps:
            candidate = sites[parent] + step
            if np.any(np.all(np.abs(sites[:placed] - candidate) < 1e-2 * cell_radius_m, axis=1)):
                continue
            sites[placed] = candidate
            placed += 1
            if placed == n_sites:
                break
        parent += 1
    return sites


def inside_hexagon(xy_m: ArrayLike, centre_m: ArrayLike, cell_radius_m: float) -> np.ndarray:
    """Whether points lie in the pointy-top hexagon of circumradius ``R`` around ``centre_m``.

    ``xy_m`` (..., 2) and ``centre_m`` broadcastable to it [m]; returns a bool array (...).
    """
    rel = np.abs(np.asarray(xy_m) - np.asarray(centre_m))
    return (rel[..., 0] <= _SQRT3 / 2.0 * cell_radius_m) & (rel[..., 1] <= cell_radius_m - rel[..., 0] / _SQRT3)


def hexagonal_layout(
    n_sites: int,
    devices_per_site: int,
    cell_radius_m: float,
    min_distance_m: float,
    max_distance_m: float,
    seed: int,
) -> CellLayout:
    """Regular deployment: ``devices_per_site`` devices uniform in each site's own hexagon.

    Parameters
    ----------
    n_sites, devices_per_site : int
        ``K`` sites and devices per site (``N = K·devices_per_site``).
    cell_radius_m : float
        Hexagon circumradius ``R`` [m].
    min_distance_m, max_distance_m : float
        Devices keep ``min < d < max`` from their site [m].
    seed : int
        Deployment seed.
    """
    if not 0.0 <= min_distance_m < max_distance_m:
        raise ValueError(f"need 0 <= min_distance_m < max_distance_m, got {min_distance_m}, {max_distance_m}")
    if min_distance_m >= cell_radius_m * _SQRT3 / 2.0:
        raise ValueError(f"min_distance_m = {min_distance_m} leaves no room inside a hexagon of radius {cell_radius_m}")
    rng = np.random.default_rng(seed)
    sites = hex_grid_sites(n_sites, cell_radius_m)
    n = n_sites * devices_per_site
    device_site = np.repeat(np.arange(n_sites), devices_per_site)
    devices = np.zeros((n, 2))
    todo = np.arange(n)
    while todo.size:
        offset = rng.uniform(
            [-_SQRT3 / 2.0 * cell_radius_m, -cell_radius_m],
            [_SQRT3 / 2.0 * cell_radius_m, cell_radius_m],
            size=(todo.size, 2),
        )
        distance = np.hypot(offset[:, 0], offset[:, 1])
        ok = inside_hexagon(offset, 0.0, cell_radius_m) & (distance > min_distance_m) & (distance < max_distance_m)
        devices[todo[ok]] = sites[device_site[todo[ok]]] + offset[ok]
        todo = todo[~ok]
    return CellLayout(site_xy_m=sites, device_xy_m=devices, device_site=device_site)


def random_layout(
    n_sites: int,
    n_devices: int,
    cell_radius_m: float,
    site_offset_max_m: float,
    square_side_m: float,
    min_devices_per_site: int,
    max_devices_per_site: int,
    seed: int,
    max_draws: int = 1000,
) -> CellLayout:
    """Irregular deployment: jittered hexagonal growth, devices associated with the nearest site.

    Sites grow as in `hex_grid_sites`, but each new site is its parent's (already jittered)
    position plus one hexagonal step plus an offset uniform in ``[0, site_offset_max_m]`` on x
    and on y, so the jitter accumulates ring by ring and sites can come close to each other.
    ``N/K`` devices are dropped uniformly in a square around each site in turn, then every device
    is associated with its nearest site.

    The draws use two legacy `numpy.random.RandomState` streams seeded with ``seed`` (one for
    the sites, one for the devices) in the order of the authors' code, so seed 2023 reproduces
    the published random deployment (Fig. 6b) exactly. A draw whose device counts fall outside
    ``[min, max]`` per site is replaced by the next draw of the same streams.

    Parameters
    ----------
    n_sites, n_devices : int
        ``K`` sites and ``N`` devices (``N`` a multiple of ``K``).
    cell_radius_m : float
        Circumradius ``R`` of the underlying hexagonal grid [m].
    site_offset_max_m : float
        Upper end of the per-axis site offset [m].
    square_side_m : float
        Side of the square, centred on a site, where its devices are dropped [m].
    min_devices_per_site, max_devices_per_site : int
        Accepted range of devices per site after nearest-site association.
    seed : int
        Deployment seed.
    max_draws : int
        Draws tried before giving up with `ValueError`.
    """
    if n_devices % n_sites:
        raise ValueError(f"n_devices = {n_devices} must be a multiple of n_sites = {n_sites}")
    site_stream = np.random.RandomState(seed)
    device_stream = np.random.RandomState(seed)
    angles = np.arange(6) * np.pi / 3.0
    steps = _SQRT3 * cell_radius_m * np.stack([np.cos(angles), np.sin(angles)], axis=1)
    drop_site = np.repeat(np.arange(n_sites), n_devices // n_sites)
    half = square_side_m / 2.0
    for _ in range(max_draws):
        sites = np.zeros((n_sites, 2))
        placed, parent = 1, 0
        while placed < n_sites:
            for step in steps:
                candidate = sites[parent] + step + site_offset_max_m * site_stream.random_sample(2)
                if np.any(np.all(np.abs(sites[:placed] - candidate) < 1e-2 * cell_radius_m, axis=1)):
                    continue
                sites[placed] = candidate
                placed += 1
                if placed == n_sites:
                    break
            parent += 1
        low = sites[drop_site] - half
        devices = low + ((low + square_side_m) - low) * device_stream.random_sample((n_devices, 2))
        delta = devices[:, None, :] - sites[None, :, :]
        nearest = np.argmin(np.hypot(delta[..., 0], delta[..., 1]), axis=1)
        counts = np.bincount(nearest, minlength=n_sites)
        if counts.min() >= min_devices_per_site and counts.max() <= max_devices_per_site:
            order = np.argsort(nearest, kind="stable")
            return CellLayout(site_xy_m=sites, device_xy_m=devices[order], device_site=nearest[order])
    raise ValueError(
        f"no random layout with {min_devices_per_site}..{max_devices_per_site} devices per site "
        f"after {max_draws} draws (seed {seed})"
    )
