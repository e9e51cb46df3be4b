"""Scenario model of the space–air–ground world (`sag`, hierarchical-drl-tn-ntn.txt).

One LEO satellite with fixed (Earth-steered) beams, one HAP per beam, regions of terrestrial
base stations (TBSs) and UAVs under each HAP. Every number lives in
``presets/sag.toml``; this module only validates it. Positions are metres in a flat local
East-North-Up frame whose origin is the geodetic point ``orbit.origin_lat_deg/lon_deg``.
"""

from __future__ import annotations

import datetime
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from e2_sim.scenarios.base import ScenarioBase

Environment = Literal["dense_urban", "urban", "suburban"]
A2gEnvironment = Literal["suburban", "urban", "dense_urban", "highrise_urban"]


class _Section(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


def _check_levels(levels: tuple[float, ...], max_power_dbm: float, what: str) -> None:
    if not levels:
        raise ValueError(f"{what}.power_levels_dbm must not be empty")
    if max(levels) > max_power_dbm + 1e-9:
        raise ValueError(f"{what}.power_levels_dbm exceed max_power_dbm = {max_power_dbm}")
    if list(levels) != sorted(levels):
        raise ValueError(f"{what}.power_levels_dbm must be increasing")


class SpectrumConfig(_Section):
    carrier_hz: float = Field(gt=0, description="Carrier frequency [Hz].")
    total_bandwidth_hz: float = Field(gt=0, description="System bandwidth shared by all tiers [Hz].")
    n_subbands: int = Field(ge=1, le=64, description="Number of equal subbands (the resource axis S).")
    noise_psd_dbm_hz: float = Field(description="Thermal noise power spectral density [dBm/Hz].")
    noise_figure_db: float = Field(ge=0, description="Receiver noise figure added to the noise PSD [dB].")


class OrbitConfig(_Section):
    altitude_m: float = Field(ge=200e3, le=2000e3, description="LEO altitude [m].")
    inclination_deg: float = Field(gt=0, lt=180, description="Orbit inclination [deg].")
    origin_lat_deg: float = Field(ge=-89, le=89, description="Geodetic latitude of the local frame origin [deg].")
    origin_lon_deg: float = Field(ge=-180, le=180, description="Geodetic longitude of the local frame origin [deg].")
    epoch_utc: datetime.datetime = Field(description="TLE epoch (UTC); orbit time 0.")
    culmination_s: float = Field(ge=0, description="Orbit time at which the pass culminates over the origin [s].")
    time_scale: float = Field(gt=0, description="Orbit seconds elapsed per physical second of slot time [-].")
    start_s: float = Field(ge=0, description="Orbit time at slot 0 of an episode [s].")
    start_jitter_s: float = Field(
        ge=0, description="Uniform random extra start per episode, rounded down to whole slots [s]."
    )
    min_elevation_deg: float = Field(
        ge=0, lt=90, description="Service elevation mask: no satellite link below it [deg]."
    )


class SatelliteConfig(_Section):
    beam_centers_m: tuple[tuple[float, float], ...] = Field(
        min_length=1, description="Ground point (x, y) each beam is steered to; one HAP per beam [m]."
    )
    max_power_dbm: float = Field(description="Maximum transmit power per beam per subband [dBm].")
    power_levels_dbm: tuple[float, ...] = Field(description="Discrete power levels for learned policies [dBm].")
    max_gain_dbi: float = Field(description="Peak beam antenna gain [dBi].")
    half_power_beamwidth_deg: float = Field(gt=0, lt=60, description="3 dB beamwidth of the Bessel pattern [deg].")
    direct_users_per_beam: int = Field(ge=1, description="Users served by the beam directly.")
    direct_user_ring_m: tuple[float, float] = Field(
        description="Inner and outer radius of the ring around the beam centre holding direct users [m]."
    )
    rician_k_db: float = Field(description="Rician K-factor of line-of-sight satellite links [dB].")
    decision_interval_slots: int = Field(ge=1, description="Satellite controller period [slots].")

    @model_validator(mode="after")
    def _levels(self) -> SatelliteConfig:
        _check_levels(self.power_levels_dbm, self.max_power_dbm, "satellite")
        if not 0 <= self.direct_user_ring_m[0] < self.direct_user_ring_m[1]:
            raise ValueError("satellite.direct_user_ring_m must be (inner, outer) with 0 <= inner < outer")
        return self


class HapConfig(_Section):
    altitude_m: float = Field(gt=0, description="HAP altitude above its beam centre [m].")
    max_power_dbm: float = Field(description="Maximum transmit power per subband [dBm].")
    power_levels_dbm: tuple[float, ...] = Field(description="Discrete power levels for learned policies [dBm].")
    max_gain_dbi: float = Field(description="Peak antenna gain (boresight at nadir) [dBi].")
    half_power_beamwidth_deg: float = Field(gt=0, lt=120, description="3 dB beamwidth of the Bessel pattern [deg].")
    direct_users: int = Field(ge=1, description="Users served by the HAP directly.")
    coverage_radius_m: float = Field(gt=0, description="Radius around the nadir holding the HAP's direct users [m].")
    rician_k_db: float = Field(description="Rician K-factor of line-of-sight HAP links [dB].")
    decision_interval_slots: int = Field(ge=1, description="HAP controller period [slots].")

    @model_validator(mode="after")
    def _levels(self) -> HapConfig:
        _check_levels(self.power_levels_dbm, self.max_power_dbm, "hap")
        return self


class RegionConfig(_Section):
    size_m: float = Field(gt=0, description="Side of the square region [m].")
    offsets_m: tuple[tuple[float, float], ...] = Field(
        min_length=1, description="Region centres relative to the HAP nadir, one per region [m]."
    )
    environment: Environment = Field(description="Propagation environment of region users (TR 38.811 tables).")

    @model_validator(mode="after")
    def _no_overlap(self) -> RegionConfig:
        for i, (xa, ya) in enumerate(self.offsets_m):
            for xb, yb in self.offsets_m[i + 1 :]:
                if abs(xa - xb) < self.size_m and abs(ya - yb) < self.size_m:
                    raise ValueError("region.offsets_m: regions of one HAP overlap")
        return self


class TbsConfig(_Section):
    offsets_m: tuple[tuple[float, float], ...] = Field(
        min_length=1, description="TBS positions relative to their region centre [m]."
    )
    height_m: float = Field(gt=1, description="Antenna height [m].")
    max_power_dbm: float = Field(description="Maximum transmit power per subband [dBm].")
    power_levels_dbm: tuple[float, ...] = Field(description="Discrete power levels for learned policies [dBm].")
    antenna_gain_dbi: float = Field(description="Average (element) antenna gain, seen by every receiver [dBi].")
    beamforming_gain_db: float = Field(ge=0, description="Extra array gain toward the node's own users [dB].")
    users: int = Field(ge=1, description="Users served by each TBS.")
    user_radius_m: float = Field(
        gt=0, description="TBS users are uniform in this disc around it (inside the region) [m]."
    )

    @model_validator(mode="after")
    def _levels(self) -> TbsConfig:
        _check_levels(self.power_levels_dbm, self.max_power_dbm, "tbs")
        return self


class UavConfig(_Section):
    start_offsets_m: tuple[tuple[float, float], ...] = Field(
        min_length=1, description="Start positions of the region's UAVs relative to the region centre [m]."
    )
    altitude_m: float = Field(gt=0, description="Flight altitude (kept constant) [m].")
    max_power_dbm: float = Field(description="Maximum transmit power per subband [dBm].")
    power_levels_dbm: tuple[float, ...] = Field(description="Discrete power levels for learned policies [dBm].")
    antenna_gain_dbi: float = Field(description="Average (element) antenna gain, seen by every receiver [dBi].")
    beamforming_gain_db: float = Field(ge=0, description="Extra array gain toward the node's own users [dB].")
    users: int = Field(ge=1, description="Users served by each UAV (a hotspot inside the region).")
    hotspot_radius_m: float = Field(gt=0, description="Radius of the UAV users' hotspot [m].")
    max_step_m: float = Field(gt=0, description="Largest horizontal move per slot [m].")
    flight_margin_m: float = Field(ge=0, description="How far outside its region a UAV may fly [m].")
    environment: A2gEnvironment = Field(description="Air-to-ground environment (Al-Hourani parameters).")
    rician_k_db: float = Field(description="Rician K-factor of line-of-sight UAV links [dB].")

    @model_validator(mode="after")
    def _levels(self) -> UavConfig:
        _check_levels(self.power_levels_dbm, self.max_power_dbm, "uav")
        return self


class UsersConfig(_Section):
    height_m: float = Field(gt=0, description="User antenna height [m].")
    antenna_gain_dbi: float = Field(description="User antenna gain (omnidirectional) [dBi].")
    qos_min_rate_bps: float = Field(gt=0, description="Minimum rate per user per slot for QoS [bit/s].")
    qos_deficit_cap_s: float = Field(gt=0, description="Cap of the QoS deficit queue, in seconds of minimum rate [s].")
    direct_environment: Environment = Field(description="Environment of satellite/HAP direct users (TR 38.811).")


class ChannelConfig(_Section):
    atmospheric_zenith_db: float = Field(ge=0, description="Gaseous absorption at zenith (ITU-R P.676) [dB].")
    doppler_hz: float = Field(ge=0, description="Maximum Doppler of the small-scale fading [Hz].")
    clutter_elevation_deg: tuple[float, ...] = Field(description="Elevations of the clutter-loss tables [deg].")
    clutter_loss_db: dict[Environment, tuple[float, ...]] = Field(
        description="NLoS clutter loss per environment at clutter_elevation_deg (TR 38.811 §6.6.2) [dB]."
    )
    ntn_shadow_sigma_db: dict[Environment, tuple[float, float]] = Field(
        description="Shadow-fading standard deviation (LoS, NLoS) of satellite/HAP links per environment [dB]."
    )
    umi_shadow_sigma_db: tuple[float, float] = Field(
        description="Shadow-fading standard deviation (LoS, NLoS) of UMi street-canyon links (TR 38.901) [dB]."
    )

    @model_validator(mode="after")
    def _tables(self) -> ChannelConfig:
        n = len(self.clutter_elevation_deg)
        if n < 2 or list(self.clutter_elevation_deg) != sorted(self.clutter_elevation_deg):
            raise ValueError("channel.clutter_elevation_deg must hold at least 2 increasing elevations")
        for env, table in self.clutter_loss_db.items():
            if len(table) != n:
                raise ValueError(f"channel.clutter_loss_db.{env} needs {n} entries, got {len(table)}")
        return self


class InitialSplitConfig(_Section):
    satellite_subbands: int = Field(ge=0, description="Subbands each beam keeps before its first decision.")
    hap_subbands: int = Field(ge=0, description="Subbands each HAP keeps (after the beam's) before its first decision.")


class RewardConfig(_Section):
    spectral_efficiency: float = Field(description="Weight of spectral efficiency in the training reward.")
    fairness: float = Field(description="Weight of Jain's fairness.")
    uav_out_of_region: float = Field(description="Weight of the fraction of UAVs outside their region.")
    qos_violation: float = Field(description="Weight of the QoS violation term.")


class SagScenario(ScenarioBase):
    """The `sag` preset: LEO beams → HAPs → regions of TBSs and UAVs (three-tier hierarchy)."""

    world: Literal["sag"] = Field(description="World kind: the space–air–ground hierarchy.")
    spectrum: SpectrumConfig = Field(description="Carrier, bandwidth, subbands and noise.")
    orbit: OrbitConfig = Field(description="The LEO orbit and the pass over the origin.")
    satellite: SatelliteConfig = Field(description="Satellite beams and their direct users.")
    hap: HapConfig = Field(description="One HAP per beam and its direct users.")
    region: RegionConfig = Field(description="Regions under each HAP.")
    tbs: TbsConfig = Field(description="Terrestrial base stations of each region.")
    uav: UavConfig = Field(description="UAV base stations of each region.")
    users: UsersConfig = Field(description="User equipment and QoS.")
    channel: ChannelConfig = Field(description="Propagation and fading parameters.")
    initial_split: InitialSplitConfig = Field(description="Hierarchy masks in force before the first control.")
    reward: RewardConfig = Field(description="Reward weights of the paper, as data for training.")
    local_decision_interval_slots: int = Field(ge=1, description="TBS/UAV controller period [slots].")

    @field_validator("loads")
    @classmethod
    def _loads_are_fractions(cls, loads: tuple[float, ...]) -> tuple[float, ...]:
        if any(not 0.0 < x <= 1.0 for x in loads):
            raise ValueError("loads are fractions of deployed users active, in (0, 1]")
        return loads

    @model_validator(mode="after")
    def _consistent(self) -> SagScenario:
        if not 0.0 < self.default_load <= 1.0:
            raise ValueError("default_load is a fraction of deployed users active, in (0, 1]")
        if self.initial_split.satellite_subbands + self.initial_split.hap_subbands > self.spectrum.n_subbands:
            raise ValueError("initial_split keeps more subbands than spectrum.n_subbands")
        half = self.region.size_m / 2.0
        for x, y in (*self.tbs.offsets_m, *self.uav.start_offsets_m):
            if abs(x) > half or abs(y) > half:
                raise ValueError(f"tbs/uav offset ({x}, {y}) lies outside the {self.region.size_m} m region")
        return self
