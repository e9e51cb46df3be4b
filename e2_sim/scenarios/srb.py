"""Scenario model of the TN–NTN spectrum-sharing world with subset resource blocks (``world = "srb"``).

Le, Vu, Andrenacci, Chatzinotas, "Constrained MARL for Coexisting TN-NTN Resource Allocation:
Scalability and Flexibility" (no public code; the presets follow the paper, §II and §IV, and say
where the paper is silent). Terrestrial base stations and a UAV share one band divided into
``n_subchannels``; every base station splits its subchannels into subset resource blocks (SRBs)
of ``srb_size``, one agent per SRB.

What ``--load`` means depends on ``users.mode`` (``load_unit`` follows it and may be left out of
the file):

- ``fixed`` / ``episode``: mean number of active users per base station as a fraction of
  ``K_max`` (the paper's λ = 0.5·K_max is load 0.5);
- ``dynamic``: user arrivals per minute per base station (the paper's flexibility test: 1, 3, 5).
"""

from __future__ import annotations

import math
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationInfo, field_validator, model_validator

from e2_sim.channel.pathloss import A2G_PARAMETERS
from e2_sim.scenarios.base import ScenarioBase

LOAD_UNITS: dict[str, str] = {
    "fixed": "active users per BS / K_max",
    "episode": "mean active users per BS / K_max",
    "dynamic": "user arrivals per minute per BS",
}

NODE_PREFIX = {"gnb": "bs_", "uav": "uav_"}


