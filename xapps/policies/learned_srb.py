"""Learned subchannel allocation of the TN–NTN SRB world (``srb``): what the SRB agents observe,
how they decide in sequence within a slot, and how their actions become `Controls`.

Le, Vu, Andrenacci, Chatzinotas, "Constrained MARL for Coexisting TN-NTN Resource Allocation",
§III-A (decomposition into SRBs, agents of a BS acting in sequence) and §III-C (observation,
action, power rule).

Every base station ``n`` splits its ``F`` subchannels into ``M = F / srb_size`` SRBs; agent
``(n, m)`` allocates SRB ``m``. The agents of a BS decide in the order ``m = 0, 1, …, M−1``,
agent ``m`` seeing the rates granted by agents ``< m`` of its BS. A model runs all of them in
one call: its graph takes one row per base station (the *BS row* below), loops over ``m``
inside, computes every agent's observation from the BS row and the rates its predecessors
granted, and returns every agent's action scores (``logits``). One ``session.run`` decides every
SRB of every BS of every world of the batch. A flat model (one agent per BS over all ``F``
subchannels, the MAPPO / IPPO baselines) reads the same BS row as a single "SRB" of ``F``
subchannels, so it runs in the same policy.

BS row of base station ``n`` — ``srb-seq-v1`` (one row per BS, ``dim`` numbers)
-------------------------------------------------------------------------------
With ``U`` = K_max user slots per BS, ``K`` base stations (also the transmitters ``T``):

- ``F·U``: per subchannel ``f`` (SRB-major, so SRB ``m`` is the contiguous block
  ``m·srb_size·U … (m+1)·srb_size·U``) and user slot ``u``: the SINR user ``u`` of BS ``n`` would
  have on ``f`` if ``n`` served it alone on its SRB, ``|h|²·(p_max/M) / (I+N)`` with the reported
  (one-slot-old) gain and last slot's interference plus noise, in dB / 10, clipped to
  [−30, 60] dB; absent user slots hold the lower clip;
- ``K·U·T``: path loss of every BS ``t`` to every user slot of every BS, as the SNR it would give at
  the SRB power, ``p_max,t/M − PL − N`` [dB] / 10, clipped; zero for absent slots (the paper's
  "pathloss of all BSs to all users");
- ``K·U``: the user-presence mask ψ of every BS;
- ``K``: one-hot of ``n``.

Observation of agent ``(n, m)`` (built inside the model; `agent_observation` here)
----------------------------------------------------------------------------------
``[SRB m's block (srb_size·U), path loss, presence, BS one-hot, agent one-hot (M·K), Ψ/η (U)]``
where the agent one-hot marks agent ``(n, m)`` at index ``m·K + n`` (one network serves every
agent, so it tells which BS and which SRB it acts for)
where ``Ψ_k = Σ_{m' < m} Σ_{f ∈ SRB m'} R_{k,f}`` is the rate the preceding agents of BS ``n``
granted user ``k`` (the paper's Ψ_{n,m,k}), estimated from the BS row: on an SRB with ``a``
active subchannels a subchannel gets ``p_max / (M·a)`` (the world's power rule), so its rate is
``W·log2(1 + SINR_f / a)`` with ``SINR_f`` the (un-clipped within range) SINR of the row. Ψ/η is
capped at `GRANTED_CAP`.

Action of agent ``(n, m)`` — ``srb_size`` heads of ``U + 1``
------------------------------------------------------------
Per subchannel of its SRB: ``0`` = off, ``i`` = user slot ``i − 1``. Absent users are masked
inside the model (their score is set to `MASKED_LOGIT`), so a greedy action never names one. The
model's ``logits`` output stacks the agents' scores in subchannel order: ``F`` heads of ``U + 1``
per BS row, greedy = argmax per head (the same actions the graph chose in its loop).
`SrbDecoder` sends the chosen user at the node's per-subchannel cap ``p_max / M`` so the world's
power rule (equal over SRBs, uniform over the SRB's active subchannels) applies unchanged.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np

from ric.protocol import Controls, Reports, WorldSpec

SRB_FEATURE_BUILDER = "srb-seq-v1"
SRB_XAPP_KIND = "srb-allocator"
#: Clip range of the dB features [dB].
DB_RANGE = (-30.0, 60.0)
_DB_SCALE = 0.1
#: Largest Ψ/η an agent observes (granted rate in units of the minimum rate).
GRANTED_CAP = 5.0
#: Score of an absent user inside the model.
MASKED_LOGIT = -1.0e4


def _dbm_to_w(dbm: float) -> float:
    return float(10.0 ** ((dbm - 30.0) / 10.0))


@dataclass(frozen=True)
class SrbLayout:
    """Sizes and constants of an srb world that the features, the model and the decoder share.

    Attributes
    ----------
    n_nodes : int
        ``K`` base stations (= transmitters).
    n_users : int
        ``U`` = K_max user slots per BS.
    n_subchannels : int
        ``F``.
    srb_size : int
        Subchannels per SRB.
    agents_per_node : int
        ``M = F / srb_size``.
    subchannel_bandwidth_hz : float
        ``W`` [Hz].
    qos_min_rate_bps : float
        ``η`` [bit/s].
    srb_power_w : ndarray, float64, (K,)
        ``p_max / M`` of every BS [W], also its per-subchannel control cap.
    noise_w : float
        Noise power per subchannel [W].
    """

    n_nodes: int
    n_users: int
    n_subchannels: int
    srb_size: int
    agents_per_node: int
    subchannel_bandwidth_hz: float
    qos_min_rate_bps: float
    srb_power_w: np.ndarray
    noise_w: float

    @classmethod
    def from_spec(cls, spec: WorldSpec) -> SrbLayout:
        """Read the layout of an ``srb`` world; ValueError (one line) for any other world."""
        static = spec.static
        if spec.world_kind != "srb" or "srb_size" not in static or "qos_min_rate_bps" not in static:
            raise ValueError(f"world {spec.scenario!r} ({spec.world_kind}) is not an srb world")
        srb_size = int(static["srb_size"])
        return cls(
            n_nodes=spec.n_nodes,
            n_users=spec.n_users_max,
            n_subchannels=spec.n_resources,
            srb_size=srb_size,
            agents_per_node=spec.n_resources // srb_size,
            subchannel_bandwidth_hz=float(spec.resource_bandwidth_hz),
            qos_min_rate_bps=float(static["qos_min_rate_bps"]),
            srb_power_w=np.array([_dbm_to_w(n.max_power_dbm) for n in spec.nodes]),
            noise_w=_dbm_to_w(spec.noise_dbm),
        )

    @property
    def row_dim(self) -> int:
        """Size of a BS row: ``F·U + K·U·T + K·U + K``."""
        k, u = self.n_nodes, self.n_users
        return self.n_subchannels * u + k * u * k + k * u + k

    @property
    def common_dim(self) -> int:
        """Size of the BS row's part every agent of the BS sees whole (path loss, presence, one-hot)."""
        return self.row_dim - self.n_subchannels * self.n_users

    @property
    def rate_scale(self) -> float:
        """``W / η``: a subchannel's rate per bit/s/Hz in units of the minimum rate."""
        return self.subchannel_bandwidth_hz / self.qos_min_rate_bps

    def agent_dim(self, block_size: int) -> int:
        """Observation size of an agent that allocates ``block_size`` subchannels."""
        n_blocks = self.n_subchannels // block_size
        return block_size * self.n_users + self.common_dim + n_blocks * self.n_nodes + self.n_users


