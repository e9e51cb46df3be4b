"""Wire codec of the SLOT service model: reports and controls <-> protobuf.

A payload (``SlotReport`` / ``SlotControl``, ``proto/ntnric/e2sm.proto``) covers the ``N``
nodes one process hosts: node ids, slot, the serialized per-node ``ArrayLayout`` (names,
dtypes, shapes) and one ``data`` buffer in which every array is stacked over the nodes,
``(N, *shape)``, little-endian, C order, each array starting at a multiple of 8 bytes. One node
alone is ``N = 1``.

- `encode_reports` / `decode_reports`: world-level `Reports` (world ``b``, a subset of nodes)
  <-> one payload; decoding gives ``(1, N, ...)`` arrays, i.e. a ``B = 1`` `Reports` whose
  node axis follows the payload's ``node_ids``.
- `encode_report` / `decode_report`: one `NodeReport` <-> a payload with ``N = 1``.
- `encode_controls` / `decode_controls`, `encode_control` / `decode_control`: the same for
  `Controls` / `NodeControl`.
- `check_control`, `select_nodes`: what the RIC needs to validate and split a control without
  unpacking it.

A node's layout is the same every slot: encoders reuse one `Layout` (and its serialized bytes)
and decoders find it in a cache keyed by those bytes, so decoding is one protobuf parse plus one
``numpy.ndarray`` view per array. Decoded arrays are read-only views of the message buffer.

Decoding is strict: an unknown dtype, a layout that differs from the expected one, a data
buffer of the wrong size or a bool that is neither 0 nor 1 raises `CodecError` (`ShapeError`
for layout and size problems) with a one-line message. Nothing is ever pickled.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, fields
from typing import TypeVar

import numpy as np
from google.protobuf.message import DecodeError

from ric.protocol.gen import e2ap_pb2, e2sm_pb2
from ric.protocol.sm import CONTROL_ARRAYS, REPORT_ARRAYS, Controls, NodeControl, NodeReport, Reports
from ric.protocol.spec import NodeSpec, WorldSpec

SLOT_RAN_FUNCTION_ID = 1
"""RAN function id of the SLOT service model."""
SLOT_SM_NAME = "ntnric-slot"
SLOT_SM_VERSION = 1
EXTRA_PREFIX = "extra."
"""Layout names of world-specific arrays: ``extra.<name>``."""

_ALIGN_BYTES = 8
_MAX_ARRAYS = 256
_MAX_DATA_BYTES = 1 << 28
_CACHE_MAX = 4096

_PB_TO_DTYPE: dict[e2sm_pb2.DType, np.dtype] = {
    e2sm_pb2.DTYPE_FLOAT32: np.dtype("<f4"),
    e2sm_pb2.DTYPE_FLOAT64: np.dtype("<f8"),
    e2sm_pb2.DTYPE_INT8: np.dtype("i1"),
    e2sm_pb2.DTYPE_INT16: np.dtype("<i2"),
    e2sm_pb2.DTYPE_INT32: np.dtype("<i4"),
    e2sm_pb2.DTYPE_INT64: np.dtype("<i8"),
    e2sm_pb2.DTYPE_UINT8: np.dtype("u1"),
    e2sm_pb2.DTYPE_UINT16: np.dtype("<u2"),
    e2sm_pb2.DTYPE_UINT32: np.dtype("<u4"),
    e2sm_pb2.DTYPE_UINT64: np.dtype("<u8"),
    e2sm_pb2.DTYPE_BOOL: np.dtype("?"),
}
_DTYPE_TO_PB: dict[np.dtype, e2sm_pb2.DType] = {dt: code for code, dt in _PB_TO_DTYPE.items()}

REPORT_DTYPES: dict[str, np.dtype] = {
    "gain": np.dtype("<f4"),
    "queue_bits": np.dtype("<f4"),
    "queue_packets": np.dtype("<f4"),
    "interference_w": np.dtype("<f4"),
    "spectral_efficiency_bps_hz": np.dtype("<f4"),
    "active": np.dtype("?"),
    "user_pos_m": np.dtype("<f4"),
    "node_pos_m": np.dtype("<f4"),
}
"""Wire dtype of every report array."""
CONTROL_DTYPES: dict[str, np.dtype] = {
    "user": np.dtype("<i2"),
    "power_w": np.dtype("<f4"),
    "mask": np.dtype("?"),
    "move_m": np.dtype("<f4"),
}
"""Wire dtype of every control array."""


# decoders build the containers positionally, in REPORT_ARRAYS / CONTROL_ARRAYS order
if [f.name for f in fields(Reports)][1:9] != list(REPORT_ARRAYS) or (
    [f.name for f in fields(NodeReport)][2:10] != list(REPORT_ARRAYS)
    or [f.name for f in fields(Controls)][:4] != list(CONTROL_ARRAYS)
    or [f.name for f in fields(NodeControl)][2:6] != list(CONTROL_ARRAYS)
):
    raise RuntimeError("ric.protocol.sm field order changed; update ric.protocol.codec")


class CodecError(ValueError):
    """A report or control that cannot be encoded or decoded; the message is one line."""


class ShapeError(CodecError):
    """Arrays whose names, dtypes, shapes or byte size do not match the expected layout."""


def _wire_dtype(dtype: np.dtype) -> np.dtype:
    """Little-endian version of ``dtype`` (raises `CodecError` when it has no wire code)."""
    wire = np.dtype(dtype.newbyteorder("<").str)
    if wire not in _DTYPE_TO_PB:
        raise CodecError(f"dtype {dtype} cannot travel on the wire")
    return wire


@dataclass(frozen=True)
class ArraySpec:
    """One array of a layout.

    Attributes
    ----------
    name : str
        Field name (``gain``, ``user``, ``extra.<name>``, ...).
    dtype : numpy.dtype
        Little-endian element type.
    shape : tuple of int
        Array shape.
    offset : int
        Start in the packed data buffer [byte], a multiple of 8.
    nbytes : int
        Size without padding [byte].
    """

    name: str
    dtype: np.dtype
    shape: tuple[int, ...]
    offset: int
    nbytes: int


Entries = Sequence[tuple[str, np.dtype, tuple[int, ...]]]


class Layout:
    """Ordered arrays of one node's report or control and where they sit in the data buffer.

    Build one with `Layout.of_report`, `Layout.of_control`, `control_layout` or
    `Layout.from_bytes`. Equal layouts share one instance through a cache, so ``is`` is a valid
    fast comparison. `stacked` gives the layout of ``N`` nodes' arrays stacked on a leading axis.

    Parameters
    ----------
    entries : sequence of (str, numpy.dtype, tuple of int)
        Name, dtype and shape of each array, in wire order.
    """

    __slots__ = (
        "_bools",
        "_key",
        "_pack",
        "_stacks",
        "_views",
        "_views_b1",
        "data_nbytes",
        "layout_bytes",
        "names",
        "specs",
        "validated",
    )

    def __init__(self, entries: Entries) -> None:
        if len(entries) > _MAX_ARRAYS:
            raise ShapeError(f"layout has {len(entries)} arrays, at most {_MAX_ARRAYS} allowed")
        specs: list[ArraySpec] = []
        offset = 0
        seen: set[str] = set()
        for name, dtype, shape in entries:
            if not name or name in seen:
                raise ShapeError(f"layout array name {name!r} is empty or repeated")
            seen.add(name)
            wire = _wire_dtype(np.dtype(dtype))
            dims = tuple(int(d) for d in shape)
            if any(d < 0 for d in dims) or len(dims) > 16:
                raise ShapeError(f"array {name!r} has an invalid shape {dims}")
            nbytes = math.prod(dims) * wire.itemsize
            if nbytes > _MAX_DATA_BYTES:
                raise ShapeError(f"array {name!r} needs {nbytes} bytes, more than the {_MAX_DATA_BYTES} allowed")
            specs.append(ArraySpec(name, wire, dims, offset, nbytes))
            offset += -(-nbytes // _ALIGN_BYTES) * _ALIGN_BYTES
            if offset > _MAX_DATA_BYTES:
                raise ShapeError(f"layout needs {offset} bytes, more than the {_MAX_DATA_BYTES} allowed")
        self.specs: tuple[ArraySpec, ...] = tuple(specs)
        self.names: tuple[str, ...] = tuple(s.name for s in specs)
        self.data_nbytes: int = offset
        proto = e2sm_pb2.ArrayLayout(
            arrays=[e2sm_pb2.ArrayDesc(name=s.name, dtype=_DTYPE_TO_PB[s.dtype], shape=s.shape) for s in specs]
        )
        self.layout_bytes: bytes = proto.SerializeToString(deterministic=True)
        self._key = tuple((s.name, s.dtype.str, s.shape) for s in specs)
        self._pack = tuple((s.shape, s.dtype, bytes(-s.nbytes % _ALIGN_BYTES)) for s in specs)
        self._views = tuple((s.shape, s.dtype, s.offset) for s in specs)
        self._views_b1 = tuple(((1, *s.shape), s.dtype, s.offset) for s in specs)
        self._bools = tuple((s.name, s.offset, s.offset + s.nbytes) for s in specs if s.dtype.kind == "b" and s.nbytes)
        self._stacks: dict[int, Layout] = {}
        self.validated: str = ""

    # ------------------------------------------------------------------ construction

    @staticmethod
    def cached(entries: Entries) -> Layout:
        """The shared instance for these entries."""
        key = tuple((name, _wire_dtype(np.dtype(dt)).str, tuple(int(d) for d in shape)) for name, dt, shape in entries)
        layout = _BY_KEY.get(key)
        if layout is None:
            layout = Layout(entries)
            if len(_BY_KEY) >= _CACHE_MAX:
                _BY_KEY.clear()
            _BY_KEY[layout._key] = layout
        return layout

    @classmethod
    def from_bytes(cls, data: bytes) -> Layout:
        """Layout of a serialized ``ArrayLayout`` (cached on the bytes)."""
        layout = _BY_BYTES.get(data)
        if layout is not None:
            return layout
        try:
            proto = e2sm_pb2.ArrayLayout.FromString(data)
        except DecodeError as exc:
            raise CodecError(f"array layout does not decode: {exc}") from None
        layout = cls.from_proto(proto)
        if len(_BY_BYTES) >= _CACHE_MAX:
            _BY_BYTES.clear()
        _BY_BYTES[data] = layout
        return layout

    @classmethod
    def from_proto(cls, proto: e2sm_pb2.ArrayLayout) -> Layout:
        """Layout of an ``ArrayLayout`` message."""
        entries = []
        for desc in proto.arrays:
            dtype = _PB_TO_DTYPE.get(desc.dtype)
            if dtype is None:
                raise CodecError(f"array {desc.name!r} has unknown dtype code {desc.dtype}")
            entries.append((desc.name, dtype, tuple(desc.shape)))
        return cls.cached(entries)

    @classmethod
    def _of(cls, holder: NodeReport | Reports | NodeControl | Controls, names: tuple[str, ...],
            dtypes: Mapping[str, np.dtype], lead: int) -> Layout:
        """Layout of the arrays ``names`` and the extras of ``holder``, dropping ``lead`` axes."""
        entries = [(name, dtypes[name], np.shape(getattr(holder, name))[lead:]) for name in names]
        extra = sorted(holder.extra.items())
        entries += [(EXTRA_PREFIX + k, np.asarray(v).dtype, np.shape(v)[lead:]) for k, v in extra]
        return cls.cached(entries)

    @classmethod
    def of_report(cls, report: NodeReport) -> Layout:
        """Per-node wire layout of ``report`` (canonical dtypes, extras sorted by name)."""
        layout = cls._of(report, REPORT_ARRAYS, REPORT_DTYPES, 0)
        _check_report_layout(layout)
        return layout

    @classmethod
    def of_reports(cls, reports: Reports) -> Layout:
        """Per-node wire layout of world-level ``reports`` (drops the ``(B, K)`` axes)."""
        layout = cls._of(reports, REPORT_ARRAYS, REPORT_DTYPES, 2)
        _check_report_layout(layout)
        return layout

    @classmethod
    def of_control(cls, control: NodeControl) -> Layout:
        """Per-node wire layout of ``control`` (canonical dtypes, extras sorted by name)."""
        layout = cls._of(control, CONTROL_ARRAYS, CONTROL_DTYPES, 0)
        _check_control_layout(layout)
        return layout

    @classmethod
    def of_controls(cls, controls: Controls) -> Layout:
        """Per-node wire layout of world-level ``controls`` (drops the ``(B, K)`` axes)."""
        layout = cls._of(controls, CONTROL_ARRAYS, CONTROL_DTYPES, 2)
        _check_control_layout(layout)
        return layout

    def stacked(self, n_nodes: int) -> Layout:
        """Layout of ``n_nodes`` nodes' arrays stacked on a leading axis: shapes ``(N, *shape)``."""
        layout = self._stacks.get(n_nodes)
        if layout is None:
            if n_nodes < 0:
                raise ShapeError(f"negative node count {n_nodes}")
            layout = Layout.cached([(s.name, s.dtype, (n_nodes, *s.shape)) for s in self.specs])
            if len(self._stacks) >= 64:
                self._stacks.clear()
            self._stacks[n_nodes] = layout
        return layout

    def to_proto(self) -> e2sm_pb2.ArrayLayout:
        """This layout as an ``ArrayLayout`` message."""
        return e2sm_pb2.ArrayLayout.FromString(self.layout_bytes)

    # ------------------------------------------------------------------ packing

    def pack(self, arrays: Sequence[np.ndarray]) -> bytes:
        """Pack ``arrays`` (one per spec, in order, each of the spec's shape) into a data buffer.

        Arrays are cast to the wire dtype within their kind (float64 -> float32, int64 -> int16);
        a cast across kinds or a wrong shape raises `ShapeError`.
        """
        if len(arrays) != len(self._pack):
            raise ShapeError(f"{len(arrays)} arrays for a layout of {len(self._pack)}")
        parts: list[bytes] = []
        nd = np.ndarray
        for i, ((shape, dtype, pad), arr) in enumerate(zip(self._pack, arrays, strict=True)):
            if arr.__class__ is not nd or arr.dtype is not dtype:
                arr = _cast(self.specs[i].name, np.asarray(arr), dtype)
            if arr.shape != shape:
                raise ShapeError(f"array {self.specs[i].name!r} has shape {arr.shape}, layout says {shape}")
            parts.append(arr.tobytes())
            parts.append(pad)
        return b"".join(parts)

    def unpack(self, data: bytes, batch_axis: bool = False) -> list[np.ndarray]:
        """Read-only views of every array in ``data``.

        Parameters
        ----------
        data : bytes
            A data buffer of this layout (raises `ShapeError` on a size mismatch).
        batch_axis : bool
            Prepend a batch axis of 1 to every array.
        """
        if len(data) != self.data_nbytes:
            raise ShapeError(f"data holds {len(data)} bytes, layout needs {self.data_nbytes}")
        for name, start, stop in self._bools:
            if data[start:stop].translate(None, b"\x00\x01"):
                raise CodecError(f"bool array {name!r} holds bytes other than 0 and 1")
        nd = np.ndarray
        views = self._views_b1 if batch_axis else self._views
        return [nd(shape, dtype, data, offset) for shape, dtype, offset in views]

    def array(self, data: bytes, name: str) -> np.ndarray:
        """Read-only view of one array of ``data`` (``data`` must already be size-checked)."""
        spec = self.specs[self.names.index(name)]
        return np.ndarray(spec.shape, spec.dtype, data, spec.offset)

    # ------------------------------------------------------------------ comparison

    def mismatch(self, expected: Layout) -> str:
        """One line naming the first difference from ``expected`` ('' when equal)."""
        if self is expected or self._key == expected._key:
            return ""
        got = {s.name: s for s in self.specs}
        for spec in expected.specs:
            other = got.get(spec.name)
            if other is None:
                return f"array {spec.name!r} is missing"
            if other.dtype != spec.dtype:
                return f"array {spec.name!r} has dtype {other.dtype}, expected {spec.dtype}"
            if other.shape != spec.shape:
                return f"array {spec.name!r} has shape {other.shape}, expected {spec.shape}"
        extra = [s.name for s in self.specs if s.name not in expected.names]
        if extra:
            return f"unexpected array {extra[0]!r}"
        return f"arrays in order {list(self.names)}, expected {list(expected.names)}"

    def __eq__(self, other: object) -> bool:
        return isinstance(other, Layout) and self._key == other._key

    def __hash__(self) -> int:
        return hash(self._key)

    def __repr__(self) -> str:
        inner = ", ".join(f"{s.name}:{s.dtype.str}{list(s.shape)}" for s in self.specs)
        return f"Layout({inner})"


