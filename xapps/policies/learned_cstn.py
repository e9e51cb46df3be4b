"""Learned antenna-power control of the cognitive satellite–terrestrial world (``cstn``): what a
base-station agent observes, how its Q-network's output becomes `Controls`, and the model spec.

The same `CstnFeatures` and `CstnDecoder` run inside training (``models.maddqn``) and in the
xApp (`xapps.policies.learned.OnnxPolicy`), so a model sees exactly what it was trained on.

Observation of agent (base station) ``k`` — ``cstn-demand-v1``
-------------------------------------------------------------
The paper's agents share the global state, the users' demand (the traffic matrix F, §3); the
reports add what a base station can measure about the primary system. In order:

- demand, for every user slot of every node (node ``k``'s own first, then the others in id
  order; ``K·U`` entries each): waiting demand [Mbit] and the newest slot's arrival [Mbit] · 10;
  padded user slots are zero;
- the own users' channel: per user slot and antenna, the gain times the antenna maximum power
  over the noise [dB] / 10, where the user lies in that antenna's sector (0 elsewhere), ``U·S``;
- the satellite users: per node (own first), satellite user and antenna, the gain times the
  antenna maximum power over ``I_th`` [dB] / 10 (how far one antenna at full power lands from the
  cap), ``K·J·S``; and per satellite user last slot's aggregate base-station interference over
  ``I_th`` [dB] / 10, ``J``;
- the agent's one-hot id, ``K`` (one network serves every agent).

dB features are clipped to [−30, 30] dB before scaling. The gains are the reports' CSI (one slot
old unless the world runs with genie CSI).

Action of agent ``k`` — one head of ``(L+1)^S`` joint power levels
-----------------------------------------------------------------
Index ``a`` written in base ``L+1`` with ``S`` digits, antenna 0 the most significant (as the
authors' code enumerates the 125 choices of L = 4): digit ``d_s`` is antenna ``s``'s level, power
``d_s / L · P_max / W`` (0 = off; the world's ``static["power_levels_w"]``; the metadata
lists the levels as fractions of the antenna maximum, so one model runs at any ``P_max``).
Each antenna that is on serves the user of its sector with the most waiting demand (the
paper's demand-ordered association, Algorithm 1); an antenna whose sector has no waiting
demand stays off.

Reward (training only): the terrestrial throughput of the slot [Mbit/s], or the penalty η when
the base stations' interference at any satellite user exceeded ``I_th``
(``SlotKpis.extra["interference_violated"]``).
"""

from __future__ import annotations

from typing import Any

import numpy as np

from ric.protocol import Controls, Reports, WorldSpec

CSTN_FEATURE_BUILDER = "cstn-demand-v1"
CSTN_XAPP_KIND = "cstn-power"
_DB_RANGE = (-30.0, 30.0)
_DB_SCALE = 0.1
_MBIT = 1e-6
_ARRIVAL_SCALE = 10.0


def _cstn_static(spec: WorldSpec) -> dict[str, Any]:
    missing = [key for key in ("sat_users", "power_levels_w", "antenna_max_power_w", "interference_threshold_w",
                               "noise_w") if key not in spec.static]
    if spec.world_kind != "cstn" or missing:
        raise ValueError(f"world {spec.scenario!r} ({spec.world_kind}) is not a cstn world")
    return spec.static


def cstn_observation_spec(spec: WorldSpec) -> dict[str, Any]:
    """The ``observation`` metadata of a cstn power model for this world."""
    static = _cstn_static(spec)
    k, u, s, j = spec.n_nodes, spec.n_users_max, spec.n_resources, len(static["sat_users"])
    return {
        "builder": CSTN_FEATURE_BUILDER,
        "nodes": k,
        "devices_per_agent": u,
        "n_resources": s,
        "sat_users": j,
        "dim": 2 * k * u + u * s + k * j * s + j + k,
    }


def cstn_action_spec(spec: WorldSpec) -> dict[str, Any]:
    """The ``action`` metadata: one head of ``(L+1)^S`` joint levels and the power levels it indexes,
    as fractions of the antenna maximum (so a model runs at any base-station power)."""
    static = _cstn_static(spec)
    p_max_w = float(static["antenna_max_power_w"])
    fractions = [round(float(p) / p_max_w, 9) for p in static["power_levels_w"]]
    s = spec.n_resources
    return {"heads": [(len(fractions) + 1) ** s], "n_resources": s, "levels_per_antenna": len(fractions) + 1,
            "power_level_fractions": fractions, "digit_order": "antenna 0 most significant"}


def cstn_model_spec(spec: WorldSpec) -> dict[str, Any]:
    """What a model must match to run on this world in a ``cstn-power`` xApp."""
    return {"xapp_kind": CSTN_XAPP_KIND, "world_kind": spec.world_kind, "observation": cstn_observation_spec(spec),
            "action": cstn_action_spec(spec)}


def _db(ratio: np.ndarray) -> np.ndarray:
    """Scaled dB of a non-negative ratio, clipped to ``_DB_RANGE``."""
    lo, hi = _DB_RANGE
    out = np.log10(np.maximum(ratio, 10.0 ** (lo / 10.0)).astype(np.float32)) * np.float32(10.0 * _DB_SCALE)
    return np.minimum(out, np.float32(hi * _DB_SCALE))


