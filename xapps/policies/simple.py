"""Simple reference policies that work on every world kind: llq, full-power, round-robin, random.

All are vectorized over the batch, nodes, users and resources; none needs CSI.
"""

from __future__ import annotations

import numpy as np

from ric.protocol import Controls, Reports, WorldSpec
from xapps.policies import register
from xapps.policies.base import Policy


def _neighbourhood(spec: WorldSpec) -> np.ndarray:
    """(K, K) bool: node j is node k's neighbour or k itself (from ``static["neighbours"]``)."""
    k = spec.n_nodes
    mask = np.eye(k, dtype=bool)
    for node, neighbours in enumerate(spec.static.get("neighbours", [[] for _ in range(k)])):
        mask[node, list(neighbours)] = True
    return mask


@register
class LongestQueueFirst(Policy):
    """LLQ (longest queue first, local), as in Zhang & Guo's baseline.

    Each node looks at the queues of its own users and of its neighbours' users (the world's
    ``static["neighbours"]``; a world without neighbour lists makes LLQ purely local). If the
    longest non-empty queue of that neighbourhood is one of its own users, it serves that user on
    every resource the user may use, at full power; otherwise it stays silent. Ties are broken
    uniformly at random (a random jitter below one packet, drawn once per slot per user so that
    neighbouring nodes agree).
    """

    name = "llq"

    def __init__(self, spec: WorldSpec, seed: int = 0) -> None:
        super().__init__(spec, seed)
        # (K, K) additive mask: 0 inside node k's neighbourhood, -inf outside
        self._outside = np.where(_neighbourhood(spec), 0.0, -np.inf)
        self._p_max = self.max_power_w()

    def decide(self, reports: Reports) -> Controls:
        b, k, u = reports.queue_packets.shape
        s = self.spec.n_resources
        queue = reports.queue_packets
        jitter = self.rng.random((b, k, u))
        jitter *= 0.5
        score = np.where(reports.active & (queue > 0), np.ceil(queue) + jitter, -np.inf)  # (B, K, U)
        best_user = score.argmax(axis=2)  # (B, K)
        own_best = score.max(axis=2)  # (B, K)
        neighbourhood_best = (own_best[:, None, :] + self._outside).max(axis=2)
        serve = np.isfinite(own_best) & (own_best >= neighbourhood_best)  # (B, K)
        on = np.broadcast_to(serve[..., None], (b, k, s))
        eligible = reports.extra.get("eligible")
        if eligible is not None:  # the chosen user may use only some resources
            on = on & np.take_along_axis(eligible, best_user[:, :, None, None], axis=2)[:, :, 0, :]
        return Controls(
            user=np.where(on, best_user[..., None], -1).astype(np.int16),
            power_w=np.where(on, self._p_max[None, :, None], np.float32(0.0)).astype(np.float32),
            mask=np.ones((b, k, s), dtype=bool),
            move_m=np.zeros((b, k, 3), dtype=np.float32),
        )


@register
class FullPower(Policy):
    """Every resource always on at maximum power, serving the node's eligible user with the
    longest queue on that resource (lowest index on ties). No coordination between nodes."""

    name = "full-power"

    def __init__(self, spec: WorldSpec, seed: int = 0) -> None:
        super().__init__(spec, seed)
        self._p_max = self.max_power_w()

    def decide(self, reports: Reports) -> Controls:
        b, k, _ = reports.queue_bits.shape
        s = self.spec.n_resources
        eligible = self.eligible(reports)
        score = np.where(eligible, reports.queue_bits[..., None].astype(np.float64), -np.inf)
        user = np.argmax(score, axis=2)  # (B, K, S)
        on = eligible.any(axis=2)
        controls = Controls.off(b, k, s)
        controls.user[...] = np.where(on, user, -1)
        controls.power_w[...] = np.where(on, self._p_max[None, :, None], 0.0)
        return controls


@register
class RoundRobin(Policy):
    """Each node cycles through its eligible users, resource by resource, at maximum power.

    A per-node pointer advances by the number of resources every slot, so over time every
    active user gets the same share of resources.
    """

    name = "round-robin"

    def __init__(self, spec: WorldSpec, seed: int = 0) -> None:
        super().__init__(spec, seed)
        self._p_max = self.max_power_w()
        self._pointer = np.zeros((1, spec.n_nodes), dtype=np.int64)

    def reset(self, batch: int = 1) -> None:
        super().reset(batch)
        self._pointer = np.zeros((batch, self.spec.n_nodes), dtype=np.int64)

    def decide(self, reports: Reports) -> Controls:
        b, k, u = reports.queue_bits.shape
        s = self.spec.n_resources
        if self._pointer.shape[0] != b:
            self.reset(b)
        eligible = self.eligible(reports)  # (B, K, U, S)
        # candidate order for resource r: users pointer + r, pointer + r + 1, ... (mod U)
        offsets = (self._pointer[:, :, None, None] + np.arange(s)[None, None, :, None] + np.arange(u)) % u
        ok = np.take_along_axis(eligible.transpose(0, 1, 3, 2), offsets, axis=3)  # (B, K, S, U)
        first = np.argmax(ok, axis=3)
        on = ok.any(axis=3)
        user = np.take_along_axis(offsets, first[..., None], axis=3)[..., 0]
        self._pointer = (self._pointer + s) % u
        controls = Controls.off(b, k, s)
        controls.user[...] = np.where(on, user, -1)
        controls.power_w[...] = np.where(on, self._p_max[None, :, None], 0.0)
        return controls


@register
class RandomPolicy(Policy):
    """Each resource serves a uniformly random eligible user at a uniformly random power level
    of the node (its ``power_levels_dbm``; maximum power when it announces none)."""

    name = "random"

    def __init__(self, spec: WorldSpec, seed: int = 0) -> None:
        super().__init__(spec, seed)
        p_max = self.max_power_w()
        n_levels = max(max((len(n.power_levels_dbm) for n in spec.nodes), default=0), 1)
        levels = np.empty((spec.n_nodes, n_levels), dtype=np.float32)
        for i, node in enumerate(spec.nodes):
            dbm = np.asarray(node.power_levels_dbm or (node.max_power_dbm,), dtype=np.float64)
            levels[i] = 10 ** ((np.resize(dbm, n_levels) - 30.0) / 10.0)
        self._levels_w = np.minimum(levels, p_max[:, None])

    def decide(self, reports: Reports) -> Controls:
        b, k, u = reports.queue_bits.shape
        s = self.spec.n_resources
        eligible = self.eligible(reports)
        score = np.where(eligible, self.rng.random((b, k, u, s)), -1.0)
        user = np.argmax(score, axis=2)
        on = eligible.any(axis=2)
        level = self.rng.integers(0, self._levels_w.shape[1], size=(b, k, s))
        power = self._levels_w[np.arange(k)[None, :, None], level]  # (B, K, S)
        controls = Controls.off(b, k, s)
        controls.user[...] = np.where(on, user, -1)
        controls.power_w[...] = np.where(on, power, 0.0)
        return controls
