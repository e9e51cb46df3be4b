"""The RIC core: E2 termination, xApp termination, subscriptions, routing and the control path.

`RicCore` is a `LinkHandler`: transports hand it whole envelopes (bytes) with the receive time,
and it answers through `Link.send`. It never blocks and never raises into a transport: a
message that does not decode, comes from the wrong side or arrives in the wrong state gets an
Error Indication with a cause, and a failure inside the RIC is counted and answered with
``CAUSE_INTERNAL``.

Per-slot paths:

- Indication: parse, find the subscription instance, check it belongs to the sending link,
  advance the nodes' slot clocks, count reported misses, then forward. The report payload is not
  unpacked: when the envelope holds only fields both envelopes know, the RIC forwards the
  received bytes with the hop timestamps appended (a protobuf merge), otherwise it re-encodes.
- Control: parse, resolve the node list to a cached plan (nodes, hosting links, expected
  layout), check the layout and size of the stacked control in O(1), the slot against each
  node's clock, and the per-node constraints; forward the whole request when every node passes
  and one link hosts them all (again by appending to the received bytes), otherwise split it and
  refuse the rest with per-node causes.
"""

from __future__ import annotations

import logging
import time
from collections import OrderedDict
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import numpy as np
from google.protobuf import unknown_fields
from google.protobuf.message import DecodeError

from ric.config import RicConfig
from ric.constraints import ConstraintStore, violating_rows
from ric.logs import LOGGER_NAME, log
from ric.metrics import RicMetrics
from ric.protocol.codec import (
    SLOT_RAN_FUNCTION_ID,
    SLOT_SM_NAME,
    CodecError,
    Layout,
    ShapeError,
    check_control,
    function_layouts,
    select_nodes,
)
from ric.protocol.gen import e2ap_pb2
from ric.protocol.spec import WorldSpec
from ric.registry import NodeEntry, RanFunctionEntry, Registry, XappEntry, world_id_of
from ric.registry_models import ModelRegistry
from ric.subscriptions import (
    CauseCode,
    CauseT,
    Instance,
    Reconciled,
    Refusal,
    SubscriptionManager,
    XappSubscription,
)
from ric.transport.base import Link, LinkKind

_log = logging.getLogger(LOGGER_NAME)

E2Pdu = e2ap_pb2.E2Pdu
XappPdu = e2ap_pb2.XappPdu
Cause = e2ap_pb2.Cause
_CAUSE_NAMES = {v: k.removeprefix("CAUSE_").lower() for k, v in e2ap_pb2.CauseCode.items()}
_PENDING_CONTROLS_MAX = 4096
_UnknownFieldSet = unknown_fields.UnknownFieldSet


def cause_name(code: int) -> str:
    """Lower-case name of a cause code (``stale_slot``)."""
    return _CAUSE_NAMES.get(code, str(code))


def _has_unknown_fields(msg: Any) -> bool:
    return len(_UnknownFieldSet(msg)) > 0


@dataclass(eq=False)
class ControlPlan:
    """A control request's node list resolved against the registry (cached per node list)."""

    names: tuple[str, ...]
    nodes: tuple[NodeEntry | None, ...]
    node_ids: list[int]
    link: Link | None  # the one link hosting every node, if there is one
    layout: Layout | None  # the per-node control layout every known node shares, if any
    stacked_nbytes: int
    problems: dict[int, CauseT]  # row -> (cause, detail) found while resolving


