"""Per-node constraints for conflict mitigation: allowed-resources masks set by higher tiers.

An authorised xApp of tier ``t`` (0 = top of the hierarchy) sets, per node, the resources
lower tiers may use. A control or constraint from an xApp of tier ``u`` is checked against the
intersection of every constraint of the node set by tiers ``< u``; a control that transmits on
a resource outside it (``user >= 0`` and ``mask`` and ``power_w > 0`` there) is refused. The
store knows nothing of worlds: a constraint is a bool mask over the node's resource axis ``S``.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np


@dataclass(frozen=True)
class Constraint:
    """One xApp's constraint on one node.

    Attributes
    ----------
    owner : str
        xApp id that set it.
    tier : int
        The owner's tier.
    allowed : ndarray, bool, (S,)
        Resources lower tiers may use.
    """

    owner: str
    tier: int
    allowed: np.ndarray


class ConstraintStore:
    """Constraints by node; effective masks are cached until the store changes."""

    def __init__(self) -> None:
        self._by_node: dict[str, dict[str, Constraint]] = {}
        self._effective: dict[tuple[str, int], np.ndarray | None] = {}
        self.generation = 0

    def __len__(self) -> int:
        return sum(len(v) for v in self._by_node.values())

    def _changed(self) -> None:
        self.generation += 1
        self._effective.clear()

    def allowed(self, node: str, tier: int) -> np.ndarray | None:
        """Resources an xApp of ``tier`` may use on ``node`` (bool (S,)), None when unconstrained."""
        key = (node, tier)
        if key in self._effective:
            return self._effective[key]
        mask: np.ndarray | None = None
        for constraint in self._by_node.get(node, {}).values():
            if constraint.tier < tier:
                mask = constraint.allowed.copy() if mask is None else mask & constraint.allowed
        if mask is not None:
            mask.setflags(write=False)
        self._effective[key] = mask
        return mask

    def has_constraints(self, node: str) -> bool:
        return bool(self._by_node.get(node))

    def set(self, node: str, owner: str, tier: int, allowed: np.ndarray) -> None:
        """Set (or replace) ``owner``'s constraint on ``node``."""
        mask = np.array(allowed, dtype=bool, copy=True)
        mask.setflags(write=False)
        self._by_node.setdefault(node, {})[owner] = Constraint(owner, tier, mask)
        self._changed()

    def clear(self, node: str, owner: str) -> bool:
        """Remove ``owner``'s constraint on ``node``; True when there was one."""
        removed = self._by_node.get(node, {}).pop(owner, None) is not None
        if removed:
            if not self._by_node[node]:
                del self._by_node[node]
            self._changed()
        return removed

    def clear_node(self, node: str) -> None:
        """Drop every constraint on ``node`` (node reset or gone)."""
        if self._by_node.pop(node, None):
            self._changed()

    def clear_owner(self, owner: str) -> None:
        """Drop every constraint ``owner`` set (xApp gone)."""
        changed = False
        for node in list(self._by_node):
            if self._by_node[node].pop(owner, None) is not None:
                changed = True
                if not self._by_node[node]:
                    del self._by_node[node]
        if changed:
            self._changed()

    def snapshot(self) -> dict[str, list[Constraint]]:
        return {node: list(c.values()) for node, c in self._by_node.items()}


def violating_rows(user: np.ndarray, power_w: np.ndarray, mask: np.ndarray, allowed: np.ndarray) -> np.ndarray:
    """Which nodes of a stacked control transmit outside their allowed resources.

    Parameters
    ----------
    user : ndarray, int, (N, S)
        User slot per resource, negative = off.
    power_w : ndarray, float, (N, S)
        Power per resource [W]; not positive (or NaN) = off.
    mask : ndarray, bool, (N, S)
        The control's own spectrum mask.
    allowed : ndarray, bool, (N, S)
        Allowed resources per node (all True for unconstrained nodes).

    Returns
    -------
    ndarray, bool, (N,)
        True where a node uses a resource it is not allowed.
    """
    used = (user >= 0) & mask & (power_w > 0)
    result: np.ndarray = (used & ~allowed).any(axis=1)
    return result
