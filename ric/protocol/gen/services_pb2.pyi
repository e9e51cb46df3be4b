from ric.protocol.gen import e2ap_pb2 as _e2ap_pb2
from google.protobuf.internal import containers as _containers
from google.protobuf import descriptor as _descriptor
from google.protobuf import message as _message
from collections.abc import Iterable as _Iterable, Mapping as _Mapping
from typing import ClassVar as _ClassVar, Optional as _Optional, Union as _Union

DESCRIPTOR: _descriptor.FileDescriptor

class HealthRequest(_message.Message):
    __slots__ = ()
    def __init__(self) -> None: ...

class HealthReply(_message.Message):
    __slots__ = ("status", "ric_name", "uptime_s", "nodes", "xapps", "subscriptions", "endpoints")
    class EndpointsEntry(_message.Message):
        __slots__ = ("key", "value")
        KEY_FIELD_NUMBER: _ClassVar[int]
        VALUE_FIELD_NUMBER: _ClassVar[int]
        key: str
        value: str
        def __init__(self, key: _Optional[str] = ..., value: _Optional[str] = ...) -> None: ...
    STATUS_FIELD_NUMBER: _ClassVar[int]
    RIC_NAME_FIELD_NUMBER: _ClassVar[int]
    UPTIME_S_FIELD_NUMBER: _ClassVar[int]
    NODES_FIELD_NUMBER: _ClassVar[int]
    XAPPS_FIELD_NUMBER: _ClassVar[int]
    SUBSCRIPTIONS_FIELD_NUMBER: _ClassVar[int]
    ENDPOINTS_FIELD_NUMBER: _ClassVar[int]
    status: str
    ric_name: str
    uptime_s: float
    nodes: int
    xapps: int
    subscriptions: int
    endpoints: _containers.ScalarMap[str, str]
    def __init__(self, status: _Optional[str] = ..., ric_name: _Optional[str] = ..., uptime_s: _Optional[float] = ..., nodes: _Optional[int] = ..., xapps: _Optional[int] = ..., subscriptions: _Optional[int] = ..., endpoints: _Optional[_Mapping[str, str]] = ...) -> None: ...

class ListNodesRequest(_message.Message):
    __slots__ = ("include_world_specs",)
    INCLUDE_WORLD_SPECS_FIELD_NUMBER: _ClassVar[int]
    include_world_specs: bool
    def __init__(self, include_world_specs: _Optional[bool] = ...) -> None: ...

class ListNodesReply(_message.Message):
    __slots__ = ("nodes", "world_specs")
    class WorldSpecsEntry(_message.Message):
        __slots__ = ("key", "value")
        KEY_FIELD_NUMBER: _ClassVar[int]
        VALUE_FIELD_NUMBER: _ClassVar[int]
        key: str
        value: str
        def __init__(self, key: _Optional[str] = ..., value: _Optional[str] = ...) -> None: ...
    NODES_FIELD_NUMBER: _ClassVar[int]
    WORLD_SPECS_FIELD_NUMBER: _ClassVar[int]
    nodes: _containers.RepeatedCompositeFieldContainer[_e2ap_pb2.E2NodeInfo]
    world_specs: _containers.ScalarMap[str, str]
    def __init__(self, nodes: _Optional[_Iterable[_Union[_e2ap_pb2.E2NodeInfo, _Mapping]]] = ..., world_specs: _Optional[_Mapping[str, str]] = ...) -> None: ...

class XappInfo(_message.Message):
    __slots__ = ("xapp_id", "name", "tier", "may_constrain", "transport", "requestor_ids")
    XAPP_ID_FIELD_NUMBER: _ClassVar[int]
    NAME_FIELD_NUMBER: _ClassVar[int]
    TIER_FIELD_NUMBER: _ClassVar[int]
    MAY_CONSTRAIN_FIELD_NUMBER: _ClassVar[int]
    TRANSPORT_FIELD_NUMBER: _ClassVar[int]
    REQUESTOR_IDS_FIELD_NUMBER: _ClassVar[int]
    xapp_id: str
    name: str
    tier: int
    may_constrain: bool
    transport: str
    requestor_ids: _containers.RepeatedScalarFieldContainer[int]
    def __init__(self, xapp_id: _Optional[str] = ..., name: _Optional[str] = ..., tier: _Optional[int] = ..., may_constrain: _Optional[bool] = ..., transport: _Optional[str] = ..., requestor_ids: _Optional[_Iterable[int]] = ...) -> None: ...