_BY_KEY: dict[tuple[tuple[str, str, tuple[int, ...]], ...], Layout] = {}
_BY_BYTES: dict[bytes, Layout] = {}


def _cast(name: str, arr: np.ndarray, dtype: np.dtype) -> np.ndarray:
    kind, want = arr.dtype.kind, dtype.kind
    if arr.dtype == dtype:
        return arr
    if not (kind == want or (want in "iu" and kind in "iu")):
        raise ShapeError(f"array {name!r} has dtype {arr.dtype}, expected {dtype}")
    return arr.astype(dtype)


def _check_report_layout(layout: Layout) -> None:
    """Raise `ShapeError` unless ``layout`` is a well-formed per-node report layout (cached)."""
    if layout.validated == "report":
        return
    names = layout.names
    n = len(REPORT_ARRAYS)
    if names[:n] != REPORT_ARRAYS or any(not k.startswith(EXTRA_PREFIX) for k in names[n:]):
        raise ShapeError(f"report arrays are {list(names)}, expected {list(REPORT_ARRAYS)} then extras")
    spec = {s.name: s for s in layout.specs}
    for name, dtype in REPORT_DTYPES.items():
        if spec[name].dtype != dtype:
            raise ShapeError(f"report array {name!r} has dtype {spec[name].dtype}, expected {dtype}")
    gain = spec["gain"].shape
    if len(gain) != 3:
        raise ShapeError(f"report array 'gain' has shape {gain}, expected (U, S, T)")
    n_users, n_res, _ = gain
    want = {
        "queue_bits": (n_users,),
        "queue_packets": (n_users,),
        "interference_w": (n_users, n_res),
        "spectral_efficiency_bps_hz": (n_users, n_res),
        "active": (n_users,),
        "user_pos_m": (n_users, 3),
        "node_pos_m": (3,),
    }
    for name, shape in want.items():
        if spec[name].shape != shape:
            raise ShapeError(f"report array {name!r} has shape {spec[name].shape}, expected {shape}")
    layout.validated = "report"


