"""Subscription manager: xApp subscriptions, merged into per-connection instances.

An xApp subscribes to nodes (or to every node, now and later) for a RAN function and a report
period. The RIC serves it with one *instance* per connection that hosts some of those nodes:
``(link, nodes, RAN function, period)``. Identical instances of several xApps are merged, so a
node reports once and the RIC fans the indication out. The node stacks an instance's nodes in
one indication per due slot. When nodes come, go, reset or move to another connection, the
manager reconciles every subscription against the registry: instances whose node set changed
are dropped and new ones opened (with new instance ids); an instance nobody uses any more is
deleted at the node.
"""

from __future__ import annotations

import itertools
from dataclasses import dataclass, field

from ric.protocol.gen import e2ap_pb2
from ric.registry import NodeEntry, Registry, XappEntry
from ric.transport.base import Link

CauseCode = e2ap_pb2.CauseCode
CauseT = tuple[CauseCode, str]
"""(cause code, detail)."""
Refusal = tuple[str, CauseCode, str]
"""(node name, cause code, detail)."""


@dataclass(eq=False)
class Instance:
    """One subscription instance at one connection.

    Attributes
    ----------
    instance_id : int
        RIC-wide id the node tags its indications with.
    link : Link
        The connection hosting ``nodes``.
    nodes : tuple of NodeEntry
        Stacking order of the instance's reports (world node id order).
    active : bool
        The node admitted it.
    dests : tuple of Link
        xApp links its indications go to (interned: equal tuples are the same object).
    """

    instance_id: int
    link: Link
    nodes: tuple[NodeEntry, ...]
    names: tuple[str, ...]
    ran_function_id: int
    period_slots: int
    created_ns: int
    active: bool = False
    subscribers: dict[XappSubscription, None] = field(default_factory=dict)
    dests: tuple[Link, ...] = ()

    @property
    def key(self) -> tuple[Link, tuple[str, ...], int, int]:
        return (self.link, self.names, self.ran_function_id, self.period_slots)

    def info(self) -> dict[str, object]:
        return {
            "instance_id": self.instance_id,
            "nodes": list(self.names),
            "ran_function_id": self.ran_function_id,
            "period_slots": self.period_slots,
            "state": "active" if self.active else "pending",
            "xapps": sorted({s.xapp.xapp_id for s in self.subscribers}),
        }


@dataclass(eq=False)
class XappSubscription:
    """What one xApp asked for (kept across node restarts until the xApp deletes it or leaves).

    ``pending_answer`` is True until the xApp got the answer to its request; ``waiting`` holds
    the instances that answer still waits for.
    """

    xapp: XappEntry
    requestor_id: int
    ran_function_id: int
    period_slots: int
    all_nodes: bool
    nodes: set[str]
    txn: int
    excluded: set[str] = field(default_factory=set)
    instances: dict[Link, Instance] = field(default_factory=dict)
    blocked: dict[str, CauseT] = field(default_factory=dict)
    pending_answer: bool = True
    waiting: set[Instance] = field(default_factory=set)
    refusals: list[Refusal] = field(default_factory=list)

    def admitted_items(self) -> list[e2ap_pb2.SubscriptionItem]:
        return [
            e2ap_pb2.SubscriptionItem(node=name, instance_id=inst.instance_id)
            for inst in self.instances.values()
            if inst.active
            for name in inst.names
        ]


@dataclass
class Reconciled:
    """What a reconciliation changed (the core turns it into messages)."""

    created: list[Instance] = field(default_factory=list)
    attached_active: list[tuple[XappSubscription, Instance]] = field(default_factory=list)
    emptied: list[Instance] = field(default_factory=list)
    refusals: list[tuple[XappSubscription, Refusal]] = field(default_factory=list)


