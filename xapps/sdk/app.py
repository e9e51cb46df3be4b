"""What an xApp author writes: one class with typed handlers.

Example::

    class Greedy(XApp):
        name = "greedy"
        period_slots = 1

        def on_start(self, spec: WorldSpec) -> None:
            self.policy = make_policy("llq", spec)

        def on_reports(self, reports: Reports, stamps: Stamps) -> Controls | None:
            return self.policy.decide(reports)

`XappRunner(Greedy(), "tcp://127.0.0.1:4560").run()` connects it to a RIC.

Models
------
An xApp that runs ONNX models takes part in the RIC's model registry by overriding four hooks:
`XApp.model_spec` (what a model must match, `ric.protocol.models.spec_of`), `XApp.running_model`,
`XApp.prepare_model` and `XApp.activate_model`. When the RIC pushes a model, the runner calls
``prepare_model`` in a loader thread while the xApp keeps deciding with the running model, then
``activate_model`` between two slots' decisions, and tells the RIC the slot it switched at (or why
the model could not be prepared: the running one stays).

Tiers and constraints
---------------------
xApps of a control hierarchy (``xapps.hierarchy``) use three more facilities:

- **Node selection.** `XApp.nodes` returns the world indices of the nodes the xApp decides
  for (None, the default: every node, with an ``all_nodes`` subscription that also follows nodes
  joining later). The runner subscribes to exactly those; their rows of the reports are filled,
  the others are zero, and controls are sent for those rows only.
- **Setting constraints.** An xApp registered with ``may_constrain`` (and authorised by the RIC's
  ``constraint_xapps``) calls `XApp.constrain` from `XApp.on_reports`; the runner sends the
  collected items as one ``constraint_update`` of that slot, *before* the slot's controls, so the
  RIC holds the new constraint before any lower-tier control that must respect it. Answers are
  counted (``constraints_accepted``, ``constraint_refusals`` by cause in the runner's summary).
- **Knowing the current constraint.** The RIC pushes a ``constraint_notice`` to every xApp of a
  higher tier number subscribed to a node whose constraint changed: the node's *effective*
  allowed mask for that tier (the intersection the RIC enforces) and the slot of the update. The
  runner keeps it in `XApp.allowed` ``(K, S)`` bool (all True where unconstrained) and
  `XApp.constraint_slot` ``(K,)`` (slot of the last notice, -1 before any). The mask comes from
  the RIC rather than from the world's ``Reports.extra["allowed"]`` because the RIC's mask is the
  one it checks controls against: the world's field shows the parent's control *applied* in the
  previous slot (one slot late at every tier boundary) and knows nothing of the RIC.
  With ``constraint_period_slots = P > 0`` the xApp's tier above re-decides every ``P`` slots, so
  at every slot ``t`` with ``t % P == 0`` the runner holds the slot's decision until a notice of
  slot ``>= t`` has come for every subscribed node (or the runner's ``constraint_wait_s`` has
  passed: it then decides with the constraint it knows and counts ``constraint_wait_timeouts``).
  A lower tier thus sees its new constraint in the very slot the tier above changed it.
"""

from __future__ import annotations

import hashlib
import time
from abc import ABC, abstractmethod
from dataclasses import dataclass
from typing import Any

import numpy as np

from ric.protocol import Controls, Reports, WorldSpec
from ric.protocol.models import ModelError


class Stamps:
    """Hop timestamps an xApp may set while deciding (monotonic ns; the SDK sets the rest).

    ``features_done`` and ``inference_done`` default to the start and end of `XApp.on_reports`;
    a policy that builds features before its forward pass calls `features` to split the two.
    """

    __slots__ = ("features_done", "inference_done")

    def __init__(self) -> None:
        self.features_done = 0
        self.inference_done = 0

    def features(self) -> None:
        """Mark the end of feature building (observation ready for the model)."""
        self.features_done = time.monotonic_ns()


@dataclass(frozen=True)
class ModelFile:
    """An ONNX model file as an xApp runs it.

    Attributes
    ----------
    data : bytes
        The file's content.
    name : str
        File name, for the registry's listing.
    version : str
        The metadata's ``version`` ('' when unknown).
    """

    data: bytes
    name: str = ""
    version: str = ""

    @property
    def sha256(self) -> str:
        """Hex sha256 of the file (its id in the RIC's registry)."""
        return hashlib.sha256(self.data).hexdigest()