def _check_control_layout(layout: Layout) -> None:
    """Raise `ShapeError` unless ``layout`` is a well-formed per-node control layout (cached)."""
    if layout.validated == "control":
        return
    names = layout.names
    n = len(CONTROL_ARRAYS)
    if names[:n] != CONTROL_ARRAYS or any(not k.startswith(EXTRA_PREFIX) for k in names[n:]):
        raise ShapeError(f"control arrays are {list(names)}, expected {list(CONTROL_ARRAYS)} then extras")
    spec = {s.name: s for s in layout.specs}
    for name, dtype in CONTROL_DTYPES.items():
        if spec[name].dtype != dtype:
            raise ShapeError(f"control array {name!r} has dtype {spec[name].dtype}, expected {dtype}")
    n_res = spec["user"].shape
    if len(n_res) != 1:
        raise ShapeError(f"control array 'user' has shape {n_res}, expected (S,)")
    for name, shape in {"power_w": n_res, "mask": n_res, "move_m": (3,)}.items():
        if spec[name].shape != shape:
            raise ShapeError(f"control array {name!r} has shape {spec[name].shape}, expected {shape}")
    layout.validated = "control"


def control_layout(n_resources: int, extra: Mapping[str, tuple[np.dtype, tuple[int, ...]]] | None = None) -> Layout:
    """Per-node control layout with ``n_resources`` resources (a node's control capability).

    Parameters
    ----------
    n_resources : int
        Resource axis ``S`` of ``user``, ``power_w`` and ``mask``.
    extra : mapping of str to (dtype, shape), optional
        World-specific control arrays the node accepts (per-node shapes).
    """
    entries: list[tuple[str, np.dtype, tuple[int, ...]]] = [
        ("user", CONTROL_DTYPES["user"], (n_resources,)),
        ("power_w", CONTROL_DTYPES["power_w"], (n_resources,)),
        ("mask", CONTROL_DTYPES["mask"], (n_resources,)),
        ("move_m", CONTROL_DTYPES["move_m"], (3,)),
    ]
    entries += [(EXTRA_PREFIX + k, np.dtype(dt), tuple(shape)) for k, (dt, shape) in sorted((extra or {}).items())]
    layout = Layout.cached(entries)
    _check_control_layout(layout)
    return layout


