"""Constrained MAPPO with SRB decomposition: costs, rewards, multipliers, export and the onnx policy."""

from __future__ import annotations

import csv
import json

import numpy as np
import onnxruntime as ort
import pytest
import torch

from models.cmappo import (
    CmappoConfig,
    CmappoNet,
    greedy_actions,
    lagrange_update,
    lagrangian_rewards,
    load_checkpoint,
    train,
)
from models.export import PARITY_TOLERANCE
from models.export_srb import export_actor, export_srb
from models.srb_env import SrbEnv, group_rewards, reuse_qos_teacher, user_costs
from ric.protocol import Controls
from ric.protocol.models import session_options
from xapps.policies import PolicyError, make_policy
from xapps.policies.learned import OnnxPolicy, split_argmax
from xapps.policies.learned_srb import SrbLayout, sequential_greedy

#: float32 rounding of the reward and cost formulas
FORMULA_TOLERANCE = 1e-6
#: QoS violation rate the reuse teacher stays under on tn-ntn-srb-320 (measured about 0.01 over 600 slots)
TEACHER_VIOLATION_BOUND = 0.08


def _layout(k: int = 2, u: int = 3) -> SrbLayout:
    return SrbLayout(n_nodes=k, n_users=u, n_subchannels=4, srb_size=2, agents_per_node=2,
                     subchannel_bandwidth_hz=1e5, qos_min_rate_bps=2e6, srb_power_w=np.ones(k), noise_w=1e-12)


def test_user_cost_is_the_truncated_shortfall() -> None:
    rate = np.array([[[0.5e6, 2e6, 3e6], [0.0, 1e6, 9e6]]])
    active = np.array([[[True, True, True], [False, True, True]]])
    np.testing.assert_allclose(user_costs(rate, active, 2e6), [[[0.75, 0.0, 0.0], [0.0, 0.5, 0.0]]],
                               atol=FORMULA_TOLERANCE)


def test_group_reward_is_the_blocks_sum_rate_per_active_user() -> None:
    sub_rate = np.array([[[1e6, 2e6, 3e6, 4e6], [5e6, 6e6, 7e6, 8e6]]])  # (B=1, K=2, F=4)
    active = np.array([[[True, True, False], [True, False, False]]])  # 3 users present
    # blocks of 2: (1+2+5+6)/3/η and (3+4+7+8)/3/η with η = 2 Mbit/s
    np.testing.assert_allclose(group_rewards(sub_rate, active, _layout(), 2), [[14 / 6, 22 / 6]],
                               rtol=FORMULA_TOLERANCE)
    np.testing.assert_allclose(group_rewards(sub_rate, active, _layout(), 4), [[36 / 6]], rtol=FORMULA_TOLERANCE)


def test_lagrangian_reward() -> None:
    group = np.array([[1.0, 2.0]])  # (B, G)
    costs = np.array([[[0.5, 0.0, 1.0], [0.2, 0.0, 0.0]]])  # (B, K, U)
    lam = np.array([[2.0, 5.0, 1.0], [10.0, 1.0, 1.0]], dtype=np.float32)
    per_bs = 0.1 * np.array([0.5 * 2.0 + 1.0 * 1.0, 0.2 * 10.0])  # (1 − γ) Σ_u λ c, per BS
    own = lagrangian_rewards(group, costs, lam, gamma=0.9, scope="bs")
    np.testing.assert_allclose(own, group[:, :, None] - per_bs[None, None, :], rtol=FORMULA_TOLERANCE)
    every = lagrangian_rewards(group, costs, lam, gamma=0.9, scope="all")  # eq. 15: Σ over all users
    np.testing.assert_allclose(every, np.repeat(group[:, :, None] - per_bs.sum(), 2, axis=2), rtol=FORMULA_TOLERANCE)


def test_lagrange_multiplier_step() -> None:
    lam = np.array([0.0, 1.0, 4.9], dtype=np.float32)
    mean_cost = np.array([0.2, 0.0, 1.0])
    np.testing.assert_allclose(lagrange_update(lam, mean_cost, lr=0.5, lam_max=5.0), [0.1, 1.0, 5.0],
                               atol=FORMULA_TOLERANCE)
    np.testing.assert_allclose(lagrange_update(lam, -np.ones(3), lr=2.0, lam_max=5.0), [0.0, 0.0, 2.9],
                               atol=FORMULA_TOLERANCE)


def test_reuse_teacher_never_shares_a_subchannel_and_meets_qos() -> None:
    env = SrbEnv("tn-ntn-srb-320", batch=1)
    env.reset(2)
    violated = checked = 0
    for _ in range(20):
        actions = reuse_qos_teacher(env.reports, env.layout)
        assert ((actions > 0).sum(axis=1) <= 1).all()  # at most one BS on every subchannel
        _, _, kpis = env.step(actions)
        violated += int(kpis.qos_violated.sum())
        checked += int(kpis.qos_checked.sum())
    assert checked > 0 and violated / checked <= TEACHER_VIOLATION_BOUND


