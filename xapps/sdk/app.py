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
"""

from __future__ import annotations

import time
from abc import ABC, abstractmethod

from ric.protocol import Controls, Reports, WorldSpec


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
    """

    name: str = "xapp"
    tier: int = 2
    period_slots: int = 1
    may_constrain: bool = False

    def on_start(self, spec: WorldSpec) -> None:  # noqa: B027 - optional hook
        """The world is known (E2 Setup of its nodes reached the RIC): build policies here."""

    @abstractmethod
    def on_reports(self, reports: Reports, stamps: Stamps) -> Controls | None:
        """Every node's report of one slot, arrays ``(1, K, ...)``; return controls or None.

        Rows of nodes outside the xApp's subscription are zero and their controls are not sent.
        """

    def on_refused(self, slot: int, node: str, cause: str, detail: str) -> None:  # noqa: B027 - optional hook
        """The RIC or a node refused this xApp's control for ``node`` at ``slot``."""
