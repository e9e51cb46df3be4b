"""Service-model containers: what a node reports each slot and what a controller sends back.

These are the contract between the radio world (`e2_sim`), every policy (`xapps`) and the wire
codec. All world-level arrays carry the leading axes ``(B, K, ...)``: ``B`` worlds stepped at
once (1 in emulation) and ``K`` E2 nodes. ``U`` is the padded user axis of a node, ``S`` the
resource axis (subbands, subchannels or antenna sectors), ``T`` the transmitter axis (= ``K``).
A node's own view drops the ``(B, K)`` axes (`NodeReport`, `NodeControl`).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field, fields

import numpy as np

REPORT_ARRAYS: tuple[str, ...] = (
    "gain",
    "queue_bits",
    "queue_packets",
    "interference_w",
    "spectral_efficiency_bps_hz",
    "active",
    "user_pos_m",
    "node_pos_m",
)
CONTROL_ARRAYS: tuple[str, ...] = ("user", "power_w", "mask", "move_m")


@dataclass
class NodeReport:
    """One node's measurements for one slot (the payload of one RIC Indication).

    Shapes drop the ``(B, K)`` axes of `Reports`: ``gain`` is ``(U, S, T)``, ``queue_bits``
    ``(U,)`` and so on. ``extra`` holds node-specific fields of the world kind.
    """

    node_id: int
    slot: int
    gain: np.ndarray
    queue_bits: np.ndarray
    queue_packets: np.ndarray
    interference_w: np.ndarray
    spectral_efficiency_bps_hz: np.ndarray
    active: np.ndarray
    user_pos_m: np.ndarray
    node_pos_m: np.ndarray
    extra: dict[str, np.ndarray] = field(default_factory=dict)


@dataclass
class Reports:
    """Every node's report for one slot, for ``B`` worlds.

    Attributes
    ----------
    slot : int
        Slot index ``t`` the controls decided from these reports will apply to.
    gain : ndarray, float32, (B, K, U, S, T)
        Linear channel power gain from transmitter ``T`` to user ``U`` of node ``K`` on
        resource ``S`` (antenna gains included). One slot old unless the world runs with
        genie CSI.
    queue_bits : ndarray, float32, (B, K, U)
        Backlog of each user's queue after this slot's arrivals [bit].
    queue_packets : ndarray, float32, (B, K, U)
        Same backlog in packets (partially served head packet counts as one) [packet].
    interference_w : ndarray, float32, (B, K, U, S)
        Interference plus noise measured at each user on each resource last slot [W].
    spectral_efficiency_bps_hz : ndarray, float32, (B, K, U, S)
        Achieved spectral efficiency last slot, 0 where not served [bit/s/Hz].
    active : ndarray, bool, (B, K, U)
        Which user slots hold an active user.
    user_pos_m : ndarray, float32, (B, K, U, 3)
        User positions (x, y, z) [m].
    node_pos_m : ndarray, float32, (B, K, 3)
        Transmitter positions (x, y, z) [m].
    extra : dict of str to ndarray, each (B, K, ...)
        Fields specific to a world kind (documented by that world).
    """

    slot: int
    gain: np.ndarray
    queue_bits: np.ndarray
    queue_packets: np.ndarray
    interference_w: np.ndarray
    spectral_efficiency_bps_hz: np.ndarray
    active: np.ndarray
    user_pos_m: np.ndarray
    node_pos_m: np.ndarray
    extra: dict[str, np.ndarray] = field(default_factory=dict)

    @property
    def batch(self) -> int:
        return int(self.queue_bits.shape[0])

    @property
    def n_nodes(self) -> int:
        return int(self.queue_bits.shape[1])

    def node(self, k: int, b: int = 0) -> NodeReport:
        """Node ``k``'s view of world ``b`` (views, not copies)."""
        arrays = {name: getattr(self, name)[b, k] for name in REPORT_ARRAYS}
        extra = {name: value[b, k] for name, value in self.extra.items()}
        return NodeReport(node_id=k, slot=self.slot, extra=extra, **arrays)

    @classmethod
    def stack(cls, reports: Sequence[NodeReport]) -> Reports:
        """Assemble the reports of all ``K`` nodes (ordered by node id) into a ``B = 1`` batch."""
        if not reports:
            raise ValueError("no node reports to stack")
        ordered = sorted(reports, key=lambda r: r.node_id)
        arrays = {name: np.stack([getattr(r, name) for r in ordered])[None] for name in REPORT_ARRAYS}
        extra = {name: np.stack([r.extra[name] for r in ordered])[None] for name in ordered[0].extra}
        return cls(slot=ordered[0].slot, extra=extra, **arrays)


