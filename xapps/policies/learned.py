"""Learned per-node policies: the schedulers' feature builder and action decoding, the table of
world kinds a model can run on (`KIND_MODELS`; cstn's entry lives in `xapps.policies.learned_cstn`,
srb's in `xapps.policies.learned_srb`) and the ``onnx:PATH`` policy.

The same `NeighbourhoodFeatures` and `decode_actions` run inside training (``models``) and in
the xApp, so a model sees exactly what it was trained on.

Observation of agent (node) ``k`` — ``neighbourhood-v1``
--------------------------------------------------------
Blocks of ``U`` devices (padded user slots; dummy slots are all zero): first node ``k``'s own
devices, then each neighbour's (``static["neighbours"]`` in id order, zero blocks up to the
largest neighbourhood ``M`` of the world). Per device, ``2 + 5·S`` numbers:

- present (1 for an active user, 0 for a dummy slot) and ``log1p(queue_packets)``;
- per resource: last slot's spectral efficiency / 10 [bit/s/Hz], last slot's interference
  plus noise over the noise floor [dB] / 10, the own node's channel gain times maximum power
  over the noise [dB] / 10, agent ``k``'s channel gain to the device times maximum power over
  the noise [dB] / 10 (how hard ``k`` would hit it; for own devices the same as the previous),
  and whether it was scheduled last slot (worlds that report ``extra["scheduled"]``).

dB features are clipped to [−30, 100] dB before scaling. Then, per resource, the power node
``k`` transmitted last slot over its maximum (worlds that report ``extra["tx_power_w"]``).
The paper's observation is the queue, spectral efficiency and interference part; the channel
gains and the schedule flag are this project's additions (the reports carry them).

Action of agent ``k`` — multi-discrete, ``2·S`` heads
-----------------------------------------------------
Heads ``0..S−1``: device per resource, ``0`` = none, ``i`` = user slot ``i−1`` (size ``U+1``).
Heads ``S..2S−1``: power per resource, ``0`` = off, ``l`` = the node's ``power_levels_dbm[l−1]``
(size ``L+1``). A dummy slot, or an empty queue, leaves the resource silent.

Reward (training only): minus the packets queued at the agent's own and its neighbours'
devices (`neighbourhood_matrix`).
"""

from __future__ import annotations

import itertools
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Protocol

import numpy as np

from ric.protocol import Controls, Reports, WorldSpec
from ric.protocol.models import (
    INPUT_OBS,
    INPUT_STATE,
    OUTPUT_LOGITS,
    OUTPUT_STATE,
    ModelError,
    ModelInfo,
    session_options,
    validate_model,
)
from xapps.policies.base import Policy
from xapps.policies.learned_cstn import CstnDecoder, CstnFeatures, cstn_model_spec
from xapps.policies.learned_srb import SrbDecoder, SrbFeatures, srb_model_spec

FEATURE_BUILDER = "neighbourhood-v1"
XAPP_KIND = "bs-scheduler"
_DB_RANGE = (-30.0, 100.0)
_DB_SCALE = 0.1
_SE_SCALE = 0.1
FEATURE_MIN = _DB_RANGE[0] * _DB_SCALE
"""Smallest value any observation feature takes (a clipped dB feature)."""


def neighbourhood_matrix(spec: WorldSpec) -> np.ndarray:
    """(K, K) float32: row ``k`` is 1 on node ``k`` and its neighbours (``static["neighbours"]``)."""
    k = spec.n_nodes
    mask = np.eye(k, dtype=np.float32)
    for node, neighbours in enumerate(spec.static.get("neighbours", [[] for _ in range(k)])):
        mask[node, list(neighbours)] = 1.0
    return mask


def _levels_dbm(spec: WorldSpec) -> list[list[float]]:
    return [list(n.power_levels_dbm or (n.max_power_dbm,)) for n in spec.nodes]


def observation_spec(spec: WorldSpec) -> dict[str, Any]:
    """The ``observation`` metadata of a model for this world (compared on load and deploy)."""
    u, s = spec.n_users_max, spec.n_resources
    m = max((len(n) for n in spec.static.get("neighbours", [])), default=0)
    per_device = 2 + 5 * s
    return {
        "builder": FEATURE_BUILDER,
        "devices_per_agent": u,
        "max_neighbours": m,
        "n_resources": s,
        "per_device": per_device,
        "per_agent": s,
        "dim": (1 + m) * u * per_device + s,
    }


def action_spec(spec: WorldSpec) -> dict[str, Any]:
    """The ``action`` metadata: head sizes and the power levels they index."""
    u, s = spec.n_users_max, spec.n_resources
    levels = _levels_dbm(spec)
    n_levels = max(len(row) for row in levels)
    return {"heads": [u + 1] * s + [n_levels + 1] * s, "n_resources": s, "devices_per_agent": u,
            "power_levels_dbm": levels}