class _Section(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class SrbNode(_Section):
    """One base station: a terrestrial gNB or a hovering UAV, and the area its users live in."""

    name: str = Field(description="E2 node name: bs_<i> for a gNB, uav_<i> for a UAV.")
    kind: Literal["gnb", "uav"] = Field(
        description="'gnb' (terrestrial: WINNER II + Rayleigh) or 'uav' (air-to-ground, probabilistic LoS)."
    )
    position_m: tuple[float, float, float] = Field(description="Antenna position (x, y, height) [m].")
    max_power_dbm: float = Field(description="Total transmit power of the base station, over all subchannels [dBm].")
    user_area_m: tuple[tuple[float, float], tuple[float, float]] = Field(
        description="Rectangle ((x_min, x_max), (y_min, y_max)) its users are placed and move in [m]."
    )

    @model_validator(mode="after")
    def _consistent(self) -> SrbNode:
        prefix = NODE_PREFIX[self.kind]
        if not (self.name.startswith(prefix) and self.name[len(prefix) :].isdigit()):
            raise ValueError(f"name {self.name!r} of a {self.kind!r} node must be {prefix}<index>")
        (x0, x1), (y0, y1) = self.user_area_m
        if not (x0 < x1 and y0 < y1):
            raise ValueError(f"user_area_m {self.user_area_m} needs x_min < x_max and y_min < y_max")
        if self.position_m[2] <= 0.0:
            raise ValueError(f"position_m height {self.position_m[2]} must be > 0")
        return self


class SrbUsers(_Section):
    """User population of every base station (see `e2_sim.geometry.users`)."""

    mode: Literal["fixed", "episode", "dynamic"] = Field(
        description=(
            "'episode': Poisson(load·K_max) active users per BS at random positions, redrawn every episode "
            "(the paper's training environment); 'dynamic': Poisson arrivals (load per minute per BS) with "
            "exponential holding times (the flexibility test); 'fixed': round(load·K_max) users per BS at "
            "positions drawn once from deployment_seed."
        )
    )
    max_users_per_node: int = Field(gt=0, description="K_max: user slots per base station (the padded axis U).")
    height_m: float = Field(gt=0, description="User antenna height [m].")
    episode_slots: int = Field(gt=0, description="'episode'/'fixed': slots between population redraws [slots].")
    mean_holding_s: float = Field(gt=0, description="'dynamic': mean exponential holding time of a user [s].")
    initial: Literal["stationary", "empty"] = Field(
        description="'dynamic': start in the stationary state (Poisson(rate·mean holding) users) or empty."
    )
    speed_mps: float = Field(ge=0, description="Random-walk speed of every user, 0 = static [m/s].")
    turn_interval_s: float = Field(gt=0, description="Time between random-walk direction changes [s].")


class Terrestrial(_Section):
    """Path loss of gNB → user links (WINNER II) and interference links from gNBs."""

    winner2_scenario: Literal["C2_nlos", "B1_los"] = Field(
        description="WINNER II D1.1.2 model: 'C2_nlos' (urban macro, NLoS) or 'B1_los' (urban micro, LoS)."
    )
    min_distance_m: float = Field(gt=0, description="3-D distance below which the loss is held constant [m].")


class AirToGround(_Section):
    """Path loss of UAV → user links: free space plus LoS/NLoS excess (Al-Hourani 2014)."""

    environment: str = Field(description=f"Al-Hourani environment, one of {sorted(A2G_PARAMETERS)}.")

    @field_validator("environment")
    @classmethod
    def _known(cls, value: str) -> str:
        if value not in A2G_PARAMETERS:
            raise ValueError(f"expected one of {sorted(A2G_PARAMETERS)}")
        return value


class SrbScenario(ScenarioBase):
    """Terrestrial base stations and UAVs sharing one band, each BS's subchannels split into SRBs."""

    world: Literal["srb"] = Field(description="World kind: srb.")
    load_unit: str = Field(default="", description="What --load means; follows users.mode (see the module docstring).")
    bandwidth_hz: float = Field(gt=0, description="Band shared by every base station [Hz].")
    n_subchannels: int = Field(gt=0, description="F: subchannels the band is divided into (numerology).")
    srb_size: int = Field(gt=0, description="Subchannels per SRB; each BS has F / srb_size agents.")
    carrier_hz: float = Field(gt=0, description="Carrier frequency [Hz].")
    noise_density_dbm_hz: float = Field(description="Noise power spectral density N0 [dBm/Hz].")
    noise_figure_db: float = Field(ge=0, description="Receiver noise figure added to N0·W [dB].")
    qos_min_rate_bps: float = Field(gt=0, description="η: minimum rate of every active user per slot [bit/s].")
    area_m: tuple[float, float] = Field(description="Side lengths (x, y) of the deployment area [m].")
    fading_rho: float = Field(
        gt=0, lt=1, description="Lag-one correlation of the Rayleigh fading between frames (≈0: i.i.d. per frame)."
    )
    nodes: tuple[SrbNode, ...] = Field(min_length=1, description="Base stations; node k is row k of every array.")
    users: SrbUsers = Field(description="User population.")
    terrestrial: Terrestrial = Field(description="gNB → user path loss.")
    air_to_ground: AirToGround = Field(description="UAV → user path loss.")

    @model_validator(mode="before")
    @classmethod
    def _fill_load_unit(cls, data: Any) -> Any:
        if isinstance(data, dict) and "load_unit" not in data:
            users = data.get("users")
            mode = users.get("mode") if isinstance(users, dict) else None
            if isinstance(mode, str) and mode in LOAD_UNITS:
                data = {**data, "load_unit": LOAD_UNITS[mode]}
        return data

    @field_validator("srb_size")
    @classmethod
    def _whole_srbs(cls, value: int, info: ValidationInfo) -> int:
        n_subchannels = info.data.get("n_subchannels")
        if n_subchannels is not None and n_subchannels % value:
            raise ValueError(f"n_subchannels = {n_subchannels} is not a multiple of srb_size = {value}")
        return value

    @field_validator("users")
    @classmethod
    def _load_unit_matches(cls, users: SrbUsers, info: ValidationInfo) -> SrbUsers:
        given = info.data.get("load_unit")
        expected = LOAD_UNITS[users.mode]
        if given is not None and given != expected:
            raise ValueError(
                f"mode {users.mode!r} reads --load as {expected!r}, but load_unit is {given!r} "
                "(leave load_unit out to take it from the mode)"
            )
        return users

    @field_validator("nodes")
    @classmethod
    def _nodes_fit(cls, nodes: tuple[SrbNode, ...], info: ValidationInfo) -> tuple[SrbNode, ...]:
        names = [n.name for n in nodes]
        if len(set(names)) != len(names):
            raise ValueError(f"node names {names} repeat")
        area = info.data.get("area_m")
        if area is not None:
            ax, ay = area
            for node in nodes:
                (x0, x1), (y0, y1) = node.user_area_m
                if x0 < 0.0 or y0 < 0.0 or x1 > ax or y1 > ay:
                    raise ValueError(f"user_area_m of {node.name} leaves the area 0..{ax} × 0..{ay} m")
        return nodes

    # derived quantities -----------------------------------------------------------------------
    @property
    def agents_per_node(self) -> int:
        """M = F / srb_size: SRBs (agents) per base station."""
        return self.n_subchannels // self.srb_size

    @property
    def subchannel_bandwidth_hz(self) -> float:
        """W = bandwidth / F [Hz]."""
        return self.bandwidth_hz / self.n_subchannels

    @property
    def noise_dbm(self) -> float:
        """Noise power over one subchannel, N0·W plus the noise figure [dBm]."""
        return self.noise_density_dbm_hz + 10.0 * math.log10(self.subchannel_bandwidth_hz) + self.noise_figure_db
