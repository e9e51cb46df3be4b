"""Hierarchical PPO for the space–air–ground hierarchy (``sag``), in one file.

Three policies — satellite (one agent per beam, every 50 slots), HAP (one agent per HAP, every
10 slots) and local (one agent per TBS/UAV, every slot) — act through `models.sag_env.SagEnv`:
a higher tier's decision is part of the lower tier's observation (its share / constraint) and
bounds its action space (masked actions, `xapps.policies.learned_sag`). Each tier is one shared
MLP actor (input LayerNorm, two hidden layers, multi-discrete heads with invalid actions masked)
and one MLP critic on the agent's own observation, with value normalisation (`models.mappo.
ValueNorm`).

Rewards per tier (`models.sag_env`): the local agents get their region's weighted spectral
efficiency, Jain fairness, QoS violation and UAV out-of-region terms every slot; a HAP gets its
tree's over the 10 slots its decision holds (mean per slot), a beam its tree's over 50 slots. Each
tier's weights are a config field (the preset's paper weights by default). GAE runs per tier on
the tier's own timescale (one step = one decision, ``gamma_<tier>`` per decision); an episode's
end is terminal.

One update = one episode of ``episode_slots`` slots in ``batch`` worlds, then PPO epochs for each
tier over its own transitions. Optional behaviour-cloning warm start (as `models.mappo`): for the
first ``bc_slots`` world slots the tiers in ``bc_tiers`` execute their heuristic's action
(`xapps.hierarchy`: proportional splits, equal split with UAVs flying to their users) with a
probability falling linearly from 1 to 0, and their actors minimise the cross-entropy to it; PPO
then takes over. Cloning is off by default: the shipped preset models train every tier with PPO
from the start, which beat cloning the splits (the cloned proportional splits kept PPO near the
heuristics' shares). The best checkpoint is the one with the highest mean spectral efficiency of
the greedy policy on the evaluation worlds.

The flat baseline (`models.sag_flat`) shares this loop with one policy for every node acting
every slot without constraints.
"""

from __future__ import annotations

import csv
import json
import math
import time
from collections.abc import Callable, Mapping
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch import nn

from models.config import TrainConfig, TrainingError
from models.mappo import AgentLinear, ValueNorm
from models.sag_env import TIERS, SagEnv, preset_weights, weighted

CHECKPOINT_FORMAT = 1
TRAINER = "hppo"
_MASKED = -1e9

ProgressHook = Callable[[dict[str, Any]], None]
Weights = tuple[float, float, float, float]


