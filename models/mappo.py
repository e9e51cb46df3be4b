"""Recurrent MAPPO for the per-node schedulers (hex19, random19, conflict8), in one file.

Read top to bottom: the typed config, the networks (input LayerNorm, two hidden layers of 64,
a GRU, multi-discrete heads), value normalisation, then `train`: roll out ``batch`` worlds for
``rollout_slots`` slots, compute GAE on de-normalised values, and run PPO epochs over recurrent
chunks (each chunk is one rollout of one agent, started from the hidden state stored when the
rollout began). Training notes: ``shared/reference/training.md``; the MAPPO recipe is that of Yu
et al. (value normalisation, Huber value loss with clipping, advantage standardisation).

Behaviour cloning warm start. With ``teacher`` set (e.g. ``fp``, a centralized optimizer with
genie CSI, or ``gms``), the first ``bc_slots`` slots train the actor to imitate the teacher's
decision from the agent's own (one-slot-old) observation, DAgger style: the executed action is
the teacher's with a probability falling linearly from 1 to 0, the student's otherwise; the
critic learns from the same rollouts. PPO then takes over from the cloned policy. The paper
trains from scratch for 10 M slots; the warm start is how a CPU-sized budget gets a policy past
the baselines.

Shared or separate policies: ``sharing = "shared"`` uses one network for every agent (data
pooled); ``"separate"`` gives every agent its own weights (stored as stacked per-agent matrices,
so all agents still run in one batched call).
"""

from __future__ import annotations

import csv
import json
import math
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any, Literal

import numpy as np
import torch
from torch import nn

from models.config import TrainConfig, TrainingError
from models.envs import VectorEnv
from xapps.policies.learned import split_argmax

CHECKPOINT_FORMAT = 1



@dataclass
class MappoConfig(TrainConfig):
    """Everything a training run depends on (saved in every checkpoint)."""

    scenario: str = "hex19"
    """Preset name or TOML path."""
    load: float | None = None
    """Traffic load in the scenario's unit (its default when None)."""
    overrides: dict[str, Any] = field(default_factory=dict)
    """Scenario field overrides (dotted names)."""
    steps: int = 200_000
    """Training budget in world slots (summed over the batch of worlds)."""
    seed: int = 1
    """Seed of the networks, the sampling and the training worlds."""
    batch: int = 64
    """Worlds stepped together."""
    episode_slots: int = 1024
    """Slots per training episode (a multiple of ``rollout_slots``)."""
    rollout_slots: int = 64
    """Slots per rollout."""
    chunk_slots: int = 16
    """Length of the recurrent chunks the updates run over (divides ``rollout_slots``)."""
    sharing: Literal["shared", "separate"] = "shared"
    """One network for all agents, or one per agent."""
    hidden: int = 64
    """Width of the hidden layers and of the GRU state."""
    lr: float = 5e-4
    """Adam learning rate of actor and critic during behaviour cloning."""
    ppo_lr: float = 1e-4
    """Adam learning rate of actor and critic during PPO."""
    epochs: int = 4
    """PPO epochs per rollout."""
    minibatches: int = 8
    """Minibatches per epoch (split over the worlds' chunks)."""
    clip: float = 0.2
    """PPO ratio clip."""
    entropy_coef: float = 0.01
    """Weight of the mean head entropy."""
    value_coef: float = 1.0
    """Weight of the value loss."""
    huber_delta: float = 10.0
    """Huber loss threshold of the value loss (normalised returns)."""
    max_grad_norm: float = 10.0
    """Gradient norm clip."""
    gamma: float = 0.995
    """Discount per slot."""
    gae_lambda: float = 0.95
    """GAE λ."""
    reward_scale: float = 0.1
    """Rewards are multiplied by this before learning (values stay normalised anyway)."""
    teacher: str | None = "fp"
    """Policy to imitate during the warm start (None: train from scratch)."""
    bc_slots: int = 40_000
    """World slots of behaviour cloning before PPO (0: none)."""
    teacher_genie: bool = True
    """A genie teacher decides on the current channel (False: on the agents' one-slot-old channel)."""
    eval_every: int = 20
    """Evaluate the greedy policy every this many updates."""
    eval_slots: int = 600
    """Slots of each periodic evaluation."""
    eval_batch: int = 4
    """Worlds of each periodic evaluation."""
    eval_seed: int = 9_000
    """World seed of the periodic evaluations (never the test seed 0)."""
    checkpoint_every: int = 20
    """Save ``last.pt`` every this many updates."""
    torch_threads: int = 1
    """Threads torch may use."""

    def check(self) -> None:
        """`TrainingError` naming the first field out of range."""
        positive = ("steps", "batch", "episode_slots", "rollout_slots", "hidden", "epochs", "minibatches",
                    "eval_every", "eval_slots", "chunk_slots", "eval_batch", "checkpoint_every", "torch_threads")
        self.require_positive(*positive)
        if self.episode_slots % self.rollout_slots:
            raise TrainingError(f"episode_slots ({self.episode_slots}) must be a multiple of rollout_slots "
                             f"({self.rollout_slots})")
        if self.rollout_slots % self.chunk_slots:
            raise TrainingError(f"chunk_slots ({self.chunk_slots}) must divide rollout_slots ({self.rollout_slots})")
        if self.sharing not in ("shared", "separate"):
            raise TrainingError(f"sharing must be 'shared' or 'separate', got {self.sharing!r}")
        if not 0 < self.gamma <= 1 or not 0 <= self.gae_lambda <= 1:
            raise TrainingError("gamma must be in (0, 1] and gae_lambda in [0, 1]")
        if self.bc_slots < 0:
            raise TrainingError(f"bc_slots must be >= 0, got {self.bc_slots}")



