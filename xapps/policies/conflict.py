"""Schedulers for the conflict-graph world (conflict8): GMS and Q-CSMA.

A device is a link; device ``u`` of agent ``k`` has the global index ``k * U + u``. The world
publishes the directed conflict edges ``[i, j]`` (``i`` transmitting breaks ``j`` on the same
subband) in ``WorldSpec.static["conflict_edges"]``. Both schedulers treat two links as
conflicting when an edge joins them in either direction, and the devices of one agent as
conflicting with each other (an agent serves one device per subband), so every schedule they
produce is an independent set of that graph: no scheduled link is broken by another. Only
links with a non-empty queue are scheduled. Scheduled links use the agent's maximum power.

LLQ on this world is the generic ``llq`` policy of `xapps.policies.simple`, driven by the
agent neighbourhoods the world publishes in ``static["neighbours"]``.
"""

from __future__ import annotations

import numpy as np

from ric.protocol import Controls, Reports, WorldSpec
from xapps.policies import PolicyError, register
from xapps.policies.base import Policy


def conflict_matrix(spec: WorldSpec) -> np.ndarray:
    """Symmetric link conflict matrix of a conflict-graph world.

    Returns
    -------
    ndarray, bool, (N, N)
        ``True`` where links ``i`` and ``j`` (``N = K * U``) may not be scheduled on the same
        subband: a directed edge joins them either way, or they belong to the same agent.
        The diagonal is ``False``.
    """
    u = spec.n_users_max
    n = spec.n_nodes * u
    edges = spec.static.get("conflict_edges")
    if edges is None:
        raise PolicyError(f'world {spec.scenario!r} publishes no static["conflict_edges"]')
    try:
        pairs = np.asarray(edges, dtype=np.int64).reshape(-1, 2)
    except (TypeError, ValueError):
        raise PolicyError('static["conflict_edges"] must be a list of [i, j] device pairs') from None
    if pairs.size and (pairs.min() < 0 or pairs.max() >= n):
        raise PolicyError(f'static["conflict_edges"] names a device outside 0..{n - 1}')
    conflict = np.kron(np.eye(spec.n_nodes, dtype=bool), np.ones((u, u), dtype=bool))
    conflict[pairs[:, 0], pairs[:, 1]] = True
    conflict[pairs[:, 1], pairs[:, 0]] = True
    np.fill_diagonal(conflict, False)
    return conflict


def _to_controls(on: np.ndarray, p_max_w: np.ndarray) -> Controls:
    """Controls from an on-set ``(B, S, K, U)`` holding at most one device per agent and subband."""
    b, s, k, _ = on.shape
    served = on.any(axis=3)
    controls = Controls.off(b, k, s)
    controls.user[...] = np.where(served, np.argmax(on, axis=3), -1).transpose(0, 2, 1)
    controls.power_w[...] = np.where(served, p_max_w[None, None, :], 0.0).transpose(0, 2, 1)
    return controls


class _ConflictPolicy(Policy):
    world_kinds = ("conflict",)

    def __init__(self, spec: WorldSpec, seed: int = 0) -> None:
        super().__init__(spec, seed)
        self.conflict = conflict_matrix(spec)
        self._p_max_w = self.max_power_w()

    def _backlog(self, reports: Reports) -> tuple[np.ndarray, np.ndarray]:
        """Queue lengths ``(B, N)`` [packet] (0 for inactive devices) and eligibility ``(B, S, N)``."""
        b, k, u = reports.queue_packets.shape
        queue = np.where(reports.active, np.ceil(reports.queue_packets.astype(np.float64)), 0.0).reshape(b, k * u)
        eligible = self.eligible(reports).transpose(0, 3, 1, 2).reshape(b, self.spec.n_resources, k * u)
        return queue, eligible