@dataclass
class HppoConfig(TrainConfig):
    """Everything a hierarchical PPO run depends on (saved in every checkpoint)."""

    scenario: str = "sag"
    """Preset name or TOML path (a ``sag`` world)."""
    load: float | None = None
    """User density (the scenario's default when None)."""
    overrides: dict[str, Any] = field(default_factory=dict)
    """Scenario field overrides (dotted names)."""
    max_subbands: int | None = None
    """Subbands the models handle (padding; None: the scenario's count)."""
    steps: int = 400_000
    """Training budget in world slots (summed over the batch of worlds)."""
    seed: int = 1
    """Seed of the networks, the sampling and the training worlds."""
    batch: int = 16
    """Worlds stepped together."""
    episode_slots: int = 500
    """Slots per training episode = per update (a multiple of the satellite period)."""
    hidden: int = 64
    """Width of the two hidden layers of actors and critics."""
    lr: float = 1e-3
    """Adam learning rate during behaviour cloning."""
    ppo_lr: float = 3e-4
    """Adam learning rate during PPO."""
    epochs: int = 4
    """PPO epochs per update and tier."""
    minibatch: int = 4096
    """Samples per minibatch (fewer when a tier has fewer)."""
    clip: float = 0.2
    """PPO ratio clip."""
    entropy_coef: float = 0.01
    """Weight of the mean head entropy."""
    value_coef: float = 1.0
    """Weight of the value loss."""
    max_grad_norm: float = 5.0
    """Gradient norm clip."""
    gamma_satellite: float = 0.5
    """Discount per satellite decision."""
    gamma_hap: float = 0.5
    """Discount per HAP decision."""
    gamma_local: float = 0.9
    """Discount per slot of the local tier."""
    gae_lambda: float = 0.95
    """GAE λ."""
    weights_satellite: tuple[float, float, float, float] | None = None
    """Satellite reward weights (SE, fairness, QoS violation, UAV out of region); None: the preset's."""
    weights_hap: tuple[float, float, float, float] | None = None
    """HAP reward weights, same order; None: the preset's."""
    weights_local: tuple[float, float, float, float] | None = None
    """Local reward weights, same order; None: the preset's."""
    bc_slots: int = 80_000
    """World slots of behaviour cloning of the tier heuristics before PPO (0: none)."""
    bc_tiers: tuple[str, ...] = ()
    """Tiers cloned from their heuristic during ``bc_slots`` (``flat``: the flat baseline); others start with PPO."""
    eval_every: int = 5
    """Evaluate the greedy policy every this many updates."""
    eval_slots: int = 500
    """Slots of each periodic evaluation."""
    eval_batch: int = 4
    """Worlds of each periodic evaluation."""
    eval_seed: int = 9_000
    """World seed of the periodic evaluations (never the test seed 0)."""
    checkpoint_every: int = 5
    """Save ``last.pt`` every this many updates."""
    torch_threads: int = 1
    """Threads torch may use."""

    def check(self) -> None:
        """`TrainingError` naming the first field out of range."""
        self.require_positive("steps", "batch", "episode_slots", "hidden", "epochs", "minibatch", "eval_every",
                              "eval_slots", "eval_batch", "checkpoint_every", "torch_threads")
        for name in ("gamma_satellite", "gamma_hap", "gamma_local"):
            if not 0 < getattr(self, name) <= 1:
                raise TrainingError(f"{name} must be in (0, 1], got {getattr(self, name)}")
        if not 0 <= self.gae_lambda <= 1:
            raise TrainingError(f"gae_lambda must be in [0, 1], got {self.gae_lambda}")
        if self.bc_slots < 0:
            raise TrainingError(f"bc_slots must be >= 0, got {self.bc_slots}")
        unknown = [t for t in self.bc_tiers if t not in (*TIERS, "flat")]
        if unknown:
            raise TrainingError(f"bc_tiers names unknown tiers {unknown}; known: {', '.join((*TIERS, 'flat'))}")
        for name in ("weights_satellite", "weights_hap", "weights_local"):
            value = getattr(self, name)
            if value is not None and (len(value) != 4 or not all(math.isfinite(float(x)) for x in value)):
                raise TrainingError(f"{name} must be 4 finite numbers, got {value!r}")

    def tier_weights(self, tier: str, preset: Weights) -> Weights:
        """The reward weights of ``tier`` (the preset's where the config gives none)."""
        value = getattr(self, f"weights_{tier}", None)
        return preset if value is None else (float(value[0]), float(value[1]), float(value[2]), float(value[3]))


# ---------------------------------------------------------------------------------------------
# networks
class Mlp(nn.Module):
    """LayerNorm → 2 × (linear, tanh) → linear: ``(..., n_in) → (..., n_out)``."""

    def __init__(self, n_in: int, hidden: int, n_out: int, head_gain: float) -> None:
        super().__init__()
        self.norm = nn.LayerNorm(n_in)
        self.fc1 = AgentLinear(1, n_in, hidden)
        self.fc2 = AgentLinear(1, hidden, hidden)
        self.head = AgentLinear(1, hidden, n_out, gain=head_gain)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        z = torch.tanh(self.fc1(self.norm(x)))
        z = torch.tanh(self.fc2(z))
        out: torch.Tensor = self.head(z)
        return out


def head_groups(heads: list[int]) -> list[tuple[int, int]]:
    """Runs of equal head sizes: ``[(count, size), ...]`` in order."""
    groups: list[tuple[int, int]] = []
    for size in heads:
        if groups and groups[-1][1] == size:
            groups[-1] = (groups[-1][0] + 1, size)
        else:
            groups.append((1, size))
    return groups


