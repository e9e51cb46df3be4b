"""Configuration of a RIC process (`RicConfig`), validated by pydantic."""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from ric.transport.base import TransportError, parse_address


def _address_of(transport: str, value: str | None, field: str) -> str | None:
    if value is None or value == "":
        return None
    try:
        kind, normalised = parse_address(value)
    except TransportError as exc:
        raise ValueError(f"{field}: {exc}") from None
    if kind != transport:
        example = "tcp://127.0.0.1:PORT" if transport == "zmq" else "127.0.0.1:PORT"
        raise ValueError(f"{field}: {value!r} is not a {transport} address (e.g. {example})")
    return normalised


class RicConfig(BaseModel):
    """Everything `ric.server.serve` needs. An address of None (or "") disables that endpoint.

    Ports 0 (``tcp://host:0`` or ``host:0``) pick free ports; the bound addresses are logged and
    reported by `Ric.endpoints`.
    """

    model_config = ConfigDict(extra="forbid", frozen=True)

    name: str = Field(default="ntnric-ric", description="Name the RIC announces in E2 Setup and xApp registration.")
    e2_zmq: str | None = Field(default="tcp://127.0.0.1:36421", description="ZeroMQ ROUTER address for E2 agents.")
    e2_grpc: str | None = Field(default="127.0.0.1:36422", description="gRPC address of the E2 service.")
    xapp_zmq: str | None = Field(default="tcp://127.0.0.1:4560", description="ZeroMQ ROUTER address for xApps.")
    xapp_grpc: str | None = Field(default="127.0.0.1:4561", description="gRPC address of the xApp service.")
    admin_grpc: str | None = Field(default="127.0.0.1:4562", description="gRPC address of the Admin service.")
    metrics_host: str = Field(default="127.0.0.1", description="Host of the HTTP server for /metrics and /healthz.")
    metrics_port: int | None = Field(
        default=9464, ge=0, le=65535, description="Port of /metrics and /healthz (None: off)."
    )
    zmq_hwm_msgs: int = Field(
        default=1000, ge=1, description="ZeroMQ send/receive high-water mark per peer [messages]."
    )
    grpc_queue_msgs: int = Field(default=1000, ge=1, description="Outgoing queue per gRPC stream [messages].")
    probe_interval_s: float = Field(
        default=1.0, gt=0, description="ZeroMQ peers silent this long get a keepalive probe [s]."
    )
    e2_response_timeout_s: float = Field(
        default=2.0, gt=0, description="How long a node may take to answer a subscription request [s]."
    )
    grpc_grace_s: float = Field(default=1.0, ge=0, description="Grace period of gRPC servers at shutdown [s].")
    constraint_xapps: tuple[str, ...] | None = Field(
        default=None,
        description="xApp names allowed to set constraints; None: every xApp that registers with may_constrain.",
    )
    busy_poll: bool = Field(
        default=False,
        description="Poll the ZeroMQ sockets without sleeping in epoll: lower latency where idle wake-ups are slow "
        "(virtual machines), at the price of one busy core.",
    )
    model_dir: str | None = Field(
        default=".ntnric/models",
        description="Directory of the model registry's store (relative paths start at the RIC's working "
        "directory); None or '': kept in memory, lost when the RIC stops.",
    )
    warm_model_checker: bool = Field(
        default=False,
        description="Start the model-check worker (it loads onnx and onnxruntime) with the RIC instead of when the "
        "first xApp that runs models registers, so that start-up does not share a realtime run's first slots.",
    )
    model_switch_timeout_s: float = Field(
        default=20.0, gt=0, description="How long a model deploy or rollback waits for the xApp to switch [s]."
    )
    log_level: Literal["DEBUG", "INFO", "WARNING", "ERROR"] = Field(default="INFO", description="Log level.")
    log_format: Literal["text", "json"] = Field(default="text", description="Log line format.")

    @field_validator("e2_zmq", "xapp_zmq")
    @classmethod
    def _zmq_address(cls, value: str | None, info: object) -> str | None:
        return _address_of("zmq", value, getattr(info, "field_name", "address"))

    @field_validator("e2_grpc", "xapp_grpc", "admin_grpc")
    @classmethod
    def _grpc_address(cls, value: str | None, info: object) -> str | None:
        return _address_of("grpc", value, getattr(info, "field_name", "address"))

    @field_validator("model_dir")
    @classmethod
    def _model_dir(cls, value: str | None) -> str | None:
        return value or None

    @model_validator(mode="after")
    def _endpoints(self) -> RicConfig:
        if self.e2_zmq is None and self.e2_grpc is None:
            raise ValueError("the RIC needs an E2 endpoint: set e2_zmq or e2_grpc")
        if self.xapp_zmq is None and self.xapp_grpc is None:
            raise ValueError("the RIC needs an xApp endpoint: set xapp_zmq or xapp_grpc")
        return self

    @classmethod
    def ephemeral(cls, host: str = "127.0.0.1", **overrides: object) -> RicConfig:
        """Every endpoint on ``host`` with a free port picked at bind time, models kept in memory (tests,
        in-process runs)."""
        values: dict[str, object] = {
            "model_dir": None,
            "e2_zmq": f"tcp://{host}:0",
            "e2_grpc": f"{host}:0",
            "xapp_zmq": f"tcp://{host}:0",
            "xapp_grpc": f"{host}:0",
            "admin_grpc": f"{host}:0",
            "metrics_host": host,
            "metrics_port": 0,
        }
        values.update(overrides)
        return cls.model_validate(values)
