"""ONNX policy models: the metadata every model carries, and the checks a model must pass.

A model is one ONNX file exported by ``ntnric export``. Its ``metadata_props`` hold one entry,
``ntnric``, a JSON object (`MODEL_FORMAT` 1)::

    {
      "format": 1,
      "xapp_kind": "bs-scheduler",          # which xApps may run it
      "trainer": "mappo",
      "scenario": "hex19", "world_kind": "multicell", "load": 20.0,
      "steps": 1200000,                      # agent-independent world slots of training
      "version": "hex19-20261122T0230Z-3f9a1c2e",
      "observation": {"builder": "neighbourhood-v1", "dim": 356, ...},
      "action": {"heads": [4, 4, 4, 6, 6, 6], ...},
      "recurrent": {"cell": "gru", "hidden": 64},
      "opset": 17,
      "parity": {"max_abs_diff": 3e-07, "tolerance": 1e-04, "argmax_agree": true, "rows": 1216},
      "created_utc": "2026-11-22T02:30:00Z"
    }

and its graph has the inputs ``obs`` (float32, (N, dim)) and ``h_in`` (float32, (N, hidden)) and
the outputs ``logits`` (float32, (N, sum(heads))) and ``h_out`` (float32, (N, hidden)); ``N``
(agents times worlds) is a dynamic axis. ``logits`` are action scores, greedy = argmax per head:
a policy's logits, or a Q-network's Q-values (``"trainer": "maddqn"``). A feed-forward model
declares ``"recurrent": {"cell": "none", "hidden": 1}`` and passes ``h_in`` through as ``h_out``.

An xApp that runs models announces a *model spec*: the part of the metadata a model must match
to run in it (`SPEC_KEYS`). The RIC's registry (`ric.registry_models`) and the xApp's own loader
both call `validate_model`, so a model is refused for the same reasons everywhere.

This module imports onnx and onnxruntime only inside `validate_model`.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

import numpy as np

MODEL_FORMAT = 1
METADATA_KEY = "ntnric"
INPUT_OBS, INPUT_STATE = "obs", "h_in"
OUTPUT_LOGITS, OUTPUT_STATE = "logits", "h_out"
SPEC_KEYS = ("xapp_kind", "world_kind", "observation", "action")
SMOKE_WORLDS = 2  # worlds of agents in the smoke inference (8 rows when the metadata names no agent count)


class ModelError(ValueError):
    """A model that cannot run where it was meant to; the message says why, in one line."""


@dataclass(frozen=True)
class ModelInfo:
    """A model that passed `validate_model`.

    Attributes
    ----------
    metadata : dict
        The ``ntnric`` metadata.
    obs_dim, hidden, n_logits : int
        Sizes of the observation, the recurrent state and the concatenated action logits.
    """

    metadata: dict[str, Any]
    obs_dim: int
    hidden: int
    n_logits: int


def spec_of(metadata: dict[str, Any]) -> dict[str, Any]:
    """The model spec part of ``metadata`` (what an xApp compares)."""
    return {key: metadata.get(key) for key in SPEC_KEYS}


def spec_mismatch(metadata: dict[str, Any], expected: dict[str, Any]) -> str | None:
    """Why a model with ``metadata`` cannot run in an xApp whose spec is ``expected``; None if it can."""
    for key in SPEC_KEYS:
        have, want = metadata.get(key), expected.get(key)
        if want is None or have == want:
            continue
        if isinstance(have, dict) and isinstance(want, dict):
            diffs = [
                f"{key}.{field}={have.get(field)!r} (xApp expects {want.get(field)!r})"
                for field in sorted(set(have) | set(want))
                if have.get(field) != want.get(field)
            ]
            return "; ".join(diffs[:3])
        return f"{key}={have!r} (xApp expects {want!r})"
    return None


def read_metadata(model: Any) -> dict[str, Any]:
    """The ``ntnric`` metadata of a loaded ``onnx.ModelProto``; `ModelError` when absent or invalid."""
    props = {p.key: p.value for p in model.metadata_props}
    if METADATA_KEY not in props:
        raise ModelError(f"no {METADATA_KEY!r} metadata: not a model exported by 'ntnric export'")
    try:
        metadata = json.loads(props[METADATA_KEY])
    except json.JSONDecodeError as exc:
        raise ModelError(f"{METADATA_KEY!r} metadata is not JSON ({exc.msg})") from None
    if not isinstance(metadata, dict) or metadata.get("format") != MODEL_FORMAT:
        raise ModelError(f"metadata format {metadata.get('format') if isinstance(metadata, dict) else None!r} "
                         f"is not {MODEL_FORMAT}")
    for key in (*SPEC_KEYS, "recurrent"):
        if key not in metadata:
            raise ModelError(f"metadata lacks {key!r}")
    return metadata


def _dim(shape: Any, axis: int) -> int | None:
    dims = shape.dim
    if axis >= len(dims):
        return None
    d = dims[axis]
    return int(d.dim_value) if d.HasField("dim_value") else None


def validate_model(data: bytes, expected: dict[str, Any] | None = None) -> ModelInfo:
    """Check an ONNX model end to end; `ModelError` with the reason on the first failure.

    The checks, in order: it parses and passes ``onnx.checker``; it carries valid metadata; it
    matches the ``expected`` model spec (when given); its graph inputs and outputs are named and
    shaped as the metadata says; and a smoke inference on random observations returns finite
    logits and states of the announced sizes.
    """
    import onnx
    import onnxruntime as ort

    try:
        model = onnx.load_from_string(data)
        onnx.checker.check_model(model)
    except Exception as exc:  # onnx raises several unrelated types for a corrupt file
        first = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        raise ModelError(f"not a valid ONNX model: {first[:200]}") from None
    metadata = read_metadata(model)
    if expected is not None:
        why = spec_mismatch(metadata, expected)
        if why:
            raise ModelError(f"model does not fit the xApp: {why}")
    obs_dim = int(metadata["observation"].get("dim", -1))
    heads = [int(h) for h in metadata["action"].get("heads", [])]
    hidden = int(metadata["recurrent"].get("hidden", -1))
    rows = SMOKE_WORLDS * int(metadata.get("agents", 4))
    inputs = {i.name: i for i in model.graph.input}
    outputs = {o.name: o for o in model.graph.output}
    for name in (INPUT_OBS, INPUT_STATE):
        if name not in inputs:
            raise ModelError(f"graph has no input {name!r} (inputs: {', '.join(inputs) or 'none'})")
    for name in (OUTPUT_LOGITS, OUTPUT_STATE):
        if name not in outputs:
            raise ModelError(f"graph has no output {name!r} (outputs: {', '.join(outputs) or 'none'})")
    got_obs = _dim(inputs[INPUT_OBS].type.tensor_type.shape, 1)
    if got_obs != obs_dim:
        raise ModelError(f"input {INPUT_OBS!r} has {got_obs} features, the metadata's observation has {obs_dim}")
    got_hidden = _dim(inputs[INPUT_STATE].type.tensor_type.shape, 1)
    if got_hidden != hidden:
        raise ModelError(f"input {INPUT_STATE!r} has size {got_hidden}, the metadata's recurrent state {hidden}")
    try:
        session = ort.InferenceSession(data, session_options(), providers=["CPUExecutionProvider"])
        rng = np.random.default_rng(0)
        obs = rng.standard_normal((rows, obs_dim)).astype(np.float32)
        state = np.zeros((rows, hidden), dtype=np.float32)
        logits, new_state = session.run([OUTPUT_LOGITS, OUTPUT_STATE], {INPUT_OBS: obs, INPUT_STATE: state})
    except Exception as exc:  # onnxruntime errors carry no stable type
        first = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        raise ModelError(f"smoke inference failed: {first[:200]}") from None
    if logits.shape != (rows, sum(heads)):
        raise ModelError(f"output {OUTPUT_LOGITS!r} has shape {logits.shape[1:]}, "
                         f"the action heads need ({sum(heads)},)")
    if new_state.shape != (rows, hidden):
        raise ModelError(f"output {OUTPUT_STATE!r} has shape {new_state.shape[1:]}, expected ({hidden},)")
    if not (np.isfinite(logits).all() and np.isfinite(new_state).all()):
        raise ModelError("smoke inference gave non-finite outputs (NaN or inf)")
    return ModelInfo(metadata=metadata, obs_dim=obs_dim, hidden=hidden, n_logits=sum(heads))


def session_options() -> Any:
    """onnxruntime options for a slot-budget decision: one thread, sequential execution."""
    import onnxruntime as ort

    options = ort.SessionOptions()
    options.intra_op_num_threads = 1
    options.inter_op_num_threads = 1
    options.execution_mode = ort.ExecutionMode.ORT_SEQUENTIAL
    options.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_ALL
    options.log_severity_level = 3
    return options
