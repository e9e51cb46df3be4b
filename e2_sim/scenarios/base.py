"""Fields every scenario has; each world kind extends `ScenarioBase` in its own module."""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict, Field, ValidationInfo


class ScenarioBase(BaseModel):
    """Common part of every scenario file. Unknown fields are errors (typos never pass)."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    name: str = Field(description="Preset name, e.g. hex19.")
    description: str = Field(description="One line shown by `ntnric scenarios`.")
    world: str = Field(description="World kind that interprets the scenario.")
    source: str = Field(default="", description="Paper (and code) the numbers come from.")
    slot_s: float = Field(gt=0, description="Physical slot duration used for rates and delays [s].")
    deployment_seed: int = Field(default=0, ge=0, description="Seed of the fixed node/user layout.")
    loads: tuple[float, ...] = Field(default=(), description="Traffic loads the paper evaluates.")
    default_load: float = Field(gt=0, description="Load used when none is given.")
    load_unit: str = Field(description="What `--load` means for this scenario, e.g. 'packets/s per device'.")
    test_slots: int = Field(default=5000, gt=0, description="Length of a test episode [slots].")
    train_episode_slots: int = Field(default=2000, gt=0, description="Length of a training episode [slots].")


def buffer_exceeds_qos_queue(value: int, info: ValidationInfo) -> int:
    """Validator of ``qos_max_queue_packets`` for packet worlds: a bounded buffer
    (``buffer_packets`` > 0, declared before it) must hold more than the QoS queue limit."""
    buffer = info.data.get("buffer_packets")
    if buffer and buffer <= value:
        raise ValueError(f"buffer_packets = {buffer} must exceed it (or be 0 = unbounded)")
    return value