@pytest.fixture(scope="module")
def tiny() -> tuple[SrbEnv, CmappoNet, np.ndarray]:
    """A random SRB actor on tn-ntn-srb (F = 80, M = 2) and BS rows of a few slots."""
    torch.manual_seed(0)
    env = SrbEnv("tn-ntn-srb", batch=2)
    net = CmappoNet(env.layout, "srb", 32)
    with torch.no_grad():
        net.actor.head.weight.mul_(300.0)  # scores far from uniform so greedy actions serve users
    rows = env.reset(5)
    recorded = []
    for _ in range(4):
        recorded.append(rows.reshape(-1, rows.shape[-1]))
        rows, _, _ = env.step(greedy_actions(net.actor, rows))
    return env, net, np.concatenate(recorded)


def test_onnx_graph_matches_torch_and_the_sequential_reference(tiny, tmp_path) -> None:
    env, net, rows = tiny
    model, parity = export_actor(net.actor, env, rows)
    assert parity["max_abs_diff"] <= PARITY_TOLERANCE and parity["argmax_agree"]
    session = ort.InferenceSession(model.SerializeToString(), session_options(), providers=["CPUExecutionProvider"])
    logits, _ = session.run(["logits", "h_out"], {"obs": rows, "h_in": np.zeros((rows.shape[0], 1), np.float32)})
    onnx_actions = split_argmax(logits, env.decoder.heads)
    reference = sequential_greedy(rows, env.layout, env.layout.srb_size,
                                  lambda m, obs: net.actor.scores(torch.from_numpy(obs)).detach().numpy())
    np.testing.assert_array_equal(onnx_actions, reference)
    assert (onnx_actions[:, env.layout.srb_size :] > 0).any(), "the second agent serves nobody: a vacuous check"


def test_training_smoke_export_and_policy(tmp_path) -> None:
    config = CmappoConfig(scenario="tn-ntn-srb", steps=24, bc_slots=8, batch=2, rollout_slots=4, hidden=16, epochs=1,
                          minibatches=2, lambda_every=2, lambda_init=0.5, lambda_lr=1.0, eval_every=3, eval_slots=4,
                          eval_batch=1, checkpoint_every=3)
    progress = train(config, tmp_path / "run")
    assert progress["update"] == 3 and progress["slots"] == 24
    with (tmp_path / "run" / "train.csv").open() as f:
        assert len(list(csv.DictReader(f))) == 3
    ckpt = load_checkpoint(tmp_path / "run" / "last.pt")
    assert np.all(np.asarray(ckpt["lambda"]) >= 0.5)  # λ only grows under the truncated cost
    assert json.loads((tmp_path / "run" / "config.json").read_text())["method"] == "srb"
    meta = export_srb(tmp_path / "run" / "best.pt", tmp_path / "srb.onnx")
    assert meta["decomposition"]["agents_per_node"] == 2 and meta["parity"]["argmax_agree"]

    env = SrbEnv("tn-ntn-srb", batch=1)
    policy = make_policy(f"onnx:{tmp_path / 'srb.onnx'}", env.spec, 0)
    assert isinstance(policy, OnnxPolicy)
    env.reset(1)
    controls = policy.decide(env.reports)
    assert controls.user.shape == (1, 3, 80) and policy.fallbacks == 0

    # non-finite scores: the slot goes to the fallback (equal split) and is counted
    class NanSession:
        def run(self, names, feeds):
            n = feeds["obs"].shape[0]
            return [np.full((n, 80 * 11), np.nan, np.float32), feeds["h_in"]]

    policy._session = NanSession()
    fallback = policy.decide(env.reports)
    expected = make_policy("equal-split", env.spec, 0).decide(env.reports)
    assert policy.fallbacks == 1 and isinstance(fallback, Controls)
    np.testing.assert_array_equal(fallback.user, expected.user)

    # a model for F = 80 is refused on F = 160 with a one-line reason
    other = SrbEnv("tn-ntn-srb-160", batch=1)
    with pytest.raises(PolicyError) as err:
        make_policy(f"onnx:{tmp_path / 'srb.onnx'}", other.spec, 0)
    assert "n_subchannels=80" in str(err.value) and "\n" not in str(err.value)


@pytest.mark.parametrize("method", ["mappo", "ippo"])
def test_flat_baselines_have_one_agent_per_bs(method: str, tiny) -> None:
    env, _, rows = tiny
    net = CmappoNet(env.layout, method, 16)
    assert net.actor.n_blocks == 1 and net.actor.block == env.layout.n_subchannels
    obs, scores, actions, _ = net.actor.decide(torch.from_numpy(rows[:6]), sample=True)
    assert actions.shape == (6, 1, 80) and scores.shape == (6, 1, 80, 11)
    values = net.values(obs.reshape(2, 3, 1, -1).transpose(1, 2))  # (B, G, K, D) → (B, G, K)
    assert values.shape == (2, 1, 3)