_Msg = TypeVar("_Msg", e2sm_pb2.SlotReport, e2sm_pb2.SlotControl)


def _parse(cls: type[_Msg], data: bytes | _Msg, what: str) -> _Msg:
    if isinstance(data, bytes | bytearray | memoryview):
        try:
            return cls.FromString(bytes(data))
        except DecodeError as exc:
            raise CodecError(f"payload is not a {what}: {exc}") from None
    if not isinstance(data, cls):
        raise CodecError(f"payload is a {type(data).__name__}, not a {what}")
    return data


def _node_index(nodes: Sequence[int] | np.ndarray | None, n_nodes: int) -> tuple[np.ndarray | None, list[int]]:
    if nodes is None:
        return None, list(range(n_nodes))
    index = np.asarray(nodes, dtype=np.intp).reshape(-1)
    if index.size and (index.min() < 0 or index.max() >= n_nodes):
        raise CodecError(f"node indices {index.tolist()} outside 0..{n_nodes - 1}")
    return index, index.tolist()


def _payload_layout(msg: e2sm_pb2.SlotReport | e2sm_pb2.SlotControl, expected: Layout | None, what: str) -> Layout:
    if expected is not None and msg.layout == expected.layout_bytes:
        return expected
    layout = Layout.from_bytes(msg.layout)
    if expected is not None and layout is not expected:
        problem = layout.mismatch(expected)
        if problem:
            raise ShapeError(f"{what}: {problem}")
    return layout