def scheduler_model_spec(spec: WorldSpec) -> dict[str, Any]:
    """What a model must match to run on this world in a ``bs-scheduler`` xApp."""
    return {"xapp_kind": XAPP_KIND, "world_kind": spec.world_kind, "observation": observation_spec(spec),
            "action": action_spec(spec)}


def model_spec(spec: WorldSpec) -> dict[str, Any]:
    """What a model must match to run on this world (its world kind's entry of `KIND_MODELS`)."""
    return kind_model(spec).model_spec(spec)


class NeighbourhoodFeatures:
    """Builds the ``neighbourhood-v1`` observation of every agent (module docstring).

    Parameters
    ----------
    spec : WorldSpec
        The world (nodes, neighbour lists, noise, power limits).
    """

    def __init__(self, spec: WorldSpec) -> None:
        self.spec = spec
        self.obs = observation_spec(spec)
        k, m = spec.n_nodes, self.obs["max_neighbours"]
        self.dim = int(self.obs["dim"])
        # (K, 1+M): the node itself, then its neighbours; K (an all-zero padding node) fills the rest
        blocks = np.full((k, 1 + m), k, dtype=np.intp)
        blocks[:, 0] = np.arange(k)
        for node, neighbours in enumerate(spec.static.get("neighbours", [[] for _ in range(k)])):
            blocks[node, 1 : 1 + len(neighbours)] = sorted(neighbours)
        self.blocks = blocks
        noise_w = 10.0 ** ((spec.noise_dbm - 30.0) / 10.0)
        self._p_max_w = np.array([10.0 ** ((n.max_power_dbm - 30.0) / 10.0) for n in spec.nodes])
        self._snr_scale = (self._p_max_w / noise_w).astype(np.float32)  # (T,)
        self._inv_noise = np.float32(1.0 / noise_w)

    @staticmethod
    def _db(linear: np.ndarray) -> np.ndarray:
        """Scaled dB of a positive ratio, clipped (module docstring)."""
        lo, hi = _DB_RANGE
        out = np.maximum(linear, np.float32(10.0 ** (lo / 10.0)))
        np.log10(out, out=out)
        out *= np.float32(10.0 * _DB_SCALE)
        np.minimum(out, np.float32(hi * _DB_SCALE), out=out)
        return out

    def build(self, reports: Reports) -> np.ndarray:
        """Observations ``(B, K, dim)`` float32 of every agent for one slot's reports."""
        b, k, u = reports.queue_packets.shape
        s = self.spec.n_resources
        present = reports.active.astype(np.float32)  # (B, K, U)
        gain = reports.gain  # (B, K, U, S, T)
        node_ids = np.arange(k)
        own_gain = gain[:, node_ids, :, :, node_ids]  # (K, B, U, S): advanced axes first
        own_db = self._db(own_gain.transpose(1, 0, 2, 3) * self._snr_scale[None, :, None, None])
        inr_db = self._db(reports.interference_w * self._inv_noise)
        se = reports.spectral_efficiency_bps_hz * np.float32(_SE_SCALE)
        scheduled = reports.extra.get("scheduled")
        sched = np.zeros((b, k, u, s), np.float32) if scheduled is None else scheduled.astype(np.float32)
        # observer-independent per-device features, plus a zero padding node: (B, K+1, U, F0)
        base = np.zeros((b, k + 1, u, 2 + 4 * s), dtype=np.float32)
        base[:, :k, :, 0] = present
        base[:, :k, :, 1] = np.log1p(reports.queue_packets) * present
        base[:, :k, :, 2 : 2 + s] = se
        base[:, :k, :, 2 + s : 2 + 2 * s] = inr_db * present[..., None]
        base[:, :k, :, 2 + 2 * s : 2 + 3 * s] = own_db * present[..., None]
        base[:, :k, :, 2 + 3 * s : 2 + 4 * s] = sched
        blocks = base[:, self.blocks]  # (B, K, 1+M, U, F0)
        # observer k's gain to every device of its blocks: gain[b, blocks[k, j], u, s, k]
        padded = np.zeros((b, k + 1, u, s, k), dtype=np.float32)
        padded[:, :k] = gain
        cross = padded[:, self.blocks, :, :, node_ids[:, None]]  # (K, 1+M, B, U, S)
        cross = cross.transpose(2, 0, 1, 3, 4) * self._snr_scale[None, :, None, None, None]
        cross_db = self._db(cross) * (blocks[..., 0:1] > 0)
        per_device = np.concatenate([blocks, cross_db], axis=-1)  # (B, K, 1+M, U, 2+5S)
        tx = reports.extra.get("tx_power_w")
        tx_share = np.zeros((b, k, s), np.float32) if tx is None else (tx / self._p_max_w[None, :, None])
        return np.concatenate([per_device.reshape(b, k, -1), tx_share.astype(np.float32)], axis=-1)