# ---------------------------------------------------------------------------------------------
# networks
class AgentLinear(nn.Module):
    """A linear layer with one weight matrix per agent group: ``(..., G, in) → (..., G, out)``.

    ``groups = 1`` is an ordinary shared layer broadcast over the agent axis.
    """

    def __init__(self, groups: int, n_in: int, n_out: int, gain: float = math.sqrt(2)) -> None:
        super().__init__()
        weight = torch.empty(groups, n_out, n_in)
        for g in range(groups):
            nn.init.orthogonal_(weight[g], gain=gain)
        self.weight = nn.Parameter(weight.transpose(1, 2).contiguous())  # (G, in, out)
        self.bias = nn.Parameter(torch.zeros(groups, n_out))
        self.groups = groups

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if self.groups == 1:
            return x @ self.weight[0] + self.bias[0]
        return torch.einsum("...gi,gio->...go", x, self.weight) + self.bias


class RecurrentNet(nn.Module):
    """LayerNorm → 2×(linear, ReLU) → GRU cell → linear head, per agent group.

    Inputs ``x`` (..., K, n_in) and ``h`` (..., K, hidden); returns (out, new h).
    """

    def __init__(self, groups: int, n_in: int, hidden: int, n_out: int, head_gain: float) -> None:
        super().__init__()
        self.norm = nn.LayerNorm(n_in)
        self.fc1 = AgentLinear(groups, n_in, hidden)
        self.fc2 = AgentLinear(groups, hidden, hidden)
        self.gru_x = AgentLinear(groups, hidden, 3 * hidden, gain=1.0)
        self.gru_h = AgentLinear(groups, hidden, 3 * hidden, gain=1.0)
        self.head = AgentLinear(groups, hidden, n_out, gain=head_gain)
        self.hidden = hidden

    def forward(self, x: torch.Tensor, h: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        z = torch.relu(self.fc1(self.norm(x)))
        z = torch.relu(self.fc2(z))
        gx, gh, k = self.gru_x(z), self.gru_h(h), self.hidden
        # constant slices (not chunk): the exported graph then has no shape arithmetic
        xr, xz, xn = gx[..., :k], gx[..., k : 2 * k], gx[..., 2 * k :]
        hr, hz, hn = gh[..., :k], gh[..., k : 2 * k], gh[..., 2 * k :]
        r = torch.sigmoid(xr + hr)
        u = torch.sigmoid(xz + hz)
        n = torch.tanh(xn + r * hn)
        h_new = (1.0 - u) * n + u * h
        return self.head(h_new), h_new


class ActorCritic(nn.Module):
    """Actor (multi-discrete logits per agent) and centralized critic (global state → one value per agent).

    The critic reads the global state once per world and outputs every agent's value, so its
    cost does not grow with the number of agents.
    """

    def __init__(self, n_agents: int, obs_dim: int, state_dim: int, heads: list[int], hidden: int,
                 sharing: str) -> None:
        super().__init__()
        groups = 1 if sharing == "shared" else n_agents
        self.heads = list(heads)
        self.n_agents = n_agents
        self.actor = RecurrentNet(groups, obs_dim, hidden, sum(heads), head_gain=0.01)
        self.critic = RecurrentNet(1, state_dim, 2 * hidden, n_agents, head_gain=1.0)
        self.critic_hidden = 2 * hidden

    def dists(self, logits: torch.Tensor) -> list[torch.distributions.Categorical]:
        return [torch.distributions.Categorical(logits=part) for part in logits.split(self.heads, dim=-1)]



class OnnxActor(nn.Module):
    """The exported graph: rows ``(N, obs_dim)`` of ``N = worlds × K`` agents, world-major."""

    def __init__(self, net: ActorCritic) -> None:
        super().__init__()
        self.actor = net.actor
        self.k = net.n_agents

    def forward(self, obs: torch.Tensor, h_in: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        if self.actor.fc1.groups == 1:
            return self.actor(obs, h_in)
        logits, h = self.actor(obs.reshape(-1, self.k, obs.shape[-1]), h_in.reshape(-1, self.k, h_in.shape[-1]))
        return logits.reshape(-1, logits.shape[-1]), h.reshape(-1, h.shape[-1])


class ValueNorm:
    """Running mean and variance of the returns (debiased EMA, β = 0.99999 per sample batch)."""

    def __init__(self, beta: float = 0.99999, eps: float = 1e-5) -> None:
        self.beta, self.eps = beta, eps
        self.mean = self.mean_sq = self.debias = 0.0

    def update(self, x: np.ndarray) -> None:
        w = self.beta ** x.size if x.size < 10_000 else self.beta**10_000
        self.mean = w * self.mean + (1 - w) * float(x.mean())
        self.mean_sq = w * self.mean_sq + (1 - w) * float((x * x).mean())
        self.debias = w * self.debias + (1 - w)

    def stats(self) -> tuple[float, float]:
        debias = max(self.debias, self.eps)
        mean = self.mean / debias
        var = max(self.mean_sq / debias - mean * mean, 1e-2)
        return mean, math.sqrt(var)

    def normalize(self, x: np.ndarray) -> np.ndarray:
        mean, std = self.stats()
        return (x - mean) / std

    def denormalize(self, x: np.ndarray) -> np.ndarray:
        mean, std = self.stats()
        return x * std + mean


# ---------------------------------------------------------------------------------------------
# evaluation of the torch policy (greedy)
def evaluate_greedy(net: ActorCritic, config: MappoConfig, slots: int, batch: int, seed: int) -> dict[str, Any]:
    """KPIs of the greedy policy over ``slots`` slots of ``batch`` worlds seeded from ``seed``."""
    env = VectorEnv(config.scenario, load=config.load, batch=batch, episode_slots=slots + 1,
                    overrides=config.overrides)
    obs = env.reset(seed)
    h = torch.zeros(batch, env.n_agents, config.hidden)
    with torch.no_grad():
        for _ in range(slots):
            logits, h = net.actor(torch.from_numpy(obs), h)
            actions = split_argmax(logits.reshape(-1, logits.shape[-1]).numpy(), net.heads)
            obs, _, _, _ = env.step(actions.reshape(batch, env.n_agents, -1))
    assert env.kpis is not None
    return env.kpis.summary(env.world.queued_packet_ages_s())


# ---------------------------------------------------------------------------------------------
# training
ProgressHook = Callable[[dict[str, Any]], None]


def _checkpoint(path: Path, net: ActorCritic, optim: torch.optim.Optimizer, value_norm: ValueNorm,
                config: MappoConfig, env: VectorEnv, progress: dict[str, Any], rng: np.random.Generator) -> None:
    tmp = path.with_suffix(".tmp")
    torch.save({
        "format": CHECKPOINT_FORMAT,
        "config": asdict(config),
        "model": net.state_dict(),
        "optimizer": optim.state_dict(),
        "value_norm": vars(value_norm),
        "progress": progress,
        "spec": {"scenario": env.spec.scenario, "world_kind": env.spec.world_kind, "n_agents": env.n_agents,
                 "obs_dim": env.obs_dim, "state_dim": env.state_dim, "heads": env.heads, "load": env.load},
        "torch_rng": torch.get_rng_state(),
        "numpy_rng": rng.bit_generator.state,
    }, tmp)
    tmp.replace(path)


def load_checkpoint(path: str | Path) -> dict[str, Any]:
    """A checkpoint written by `train`; `TrainingError` (one line) when it is not one."""
    file = Path(path)
    if not file.is_file():
        raise TrainingError(f"checkpoint {str(path)!r} not found")
    try:
        data = torch.load(file, map_location="cpu", weights_only=False)
    except Exception as exc:  # torch raises several types for a file that is not a checkpoint
        raise TrainingError(f"{path}: not a training checkpoint ({type(exc).__name__})") from None
    if not isinstance(data, dict) or data.get("format") != CHECKPOINT_FORMAT:
        raise TrainingError(f"{path}: not a training checkpoint of format {CHECKPOINT_FORMAT}")
    return data


def network_of(checkpoint: dict[str, Any]) -> ActorCritic:
    """The `ActorCritic` stored in ``checkpoint``, weights loaded, in eval mode."""
    config = MappoConfig.from_dict(checkpoint["config"])
    spec = checkpoint["spec"]
    net = ActorCritic(spec["n_agents"], spec["obs_dim"], spec["state_dim"], spec["heads"], config.hidden,
                      config.sharing)
    net.load_state_dict(checkpoint["model"])
    net.eval()
    return net


def train(config: MappoConfig, out_dir: str | Path, resume: bool = False, hook: ProgressHook | None = None
          ) -> dict[str, Any]:
    """Train, writing ``last.pt``, ``best.pt``, ``train.csv``, ``config.json`` and TensorBoard logs to ``out_dir``.

    ``resume`` continues from ``out_dir/last.pt`` (same config). ``hook`` gets a progress dict after
    every update. Returns the final progress dict.
    """
    config.check()
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    torch.set_num_threads(config.torch_threads)
    torch.manual_seed(config.seed)
    rng = np.random.default_rng(config.seed)
    use_teacher = bool(config.teacher) and config.bc_slots > 0
    env = VectorEnv(config.scenario, load=config.load, batch=config.batch, episode_slots=config.episode_slots,
                    teacher=config.teacher if use_teacher else None, overrides=config.overrides,
                    teacher_genie=config.teacher_genie)
    k, b, t_len = env.n_agents, config.batch, config.rollout_slots
    net = ActorCritic(k, env.obs_dim, env.state_dim, env.heads, config.hidden, config.sharing)
    optim = torch.optim.Adam(net.parameters(), lr=config.lr, eps=1e-5)
    value_norm = ValueNorm()
    progress: dict[str, Any] = {"update": 0, "slots": 0, "wall_s": 0.0, "best_delay_ms": math.inf, "phase": "bc"}
    if resume:
        ckpt = load_checkpoint(out / "last.pt")
        net.load_state_dict(ckpt["model"])
        optim.load_state_dict(ckpt["optimizer"])
        vars(value_norm).update(ckpt["value_norm"])
        progress.update(ckpt["progress"])
        progress["resumed_at_slots"] = [*progress.get("resumed_at_slots", []), int(progress["slots"])]
        torch.set_rng_state(ckpt["torch_rng"])
        rng.bit_generator.state = ckpt["numpy_rng"]
    (out / "config.json").write_text(json.dumps(asdict(config), indent=2) + "\n")
    from torch.utils.tensorboard import SummaryWriter

    writer = SummaryWriter(str(out / "tb"))
    csv_file = (out / "train.csv").open("a", newline="")
    log = csv.writer(csv_file)
    if csv_file.tell() == 0:
        log.writerow(["update", "slots", "wall_s", "phase", "reward", "policy_loss", "value_loss", "entropy",
                      "bc_loss", "eval_delay_ms", "eval_throughput_mbps"])

    obs = env.reset(config.seed * 1000 + int(progress["update"]))
    h_actor = torch.zeros(b, k, config.hidden)
    h_critic = torch.zeros(b, net.critic_hidden)
    started = time.perf_counter() - float(progress["wall_s"])
    n_updates = math.ceil(config.steps / (b * t_len))
    while progress["update"] < n_updates:
        update = int(progress["update"])
        slots_done = int(progress["slots"])
        bc_phase = use_teacher and slots_done < config.bc_slots
        teacher_prob = 1.0 - slots_done / config.bc_slots if bc_phase else 0.0
        for group in optim.param_groups:
            group["lr"] = config.lr if bc_phase else config.ppo_lr
        # ---- rollout -------------------------------------------------------------------------
        buf_obs = np.zeros((t_len, b, k, env.obs_dim), np.float32)
        buf_state = np.zeros((t_len, b, env.state_dim), np.float32)
        buf_act = np.zeros((t_len, b, k, len(env.heads)), np.int64)
        buf_teacher = np.zeros_like(buf_act)
        buf_logp = np.zeros((t_len, b, k), np.float32)
        buf_val = np.zeros((t_len + 1, b, k), np.float32)
        buf_rew = np.zeros((t_len, b, k), np.float32)
        buf_ha = np.zeros((t_len, b, k, config.hidden), np.float32)  # hidden states entering slot t
        buf_hc = np.zeros((t_len, b, net.critic_hidden), np.float32)
        truncated = np.zeros(b, dtype=bool)
        with torch.no_grad():
            for t in range(t_len):
                state = env.state()
                buf_ha[t], buf_hc[t] = h_actor.numpy(), h_critic.numpy()
                obs_t, state_t = torch.from_numpy(obs), torch.from_numpy(state)
                logits, h_actor = net.actor(obs_t, h_actor)
                value, h_critic = net.critic(state_t, h_critic)
                dists = net.dists(logits)
                action = torch.stack([d.sample() for d in dists], dim=-1)
                if bc_phase:
                    teach = torch.from_numpy(env.teacher_actions())
                    buf_teacher[t] = teach.numpy()
                    use = torch.from_numpy(rng.random(b) < teacher_prob)[:, None, None]
                    action = torch.where(use, teach, action)
                logp = sum(d.log_prob(a) for d, a in zip(dists, action.unbind(-1), strict=True))
                buf_obs[t], buf_state[t], buf_act[t] = obs, state, action.numpy()
                buf_logp[t], buf_val[t] = torch.as_tensor(logp).numpy(), value.numpy()
                obs, reward, truncated, _ = env.step(action.numpy())
                buf_rew[t] = reward * config.reward_scale
            # bootstrap value of the state after the rollout (the final state of a truncated episode)
            last_state = env.final_state if truncated[0] else env.state()
            value, _ = net.critic(torch.from_numpy(last_state), h_critic)
            buf_val[t_len] = value.numpy()
        if truncated[0]:  # a new episode starts with a fresh memory
            h_actor.zero_()
            h_critic.zero_()
        # ---- GAE on de-normalised values ------------------------------------------------------
        values = value_norm.denormalize(buf_val)
        adv = np.zeros((t_len, b, k), np.float32)
        last = np.zeros((b, k), np.float32)
        for t in reversed(range(t_len)):
            delta = buf_rew[t] + config.gamma * values[t + 1] - values[t]
            last = delta + config.gamma * config.gae_lambda * last
            adv[t] = last
        returns = adv + values[:t_len]
        value_norm.update(returns)
        target = value_norm.normalize(returns).astype(np.float32)
        adv_n = ((adv - adv.mean()) / (adv.std() + 1e-8)).astype(np.float32)
        # ---- PPO / BC epochs over recurrent chunks ------------------------------------------
        # a chunk is ``chunk_slots`` consecutive slots of one world (all its agents), started from
        # the hidden states stored when the rollout reached it
        stats = {"policy_loss": 0.0, "value_loss": 0.0, "entropy": 0.0, "bc_loss": 0.0}
        n_chunks, c_len = t_len // config.chunk_slots, config.chunk_slots

        def chunked(x: np.ndarray, n_chunks: int = n_chunks, c_len: int = c_len) -> torch.Tensor:
            """(T, B, ...) → (C·B, L, ...): sequence ``c·B + w`` is chunk ``c`` of world ``w``."""
            y = x.reshape(n_chunks, c_len, b, *x.shape[2:]).swapaxes(1, 2)
            return torch.from_numpy(np.ascontiguousarray(y.reshape(n_chunks * b, c_len, *x.shape[2:])))

        seq_obs, seq_state = chunked(buf_obs), chunked(buf_state)
        seq_act, seq_teacher = chunked(buf_act), chunked(buf_teacher)
        seq_logp, seq_adv = chunked(buf_logp), chunked(adv_n)
        seq_target, seq_oldv = chunked(target), chunked(buf_val[:t_len])
        seq_ha = torch.from_numpy(buf_ha[::c_len].reshape(n_chunks * b, k, -1))
        seq_hc = torch.from_numpy(buf_hc[::c_len].reshape(n_chunks * b, -1))
        n_seq = n_chunks * b
        n_mb = min(config.minibatches, n_seq)
        steps = 0
        for _ in range(config.epochs):
            for idx in torch.randperm(n_seq).chunk(n_mb):
                ha, hc = seq_ha[idx], seq_hc[idx]
                logits_seq, values_seq = [], []
                for t in range(c_len):
                    lg, ha = net.actor(seq_obs[idx, t], ha)
                    v, hc = net.critic(seq_state[idx, t], hc)
                    logits_seq.append(lg)
                    values_seq.append(v)
                logits_all = torch.stack(logits_seq, dim=1)  # (M, L, K, sum heads)
                v_all = torch.stack(values_seq, dim=1)  # (M, L, K)
                dists = net.dists(logits_all)
                entropy = torch.stack([d.entropy() for d in dists]).mean()
                v_old, tgt = seq_oldv[idx], seq_target[idx]
                v_clip = v_old + (v_all - v_old).clamp(-config.clip, config.clip)
                huber = nn.functional.huber_loss
                value_loss = torch.max(huber(v_all, tgt, reduction="none", delta=config.huber_delta),
                                       huber(v_clip, tgt, reduction="none", delta=config.huber_delta)).mean()
                if bc_phase:
                    acts = seq_teacher[idx]
                    bc_loss = -sum(d.log_prob(a) for d, a in zip(dists, acts.unbind(-1), strict=True)).mean()
                    loss = bc_loss + config.value_coef * value_loss
                    stats["bc_loss"] += float(bc_loss.detach())
                else:
                    acts = seq_act[idx]
                    logp = sum(d.log_prob(a) for d, a in zip(dists, acts.unbind(-1), strict=True))
                    ratio = torch.exp(logp - seq_logp[idx])
                    a = seq_adv[idx]
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
        stats = {key: value / max(steps, 1) for key, value in stats.items()}
        # ---- bookkeeping ---------------------------------------------------------------------
        progress.update(update=update + 1, slots=slots_done + b * t_len, wall_s=time.perf_counter() - started,
                        phase="bc" if bc_phase else "ppo", reward=float(buf_rew.mean() / config.reward_scale),
                        **stats)
        progress["slots_per_s"] = progress["slots"] / max(progress["wall_s"], 1e-9)
        eval_row: dict[str, Any] = {}
        last_update = progress["update"] >= n_updates
        if progress["update"] % config.eval_every == 0 or last_update:
            net.eval()
            kpis = evaluate_greedy(net, config, config.eval_slots, config.eval_batch, config.eval_seed)
            net.train()
            eval_row = {"eval_delay_ms": kpis.get("avg_packet_delay_ms", math.nan),
                        "eval_throughput_mbps": kpis["throughput_mbps"]}
            progress.update(eval_row)
            if eval_row["eval_delay_ms"] < progress["best_delay_ms"]:
                progress["best_delay_ms"] = eval_row["eval_delay_ms"]
                progress["best_update"] = progress["update"]
                _checkpoint(out / "best.pt", net, optim, value_norm, config, env, progress, rng)
            for key, value in eval_row.items():
                writer.add_scalar(f"eval/{key}", value, progress["slots"])
        for key in ("reward", "policy_loss", "value_loss", "entropy", "bc_loss"):
            writer.add_scalar(f"train/{key}", progress[key], progress["slots"])
        log.writerow([progress["update"], progress["slots"], f"{progress['wall_s']:.1f}", progress["phase"],
                      f"{progress['reward']:.4f}", f"{stats['policy_loss']:.5f}", f"{stats['value_loss']:.5f}",
                      f"{stats['entropy']:.4f}", f"{stats['bc_loss']:.5f}",
                      eval_row.get("eval_delay_ms", ""), eval_row.get("eval_throughput_mbps", "")])
        csv_file.flush()
        if progress["update"] % config.checkpoint_every == 0 or last_update:
            _checkpoint(out / "last.pt", net, optim, value_norm, config, env, progress, rng)
        if hook is not None:
            hook(dict(progress))
    writer.close()
    csv_file.close()
    if not (out / "best.pt").exists():
        _checkpoint(out / "best.pt", net, optim, value_norm, config, env, progress, rng)
    return progress
