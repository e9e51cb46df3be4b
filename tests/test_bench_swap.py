"""`ntnric bench swap`'s model variants: a new registry entry, the same policy."""

from __future__ import annotations

import hashlib
from pathlib import Path

import onnx
import pytest

from e2_sim.scenarios import load_scenario
from e2_sim.world import make_world
from ntnric.bench_swap import SwapBenchError, model_variant, scenario_of
from ric.protocol.models import read_metadata
from tests.modelkit import build_model


def test_a_variant_differs_in_version_and_digest_only(tmp_path: Path) -> None:
    world = make_world(load_scenario("conflict8"))
    original = tmp_path / "m.onnx"
    original.write_bytes(build_model(world.spec, "serve", version="v1"))
    variant = model_variant(original, "-swap0", tmp_path / "v.onnx")
    a, b = onnx.load(str(original)), onnx.load(str(variant))
    assert read_metadata(b)["version"] == "v1-swap0"
    assert {k: v for k, v in read_metadata(b).items() if k != "version"} == {
        k: v for k, v in read_metadata(a).items() if k != "version"}
    assert a.graph.SerializeToString() == b.graph.SerializeToString()
    assert hashlib.sha256(original.read_bytes()).digest() != hashlib.sha256(variant.read_bytes()).digest()
    assert scenario_of(variant) == "conflict8"


def test_a_model_without_metadata_is_refused_with_the_reason(tmp_path: Path) -> None:
    world = make_world(load_scenario("conflict8"))
    model = onnx.load_from_string(build_model(world.spec, "serve", version="v1"))
    del model.metadata_props[:]
    bare = tmp_path / "bare.onnx"
    onnx.save(model, str(bare))
    with pytest.raises(SwapBenchError, match="no 'ntnric' metadata"):
        model_variant(bare, "-x", tmp_path / "v.onnx")