# ---------------------------------------------------------------------- reports


def _wire_arrays(holder: NodeReport | Reports | NodeControl | Controls, names: tuple[str, ...]) -> list[np.ndarray]:
    """The arrays of ``holder`` in wire order: ``names``, then the extras sorted by name."""
    arrays = [getattr(holder, name) for name in names]
    if holder.extra:
        arrays += [holder.extra[k] for k in sorted(holder.extra)]
    return arrays


def _fill(msg: _Msg, node_ids: Sequence[int], slot: int, layout: Layout, data: bytes) -> _Msg:
    """Write a payload's fields (node ids, slot, layout, packed data) into ``msg``."""
    del msg.node_ids[:]
    msg.node_ids.extend(node_ids)
    msg.slot = int(slot)
    msg.layout = layout.layout_bytes
    msg.data = data
    return msg


def encode_reports(
    reports: Reports,
    nodes: Sequence[int] | np.ndarray | None = None,
    *,
    batch_index: int = 0,
    layout: Layout | None = None,
    out: e2sm_pb2.SlotReport | None = None,
) -> e2sm_pb2.SlotReport:
    """Pack the reports of several nodes of one world into one ``SlotReport``.

    Parameters
    ----------
    reports : Reports
        World-level reports, arrays ``(B, K, ...)``.
    nodes : sequence of int, optional
        Node indices to include, in stacking order (default: all ``K`` in order).
    batch_index : int
        Which world ``b`` of the batch.
    layout : Layout, optional
        The per-node report layout (`Layout.of_reports`), to skip working it out each slot.
    out : SlotReport, optional
        Message to fill (e.g. ``pdu.indication.report``); a new one when None.

    Returns
    -------
    SlotReport
        ``out`` or the new message.
    """
    if layout is None:
        layout = Layout.of_reports(reports)
    index, ids = _node_index(nodes, reports.n_nodes)
    b = batch_index
    sources = _wire_arrays(reports, REPORT_ARRAYS)
    arrays = [src[b] for src in sources] if index is None else [src[b, index] for src in sources]
    msg = out if out is not None else e2sm_pb2.SlotReport()
    return _fill(msg, ids, reports.slot, layout, layout.stacked(len(ids)).pack(arrays))