class RicCore:
    """State and procedures of one RIC (see module docstring).

    Parameters
    ----------
    config : RicConfig
        Name, timeouts and constraint authorisation.
    metrics : RicMetrics
        Where to count.
    clock : callable
        Monotonic clock [ns].
    """

    def __init__(self, config: RicConfig, metrics: RicMetrics, clock: Callable[[], int] = time.monotonic_ns) -> None:
        self.config = config
        self.metrics = metrics
        self.clock = clock
        self.registry = Registry()
        self.subs = SubscriptionManager(self.registry)
        self.constraints = ConstraintStore()
        self.models = ModelRegistry(config, self.registry, metrics)
        self.links: set[Link] = set()
        self.started_ns = clock()
        self._txn = 0
        self._pending_controls: OrderedDict[int, tuple[Link, int]] = OrderedDict()
        self._plans: dict[tuple[tuple[str, ...], int], ControlPlan] = {}
        self._plans_generation = -1
        self._allowed_cache: dict[tuple[int, int, int], np.ndarray | None] = {}
        self._keepalive = {
            "e2": E2Pdu(slot=-1, keepalive=e2ap_pb2.Keepalive()).SerializeToString(),
            "xapp": XappPdu(slot=-1, keepalive=e2ap_pb2.Keepalive()).SerializeToString(),
        }
        self._malformed_seen: set[Link] = set()
        self.closing = False
        self._e2_handlers: dict[str, Callable[[Link, e2ap_pb2.E2Pdu, int], None]] = {
            "setup_request": self._e2_setup,
            "subscription_response": self._e2_subscription_response,
            "subscription_failure": self._e2_subscription_failure,
            "subscription_delete_response": self._e2_ignore,
            "subscription_delete_failure": self._e2_ignore,
            "control_ack": self._e2_control_outcome,
            "control_failure": self._e2_control_outcome,
            "error_indication": self._e2_error_indication,
            "reset_request": self._e2_reset,
            "reset_response": self._e2_ignore,
            "removal_request": self._e2_removal,
            "keepalive": self._e2_ignore,
        }
        self._x_handlers: dict[str, Callable[[Link, e2ap_pb2.XappPdu, int], None]] = {
            "register_request": self._x_register,
            "deregister_request": self._x_deregister,
            "subscription_request": self._x_subscribe,
            "subscription_delete_request": self._x_unsubscribe,
            "constraint_update": self._x_constraints,
            "error_indication": self._x_error_indication,
            "keepalive": self._x_keepalive,
            "model_status": self._x_model_status,
            "model_activated": self._x_model_activated,
            "model_load_failed": self._x_model_load_failed,
        }

    # ================================================================== LinkHandler

    def link_opened(self, link: Link) -> None:
        self.links.add(link)
        self.metrics.links.labels(link.kind).inc()
        log(_log, logging.DEBUG, "link_opened", link=link.link_id)

    def link_closed(self, link: Link) -> None:
        if link not in self.links:
            return
        self.links.discard(link)
        self._malformed_seen.discard(link)
        self.metrics.links.labels(link.kind).dec()
        try:
            if link.kind == "e2":
                names = list(self.registry.nodes_of(link))
                if names:
                    log(_log, logging.DEBUG if self.closing else logging.WARNING, "e2_link_lost",
                        link=link.link_id, nodes=",".join(names))
                    self._remove_nodes(link, names, event=e2ap_pb2.NodeUpdate.EVENT_REMOVED)
            else:
                xapp = self.registry.xapps.get(link)
                if xapp is not None:
                    log(_log, logging.DEBUG if self.closing else logging.WARNING, "xapp_link_lost",
                        xapp=xapp.xapp_id, link=link.link_id)
                    self._drop_xapp(link)
        except Exception:
            self.metrics.internal_errors.inc()
            _log.exception("link_closed_failed")

    def keepalive(self, kind: LinkKind) -> bytes:
        return self._keepalive[kind]

    def link_message(self, link: Link, data: bytes, t_in_ns: int) -> None:
        try:
            if link.kind == "e2":
                self._on_e2(link, data, t_in_ns)
            else:
                self._on_xapp(link, data, t_in_ns)
        except Exception:
            self.metrics.internal_errors.inc()
            _log.exception("internal_error link=%s", link.link_id)
            self._error(link, e2ap_pb2.CAUSE_INTERNAL, "the RIC failed to handle this message")

    # ================================================================== E2 side

    def _on_e2(self, link: Link, data: bytes, t_in: int) -> None:
        self.metrics.messages_by_link[("e2", link.transport)].inc()
        try:
            pdu = E2Pdu.FromString(data)
        except DecodeError:
            self._malformed(link, "undecodable", e2ap_pb2.CAUSE_MALFORMED_MESSAGE, "bytes do not decode as an E2Pdu")
            return
        which = pdu.WhichOneof("procedure")
        if which == "indication":
            self._e2_indication(link, pdu, data, t_in)
            return
        handler = self._e2_handlers.get(which) if which is not None else None
        if handler is None:
            if which is None:
                self._malformed(link, "no_procedure", e2ap_pb2.CAUSE_INVALID_VALUE, "E2Pdu carries no procedure",
                                pdu.transaction_id)
            else:
                self._malformed(link, "unexpected", e2ap_pb2.CAUSE_UNEXPECTED_MESSAGE,
                                f"{which} is not sent by an E2 node", pdu.transaction_id, which)
            return
        if which not in ("setup_request", "keepalive", "error_indication") and not self.registry.nodes_of(link):
            self._malformed(link, "not_set_up", e2ap_pb2.CAUSE_NOT_REGISTERED,
                            f"{which} before E2 Setup", pdu.transaction_id, which)
            return
        handler(link, pdu, t_in)

    # ------------------------------------------------------------------ indication (hot path)

    def _e2_indication(self, link: Link, pdu: e2ap_pb2.E2Pdu, data: bytes, t_in: int) -> None:
        m = self.metrics
        ind = pdu.indication
        inst = self.subs.instances.get(ind.instance_id)
        if inst is None or inst.link is not link:
            m.indications_unrouted.inc()
            if not self.registry.nodes_of(link):
                self._malformed(link, "not_set_up", e2ap_pb2.CAUSE_NOT_REGISTERED, "indication before E2 Setup",
                                pdu.transaction_id, "indication")
                return
            self._error(link, e2ap_pb2.CAUSE_UNKNOWN_SUBSCRIPTION,
                        f"no subscription instance {ind.instance_id} on this connection",
                        pdu.transaction_id, "indication", slot=pdu.slot)
            return
        n_nodes = len(inst.nodes)
        if len(ind.nodes) != n_nodes:
            m.indications_unrouted.inc()
            self._error(link, e2ap_pb2.CAUSE_INVALID_VALUE,
                        f"instance {inst.instance_id} has {n_nodes} nodes, indication names {len(ind.nodes)}",
                        pdu.transaction_id, "indication", slot=pdu.slot)
            return
        slot = pdu.slot
        for node in inst.nodes:
            node.last_slot = slot
        misses = ind.deadline_misses
        if misses:
            for node, missed in zip(inst.nodes, misses, strict=False):
                if missed and node.miss_counter is not None:
                    node.miss_counter.inc(missed)
        m.indications.inc()
        m.indication_nodes.inc(n_nodes)
        sent = pdu.t.node_sent
        if sent:
            m.in_indication.observe(max(0, t_in - sent) * 1e-9)
        dests = inst.dests
        if not dests:
            return
        now = self.clock()
        if not _has_unknown_fields(pdu):
            out = data + XappPdu(t=e2ap_pb2.HopTimes(ric_in=t_in, ric_out=now)).SerializeToString()
        else:
            xpdu = XappPdu(slot=slot, t=pdu.t, indication=ind)
            xpdu.t.ric_in = t_in
            xpdu.t.ric_out = now
            out = xpdu.SerializeToString()
        for dest in dests:
            dest.send(out)
        m.indications_routed.inc(len(dests))
        m.hot_indication.observe((self.clock() - t_in) * 1e-9)

    # ------------------------------------------------------------------ E2 Setup

    def _e2_setup(self, link: Link, pdu: e2ap_pb2.E2Pdu, t_in: int) -> None:
        req = pdu.setup_request
        txn = pdu.transaction_id
        world_json = req.world_spec_json
        spec: WorldSpec | None = None
        if world_json:
            try:
                spec = WorldSpec.from_json(world_json)
            except (ValueError, KeyError, TypeError) as exc:
                self._setup_failure(link, txn, e2ap_pb2.CAUSE_INVALID_VALUE, f"world_spec_json does not parse: {exc}")
                return
        if not req.nodes:
            self._setup_failure(link, txn, e2ap_pb2.CAUSE_INVALID_VALUE, "E2 Setup names no node")
            return
        world_id = world_id_of(world_json)
        spec_nodes = {n.name: n for n in spec.nodes} if spec is not None else {}
        accepted: list[NodeEntry] = []
        refused: list[e2ap_pb2.ItemRefusal] = []
        seen: set[str] = set()
        for item in req.nodes:
            problem = self._check_node_item(item, spec, spec_nodes, seen)
            seen.add(item.name)
            if isinstance(problem, tuple):
                code, detail = problem
                refused.append(e2ap_pb2.ItemRefusal(node=item.name, cause=Cause(code=code, detail=detail)))
                self.metrics.setups.labels("refused").inc()
                log(_log, logging.WARNING, "e2_setup_refused", node=item.name, cause=cause_name(code), detail=detail)
                continue
            functions = problem
            n_resources = next(iter(functions.values())).n_resources
            accepted.append(NodeEntry(item.name, item.node_id, item.kind, link, req.agent_name, world_id,
                                      functions, n_resources, miss_counter=self.metrics.misses.labels(item.name)))
        if not accepted:
            first = refused[0].cause
            self._setup_failure(link, txn, first.code, first.detail, refused)
            return
        # nodes set up again (restart, or moved to this connection) lose their old state first
        again = [n.name for n in accepted if n.name in self.registry.nodes]
        if again:
            self._forget_nodes(set(again), covered_link=link)
        for node in accepted:
            old = self.registry.add_node(node, world_json)
            if old is not None:
                log(_log, logging.INFO, "e2_setup_again", node=node.name, old_link=old.link.link_id,
                    link=link.link_id)
            self.constraints.clear_node(node.name)
            self.metrics.setups.labels("accepted").inc()
        self._update_gauges()
        response = E2Pdu(transaction_id=txn, slot=pdu.slot, setup_response=e2ap_pb2.E2SetupResponse(
            ric_name=self.config.name, accepted=[n.name for n in accepted], refused=refused))
        link.send(response.SerializeToString())
        log(_log, logging.INFO, "e2_setup", link=link.link_id, agent=req.agent_name,
            nodes=",".join(n.name for n in accepted), refused=len(refused) or None)
        self._notify_nodes(e2ap_pb2.NodeUpdate.EVENT_ADDED, accepted)
        names = {n.name for n in accepted}
        self.subs.unblock(names, self._all_subscriptions())
        self._reconcile_all()

    def _check_node_item(
        self,
        item: e2ap_pb2.E2NodeItem,
        spec: WorldSpec | None,
        spec_nodes: dict[str, Any],
        seen: set[str],
    ) -> CauseT | dict[int, RanFunctionEntry]:
        if not item.name:
            return e2ap_pb2.CAUSE_INVALID_VALUE, "node name is empty"
        if item.name in seen:
            return e2ap_pb2.CAUSE_DUPLICATE, f"node {item.name!r} appears twice in this E2 Setup"
        if spec is not None:
            declared = spec_nodes.get(item.name)
            if declared is None:
                return e2ap_pb2.CAUSE_INVALID_VALUE, f"node {item.name!r} is not in the world spec"
            if declared.node_id != item.node_id or declared.kind != item.kind:
                return e2ap_pb2.CAUSE_INVALID_VALUE, (
                    f"node {item.name!r} says id {item.node_id} kind {item.kind!r}, world spec says "
                    f"id {declared.node_id} kind {declared.kind!r}")
        functions: dict[int, RanFunctionEntry] = {}
        problems: list[str] = []
        for fn in item.ran_functions:
            if fn.ran_function_id in functions:
                problems.append(f"RAN function {fn.ran_function_id} repeated")
                continue
            if fn.sm_name != SLOT_SM_NAME:
                problems.append(f"service model {fn.sm_name!r} is not supported")
                continue
            try:
                report, control = function_layouts(fn)
            except CodecError as exc:
                problems.append(f"RAN function {fn.ran_function_id}: {exc}")
                continue
            n_resources = control.specs[0].shape[0]
            functions[fn.ran_function_id] = RanFunctionEntry(fn.ran_function_id, fn, report, control, n_resources)
        if not functions:
            detail = "; ".join(problems) or "no RAN function offered"
            code = e2ap_pb2.CAUSE_UNKNOWN_RAN_FUNCTION if not problems or "supported" in detail else (
                e2ap_pb2.CAUSE_INVALID_VALUE)
            return code, detail
        return functions

    def _setup_failure(self, link: Link, txn: int, code: CauseCode, detail: str,
                       refused: list[e2ap_pb2.ItemRefusal] | None = None) -> None:
        self.metrics.setups.labels("failure").inc()
        out = E2Pdu(transaction_id=txn, slot=-1, setup_failure=e2ap_pb2.E2SetupFailure(
            cause=Cause(code=code, detail=detail), refused=refused or []))
        link.send(out.SerializeToString())
        log(_log, logging.WARNING, "e2_setup_failure", link=link.link_id, cause=cause_name(code), detail=detail)

    # ------------------------------------------------------------------ Reset / Removal

    def _named_nodes(self, link: Link, names: list[str]) -> tuple[list[str], list[e2ap_pb2.ItemRefusal]]:
        hosted = self.registry.nodes_of(link)
        if not names:
            return list(hosted), []
        ok = [n for n in names if n in hosted]
        bad = [e2ap_pb2.ItemRefusal(node=n, cause=Cause(code=e2ap_pb2.CAUSE_UNKNOWN_NODE,
                                                         detail=f"node {n!r} is not set up on this connection"))
               for n in names if n not in hosted]
        return ok, bad

    def _e2_reset(self, link: Link, pdu: e2ap_pb2.E2Pdu, t_in: int) -> None:
        names, bad = self._named_nodes(link, list(pdu.reset_request.nodes))
        if bad:
            self._error(link, bad[0].cause.code, bad[0].cause.detail, pdu.transaction_id, "reset_request",
                        node=bad[0].node)
        nodes = [self.registry.nodes[n] for n in names]
        self._forget_nodes(set(names), covered_link=link)
        for node in nodes:
            node.last_slot = -1
            self.constraints.clear_node(node.name)
        self.registry.generation += 1
        self.metrics.resets.inc(len(nodes))
        out = E2Pdu(transaction_id=pdu.transaction_id, slot=pdu.slot,
                    reset_response=e2ap_pb2.ResetResponse(nodes=names))
        link.send(out.SerializeToString())
        log(_log, logging.INFO, "e2_reset", link=link.link_id, nodes=",".join(names),
            cause=cause_name(pdu.reset_request.cause.code))
        self._notify_nodes(e2ap_pb2.NodeUpdate.EVENT_RESET, nodes)
        self.subs.unblock(set(names), self._all_subscriptions())
        self._reconcile_all()

    def _e2_removal(self, link: Link, pdu: e2ap_pb2.E2Pdu, t_in: int) -> None:
        names, bad = self._named_nodes(link, list(pdu.removal_request.nodes))
        if bad:
            self._error(link, bad[0].cause.code, bad[0].cause.detail, pdu.transaction_id, "removal_request",
                        node=bad[0].node)
        out = E2Pdu(transaction_id=pdu.transaction_id, slot=pdu.slot,
                    removal_response=e2ap_pb2.E2RemovalResponse(nodes=names))
        link.send(out.SerializeToString())
        log(_log, logging.INFO, "e2_removal", link=link.link_id, nodes=",".join(names))
        self._remove_nodes(link, names, event=e2ap_pb2.NodeUpdate.EVENT_REMOVED)

    def _remove_nodes(self, link: Link, names: list[str], event: int) -> None:
        nodes = [self.registry.nodes[n] for n in names if n in self.registry.nodes]
        self._forget_nodes(set(names), covered_link=link)
        for node in nodes:
            self.registry.remove_node(node.name)
            self.constraints.clear_node(node.name)
        self._update_gauges()
        self._notify_nodes(event, nodes)
        self._reconcile_all()

    def _forget_nodes(self, names: set[str], covered_link: Link) -> None:
        """Drop the instances holding ``names``; tell connections that still serve other nodes of them."""
        for inst in self.subs.drop_nodes(names):
            if inst.link.open and not (inst.link is covered_link and names.issuperset(inst.names)):
                self._send_delete(inst)

    # ------------------------------------------------------------------ subscriptions (node side)

    def _send_subscription(self, inst: Instance) -> None:
        txn = self._next_txn()
        out = E2Pdu(transaction_id=txn, slot=-1, subscription_request=e2ap_pb2.RicSubscriptionRequest(
            instance_id=inst.instance_id, ran_function_id=inst.ran_function_id,
            trigger=e2ap_pb2.EventTrigger(period_slots=inst.period_slots), nodes=inst.names))
        inst.link.send(out.SerializeToString())
        self.metrics.subscription_events.labels("e2_request").inc()

    def _send_delete(self, inst: Instance) -> None:
        out = E2Pdu(transaction_id=self._next_txn(), slot=-1,
                    subscription_delete_request=e2ap_pb2.RicSubscriptionDeleteRequest(instance_id=inst.instance_id))
        inst.link.send(out.SerializeToString())
        self.metrics.subscription_events.labels("e2_delete").inc()

    def _e2_subscription_response(self, link: Link, pdu: e2ap_pb2.E2Pdu, t_in: int) -> None:
        resp = pdu.subscription_response
        inst = self.subs.activate(resp.instance_id, link)
        if inst is None:
            self._error(link, e2ap_pb2.CAUSE_UNKNOWN_SUBSCRIPTION, f"no pending instance {resp.instance_id}",
                        pdu.transaction_id, "subscription_response")
            return
        self.metrics.subscription_events.labels("e2_admitted").inc()
        for xsub in list(inst.subscribers):
            if xsub.pending_answer:
                self._resolve_waiting(xsub, inst, refusal=None)
            else:
                self._send_admitted(xsub, inst)

    def _e2_subscription_failure(self, link: Link, pdu: e2ap_pb2.E2Pdu, t_in: int) -> None:
        fail = pdu.subscription_failure
        cause = (fail.cause.code or e2ap_pb2.CAUSE_UNSPECIFIED, fail.cause.detail or "refused by the node")
        self._instance_failed(link, fail.instance_id, cause, pdu.transaction_id)

    def _instance_failed(self, link: Link, instance_id: int, cause: CauseT, txn: int = 0) -> None:
        inst = self.subs.fail(instance_id, link, cause)
        if inst is None:
            self._error(link, e2ap_pb2.CAUSE_UNKNOWN_SUBSCRIPTION, f"no pending instance {instance_id}", txn,
                        "subscription_failure")
            return
        self.metrics.subscription_events.labels("e2_refused").inc()
        log(_log, logging.WARNING, "subscription_refused", instance=instance_id, nodes=",".join(inst.names),
            cause=cause_name(cause[0]), detail=cause[1])
        for xsub in list(inst.subscribers):
            refusals = [(name, cause[0], cause[1]) for name in inst.names]
            if xsub.pending_answer:
                xsub.refusals += refusals
                self._resolve_waiting(xsub, inst, refusal=None)
            else:
                self._send_refused(xsub, refusals)

    # ------------------------------------------------------------------ control outcome from nodes

    def _e2_control_outcome(self, link: Link, pdu: e2ap_pb2.E2Pdu, t_in: int) -> None:
        route = self._pending_controls.get(pdu.transaction_id)
        which = pdu.WhichOneof("procedure")
        if which == "control_failure":
            for item in pdu.control_failure.refused:
                self.metrics.refusals.labels(cause_name(item.cause.code)).inc()
        if route is None:
            return  # the xApp's request is too old or the xApp left
        xlink, xtxn = route
        if not xlink.open:
            return
        out = XappPdu(transaction_id=xtxn, slot=pdu.slot, t=pdu.t)
        if which == "control_ack":
            out.control_ack.CopyFrom(pdu.control_ack)
        else:
            out.control_failure.CopyFrom(pdu.control_failure)
        xlink.send(out.SerializeToString())

    def _e2_error_indication(self, link: Link, pdu: e2ap_pb2.E2Pdu, t_in: int) -> None:
        err = pdu.error_indication
        self.metrics.error_indications.labels("received", cause_name(err.cause.code)).inc()
        log(_log, logging.WARNING, "error_indication_received", link=link.link_id, cause=cause_name(err.cause.code),
            detail=err.cause.detail, procedure=err.procedure or None, node=err.node or None)

    def _e2_ignore(self, link: Link, pdu: e2ap_pb2.E2Pdu, t_in: int) -> None:
        return

    # ================================================================== xApp side

    def _on_xapp(self, link: Link, data: bytes, t_in: int) -> None:
        self.metrics.messages_by_link[("xapp", link.transport)].inc()
        try:
            pdu = XappPdu.FromString(data)
        except DecodeError:
            self._malformed(link, "undecodable", e2ap_pb2.CAUSE_MALFORMED_MESSAGE, "bytes do not decode as an XappPdu")
            return
        which = pdu.WhichOneof("procedure")
        if which == "control_request":
            self._x_control(link, pdu, data, t_in)
            return
        handler = self._x_handlers.get(which) if which is not None else None
        if handler is None:
            if which is None:
                self._malformed(link, "no_procedure", e2ap_pb2.CAUSE_INVALID_VALUE, "XappPdu carries no procedure",
                                pdu.transaction_id)
            else:
                self._malformed(link, "unexpected", e2ap_pb2.CAUSE_UNEXPECTED_MESSAGE,
                                f"{which} is not sent by an xApp", pdu.transaction_id, which)
            return
        if which not in ("register_request", "keepalive", "error_indication") and link not in self.registry.xapps:
            self._malformed(link, "not_registered", e2ap_pb2.CAUSE_NOT_REGISTERED,
                            f"{which} before xApp registration", pdu.transaction_id, which)
            return
        handler(link, pdu, t_in)

    # ------------------------------------------------------------------ registration

    def _x_register(self, link: Link, pdu: e2ap_pb2.XappPdu, t_in: int) -> None:
        req = pdu.register_request
        if not req.name:
            out = XappPdu(transaction_id=pdu.transaction_id, slot=-1, register_failure=e2ap_pb2.XappRegisterFailure(
                cause=Cause(code=e2ap_pb2.CAUSE_INVALID_VALUE, detail="xApp name is empty")))
            link.send(out.SerializeToString())
            return
        if link in self.registry.xapps:
            self._drop_xapp(link)  # registering again on the same connection starts afresh
        allowed = self.config.constraint_xapps
        may_constrain = req.may_constrain and (allowed is None or req.name in allowed)
        xapp = self.registry.add_xapp(req.name, req.tier, may_constrain, link)
        self._update_gauges()
        nodes = list(self.registry.nodes.values())
        out = XappPdu(transaction_id=pdu.transaction_id, slot=-1, register_response=e2ap_pb2.XappRegisterResponse(
            ric_name=self.config.name, xapp_id=xapp.xapp_id, nodes=[n.info() for n in nodes],
            world_specs=self.registry.specs_for(nodes), may_constrain=may_constrain))
        link.send(out.SerializeToString())
        log(_log, logging.INFO, "xapp_registered", xapp=xapp.xapp_id, tier=xapp.tier,
            may_constrain=may_constrain, link=link.link_id)

    def _x_deregister(self, link: Link, pdu: e2ap_pb2.XappPdu, t_in: int) -> None:
        self._drop_xapp(link)
        out = XappPdu(transaction_id=pdu.transaction_id, slot=-1,
                      deregister_response=e2ap_pb2.XappDeregisterResponse())
        link.send(out.SerializeToString())

    def _drop_xapp(self, link: Link) -> None:
        xapp = self.registry.remove_xapp(link)
        if xapp is None:
            return
        emptied: list[Instance] = []
        for xsub in list(xapp.subscriptions.values()):
            emptied += self.subs.remove_subscription(xsub)
        xapp.subscriptions.clear()
        for inst in emptied:
            if inst.link.open:
                self._send_delete(inst)
        self.constraints.clear_owner(xapp.xapp_id)
        self.models.xapp_left(xapp)
        self._update_gauges()
        log(_log, logging.INFO, "xapp_left", xapp=xapp.xapp_id, subscriptions_deleted=len(emptied))

    def _x_error_indication(self, link: Link, pdu: e2ap_pb2.XappPdu, t_in: int) -> None:
        err = pdu.error_indication
        self.metrics.error_indications.labels("received", cause_name(err.cause.code)).inc()
        xapp = self.registry.xapps.get(link)
        log(_log, logging.WARNING, "error_indication_received", xapp=xapp.xapp_id if xapp else link.link_id,
            cause=cause_name(err.cause.code), detail=err.cause.detail)

    def _x_ignore(self, link: Link, pdu: e2ap_pb2.XappPdu, t_in: int) -> None:
        return

    def _x_keepalive(self, link: Link, pdu: e2ap_pb2.XappPdu, t_in: int) -> None:
        """An xApp's liveness probe: silence when it is registered; NOT_REGISTERED otherwise, so an
        xApp whose RIC restarted behind a reconnecting transport learns it must register again."""
        if link not in self.registry.xapps:
            self._error(link, e2ap_pb2.CAUSE_NOT_REGISTERED, "unknown xApp: register first", pdu.transaction_id,
                        "keepalive")

    # ------------------------------------------------------------------ model registry (xApp side)

    def _x_model_status(self, link: Link, pdu: e2ap_pb2.XappPdu, t_in: int) -> None:
        problem = self.models.on_status(self.registry.xapps[link], pdu.model_status)
        if problem is not None:
            self._malformed(link, "bad_model_status", e2ap_pb2.CAUSE_INVALID_VALUE, problem, pdu.transaction_id,
                            "model_status")

    def _x_model_activated(self, link: Link, pdu: e2ap_pb2.XappPdu, t_in: int) -> None:
        self.models.on_activated(self.registry.xapps[link], pdu.model_activated)

    def _x_model_load_failed(self, link: Link, pdu: e2ap_pb2.XappPdu, t_in: int) -> None:
        self.models.on_load_failed(self.registry.xapps[link], pdu.model_load_failed)

    # ------------------------------------------------------------------ subscriptions (xApp side)

    def _x_subscribe(self, link: Link, pdu: e2ap_pb2.XappPdu, t_in: int) -> None:
        xapp = self.registry.xapps[link]
        req = pdu.subscription_request
        txn = pdu.transaction_id
        problem = ""
        code = e2ap_pb2.CAUSE_INVALID_VALUE
        if req.requestor_id in xapp.subscriptions:
            problem, code = f"requestor id {req.requestor_id} is already in use", e2ap_pb2.CAUSE_DUPLICATE
        elif req.trigger.period_slots < 1:
            problem = "event trigger period_slots must be at least 1"
        elif not req.all_nodes and not req.nodes:
            problem = "subscription names no node (set nodes or all_nodes)"
        elif req.ran_function_id != SLOT_RAN_FUNCTION_ID:
            problem, code = f"RAN function {req.ran_function_id} is not served", e2ap_pb2.CAUSE_UNKNOWN_RAN_FUNCTION
        if problem:
            self.metrics.subscription_events.labels("xapp_refused").inc()
            out = XappPdu(transaction_id=txn, slot=-1, subscription_failure=e2ap_pb2.RicSubscriptionFailure(
                requestor_id=req.requestor_id, cause=Cause(code=code, detail=problem)))
            link.send(out.SerializeToString())
            return
        xsub = XappSubscription(xapp, req.requestor_id, req.ran_function_id, req.trigger.period_slots,
                                req.all_nodes, set(req.nodes), txn)
        xapp.subscriptions[req.requestor_id] = xsub
        result = self.subs.reconcile(xsub, self.clock())
        self._apply(result)
        log(_log, logging.INFO, "xapp_subscribe", xapp=xapp.xapp_id, requestor=req.requestor_id,
            period_slots=req.trigger.period_slots, nodes="*" if req.all_nodes else ",".join(req.nodes),
            instances=len(xsub.instances))
        self._maybe_answer(xsub)

    def _x_unsubscribe(self, link: Link, pdu: e2ap_pb2.XappPdu, t_in: int) -> None:
        xapp = self.registry.xapps[link]
        req = pdu.subscription_delete_request
        xsub = xapp.subscriptions.get(req.requestor_id)
        if xsub is None:
            out = XappPdu(transaction_id=pdu.transaction_id, slot=-1,
                          subscription_delete_failure=e2ap_pb2.RicSubscriptionDeleteFailure(
                              requestor_id=req.requestor_id, cause=Cause(
                                  code=e2ap_pb2.CAUSE_UNKNOWN_SUBSCRIPTION,
                                  detail=f"no subscription with requestor id {req.requestor_id}")))
            link.send(out.SerializeToString())
            return
        served = [name for inst in xsub.instances.values() for name in inst.names]
        names = list(req.nodes)
        if names:
            deleted = [n for n in served if n in names]
            if xsub.all_nodes:
                xsub.excluded.update(names)
            else:
                xsub.nodes.difference_update(names)
        else:
            deleted = served
        if not names or (not xsub.all_nodes and not xsub.nodes):
            emptied = self.subs.remove_subscription(xsub)
            del xapp.subscriptions[req.requestor_id]
            for inst in emptied:
                if inst.link.open:
                    self._send_delete(inst)
        else:
            self._apply(self.subs.reconcile(xsub, self.clock()))
        self.metrics.subscription_events.labels("xapp_delete").inc()
        out = XappPdu(transaction_id=pdu.transaction_id, slot=-1,
                      subscription_delete_response=e2ap_pb2.RicSubscriptionDeleteResponse(
                          requestor_id=req.requestor_id, deleted=deleted))
        link.send(out.SerializeToString())
        log(_log, logging.INFO, "xapp_unsubscribe", xapp=xapp.xapp_id, requestor=req.requestor_id,
            nodes=",".join(deleted))

    def _apply(self, result: Reconciled) -> None:
        for inst in result.emptied:
            if inst.link.open:
                self._send_delete(inst)
        for inst in result.created:
            self._send_subscription(inst)
        for xsub, inst in result.attached_active:
            if not xsub.pending_answer:
                self._send_admitted(xsub, inst)
        for xsub, refusal in result.refusals:
            if xsub.pending_answer:
                xsub.refusals.append(refusal)
        self._update_gauges()

    def _reconcile_all(self) -> None:
        result = Reconciled()
        now = self.clock()
        for xsub in self._all_subscriptions():
            self.subs.reconcile(xsub, now, result)
        result.refusals = []  # nodes that are gone were announced by NodeUpdate
        self._apply(result)
        for xsub in self._all_subscriptions():
            self._maybe_answer(xsub)

    def _all_subscriptions(self) -> list[XappSubscription]:
        return [s for x in self.registry.xapps.values() for s in x.subscriptions.values()]

    def _resolve_waiting(self, xsub: XappSubscription, inst: Instance, refusal: Refusal | None) -> None:
        xsub.waiting.discard(inst)
        if refusal is not None:
            xsub.refusals.append(refusal)
        self._maybe_answer(xsub)

    def _maybe_answer(self, xsub: XappSubscription) -> None:
        """Send the answer to the xApp's request once no instance of it is pending."""
        if not xsub.pending_answer or xsub.waiting:
            return
        xsub.pending_answer = False
        admitted = xsub.admitted_items()
        refused = [e2ap_pb2.ItemRefusal(node=n, cause=Cause(code=c, detail=d)) for n, c, d in xsub.refusals]
        xsub.refusals = []
        link = xsub.xapp.link
        if admitted or xsub.all_nodes:
            out = XappPdu(transaction_id=xsub.txn, slot=-1, subscription_response=e2ap_pb2.RicSubscriptionResponse(
                requestor_id=xsub.requestor_id, ran_function_id=xsub.ran_function_id,
                trigger=e2ap_pb2.EventTrigger(period_slots=xsub.period_slots), admitted=admitted,
                not_admitted=refused))
            self.metrics.subscription_events.labels("xapp_admitted").inc()
        else:
            first = refused[0].cause if refused else Cause(code=e2ap_pb2.CAUSE_UNKNOWN_NODE, detail="no node served")
            out = XappPdu(transaction_id=xsub.txn, slot=-1, subscription_failure=e2ap_pb2.RicSubscriptionFailure(
                requestor_id=xsub.requestor_id, cause=first, not_admitted=refused))
            self.metrics.subscription_events.labels("xapp_refused").inc()
            self.subs.remove_subscription(xsub)
            xsub.xapp.subscriptions.pop(xsub.requestor_id, None)
        link.send(out.SerializeToString())

    def _send_admitted(self, xsub: XappSubscription, inst: Instance) -> None:
        out = XappPdu(transaction_id=0, slot=-1, subscription_response=e2ap_pb2.RicSubscriptionResponse(
            requestor_id=xsub.requestor_id, instance_id=inst.instance_id, ran_function_id=xsub.ran_function_id,
            trigger=e2ap_pb2.EventTrigger(period_slots=xsub.period_slots),
            admitted=[e2ap_pb2.SubscriptionItem(node=n, instance_id=inst.instance_id) for n in inst.names]))
        xsub.xapp.link.send(out.SerializeToString())

    def _send_refused(self, xsub: XappSubscription, refusals: list[Refusal]) -> None:
        out = XappPdu(transaction_id=0, slot=-1, subscription_response=e2ap_pb2.RicSubscriptionResponse(
            requestor_id=xsub.requestor_id, ran_function_id=xsub.ran_function_id,
            trigger=e2ap_pb2.EventTrigger(period_slots=xsub.period_slots),
            not_admitted=[e2ap_pb2.ItemRefusal(node=n, cause=Cause(code=c, detail=d)) for n, c, d in refusals]))
        xsub.xapp.link.send(out.SerializeToString())

    # ------------------------------------------------------------------ control (hot path)

    def _plan(self, names: tuple[str, ...], ran_function_id: int) -> ControlPlan:
        registry = self.registry
        if self._plans_generation != registry.generation:
            self._plans.clear()
            self._allowed_cache.clear()
            self._plans_generation = registry.generation
        key = (names, ran_function_id)
        plan = self._plans.get(key)
        if plan is not None:
            return plan
        nodes: list[NodeEntry | None] = []
        problems: dict[int, CauseT] = {}
        links: set[Link] = set()
        layouts: set[Layout] = set()
        seen: set[str] = set()
        for row, name in enumerate(names):
            node = registry.nodes.get(name)
            if name in seen:
                problems[row] = (e2ap_pb2.CAUSE_INVALID_VALUE, f"node {name!r} appears twice in the control")
                node = None
            elif node is None:
                problems[row] = (e2ap_pb2.CAUSE_UNKNOWN_NODE, f"no E2 node {name!r} is set up")
            elif ran_function_id not in node.functions:
                problems[row] = (e2ap_pb2.CAUSE_UNKNOWN_RAN_FUNCTION,
                                 f"node {name!r} has no RAN function {ran_function_id}")
                node = None
            seen.add(name)
            nodes.append(node)
            if node is not None:
                links.add(node.link)
                layouts.add(node.functions[ran_function_id].control_layout)
        layout = next(iter(layouts)) if len(layouts) == 1 else None
        plan = ControlPlan(
            names=names,
            nodes=tuple(nodes),
            node_ids=[n.node_id if n is not None else -1 for n in nodes],
            link=next(iter(links)) if len(links) == 1 else None,
            layout=layout,
            stacked_nbytes=layout.stacked(len(names)).data_nbytes if layout is not None else -1,
            problems=problems,
        )
        if len(self._plans) > 1024:
            self._plans.clear()
        self._plans[key] = plan
        return plan

    def _x_control(self, link: Link, pdu: e2ap_pb2.XappPdu, data: bytes, t_in: int) -> None:
        m = self.metrics
        m.controls.inc()
        req = pdu.control_request
        slot = pdu.slot
        xapp = self.registry.xapps.get(link)
        names = tuple(req.nodes)
        if xapp is None:
            self._refuse_all(link, pdu, names, e2ap_pb2.CAUSE_NOT_REGISTERED, "register the xApp first")
            return
        if not names:
            self._malformed(link, "empty_control", e2ap_pb2.CAUSE_INVALID_VALUE, "control names no node",
                            pdu.transaction_id, "control_request")
            return
        sent = pdu.t.xapp_sent
        if sent:
            m.in_control.observe(max(0, t_in - sent) * 1e-9)
        plan = self._plan(names, req.ran_function_id)
        ctrl = req.control
        problems = plan.problems
        # payload shape: one bytes comparison and one size check on the fast path
        layout = plan.layout
        whole: CauseT | None = None
        if layout is None or ctrl.layout != layout.layout_bytes or len(ctrl.data) != plan.stacked_nbytes:
            whole = self._shape_problem(plan, ctrl)
        elif ctrl.slot != slot:
            whole = (e2ap_pb2.CAUSE_INVALID_VALUE, f"control payload is for slot {ctrl.slot}, envelope says {slot}")
        elif list(ctrl.node_ids) != plan.node_ids and not problems:
            whole = (e2ap_pb2.CAUSE_INVALID_VALUE,
                     f"payload node ids {list(ctrl.node_ids)} do not match the nodes' ids {plan.node_ids}")
        if whole is not None:
            self._refuse_all(link, pdu, names, whole[0], whole[1])
            cause = Cause(code=whole[0], detail=whole[1])
            self._tell_nodes_refused(plan, slot, {row: e2ap_pb2.ItemRefusal(node=n, cause=cause)
                                                  for row, n in enumerate(names)})
            return
        refused: dict[int, CauseT] | None = dict(problems) if problems else None
        for row, node in enumerate(plan.nodes):
            if node is not None and slot < node.last_slot:
                if refused is None:
                    refused = {}
                refused[row] = (e2ap_pb2.CAUSE_STALE_SLOT,
                                f"control for slot {slot} reached the RIC after node {node.name!r} reported slot "
                                f"{node.last_slot}")
        if self.constraints.generation and len(self.constraints):
            allowed = self._allowed(plan, xapp.tier)
            if allowed is not None and layout is not None:
                stacked = layout.stacked(len(names))
                payload = ctrl.data
                mask = stacked.array(payload, "mask").view(np.uint8) != 0
                bad = violating_rows(stacked.array(payload, "user"), stacked.array(payload, "power_w"), mask, allowed)
                if bad.any():
                    if refused is None:
                        refused = {}
                    for row in np.flatnonzero(bad).tolist():
                        if row not in refused:
                            node = plan.nodes[row]
                            refused[row] = (e2ap_pb2.CAUSE_CONSTRAINT_VIOLATION,
                                            f"node {names[row]!r} transmits on resources a higher tier has not "
                                            f"allowed (allowed {allowed[row].astype(int).tolist()})")
        txn = self._next_txn()
        self._remember_control(txn, link, pdu.transaction_id)
        if refused is None and plan.link is not None:
            now = self.clock()
            if not _has_unknown_fields(pdu):
                out = data + E2Pdu(transaction_id=txn, t=e2ap_pb2.HopTimes(
                    ric_ctrl_in=t_in, ric_ctrl_out=now)).SerializeToString()
            else:
                epdu = E2Pdu(transaction_id=txn, slot=slot, t=pdu.t, control_request=req)
                epdu.t.ric_ctrl_in = t_in
                epdu.t.ric_ctrl_out = now
                out = epdu.SerializeToString()
            plan.link.send(out)
            m.nodes_forwarded.inc(len(names))
            m.hot_control.observe((self.clock() - t_in) * 1e-9)
            return
        self._split_control(link, pdu, plan, refused or {}, txn, t_in)

    def _shape_problem(self, plan: ControlPlan, ctrl: Any) -> CauseT:
        if plan.layout is None:
            known = [n for n in plan.nodes if n is not None]
            if not known:
                first = next(iter(plan.problems.values()), (e2ap_pb2.CAUSE_UNKNOWN_NODE, "no known node"))
                return first
            return e2ap_pb2.CAUSE_BAD_SHAPE, "the nodes of this control announced different control layouts"
        try:
            check_control(ctrl, plan.layout, len(plan.names))
        except ShapeError as exc:
            return e2ap_pb2.CAUSE_BAD_SHAPE, str(exc)
        except CodecError as exc:
            return e2ap_pb2.CAUSE_INVALID_VALUE, str(exc)
        return e2ap_pb2.CAUSE_BAD_SHAPE, "control layout bytes differ from the announced layout"

    def _allowed(self, plan: ControlPlan, tier: int) -> np.ndarray | None:
        key = (id(plan), tier, self.constraints.generation)
        if key in self._allowed_cache:
            return self._allowed_cache[key]
        rows = []
        constrained = False
        width = plan.layout.specs[0].shape[0] if plan.layout is not None else 0
        for node in plan.nodes:
            mask = self.constraints.allowed(node.name, tier) if node is not None else None
            if mask is not None and mask.shape == (width,):
                constrained = True
                rows.append(mask)
            else:
                rows.append(np.ones(width, dtype=bool))
        allowed = np.stack(rows) if constrained and rows else None
        if len(self._allowed_cache) > 1024:
            self._allowed_cache.clear()
        self._allowed_cache[key] = allowed
        return allowed

    def _split_control(self, link: Link, pdu: e2ap_pb2.XappPdu, plan: ControlPlan,
                       refused: dict[int, CauseT], txn: int, t_in: int) -> None:
        m = self.metrics
        req = pdu.control_request
        names = plan.names
        by_link: dict[Link, list[int]] = {}
        for row, node in enumerate(plan.nodes):
            if row not in refused and node is not None:
                by_link.setdefault(node.link, []).append(row)
        assert plan.layout is not None or not by_link
        for dest, rows in by_link.items():
            epdu = E2Pdu(transaction_id=txn, slot=pdu.slot, t=pdu.t)
            out_req = epdu.control_request
            out_req.ran_function_id = req.ran_function_id
            out_req.ack_requested = req.ack_requested
            out_req.nodes.extend(names[r] for r in rows)
            if len(rows) == len(names):
                out_req.control.CopyFrom(req.control)
            else:
                select_nodes(req.control, plan.layout, rows, out_req.control)  # type: ignore[arg-type]
            epdu.t.ric_ctrl_in = t_in
            epdu.t.ric_ctrl_out = self.clock()
            dest.send(epdu.SerializeToString())
            m.nodes_forwarded.inc(len(rows))
        if refused:
            items = []
            for row, (code, detail) in sorted(refused.items()):
                items.append(e2ap_pb2.ItemRefusal(node=names[row], cause=Cause(code=code, detail=detail)))
                m.refusals.labels(cause_name(code)).inc()
            m.nodes_refused.inc(len(items))
            out = XappPdu(transaction_id=pdu.transaction_id, slot=pdu.slot, t=pdu.t,
                          control_failure=e2ap_pb2.RicControlFailure(refused=items))
            link.send(out.SerializeToString())
            self._tell_nodes_refused(plan, pdu.slot, {row: items[i] for i, row in enumerate(sorted(refused))})
            xapp = self.registry.xapps.get(link)
            log(_log, logging.INFO, "control_refused", xapp=xapp.xapp_id if xapp else link.link_id, slot=pdu.slot,
                node=items[0].node, cause=cause_name(items[0].cause.code), refused=len(items),
                detail=items[0].cause.detail)
        m.hot_control.observe((self.clock() - t_in) * 1e-9)

    def _tell_nodes_refused(self, plan: ControlPlan, slot: int, items: dict[int, e2ap_pb2.ItemRefusal]) -> None:
        """Tell the agents of the known nodes among ``items`` (row -> refusal) that this slot's control
        for them was refused: a lockstep node stops waiting for it and keeps its fallback."""
        by_link: dict[Link, list[e2ap_pb2.ItemRefusal]] = {}
        for row, item in items.items():
            node = plan.nodes[row]
            if node is not None:
                by_link.setdefault(node.link, []).append(item)
        for dest, refused in by_link.items():
            dest.send(E2Pdu(transaction_id=self._next_txn(), slot=slot,
                            control_failure=e2ap_pb2.RicControlFailure(refused=refused)).SerializeToString())

    def _refuse_all(
        self, link: Link, pdu: e2ap_pb2.XappPdu, names: tuple[str, ...], code: CauseCode, detail: str
    ) -> None:
        items = [e2ap_pb2.ItemRefusal(node=n, cause=Cause(code=code, detail=detail)) for n in names]
        self.metrics.refusals.labels(cause_name(code)).inc(len(items))
        self.metrics.nodes_refused.inc(len(items))
        out = XappPdu(transaction_id=pdu.transaction_id, slot=pdu.slot, t=pdu.t,
                      control_failure=e2ap_pb2.RicControlFailure(refused=items))
        link.send(out.SerializeToString())
        xapp = self.registry.xapps.get(link)
        log(_log, logging.INFO, "control_refused", xapp=xapp.xapp_id if xapp else link.link_id, slot=pdu.slot,
            nodes=len(names), cause=cause_name(code), detail=detail)

    def _remember_control(self, txn: int, link: Link, xapp_txn: int) -> None:
        pending = self._pending_controls
        pending[txn] = (link, xapp_txn)
        if len(pending) > _PENDING_CONTROLS_MAX:
            pending.popitem(last=False)

    # ------------------------------------------------------------------ constraints

    def _x_constraints(self, link: Link, pdu: e2ap_pb2.XappPdu, t_in: int) -> None:
        xapp = self.registry.xapps[link]
        accepted: list[str] = []
        refused: list[e2ap_pb2.ItemRefusal] = []
        for item in pdu.constraint_update.items:
            problem = self._constraint_problem(xapp, item)
            if problem is not None:
                refused.append(e2ap_pb2.ItemRefusal(node=item.node, cause=Cause(code=problem[0], detail=problem[1])))
                self.metrics.constraint_updates.labels("refused").inc()
                continue
            if item.clear:
                self.constraints.clear(item.node, xapp.xapp_id)
            else:
                self.constraints.set(item.node, xapp.xapp_id, xapp.tier, np.asarray(item.allowed, dtype=bool))
            accepted.append(item.node)
            self.metrics.constraint_updates.labels("accepted").inc()
        if accepted or not refused:
            out = XappPdu(transaction_id=pdu.transaction_id, slot=pdu.slot,
                          constraint_ack=e2ap_pb2.ConstraintAck(nodes=accepted))
            link.send(out.SerializeToString())
        if accepted:
            self._notify_constraints(xapp, accepted, pdu.slot)
        if refused:
            out = XappPdu(transaction_id=pdu.transaction_id, slot=pdu.slot,
                          constraint_failure=e2ap_pb2.ConstraintFailure(refused=refused))
            link.send(out.SerializeToString())
            log(_log, logging.INFO, "constraint_refused", xapp=xapp.xapp_id, slot=pdu.slot, node=refused[0].node,
                cause=cause_name(refused[0].cause.code), detail=refused[0].cause.detail)

    def _notify_constraints(self, setter: XappEntry, nodes: list[str], slot: int) -> None:
        """``constraint_notice`` to every xApp below ``setter`` subscribed to one of ``nodes``: each
        node's effective allowed mask for the receiver's tier (empty when unconstrained)."""
        for xapp in self.registry.xapps.values():
            if xapp.tier <= setter.tier or not xapp.subscriptions:
                continue
            watched = [n for n in nodes if any(
                (sub.all_nodes or n in sub.nodes) and n not in sub.excluded for sub in xapp.subscriptions.values())]
            if not watched:
                continue
            states = []
            for name in watched:
                mask = self.constraints.allowed(name, xapp.tier)
                states.append(e2ap_pb2.ConstraintState(
                    node=name, allowed=[] if mask is None else mask.tolist(), setter_tier=setter.tier))
            out = XappPdu(slot=slot, constraint_notice=e2ap_pb2.ConstraintNotice(nodes=states))
            xapp.link.send(out.SerializeToString())

    def _constraint_problem(self, xapp: XappEntry, item: e2ap_pb2.ConstraintItem) -> CauseT | None:
        if not xapp.may_constrain:
            return e2ap_pb2.CAUSE_NOT_AUTHORISED, f"xApp {xapp.name!r} may not set constraints"
        node = self.registry.nodes.get(item.node)
        if node is None:
            return e2ap_pb2.CAUSE_UNKNOWN_NODE, f"no E2 node {item.node!r} is set up"
        if item.clear:
            return None
        if len(item.allowed) != node.n_resources:
            return e2ap_pb2.CAUSE_BAD_SHAPE, (
                f"allowed mask has {len(item.allowed)} entries, node {node.name!r} has {node.n_resources} resources")
        above = self.constraints.allowed(node.name, xapp.tier)
        if above is not None:
            outside = np.asarray(item.allowed, dtype=bool) & ~above
            if outside.any():
                return e2ap_pb2.CAUSE_CONSTRAINT_VIOLATION, (
                    f"allows resources {np.flatnonzero(outside).tolist()} a higher tier has not allowed")
        return None

    # ================================================================== helpers

    def _next_txn(self) -> int:
        self._txn += 1
        return self._txn

    def _error(self, link: Link, code: CauseCode, detail: str, txn: int = 0, procedure: str = "", node: str = "",
               slot: int = -1) -> None:
        err = e2ap_pb2.ErrorIndication(cause=Cause(code=code, detail=detail), transaction_id=txn,
                                       procedure=procedure, node=node)
        if link.kind == "e2":
            data = E2Pdu(slot=slot, error_indication=err).SerializeToString()
        else:
            data = XappPdu(slot=slot, error_indication=err).SerializeToString()
        link.send(data)
        self.metrics.error_indications.labels("sent", cause_name(code)).inc()

    def _malformed(
        self, link: Link, reason: str, code: CauseCode, detail: str, txn: int = 0, procedure: str = ""
    ) -> None:
        self.metrics.malformed.labels(link.kind, reason).inc()
        level = logging.DEBUG if link in self._malformed_seen else logging.WARNING
        self._malformed_seen.add(link)
        log(_log, level, "bad_message", link=link.link_id, reason=reason, detail=detail)
        self._error(link, code, detail, txn, procedure)

    def _notify_nodes(self, event: int, nodes: list[NodeEntry]) -> None:
        if not nodes or not self.registry.xapps:
            return
        update = e2ap_pb2.NodeUpdate(event=event, nodes=[n.info() for n in nodes])  # type: ignore[arg-type]
        if event != e2ap_pb2.NodeUpdate.EVENT_REMOVED:
            for world_id, text in self.registry.specs_for(nodes).items():
                update.world_specs[world_id] = text
        data = XappPdu(slot=-1, node_update=update).SerializeToString()
        for xapp in self.registry.xapps.values():
            xapp.link.send(data)

    def _update_gauges(self) -> None:
        m = self.metrics
        m.nodes.set(len(self.registry.nodes))
        m.xapps.set(len(self.registry.xapps))
        m.subscriptions.set(len(self.subs.instances))

    def on_drop(self, link: Link) -> None:
        """A message to ``link`` was dropped (its queue is full)."""
        self.metrics.dropped.labels(link.kind).inc()

    def tick(self) -> None:
        """Periodic housekeeping: time out subscription instances the node never answered."""
        timeout_ns = int(self.config.e2_response_timeout_s * 1e9)
        for inst in self.subs.expired(self.clock(), timeout_ns):
            self._instance_failed(inst.link, inst.instance_id,
                                  (e2ap_pb2.CAUSE_TIMEOUT,
                                   f"node did not answer within {self.config.e2_response_timeout_s:g} s"))

    # ================================================================== views (admin, health)

    def health(self) -> dict[str, Any]:
        return {
            "status": "SERVING",
            "ric_name": self.config.name,
            "uptime_s": (self.clock() - self.started_ns) * 1e-9,
            "nodes": len(self.registry.nodes),
            "xapps": len(self.registry.xapps),
            "subscriptions": len(self.subs.instances),
        }
