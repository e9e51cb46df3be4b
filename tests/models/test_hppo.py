"""Hierarchical PPO and the flat baseline on sag: a few-update run with checkpoints and resume,
per-tier GAE and scope rewards, export parity, the ONNX tier policy (refusals, fallback) and the
shipped-model hierarchy running in process."""

from __future__ import annotations

import csv
from pathlib import Path

import numpy as np
import pytest

torch = pytest.importorskip("torch")

from e2_sim.scenarios import load_scenario  # noqa: E402
from e2_sim.world import make_world  # noqa: E402
from e2_sim.world.base import SlotKpis  # noqa: E402
from models.export_sag import export_sag  # noqa: E402
from models.hppo import HppoConfig, TrainingError, gae, load_checkpoint, train  # noqa: E402
from models.sag_env import ScopeRewards  # noqa: E402
from models.sag_flat import FlatConfig  # noqa: E402
from models.sag_flat import train as train_flat  # noqa: E402
from ric.protocol.models import ModelError  # noqa: E402
from xapps.hierarchy import HierarchyPolicy, tier_policy_factory  # noqa: E402
from xapps.policies.allocation import reduced_overrides  # noqa: E402
from xapps.policies.learned_sag import OnnxTierPolicy, SagLayout  # noqa: E402

pytestmark = pytest.mark.train

TINY = {"batch": 2, "episode_slots": 50, "epochs": 1, "minibatch": 256, "hidden": 16, "eval_every": 1,
        "eval_slots": 20, "eval_batch": 1, "checkpoint_every": 1, "bc_slots": 100, "bc_tiers": ("satellite", "hap")}


