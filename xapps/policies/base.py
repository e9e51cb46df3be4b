"""The policy interface: reports in, controls out, feature building inside.

The same policy object runs against the world directly (`ntnric eval`, training) and inside an
xApp that receives the reports as E2 indications (`ntnric run`). A policy is built from the
`WorldSpec` alone.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from typing import ClassVar

import numpy as np

from ric.protocol import Controls, Reports, WorldSpec


class Policy(ABC):
    """Maps one slot's `Reports` (``B`` worlds) to `Controls`.

    Class attributes
    ----------------
    name : str
        Registry name used on the command line (``llq``, ``full-power``, ``onnx:PATH``...).
    genie : bool
        True when the policy needs the current slot's CSI of every link (centralized
        optimizers); the world is then run with genie CSI and tables mark the policy.
    world_kinds : tuple of str
        World kinds the policy supports; empty means every kind.
    """

    name: ClassVar[str] = ""
    genie: ClassVar[bool] = False
    world_kinds: ClassVar[tuple[str, ...]] = ()

    def __init__(self, spec: WorldSpec, seed: int = 0) -> None:
        self.spec = spec
        self.rng = np.random.default_rng(seed)
        self.batch = 1

    def reset(self, batch: int = 1) -> None:
        """Forget per-episode state (recurrent state, round-robin pointers) for ``batch`` worlds."""
        self.batch = batch

    @abstractmethod
    def decide(self, reports: Reports) -> Controls:
        """Controls for slot ``reports.slot`` of every world in the batch."""

    # helpers shared by policies ---------------------------------------------------------------
    def max_power_w(self) -> np.ndarray:
        """Per-node maximum power per resource, shape ``(K,)`` [W]."""
        return np.array([10 ** ((n.max_power_dbm - 30) / 10) for n in self.spec.nodes], dtype=np.float32)

    def eligible(self, reports: Reports) -> np.ndarray:
        """Users that may be served on each resource, ``(B, K, U, S)`` bool.

        Active users, further restricted by the world's ``extra['eligible']`` when it has one
        (e.g. sector association in ``cstn``).
        """
        active = reports.active[..., None]
        extra = reports.extra.get("eligible")
        shape = (*reports.active.shape, self.spec.n_resources)
        return np.broadcast_to(active, shape) if extra is None else (active & extra)