class SubscriptionManager:
    """Instances by id and by key, and the reconciliation of xApp subscriptions."""

    def __init__(self, registry: Registry) -> None:
        self._registry = registry
        self.instances: dict[int, Instance] = {}
        self._by_key: dict[tuple[Link, tuple[str, ...], int, int], Instance] = {}
        self._ids = itertools.count(1)
        self._dests: dict[tuple[Link, ...], tuple[Link, ...]] = {}

    # ------------------------------------------------------------------ bookkeeping

    def _intern(self, dests: tuple[Link, ...]) -> tuple[Link, ...]:
        return self._dests.setdefault(dests, dests)

    def _refresh_dests(self, inst: Instance) -> None:
        links = tuple(dict.fromkeys(s.xapp.link for s in inst.subscribers))
        inst.dests = self._intern(links)

    def _remove(self, inst: Instance) -> None:
        self.instances.pop(inst.instance_id, None)
        if self._by_key.get(inst.key) is inst:
            del self._by_key[inst.key]

    def _detach(self, xsub: XappSubscription, inst: Instance) -> bool:
        """Detach ``xsub`` from ``inst``; True when the instance became unused (and was removed)."""
        if xsub.instances.get(inst.link) is inst:
            del xsub.instances[inst.link]
        xsub.waiting.discard(inst)
        inst.subscribers.pop(xsub, None)
        self._refresh_dests(inst)
        if not inst.subscribers:
            self._remove(inst)
            return True
        return False

    # ------------------------------------------------------------------ reconciliation

    def targets(self, xsub: XappSubscription) -> tuple[dict[Link, tuple[NodeEntry, ...]], list[Refusal]]:
        """The nodes ``xsub`` should get now, grouped by hosting link, and the nodes it cannot get."""
        registry = self._registry
        names = registry.nodes.keys() if xsub.all_nodes else xsub.nodes
        groups: dict[Link, list[NodeEntry]] = {}
        refusals: list[Refusal] = []
        for name in names:
            if name in xsub.excluded or name in xsub.blocked:
                continue
            node = registry.nodes.get(name)
            if node is None:
                refusals.append((name, e2ap_pb2.CAUSE_UNKNOWN_NODE, f"no E2 node {name!r} is set up"))
                continue
            if xsub.ran_function_id not in node.functions:
                refusals.append((name, e2ap_pb2.CAUSE_UNKNOWN_RAN_FUNCTION,
                                 f"node {name!r} has no RAN function {xsub.ran_function_id}"))
                continue
            groups.setdefault(node.link, []).append(node)
        ordered = {link: tuple(sorted(nodes, key=lambda n: (n.node_id, n.name))) for link, nodes in groups.items()}
        return ordered, refusals

    def reconcile(self, xsub: XappSubscription, now_ns: int, result: Reconciled | None = None) -> Reconciled:
        """Bring ``xsub``'s instances in line with the registry."""
        out = result if result is not None else Reconciled()
        groups, refusals = self.targets(xsub)
        out.refusals += [(xsub, r) for r in refusals]
        for link, inst in list(xsub.instances.items()):
            want = groups.get(link)
            alive = self.instances.get(inst.instance_id) is inst
            changed = not alive or want is None or tuple(n.name for n in want) != inst.names
            if changed and self._detach(xsub, inst) and alive:
                out.emptied.append(inst)
        for link, nodes in groups.items():
            if link in xsub.instances:
                continue
            names = tuple(n.name for n in nodes)
            key = (link, names, xsub.ran_function_id, xsub.period_slots)
            found = self._by_key.get(key)
            if found is not None:
                inst = found
            else:
                inst = Instance(next(self._ids), link, nodes, names, xsub.ran_function_id, xsub.period_slots, now_ns)
                self.instances[inst.instance_id] = inst
                self._by_key[key] = inst
                out.created.append(inst)
            inst.subscribers[xsub] = None
            xsub.instances[link] = inst
            self._refresh_dests(inst)
            if inst.active:
                out.attached_active.append((xsub, inst))
            elif xsub.pending_answer:
                xsub.waiting.add(inst)
        return out

    def remove_subscription(self, xsub: XappSubscription) -> list[Instance]:
        """Detach ``xsub`` from everything; returns the instances nobody uses any more."""
        emptied = [inst for inst in list(xsub.instances.values()) if self._detach(xsub, inst)]
        xsub.waiting.clear()
        return emptied

    def drop_nodes(self, names: set[str]) -> list[Instance]:
        """Remove every instance that contains one of ``names`` (node gone, reset or moved)."""
        dropped = [inst for inst in self.instances.values() if names.intersection(inst.names)]
        for inst in dropped:
            self._remove(inst)
            for xsub in list(inst.subscribers):
                if xsub.instances.get(inst.link) is inst:
                    del xsub.instances[inst.link]
                xsub.waiting.discard(inst)
        return dropped

    def activate(self, instance_id: int, link: Link) -> Instance | None:
        inst = self.instances.get(instance_id)
        if inst is None or inst.link is not link:
            return None
        inst.active = True
        return inst

    def fail(self, instance_id: int, link: Link, cause: CauseT) -> Instance | None:
        """The node refused (or did not answer) ``instance_id``: drop it, block its nodes for its subscribers."""
        inst = self.instances.get(instance_id)
        if inst is None or inst.link is not link:
            return None
        self._remove(inst)
        for xsub in list(inst.subscribers):
            if xsub.instances.get(inst.link) is inst:
                del xsub.instances[inst.link]
            for name in inst.names:
                xsub.blocked[name] = cause
        return inst

    def expired(self, now_ns: int, timeout_ns: int) -> list[Instance]:
        return [i for i in self.instances.values() if not i.active and now_ns - i.created_ns > timeout_ns]

    def unblock(self, names: set[str], subscriptions: list[XappSubscription]) -> None:
        """Nodes set up again or reset: subscriptions may try them again."""
        for xsub in subscriptions:
            for name in names:
                xsub.blocked.pop(name, None)
