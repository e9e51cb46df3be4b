from google.protobuf.internal import containers as _containers
from google.protobuf.internal import enum_type_wrapper as _enum_type_wrapper
from google.protobuf import descriptor as _descriptor
from google.protobuf import message as _message
from collections.abc import Iterable as _Iterable, Mapping as _Mapping
from typing import ClassVar as _ClassVar, Optional as _Optional, Union as _Union

DESCRIPTOR: _descriptor.FileDescriptor

class DType(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
    __slots__ = ()
    DTYPE_UNSPECIFIED: _ClassVar[DType]
    DTYPE_FLOAT32: _ClassVar[DType]
    DTYPE_FLOAT64: _ClassVar[DType]
    DTYPE_INT8: _ClassVar[DType]
    DTYPE_INT16: _ClassVar[DType]
    DTYPE_INT32: _ClassVar[DType]
    DTYPE_INT64: _ClassVar[DType]
    DTYPE_UINT8: _ClassVar[DType]
    DTYPE_UINT16: _ClassVar[DType]
    DTYPE_UINT32: _ClassVar[DType]
    DTYPE_UINT64: _ClassVar[DType]
    DTYPE_BOOL: _ClassVar[DType]
DTYPE_UNSPECIFIED: DType
DTYPE_FLOAT32: DType
DTYPE_FLOAT64: DType
DTYPE_INT8: DType
DTYPE_INT16: DType
DTYPE_INT32: DType
DTYPE_INT64: DType
DTYPE_UINT8: DType
DTYPE_UINT16: DType
DTYPE_UINT32: DType
DTYPE_UINT64: DType
DTYPE_BOOL: DType

class ArrayDesc(_message.Message):
    __slots__ = ("name", "dtype", "shape")
    NAME_FIELD_NUMBER: _ClassVar[int]
    DTYPE_FIELD_NUMBER: _ClassVar[int]
    SHAPE_FIELD_NUMBER: _ClassVar[int]
    name: str
    dtype: DType
    shape: _containers.RepeatedScalarFieldContainer[int]
    def __init__(self, name: _Optional[str] = ..., dtype: _Optional[_Union[DType, str]] = ..., shape: _Optional[_Iterable[int]] = ...) -> None: ...

class ArrayLayout(_message.Message):
    __slots__ = ("arrays",)
    ARRAYS_FIELD_NUMBER: _ClassVar[int]
    arrays: _containers.RepeatedCompositeFieldContainer[ArrayDesc]
    def __init__(self, arrays: _Optional[_Iterable[_Union[ArrayDesc, _Mapping]]] = ...) -> None: ...

class SlotReport(_message.Message):
    __slots__ = ("node_ids", "slot", "layout", "data")
    NODE_IDS_FIELD_NUMBER: _ClassVar[int]
    SLOT_FIELD_NUMBER: _ClassVar[int]
    LAYOUT_FIELD_NUMBER: _ClassVar[int]
    DATA_FIELD_NUMBER: _ClassVar[int]
    node_ids: _containers.RepeatedScalarFieldContainer[int]
    slot: int
    layout: bytes
    data: bytes
    def __init__(self, node_ids: _Optional[_Iterable[int]] = ..., slot: _Optional[int] = ..., layout: _Optional[bytes] = ..., data: _Optional[bytes] = ...) -> None: ...

class SlotControl(_message.Message):
    __slots__ = ("node_ids", "slot", "layout", "data")
    NODE_IDS_FIELD_NUMBER: _ClassVar[int]
    SLOT_FIELD_NUMBER: _ClassVar[int]
    LAYOUT_FIELD_NUMBER: _ClassVar[int]
    DATA_FIELD_NUMBER: _ClassVar[int]
    node_ids: _containers.RepeatedScalarFieldContainer[int]
    slot: int
    layout: bytes
    data: bytes
    def __init__(self, node_ids: _Optional[_Iterable[int]] = ..., slot: _Optional[int] = ..., layout: _Optional[bytes] = ..., data: _Optional[bytes] = ...) -> None: ...

class SlotFunctionDefinition(_message.Message):
    __slots__ = ("kind", "n_users", "n_users_max", "n_resources", "n_transmitters", "max_power_dbm", "power_levels_dbm", "decision_interval_slots", "slot_s", "report_layout", "control_layout")
    KIND_FIELD_NUMBER: _ClassVar[int]
    N_USERS_FIELD_NUMBER: _ClassVar[int]
    N_USERS_MAX_FIELD_NUMBER: _ClassVar[int]
    N_RESOURCES_FIELD_NUMBER: _ClassVar[int]
    N_TRANSMITTERS_FIELD_NUMBER: _ClassVar[int]
    MAX_POWER_DBM_FIELD_NUMBER: _ClassVar[int]
    POWER_LEVELS_DBM_FIELD_NUMBER: _ClassVar[int]
    DECISION_INTERVAL_SLOTS_FIELD_NUMBER: _ClassVar[int]
    SLOT_S_FIELD_NUMBER: _ClassVar[int]
    REPORT_LAYOUT_FIELD_NUMBER: _ClassVar[int]
    CONTROL_LAYOUT_FIELD_NUMBER: _ClassVar[int]
    kind: str
    n_users: int
    n_users_max: int
    n_resources: int
    n_transmitters: int
    max_power_dbm: float
    power_levels_dbm: _containers.RepeatedScalarFieldContainer[float]
    decision_interval_slots: int
    slot_s: float
    report_layout: ArrayLayout
    control_layout: ArrayLayout
    def __init__(self, kind: _Optional[str] = ..., n_users: _Optional[int] = ..., n_users_max: _Optional[int] = ..., n_resources: _Optional[int] = ..., n_transmitters: _Optional[int] = ..., max_power_dbm: _Optional[float] = ..., power_levels_dbm: _Optional[_Iterable[float]] = ..., decision_interval_slots: _Optional[int] = ..., slot_s: _Optional[float] = ..., report_layout: _Optional[_Union[ArrayLayout, _Mapping]] = ..., control_layout: _Optional[_Union[ArrayLayout, _Mapping]] = ...) -> None: ...
