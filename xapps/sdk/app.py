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
"""

from __future__ import annotations

import hashlib
import time
from abc import ABC, abstractmethod
from dataclasses import dataclass
from typing import Any

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
