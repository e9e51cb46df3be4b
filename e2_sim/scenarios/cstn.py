"""Scenario model of the cognitive satellite–terrestrial world (``world = "cstn"``).

Zhai et al., "Joint Power Allocation Algorithm Based on Multi-Agent DQN in Cognitive
Satellite–Terrestrial Mixed 6G Networks", Mathematics 13(19) 3133, 2025, and the authors' public
code (Resource-allocation-by-MADRL_IL). Where the two disagree the preset says which it follows
(see ``presets/cstn.toml`` and the reference page on scenarios).
"""

from __future__ import annotations

import datetime
import math
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationInfo, field_validator

from e2_sim.scenarios.base import ScenarioBase

_FRACTION_TOL = 1e-9


class _Section(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class SectorAntenna(_Section):
    """Horizontal sector pattern G(φ) = G_max − min(c·(φ/φ_3dB)², A_m) [dBi]."""

    max_gain_dbi: float = Field(description="Boresight gain G_max [dBi].")
    beamwidth_3db_deg: float = Field(gt=0, le=360, description="Beamwidth parameter φ_3dB of the pattern [deg].")
    front_to_back_db: float = Field(ge=0, description="Floor A_m below the boresight gain [dB].")
    rolloff_db: float = Field(
        gt=0, description="Roll-off c of the quadratic term [dB]: 6 in the paper's eq. (2), 12 in 3GPP TR 36.814."
    )
    boresights_deg: tuple[float, ...] = Field(
        min_length=1,
        description="Boresight azimuth of each antenna (sector) of a base station, counter-clockwise from east [deg].",
    )


class Demand(_Section):
    """Per-user Poisson rate demand held in a TTL-limited pool (paper §2, §4.1)."""

    mean_rate_min_bps: float = Field(gt=0, description="Lower end of the uniform draw of a user's mean rate [bit/s].")
    mean_rate_max_bps: float = Field(gt=0, description="Upper end of the uniform draw of a user's mean rate [bit/s].")
    rate_unit_bps: float = Field(
        gt=0, description="Granularity of the Poisson rate requirement: r ~ Poisson(λ / unit)·unit [bit/s]."
    )
    redraw_interval_slots: int = Field(gt=0, description="Slots between redraws of every user's mean rate [slots].")
    ttl_slots: int = Field(gt=0, description="Slots an unmet demand waits before it is dropped (TTL) [slots].")

    @field_validator("mean_rate_max_bps")
    @classmethod
    def _ordered(cls, value: float, info: ValidationInfo) -> float:
        low = info.data.get("mean_rate_min_bps")
        if low is not None and value < low:
            raise ValueError(f"below mean_rate_min_bps = {low}")
        return value


class Fading(_Section):
    """Small-scale fading on every link (Gauss–Markov Rician), or none (deterministic gains)."""

    kind: Literal["rician", "none"] = Field(description="'rician' on every link, or 'none' (pure path loss).")
    user_speed_mps: float = Field(ge=0, description="User speed setting the Doppler f_d = v·f_c/c [m/s].")
    bs_k_factor_db: float = Field(description="Rician K-factor of base-station antenna → user links [dB].")
    sat_k_factor_db: float = Field(description="Rician K-factor of satellite → user links [dB].")


class Satellite(_Section):
    """The LEO satellite (primary system): orbit, beams, beam hopping and link budget."""

    altitude_m: float = Field(gt=0, description="Circular orbit altitude [m].")
    inclination_deg: float = Field(ge=0, le=180, description="Orbit inclination [deg].")
    origin_lat_deg: float = Field(ge=-90, le=90, description="Geodetic latitude of the area centre [deg].")
    origin_lon_deg: float = Field(ge=-180, le=180, description="Geodetic longitude of the area centre [deg].")
    epoch: datetime.datetime = Field(description="Orbit epoch (UTC); the pass culminates over the area centre then.")
    start_offset_min_s: float = Field(description="Earliest time of slot 0 relative to the culmination [s].")
    start_offset_max_s: float = Field(description="Latest time of slot 0 relative to the culmination [s].")
    geometry_update_slots: int = Field(
        gt=0, description="Slots between updates of the satellite's position, beam gains and path losses [slots]."
    )
    total_power_dbw: float = Field(description="Satellite transmit power, split equally over the active beams [dBW].")
    beam_centres_m: tuple[tuple[float, float], ...] = Field(
        min_length=1, description="Ground points (east, north) the beams are steered to [m], area-centre frame."
    )
    n_active_beams: int = Field(gt=0, description="Beams illuminated per slot (beam hopping).")
    hopping_rule: Literal["round_robin", "max_demand"] = Field(
        description=(
            "'round_robin': a window of n_active_beams consecutive beams advancing by n_active_beams every slot "
            "from a random phase; 'max_demand': the beams whose satellite users wait for the most demand, "
            "ties broken at random."
        )
    )
    max_gain_dbi: float = Field(description="Peak gain of a satellite beam [dBi].")
    half_power_angle_deg: float = Field(gt=0, description="Off-axis angle at which a beam is 3 dB down [deg].")
    sat_user_rx_gain_dbi: float = Field(description="Receive gain of a satellite user toward the satellite [dBi].")
    terrestrial_user_rx_gain_dbi: float = Field(
        description="Receive gain of a terrestrial user toward the satellite [dBi]."
    )

    @field_validator("start_offset_max_s")
    @classmethod
    def _window(cls, value: float, info: ValidationInfo) -> float:
        low = info.data.get("start_offset_min_s")
        if low is not None and value < low:
            raise ValueError(f"below start_offset_min_s = {low}")
        return value

    @field_validator("n_active_beams")
    @classmethod
    def _beams(cls, value: int, info: ValidationInfo) -> int:
        centres = info.data.get("beam_centres_m")
        if centres is not None and value > len(centres):
            raise ValueError(f"exceeds the {len(centres)} beam centres")
        return value


class CstnScenario(ScenarioBase):
    """Cognitive satellite–terrestrial network: 3-sector base stations under a satellite-user
    interference cap, with an LEO satellite doing beam hopping as the primary system."""

    world: Literal["cstn"] = Field(description="World kind: cstn.")
    carrier_hz: float = Field(gt=0, description="Carrier frequency shared by satellite and base stations [Hz].")
    bandwidth_hz: float = Field(gt=0, description="Bandwidth shared by every antenna and beam [Hz].")
    noise_dbw: float = Field(description="Noise power at a receiver over the whole bandwidth [dBW].")
    interference_threshold_dbw: float = Field(
        description="I_th: largest admissible aggregate base-station interference at a satellite user [dBW]."
    )
    sinr_max_db: float | None = Field(
        default=None, description="Upper clip of the SINR used for rates [dB]; no clip when absent."
    )
    area_side_m: float = Field(gt=0, description="Side of the square area, centred on the origin [m].")
    n_users: int = Field(gt=0, description="Users in the area (satellite and terrestrial), a 2-D Poisson point set.")
    sat_user_indices: tuple[int, ...] = Field(
        min_length=1, description="Which of the users are satellite (primary) users; the rest are terrestrial."
    )
    user_height_m: float = Field(ge=0, description="Antenna height of every user [m].")
    bs_ring_radius_m: float = Field(gt=0, description="Distance of every base station from the area centre [m].")
    bs_ring_angles_deg: tuple[float, ...] = Field(
        min_length=1,
        description="Angular position of each base station on the ring, counter-clockwise from east [deg].",
    )
    bs_height_m: float = Field(gt=0, description="Antenna height of the base stations [m].")
    bs_coverage_radius_m: float = Field(
        gt=0, description="A terrestrial user farther than this from its nearest base station is not served [m]."
    )
    bs_max_power_dbw: float = Field(description="Maximum total transmit power of a base station [dBW].")
    bs_path_loss_exponent: float = Field(
        default=2.0,
        gt=0,
        description=(
            "Distance exponent n of the base-station links' loss 32.44 + 20·lg(f/MHz) + 10·n·lg(d/d_ref): "
            "2 is free space (d_ref = 1 km gives the paper's eq. (3))."
        ),
    )
    bs_path_loss_reference_m: float = Field(
        default=1000.0,
        gt=0,
        description="Reference distance d_ref at which the base-station loss equals free space [m].",
    )
    min_power_fraction: float = Field(
        ge=0, lt=1, description="Below this fraction of an antenna's maximum power the antenna is off."
    )
    n_power_levels: int = Field(ge=1, description="Non-zero power levels L of an antenna (off is the extra one).")
    terrestrial_user_rx_gain_dbi: float = Field(
        description="Receive gain of a terrestrial user toward a base station [dBi]."
    )
    sat_user_rx_gain_from_bs_dbi: float = Field(
        description="Receive gain of a satellite user toward a base station (its side lobe) [dBi]."
    )
    sector_antenna: SectorAntenna = Field(description="Base-station sector antenna.")
    demand: Demand = Field(description="Traffic demand model.")
    fading: Fading = Field(description="Small-scale fading.")
    satellite: Satellite = Field(description="The LEO satellite.")

    @field_validator("sat_user_indices")
    @classmethod
    def _sat_users(cls, value: tuple[int, ...], info: ValidationInfo) -> tuple[int, ...]:
        n_users = info.data.get("n_users")
        if n_users is None:
            return value
        bad = [i for i in value if not 0 <= i < n_users]
        if bad:
            raise ValueError(f"indices {bad} are outside 0..{n_users - 1}")
        if len(set(value)) != len(value):
            raise ValueError("a user is listed twice")
        if len(value) >= n_users:
            raise ValueError("no terrestrial user is left")
        return value

    @field_validator("n_power_levels")
    @classmethod
    def _levels(cls, value: int, info: ValidationInfo) -> int:
        floor = info.data.get("min_power_fraction")
        if floor is not None and 1.0 / value < floor - _FRACTION_TOL:
            most = int(1.0 / floor + _FRACTION_TOL)
            raise ValueError(
                f"the lowest level ({1.0 / value:.3g} of the antenna maximum) is below min_power_fraction = "
                f"{floor}; use at most {most} levels"
            )
        return value

    @property
    def n_antennas(self) -> int:
        """Antennas (sectors) per base station."""
        return len(self.sector_antenna.boresights_deg)

    @property
    def antenna_max_power_dbw(self) -> float:
        """Maximum power of one antenna, P_max / W [dBW]."""
        return self.bs_max_power_dbw - 10.0 * math.log10(self.n_antennas)

    def power_level_fractions(self) -> tuple[float, ...]:
        """Non-zero power levels as fractions of the antenna maximum: i/L for i = 1..L (paper §3)."""
        return tuple(i / self.n_power_levels for i in range(1, self.n_power_levels + 1))