@dataclass
class NodeControl:
    """One node's control for one slot (the payload of one RIC Control Request).

    ``user`` is ``(S,)``, ``power_w`` ``(S,)``, ``mask`` ``(S,)``, ``move_m`` ``(3,)``.
    """

    node_id: int
    slot: int
    user: np.ndarray
    power_w: np.ndarray
    mask: np.ndarray
    move_m: np.ndarray
    extra: dict[str, np.ndarray] = field(default_factory=dict)


@dataclass
class Controls:
    """Every node's control for one slot, for ``B`` worlds.

    Attributes
    ----------
    user : ndarray, int16, (B, K, S)
        User slot (0..U-1) served on each resource, -1 = resource off.
    power_w : ndarray, float32, (B, K, S)
        Transmit power on each resource [W]; ignored where ``user`` is -1.
    mask : ndarray, bool, (B, K, S)
        Spectrum a node may use (set by higher tiers; all True when unconstrained).
    move_m : ndarray, float32, (B, K, 3)
        Displacement of a mobile node (UAV) this slot [m]; zero for fixed nodes.
    extra : dict of str to ndarray, each (B, K, ...)
        Fields specific to a world kind.
    """

    user: np.ndarray
    power_w: np.ndarray
    mask: np.ndarray
    move_m: np.ndarray
    extra: dict[str, np.ndarray] = field(default_factory=dict)

    @classmethod
    def off(cls, batch: int, n_nodes: int, n_resources: int) -> Controls:
        """All resources off, full mask, no moves."""
        return cls(
            user=np.full((batch, n_nodes, n_resources), -1, dtype=np.int16),
            power_w=np.zeros((batch, n_nodes, n_resources), dtype=np.float32),
            mask=np.ones((batch, n_nodes, n_resources), dtype=bool),
            move_m=np.zeros((batch, n_nodes, 3), dtype=np.float32),
        )

    @property
    def batch(self) -> int:
        return int(self.user.shape[0])

    def node(self, k: int, slot: int, b: int = 0) -> NodeControl:
        """Node ``k``'s control in world ``b`` (views, not copies)."""
        arrays = {name: getattr(self, name)[b, k] for name in CONTROL_ARRAYS}
        extra = {name: value[b, k] for name, value in self.extra.items()}
        return NodeControl(node_id=k, slot=slot, extra=extra, **arrays)

    @classmethod
    def stack(cls, controls: Sequence[NodeControl]) -> Controls:
        """Assemble per-node controls (one per node, ordered by id) into a ``B = 1`` batch."""
        ordered = sorted(controls, key=lambda c: c.node_id)
        arrays = {name: np.stack([getattr(c, name) for c in ordered])[None] for name in CONTROL_ARRAYS}
        extra = {name: np.stack([c.extra[name] for c in ordered])[None] for name in ordered[0].extra}
        return cls(extra=extra, **arrays)

    def copy(self) -> Controls:
        kwargs = {f.name: getattr(self, f.name).copy() for f in fields(self) if f.name != "extra"}
        return Controls(extra={k: v.copy() for k, v in self.extra.items()}, **kwargs)