class TierNet(nn.Module):
    """Actor (masked multi-discrete logits) and critic of one tier (or of the flat baseline)."""

    def __init__(self, obs_dim: int, heads: list[int], hidden: int) -> None:
        super().__init__()
        self.heads = list(heads)
        self.groups = head_groups(self.heads)
        self.actor = Mlp(obs_dim, hidden, sum(heads), head_gain=0.01)
        self.critic = Mlp(obs_dim, hidden, 1, head_gain=1.0)

    def dists(self, logits: torch.Tensor, valid: torch.Tensor) -> list[torch.distributions.Categorical]:
        """One categorical per run of equal-size heads, over ``(N, count, size)``; invalid actions masked."""
        masked = torch.where(valid, logits, torch.full_like(logits, _MASKED))
        out, start = [], 0
        for count, size in self.groups:
            part = masked[:, start : start + count * size].reshape(-1, count, size)
            out.append(torch.distributions.Categorical(logits=part))
            start += count * size
        return out

    def split(self, actions: torch.Tensor) -> list[torch.Tensor]:
        """Actions ``(N, len(heads))`` split per run of heads."""
        parts, start = [], 0
        for count, _ in self.groups:
            parts.append(actions[:, start : start + count])
            start += count
        return parts

    def log_prob_entropy(self, obs: torch.Tensor, valid: torch.Tensor, actions: torch.Tensor
                         ) -> tuple[torch.Tensor, torch.Tensor]:
        """Σ-over-heads log-probability (N,) of ``actions`` and mean head entropy (scalar)."""
        dists = self.dists(self.actor(obs), valid)
        logp = sum(d.log_prob(a).sum(-1) for d, a in zip(dists, self.split(actions), strict=True))
        entropy = torch.cat([d.entropy().reshape(-1) for d in dists]).mean()
        assert isinstance(logp, torch.Tensor)
        return logp, entropy

    @torch.no_grad()
    def sample(self, obs: np.ndarray, valid: np.ndarray, greedy: bool = False
               ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """Actions (N, heads) int64, their log-probabilities (N,) and values (N,) for ``obs`` (N, dim)."""
        o, v = torch.from_numpy(obs), torch.from_numpy(valid)
        dists = self.dists(self.actor(o), v)
        parts = [d.probs.argmax(-1) if greedy else d.sample() for d in dists]
        logp = sum(d.log_prob(a).sum(-1) for d, a in zip(dists, parts, strict=True))
        assert isinstance(logp, torch.Tensor)
        value = self.critic(o)[..., 0]
        return torch.cat(parts, dim=-1).numpy(), logp.numpy(), value.numpy()

    @torch.no_grad()
    def log_prob(self, obs: np.ndarray, valid: np.ndarray, actions: np.ndarray) -> np.ndarray:
        """Log-probabilities (N,) of given ``actions`` (teacher actions during behaviour cloning)."""
        logp, _ = self.log_prob_entropy(torch.from_numpy(obs), torch.from_numpy(valid), torch.from_numpy(actions))
        return logp.numpy()


class OnnxTierActor(nn.Module):
    """The exported graph: ``obs`` (N, dim), ``h_in`` (N, 1) → raw ``logits``, ``h_out`` = ``h_in``
    (a feed-forward model under the contract of `ric.protocol.models`; masking happens in the xApp)."""

    def __init__(self, net: TierNet) -> None:
        super().__init__()
        self.actor = net.actor

    def forward(self, obs: torch.Tensor, h_in: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        return self.actor(obs), h_in * 1.0


# ---------------------------------------------------------------------------------------------
# rollout storage and PPO
class TierBuffer:
    """One episode of one tier's decisions: arrays (D, B, N, ...) with D decisions."""

    def __init__(self, n_dec: int, batch: int, n_agents: int, obs_dim: int, n_logits: int, n_heads: int) -> None:
        shape = (n_dec, batch, n_agents)
        self.obs = np.zeros((*shape, obs_dim), np.float32)
        self.valid = np.zeros((*shape, n_logits), bool)
        self.act = np.zeros((*shape, n_heads), np.int64)
        self.teacher = np.zeros((*shape, n_heads), np.int64)
        self.logp = np.zeros(shape, np.float32)
        self.value = np.zeros(shape, np.float32)
        self.reward = np.zeros(shape, np.float64)
        self.n = 0


def gae(reward: np.ndarray, value: np.ndarray, gamma: float, lam: float) -> np.ndarray:
    """Advantages (D, ...) of one episode with a terminal end; ``value`` de-normalised."""
    adv = np.zeros_like(reward)
    last = np.zeros(reward.shape[1:])
    for t in reversed(range(reward.shape[0])):
        nxt = value[t + 1] if t + 1 < reward.shape[0] else 0.0
        delta = reward[t] + gamma * nxt - value[t]
        last = delta + gamma * lam * last
        adv[t] = last
    return adv


def ppo_update(net: TierNet, optim: torch.optim.Optimizer, norm: ValueNorm, buf: TierBuffer, gamma: float,
               config: HppoConfig, bc: bool, rng: np.random.Generator) -> dict[str, float]:
    """PPO (or behaviour-cloning) epochs over one tier's episode; mean losses."""
    values = norm.denormalize(buf.value.astype(np.float64))
    adv = gae(buf.reward, values, gamma, config.gae_lambda)
    returns = adv + values
    norm.update(returns)
    target = norm.normalize(returns).astype(np.float32).reshape(-1)
    adv_n = ((adv - adv.mean()) / (adv.std() + 1e-8)).astype(np.float32).reshape(-1)
    n = target.size
    obs = torch.from_numpy(buf.obs.reshape(n, -1))
    valid = torch.from_numpy(buf.valid.reshape(n, -1))
    act = torch.from_numpy((buf.teacher if bc else buf.act).reshape(n, -1))
    logp_old = torch.from_numpy(buf.logp.reshape(n))
    v_old = torch.from_numpy(buf.value.reshape(n))
    adv_t, tgt = torch.from_numpy(adv_n), torch.from_numpy(target)
    stats = {"policy_loss": 0.0, "value_loss": 0.0, "entropy": 0.0, "bc_loss": 0.0}
    steps = 0
    size = min(config.minibatch, n)
    for _ in range(config.epochs):
        perm = torch.from_numpy(rng.permutation(n))
        for start in range(0, n - size + 1, size):
            idx = perm[start : start + size]
            logp, entropy = net.log_prob_entropy(obs[idx], valid[idx], act[idx])
            v = net.critic(obs[idx])[..., 0]
            v_clip = v_old[idx] + (v - v_old[idx]).clamp(-config.clip, config.clip)
            value_loss = torch.max((v - tgt[idx]) ** 2, (v_clip - tgt[idx]) ** 2).mean()
            if bc:
                bc_loss = -logp.mean()
                loss = bc_loss + config.value_coef * value_loss
                stats["bc_loss"] += float(bc_loss.detach())
            else:
                ratio = torch.exp(logp - logp_old[idx])
                a = adv_t[idx]
                policy_loss = -torch.min(ratio * a, ratio.clamp(1 - config.clip, 1 + config.clip) * a).mean()
                loss = policy_loss + config.value_coef * value_loss - config.entropy_coef * entropy
                stats["policy_loss"] += float(policy_loss.detach())
            optim.zero_grad()
            loss.backward()
            nn.utils.clip_grad_norm_(net.parameters(), config.max_grad_norm)
            optim.step()
            stats["value_loss"] += float(value_loss.detach())
            stats["entropy"] += float(entropy.detach())
            steps += 1
    return {key: value / max(steps, 1) for key, value in stats.items()}


# ---------------------------------------------------------------------------------------------
# episodes
def _choose(net: TierNet | None, obs: np.ndarray, valid: np.ndarray, teacher: np.ndarray, mode: str,
            use_teacher: np.ndarray | None) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Actions (B, N, heads), log-probabilities and values (B, N) of one decision.

    ``mode``: ``sample`` (PPO), ``greedy`` (evaluation) or ``teacher`` (the heuristic only);
    ``use_teacher`` (B,) bool replaces sampled actions by the teacher's in those worlds.
    """
    b, n, _ = obs.shape
    if mode == "teacher" or net is None:
        return teacher, np.zeros((b, n), np.float32), np.zeros((b, n), np.float32)
    act, logp, value = net.sample(obs.reshape(b * n, -1), valid.reshape(b * n, -1), greedy=mode == "greedy")
    act = act.reshape(b, n, -1)
    if use_teacher is not None and use_teacher.any():
        act = np.where(use_teacher[:, None, None], teacher, act)
        logp = net.log_prob(obs.reshape(b * n, -1), valid.reshape(b * n, -1), act.reshape(b * n, -1))
    return act, logp.reshape(b, n), value.reshape(b, n)


def run_episode(env: SagEnv, nets: dict[str, TierNet], seeds: list[int], slots: int, mode: str,
                weights: dict[str, Weights], teacher_prob: float = 0.0, rng: np.random.Generator | None = None,
                record: bool = False, teacher_tiers: tuple[str, ...] = ()
                ) -> tuple[dict[str, TierBuffer], dict[str, float]]:
    """One episode of ``slots`` slots; per-tier buffers (when ``record``) and world KPIs.

    With ``env.flat`` the single net ``nets["flat"]`` decides every node every slot; otherwise
    the three tiers decide at their periods. KPIs: mean spectral efficiency [bit/s/Hz],
    throughput [Mbit/s], mean per-slot Jain index over active users, QoS violation rate, mean
    UAVs out of region, and the world-level paper objective.
    """
    env.reset(seeds)
    b = env.batch
    names = ["flat"] if env.flat else list(TIERS)
    bufs: dict[str, TierBuffer] = {}
    scope_of = {"satellite": "beam", "hap": "hap", "local": "region", "flat": "node"}
    period = {"flat": 1, **{t: env.periods[i] for i, t in enumerate(TIERS)}}
    lay = env.layout
    region_idx = lay.region_of[lay.local]
    # the scope whose reward each flat agent gets: beams their tree, HAPs theirs, local nodes their region
    flat_scope = np.zeros(lay.k, dtype=np.int64)
    flat_kind = np.zeros(lay.k, dtype=np.int64)
    flat_scope[lay.beams] = np.arange(len(lay.beams))
    flat_kind[lay.haps], flat_scope[lay.haps] = 1, np.arange(len(lay.haps))
    flat_kind[lay.local], flat_scope[lay.local] = 2, region_idx
    sums = {"se": 0.0, "bits": 0.0, "jain": 0.0, "viol": 0.0, "checked": 0.0, "uav": 0.0, "objective": 0.0}
    paper = preset_weights(env.spec.static)
    current: dict[str, int] = {}
    for t in range(slots):
        for name in names:
            if t % period[name]:
                continue
            obs, valid, teacher = env.observe(name)
            use = None
            if rng is not None and teacher_prob > 0 and name in teacher_tiers:
                use = rng.random(b) < teacher_prob
            act, logp, value = _choose(nets.get(name), obs, valid, teacher, mode, use)
            env.act(name, act)
            if record:
                if name not in bufs:
                    n_dec = slots // period[name]
                    bufs[name] = TierBuffer(n_dec, b, obs.shape[1], obs.shape[2], valid.shape[2], act.shape[2])
                buf = bufs[name]
                d = buf.n
                buf.obs[d], buf.valid[d], buf.act[d], buf.teacher[d] = obs, valid, act, teacher
                buf.logp[d], buf.value[d] = logp, value
                buf.n += 1
                current[name] = d
        terms, kpis = env.step()
        if record:
            for name in names:
                buf = bufs[name]
                d = current[name]
                if name == "flat":
                    beam = weighted(terms["beam"], weights["satellite"])
                    hap = weighted(terms["hap"], weights["hap"])
                    region = weighted(terms["region"], weights["local"])
                    per_kind = [beam, hap, region]
                    reward = np.zeros((b, lay.k))
                    for kind in range(3):
                        nodes = np.flatnonzero(flat_kind == kind)
                        reward[:, nodes] = per_kind[kind][:, flat_scope[nodes]]
                    buf.reward[d] += reward
                elif name == "local":
                    buf.reward[d] += weighted(terms["region"], weights["local"])[:, region_idx]
                else:
                    buf.reward[d] += weighted(terms[scope_of[name]], weights[name]) / period[name]
        active = kpis.active
        bits = kpis.delivered_bits
        sums["se"] += float(kpis.spectral_efficiency_bps_hz.mean())
        sums["bits"] += float(bits.sum()) / b
        n_act = active.sum(axis=(1, 2))
        s1 = (bits * active).sum(axis=(1, 2))
        s2 = (bits * bits * active).sum(axis=(1, 2))
        jain = np.where(s2 > 0, s1 * s1 / np.maximum(n_act * s2, 1e-30), 0.0)
        sums["jain"] += float(jain.mean())
        sums["viol"] += float((kpis.qos_violated & active).sum()) / b
        sums["checked"] += float(active.sum()) / b
        out = float(kpis.extra["uav_out_of_region"].mean())
        sums["uav"] += out
        n_uav = max(int(lay.is_uav.sum()), 1)
        viol_rate = float(((kpis.qos_violated & active).sum(axis=(1, 2)) / np.maximum(n_act, 1)).mean())
        sums["objective"] += (paper[0] * float(kpis.spectral_efficiency_bps_hz.mean())
                              + paper[1] * float(jain.mean()) + paper[2] * viol_rate + paper[3] * out / n_uav)
    slot_s = env.scenario.slot_s
    result = {
        "se_bps_hz": sums["se"] / slots,
        "throughput_mbps": sums["bits"] / slots / slot_s / 1e6,
        "jain": sums["jain"] / slots,
        "qos_violation_rate": sums["viol"] / max(sums["checked"], 1.0),
        "uav_out_of_region": sums["uav"] / slots,
        "objective": sums["objective"] / slots,
    }
    return bufs, result


# ---------------------------------------------------------------------------------------------
# checkpoints
def _save(path: Path, nets: dict[str, TierNet], optims: Mapping[str, torch.optim.Optimizer],
          norms: dict[str, ValueNorm], config: Any, env: SagEnv, progress: dict[str, Any],
          rng: np.random.Generator, trainer: str) -> None:
    tmp = path.with_suffix(".tmp")
    torch.save({
        "format": CHECKPOINT_FORMAT,
        "trainer": trainer,
        "config": asdict(config),
        "models": {k: v.state_dict() for k, v in nets.items()},
        "optimizers": {k: v.state_dict() for k, v in optims.items()},
        "value_norms": {k: vars(v) for k, v in norms.items()},
        "progress": progress,
        "spec": {"scenario": env.spec.scenario, "world_kind": env.spec.world_kind, "load": env.load,
                 "tiers": {k: {"obs_dim": int(n.actor.norm.normalized_shape[0]), "heads": n.heads}
                           for k, n in nets.items()}},
        "torch_rng": torch.get_rng_state(),
        "numpy_rng": rng.bit_generator.state,
    }, tmp)
    tmp.replace(path)


def load_checkpoint(path: str | Path) -> dict[str, Any]:
    """A checkpoint written by `train` (or `models.sag_flat.train`); `TrainingError` when it is not one."""
    file = Path(path)
    if not file.is_file():
        raise TrainingError(f"checkpoint {str(path)!r} not found")
    try:
        data = torch.load(file, map_location="cpu", weights_only=False)
    except Exception as exc:  # torch raises several types for a file that is not a checkpoint
        raise TrainingError(f"{path}: not a training checkpoint ({type(exc).__name__})") from None
    if not isinstance(data, dict) or data.get("format") != CHECKPOINT_FORMAT or "models" not in data:
        raise TrainingError(f"{path}: not a sag training checkpoint of format {CHECKPOINT_FORMAT}")
    return data


def networks_of(checkpoint: dict[str, Any]) -> dict[str, TierNet]:
    """The tier networks stored in ``checkpoint``, weights loaded, in eval mode."""
    hidden = int(checkpoint["config"]["hidden"])
    nets = {}
    for name, info in checkpoint["spec"]["tiers"].items():
        net = TierNet(int(info["obs_dim"]), list(info["heads"]), hidden)
        net.load_state_dict(checkpoint["models"][name])
        net.eval()
        nets[name] = net
    return nets


# ---------------------------------------------------------------------------------------------
# training
def make_env(config: HppoConfig, batch: int, flat: bool) -> SagEnv:
    """The training / evaluation environment of ``config``."""
    return SagEnv(config.scenario, config.load, batch, config.overrides, config.max_subbands, flat=flat)


def build_nets(env: SagEnv, hidden: int) -> dict[str, TierNet]:
    """Fresh networks: one per tier, or one ``flat`` network in flat mode."""
    if env.flat:
        f = env.flat_nodes
        return {"flat": TierNet(f.dim, f.heads, hidden)}
    return {name: TierNet(tier.dim, tier.heads, hidden) for name, tier in env.tiers.items()}


def train(config: HppoConfig, out_dir: str | Path, resume: bool = False, hook: ProgressHook | None = None,
          flat: bool = False) -> dict[str, Any]:
    """Train, writing ``last.pt``, ``best.pt``, ``train.csv`` and ``config.json`` to ``out_dir``.

    ``resume`` continues from ``out_dir/last.pt``; ``hook`` gets the progress dict after every
    update; ``flat`` trains the flat baseline instead (see `models.sag_flat`). Returns the final
    progress dict.
    """
    config.check()
    trainer = "sag-flat" if flat else TRAINER
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    torch.set_num_threads(config.torch_threads)
    torch.manual_seed(config.seed)
    rng = np.random.default_rng(config.seed)
    try:
        env = make_env(config, config.batch, flat)
        eval_env = make_env(config, config.eval_batch, flat)
    except ValueError as exc:
        raise TrainingError(str(exc).splitlines()[0]) from None
    if config.episode_slots % env.periods[0]:
        raise TrainingError(f"episode_slots ({config.episode_slots}) must be a multiple of the satellite period "
                            f"({env.periods[0]})")
    preset = preset_weights(env.spec.static)
    weights = {t: config.tier_weights(t, preset) for t in TIERS}
    nets = build_nets(env, config.hidden)
    optims = {k: torch.optim.Adam(n.parameters(), lr=config.lr, eps=1e-5) for k, n in nets.items()}
    norms = {k: ValueNorm() for k in nets}
    gammas = {"satellite": config.gamma_satellite, "hap": config.gamma_hap, "local": config.gamma_local,
              "flat": config.gamma_local}
    progress: dict[str, Any] = {"update": 0, "slots": 0, "wall_s": 0.0, "best_se_bps_hz": -math.inf, "phase": "bc"}
    if resume:
        ckpt = load_checkpoint(out / "last.pt")
        for k, n in nets.items():
            n.load_state_dict(ckpt["models"][k])
            optims[k].load_state_dict(ckpt["optimizers"][k])
            vars(norms[k]).update(ckpt["value_norms"][k])
        progress.update(ckpt["progress"])
        progress["resumed_at_slots"] = [*progress.get("resumed_at_slots", []), int(progress["slots"])]
        torch.set_rng_state(ckpt["torch_rng"])
        rng.bit_generator.state = ckpt["numpy_rng"]
    (out / "config.json").write_text(json.dumps(asdict(config), indent=2) + "\n")
    csv_file = (out / "train.csv").open("a", newline="")
    log = csv.writer(csv_file)
    if csv_file.tell() == 0:
        log.writerow(["update", "slots", "wall_s", "phase", "reward_" + "_".join(nets), "policy_loss",
                      "value_loss", "entropy", "bc_loss", "eval_se_bps_hz", "eval_throughput_mbps", "eval_jain",
                      "eval_qos_violation_rate"])
    eval_seeds = [config.eval_seed + i for i in range(config.eval_batch)]
    if "teacher_eval" not in progress:
        _, progress["teacher_eval"] = run_episode(eval_env, nets, eval_seeds, config.eval_slots, "teacher", weights)
    started = time.perf_counter() - float(progress["wall_s"])
    per_update = config.batch * config.episode_slots
    n_updates = math.ceil(config.steps / per_update)
    while progress["update"] < n_updates:
        update = int(progress["update"])
        slots_done = int(progress["slots"])
        bc = config.bc_slots > 0 and slots_done < config.bc_slots
        teacher_prob = 1.0 - slots_done / config.bc_slots if bc else 0.0
        for name, optim in optims.items():
            for group in optim.param_groups:
                group["lr"] = config.lr if bc and name in config.bc_tiers else config.ppo_lr
        seeds = [config.seed * 100_000 + update * config.batch + i for i in range(config.batch)]
        for n in nets.values():
            n.eval()
        bufs, _ = run_episode(env, nets, seeds, config.episode_slots, "sample", weights, teacher_prob, rng,
                              record=True, teacher_tiers=tuple(config.bc_tiers))
        for n in nets.values():
            n.train()
        stats = {k: ppo_update(nets[k], optims[k], norms[k], bufs[k], gammas[k], config, bc and k in config.bc_tiers,
                               rng) for k in nets}
        mean_stats = {s: float(np.mean([v[s] for v in stats.values()])) for s in next(iter(stats.values()))}
        rewards = "/".join(f"{bufs[k].reward.mean():.3f}" for k in nets)
        progress.update(update=update + 1, slots=slots_done + per_update, wall_s=time.perf_counter() - started,
                        phase="bc" if bc and any(k in config.bc_tiers for k in nets) else "ppo", reward=rewards,
                        **mean_stats)
        progress["slots_per_s"] = progress["slots"] / max(progress["wall_s"], 1e-9)
        last_update = progress["update"] >= n_updates
        row: dict[str, Any] = {}
        if progress["update"] % config.eval_every == 0 or last_update:
            for n in nets.values():
                n.eval()
            _, row = run_episode(eval_env, nets, eval_seeds, config.eval_slots, "greedy", weights)
            progress["eval"] = row
            if row["se_bps_hz"] > progress["best_se_bps_hz"]:
                progress["best_se_bps_hz"] = row["se_bps_hz"]
                progress["best_update"] = progress["update"]
                progress["best_eval"] = row
                _save(out / "best.pt", nets, optims, norms, config, env, progress, rng, trainer)
        log.writerow([progress["update"], progress["slots"], f"{progress['wall_s']:.1f}", progress["phase"], rewards,
                      f"{mean_stats['policy_loss']:.5f}", f"{mean_stats['value_loss']:.5f}",
                      f"{mean_stats['entropy']:.4f}", f"{mean_stats['bc_loss']:.5f}",
                      *(f"{row[k]:.4f}" if row else "" for k in ("se_bps_hz", "throughput_mbps", "jain",
                                                                   "qos_violation_rate"))])
        csv_file.flush()
        if progress["update"] % config.checkpoint_every == 0 or last_update:
            _save(out / "last.pt", nets, optims, norms, config, env, progress, rng, trainer)
        if hook is not None:
            hook(dict(progress))
    csv_file.close()
    if not (out / "best.pt").exists():
        _save(out / "best.pt", nets, optims, norms, config, env, progress, rng, trainer)
    return progress


__all__ = ["HppoConfig", "OnnxTierActor", "TierNet", "load_checkpoint", "networks_of", "run_episode", "train"]
