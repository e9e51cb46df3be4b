"""A batched user population: who is present, where, and for how long.

`UserPopulation` holds ``B`` worlds × ``G`` groups (one group per serving node) × ``U`` user
slots (``U`` = the most users a group can hold, ``U_max``). Every array is preallocated at
`UserPopulation.reset` and updated in place, vectorized over ``(B, G, U)``; the only Python loop
is over the batch, where each world draws from its own `numpy.random.Generator` (so world ``b``
of a batch follows exactly the trajectory of a single world with the same generator).

Populations
-----------
``fixed``
    A fixed set: the first ``round(mean_active)`` slots of every group are active, at positions
    drawn once from ``deployment_seed`` (the same in every world and episode).
``episode``
    At reset and at every `UserPopulation.new_episode`, ``N_g ~ Poisson(mean_active)`` users per
    group (truncated at ``U``) occupy ``N_g`` slots chosen uniformly at random, at positions
    uniform in the group's area.
``dynamic``
    Users arrive as a Poisson process (``arrival_rate_per_min`` per group) and stay for an
    exponential holding time (mean ``mean_holding_s``): the M/M/∞ queue, with arrivals that find
    all ``U`` slots taken blocked and counted. The population starts empty or in the M/M/∞
    stationary state: ``Poisson(λ·E[holding])`` users with exponential residual holding times
    (memoryless). Arrivals in ``(t, t + dt]`` appear at ``t + dt`` in the lowest free slots.

Mobility (any population, when ``speed_mps > 0``) is the Random Walk model of Camp, Boleng and
Davies (2002): every active user travels at ``speed_mps`` in a direction drawn uniformly in
[0, 2π), redrawn every ``turn_interval_s`` (each user on its own phase), and is reflected at the
edges of its group's area, so it stays inside and its path length per step is exactly
``speed_mps · dt``.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Literal

import numpy as np
from numpy.typing import ArrayLike

PopulationMode = Literal["fixed", "episode", "dynamic"]
InitialState = Literal["stationary", "empty"]
POPULATION_MODES: tuple[str, ...] = ("fixed", "episode", "dynamic")

__all__ = ["POPULATION_MODES", "InitialState", "PopulationMode", "UserPopulation"]


class UserPopulation:
    """Active users and their positions for ``B`` worlds, ``G`` groups, ``U`` slots per group.

    Parameters
    ----------
    areas_m : array_like, (G, 2, 2)
        Area of each group, ``[[x_min, x_max], [y_min, y_max]]`` [m]. Users are placed
        uniformly inside and never leave it.
    n_slots : int
        ``U``, the most users a group can hold at once.
    mode : {"fixed", "episode", "dynamic"}
        How users come and go (module docstring).
    height_m : float
        Antenna height of every user, the ``z`` of `pos_m` [m].
    mean_active : float
        ``episode``: mean of the Poisson number of active users per group; ``fixed``: number of
        active users per group (rounded, at most ``U``). Unused by ``dynamic``.
    arrival_rate_per_min : float
        ``dynamic``: Poisson arrival rate per group [users/min].
    mean_holding_s : float
        ``dynamic``: mean of the exponential holding time [s]; ``inf`` = users never leave.
    initial : {"stationary", "empty"}
        ``dynamic``: start in the M/M/∞ stationary state or with no users.
    speed_mps : float
        Random-walk speed [m/s]; 0 keeps users where they appear.
    turn_interval_s : float
        Time between direction changes of the random walk [s].
    deployment_seed : int
        Seed of the ``fixed`` positions.

    Attributes
    ----------
    active : ndarray, bool, (B, G, U)
        Which slots hold a user.
    pos_m : ndarray, float64, (B, G, U, 3)
        Positions (x, y, z) [m]; stale (the last occupant's) where not active.
    renewed : ndarray, bool, (B, G, U)
        Slots that received a new user in the last `reset`, `new_episode` or `step` call.
    arrival_s, departure_s : ndarray, float64, (B, G, U)
        When the slot's user appeared and when it leaves [s] (``inf``: never).
    blocked : ndarray, int64, (B, G)
        Arrivals refused since reset because all ``U`` slots were taken.
    time_s : float
        Time since reset [s].
    changed : bool
        Whether the last call moved, added, removed or replaced any user.
    """

    def __init__(
        self,
        areas_m: ArrayLike,
        n_slots: int,
        mode: PopulationMode,
        height_m: float,
        *,
        mean_active: float = 0.0,
        arrival_rate_per_min: float = 0.0,
        mean_holding_s: float = math.inf,
        initial: InitialState = "empty",
        speed_mps: float = 0.0,
        turn_interval_s: float = math.inf,
        deployment_seed: int = 0,
    ) -> None:
        areas = np.asarray(areas_m, dtype=np.float64)
        if areas.ndim != 3 or areas.shape[1:] != (2, 2):
            raise ValueError(f"areas_m must have shape (G, 2, 2), got {areas.shape}")
        if np.any(areas[:, :, 1] <= areas[:, :, 0]):
            raise ValueError("every area needs x_min < x_max and y_min < y_max")
        if n_slots < 1:
            raise ValueError(f"n_slots must be >= 1, got {n_slots}")
        if mode not in POPULATION_MODES:
            raise ValueError(f"mode must be one of {POPULATION_MODES}, got {mode!r}")
        if initial not in ("stationary", "empty"):
            raise ValueError(f"initial must be 'stationary' or 'empty', got {initial!r}")
        for name, value in (
            ("mean_active", mean_active),
            ("arrival_rate_per_min", arrival_rate_per_min),
            ("speed_mps", speed_mps),
        ):
            if not value >= 0.0 or math.isinf(value):
                raise ValueError(f"{name} must be finite and >= 0, got {value}")
        if not mean_holding_s > 0.0:
            raise ValueError(f"mean_holding_s must be > 0, got {mean_holding_s}")
        if not turn_interval_s > 0.0:
            raise ValueError(f"turn_interval_s must be > 0, got {turn_interval_s}")
        self.areas_m = areas
        self.n_groups = int(areas.shape[0])
        self.n_slots = int(n_slots)
        self.mode: PopulationMode = mode
        self.height_m = float(height_m)
        self.mean_active = float(mean_active)
        self.arrival_rate_per_s = float(arrival_rate_per_min) / 60.0
        self.mean_holding_s = float(mean_holding_s)
        self.initial: InitialState = initial
        self.speed_mps = float(speed_mps)
        self.turn_interval_s = float(turn_interval_s)
        self._span = areas[:, :, 1] - areas[:, :, 0]  # (G, 2) side lengths [m]
        g, u = self.n_groups, self.n_slots
        fixed_rng = np.random.default_rng(deployment_seed)
        lo, hi = areas[:, None, :, 0], areas[:, None, :, 1]
        self._fixed_xy = lo + fixed_rng.random((g, u, 2)) * (hi - lo)
        n_fixed = min(math.floor(self.mean_active + 0.5), u)
        self._fixed_active = np.broadcast_to(np.arange(u)[None, :] < n_fixed, (g, u)).copy()
        self._rngs: list[np.random.Generator] = []
        self.time_s = 0.0
        self.changed = False
        self._alloc(0)

    # ------------------------------------------------------------------------------------------
    def _alloc(self, batch: int) -> None:
        shape = (batch, self.n_groups, self.n_slots)
        self.active = np.zeros(shape, dtype=bool)
        self.renewed = np.zeros(shape, dtype=bool)
        self.pos_m = np.zeros((*shape, 3), dtype=np.float64)
        self.pos_m[..., 2] = self.height_m
        self.heading_rad = np.zeros(shape, dtype=np.float64)
        self.next_turn_s = np.full(shape, np.inf, dtype=np.float64)
        self.arrival_s = np.zeros(shape, dtype=np.float64)
        self.departure_s = np.full(shape, np.inf, dtype=np.float64)
        self.blocked = np.zeros((batch, self.n_groups), dtype=np.int64)
        self.arrivals = np.zeros((batch, self.n_groups), dtype=np.int64)
        self._xy_lo = np.broadcast_to(self.areas_m[None, :, None, :, 0], (*shape, 2))
        self._xy_hi = np.broadcast_to(self.areas_m[None, :, None, :, 1], (*shape, 2))

    @property
    def batch(self) -> int:
        return int(self.active.shape[0])

    def counts(self) -> np.ndarray:
        """Active users per group, shape (B, G), int64."""
        return self.active.sum(axis=-1)

    def _walk_state(self, b: int, where: np.ndarray, rng: np.random.Generator) -> None:
        """Fresh heading and turn phase for the users of world ``b`` selected by ``where`` (G, U)."""
        n = int(np.count_nonzero(where))
        if n == 0 or self.speed_mps == 0.0:
            return
        draws = rng.random((n, 2))
        self.heading_rad[b][where] = 2.0 * np.pi * draws[:, 0]
        self.next_turn_s[b][where] = self.time_s + self.turn_interval_s * draws[:, 1]

    # ------------------------------------------------------------------------------------------
    def reset(self, rngs: Sequence[np.random.Generator]) -> None:
        """Start ``len(rngs)`` worlds at time 0, one generator per world."""
        self._rngs = list(rngs)
        self._alloc(len(self._rngs))
        self.time_s = 0.0
        if self.mode == "dynamic":
            self.renewed[:] = False
            if self.initial == "stationary":
                mean = self.arrival_rate_per_s * self.mean_holding_s
                for b, rng in enumerate(self._rngs):
                    n = np.minimum(rng.poisson(mean, size=self.n_groups), self.n_slots)
                    take = np.arange(self.n_slots)[None, :] < n[:, None]
                    self._place(b, take, rng)
            self.changed = True
        else:
            self.new_episode()

    def new_episode(self) -> None:
        """Begin a new episode: ``episode`` redraws users, ``fixed`` restores its set.

        A ``dynamic`` population evolves continuously and is left as it is.
        """
        if self.mode == "dynamic":
            self.renewed[:] = False
            self.changed = False
            return
        self.departure_s[:] = np.inf
        self.arrival_s[:] = self.time_s
        if self.mode == "fixed":
            self.active[:] = self._fixed_active[None]
            self.pos_m[..., :2] = self._fixed_xy[None]
            for b, rng in enumerate(self._rngs):
                self._walk_state(b, self.active[b], rng)
        else:
            g, u = self.n_groups, self.n_slots
            for b, rng in enumerate(self._rngs):
                counts = np.minimum(rng.poisson(self.mean_active, size=g), u)
                keys = rng.random((g, u))
                rank = np.argsort(np.argsort(keys, axis=1), axis=1)
                self.active[b] = rank < counts[:, None]
                self.pos_m[b, :, :, :2] = self._xy_lo[b] + rng.random((g, u, 2)) * (self._xy_hi[b] - self._xy_lo[b])
                self._walk_state(b, self.active[b], rng)
        self.renewed[:] = self.active
        self.changed = True

    def _place(self, b: int, take: np.ndarray, rng: np.random.Generator) -> None:
        """Put new users of world ``b`` into the slots ``take`` (G, U): position, holding, walk."""
        n = int(np.count_nonzero(take))
        if n == 0:
            return
        xy = rng.random((n, 2))
        lo = self._xy_lo[b][take]
        hi = self._xy_hi[b][take]
        self.pos_m[b, :, :, :2][take] = lo + xy * (hi - lo)
        self.departure_s[b][take] = self.time_s + rng.exponential(self.mean_holding_s, size=n)
        self.arrival_s[b][take] = self.time_s
        self.active[b] |= take
        self.renewed[b] |= take
        self._walk_state(b, take, rng)

    def step(self, dt_s: float) -> None:
        """Advance every world by ``dt_s`` seconds: departures, mobility, then arrivals."""
        if not dt_s > 0.0:
            raise ValueError(f"dt_s must be > 0, got {dt_s}")
        self.time_s += dt_s
        self.renewed[:] = False
        changed = False
        if self.mode == "dynamic":
            leaving = self.active & (self.departure_s <= self.time_s)
            if leaving.any():
                self.active &= ~leaving
                changed = True
        if self.speed_mps > 0.0:
            self._walk(dt_s)
            changed = bool(self.active.any())
        if self.mode == "dynamic" and self.arrival_rate_per_s > 0.0:
            lam = self.arrival_rate_per_s * dt_s
            for b, rng in enumerate(self._rngs):
                n = rng.poisson(lam, size=self.n_groups)
                if not n.any():
                    continue
                free = ~self.active[b]
                take = free & (np.cumsum(free, axis=1) <= n[:, None])
                placed = take.sum(axis=1)
                self.arrivals[b] += n
                self.blocked[b] += n - placed
                self._place(b, take, self._rngs[b])
                changed = changed or bool(placed.any())
        self.changed = changed

    def _walk(self, dt_s: float) -> None:
        step_m = self.speed_mps * dt_s
        if step_m > float(self._span.min()):
            raise ValueError(
                f"random walk step {step_m} m per call exceeds the smallest area side {float(self._span.min())} m"
            )
        turning = self.active & (self.next_turn_s <= self.time_s)
        if turning.any():
            for b, rng in enumerate(self._rngs):
                n = int(np.count_nonzero(turning[b]))
                if n:
                    self.heading_rad[b][turning[b]] = 2.0 * np.pi * rng.random(n)
            self.next_turn_s[turning] += self.turn_interval_s * np.maximum(
                1.0, np.ceil((self.time_s - self.next_turn_s[turning]) / self.turn_interval_s)
            )
        xy = self.pos_m[..., :2]
        moved = xy + step_m * np.stack([np.cos(self.heading_rad), np.sin(self.heading_rad)], axis=-1)
        below = moved < self._xy_lo
        above = moved > self._xy_hi
        moved = np.where(below, 2.0 * self._xy_lo - moved, moved)
        moved = np.where(above, 2.0 * self._xy_hi - moved, moved)
        # a reflection at a vertical edge mirrors the heading about the y axis, at a horizontal one
        # about the x axis
        flip_x = (below[..., 0] | above[..., 0]) & self.active
        flip_y = (below[..., 1] | above[..., 1]) & self.active
        np.subtract(np.pi, self.heading_rad, out=self.heading_rad, where=flip_x)
        np.negative(self.heading_rad, out=self.heading_rad, where=flip_y)
        np.copyto(xy, moved, where=self.active[..., None])
