"""Multi-agent double DQN for cstn: the shared reward under the interference cap, the double-DQN
target, the ε schedule, the joint-action decoding, a short train → export → ``onnx:`` run,
torch/onnxruntime parity (also of the shipped models) and refusal across world kinds."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

torch = pytest.importorskip("torch")

import onnx  # noqa: E402
import onnxruntime as ort  # noqa: E402
from onnx import numpy_helper  # noqa: E402

from e2_sim.scenarios import load_scenario  # noqa: E402
from e2_sim.world import make_world  # noqa: E402
from e2_sim.world.cstn import CstnWorld  # noqa: E402
from models.export_dqn import export_dqn  # noqa: E402
from models.maddqn import (  # noqa: E402
    MaddqnConfig,
    QNetwork,
    TrainingError,
    double_dqn_targets,
    epsilon_at,
    load_checkpoint,
    network_of,
    shared_reward,
    train,
)
from ntnric.evaluate import run_policy  # noqa: E402
from ric.protocol import Controls  # noqa: E402
from ric.protocol.models import METADATA_KEY, ModelError, session_options  # noqa: E402
from xapps.policies import PolicyError, make_policy  # noqa: E402
from xapps.policies.learned import OnnxPolicy  # noqa: E402
from xapps.policies.learned_cstn import CSTN_XAPP_KIND, CstnDecoder, CstnFeatures  # noqa: E402

pytestmark = pytest.mark.train

ZOO = Path(__file__).resolve().parents[2] / "models" / "zoo"
#: Q-values of torch and onnxruntime on the same rows agree to this (float32 matmuls in both).
PARITY_ATOL = 1e-4
TINY = {"batch": 4, "steps": 1_200, "learning_starts": 200, "batch_size": 32, "hidden": 16, "eval_every": 600,
        "eval_slots": 30, "eval_batch": 1, "target_sync": 20}


def _cstn(genie: bool = True, **overrides: object) -> CstnWorld:
    world = make_world(load_scenario("cstn", dict(overrides) or None), load=1.0, genie_csi=genie)
    assert isinstance(world, CstnWorld)
    return world


@pytest.fixture(scope="module")
def cstn_run(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path, dict[str, object]]:
    out = tmp_path_factory.mktemp("cstn")
    train(MaddqnConfig(**TINY), out)  # type: ignore[arg-type]
    model = out / "cstn.onnx"
    metadata = export_dqn(load_checkpoint(out / "best.pt"), model)
    return out, model, metadata


# ---------------------------------------------------------------------------------------------
# reward, target, exploration
def test_a_violating_slot_gets_the_penalty_and_a_clean_one_the_throughput() -> None:
    world = _cstn()
    reports = world.reset([0, 0])  # two copies of one world: same channel, same demand
    loud = make_policy("average-power", world.spec)  # every antenna at P_max/3: over I_th at 24 dBW
    careful = make_policy("ara", world.spec)  # the largest compliant powers (genie)
    for policy in (loud, careful):
        policy.reset(2)
    a, b = loud.decide(reports), careful.decide(reports)
    controls = Controls(user=np.stack([a.user[0], b.user[1]]), power_w=np.stack([a.power_w[0], b.power_w[1]]),
                        mask=a.mask, move_m=a.move_m)
    _, kpis = world.step(controls)
    eta = -1000.0
    reward = shared_reward(kpis, world.scenario.slot_s, eta)
    measured_w = kpis.extra["sat_user_interference_w"]
    assert (measured_w[0] > world.threshold_w).any() and (measured_w[1] <= world.threshold_w).all()
    assert reward[0] == eta
    clean_mbps = kpis.delivered_bits[1].sum() / world.scenario.slot_s / 1e6
    assert clean_mbps > 0.0
    assert reward[1] == pytest.approx(clean_mbps, rel=1e-12)


def test_double_dqn_target_uses_the_online_argmax_valued_by_the_target_network() -> None:
    reward = torch.tensor([1.0, 0.0])
    q_online = torch.tensor([[1.0, 5.0, 2.0], [3.0, 0.0, 1.0]])  # online picks actions 1 and 0
    q_target = torch.tensor([[10.0, 20.0, 30.0], [40.0, 50.0, 60.0]])
    y = double_dqn_targets(reward, q_online, q_target, gamma=0.5)
    torch.testing.assert_close(y, torch.tensor([1.0 + 0.5 * 20.0, 0.0 + 0.5 * 40.0]))
    # plain DQN would take the target's own maximum: 16 and 30
    assert not torch.allclose(y, reward + 0.5 * q_target.max(dim=1).values)


def test_epsilon_decays_linearly_then_holds() -> None:
    config = MaddqnConfig(steps=1_000, eps_start=1.0, eps_end=0.1, eps_decay_fraction=0.5)
    assert epsilon_at(0, config) == 1.0
    assert epsilon_at(250, config) == pytest.approx(0.55)
    assert epsilon_at(500, config) == pytest.approx(0.1)
    assert epsilon_at(900, config) == pytest.approx(0.1)


def test_config_errors_name_the_field() -> None:
    with pytest.raises(TrainingError, match="gamma"):
        MaddqnConfig(gamma=1.0).check()
    with pytest.raises(TrainingError, match="eps_end"):
        MaddqnConfig(eps_end=0.5, eps_start=0.2).check()
    docs = MaddqnConfig.field_docs()
    assert all(docs.get(name) for name in MaddqnConfig.__dataclass_fields__), "every field has a doc line"


# ---------------------------------------------------------------------------------------------
# observation and decoding
def test_decoder_maps_a_joint_index_to_per_antenna_powers() -> None:
    world = _cstn()
    decoder = CstnDecoder(world.spec)
    p_max = world.antenna_max_power_w
    assert decoder.heads == [5**3]  # L = 4: (L+1)^S
    index = 4 * 25 + 0 * 5 + 2  # antenna 0 at level 4, antenna 1 off, antenna 2 at level 2
    np.testing.assert_array_equal(decoder.levels_of(np.array(index)), [4, 0, 2])
    np.testing.assert_allclose(decoder.power_w(np.array(index)), [p_max, 0.0, 0.5 * p_max], rtol=1e-6)
    reports = world.reset([3])
    controls = decoder.decode(np.full((1, 3, 1), index), reports)
    eligible = reports.extra["eligible"][0] & reports.active[0][..., None]  # (K, U, S)
    for k in range(3):
        for s, level in enumerate((4, 0, 2)):
            users = np.flatnonzero(eligible[k, :, s] & (reports.queue_bits[0, k] > 0))
            if level == 0 or users.size == 0:
                assert controls.user[0, k, s] == -1
                continue
            assert controls.user[0, k, s] == users[np.argmax(reports.queue_bits[0, k, users])]
            assert controls.power_w[0, k, s] == pytest.approx(level / 4 * p_max, rel=1e-6)
    ten = CstnDecoder(_cstn(n_power_levels=10).spec)
    assert ten.heads == [11**3]
    np.testing.assert_array_equal(ten.levels_of(np.array(10 * 121 + 3 * 11 + 7)), [10, 3, 7])


def test_features_put_the_own_node_first_and_mark_the_agent() -> None:
    world = _cstn(genie=False)
    reports = world.reset([0, 1])
    obs = CstnFeatures(world.spec).build(reports)
    k, u = 3, world.u_max
    assert obs.shape == (2, k, CstnFeatures(world.spec).dim) and obs.dtype == np.float32
    np.testing.assert_array_equal(obs[:, :, -k:], np.broadcast_to(np.eye(k), (2, k, k)))
    for node in range(k):  # first block: the node's own users' waiting demand [Mbit]
        np.testing.assert_allclose(obs[:, node, 0 : 2 * u : 2], reports.queue_bits[:, node] * 1e-6, rtol=1e-6)


# ---------------------------------------------------------------------------------------------
# train → export → onnx policy
def test_short_run_exports_a_model_that_evaluates(cstn_run: tuple[Path, Path, dict[str, object]]) -> None:
    out, model, metadata = cstn_run
    for name in ("best.pt", "last.pt", "config.json", "train.csv"):
        assert (out / name).is_file(), name
    assert any((out / "tb").iterdir())
    rows = (out / "train.csv").read_text().splitlines()
    assert len(rows) == 1 + TINY["steps"] // TINY["eval_every"]
    assert load_checkpoint(out / "last.pt")["progress"]["slots"] == TINY["steps"]
    assert metadata["xapp_kind"] == CSTN_XAPP_KIND and metadata["trainer"] == "maddqn"
    assert metadata["recurrent"] == {"cell": "none", "hidden": 1}
    stored = json.loads({p.key: p.value for p in onnx.load(str(model)).metadata_props}[METADATA_KEY])
    assert stored["parity"]["argmax_agree"] is True
    result = run_policy(load_scenario("cstn"), f"onnx:{model}", 1.0, 40, seed=0)
    assert result.kpis["slots"] == 40 and "interference_violation_rate" in result.kpis


def test_onnx_policy_decides_as_the_torch_q_network(cstn_run: tuple[Path, Path, dict[str, object]]) -> None:
    out, model, _ = cstn_run
    q = network_of(load_checkpoint(out / "best.pt"))
    world = _cstn(genie=False)
    policy = make_policy(f"onnx:{model}", world.spec)
    assert isinstance(policy, OnnxPolicy)
    features, decoder = CstnFeatures(world.spec), CstnDecoder(world.spec)
    reports = world.reset([5, 6])
    policy.reset(2)
    for _ in range(20):
        with torch.no_grad():
            q_values = q(torch.from_numpy(features.build(reports))).numpy()
        expected = decoder.decode(q_values.argmax(axis=-1)[..., None], reports)
        got = policy.decide(reports)
        np.testing.assert_array_equal(got.user, expected.user)
        np.testing.assert_array_equal(got.power_w, expected.power_w)
        reports, _ = world.step(got)


def test_models_are_refused_on_the_other_world_kind(cstn_run: tuple[Path, Path, dict[str, object]]) -> None:
    _, model, _ = cstn_run
    hex19 = make_world(load_scenario("hex19"), load=20.0).spec
    with pytest.raises((ModelError, PolicyError)) as refused:
        make_policy(f"onnx:{model}", hex19)
    assert "\n" not in str(refused.value) and "xapp_kind" in str(refused.value)
    scheduler = ZOO / "hex19.onnx"
    if scheduler.is_file():
        with pytest.raises((ModelError, PolicyError)) as refused:
            make_policy(f"onnx:{scheduler}", _cstn().spec)
        assert "\n" not in str(refused.value) and "xapp_kind" in str(refused.value)
    # an L = 10 world wants 11^3 joint actions: an L = 4 model does not fit it
    with pytest.raises((ModelError, PolicyError), match="action"):
        make_policy(f"onnx:{model}", _cstn(n_power_levels=10).spec)


# ---------------------------------------------------------------------------------------------
# shipped models: the ONNX graph and a torch network holding its weights decide alike
@pytest.mark.parametrize("name", ["cstn", "cstn-l10"])
def test_shipped_model_matches_torch_with_its_weights(name: str) -> None:
    path = ZOO / f"{name}.onnx"
    if not path.is_file():
        pytest.skip(f"no shipped model {path.name}")
    graph = onnx.load(str(path))
    metadata = json.loads({p.key: p.value for p in graph.metadata_props}[METADATA_KEY])
    weights = {init.name: torch.from_numpy(numpy_helper.to_array(init).copy()) for init in graph.graph.initializer}
    linear = sorted(n for n in weights if n.endswith(".weight"))
    hidden = int(weights[linear[0]].shape[0])
    q = QNetwork(int(metadata["observation"]["dim"]), hidden, int(metadata["action"]["heads"][0]))
    q.load_state_dict({name.removeprefix("q."): tensor for name, tensor in weights.items()})
    overrides = {"n_power_levels": metadata["action"]["levels_per_antenna"] - 1}
    world = _cstn(genie=False, **overrides)
    features = CstnFeatures(world.spec)
    policy = make_policy("random-power", world.spec, seed=2)
    reports = world.reset([11, 12])
    policy.reset(2)
    session = ort.InferenceSession(path.read_bytes(), session_options(), providers=["CPUExecutionProvider"])
    rows = []
    for _ in range(30):
        rows.append(features.build(reports).reshape(-1, features.dim))
        reports, _ = world.step(policy.decide(reports))
    obs = np.concatenate(rows)
    got, state = session.run(["logits", "h_out"], {"obs": obs, "h_in": np.ones((obs.shape[0], 1), np.float32)})
    with torch.no_grad():
        expected = q(torch.from_numpy(obs)).numpy()
    np.testing.assert_allclose(got, expected, atol=PARITY_ATOL, rtol=0)
    np.testing.assert_array_equal(got.argmax(axis=1), expected.argmax(axis=1))
    np.testing.assert_array_equal(state, 1.0)  # the state passes through


def test_policy_xapp_deploys_and_hot_swaps_a_cstn_model(
    cstn_run: tuple[Path, Path, dict[str, object]], tmp_path: Path
) -> None:
    from xapps.policy_xapp import PolicyXApp
    from xapps.sdk import Stamps

    out, model, _ = cstn_run
    world = _cstn(genie=False)
    app = PolicyXApp(f"onnx:{model}", seed=1)
    app.on_start(world.spec)
    assert app.model_spec() is not None and app.model_spec()["xapp_kind"] == CSTN_XAPP_KIND  # type: ignore[index]
    reports = world.reset([0])
    before = app.on_reports(reports, Stamps())
    assert before is not None and before.power_w.shape == (1, 3, 3)
    # a second export of another checkpoint swaps in between two decisions
    other = tmp_path / "other.onnx"
    export_dqn(load_checkpoint(out / "last.pt"), other)
    app.activate_model(app.prepare_model(other.read_bytes()))
    running = app.running_model()
    assert running is not None and running.version == json.loads(
        {p.key: p.value for p in onnx.load(str(other)).metadata_props}[METADATA_KEY])["version"]
    after = app.on_reports(reports, Stamps())
    assert after is not None and after.user.shape == before.user.shape


def test_cli_train_export_and_card_command_reproduce_the_run(tmp_path: Path) -> None:
    import shlex

    from typer.testing import CliRunner

    from ntnric.cards import maddqn_training_command
    from ntnric.cli import app

    runner = CliRunner()
    tiny = {**TINY, "steps": 400, "learning_starts": 100, "eval_every": 400, "train_powers_dbw": [20.0, 24.0],
            "gamma": 0.5}
    cfg = [arg for key, value in tiny.items() if key != "steps"
           for arg in ("--cfg", f"{key}={json.dumps(value, separators=(',', ':'))}")]
    result = runner.invoke(app, ["train", "maddqn", "--scenario", "cstn", "--steps", "400", "--out",
                                 str(tmp_path / "a"), *cfg])
    assert result.exit_code == 0, result.output
    recorded = json.loads((tmp_path / "a" / "config.json").read_text())
    assert recorded["train_powers_dbw"] == [20.0, 24.0] and recorded["gamma"] == 0.5
    result = runner.invoke(app, ["export", str(tmp_path / "a" / "best.pt"), "--out", str(tmp_path / "m.onnx")])
    assert result.exit_code == 0, result.output
    assert "greedy actions agree" in result.output
    command = maddqn_training_command(recorded, str(tmp_path / "b"))
    assert command.startswith("ntnric train maddqn --scenario cstn --steps 400")
    result = runner.invoke(app, shlex.split(command)[1:])
    assert result.exit_code == 0, result.output
    assert json.loads((tmp_path / "b" / "config.json").read_text()) == recorded
    refused = runner.invoke(app, ["train", "maddqn", "--scenario", "hex19", "--steps", "10", "--out",
                                  str(tmp_path / "c")])
    assert refused.exit_code != 0 and "cstn" in str(refused.exception)