class XApp(ABC):
    """An xApp: a name, a tier, a decision period and a handler per event.

    Class attributes
    ----------------
    name : str
        Registered at the RIC; appears in logs and metrics.
    tier : int
        Place in the control hierarchy (0 = top); constraints bind higher numbers.
    period_slots : int
        Decide every ``period_slots`` slots (the subscription's event trigger).
    may_constrain : bool
        Ask the RIC for the right to set per-node constraints for lower tiers.
    constraint_period_slots : int
        Decision period of the tier that constrains this xApp's nodes (0: none; module docstring).

    Attributes set by the runner
    ----------------------------
    allowed : ndarray, bool, (K, S)
        Effective allowed resources of every node for this xApp's tier (all True: unconstrained).
    constraint_slot : ndarray, int64, (K,)
        Slot of the last constraint notice per node (-1 before any).
    """

    name: str = "xapp"
    tier: int = 2
    period_slots: int = 1
    may_constrain: bool = False
    constraint_period_slots: int = 0
    allowed: np.ndarray = np.ones((0, 0), dtype=bool)
    constraint_slot: np.ndarray = np.zeros(0, dtype=np.int64)

    def nodes(self, spec: WorldSpec) -> list[int] | None:
        """World indices of the nodes this xApp subscribes to and decides for; None: every node."""
        return None

    def constrain(self, node: int, allowed: np.ndarray | None) -> None:
        """Set this xApp's constraint on node ``node``: the resources lower tiers may use there.

        Parameters
        ----------
        node : int
            World index of the node.
        allowed : ndarray, bool, (S,) or None
            Allowed resources; None removes this xApp's constraint on the node.

        Call it from `on_reports`; the runner sends the items of one call with that slot's
        controls (first the constraints, then the controls).
        """
        outbox: list[tuple[int, np.ndarray | None]] = self.__dict__.setdefault("_constraint_outbox", [])
        outbox.append((int(node), None if allowed is None else np.array(allowed, dtype=bool)))

    def take_constraints(self) -> list[tuple[int, np.ndarray | None]]:
        """The constraints set since the last call (the runner sends them), oldest first."""
        outbox: list[tuple[int, np.ndarray | None]] = self.__dict__.pop("_constraint_outbox", [])
        return outbox

    def on_start(self, spec: WorldSpec) -> None:  # noqa: B027 - optional hook
        """The world is known (E2 Setup of its nodes reached the RIC): build policies here."""

    @abstractmethod
    def on_reports(self, reports: Reports, stamps: Stamps) -> Controls | None:
        """Every node's report of one slot, arrays ``(1, K, ...)``; return controls or None.

        Rows of nodes outside the xApp's subscription are zero and their controls are not sent.
        """

    def on_refused(self, slot: int, node: str, cause: str, detail: str) -> None:  # noqa: B027 - optional hook
        """The RIC or a node refused this xApp's control for ``node`` at ``slot``."""

    def stats(self) -> dict[str, Any]:
        """Counters the xApp adds to the runner's summary (e.g. a learned policy's fallbacks)."""
        return {}

    # ------------------------------------------------------------------ models (module docstring)

    def model_spec(self) -> dict[str, Any] | None:
        """The spec a model must match to run here, once the world is known; None: no models."""
        return None

    def running_model(self) -> ModelFile | None:
        """The model deciding now, if any."""
        return None

    def prepare_model(self, data: bytes) -> Any:
        """Load and check ``data`` beside the running model; raise `ModelError` with the reason.

        Runs in the runner's loader thread while `on_reports` goes on in the main thread: it must
        not change anything `on_reports` uses. The return value goes to `activate_model`.
        """
        raise ModelError(f"xApp {self.name!r} runs no models")

    def activate_model(self, prepared: Any) -> None:
        """Make a model returned by `prepare_model` the running one (called between two decisions)."""
        raise ModelError(f"xApp {self.name!r} runs no models")
