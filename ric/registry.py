"""Who is connected: E2 nodes (set up by E2 agents) and xApps, with their links."""

from __future__ import annotations

import hashlib
import itertools
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from ric.protocol.codec import Layout
from ric.protocol.gen import e2ap_pb2
from ric.transport.base import Link

if TYPE_CHECKING:
    from prometheus_client import Counter

    from ric.subscriptions import XappSubscription


@dataclass(eq=False)
class RanFunctionEntry:
    """A RAN function a node offers, with the per-node layouts it announced."""

    ran_function_id: int
    proto: e2ap_pb2.RanFunction
    report_layout: Layout
    control_layout: Layout
    n_resources: int


@dataclass(eq=False)
class NodeEntry:
    """One E2 node: its identity, the link that hosts it and its slot clock.

    ``last_slot`` is the latest slot the node reported (-1 before its first indication and
    after a reset); a control for an earlier slot is stale.
    """

    name: str
    node_id: int
    kind: str
    link: Link
    agent_name: str
    world_id: str
    functions: dict[int, RanFunctionEntry]
    n_resources: int
    last_slot: int = -1
    miss_counter: Counter | None = None

    def info(self) -> e2ap_pb2.E2NodeInfo:
        """The node as xApps and operators see it."""
        return e2ap_pb2.E2NodeInfo(
            name=self.name,
            node_id=self.node_id,
            kind=self.kind,
            world_id=self.world_id,
            ran_functions=[f.proto for f in self.functions.values()],
            transport=self.link.transport,
            last_slot=self.last_slot,
            agent_name=self.agent_name,
        )


@dataclass(eq=False)
class XappEntry:
    """One registered xApp instance.

    ``models_announced`` turns true with its first model status (`ric.registry_models`);
    ``model_spec`` is then the spec models must match to run in it (None: it runs no models) and
    ``running_sha`` the hex sha256 of the model it runs ('' for none).
    """

    xapp_id: str
    name: str
    tier: int
    may_constrain: bool
    link: Link
    subscriptions: dict[int, XappSubscription] = field(default_factory=dict)
    models_announced: bool = False
    model_spec: dict[str, Any] | None = None
    running_sha: str = ""


def world_id_of(world_spec_json: str) -> str:
    """Short content id of a WorldSpec JSON ('' for none)."""
    if not world_spec_json:
        return ""
    return hashlib.sha256(world_spec_json.encode()).hexdigest()[:16]


class Registry:
    """E2 nodes by name and by link, xApps by link, and the world specs the nodes announced.

    ``generation`` changes whenever a node is added, moved or removed, so caches keyed on the
    node set (control plans) know when to rebuild.
    """

    def __init__(self) -> None:
        self.nodes: dict[str, NodeEntry] = {}
        self.by_link: dict[Link, dict[str, NodeEntry]] = {}
        self.xapps: dict[Link, XappEntry] = {}
        self.world_specs: dict[str, str] = {}
        self.generation = 0
        self._xapp_seq = itertools.count(1)

    # ------------------------------------------------------------------ nodes

    def add_node(self, node: NodeEntry, world_spec_json: str) -> NodeEntry | None:
        """Register ``node``; returns the entry it replaces (same name), if any."""
        old = self.nodes.get(node.name)
        if old is not None:
            self._unlink(old)
        self.nodes[node.name] = node
        self.by_link.setdefault(node.link, {})[node.name] = node
        if node.world_id:
            self.world_specs[node.world_id] = world_spec_json
        self.generation += 1
        return old

    def remove_node(self, name: str) -> NodeEntry | None:
        node = self.nodes.pop(name, None)
        if node is not None:
            self._unlink(node)
            self._prune_worlds()
            self.generation += 1
        return node

    def _unlink(self, node: NodeEntry) -> None:
        hosted = self.by_link.get(node.link)
        if hosted is not None and hosted.get(node.name) is node:
            del hosted[node.name]
            if not hosted:
                del self.by_link[node.link]

    def _prune_worlds(self) -> None:
        used = {n.world_id for n in self.nodes.values()}
        for world_id in [w for w in self.world_specs if w not in used]:
            del self.world_specs[world_id]

    def nodes_of(self, link: Link) -> dict[str, NodeEntry]:
        return self.by_link.get(link, {})

    def specs_for(self, nodes: list[NodeEntry]) -> dict[str, str]:
        return {n.world_id: self.world_specs[n.world_id] for n in nodes if n.world_id in self.world_specs}

    # ------------------------------------------------------------------ xApps

    def add_xapp(self, name: str, tier: int, may_constrain: bool, link: Link) -> XappEntry:
        entry = XappEntry(f"{name}-{next(self._xapp_seq)}", name, tier, may_constrain, link)
        self.xapps[link] = entry
        return entry

    def remove_xapp(self, link: Link) -> XappEntry | None:
        return self.xapps.pop(link, None)