def srb_observation_spec(spec: WorldSpec) -> dict[str, Any]:
    """The ``observation`` metadata of an SRB model for this world (compared on load and deploy)."""
    layout = SrbLayout.from_spec(spec)
    return {
        "builder": SRB_FEATURE_BUILDER,
        "nodes": layout.n_nodes,
        "devices_per_agent": layout.n_users,
        "n_subchannels": layout.n_subchannels,
        "srb_size": layout.srb_size,
        "dim": layout.row_dim,
        "subchannel_bandwidth_hz": layout.subchannel_bandwidth_hz,
        "qos_min_rate_bps": layout.qos_min_rate_bps,
    }


def srb_action_spec(spec: WorldSpec) -> dict[str, Any]:
    """The ``action`` metadata: ``F`` heads of ``U + 1`` (off or a user slot) per BS row."""
    layout = SrbLayout.from_spec(spec)
    return {"heads": [layout.n_users + 1] * layout.n_subchannels, "n_resources": layout.n_subchannels,
            "devices_per_agent": layout.n_users}


def srb_model_spec(spec: WorldSpec) -> dict[str, Any]:
    """What a model must match to run on this world in an ``srb-allocator`` xApp."""
    return {"xapp_kind": SRB_XAPP_KIND, "world_kind": spec.world_kind, "observation": srb_observation_spec(spec),
            "action": srb_action_spec(spec)}