class ActionDecoder:
    """Turns multi-discrete actions ``(B, K, 2S)`` into `Controls` (module docstring)."""

    def __init__(self, spec: WorldSpec) -> None:
        self.spec = spec
        self.action = action_spec(spec)
        self.heads = list(self.action["heads"])
        levels = _levels_dbm(spec)
        n_levels = self.heads[-1] - 1
        table = np.zeros((spec.n_nodes, n_levels + 1), dtype=np.float32)
        for node, row in enumerate(levels):
            watts = [10.0 ** ((dbm - 30.0) / 10.0) for dbm in row]
            table[node, 1 : 1 + len(watts)] = watts
        self._power_table_w = table  # (K, L+1), column 0 = off
        self._node_index = np.arange(spec.n_nodes)[None, :, None]

    def decode(self, actions: np.ndarray, reports: Reports) -> Controls:
        """Controls for ``actions`` (int, (B, K, 2S)); dummy slots and "none"/"off" are silent."""
        b, k, _ = actions.shape
        s = self.spec.n_resources
        device = actions[..., :s] - 1  # (B, K, S), -1 = none
        power = self._power_table_w[self._node_index, actions[..., s:]]
        chosen_active = np.take_along_axis(reports.active, np.maximum(device, 0), axis=2)
        on = (device >= 0) & chosen_active & (power > 0)
        return Controls(
            user=np.where(on, device, -1).astype(np.int16),
            power_w=np.where(on, power, np.float32(0.0)),
            mask=np.ones((b, k, s), dtype=bool),
            move_m=np.zeros((b, k, 3), dtype=np.float32),
        )


def split_argmax(logits: np.ndarray, heads: list[int]) -> np.ndarray:
    """Greedy action per head: ``(N, sum(heads))`` logits → ``(N, len(heads))`` int64.

    Consecutive heads of one size are reduced in one call (the device heads, then the power heads).
    """
    out = np.empty((logits.shape[0], len(heads)), dtype=np.int64)
    start = head = 0
    for size, group in itertools.groupby(heads):
        n = len(list(group))
        block = logits[:, start : start + n * size].reshape(-1, n, size)
        out[:, head : head + n] = block.argmax(axis=2)
        start += n * size
        head += n
    return out


class FeatureBuilder(Protocol):
    """Observation builder of a world kind: ``build(reports)`` → ``(B, K, dim)`` float32."""

    dim: int

    def build(self, reports: Reports) -> np.ndarray: ...


class Decoder(Protocol):
    """Action decoding of a world kind: greedy actions ``(B, K, len(heads))`` → `Controls`."""

    heads: list[int]

    def decode(self, actions: np.ndarray, reports: Reports) -> Controls: ...


@dataclass(frozen=True)
class KindModel:
    """How models of one world kind see the world and act on it.

    Attributes
    ----------
    features, decoder : callable
        Build the observation builder and the action decoder from the world's spec.
    model_spec : callable
        The model spec (xApp kind, observation, action) a model must match.
    fallback : str or None
        Policy deciding a slot whose model outputs are not finite; None: every resource off.
    """

    features: Callable[[WorldSpec], FeatureBuilder]
    decoder: Callable[[WorldSpec], Decoder]
    model_spec: Callable[[WorldSpec], dict[str, Any]]
    fallback: str | None


_SCHEDULER = KindModel(NeighbourhoodFeatures, ActionDecoder, scheduler_model_spec, "llq")
#: World kind → how its models are built and checked (one entry per kind).
KIND_MODELS: dict[str, KindModel] = {
    "multicell": _SCHEDULER,
    "conflict": _SCHEDULER,
    "cstn": KindModel(CstnFeatures, CstnDecoder, cstn_model_spec, None),
    "srb": KindModel(SrbFeatures, SrbDecoder, srb_model_spec, "equal-split"),
}


def kind_model(spec: WorldSpec) -> KindModel:
    """The `KIND_MODELS` entry of ``spec``'s world kind; `ModelError` (one line) when it has none."""
    entry = KIND_MODELS.get(spec.world_kind)
    if entry is None:
        raise ModelError(f"no learned policy runs on {spec.world_kind!r} worlds (only {', '.join(KIND_MODELS)})")
    return entry