@register
class GreedyMaximalScheduling(_ConflictPolicy):
    """GMS (greedy maximal scheduling), centralized: it sees every queue.

    Repeatedly pick the non-empty link with the longest queue (ties uniformly at random),
    schedule it on every subband, and drop it and every link conflicting with it; stop when no
    link is left. The schedule is maximal: every unscheduled non-empty link conflicts with a
    scheduled one.
    """

    name = "gms"

    def __init__(self, spec: WorldSpec, seed: int = 0) -> None:
        super().__init__(spec, seed)
        self._excluded = self.conflict | np.eye(self.conflict.shape[0], dtype=bool)

    def _tie_break(self, shape: tuple[int, ...]) -> np.ndarray:
        """Added to the queues, below one packet: uniformly random order among equal queues."""
        return 0.5 * self.rng.random(shape)

    def decide(self, reports: Reports) -> Controls:
        b, k, u = reports.queue_packets.shape
        queue, eligible = self._backlog(reports)
        score = queue + self._tie_break(queue.shape)
        available = queue > 0
        scheduled = np.zeros_like(available)
        rows = np.arange(b)
        for _ in range(k * u):
            pick = np.argmax(np.where(available, score, -np.inf), axis=1)
            picked = available[rows, pick]
            if not picked.any():
                break
            scheduled[rows[picked], pick[picked]] = True
            available &= ~(self._excluded[pick] & picked[:, None])
        on = scheduled[:, None, :] & eligible
        return _to_controls(on.reshape(b, -1, k, u), self._p_max_w)


@register
class OrderedGreedyMaximalScheduling(GreedyMaximalScheduling):
    """GMS with ties broken by device index (lowest first) instead of at random: a deterministic
    function of the queues, which decentralized learners can imitate without sharing a random
    stream (the default teacher of ``ntnric train mappo`` on conflict worlds)."""

    name = "gms-ordered"

    def _tie_break(self, shape: tuple[int, ...]) -> np.ndarray:
        return np.broadcast_to(-0.5 * np.arange(shape[-1]) / shape[-1], shape)


@register
class QCsma(_ConflictPolicy):
    """Q-CSMA (queue-length based CSMA, Ni, Tan and Srikant 2011), per subband and slot.

    Every non-empty link draws a backoff in ``0..W-1`` mini-slots (``W = 2N``) and announces an
    INTENT when its backoff expires unless it has heard a conflicting link announce earlier;
    conflicting links announcing in the same mini-slot collide and neither joins the decision
    set. A link of the decision set turns on with probability ``10q / (1 + 10q)`` (``q`` its
    queue in packets) if none of its conflicting links was on in the previous slot, else it
    turns off; links outside the decision set keep their previous state; empty links are off.
    Starting from an empty schedule, every slot's schedule is an independent set.
    """

    name = "qcsma"

    def __init__(self, spec: WorldSpec, seed: int = 0) -> None:
        super().__init__(spec, seed)
        self.n_minislots = 2 * self.conflict.shape[0]
        self._conflict_f = self.conflict.astype(np.float64)
        self._state = np.zeros((1, spec.n_resources, self.conflict.shape[0]), dtype=bool)

    def reset(self, batch: int = 1) -> None:
        super().reset(batch)
        self._state = np.zeros((batch, self.spec.n_resources, self.conflict.shape[0]), dtype=bool)

    def decide(self, reports: Reports) -> Controls:
        b, k, u = reports.queue_packets.shape
        if self._state.shape[0] != b:
            self.reset(b)
        queue, eligible = self._backlog(reports)
        shape = self._state.shape  # (B, S, N)
        nonempty = (queue > 0)[:, None, :]
        backoff = np.where(nonempty, self.rng.integers(0, self.n_minislots, size=shape), self.n_minislots)
        heard = np.zeros(shape, dtype=bool)
        announced = np.zeros(shape, dtype=bool)
        collided = np.zeros(shape, dtype=bool)
        for minislot in range(self.n_minislots):
            now = (backoff == minislot) & ~heard
            if not now.any():
                continue
            hits = (now @ self._conflict_f) > 0.0  # links that hear an INTENT in this mini-slot
            announced |= now
            collided |= now & hits
            heard |= hits
        decision = announced & ~collided
        neighbour_was_on = (self._state @ self._conflict_f) > 0.0
        p_on = (10.0 * queue / (1.0 + 10.0 * queue))[:, None, :]
        turn_on = (self.rng.random(shape) < p_on) & ~neighbour_was_on
        state = np.where(decision, turn_on, self._state) & nonempty & eligible
        self._state = state
        return _to_controls(state.reshape(b, -1, k, u), self._p_max_w)