class CstnFeatures:
    """Builds the ``cstn-demand-v1`` observation of every agent (module docstring).

    Parameters
    ----------
    spec : WorldSpec
        A ``cstn`` world.
    """

    def __init__(self, spec: WorldSpec) -> None:
        static = _cstn_static(spec)
        self.spec = spec
        self.obs = cstn_observation_spec(spec)
        self.dim = int(self.obs["dim"])
        k = spec.n_nodes
        # row k: node k first, then the others in id order
        self.order = np.array([[k_ref, *[o for o in range(k) if o != k_ref]] for k_ref in range(k)], dtype=np.intp)
        p_max_w = float(static["antenna_max_power_w"])
        self._snr_scale = np.float32(p_max_w / float(static["noise_w"]))
        self._cap_scale = np.float32(p_max_w / float(static["interference_threshold_w"]))
        self._inv_threshold = np.float32(1.0 / float(static["interference_threshold_w"]))
        self._one_hot = np.eye(k, dtype=np.float32)

    def build(self, reports: Reports) -> np.ndarray:
        """Observations ``(B, K, dim)`` float32 of every agent for one slot's reports."""
        b, k, _ = reports.queue_bits.shape
        present = reports.active.astype(np.float32)
        waiting = reports.queue_bits * np.float32(_MBIT) * present  # (B, K, U)
        newest = reports.extra["demand_by_age_bits"][..., 0] * np.float32(_MBIT * _ARRIVAL_SCALE) * present
        demand = np.stack([waiting, newest], axis=-1)  # (B, K, U, 2)
        demand_k = demand[:, self.order].reshape(b, k, -1)  # (B, K, K·U·2)
        node_ids = np.arange(k)
        own_gain = reports.gain[:, node_ids, :, :, node_ids].transpose(1, 0, 2, 3)  # (B, K, U, S)
        eligible = reports.extra["eligible"] & reports.active[..., None]
        own_db = _db(own_gain * self._snr_scale) * eligible
        sat_gain = reports.extra["sat_user_gain"]  # (B, K, J, S)
        cap_db = _db(sat_gain * self._cap_scale)[:, self.order].reshape(b, k, -1)  # (B, K, K·J·S)
        sat_i_db = _db(reports.extra["sat_user_interference_w"] * self._inv_threshold)  # (B, K, J)
        one_hot = np.broadcast_to(self._one_hot, (b, k, k))
        return np.concatenate(
            [demand_k, own_db.reshape(b, k, -1), cap_db, sat_i_db, one_hot], axis=-1, dtype=np.float32
        )


class CstnDecoder:
    """Turns joint power indices ``(B, K, 1)`` into `Controls` (module docstring)."""

    def __init__(self, spec: WorldSpec) -> None:
        self.spec = spec
        self.action = cstn_action_spec(spec)
        self.heads = list(self.action["heads"])
        self.levels_per_antenna = int(self.action["levels_per_antenna"])
        table = np.zeros(self.levels_per_antenna, dtype=np.float32)
        table[1:] = spec.static["power_levels_w"]
        self._power_table_w = table  # (L+1,), index 0 = off
        #: (A, S) level of each antenna under each joint index
        self.digits = self.levels_of(np.arange(self.heads[0]))

    def levels_of(self, index: np.ndarray) -> np.ndarray:
        """Per-antenna levels ``(..., S)`` int64 of joint indices ``(...)`` (antenna 0 most significant)."""
        s, base = self.spec.n_resources, self.levels_per_antenna
        powers = base ** np.arange(s - 1, -1, -1)
        return (np.asarray(index, dtype=np.int64)[..., None] // powers) % base

    def power_w(self, index: np.ndarray) -> np.ndarray:
        """Per-antenna power ``(..., S)`` [W] of joint indices ``(...)``."""
        return self._power_table_w[self.levels_of(index)]

    def decode(self, actions: np.ndarray, reports: Reports) -> Controls:
        """Controls for ``actions`` (int, (B, K, 1)): the levels' powers, each antenna serving the
        waiting user of its sector with the most demand (off when there is none)."""
        b, k, _ = actions.shape
        power = self.power_w(actions[..., 0])  # (B, K, S)
        eligible = reports.extra["eligible"] & reports.active[..., None]
        wanted = eligible & (reports.queue_bits[..., None] > 0.0)  # (B, K, U, S)
        score = np.where(wanted, reports.queue_bits[..., None].astype(np.float64), -np.inf)
        user = np.argmax(score, axis=2)  # (B, K, S), lowest slot on ties
        on = wanted.any(axis=2) & (power > 0.0)
        return Controls(
            user=np.where(on, user, -1).astype(np.int16),
            power_w=np.where(on, power, np.float32(0.0)).astype(np.float32),
            mask=np.ones((b, k, self.spec.n_resources), dtype=bool),
            move_m=np.zeros((b, k, 3), dtype=np.float32),
        )


__all__ = [
    "CSTN_FEATURE_BUILDER",
    "CSTN_XAPP_KIND",
    "CstnDecoder",
    "CstnFeatures",
    "cstn_action_spec",
    "cstn_model_spec",
    "cstn_observation_spec",
]