def decode_reports(data: bytes | e2sm_pb2.SlotReport, expected: Layout | None = None) -> tuple[list[int], Reports]:
    """Unpack a ``SlotReport`` into a ``B = 1`` `Reports` over its nodes.

    Parameters
    ----------
    data : bytes or SlotReport
        The payload (``indication.report``).
    expected : Layout, optional
        The per-node report layout the nodes announced; any difference raises `ShapeError`.

    Returns
    -------
    node_ids : list of int
        World indices of the nodes on the returned node axis.
    reports : Reports
        Arrays ``(1, N, ...)``, read-only views of the payload.
    """
    msg = _parse(e2sm_pb2.SlotReport, data, "SlotReport")
    layout = _payload_layout(msg, expected, "report")
    _check_report_layout(layout)
    node_ids = list(msg.node_ids)
    arrays = layout.stacked(len(node_ids)).unpack(msg.data, batch_axis=True)
    n = len(REPORT_ARRAYS)
    extra = {name[len(EXTRA_PREFIX):]: arr for name, arr in zip(layout.names[n:], arrays[n:], strict=True)}
    a = arrays
    return node_ids, Reports(msg.slot, a[0], a[1], a[2], a[3], a[4], a[5], a[6], a[7], extra=extra)


def encode_report(
    report: NodeReport, layout: Layout | None = None, out: e2sm_pb2.SlotReport | None = None
) -> e2sm_pb2.SlotReport:
    """Pack one node's report into a ``SlotReport`` with ``N = 1``."""
    if layout is None:
        layout = Layout.of_report(report)
    data = layout.pack(_wire_arrays(report, REPORT_ARRAYS))  # N = 1: same bytes as the stacked layout
    msg = out if out is not None else e2sm_pb2.SlotReport()
    return _fill(msg, (int(report.node_id),), report.slot, layout, data)