class SrbFeatures:
    """Builds the ``srb-seq-v1`` BS rows (module docstring) from one slot's reports.

    Parameters
    ----------
    spec : WorldSpec
        An ``srb`` world.
    """

    def __init__(self, spec: WorldSpec) -> None:
        self.spec = spec
        self.layout = SrbLayout.from_spec(spec)
        self.dim = self.layout.row_dim
        lay = self.layout
        self._srb_power_w = lay.srb_power_w.astype(np.float32)  # (K,)
        srb_power_dbm = 10.0 * np.log10(lay.srb_power_w) + 30.0
        self._pl_offset_db = (srb_power_dbm - spec.noise_dbm).astype(np.float32)  # (T,)
        self._onehot = np.eye(lay.n_nodes, dtype=np.float32)
        self._noise_w = np.float32(lay.noise_w)
        self._lo = np.float32(DB_RANGE[0] * _DB_SCALE)
        self._hi = np.float32(DB_RANGE[1] * _DB_SCALE)

    def build(self, reports: Reports) -> np.ndarray:
        """BS rows ``(B, K, dim)`` float32 for one slot's reports."""
        lay = self.layout
        b, k, u = reports.active.shape
        f = lay.n_subchannels
        present = reports.active  # (B, K, U)
        sinr = np.empty((b, k, u, f), dtype=np.float32)
        np.maximum(reports.interference_w, self._noise_w, out=sinr)
        for n in range(k):  # own gain |h_{k,n,f}|² of BS n's users
            np.divide(reports.gain[:, n, :, :, n], sinr[:, n], out=sinr[:, n])
        sinr *= self._srb_power_w[None, :, None, None]
        np.maximum(sinr, np.float32(1e-30), out=sinr)
        np.log10(sinr, out=sinr)  # dB / 10
        np.clip(sinr, self._lo, self._hi, out=sinr)
        sinr[~present] = self._lo
        out = np.empty((b, k, lay.row_dim), dtype=np.float32)
        out[..., : f * u].reshape(b, k, f, u)[...] = sinr.transpose(0, 1, 3, 2)
        pl_snr = (self._pl_offset_db - reports.extra["pathloss_db"]) * np.float32(_DB_SCALE)  # (B, K, U, T)
        np.clip(pl_snr, self._lo, self._hi, out=pl_snr)
        pl_snr = np.where(present[..., None], pl_snr, np.float32(0.0)).reshape(b, 1, k * u * k)
        at = f * u
        out[..., at : at + k * u * k] = pl_snr
        at += k * u * k
        out[..., at : at + k * u] = present.reshape(b, 1, k * u).astype(np.float32)
        at += k * u
        out[..., at:] = self._onehot[None]
        return out


def agent_observation(rows: np.ndarray, layout: SrbLayout, block_size: int, m: int, granted: np.ndarray
                      ) -> np.ndarray:
    """Observation ``(N, agent_dim)`` of agent ``m`` (block of ``block_size`` subchannels) of every row.

    Parameters
    ----------
    rows : ndarray, float32, (N, row_dim)
        BS rows (`SrbFeatures.build`, flattened over worlds and BSs).
    granted : ndarray, float32, (N, U)
        Ψ/η: rates granted by agents ``< m`` of the row's BS, in units of η.
    """
    u, f = layout.n_users, layout.n_subchannels
    n_blocks = f // block_size
    block = rows[:, m * block_size * u : (m + 1) * block_size * u]
    k = layout.n_nodes
    onehot = np.zeros((rows.shape[0], n_blocks * k), dtype=np.float32)
    onehot[:, m * k : (m + 1) * k] = rows[:, -k:]  # index m·K + n for the row of BS n
    return np.concatenate([block, rows[:, f * u :], onehot, np.minimum(granted, GRANTED_CAP)], axis=1)


