"""Offline training end to end: a short MAPPO run, checkpoints and resume, export parity, and the
``onnx:`` policy deciding exactly as the torch policy it was exported from."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

torch = pytest.importorskip("torch")

from e2_sim.scenarios import load_scenario  # noqa: E402
from e2_sim.world import make_world  # noqa: E402
from models.export import ExportError, export  # noqa: E402
from models.mappo import MappoConfig, TrainingError, load_checkpoint, network_of, train  # noqa: E402
from ntnric.evaluate import run_policy  # noqa: E402
from xapps.policies import PolicyError, make_policy  # noqa: E402
from xapps.policies.learned import ActionDecoder, NeighbourhoodFeatures, OnnxPolicy  # noqa: E402

pytestmark = pytest.mark.train

TINY = {"batch": 4, "rollout_slots": 16, "chunk_slots": 8, "episode_slots": 32, "epochs": 2, "minibatches": 2,
        "eval_every": 2, "eval_slots": 40, "eval_batch": 1, "checkpoint_every": 1, "hidden": 16}


def tiny(scenario: str, steps: int, **kwargs: object) -> MappoConfig:
    values = {**TINY, "scenario": scenario, "steps": steps, **kwargs}
    return MappoConfig(**values)  # type: ignore[arg-type]


@pytest.fixture(scope="module")
def conflict_run(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("conflict8")
    train(tiny("conflict8", 256, teacher="gms", bc_slots=128), out)
    return out


@pytest.fixture(scope="module")
def hex_model(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    out = tmp_path_factory.mktemp("hex19")
    train(tiny("hex19", 128, teacher=None, bc_slots=0), out)
    model = out / "hex19.onnx"
    export(out / "best.pt", model)
    return out, model


def test_short_run_writes_checkpoints_logs_and_exports_a_model_that_evaluates(conflict_run: Path) -> None:
    for name in ("best.pt", "last.pt", "config.json", "train.csv"):
        assert (conflict_run / name).is_file(), name
    assert any((conflict_run / "tb").iterdir())
    rows = (conflict_run / "train.csv").read_text().splitlines()
    assert len(rows) == 1 + 256 // (4 * 16)  # header + one row per update
    phases = [row.split(",")[3] for row in rows[1:]]
    assert phases == ["bc", "bc", "ppo", "ppo"]  # 128 slots of cloning, then PPO
    checkpoint = load_checkpoint(conflict_run / "last.pt")
    assert checkpoint["progress"]["slots"] == 256

    model = conflict_run / "m.onnx"
    metadata = export(conflict_run / "last.pt", model)
    assert metadata["scenario"] == "conflict8" and metadata["steps"] == 256
    assert metadata["xapp_kind"] == "bs-scheduler" and metadata["opset"] == 17
    assert metadata["parity"]["argmax_agree"] and metadata["parity"]["max_abs_diff"] <= 1e-4
    result = run_policy(load_scenario("conflict8"), f"onnx:{model}", load=0.4, slots=50, seed=0)
    assert result.kpis["throughput_mbps"] >= 0.0 and "avg_packet_delay_ms" in result.kpis


def test_resume_continues_where_the_run_stopped(conflict_run: Path, tmp_path: Path) -> None:
    out = tmp_path / "run"
    config = tiny("conflict8", 128, teacher=None, bc_slots=0)
    train(config, out)
    first = load_checkpoint(out / "last.pt")["progress"]
    config.steps = 256
    train(config, out, resume=True)
    resumed = load_checkpoint(out / "last.pt")["progress"]
    assert (first["update"], resumed["update"]) == (2, 4)
    assert resumed["slots"] == 256
    assert len((out / "train.csv").read_text().splitlines()) == 1 + 4


def test_config_errors_name_the_field(tmp_path: Path) -> None:
    with pytest.raises(TrainingError, match="chunk_slots"):
        train(tiny("conflict8", 64, chunk_slots=5), tmp_path)
    with pytest.raises(TrainingError, match="episode_slots"):
        train(tiny("conflict8", 64, episode_slots=20), tmp_path)
    with pytest.raises(TrainingError, match="not found"):
        load_checkpoint(tmp_path / "missing.pt")
    garbage = tmp_path / "garbage.pt"
    garbage.write_bytes(b"not a checkpoint")
    with pytest.raises(ExportError, match="not a training checkpoint"):
        export(garbage, tmp_path / "x.onnx")
    assert not (tmp_path / "x.onnx").exists()


def test_every_config_field_has_a_doc_line() -> None:
    from dataclasses import fields

    docs = MappoConfig.field_docs()
    assert {f.name for f in fields(MappoConfig)} == set(docs)
    assert all(docs.values())


def test_onnx_policy_decides_as_the_torch_policy_on_recorded_reports(hex_model: tuple[Path, Path]) -> None:
    run_dir, model = hex_model
    checkpoint = load_checkpoint(run_dir / "best.pt")
    net = network_of(checkpoint)
    world = make_world(load_scenario("hex19"), load=20.0)
    features, decoder = NeighbourhoodFeatures(world.spec), ActionDecoder(world.spec)
    policy = make_policy(f"onnx:{model}", world.spec)
    assert isinstance(policy, OnnxPolicy)
    reports = world.reset([5])
    h = torch.zeros(1, world.spec.n_nodes, checkpoint["config"]["hidden"])
    served = 0
    for _ in range(40):
        with torch.no_grad():
            logits, h = net.actor(torch.from_numpy(features.build(reports)), h)
        actions = torch.stack([d.probs.argmax(-1) for d in net.dists(logits)], dim=-1).numpy()
        expected = decoder.decode(actions, reports)
        got = policy.decide(reports)
        np.testing.assert_array_equal(got.user, expected.user)
        np.testing.assert_array_equal(got.power_w, expected.power_w)
        served += int((got.user >= 0).sum())
        reports, _ = world.step(got)
    assert served > 0 and policy.fallbacks == 0


def test_onnx_policy_refuses_a_model_of_another_scenario(hex_model: tuple[Path, Path]) -> None:
    _, model = hex_model
    random19 = make_world(load_scenario("random19")).spec
    with pytest.raises(PolicyError, match=r"model .*observation\.dim=309 \(xApp expects 258\)"):
        make_policy(f"onnx:{model}", random19)
    with pytest.raises(PolicyError, match="not found"):
        make_policy("onnx:/nonexistent/model.onnx", random19)
    sag = make_world(load_scenario("sag")).spec
    with pytest.raises(PolicyError, match="a 'bs-scheduler' model cannot run the sag flat tier"):
        make_policy(f"onnx:{model}", sag)


def test_separate_policies_export_and_run(tmp_path: Path) -> None:
    train(tiny("conflict8", 64, teacher=None, bc_slots=0, sharing="separate"), tmp_path)
    metadata = export(tmp_path / "last.pt", tmp_path / "sep.onnx")
    assert metadata["sharing"] == "separate" and metadata["parity"]["argmax_agree"]
    world = make_world(load_scenario("conflict8"), load=0.4)
    policy = make_policy(f"onnx:{tmp_path / 'sep.onnx'}", world.spec)
    reports = world.reset([0, 1, 2])  # three worlds in one batch: rows must stay grouped by world
    controls = policy.decide(reports)
    assert controls.user.shape == (3, 4, 3)


def test_cli_train_export_eval(tmp_path: Path) -> None:
    from typer.testing import CliRunner

    from ntnric.cli import app

    runner = CliRunner()
    cfg = [arg for key, value in TINY.items() for arg in ("--cfg", f"{key}={value}")]
    result = runner.invoke(app, ["train", "mappo", "--scenario", "conflict8", "--steps", "64", "--bc-slots", "64",
                                 "--out", str(tmp_path / "run"), *cfg])
    assert result.exit_code == 0, result.output
    assert json.loads((tmp_path / "run" / "config.json").read_text())["teacher"] == "gms-ordered"
    result = runner.invoke(app, ["export", str(tmp_path / "run" / "best.pt"), "--out", str(tmp_path / "m.onnx")])
    assert result.exit_code == 0, result.output
    result = runner.invoke(app, ["eval", "conflict8", "--policies", f"gms,onnx:{tmp_path / 'm.onnx'}",
                                 "--slots", "30", "--json", str(tmp_path / "eval.json")])
    assert result.exit_code == 0, result.output
    policies = json.loads((tmp_path / "eval.json").read_text())["policies"]
    assert set(policies) == {"gms", f"onnx:{tmp_path / 'm.onnx'}"}


def test_card_command_reproduces_the_run_config(tmp_path: Path) -> None:
    import shlex

    from typer.testing import CliRunner

    from ntnric.cards import training_command
    from ntnric.cli import app

    config = tiny("conflict8", 64, teacher="gms-ordered", bc_slots=32, sharing="separate", lr=3e-4)
    train(config, tmp_path / "a")
    recorded = json.loads((tmp_path / "a" / "config.json").read_text())
    command = training_command(recorded, str(tmp_path / "b"))
    assert command.startswith("ntnric train mappo --scenario conflict8")
    result = CliRunner().invoke(app, shlex.split(command)[1:])
    assert result.exit_code == 0, result.output
    assert json.loads((tmp_path / "b" / "config.json").read_text()) == recorded