@pytest.fixture(scope="module")
def run(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("hppo")
    train(HppoConfig(steps=100, **TINY), out)  # type: ignore[arg-type]
    return out


@pytest.fixture(scope="module")
def models(run: Path, tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, dict]:
    out = tmp_path_factory.mktemp("zoo")
    return out, export_sag(run / "best.pt", out)


def test_run_writes_checkpoints_log_and_resumes(run: Path) -> None:
    ckpt = load_checkpoint(run / "last.pt")
    assert ckpt["progress"]["slots"] == 100 and set(ckpt["models"]) == {"satellite", "hap", "local"}
    rows = list(csv.DictReader((run / "train.csv").open()))
    assert len(rows) == 1 and rows[0]["phase"] == "bc" and float(rows[0]["eval_se_bps_hz"]) > 0
    train(HppoConfig(steps=200, **TINY), run, resume=True)  # type: ignore[arg-type]
    assert load_checkpoint(run / "last.pt")["progress"]["slots"] == 200
    assert len(list(csv.DictReader((run / "train.csv").open()))) == 2
    with pytest.raises(TrainingError, match="gamma_hap"):
        train(HppoConfig(steps=10, gamma_hap=0.0), run / "bad")
    with pytest.raises(TrainingError, match="bc_tiers"):
        train(HppoConfig(steps=10, bc_tiers=("beam",)), run / "bad")


def test_gae_on_the_tier_timescale() -> None:
    reward = np.array([[1.0], [0.0], [2.0]])
    value = np.array([[0.5], [0.5], [0.5]])
    gamma, lam = 0.5, 1.0
    adv = gae(reward, value, gamma, lam)
    returns = [1.0 + gamma * 0.0 + gamma**2 * 2.0, 0.0 + gamma * 2.0, 2.0]  # λ = 1: discounted return, terminal end
    assert np.allclose(adv[:, 0] + value[:, 0], returns)


def test_scope_rewards_jain_violation_and_uav_terms() -> None:
    spec = make_world(load_scenario("sag"), load=1.0).spec
    lay = SagLayout(spec)
    rewards = ScopeRewards(lay, 0.01, 200e6)
    k, u = spec.n_nodes, spec.n_users_max
    active = np.zeros((1, k, u), dtype=bool)
    nodes = lay.region_nodes[0]
    active[0, nodes, 0] = True
    bits = np.zeros((1, k, u))
    bits[0, nodes, 0] = 2e6  # equal rates in region 0
    violated = active & (bits < 1e5)
    kpis = SlotKpis(delivered_bits=bits, arrived_bits=bits, dropped_bits=0 * bits, active=active,
                    qos_checked=active, qos_violated=violated, spectral_efficiency_bps_hz=np.zeros(1))
    out = np.zeros((1, k), dtype=bool)
    out[0, nodes[-1]] = True  # the region's UAV is out
    terms = rewards.terms(kpis, out)["region"]
    assert terms[0, 0, 0] == pytest.approx(len(nodes) * 2e6 / (0.01 * 200e6))
    assert terms[0, 0, 1] == pytest.approx(1.0)  # equal rates: Jain = 1
    assert terms[0, 0, 2] == 0.0 and terms[0, 0, 3] == pytest.approx(1.0)
    assert np.all(terms[0, 1:] == 0.0)


def test_export_parity_and_tier_policies(models: tuple[Path, dict]) -> None:
    out, meta = models
    for tier in ("satellite", "hap", "local"):
        parity = meta[tier]["parity"]
        assert parity["argmax_agree"] and parity["max_abs_diff"] <= parity["tolerance"]
        assert meta[tier]["xapp_kind"] == f"sag-{tier}"
    world = make_world(load_scenario("sag"), load=1.0)
    spec = world.spec
    factories = [tier_policy_factory(t, out / f"sag-{t}.onnx") for t in ("satellite", "hap", "local")]
    policy = HierarchyPolicy(spec, 0, factories=factories)
    reports = world.reset([0])
    policy.reset(1)
    for _ in range(12):
        controls = policy.decide(reports)
        allowed = policy._allowed[0]
        local = np.array(policy.tree.local)
        assert not np.any((controls.user[0, local] >= 0) & ~allowed[local])
        reports, _ = world.step(controls)
    assert policy.tier_decisions.tolist() == [1, 2, 12]


def test_onnx_tier_policy_refuses_mismatched_models(models: tuple[Path, dict], tmp_path: Path) -> None:
    out, _ = models
    spec = make_world(load_scenario("sag"), load=1.0).spec
    with pytest.raises(ModelError, match="'sag-hap' model cannot run the sag local tier"):
        OnnxTierPolicy.from_path(spec, "local", out / "sag-hap.onnx")
    with pytest.raises(ModelError, match="not found"):
        OnnxTierPolicy.from_path(spec, "local", tmp_path / "none.onnx")
    # a model trained on the reduced instance (4 subbands) cannot run the 10-subband preset
    reduced = tmp_path / "reduced"
    config = HppoConfig(steps=50, overrides=reduced_overrides("sag"), **TINY)  # type: ignore[arg-type]
    train(config, reduced)
    export_sag(reduced / "best.pt", reduced)
    with pytest.raises(ModelError, match="at most 4 subbands, the world has 10"):
        OnnxTierPolicy.from_path(spec, "local", reduced / "sag-local.onnx")
    # the 10-subband models run on the reduced instance (padded subbands)
    small = make_world(load_scenario("sag", reduced_overrides("sag")), load=1.0).spec
    assert OnnxTierPolicy.from_path(small, "satellite", out / "sag-satellite.onnx").builder.p == 10


def test_non_finite_outputs_fall_back_to_the_heuristic(models: tuple[Path, dict]) -> None:
    out, _ = models
    world = make_world(load_scenario("sag"), load=1.0)
    reports = world.reset([2])
    policy = OnnxTierPolicy.from_path(world.spec, "hap", out / "sag-hap.onnx")
    real_run = policy.runner.session.run
    policy.runner.session.run = lambda names, feeds: [np.full_like(x, np.nan) for x in real_run(names, feeds)]
    allowed = np.ones((world.spec.n_nodes, world.spec.n_resources), dtype=bool)
    decision = policy.decide(reports, allowed)
    expected = tier_policy_factory("hap")(world.spec).decide(reports, allowed)
    assert policy.fallbacks == 1
    assert np.array_equal(decision.controls.user, expected.controls.user)


def test_flat_baseline_trains_and_exports(tmp_path: Path) -> None:
    train_flat(FlatConfig(steps=100, **{**TINY, "bc_slots": 0}), tmp_path)  # type: ignore[arg-type]
    meta = export_sag(tmp_path / "best.pt", tmp_path)
    assert set(meta) == {"flat"} and meta["flat"]["xapp_kind"] == "sag-flat"
    from xapps.policies.learned_sag import FlatMappo

    world = make_world(load_scenario("sag"), load=1.0)
    policy = FlatMappo(world.spec, 0, model=(tmp_path / "sag-flat.onnx").read_bytes())
    reports = world.reset([0])
    controls = policy.decide(reports)
    assert controls.user.shape == (1, world.spec.n_nodes, world.spec.n_resources)
