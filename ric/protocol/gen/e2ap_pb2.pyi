from ric.protocol.gen import e2sm_pb2 as _e2sm_pb2
from google.protobuf.internal import containers as _containers
from google.protobuf.internal import enum_type_wrapper as _enum_type_wrapper
from google.protobuf import descriptor as _descriptor
from google.protobuf import message as _message
from collections.abc import Iterable as _Iterable, Mapping as _Mapping
from typing import ClassVar as _ClassVar, Optional as _Optional, Union as _Union

DESCRIPTOR: _descriptor.FileDescriptor

class CauseCode(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
    __slots__ = ()
    CAUSE_UNSPECIFIED: _ClassVar[CauseCode]
    CAUSE_MALFORMED_MESSAGE: _ClassVar[CauseCode]
    CAUSE_UNEXPECTED_MESSAGE: _ClassVar[CauseCode]
    CAUSE_INVALID_VALUE: _ClassVar[CauseCode]
    CAUSE_UNKNOWN_NODE: _ClassVar[CauseCode]
    CAUSE_UNKNOWN_RAN_FUNCTION: _ClassVar[CauseCode]
    CAUSE_UNKNOWN_SUBSCRIPTION: _ClassVar[CauseCode]
    CAUSE_STALE_SLOT: _ClassVar[CauseCode]
    CAUSE_BAD_SHAPE: _ClassVar[CauseCode]
    CAUSE_CONSTRAINT_VIOLATION: _ClassVar[CauseCode]
    CAUSE_NOT_AUTHORISED: _ClassVar[CauseCode]
    CAUSE_NOT_REGISTERED: _ClassVar[CauseCode]
    CAUSE_DUPLICATE: _ClassVar[CauseCode]
    CAUSE_TIMEOUT: _ClassVar[CauseCode]
    CAUSE_NODE_REMOVED: _ClassVar[CauseCode]
    CAUSE_OVERLOAD: _ClassVar[CauseCode]
    CAUSE_INTERNAL: _ClassVar[CauseCode]
CAUSE_UNSPECIFIED: CauseCode
CAUSE_MALFORMED_MESSAGE: CauseCode
CAUSE_UNEXPECTED_MESSAGE: CauseCode
CAUSE_INVALID_VALUE: CauseCode
CAUSE_UNKNOWN_NODE: CauseCode
CAUSE_UNKNOWN_RAN_FUNCTION: CauseCode
CAUSE_UNKNOWN_SUBSCRIPTION: CauseCode
CAUSE_STALE_SLOT: CauseCode
CAUSE_BAD_SHAPE: CauseCode
CAUSE_CONSTRAINT_VIOLATION: CauseCode
CAUSE_NOT_AUTHORISED: CauseCode
CAUSE_NOT_REGISTERED: CauseCode
CAUSE_DUPLICATE: CauseCode
CAUSE_TIMEOUT: CauseCode
CAUSE_NODE_REMOVED: CauseCode
CAUSE_OVERLOAD: CauseCode
CAUSE_INTERNAL: CauseCode

class HopTimes(_message.Message):
    __slots__ = ("node_sent", "ric_in", "ric_out", "xapp_in", "features_done", "inference_done", "decode_done", "xapp_sent", "ric_ctrl_in", "ric_ctrl_out", "node_recv", "other")
    class OtherEntry(_message.Message):
        __slots__ = ("key", "value")
        KEY_FIELD_NUMBER: _ClassVar[int]
        VALUE_FIELD_NUMBER: _ClassVar[int]
        key: str
        value: int
        def __init__(self, key: _Optional[str] = ..., value: _Optional[int] = ...) -> None: ...
    NODE_SENT_FIELD_NUMBER: _ClassVar[int]
    RIC_IN_FIELD_NUMBER: _ClassVar[int]
    RIC_OUT_FIELD_NUMBER: _ClassVar[int]
    XAPP_IN_FIELD_NUMBER: _ClassVar[int]
    FEATURES_DONE_FIELD_NUMBER: _ClassVar[int]
    INFERENCE_DONE_FIELD_NUMBER: _ClassVar[int]
    DECODE_DONE_FIELD_NUMBER: _ClassVar[int]
    XAPP_SENT_FIELD_NUMBER: _ClassVar[int]
    RIC_CTRL_IN_FIELD_NUMBER: _ClassVar[int]
    RIC_CTRL_OUT_FIELD_NUMBER: _ClassVar[int]
    NODE_RECV_FIELD_NUMBER: _ClassVar[int]
    OTHER_FIELD_NUMBER: _ClassVar[int]
    node_sent: int
    ric_in: int
    ric_out: int
    xapp_in: int
    features_done: int
    inference_done: int
    decode_done: int
    xapp_sent: int
    ric_ctrl_in: int
    ric_ctrl_out: int
    node_recv: int
    other: _containers.ScalarMap[str, int]
    def __init__(self, node_sent: _Optional[int] = ..., ric_in: _Optional[int] = ..., ric_out: _Optional[int] = ..., xapp_in: _Optional[int] = ..., features_done: _Optional[int] = ..., inference_done: _Optional[int] = ..., decode_done: _Optional[int] = ..., xapp_sent: _Optional[int] = ..., ric_ctrl_in: _Optional[int] = ..., ric_ctrl_out: _Optional[int] = ..., node_recv: _Optional[int] = ..., other: _Optional[_Mapping[str, int]] = ...) -> None: ...

class Cause(_message.Message):
    __slots__ = ("code", "detail")
    CODE_FIELD_NUMBER: _ClassVar[int]
    DETAIL_FIELD_NUMBER: _ClassVar[int]
    code: CauseCode
    detail: str
    def __init__(self, code: _Optional[_Union[CauseCode, str]] = ..., detail: _Optional[str] = ...) -> None: ...

class ItemRefusal(_message.Message):
    __slots__ = ("node", "cause")
    NODE_FIELD_NUMBER: _ClassVar[int]
    CAUSE_FIELD_NUMBER: _ClassVar[int]
    node: str
    cause: Cause
    def __init__(self, node: _Optional[str] = ..., cause: _Optional[_Union[Cause, _Mapping]] = ...) -> None: ...

class RanFunction(_message.Message):
    __slots__ = ("ran_function_id", "sm_name", "sm_version", "definition")
    RAN_FUNCTION_ID_FIELD_NUMBER: _ClassVar[int]
    SM_NAME_FIELD_NUMBER: _ClassVar[int]
    SM_VERSION_FIELD_NUMBER: _ClassVar[int]
    DEFINITION_FIELD_NUMBER: _ClassVar[int]
    ran_function_id: int
    sm_name: str
    sm_version: int
    definition: _e2sm_pb2.SlotFunctionDefinition
    def __init__(self, ran_function_id: _Optional[int] = ..., sm_name: _Optional[str] = ..., sm_version: _Optional[int] = ..., definition: _Optional[_Union[_e2sm_pb2.SlotFunctionDefinition, _Mapping]] = ...) -> None: ...

class E2NodeItem(_message.Message):
    __slots__ = ("name", "node_id", "kind", "ran_functions")
    NAME_FIELD_NUMBER: _ClassVar[int]
    NODE_ID_FIELD_NUMBER: _ClassVar[int]
    KIND_FIELD_NUMBER: _ClassVar[int]
    RAN_FUNCTIONS_FIELD_NUMBER: _ClassVar[int]
    name: str
    node_id: int
    kind: str
    ran_functions: _containers.RepeatedCompositeFieldContainer[RanFunction]
    def __init__(self, name: _Optional[str] = ..., node_id: _Optional[int] = ..., kind: _Optional[str] = ..., ran_functions: _Optional[_Iterable[_Union[RanFunction, _Mapping]]] = ...) -> None: ...

class E2SetupRequest(_message.Message):
    __slots__ = ("nodes", "world_spec_json", "agent_name")
    NODES_FIELD_NUMBER: _ClassVar[int]
    WORLD_SPEC_JSON_FIELD_NUMBER: _ClassVar[int]
    AGENT_NAME_FIELD_NUMBER: _ClassVar[int]
    nodes: _containers.RepeatedCompositeFieldContainer[E2NodeItem]
    world_spec_json: str
    agent_name: str
    def __init__(self, nodes: _Optional[_Iterable[_Union[E2NodeItem, _Mapping]]] = ..., world_spec_json: _Optional[str] = ..., agent_name: _Optional[str] = ...) -> None: ...

class E2SetupResponse(_message.Message):
    __slots__ = ("ric_name", "accepted", "refused")
    RIC_NAME_FIELD_NUMBER: _ClassVar[int]
    ACCEPTED_FIELD_NUMBER: _ClassVar[int]
    REFUSED_FIELD_NUMBER: _ClassVar[int]
    ric_name: str
    accepted: _containers.RepeatedScalarFieldContainer[str]
    refused: _containers.RepeatedCompositeFieldContainer[ItemRefusal]
    def __init__(self, ric_name: _Optional[str] = ..., accepted: _Optional[_Iterable[str]] = ..., refused: _Optional[_Iterable[_Union[ItemRefusal, _Mapping]]] = ...) -> None: ...

class E2SetupFailure(_message.Message):
    __slots__ = ("cause", "refused")
    CAUSE_FIELD_NUMBER: _ClassVar[int]
    REFUSED_FIELD_NUMBER: _ClassVar[int]
    cause: Cause
    refused: _containers.RepeatedCompositeFieldContainer[ItemRefusal]
    def __init__(self, cause: _Optional[_Union[Cause, _Mapping]] = ..., refused: _Optional[_Iterable[_Union[ItemRefusal, _Mapping]]] = ...) -> None: ...

class E2RemovalRequest(_message.Message):
    __slots__ = ("nodes",)
    NODES_FIELD_NUMBER: _ClassVar[int]
    nodes: _containers.RepeatedScalarFieldContainer[str]
    def __init__(self, nodes: _Optional[_Iterable[str]] = ...) -> None: ...

class E2RemovalResponse(_message.Message):
    __slots__ = ("nodes",)
    NODES_FIELD_NUMBER: _ClassVar[int]
    nodes: _containers.RepeatedScalarFieldContainer[str]
    def __init__(self, nodes: _Optional[_Iterable[str]] = ...) -> None: ...

class ResetRequest(_message.Message):
    __slots__ = ("cause", "nodes")
    CAUSE_FIELD_NUMBER: _ClassVar[int]
    NODES_FIELD_NUMBER: _ClassVar[int]
    cause: Cause
    nodes: _containers.RepeatedScalarFieldContainer[str]
    def __init__(self, cause: _Optional[_Union[Cause, _Mapping]] = ..., nodes: _Optional[_Iterable[str]] = ...) -> None: ...

class ResetResponse(_message.Message):
    __slots__ = ("nodes",)
    NODES_FIELD_NUMBER: _ClassVar[int]
    nodes: _containers.RepeatedScalarFieldContainer[str]
    def __init__(self, nodes: _Optional[_Iterable[str]] = ...) -> None: ...

class EventTrigger(_message.Message):
    __slots__ = ("period_slots",)
    PERIOD_SLOTS_FIELD_NUMBER: _ClassVar[int]
    period_slots: int
    def __init__(self, period_slots: _Optional[int] = ...) -> None: ...

class SubscriptionItem(_message.Message):
    __slots__ = ("node", "instance_id")
    NODE_FIELD_NUMBER: _ClassVar[int]
    INSTANCE_ID_FIELD_NUMBER: _ClassVar[int]
    node: str
    instance_id: int
    def __init__(self, node: _Optional[str] = ..., instance_id: _Optional[int] = ...) -> None: ...

class RicSubscriptionRequest(_message.Message):
    __slots__ = ("requestor_id", "instance_id", "ran_function_id", "trigger", "nodes", "all_nodes")
    REQUESTOR_ID_FIELD_NUMBER: _ClassVar[int]
    INSTANCE_ID_FIELD_NUMBER: _ClassVar[int]
    RAN_FUNCTION_ID_FIELD_NUMBER: _ClassVar[int]
    TRIGGER_FIELD_NUMBER: _ClassVar[int]
    NODES_FIELD_NUMBER: _ClassVar[int]
    ALL_NODES_FIELD_NUMBER: _ClassVar[int]
    requestor_id: int
    instance_id: int
    ran_function_id: int
    trigger: EventTrigger
    nodes: _containers.RepeatedScalarFieldContainer[str]
    all_nodes: bool
    def __init__(self, requestor_id: _Optional[int] = ..., instance_id: _Optional[int] = ..., ran_function_id: _Optional[int] = ..., trigger: _Optional[_Union[EventTrigger, _Mapping]] = ..., nodes: _Optional[_Iterable[str]] = ..., all_nodes: _Optional[bool] = ...) -> None: ...

class RicSubscriptionResponse(_message.Message):
    __slots__ = ("requestor_id", "instance_id", "ran_function_id", "trigger", "admitted", "not_admitted")
    REQUESTOR_ID_FIELD_NUMBER: _ClassVar[int]
    INSTANCE_ID_FIELD_NUMBER: _ClassVar[int]
    RAN_FUNCTION_ID_FIELD_NUMBER: _ClassVar[int]
    TRIGGER_FIELD_NUMBER: _ClassVar[int]
    ADMITTED_FIELD_NUMBER: _ClassVar[int]
    NOT_ADMITTED_FIELD_NUMBER: _ClassVar[int]
    requestor_id: int
    instance_id: int
    ran_function_id: int
    trigger: EventTrigger
    admitted: _containers.RepeatedCompositeFieldContainer[SubscriptionItem]
    not_admitted: _containers.RepeatedCompositeFieldContainer[ItemRefusal]
    def __init__(self, requestor_id: _Optional[int] = ..., instance_id: _Optional[int] = ..., ran_function_id: _Optional[int] = ..., trigger: _Optional[_Union[EventTrigger, _Mapping]] = ..., admitted: _Optional[_Iterable[_Union[SubscriptionItem, _Mapping]]] = ..., not_admitted: _Optional[_Iterable[_Union[ItemRefusal, _Mapping]]] = ...) -> None: ...

class RicSubscriptionFailure(_message.Message):
    __slots__ = ("requestor_id", "instance_id", "cause", "not_admitted")
    REQUESTOR_ID_FIELD_NUMBER: _ClassVar[int]
    INSTANCE_ID_FIELD_NUMBER: _ClassVar[int]
    CAUSE_FIELD_NUMBER: _ClassVar[int]
    NOT_ADMITTED_FIELD_NUMBER: _ClassVar[int]
    requestor_id: int
    instance_id: int
    cause: Cause
    not_admitted: _containers.RepeatedCompositeFieldContainer[ItemRefusal]
    def __init__(self, requestor_id: _Optional[int] = ..., instance_id: _Optional[int] = ..., cause: _Optional[_Union[Cause, _Mapping]] = ..., not_admitted: _Optional[_Iterable[_Union[ItemRefusal, _Mapping]]] = ...) -> None: ...

class RicSubscriptionDeleteRequest(_message.Message):
    __slots__ = ("requestor_id", "instance_id", "nodes")
    REQUESTOR_ID_FIELD_NUMBER: _ClassVar[int]
    INSTANCE_ID_FIELD_NUMBER: _ClassVar[int]
    NODES_FIELD_NUMBER: _ClassVar[int]
    requestor_id: int
    instance_id: int
    nodes: _containers.RepeatedScalarFieldContainer[str]
    def __init__(self, requestor_id: _Optional[int] = ..., instance_id: _Optional[int] = ..., nodes: _Optional[_Iterable[str]] = ...) -> None: ...

class RicSubscriptionDeleteResponse(_message.Message):
    __slots__ = ("requestor_id", "instance_id", "deleted")
    REQUESTOR_ID_FIELD_NUMBER: _ClassVar[int]
    INSTANCE_ID_FIELD_NUMBER: _ClassVar[int]
    DELETED_FIELD_NUMBER: _ClassVar[int]
    requestor_id: int
    instance_id: int
    deleted: _containers.RepeatedScalarFieldContainer[str]
    def __init__(self, requestor_id: _Optional[int] = ..., instance_id: _Optional[int] = ..., deleted: _Optional[_Iterable[str]] = ...) -> None: ...

class RicSubscriptionDeleteFailure(_message.Message):
    __slots__ = ("requestor_id", "instance_id", "cause")
    REQUESTOR_ID_FIELD_NUMBER: _ClassVar[int]
    INSTANCE_ID_FIELD_NUMBER: _ClassVar[int]
    CAUSE_FIELD_NUMBER: _ClassVar[int]
    requestor_id: int
    instance_id: int
    cause: Cause
    def __init__(self, requestor_id: _Optional[int] = ..., instance_id: _Optional[int] = ..., cause: _Optional[_Union[Cause, _Mapping]] = ...) -> None: ...

class RicIndication(_message.Message):
    __slots__ = ("instance_id", "ran_function_id", "nodes", "report", "deadline_misses")
    INSTANCE_ID_FIELD_NUMBER: _ClassVar[int]
    RAN_FUNCTION_ID_FIELD_NUMBER: _ClassVar[int]
    NODES_FIELD_NUMBER: _ClassVar[int]
    REPORT_FIELD_NUMBER: _ClassVar[int]
    DEADLINE_MISSES_FIELD_NUMBER: _ClassVar[int]
    instance_id: int
    ran_function_id: int
    nodes: _containers.RepeatedScalarFieldContainer[str]
    report: _e2sm_pb2.SlotReport
    deadline_misses: _containers.RepeatedScalarFieldContainer[int]
    def __init__(self, instance_id: _Optional[int] = ..., ran_function_id: _Optional[int] = ..., nodes: _Optional[_Iterable[str]] = ..., report: _Optional[_Union[_e2sm_pb2.SlotReport, _Mapping]] = ..., deadline_misses: _Optional[_Iterable[int]] = ...) -> None: ...

class RicControlRequest(_message.Message):
    __slots__ = ("ran_function_id", "nodes", "control", "ack_requested")
    RAN_FUNCTION_ID_FIELD_NUMBER: _ClassVar[int]
    NODES_FIELD_NUMBER: _ClassVar[int]
    CONTROL_FIELD_NUMBER: _ClassVar[int]
    ACK_REQUESTED_FIELD_NUMBER: _ClassVar[int]
    ran_function_id: int
    nodes: _containers.RepeatedScalarFieldContainer[str]
    control: _e2sm_pb2.SlotControl
    ack_requested: bool
    def __init__(self, ran_function_id: _Optional[int] = ..., nodes: _Optional[_Iterable[str]] = ..., control: _Optional[_Union[_e2sm_pb2.SlotControl, _Mapping]] = ..., ack_requested: _Optional[bool] = ...) -> None: ...

class RicControlAcknowledge(_message.Message):
    __slots__ = ("nodes",)
    NODES_FIELD_NUMBER: _ClassVar[int]
    nodes: _containers.RepeatedScalarFieldContainer[str]
    def __init__(self, nodes: _Optional[_Iterable[str]] = ...) -> None: ...

class RicControlFailure(_message.Message):
    __slots__ = ("refused",)
    REFUSED_FIELD_NUMBER: _ClassVar[int]
    refused: _containers.RepeatedCompositeFieldContainer[ItemRefusal]
    def __init__(self, refused: _Optional[_Iterable[_Union[ItemRefusal, _Mapping]]] = ...) -> None: ...

class ErrorIndication(_message.Message):
    __slots__ = ("cause", "transaction_id", "procedure", "node")
    CAUSE_FIELD_NUMBER: _ClassVar[int]
    TRANSACTION_ID_FIELD_NUMBER: _ClassVar[int]
    PROCEDURE_FIELD_NUMBER: _ClassVar[int]
    NODE_FIELD_NUMBER: _ClassVar[int]
    cause: Cause
    transaction_id: int
    procedure: str
    node: str
    def __init__(self, cause: _Optional[_Union[Cause, _Mapping]] = ..., transaction_id: _Optional[int] = ..., procedure: _Optional[str] = ..., node: _Optional[str] = ...) -> None: ...

class Keepalive(_message.Message):
    __slots__ = ()
    def __init__(self) -> None: ...

class XappRegisterRequest(_message.Message):
    __slots__ = ("name", "tier", "may_constrain")
    NAME_FIELD_NUMBER: _ClassVar[int]
    TIER_FIELD_NUMBER: _ClassVar[int]
    MAY_CONSTRAIN_FIELD_NUMBER: _ClassVar[int]
    name: str
    tier: int
    may_constrain: bool
    def __init__(self, name: _Optional[str] = ..., tier: _Optional[int] = ..., may_constrain: _Optional[bool] = ...) -> None: ...

class E2NodeInfo(_message.Message):
    __slots__ = ("name", "node_id", "kind", "world_id", "ran_functions", "transport", "last_slot", "agent_name")
    NAME_FIELD_NUMBER: _ClassVar[int]
    NODE_ID_FIELD_NUMBER: _ClassVar[int]
    KIND_FIELD_NUMBER: _ClassVar[int]
    WORLD_ID_FIELD_NUMBER: _ClassVar[int]
    RAN_FUNCTIONS_FIELD_NUMBER: _ClassVar[int]
    TRANSPORT_FIELD_NUMBER: _ClassVar[int]
    LAST_SLOT_FIELD_NUMBER: _ClassVar[int]
    AGENT_NAME_FIELD_NUMBER: _ClassVar[int]
    name: str
    node_id: int
    kind: str
    world_id: str
    ran_functions: _containers.RepeatedCompositeFieldContainer[RanFunction]
    transport: str
    last_slot: int
    agent_name: str
    def __init__(self, name: _Optional[str] = ..., node_id: _Optional[int] = ..., kind: _Optional[str] = ..., world_id: _Optional[str] = ..., ran_functions: _Optional[_Iterable[_Union[RanFunction, _Mapping]]] = ..., transport: _Optional[str] = ..., last_slot: _Optional[int] = ..., agent_name: _Optional[str] = ...) -> None: ...

class XappRegisterResponse(_message.Message):
    __slots__ = ("ric_name", "xapp_id", "nodes", "world_specs", "may_constrain")
    class WorldSpecsEntry(_message.Message):
        __slots__ = ("key", "value")
        KEY_FIELD_NUMBER: _ClassVar[int]
        VALUE_FIELD_NUMBER: _ClassVar[int]
        key: str
        value: str
        def __init__(self, key: _Optional[str] = ..., value: _Optional[str] = ...) -> None: ...
    RIC_NAME_FIELD_NUMBER: _ClassVar[int]
    XAPP_ID_FIELD_NUMBER: _ClassVar[int]
    NODES_FIELD_NUMBER: _ClassVar[int]
    WORLD_SPECS_FIELD_NUMBER: _ClassVar[int]
    MAY_CONSTRAIN_FIELD_NUMBER: _ClassVar[int]
    ric_name: str
    xapp_id: str
    nodes: _containers.RepeatedCompositeFieldContainer[E2NodeInfo]
    world_specs: _containers.ScalarMap[str, str]
    may_constrain: bool
    def __init__(self, ric_name: _Optional[str] = ..., xapp_id: _Optional[str] = ..., nodes: _Optional[_Iterable[_Union[E2NodeInfo, _Mapping]]] = ..., world_specs: _Optional[_Mapping[str, str]] = ..., may_constrain: _Optional[bool] = ...) -> None: ...

class XappRegisterFailure(_message.Message):
    __slots__ = ("cause",)
    CAUSE_FIELD_NUMBER: _ClassVar[int]
    cause: Cause
    def __init__(self, cause: _Optional[_Union[Cause, _Mapping]] = ...) -> None: ...

class XappDeregisterRequest(_message.Message):
    __slots__ = ()
    def __init__(self) -> None: ...

class XappDeregisterResponse(_message.Message):
    __slots__ = ()
    def __init__(self) -> None: ...

class NodeUpdate(_message.Message):
    __slots__ = ("event", "nodes", "world_specs")
    class Event(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
        __slots__ = ()
        EVENT_UNSPECIFIED: _ClassVar[NodeUpdate.Event]
        EVENT_ADDED: _ClassVar[NodeUpdate.Event]
        EVENT_REMOVED: _ClassVar[NodeUpdate.Event]
        EVENT_RESET: _ClassVar[NodeUpdate.Event]
    EVENT_UNSPECIFIED: NodeUpdate.Event
    EVENT_ADDED: NodeUpdate.Event
    EVENT_REMOVED: NodeUpdate.Event
    EVENT_RESET: NodeUpdate.Event
    class WorldSpecsEntry(_message.Message):
        __slots__ = ("key", "value")
        KEY_FIELD_NUMBER: _ClassVar[int]
        VALUE_FIELD_NUMBER: _ClassVar[int]
        key: str
        value: str
        def __init__(self, key: _Optional[str] = ..., value: _Optional[str] = ...) -> None: ...
    EVENT_FIELD_NUMBER: _ClassVar[int]
    NODES_FIELD_NUMBER: _ClassVar[int]
    WORLD_SPECS_FIELD_NUMBER: _ClassVar[int]
    event: NodeUpdate.Event
    nodes: _containers.RepeatedCompositeFieldContainer[E2NodeInfo]
    world_specs: _containers.ScalarMap[str, str]
    def __init__(self, event: _Optional[_Union[NodeUpdate.Event, str]] = ..., nodes: _Optional[_Iterable[_Union[E2NodeInfo, _Mapping]]] = ..., world_specs: _Optional[_Mapping[str, str]] = ...) -> None: ...

class ConstraintItem(_message.Message):
    __slots__ = ("node", "allowed", "clear")
    NODE_FIELD_NUMBER: _ClassVar[int]
    ALLOWED_FIELD_NUMBER: _ClassVar[int]
    CLEAR_FIELD_NUMBER: _ClassVar[int]
    node: str
    allowed: _containers.RepeatedScalarFieldContainer[bool]
    clear: bool
    def __init__(self, node: _Optional[str] = ..., allowed: _Optional[_Iterable[bool]] = ..., clear: _Optional[bool] = ...) -> None: ...

class ConstraintUpdate(_message.Message):
    __slots__ = ("items",)
    ITEMS_FIELD_NUMBER: _ClassVar[int]
    items: _containers.RepeatedCompositeFieldContainer[ConstraintItem]
    def __init__(self, items: _Optional[_Iterable[_Union[ConstraintItem, _Mapping]]] = ...) -> None: ...

class ConstraintAck(_message.Message):
    __slots__ = ("nodes",)
    NODES_FIELD_NUMBER: _ClassVar[int]
    nodes: _containers.RepeatedScalarFieldContainer[str]
    def __init__(self, nodes: _Optional[_Iterable[str]] = ...) -> None: ...

class ConstraintFailure(_message.Message):
    __slots__ = ("refused",)
    REFUSED_FIELD_NUMBER: _ClassVar[int]
    refused: _containers.RepeatedCompositeFieldContainer[ItemRefusal]
    def __init__(self, refused: _Optional[_Iterable[_Union[ItemRefusal, _Mapping]]] = ...) -> None: ...

class ConstraintState(_message.Message):
    __slots__ = ("node", "allowed", "setter_tier")
    NODE_FIELD_NUMBER: _ClassVar[int]
    ALLOWED_FIELD_NUMBER: _ClassVar[int]
    SETTER_TIER_FIELD_NUMBER: _ClassVar[int]
    node: str
    allowed: _containers.RepeatedScalarFieldContainer[bool]
    setter_tier: int
    def __init__(self, node: _Optional[str] = ..., allowed: _Optional[_Iterable[bool]] = ..., setter_tier: _Optional[int] = ...) -> None: ...

class ConstraintNotice(_message.Message):
    __slots__ = ("nodes",)
    NODES_FIELD_NUMBER: _ClassVar[int]
    nodes: _containers.RepeatedCompositeFieldContainer[ConstraintState]
    def __init__(self, nodes: _Optional[_Iterable[_Union[ConstraintState, _Mapping]]] = ...) -> None: ...

class XappModelStatus(_message.Message):
    __slots__ = ("model_spec_json", "running_sha256", "running_version", "running_name", "running_model")
    MODEL_SPEC_JSON_FIELD_NUMBER: _ClassVar[int]
    RUNNING_SHA256_FIELD_NUMBER: _ClassVar[int]
    RUNNING_VERSION_FIELD_NUMBER: _ClassVar[int]
    RUNNING_NAME_FIELD_NUMBER: _ClassVar[int]
    RUNNING_MODEL_FIELD_NUMBER: _ClassVar[int]
    model_spec_json: str
    running_sha256: str
    running_version: str
    running_name: str
    running_model: bytes
    def __init__(self, model_spec_json: _Optional[str] = ..., running_sha256: _Optional[str] = ..., running_version: _Optional[str] = ..., running_name: _Optional[str] = ..., running_model: _Optional[bytes] = ...) -> None: ...

class ModelUpdate(_message.Message):
    __slots__ = ("sha256", "version", "model")
    SHA256_FIELD_NUMBER: _ClassVar[int]
    VERSION_FIELD_NUMBER: _ClassVar[int]
    MODEL_FIELD_NUMBER: _ClassVar[int]
    sha256: str
    version: str
    model: bytes
    def __init__(self, sha256: _Optional[str] = ..., version: _Optional[str] = ..., model: _Optional[bytes] = ...) -> None: ...

class ModelActivated(_message.Message):
    __slots__ = ("sha256", "slot", "prepare_ms")
    SHA256_FIELD_NUMBER: _ClassVar[int]
    SLOT_FIELD_NUMBER: _ClassVar[int]
    PREPARE_MS_FIELD_NUMBER: _ClassVar[int]
    sha256: str
    slot: int
    prepare_ms: float
    def __init__(self, sha256: _Optional[str] = ..., slot: _Optional[int] = ..., prepare_ms: _Optional[float] = ...) -> None: ...

class ModelLoadFailed(_message.Message):
    __slots__ = ("sha256", "cause")
    SHA256_FIELD_NUMBER: _ClassVar[int]
    CAUSE_FIELD_NUMBER: _ClassVar[int]
    sha256: str
    cause: Cause
    def __init__(self, sha256: _Optional[str] = ..., cause: _Optional[_Union[Cause, _Mapping]] = ...) -> None: ...

class E2Pdu(_message.Message):
    __slots__ = ("transaction_id", "slot", "t", "setup_request", "setup_response", "setup_failure", "subscription_request", "subscription_response", "subscription_failure", "subscription_delete_request", "subscription_delete_response", "subscription_delete_failure", "indication", "control_request", "control_ack", "control_failure", "error_indication", "reset_request", "reset_response", "removal_request", "removal_response", "keepalive")
    TRANSACTION_ID_FIELD_NUMBER: _ClassVar[int]
    SLOT_FIELD_NUMBER: _ClassVar[int]
    T_FIELD_NUMBER: _ClassVar[int]
    SETUP_REQUEST_FIELD_NUMBER: _ClassVar[int]
    SETUP_RESPONSE_FIELD_NUMBER: _ClassVar[int]
    SETUP_FAILURE_FIELD_NUMBER: _ClassVar[int]
    SUBSCRIPTION_REQUEST_FIELD_NUMBER: _ClassVar[int]
    SUBSCRIPTION_RESPONSE_FIELD_NUMBER: _ClassVar[int]
    SUBSCRIPTION_FAILURE_FIELD_NUMBER: _ClassVar[int]
    SUBSCRIPTION_DELETE_REQUEST_FIELD_NUMBER: _ClassVar[int]
    SUBSCRIPTION_DELETE_RESPONSE_FIELD_NUMBER: _ClassVar[int]
    SUBSCRIPTION_DELETE_FAILURE_FIELD_NUMBER: _ClassVar[int]
    INDICATION_FIELD_NUMBER: _ClassVar[int]
    CONTROL_REQUEST_FIELD_NUMBER: _ClassVar[int]
    CONTROL_ACK_FIELD_NUMBER: _ClassVar[int]
    CONTROL_FAILURE_FIELD_NUMBER: _ClassVar[int]
    ERROR_INDICATION_FIELD_NUMBER: _ClassVar[int]
    RESET_REQUEST_FIELD_NUMBER: _ClassVar[int]
    RESET_RESPONSE_FIELD_NUMBER: _ClassVar[int]
    REMOVAL_REQUEST_FIELD_NUMBER: _ClassVar[int]
    REMOVAL_RESPONSE_FIELD_NUMBER: _ClassVar[int]
    KEEPALIVE_FIELD_NUMBER: _ClassVar[int]
    transaction_id: int
    slot: int
    t: HopTimes
    setup_request: E2SetupRequest
    setup_response: E2SetupResponse
    setup_failure: E2SetupFailure
    subscription_request: RicSubscriptionRequest
    subscription_response: RicSubscriptionResponse
    subscription_failure: RicSubscriptionFailure
    subscription_delete_request: RicSubscriptionDeleteRequest
    subscription_delete_response: RicSubscriptionDeleteResponse
    subscription_delete_failure: RicSubscriptionDeleteFailure
    indication: RicIndication
    control_request: RicControlRequest
    control_ack: RicControlAcknowledge
    control_failure: RicControlFailure
    error_indication: ErrorIndication
    reset_request: ResetRequest
    reset_response: ResetResponse
    removal_request: E2RemovalRequest
    removal_response: E2RemovalResponse
    keepalive: Keepalive
    def __init__(self, transaction_id: _Optional[int] = ..., slot: _Optional[int] = ..., t: _Optional[_Union[HopTimes, _Mapping]] = ..., setup_request: _Optional[_Union[E2SetupRequest, _Mapping]] = ..., setup_response: _Optional[_Union[E2SetupResponse, _Mapping]] = ..., setup_failure: _Optional[_Union[E2SetupFailure, _Mapping]] = ..., subscription_request: _Optional[_Union[RicSubscriptionRequest, _Mapping]] = ..., subscription_response: _Optional[_Union[RicSubscriptionResponse, _Mapping]] = ..., subscription_failure: _Optional[_Union[RicSubscriptionFailure, _Mapping]] = ..., subscription_delete_request: _Optional[_Union[RicSubscriptionDeleteRequest, _Mapping]] = ..., subscription_delete_response: _Optional[_Union[RicSubscriptionDeleteResponse, _Mapping]] = ..., subscription_delete_failure: _Optional[_Union[RicSubscriptionDeleteFailure, _Mapping]] = ..., indication: _Optional[_Union[RicIndication, _Mapping]] = ..., control_request: _Optional[_Union[RicControlRequest, _Mapping]] = ..., control_ack: _Optional[_Union[RicControlAcknowledge, _Mapping]] = ..., control_failure: _Optional[_Union[RicControlFailure, _Mapping]] = ..., error_indication: _Optional[_Union[ErrorIndication, _Mapping]] = ..., reset_request: _Optional[_Union[ResetRequest, _Mapping]] = ..., reset_response: _Optional[_Union[ResetResponse, _Mapping]] = ..., removal_request: _Optional[_Union[E2RemovalRequest, _Mapping]] = ..., removal_response: _Optional[_Union[E2RemovalResponse, _Mapping]] = ..., keepalive: _Optional[_Union[Keepalive, _Mapping]] = ...) -> None: ...

class XappPdu(_message.Message):
    __slots__ = ("transaction_id", "slot", "t", "subscription_request", "subscription_response", "subscription_failure", "subscription_delete_request", "subscription_delete_response", "subscription_delete_failure", "indication", "control_request", "control_ack", "control_failure", "error_indication", "keepalive", "register_request", "register_response", "register_failure", "deregister_request", "deregister_response", "node_update", "constraint_update", "constraint_ack", "constraint_failure", "constraint_notice", "model_status", "model_update", "model_activated", "model_load_failed")
    TRANSACTION_ID_FIELD_NUMBER: _ClassVar[int]
    SLOT_FIELD_NUMBER: _ClassVar[int]
    T_FIELD_NUMBER: _ClassVar[int]
    SUBSCRIPTION_REQUEST_FIELD_NUMBER: _ClassVar[int]
    SUBSCRIPTION_RESPONSE_FIELD_NUMBER: _ClassVar[int]
    SUBSCRIPTION_FAILURE_FIELD_NUMBER: _ClassVar[int]
    SUBSCRIPTION_DELETE_REQUEST_FIELD_NUMBER: _ClassVar[int]
    SUBSCRIPTION_DELETE_RESPONSE_FIELD_NUMBER: _ClassVar[int]
    SUBSCRIPTION_DELETE_FAILURE_FIELD_NUMBER: _ClassVar[int]
    INDICATION_FIELD_NUMBER: _ClassVar[int]
    CONTROL_REQUEST_FIELD_NUMBER: _ClassVar[int]
    CONTROL_ACK_FIELD_NUMBER: _ClassVar[int]
    CONTROL_FAILURE_FIELD_NUMBER: _ClassVar[int]
    ERROR_INDICATION_FIELD_NUMBER: _ClassVar[int]
    KEEPALIVE_FIELD_NUMBER: _ClassVar[int]
    REGISTER_REQUEST_FIELD_NUMBER: _ClassVar[int]
    REGISTER_RESPONSE_FIELD_NUMBER: _ClassVar[int]
    REGISTER_FAILURE_FIELD_NUMBER: _ClassVar[int]
    DEREGISTER_REQUEST_FIELD_NUMBER: _ClassVar[int]
    DEREGISTER_RESPONSE_FIELD_NUMBER: _ClassVar[int]
    NODE_UPDATE_FIELD_NUMBER: _ClassVar[int]
    CONSTRAINT_UPDATE_FIELD_NUMBER: _ClassVar[int]
    CONSTRAINT_ACK_FIELD_NUMBER: _ClassVar[int]
    CONSTRAINT_FAILURE_FIELD_NUMBER: _ClassVar[int]
    CONSTRAINT_NOTICE_FIELD_NUMBER: _ClassVar[int]
    MODEL_STATUS_FIELD_NUMBER: _ClassVar[int]
    MODEL_UPDATE_FIELD_NUMBER: _ClassVar[int]
    MODEL_ACTIVATED_FIELD_NUMBER: _ClassVar[int]
    MODEL_LOAD_FAILED_FIELD_NUMBER: _ClassVar[int]
    transaction_id: int
    slot: int
    t: HopTimes
    subscription_request: RicSubscriptionRequest
    subscription_response: RicSubscriptionResponse
    subscription_failure: RicSubscriptionFailure
    subscription_delete_request: RicSubscriptionDeleteRequest
    subscription_delete_response: RicSubscriptionDeleteResponse
    subscription_delete_failure: RicSubscriptionDeleteFailure
    indication: RicIndication
    control_request: RicControlRequest
    control_ack: RicControlAcknowledge
    control_failure: RicControlFailure
    error_indication: ErrorIndication
    keepalive: Keepalive
    register_request: XappRegisterRequest
    register_response: XappRegisterResponse
    register_failure: XappRegisterFailure
    deregister_request: XappDeregisterRequest
    deregister_response: XappDeregisterResponse
    node_update: NodeUpdate
    constraint_update: ConstraintUpdate
    constraint_ack: ConstraintAck
    constraint_failure: ConstraintFailure
    constraint_notice: ConstraintNotice
    model_status: XappModelStatus
    model_update: ModelUpdate
    model_activated: ModelActivated
    model_load_failed: ModelLoadFailed
    def __init__(self, transaction_id: _Optional[int] = ..., slot: _Optional[int] = ..., t: _Optional[_Union[HopTimes, _Mapping]] = ..., subscription_request: _Optional[_Union[RicSubscriptionRequest, _Mapping]] = ..., subscription_response: _Optional[_Union[RicSubscriptionResponse, _Mapping]] = ..., subscription_failure: _Optional[_Union[RicSubscriptionFailure, _Mapping]] = ..., subscription_delete_request: _Optional[_Union[RicSubscriptionDeleteRequest, _Mapping]] = ..., subscription_delete_response: _Optional[_Union[RicSubscriptionDeleteResponse, _Mapping]] = ..., subscription_delete_failure: _Optional[_Union[RicSubscriptionDeleteFailure, _Mapping]] = ..., indication: _Optional[_Union[RicIndication, _Mapping]] = ..., control_request: _Optional[_Union[RicControlRequest, _Mapping]] = ..., control_ack: _Optional[_Union[RicControlAcknowledge, _Mapping]] = ..., control_failure: _Optional[_Union[RicControlFailure, _Mapping]] = ..., error_indication: _Optional[_Union[ErrorIndication, _Mapping]] = ..., keepalive: _Optional[_Union[Keepalive, _Mapping]] = ..., register_request: _Optional[_Union[XappRegisterRequest, _Mapping]] = ..., register_response: _Optional[_Union[XappRegisterResponse, _Mapping]] = ..., register_failure: _Optional[_Union[XappRegisterFailure, _Mapping]] = ..., deregister_request: _Optional[_Union[XappDeregisterRequest, _Mapping]] = ..., deregister_response: _Optional[_Union[XappDeregisterResponse, _Mapping]] = ..., node_update: _Optional[_Union[NodeUpdate, _Mapping]] = ..., constraint_update: _Optional[_Union[ConstraintUpdate, _Mapping]] = ..., constraint_ack: _Optional[_Union[ConstraintAck, _Mapping]] = ..., constraint_failure: _Optional[_Union[ConstraintFailure, _Mapping]] = ..., constraint_notice: _Optional[_Union[ConstraintNotice, _Mapping]] = ..., model_status: _Optional[_Union[XappModelStatus, _Mapping]] = ..., model_update: _Optional[_Union[ModelUpdate, _Mapping]] = ..., model_activated: _Optional[_Union[ModelActivated, _Mapping]] = ..., model_load_failed: _Optional[_Union[ModelLoadFailed, _Mapping]] = ...) -> None: ...
