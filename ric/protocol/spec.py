"""Static description of an emulated world, as its E2 nodes announce it at E2 Setup.

A policy is built from a `WorldSpec` only (never from the world object), so the same policy can
run against the world directly or inside an xApp that learned the spec through E2 Setup.
"""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass, field
from typing import Any


@dataclass(frozen=True)
class NodeSpec:
    """One E2 node (one transmitter) of the world.

    Attributes
    ----------
    node_id : int
        Index of the node in every ``(B, K, ...)`` report/control array.
    name : str
        Stable identity, e.g. ``bs_3``, ``uav_0``, ``hap_1``, ``sat_0``.
    kind : str
        ``gnb`` (terrestrial base station / AP), ``uav``, ``hap`` or ``leo``.
    n_users : int
        Users this node serves (its slots on the padded user axis ``U``; the rest are masked).
    n_resources : int
        Resources it allocates per slot: subbands, subchannels or antenna sectors.
    max_power_dbm : float
        Maximum transmit power per resource [dBm].
    power_levels_dbm : tuple of float
        Discrete power levels a learned policy may pick [dBm] (``off`` is implicit).
    decision_interval_slots : int
        How often this node's controller decides [slots].
    """

    node_id: int
    name: str
    kind: str
    n_users: int
    n_resources: int
    max_power_dbm: float
    power_levels_dbm: tuple[float, ...] = ()
    decision_interval_slots: int = 1


@dataclass(frozen=True)
class WorldSpec:
    """What a controller knows about a world before the first slot.

    Attributes
    ----------
    scenario : str
        Preset or file name the world was built from (e.g. ``hex19``).
    world_kind : str
        Which world model interprets reports and controls: ``multicell``, ``conflict``,
        ``srb``, ``sag`` or ``cstn``.
    slot_s : float
        Physical slot duration used for rates and delays [s].
    n_users_max : int
        Padded user axis ``U`` of the report arrays.
    n_resources : int
        Resource axis ``S`` (subbands, subchannels or sectors).
    resource_bandwidth_hz : float
        Bandwidth of one resource [Hz].
    noise_dbm : float
        Noise power per resource at a receiver [dBm].
    nodes : tuple of NodeSpec
        The E2 nodes; ``len(nodes)`` is ``K`` and also the transmitter axis ``T``.
    static : dict
        World-kind specific constants a node may announce (neighbour lists, conflict graph,
        user-to-node association, ...). JSON-serialisable.
    """

    scenario: str
    world_kind: str
    slot_s: float
    n_users_max: int
    n_resources: int
    resource_bandwidth_hz: float
    noise_dbm: float
    nodes: tuple[NodeSpec, ...]
    static: dict[str, Any] = field(default_factory=dict)

    @property
    def n_nodes(self) -> int:
        return len(self.nodes)

    def to_json(self) -> str:
        return json.dumps(asdict(self), sort_keys=True)

    @classmethod
    def from_json(cls, text: str) -> WorldSpec:
        raw = json.loads(text)
        nodes = tuple(
            NodeSpec(**{**n, "power_levels_dbm": tuple(n.get("power_levels_dbm", ()))}) for n in raw["nodes"]
        )
        return cls(**{**raw, "nodes": nodes})