class OnnxPolicy(Policy):
    """A learned per-node policy from an ONNX file (``onnx:PATH`` on the command line).

    The observation builder, the action decoding and the model spec come from the world kind's
    entry in `KIND_MODELS` (schedulers for multicell/conflict, antenna power for cstn, sequential SRB
    allocation for srb). All agents of all worlds are batched into one onnxruntime call per slot;
    the recurrent state is kept between slots (a feed-forward model passes a size-1 state through). When a model
    returns non-finite outputs for a slot, the slot is decided by the kind's fallback (LLQ for
    schedulers, every antenna off for cstn, equal split for srb) and `fallbacks` counts it.

    Parameters
    ----------
    spec : WorldSpec
        The world; the model's metadata must match it (`ric.protocol.models.spec_mismatch`).
    seed : int
        Seed of the fallback scheduler's tie-breaking.
    model : bytes
        The ONNX file's content.
    source : str
        Where it came from, for messages.
    """

    name = "onnx"
    world_kinds = ("multicell", "conflict", "cstn", "srb")

    def __init__(self, spec: WorldSpec, seed: int = 0, model: bytes = b"", source: str = "") -> None:
        super().__init__(spec, seed)
        entry = kind_model(spec)
        self.features: FeatureBuilder = entry.features(spec)
        self.decoder: Decoder = entry.decoder(spec)
        self.expected = entry.model_spec(spec)
        self.fallbacks = 0
        self.source = source
        # monotonic times [ns] at which the last decision had its features and its inference done
        self.features_done_ns = self.inference_done_ns = 0
        from xapps.policies import make_policy

        self._fallback: Policy | None = None if entry.fallback is None else make_policy(entry.fallback, spec, seed)
        self.info, self._session = self.load(model)
        self._state = np.zeros((0, self.info.hidden), dtype=np.float32)
        self.reset(1)

    @classmethod
    def from_path(cls, path: str, spec: WorldSpec, seed: int = 0) -> OnnxPolicy:
        """Load ``path``; `ModelError` (one line) when missing or not fit for ``spec``."""
        file = Path(path).expanduser()
        if not file.is_file():
            raise ModelError(f"model file {path!r} not found")
        return cls(spec, seed, file.read_bytes(), source=path)

    def load(self, model: bytes) -> tuple[ModelInfo, Any]:
        """Validate ``model`` for this world and open its session (does not swap it in)."""
        import onnxruntime as ort

        info = validate_model(model, self.expected)
        scenario = info.metadata.get("scenario")
        if scenario is not None and scenario != self.spec.scenario:
            raise ModelError(f"model was trained for scenario {scenario!r}, this world is {self.spec.scenario!r}")
        session = ort.InferenceSession(model, session_options(), providers=["CPUExecutionProvider"])
        return info, session

    def swap(self, loaded: tuple[ModelInfo, Any]) -> None:
        """Make a model returned by `load` the running one (keeps the state when sizes agree)."""
        info, session = loaded
        if info.hidden != self.info.hidden:
            self._state = np.zeros((self._state.shape[0], info.hidden), dtype=np.float32)
        self.info, self._session = info, session

    @property
    def metadata(self) -> dict[str, Any]:
        return self.info.metadata

    def reset(self, batch: int = 1) -> None:
        super().reset(batch)
        if self._fallback is not None:
            self._fallback.reset(batch)
        self._state = np.zeros((batch * self.spec.n_nodes, self.info.hidden), dtype=np.float32)

    def decide(self, reports: Reports) -> Controls:
        b, k = reports.queue_packets.shape[:2]
        if self._state.shape[0] != b * k:
            self.reset(b)
        obs = self.features.build(reports).reshape(b * k, -1)
        self.features_done_ns = time.monotonic_ns()
        logits, state = self._session.run([OUTPUT_LOGITS, OUTPUT_STATE], {INPUT_OBS: obs, INPUT_STATE: self._state})
        self.inference_done_ns = time.monotonic_ns()
        if not (np.isfinite(logits).all() and np.isfinite(state).all()):
            self.fallbacks += 1
            self._state = np.zeros_like(self._state)
            if self._fallback is None:
                return Controls.off(b, k, self.spec.n_resources)
            return self._fallback.decide(reports)
        self._state = state
        actions = split_argmax(logits, self.decoder.heads).reshape(b, k, -1)
        return self.decoder.decode(actions, reports)


def model_path_of(policy_name: str) -> str | None:
    """``PATH`` of an ``onnx:PATH`` policy name, else None."""
    return policy_name[5:] if policy_name.startswith("onnx:") else None


__all__ = [
    "FEATURE_BUILDER",
    "FEATURE_MIN",
    "KIND_MODELS",
    "XAPP_KIND",
    "ActionDecoder",
    "Decoder",
    "FeatureBuilder",
    "KindModel",
    "NeighbourhoodFeatures",
    "OnnxPolicy",
    "action_spec",
    "kind_model",
    "model_path_of",
    "model_spec",
    "neighbourhood_matrix",
    "observation_spec",
    "scheduler_model_spec",
    "split_argmax",
]