class ListXappsRequest(_message.Message):
    __slots__ = ()
    def __init__(self) -> None: ...

class ListXappsReply(_message.Message):
    __slots__ = ("xapps",)
    XAPPS_FIELD_NUMBER: _ClassVar[int]
    xapps: _containers.RepeatedCompositeFieldContainer[XappInfo]
    def __init__(self, xapps: _Optional[_Iterable[_Union[XappInfo, _Mapping]]] = ...) -> None: ...

class SubscriptionInfo(_message.Message):
    __slots__ = ("instance_id", "node", "ran_function_id", "period_slots", "state", "xapps")
    INSTANCE_ID_FIELD_NUMBER: _ClassVar[int]
    NODE_FIELD_NUMBER: _ClassVar[int]
    RAN_FUNCTION_ID_FIELD_NUMBER: _ClassVar[int]
    PERIOD_SLOTS_FIELD_NUMBER: _ClassVar[int]
    STATE_FIELD_NUMBER: _ClassVar[int]
    XAPPS_FIELD_NUMBER: _ClassVar[int]
    instance_id: int
    node: str
    ran_function_id: int
    period_slots: int
    state: str
    xapps: _containers.RepeatedScalarFieldContainer[str]
    def __init__(self, instance_id: _Optional[int] = ..., node: _Optional[str] = ..., ran_function_id: _Optional[int] = ..., period_slots: _Optional[int] = ..., state: _Optional[str] = ..., xapps: _Optional[_Iterable[str]] = ...) -> None: ...

class ListSubscriptionsRequest(_message.Message):
    __slots__ = ()
    def __init__(self) -> None: ...

class ListSubscriptionsReply(_message.Message):
    __slots__ = ("subscriptions",)
    SUBSCRIPTIONS_FIELD_NUMBER: _ClassVar[int]
    subscriptions: _containers.RepeatedCompositeFieldContainer[SubscriptionInfo]
    def __init__(self, subscriptions: _Optional[_Iterable[_Union[SubscriptionInfo, _Mapping]]] = ...) -> None: ...

class LatencySummary(_message.Message):
    __slots__ = ("name", "labels", "count", "mean_us", "p50_us", "p99_us")
    NAME_FIELD_NUMBER: _ClassVar[int]
    LABELS_FIELD_NUMBER: _ClassVar[int]
    COUNT_FIELD_NUMBER: _ClassVar[int]
    MEAN_US_FIELD_NUMBER: _ClassVar[int]
    P50_US_FIELD_NUMBER: _ClassVar[int]
    P99_US_FIELD_NUMBER: _ClassVar[int]
    name: str
    labels: str
    count: int
    mean_us: float
    p50_us: float
    p99_us: float
    def __init__(self, name: _Optional[str] = ..., labels: _Optional[str] = ..., count: _Optional[int] = ..., mean_us: _Optional[float] = ..., p50_us: _Optional[float] = ..., p99_us: _Optional[float] = ...) -> None: ...

class MetricsSummaryRequest(_message.Message):
    __slots__ = ()
    def __init__(self) -> None: ...

class MetricsSummaryReply(_message.Message):
    __slots__ = ("counters", "latencies")
    class CountersEntry(_message.Message):
        __slots__ = ("key", "value")
        KEY_FIELD_NUMBER: _ClassVar[int]
        VALUE_FIELD_NUMBER: _ClassVar[int]
        key: str
        value: float
        def __init__(self, key: _Optional[str] = ..., value: _Optional[float] = ...) -> None: ...
    COUNTERS_FIELD_NUMBER: _ClassVar[int]
    LATENCIES_FIELD_NUMBER: _ClassVar[int]
    counters: _containers.ScalarMap[str, float]
    latencies: _containers.RepeatedCompositeFieldContainer[LatencySummary]
    def __init__(self, counters: _Optional[_Mapping[str, float]] = ..., latencies: _Optional[_Iterable[_Union[LatencySummary, _Mapping]]] = ...) -> None: ...