def decode_report(data: bytes | e2sm_pb2.SlotReport, expected: Layout | None = None) -> NodeReport:
    """Unpack a ``SlotReport`` of one node (``N = 1``) into a `NodeReport`."""
    msg = _parse(e2sm_pb2.SlotReport, data, "SlotReport")
    if len(msg.node_ids) != 1:
        raise ShapeError(f"report holds {len(msg.node_ids)} nodes; decode it with decode_reports")
    layout = _payload_layout(msg, expected, "report")
    _check_report_layout(layout)
    arrays = layout.unpack(msg.data)
    n = len(REPORT_ARRAYS)
    extra = {name[len(EXTRA_PREFIX):]: arr for name, arr in zip(layout.names[n:], arrays[n:], strict=True)}
    a = arrays
    return NodeReport(msg.node_ids[0], msg.slot, a[0], a[1], a[2], a[3], a[4], a[5], a[6], a[7], extra=extra)


# ---------------------------------------------------------------------- controls


def encode_controls(
    controls: Controls,
    slot: int,
    nodes: Sequence[int] | np.ndarray | None = None,
    *,
    batch_index: int = 0,
    layout: Layout | None = None,
    out: e2sm_pb2.SlotControl | None = None,
) -> e2sm_pb2.SlotControl:
    """Pack the controls of several nodes of one world into one ``SlotControl``.

    Parameters
    ----------
    controls : Controls
        World-level controls: ``user`` int16 (B, K, S), ``power_w`` float32 (B, K, S) [W],
        ``mask`` bool (B, K, S), ``move_m`` float32 (B, K, 3) [m], extras (B, K, ...).
    slot : int
        Target slot.
    nodes : sequence of int, optional
        Node indices to include, in stacking order (default: all ``K``).
    batch_index : int
        Which world ``b``.
    layout : Layout, optional
        The per-node control layout (`Layout.of_controls` or `control_layout`).
    out : SlotControl, optional
        Message to fill (e.g. ``pdu.control_request.control``).
    """
    if layout is None:
        layout = Layout.of_controls(controls)
    index, ids = _node_index(nodes, int(controls.user.shape[1]))
    b = batch_index
    sources = _wire_arrays(controls, CONTROL_ARRAYS)
    arrays = [src[b] for src in sources] if index is None else [src[b, index] for src in sources]
    msg = out if out is not None else e2sm_pb2.SlotControl()
    return _fill(msg, ids, slot, layout, layout.stacked(len(ids)).pack(arrays))


def decode_controls(data: bytes | e2sm_pb2.SlotControl, expected: Layout | None = None) -> tuple[list[int], Controls]:
    """Unpack a ``SlotControl`` into a ``B = 1`` `Controls` over its nodes.

    Returns the node ids (world indices on the returned node axis) and the controls, arrays
    ``(1, N, ...)`` (read-only views). ``expected`` is the per-node control layout.
    """
    msg = _parse(e2sm_pb2.SlotControl, data, "SlotControl")
    layout = check_control(msg, expected)
    node_ids = list(msg.node_ids)
    arrays = layout.stacked(len(node_ids)).unpack(msg.data, batch_axis=True)
    extra = {name[len(EXTRA_PREFIX):]: arr for name, arr in zip(layout.names[4:], arrays[4:], strict=True)}
    return node_ids, Controls(arrays[0], arrays[1], arrays[2], arrays[3], extra=extra)


def encode_control(
    control: NodeControl, layout: Layout | None = None, out: e2sm_pb2.SlotControl | None = None
) -> e2sm_pb2.SlotControl:
    """Pack one node's control into a ``SlotControl`` with ``N = 1``."""
    if layout is None:
        layout = Layout.of_control(control)
    data = layout.pack(_wire_arrays(control, CONTROL_ARRAYS))
    msg = out if out is not None else e2sm_pb2.SlotControl()
    return _fill(msg, (int(control.node_id),), control.slot, layout, data)


def decode_control(data: bytes | e2sm_pb2.SlotControl, expected: Layout | None = None) -> NodeControl:
    """Unpack a ``SlotControl`` of one node (``N = 1``) into a `NodeControl`."""
    msg = _parse(e2sm_pb2.SlotControl, data, "SlotControl")
    if len(msg.node_ids) != 1:
        raise ShapeError(f"control holds {len(msg.node_ids)} nodes; decode it with decode_controls")
    layout = check_control(msg, expected)
    arrays = layout.unpack(msg.data)
    extra = {name[len(EXTRA_PREFIX):]: arr for name, arr in zip(layout.names[4:], arrays[4:], strict=True)}
    return NodeControl(msg.node_ids[0], msg.slot, arrays[0], arrays[1], arrays[2], arrays[3], extra=extra)


