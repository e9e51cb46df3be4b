"""Scenario model of the delay-driven multi-cell world (``world = "multicell"``).

Zhang & Guo, "Multi-agent reinforcement learning for multi-cell spectrum and power allocation"
(§II-C, §IV, Table I) and the authors' public code (github.com/yimingzhang2026/MARL-multicell),
which the presets follow where the two differ (subband bandwidth, fading innovation power).
APs on a hexagonal (or jittered) grid serve their own devices in the downlink on ``n_subbands``
subbands; packets arrive as a Poisson process per device and the objective is the packet delay.
"""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationInfo, field_validator, model_validator

from e2_sim.scenarios.base import ScenarioBase, buffer_exceeds_qos_queue


class _Section(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class HexagonalLayout(_Section):
    """Regular deployment: n_devices/n_aps devices uniform in each AP's own hexagon."""

    min_device_distance_m: float = Field(ge=0, description="Devices keep more than this distance from their AP [m].")
    max_device_distance_m: float = Field(gt=0, description="Devices keep less than this distance from their AP [m].")

    @model_validator(mode="after")
    def _ordered(self) -> HexagonalLayout:
        if self.min_device_distance_m >= self.max_device_distance_m:
            raise ValueError(
                f"min_device_distance_m = {self.min_device_distance_m} must be below "
                f"max_device_distance_m = {self.max_device_distance_m}"
            )
        return self


class RandomLayout(_Section):
    """Irregular deployment: jittered sites, devices associated with the nearest AP."""

    site_offset_max_m: float = Field(
        ge=0, description="Each new site moves by an offset uniform in [0, this] on x and on y [m]."
    )
    device_square_m: float = Field(
        gt=0, description="Side of the square around a site where its share of devices is dropped [m]."
    )
    min_devices_per_ap: int = Field(ge=1, description="Fewest devices an AP may end up with.")
    max_devices_per_ap: int = Field(ge=1, description="Most devices an AP may end up with: the padded user axis U.")

    @model_validator(mode="after")
    def _ordered(self) -> RandomLayout:
        if self.min_devices_per_ap > self.max_devices_per_ap:
            raise ValueError(
                f"min_devices_per_ap = {self.min_devices_per_ap} exceeds max_devices_per_ap = {self.max_devices_per_ap}"
            )
        return self


class FairItlinqThresholds(_Section):
    """Fair-ITLinQ thresholds tuned for the deployment (all linear, dimensionless).

    Link ``j`` may switch on next to the links already on when the interference it receives
    satisfies INR ≤ c·SNR_j^eta and the interference it causes satisfies INR ≤ c·SNR_j^eta
    (SNR_j ≤ snr_threshold_lin) or INR ≤ c_bar·SNR_j^eta_bar (above the threshold).
    """

    eta: float = Field(
        gt=0, description="Exponent of the received-interference test (and of the caused one at low SNR)."
    )
    eta_bar: float = Field(gt=0, description="Exponent of the caused-interference test above snr_threshold_lin.")
    c: float = Field(gt=0, description="Factor paired with eta.")
    c_bar: float = Field(gt=0, description="Factor paired with eta_bar.")
    snr_threshold_lin: float = Field(
        gt=0, description="SNR above which the caused-interference test uses c_bar and eta_bar [linear]."
    )


class MulticellScenario(ScenarioBase):
    """Multi-cell downlink spectrum and power allocation under stochastic packet traffic."""

    world: Literal["multicell"] = Field(description="World kind: multicell.")
    load_unit: str = Field(
        default="packets/s per device", description="What --load means: Poisson arrival rate λ per device."
    )

    # deployment --------------------------------------------------------------------------------
    layout: Literal["hexagonal", "random"] = Field(
        description="Which deployment section applies: [hexagonal] or [random] (e2_sim.geometry.layouts)."
    )
    n_aps: int = Field(gt=0, description="K: access points (E2 nodes bs_0 .. bs_{K-1}), grown ring by ring.")
    n_devices: int = Field(gt=0, description="N: devices in the network, a multiple of n_aps.")
    cell_radius_m: float = Field(gt=0, description="R: circumradius of a hexagonal cell [m].")
    ap_height_m: float = Field(
        ge=0, description="AP antenna height; 0 puts APs on the ground like the authors' 2-D model [m]."
    )
    hexagonal: HexagonalLayout | None = Field(
        default=None,
        validate_default=True,
        description="Regular deployment parameters (required when layout = 'hexagonal').",
    )
    random: RandomLayout | None = Field(
        default=None,
        validate_default=True,
        description="Irregular deployment parameters (required when layout = 'random').",
    )

    # radio -------------------------------------------------------------------------------------
    pathloss_model: Literal["lte_macro"] = Field(
        description="'lte_macro': 128.1 + 37.6·log10(d/1 km) dB (TR 36.814), no shadowing."
    )
    n_subbands: int = Field(gt=0, description="S: orthogonal subbands (H in the paper).")
    subband_bandwidth_hz: float = Field(
        gt=0, description="W: bandwidth of one subband; the public code uses 10 MHz, the paper's Table I 20 MHz [Hz]."
    )
    noise_dbm: float = Field(description="σ²: noise power per subband at a device [dBm].")
    max_power_dbm: float = Field(description="P_max: transmit power limit per link per subband [dBm].")
    power_levels_dbm: tuple[float, ...] = Field(
        min_length=1, description="Discrete powers a learned policy picks from (off is implicit) [dBm]."
    )
    doppler_hz: float = Field(ge=0, description="f_d: maximum Doppler of the Gauss–Markov fading [Hz].")
    fading_innovation_power: float = Field(
        gt=0,
        description=(
            "σ²: variance of the complex fading innovation = stationary E|β|²; the public code draws "
            "√(2/π)·(x + jy) with x, y ~ N(0, 1), i.e. 4/π."
        ),
    )
    sinr_min_db: float = Field(description="Lower clip of the SINR before the rate is computed [dB].")
    sinr_max_db: float = Field(description="Upper clip of the SINR before the rate is computed [dB].")
    neighbour_threshold_db: float = Field(
        gt=0,
        description=(
            "APs a and k are neighbours when a device n of one of them has PL(other→n) − PL(own→n) below "
            "this value [dB]."
        ),
    )

    # traffic -----------------------------------------------------------------------------------
    packet_bits: int = Field(gt=0, description="L: size of every packet [bit].")
    buffer_packets: int = Field(
        ge=0, description="Queue capacity per device; arrivals beyond it are dropped; 0 = unbounded [packets]."
    )
    qos_max_queue_packets: int = Field(
        gt=0,
        description=(
            "A device violates QoS in a slot when its queue after service holds more packets than this; the "
            "training stop condition of the paper [packets]."
        ),
    )

    # baselines ---------------------------------------------------------------------------------
    fitlinq: FairItlinqThresholds = Field(
        description="Fair-ITLinQ thresholds for this deployment, published as spec.static['fitlinq']."
    )

    @field_validator("n_devices")
    @classmethod
    def _whole_cells(cls, value: int, info: ValidationInfo) -> int:
        n_aps = info.data.get("n_aps")
        if n_aps and value % n_aps:
            raise ValueError(f"must be a multiple of n_aps = {n_aps}")
        return value

    @field_validator("hexagonal", "random")
    @classmethod
    def _section_present(cls, value: _Section | None, info: ValidationInfo) -> _Section | None:
        if value is None and info.data.get("layout") == info.field_name:
            raise ValueError(f"layout = {info.field_name!r} needs a [{info.field_name}] section")
        return value

    @field_validator("sinr_max_db")
    @classmethod
    def _sinr_range(cls, value: float, info: ValidationInfo) -> float:
        low = info.data.get("sinr_min_db")
        if low is not None and value <= low:
            raise ValueError(f"must exceed sinr_min_db = {low}")
        return value

    @field_validator("power_levels_dbm")
    @classmethod
    def _levels_fit(cls, value: tuple[float, ...], info: ValidationInfo) -> tuple[float, ...]:
        top = info.data.get("max_power_dbm")
        if top is not None and max(value) > top:
            raise ValueError(f"levels exceed max_power_dbm = {top}")
        return value

    _buffer_fits = field_validator("qos_max_queue_packets")(buffer_exceeds_qos_queue)

    @property
    def max_devices_per_ap(self) -> int:
        """U: the padded user axis (n_devices/n_aps for the hexagonal layout)."""
        if self.layout == "random" and self.random is not None:
            return self.random.max_devices_per_ap
        return self.n_devices // self.n_aps