class DeployModelRequest(_message.Message):
    __slots__ = ("xapp", "model", "file_name")
    XAPP_FIELD_NUMBER: _ClassVar[int]
    MODEL_FIELD_NUMBER: _ClassVar[int]
    FILE_NAME_FIELD_NUMBER: _ClassVar[int]
    xapp: str
    model: bytes
    file_name: str
    def __init__(self, xapp: _Optional[str] = ..., model: _Optional[bytes] = ..., file_name: _Optional[str] = ...) -> None: ...

class RollbackModelRequest(_message.Message):
    __slots__ = ("xapp",)
    XAPP_FIELD_NUMBER: _ClassVar[int]
    xapp: str
    def __init__(self, xapp: _Optional[str] = ...) -> None: ...

class ModelChangeReply(_message.Message):
    __slots__ = ("accepted", "reason", "sha256", "version", "activated_at_slot", "prepare_ms", "xapp_ids")
    ACCEPTED_FIELD_NUMBER: _ClassVar[int]
    REASON_FIELD_NUMBER: _ClassVar[int]
    SHA256_FIELD_NUMBER: _ClassVar[int]
    VERSION_FIELD_NUMBER: _ClassVar[int]
    ACTIVATED_AT_SLOT_FIELD_NUMBER: _ClassVar[int]
    PREPARE_MS_FIELD_NUMBER: _ClassVar[int]
    XAPP_IDS_FIELD_NUMBER: _ClassVar[int]
    accepted: bool
    reason: str
    sha256: str
    version: str
    activated_at_slot: int
    prepare_ms: float
    xapp_ids: _containers.RepeatedScalarFieldContainer[str]
    def __init__(self, accepted: _Optional[bool] = ..., reason: _Optional[str] = ..., sha256: _Optional[str] = ..., version: _Optional[str] = ..., activated_at_slot: _Optional[int] = ..., prepare_ms: _Optional[float] = ..., xapp_ids: _Optional[_Iterable[str]] = ...) -> None: ...

class ListModelsRequest(_message.Message):
    __slots__ = ("xapp",)
    XAPP_FIELD_NUMBER: _ClassVar[int]
    xapp: str
    def __init__(self, xapp: _Optional[str] = ...) -> None: ...

class StoredModel(_message.Message):
    __slots__ = ("xapp", "name", "version", "sha256", "metadata_json", "active", "running", "deployed_at", "activated_at_slot", "size_bytes", "source")
    XAPP_FIELD_NUMBER: _ClassVar[int]
    NAME_FIELD_NUMBER: _ClassVar[int]
    VERSION_FIELD_NUMBER: _ClassVar[int]
    SHA256_FIELD_NUMBER: _ClassVar[int]
    METADATA_JSON_FIELD_NUMBER: _ClassVar[int]
    ACTIVE_FIELD_NUMBER: _ClassVar[int]
    RUNNING_FIELD_NUMBER: _ClassVar[int]
    DEPLOYED_AT_FIELD_NUMBER: _ClassVar[int]
    ACTIVATED_AT_SLOT_FIELD_NUMBER: _ClassVar[int]
    SIZE_BYTES_FIELD_NUMBER: _ClassVar[int]
    SOURCE_FIELD_NUMBER: _ClassVar[int]
    xapp: str
    name: str
    version: str
    sha256: str
    metadata_json: str
    active: bool
    running: bool
    deployed_at: str
    activated_at_slot: int
    size_bytes: int
    source: str
    def __init__(self, xapp: _Optional[str] = ..., name: _Optional[str] = ..., version: _Optional[str] = ..., sha256: _Optional[str] = ..., metadata_json: _Optional[str] = ..., active: _Optional[bool] = ..., running: _Optional[bool] = ..., deployed_at: _Optional[str] = ..., activated_at_slot: _Optional[int] = ..., size_bytes: _Optional[int] = ..., source: _Optional[str] = ...) -> None: ...

class ListModelsReply(_message.Message):
    __slots__ = ("models",)
    MODELS_FIELD_NUMBER: _ClassVar[int]
    models: _containers.RepeatedCompositeFieldContainer[StoredModel]
    def __init__(self, models: _Optional[_Iterable[_Union[StoredModel, _Mapping]]] = ...) -> None: ...