def check_control(msg: e2sm_pb2.SlotControl, expected: Layout | None, n_nodes: int | None = None) -> Layout:
    """Validate a parsed control without unpacking it; return its per-node layout.

    Checks the per-node layout against ``expected`` (one bytes comparison on the fast path), the
    control field names and dtypes, and the data size for ``n_nodes`` nodes (default: as many
    as ``node_ids``). Raises `ShapeError` on any difference.
    """
    layout = _payload_layout(msg, expected, "control")
    _check_control_layout(layout)
    n = len(msg.node_ids) if n_nodes is None else n_nodes
    need = layout.stacked(n).data_nbytes
    size = len(msg.data)
    if size != need:
        raise ShapeError(f"control data holds {size} bytes, {n} node(s) of this layout need {need}")
    return layout


def select_nodes(
    msg: e2sm_pb2.SlotControl | e2sm_pb2.SlotReport,
    layout: Layout,
    rows: Sequence[int],
    out: e2sm_pb2.SlotControl | e2sm_pb2.SlotReport,
) -> None:
    """Copy the stacked rows ``rows`` of a (size-checked) payload into ``out``.

    ``layout`` is the per-node layout; ``out`` gets the same slot and layout bytes, the selected
    node ids and arrays.
    """
    n = len(msg.node_ids)
    data = msg.data
    index = np.asarray(rows, dtype=np.intp)
    arrays = [a[index] for a in layout.stacked(n).unpack(data)]
    ids = list(msg.node_ids)
    del out.node_ids[:]
    out.node_ids.extend(ids[i] for i in rows)
    out.slot = msg.slot
    out.layout = msg.layout
    out.data = layout.stacked(len(index)).pack(arrays)


# ---------------------------------------------------------------------- E2 Setup helpers


def ran_function(
    spec: WorldSpec,
    node: NodeSpec,
    report_layout: Layout,
    control: Layout | None = None,
) -> e2ap_pb2.RanFunction:
    """The SLOT RAN function a node offers at E2 Setup.

    Parameters
    ----------
    spec : WorldSpec
        The world the node belongs to (slot duration).
    node : NodeSpec
        The node.
    report_layout : Layout
        Its per-node report layout (`Layout.of_reports` of the world's first reports).
    control : Layout, optional
        Its per-node control layout; ``control_layout(spec.n_resources)`` when None.
    """
    _check_report_layout(report_layout)
    ctrl = control if control is not None else control_layout(spec.n_resources)
    _check_control_layout(ctrl)
    n_users_max, n_resources, n_transmitters = report_layout.specs[0].shape
    definition = e2sm_pb2.SlotFunctionDefinition(
        kind=node.kind,
        n_users=node.n_users,
        n_users_max=n_users_max,
        n_resources=n_resources,
        n_transmitters=n_transmitters,
        max_power_dbm=node.max_power_dbm,
        power_levels_dbm=node.power_levels_dbm,
        decision_interval_slots=node.decision_interval_slots,
        slot_s=spec.slot_s,
        report_layout=report_layout.to_proto(),
        control_layout=ctrl.to_proto(),
    )
    return e2ap_pb2.RanFunction(
        ran_function_id=SLOT_RAN_FUNCTION_ID, sm_name=SLOT_SM_NAME, sm_version=SLOT_SM_VERSION, definition=definition
    )


def node_item(
    spec: WorldSpec, node: NodeSpec, report_layout: Layout, control: Layout | None = None
) -> e2ap_pb2.E2NodeItem:
    """One node's entry of an ``E2SetupRequest`` (name, world index, kind, SLOT RAN function)."""
    return e2ap_pb2.E2NodeItem(
        name=node.name,
        node_id=node.node_id,
        kind=node.kind,
        ran_functions=[ran_function(spec, node, report_layout, control)],
    )


def function_layouts(function: e2ap_pb2.RanFunction) -> tuple[Layout, Layout]:
    """Per-node report and control layouts announced by a SLOT RAN function (validated)."""
    definition = function.definition
    report = Layout.from_proto(definition.report_layout)
    control = Layout.from_proto(definition.control_layout)
    _check_report_layout(report)
    _check_control_layout(control)
    return report, control


__all__ = [
    "CONTROL_DTYPES",
    "EXTRA_PREFIX",
    "REPORT_DTYPES",
    "SLOT_RAN_FUNCTION_ID",
    "SLOT_SM_NAME",
    "SLOT_SM_VERSION",
    "ArraySpec",
    "CodecError",
    "Layout",
    "ShapeError",
    "check_control",
    "control_layout",
    "decode_control",
    "decode_controls",
    "decode_report",
    "decode_reports",
    "encode_control",
    "encode_controls",
    "encode_report",
    "encode_reports",
    "function_layouts",
    "node_item",
    "ran_function",
    "select_nodes",
]
