"""Scenario model of the conflict-graph scheduling world (``world = "conflict"``).

Zhang & Guo, "Multi-agent reinforcement learning for multi-cell spectrum and power allocation",
§II-B (conflict graph, eq. 3–4) and §IV (Fig. 2, 7, 8); authors' code
(github.com/yimingzhang2026/MARL-multicell, ``8device_conflict_graph_benchmarks/env.py``).
Agents (E2 nodes) each own a few devices; a directed edge i → j means that device i transmitting
on a subband breaks device j's transmission on the same subband (collision model).
"""

from __future__ import annotations

from typing import Literal

from pydantic import Field, ValidationInfo, field_validator

from e2_sim.scenarios.base import ScenarioBase, buffer_exceeds_qos_queue


class ConflictScenario(ScenarioBase):
    """Devices of a few agents on a directed conflict graph, one packet per clean subband per slot."""

    world: Literal["conflict"] = Field(description="World kind: conflict.")
    load_unit: str = Field(
        default="packets/slot per device", description="What --load means: Poisson arrivals per slot per device."
    )
    n_nodes: int = Field(gt=0, description="K: agents (E2 nodes bs_0 .. bs_{K-1}).")
    devices_per_node: int = Field(
        gt=0, description="U: devices of each agent; device d belongs to agent d // U as its local slot d % U."
    )
    n_subbands: int = Field(gt=0, description="S: subbands; each carries one packet per slot for a clean device.")
    conflict_edges_both_ways: tuple[tuple[int, int], ...] = Field(
        description="Device pairs (i, j) that break each other: edges i → j and j → i."
    )
    conflict_edges_one_way: tuple[tuple[int, int], ...] = Field(
        description="Directed edges (i, j): device i transmitting breaks device j, not the other way round."
    )
    neighbours: tuple[tuple[int, ...], ...] = Field(
        description="Agent neighbourhoods C(k) \\ {k}: the agents whose devices conflict with agent k's (paper §II-B)."
    )
    packet_bits: int = Field(gt=0, description="Size of one packet (one task) [bit].")
    subband_bandwidth_hz: float = Field(
        gt=0,
        description="Nominal subband bandwidth; packet_bits / (bandwidth · slot_s) is one packet's efficiency [Hz].",
    )
    nominal_power_dbm: float = Field(
        description="Power a node announces as its maximum; power only switches a subband on (> 0) [dBm]."
    )
    noise_dbm: float = Field(description="Announced noise power per subband; unused by the collision model [dBm].")
    buffer_packets: int = Field(
        ge=0, description="Queue capacity per device; arrivals beyond it are dropped; 0 = unbounded [packets]."
    )
    qos_max_queue_packets: int = Field(
        gt=0, description="A device violates QoS in a slot when its queue after service exceeds this [packets]."
    )
    device_positions_m: tuple[tuple[float, float], ...] = Field(
        description="Drawing positions (x, y) of the devices, for displays only [m]."
    )
    node_positions_m: tuple[tuple[float, float], ...] = Field(
        description="Drawing positions (x, y) of the agents' access points, for displays only [m]."
    )

    @property
    def n_devices(self) -> int:
        return self.n_nodes * self.devices_per_node

    @property
    def directed_edges(self) -> list[tuple[int, int]]:
        """Every directed conflict edge (i, j), sorted, without repeats."""
        edges = {(i, j) for i, j in self.conflict_edges_one_way}
        edges |= {(i, j) for i, j in self.conflict_edges_both_ways}
        edges |= {(j, i) for i, j in self.conflict_edges_both_ways}
        return sorted(edges)

    @field_validator("conflict_edges_both_ways", "conflict_edges_one_way")
    @classmethod
    def _edges_valid(cls, edges: tuple[tuple[int, int], ...], info: ValidationInfo) -> tuple[tuple[int, int], ...]:
        n_nodes, per_node = info.data.get("n_nodes"), info.data.get("devices_per_node")
        if n_nodes is None or per_node is None:
            return edges
        n = n_nodes * per_node
        for i, j in edges:
            if not (0 <= i < n and 0 <= j < n):
                raise ValueError(f"edge ({i}, {j}) names a device outside 0..{n - 1}")
            if i == j:
                raise ValueError(f"edge ({i}, {j}) is a self-loop")
        return edges

    @field_validator("neighbours")
    @classmethod
    def _neighbours_valid(cls, value: tuple[tuple[int, ...], ...], info: ValidationInfo) -> tuple[tuple[int, ...], ...]:
        n_nodes = info.data.get("n_nodes")
        if n_nodes is None:
            return value
        if len(value) != n_nodes:
            raise ValueError(f"needs one list per agent ({n_nodes}), got {len(value)}")
        for k, row in enumerate(value):
            if any(not 0 <= j < n_nodes or j == k for j in row):
                raise ValueError(f"agent {k}: neighbours {list(row)} must be other agents in 0..{n_nodes - 1}")
        return value

    _buffer_fits = field_validator("qos_max_queue_packets")(buffer_exceeds_qos_queue)

    @field_validator("device_positions_m")
    @classmethod
    def _one_position_per_device(
        cls, value: tuple[tuple[float, float], ...], info: ValidationInfo
    ) -> tuple[tuple[float, float], ...]:
        n_nodes, per_node = info.data.get("n_nodes"), info.data.get("devices_per_node")
        if n_nodes is not None and per_node is not None and len(value) != n_nodes * per_node:
            raise ValueError(f"needs one position per device ({n_nodes * per_node}), got {len(value)}")
        return value

    @field_validator("node_positions_m")
    @classmethod
    def _one_position_per_node(
        cls, value: tuple[tuple[float, float], ...], info: ValidationInfo
    ) -> tuple[tuple[float, float], ...]:
        n_nodes = info.data.get("n_nodes")
        if n_nodes is not None and len(value) != n_nodes:
            raise ValueError(f"needs one position per agent ({n_nodes}), got {len(value)}")
        return value