def granted_rates(rows: np.ndarray, layout: SrbLayout, block_size: int, m: int, actions: np.ndarray
                  ) -> np.ndarray:
    """Ψ/η ``(N, U)`` that agent ``m``'s ``actions`` (N, block_size) ∈ {0 off, 1..U} grant (module docstring)."""
    u = layout.n_users
    block = rows[:, m * block_size * u : (m + 1) * block_size * u].reshape(-1, block_size, u)
    on = actions > 0
    n_on = np.maximum(on.sum(axis=1, keepdims=True), 1).astype(np.float32)  # (N, 1)
    per_sub = np.float32(layout.rate_scale) * np.log2(1.0 + np.power(np.float32(10.0), block) / n_on[..., None])
    chosen = (actions[..., None] == np.arange(1, u + 1)) & on[..., None]  # (N, block, U)
    return (per_sub * chosen).sum(axis=1).astype(np.float32)


def own_presence(rows: np.ndarray, layout: SrbLayout) -> np.ndarray:
    """Presence ``(N, U)`` bool of each row's own users (from the presence and one-hot parts)."""
    k, u, f = layout.n_nodes, layout.n_users, layout.n_subchannels
    at = f * u + k * u * k
    presence = rows[:, at : at + k * u].reshape(-1, k, u)
    node = rows[:, at + k * u : at + k * u + k]
    return (np.einsum("nk,nku->nu", node, presence) > 0.5)


class SrbDecoder:
    """Turns greedy actions ``(B, K, F)`` (0 off, ``i`` user slot ``i − 1``) into `Controls`."""

    def __init__(self, spec: WorldSpec) -> None:
        self.spec = spec
        self.layout = SrbLayout.from_spec(spec)
        self.heads = [self.layout.n_users + 1] * self.layout.n_subchannels
        self._cap_w = self.layout.srb_power_w.astype(np.float32)[None, :, None]

    def decode(self, actions: np.ndarray, reports: Reports) -> Controls:
        """Controls for ``actions`` (int, (B, K, F)); "off" and absent users leave the subchannel off."""
        b, k, f = actions.shape
        user = actions.astype(np.int64) - 1
        chosen_active = np.take_along_axis(reports.active, np.maximum(user, 0), axis=2)
        on = (user >= 0) & chosen_active
        return Controls(
            user=np.where(on, user, -1).astype(np.int16),
            power_w=np.where(on, self._cap_w, np.float32(0.0)).astype(np.float32),
            mask=np.ones((b, k, f), dtype=bool),
            move_m=np.zeros((b, k, 3), dtype=np.float32),
        )


def sequential_greedy(rows: np.ndarray, layout: SrbLayout, block_size: int, scores: Any) -> np.ndarray:
    """Reference sequential decision of all agents of every row: greedy actions ``(N, F)``.

    ``scores(m, obs)`` returns agent ``m``'s scores ``(N, block_size, U + 1)`` for its
    observations ``obs`` (N, agent_dim); absent users are masked here as in the model. The
    exported graphs implement exactly this loop; the tests compare them with it.
    """
    n = rows.shape[0]
    u = layout.n_users
    present = own_presence(rows, layout)
    granted = np.zeros((n, u), dtype=np.float32)
    out = np.zeros((n, layout.n_subchannels), dtype=np.int64)
    for m in range(layout.n_subchannels // block_size):
        obs = agent_observation(rows, layout, block_size, m, granted)
        logits = np.asarray(scores(m, obs), dtype=np.float32).copy()
        logits[..., 1:] = np.where(present[:, None, :], logits[..., 1:], np.float32(MASKED_LOGIT))
        act = logits.argmax(axis=-1)
        out[:, m * block_size : (m + 1) * block_size] = act
        granted = granted + granted_rates(rows, layout, block_size, m, act)
    return out


def block_count(layout: SrbLayout, block_size: int) -> int:
    """Agents per BS for a model whose agents allocate ``block_size`` subchannels each."""
    if block_size <= 0 or layout.n_subchannels % block_size:
        raise ValueError(f"block size {block_size} does not divide {layout.n_subchannels} subchannels")
    return layout.n_subchannels // block_size


__all__ = [
    "DB_RANGE",
    "GRANTED_CAP",
    "MASKED_LOGIT",
    "SRB_FEATURE_BUILDER",
    "SRB_XAPP_KIND",
    "SrbDecoder",
    "SrbFeatures",
    "SrbLayout",
    "agent_observation",
    "block_count",
    "granted_rates",
    "own_presence",
    "sequential_greedy",
    "srb_action_spec",
    "srb_model_spec",
    "srb_observation_spec",
]
