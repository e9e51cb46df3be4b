"""Synthetic ONNX policy models built with ``onnx.helper`` (no torch), for tests.

`build_model` writes a model in the format of ``ntnric export`` (`ric.protocol.models`): inputs
``obs`` (N, dim) and ``h_in`` (N, hidden), outputs ``logits = obs @ W + b`` and ``h_out = h_in``,
with the ``ntnric`` metadata of `xapps.policies.learned.model_spec`. With ``W = 0`` the greedy
action is fixed by ``b``:

- ``decision="serve"``: every resource serves user slot 0 at the node's highest power level;
- ``decision="silent"``: every resource is off.

Faults for the refusal tests: ``obs_features`` (a graph input that does not match the metadata),
``metadata`` overrides (wrong xApp kind, world...), ``nan_bias`` (non-finite outputs on any input)
and ``nan_on_empty_queue`` (finite on the validator's random smoke input, ``-inf`` logits for an
agent whose first device has an empty queue: the xApp's run-time fallback).
"""

from __future__ import annotations

import json
from typing import Any, Literal

import numpy as np
import onnx
from onnx import TensorProto, helper, numpy_helper

from ric.protocol.models import INPUT_OBS, INPUT_STATE, METADATA_KEY, MODEL_FORMAT, OUTPUT_LOGITS, OUTPUT_STATE
from ric.protocol.spec import WorldSpec
from xapps.policies.learned import model_spec

Decision = Literal["serve", "silent"]
OPSET = 17
HIDDEN = 4


def metadata_for(spec: WorldSpec, version: str, hidden: int = HIDDEN, **overrides: Any) -> dict[str, Any]:
    """The ``ntnric`` metadata of a model for ``spec`` (``overrides`` replace top-level keys)."""
    metadata: dict[str, Any] = {
        "format": MODEL_FORMAT,
        **model_spec(spec),
        "trainer": "synthetic",
        "scenario": spec.scenario,
        "steps": 0,
        "version": version,
        "recurrent": {"cell": "identity", "hidden": hidden},
        "opset": OPSET,
        "created_utc": "2026-01-01T00:00:00Z",
    }
    metadata.update(overrides)
    return metadata


def decision_bias(spec: WorldSpec, decision: Decision) -> np.ndarray:
    """Logit bias ``(sum(heads),)`` float32 whose per-head argmax is ``decision``."""
    heads = model_spec(spec)["action"]["heads"]
    s = spec.n_resources
    bias = np.zeros(sum(heads), dtype=np.float32)
    start = 0
    for i, size in enumerate(heads):
        # serve: user slot 0 and the highest power level; silent: no user, power off
        winner = (1 if i < s else size - 1) if decision == "serve" else 0
        bias[start + winner] = 5.0
        start += size
    return bias


def build_model(
    spec: WorldSpec,
    decision: Decision = "serve",
    *,
    version: str = "synthetic-1",
    hidden: int = HIDDEN,
    obs_features: int | None = None,
    metadata: dict[str, Any] | None = None,
    nan_bias: bool = False,
    nan_on_empty_queue: bool = False,
) -> bytes:
    """Serialized ONNX model for ``spec`` (module docstring)."""
    meta = metadata_for(spec, version, hidden, **(metadata or {}))
    obs_dim = int(meta["observation"]["dim"])
    graph_dim = obs_dim if obs_features is None else obs_features
    bias = decision_bias(spec, decision)
    if nan_bias:
        bias[0] = np.nan
    n_logits = bias.size
    weight = np.zeros((graph_dim, n_logits), dtype=np.float32)
    initializers = [numpy_helper.from_array(weight, "W"), numpy_helper.from_array(bias, "b")]
    nodes = [helper.make_node("MatMul", [INPUT_OBS, "W"], ["obs_w"])]
    if nan_on_empty_queue:
        # feature 1 of an observation is log1p(queue) of the agent's first device: 0 when it is empty
        initializers += [numpy_helper.from_array(np.array(v, dtype=np.int64), n)
                         for v, n in (([1], "one"), ([2], "two"), ([1], "axis"))]
        nodes += [
            helper.make_node("Slice", [INPUT_OBS, "one", "two", "axis"], ["queue"]),
            helper.make_node("Abs", ["queue"], ["queue_abs"]),
            helper.make_node("Log", ["queue_abs"], ["queue_log"]),
            helper.make_node("Add", ["obs_w", "queue_log"], ["obs_wq"]),
            helper.make_node("Add", ["obs_wq", "b"], [OUTPUT_LOGITS]),
        ]
    else:
        nodes.append(helper.make_node("Add", ["obs_w", "b"], [OUTPUT_LOGITS]))
    nodes.append(helper.make_node("Identity", [INPUT_STATE], [OUTPUT_STATE]))
    graph = helper.make_graph(
        nodes,
        "synthetic_policy",
        inputs=[helper.make_tensor_value_info(INPUT_OBS, TensorProto.FLOAT, ["N", graph_dim]),
                helper.make_tensor_value_info(INPUT_STATE, TensorProto.FLOAT, ["N", hidden])],
        outputs=[helper.make_tensor_value_info(OUTPUT_LOGITS, TensorProto.FLOAT, ["N", n_logits]),
                 helper.make_tensor_value_info(OUTPUT_STATE, TensorProto.FLOAT, ["N", hidden])],
        initializer=initializers,
    )
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", OPSET)], producer_name="ntnric-tests")
    model.ir_version = 8
    helper.set_model_props(model, {METADATA_KEY: json.dumps(meta)})
    onnx.checker.check_model(model)
    return bytes(model.SerializeToString())


def corrupt(data: bytes) -> bytes:
    """``data`` cut in half: what an interrupted copy leaves."""
    return data[: len(data) // 2]
