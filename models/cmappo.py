"""Constrained MAPPO with SRB decomposition (tn-ntn-srb), and the flat MAPPO / IPPO baselines,
in one file.

Le, Vu, Andrenacci, Chatzinotas, "Constrained MARL for Coexisting TN-NTN Resource Allocation",
§III (decomposition, reward (10), cost (11), Lagrangian (15)–(18)) and §IV (baselines).

Methods (``method``):

``srb``
    ``M = F / srb_size`` agents per base station, one per SRB, one shared network (the agent's
    agent index (BS, SRB) is a one-hot in its observation, `xapps.policies.learned_srb`). The agents of a BS
    act in sequence inside the slot: agent ``m`` observes the rates granted by agents ``< m``.
    Agents of SRB group ``m`` (one per BS) share the reward ``r̄_m``, the group's sum rate per
    active user (`models.srb_env.group_rewards`); the critic of a group is centralised (it reads
    the observations of the group's ``K`` agents and returns each one's value).
``mappo``
    One agent per BS over all ``F`` subchannels (the paper's (RL1)), shared reward = the sum rate
    of all subchannels per active user, centralised critic over the ``K`` agents.
``ippo``
    As ``mappo`` but every agent's critic reads only its own observation.

All three use the same actor network (LayerNorm, two hidden ReLU layers of ``hidden``, one head
of ``block × (U + 1)`` scores; absent users masked), the same budget and the same constraint
handling: agent ``(n, ·)`` is trained on the Lagrangian reward
``r̂ = r − (1 − γ) Σ_k λ_k c_k`` with ``c_k = max(η − R_k, 0) / η`` summed over every user
(eq. 15: an agent that silences a subchannel to spare another BS's users is credited for it;
``cost_scope = "bs"`` keeps only its own BS's users); the multipliers (one per user slot) follow
the sub-gradient step (17)–(18) on a slower timescale,
``λ_k ← min(λ_max, max(0, λ_k + α · mean c_k))`` every ``lambda_every`` updates, the mean taken
over the slots user ``k`` was present since the last step.

Warm start (``bc_slots`` > 0): the first slots execute a coordinated heuristic
(`models.srb_env.reuse_qos_teacher`: reuse partition of the SRBs between the BSs, QoS-first
user allocation) and train the actor to imitate it (per-subchannel cross-entropy; for the SRB
agents each observation carries the rates the teacher's earlier SRBs granted); the critic learns
from the same rollouts; PPO then takes over. Every method gets the same warm start and budget.

PPO on the agents' stored observations (the granted-rate feature is part of what was observed
when the action was sampled), one clipped ratio per subchannel head (the agent's advantage
applies to each of its heads; a joint ratio over 40 heads would clip after tiny per-head
changes), GAE on de-normalised values (`ValueNorm`), standardised
advantages, value clipping. The task is continuing (the world redraws its users every episode
without a reset); rollouts bootstrap from the value of the next slot.
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
from models.mappo import AgentLinear, ValueNorm
from models.srb_env import SrbEnv, group_rewards, reuse_qos_teacher, user_costs
from xapps.policies.learned_srb import GRANTED_CAP, MASKED_LOGIT, SrbLayout, block_count

CHECKPOINT_FORMAT = 1
TRAINER = "cmappo"
METHODS = ("srb", "mappo", "ippo")


@dataclass
class CmappoConfig(TrainConfig):
    """Everything a training run depends on (saved in every checkpoint)."""

    scenario: str = "tn-ntn-srb-320"
    """Preset name or TOML path of an srb world."""
    load: float | None = None
    """Load in the scenario's unit (its default when None)."""
    overrides: dict[str, Any] = field(default_factory=dict)
    """Scenario field overrides (dotted names)."""
    method: Literal["srb", "mappo", "ippo"] = "srb"
    """SRB agents acting in sequence, or one agent per BS with a centralised (mappo) or local (ippo) critic."""
    steps: int = 100_000
    """Training budget in world slots (summed over the batch of worlds)."""
    max_wall_s: float = 0.0
    """Stop after this much wall time [s] (0: only the slot budget)."""
    seed: int = 1
    """Seed of the networks, the sampling and the training worlds."""
    batch: int = 16
    """Worlds stepped together."""
    rollout_slots: int = 16
    """Slots per rollout (one PPO update each)."""
    hidden: int = 128
    """Width of the two hidden layers of actor and critic."""
    lr: float = 1e-3
    """Adam learning rate of actor and critic."""
    epochs: int = 4
    """PPO epochs per rollout."""
    minibatches: int = 4
    """Minibatches per epoch (split over the rollout's world slots)."""
    clip: float = 0.2
    """PPO ratio clip (also the value clip, in normalised units)."""
    entropy_coef: float = 0.003
    """Weight of the mean per-subchannel entropy."""
    value_coef: float = 0.5
    """Weight of the value loss."""
    max_grad_norm: float = 1.0
    """Gradient norm clip."""
    gamma: float = 0.9
    """Discount per slot (the paper's 0.9)."""
    gae_lambda: float = 0.95
    """GAE λ."""
    bc_slots: int = 0
    """World slots of behaviour cloning of `models.srb_env.reuse_qos_teacher` before PPO (0: none)."""
    teacher_margin: float = 0.3
    """Rate margin of the teacher over the minimum rate (its users get (1 + margin)·η)."""
    cost_scope: Literal["all", "bs"] = "all"
    """Users whose costs enter an agent's Lagrangian: every user (the paper's Σ_k) or its own BS's only."""
    lambda_init: float = 0.5
    """Initial Lagrange multiplier of every user slot."""
    lambda_lr: float = 0.2
    """α: step of the multiplier update per unit of mean cost."""
    lambda_every: int = 5
    """Updates between multiplier steps (the slower timescale)."""
    lambda_max: float = 50.0
    """Upper bound of a multiplier (the truncated cost never lets λ fall, eq. 11)."""
    eval_every: int = 10
    """Evaluate the greedy policy every this many updates."""
    eval_slots: int = 200
    """Slots of each periodic evaluation."""
    eval_batch: int = 4
    """Worlds of each periodic evaluation."""
    eval_seed: int = 9_000
    """World seed of the periodic evaluations (never the test seed 0)."""
    checkpoint_every: int = 10
    """Save ``last.pt`` every this many updates."""
    torch_threads: int = 1
    """Threads torch may use."""

    def check(self) -> None:
        """`TrainingError` naming the first field out of range."""
        self.require_positive("steps", "batch", "rollout_slots", "hidden", "epochs", "minibatches", "eval_every",
                              "eval_slots", "eval_batch", "checkpoint_every", "torch_threads", "lambda_every")
        if self.method not in METHODS:
            raise TrainingError(f"method must be one of {', '.join(METHODS)}, got {self.method!r}")
        if not 0 < self.gamma < 1 or not 0 <= self.gae_lambda <= 1:
            raise TrainingError("gamma must be in (0, 1) and gae_lambda in [0, 1]")
        if self.lambda_init < 0 or self.lambda_lr < 0 or self.lambda_max < self.lambda_init:
            raise TrainingError("need 0 <= lambda_init <= lambda_max and lambda_lr >= 0")
        if self.bc_slots < 0 or self.teacher_margin < 0:
            raise TrainingError("bc_slots and teacher_margin must be >= 0")
        if self.cost_scope not in ("all", "bs"):
            raise TrainingError(f"cost_scope must be 'all' or 'bs', got {self.cost_scope!r}")
        if self.max_wall_s < 0:
            raise TrainingError(f"max_wall_s must be >= 0, got {self.max_wall_s}")


def block_size_of(method: str, layout: SrbLayout) -> int:
    """Subchannels one agent allocates: an SRB for ``srb``, the whole band for the flat baselines."""
    return layout.srb_size if method == "srb" else layout.n_subchannels


def lagrange_update(lam: np.ndarray, mean_cost: np.ndarray, lr: float, lam_max: float) -> np.ndarray:
    """Sub-gradient step (17)–(18): ``λ ← min(λ_max, max(0, λ + α · mean cost))``, elementwise."""
    return np.clip(lam + lr * mean_cost, 0.0, lam_max).astype(np.float32)


def lagrangian_rewards(group_reward: np.ndarray, costs: np.ndarray, lam: np.ndarray, gamma: float,
                       scope: str = "all") -> np.ndarray:
    """Reward of every agent, ``(B, G, K)``: ``r̄_g − (1 − γ) Σ_k λ_k c_k`` for agent ``(n, g)``, the sum over
    every user (``scope = "all"``, eq. 15) or over the users of BS ``n`` (``"bs"``).

    Parameters
    ----------
    group_reward : ndarray, (B, G)
        Shared reward of every group.
    costs : ndarray, (B, K, U)
        Per-user costs.
    lam : ndarray, (K, U)
        Multipliers.
    """
    penalty = (1.0 - gamma) * (costs * lam[None]).sum(axis=-1)  # (B, K)
    if scope == "all":
        penalty = np.broadcast_to(penalty.sum(axis=1, keepdims=True), penalty.shape)
    return (group_reward[:, :, None] - penalty[:, None, :]).astype(np.float32)


# ---------------------------------------------------------------------------------------------
# networks
class SeqActor(nn.Module):
    """Agents of a BS deciding in sequence, one shared network (`xapps.policies.learned_srb`).

    Network per agent: linear → LayerNorm → ReLU → linear → ReLU → linear head of
    ``block × (U + 1)`` scores, plus a per-agent offset of every score (a table indexed by the
    agent one-hot), absent users' scores set to `MASKED_LOGIT`. Its first layer is
    linear in the parts of the agent observation, so the sequential pass (`decide`, the exported
    graph) computes the projection of the parts every agent of a BS shares once per BS row and
    adds the agent's own parts (its SRB block, its one-hot's rows, the granted rates); the
    result equals the network applied to the assembled observation (`scores`), which PPO uses.

    ``forward(obs, h_in)`` is the exported graph: BS rows ``(N, row_dim)`` → greedy scores
    ``logits`` ``(N, F·(U+1))`` (each agent's masked scores given its predecessors' greedy
    actions) and ``h_out = h_in``.
    """

    user_ids: torch.Tensor

    def __init__(self, layout: SrbLayout, block_size: int, hidden: int) -> None:
        super().__init__()
        self.n_users, self.n_nodes, self.n_subchannels = layout.n_users, layout.n_nodes, layout.n_subchannels
        self.block = block_size
        self.n_blocks = block_count(layout, block_size)
        self.rate_scale = layout.rate_scale
        self.agent_dim = layout.agent_dim(block_size)
        self.common_dim = layout.common_dim
        u, k = self.n_users, self.n_nodes
        self.presence_at = block_size * u + k * u * k  # offset of the presence part in an agent observation
        self.fc1 = AgentLinear(1, self.agent_dim, hidden)
        self.norm = nn.LayerNorm(hidden)
        self.fc2 = AgentLinear(1, hidden, hidden)
        self.head = AgentLinear(1, hidden, block_size * (u + 1), gain=0.01)
        # per-agent score offsets: the agent one-hot (BS, SRB) straight to the scores, so a pattern
        # that depends only on who acts (which SRBs a BS leaves to its neighbours) is one table
        self.agent_bias = nn.Parameter(torch.zeros(self.n_blocks * k, block_size * (u + 1)))
        self.onehot_at = block_size * u + layout.common_dim  # offset of the agent one-hot in an observation
        self.register_buffer("user_ids", torch.arange(1, u + 1), persistent=False)

    def _trunk(self, z1: torch.Tensor, offset: torch.Tensor, keep: torch.Tensor, masked: torch.Tensor
               ) -> torch.Tensor:
        """Scores ``(N, block, U+1)`` from first-layer outputs ``(N, hidden)`` and the agent's score
        offsets ``(N, block·(U+1))``; ``keep`` ``(N, 1, U+1)`` is 1 for "off" and present users, 0 for
        absent ones, ``masked`` = (1 − keep)·`MASKED_LOGIT` (a product and a sum that reproduce kept
        scores exactly and set the others to the constant)."""
        z = torch.relu(self.norm(z1))
        z = torch.relu(self.fc2(z))
        logits = (self.head(z) + offset).reshape(-1, self.block, self.n_users + 1)
        return logits * keep + masked

    def _mask(self, own: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """``keep`` and ``masked`` of `_trunk` for own presence ``(N, U)`` bool."""
        keep = torch.cat([torch.ones_like(own[:, :1]), own], dim=1).float().unsqueeze(1)
        return keep, (1.0 - keep) * MASKED_LOGIT

    def _own(self, part: torch.Tensor, at: int) -> torch.Tensor:
        """Own presence ``(N, U)`` bool from the presence part starting at column ``at`` of ``part``."""
        u, k = self.n_users, self.n_nodes
        presence = part[:, at : at + k * u].reshape(-1, k, u)
        node = part[:, at + k * u : at + k * u + k]
        return (presence * node.unsqueeze(-1)).sum(1) > 0.5

    def scores(self, obs: torch.Tensor) -> torch.Tensor:
        """Masked scores ``(..., block, U+1)`` for assembled agent observations ``(..., agent_dim)``."""
        flat = obs.reshape(-1, self.agent_dim)
        onehot = flat[:, self.onehot_at : self.onehot_at + self.agent_bias.shape[0]]
        out = self._trunk(self.fc1(flat), onehot @ self.agent_bias, *self._mask(self._own(flat, self.presence_at)))
        return out.reshape(*obs.shape[:-1], self.block, self.n_users + 1)

    def agent_obs(self, rows: torch.Tensor, m: int, granted: torch.Tensor) -> torch.Tensor:
        """Observation ``(N, agent_dim)`` of agent ``m`` (`xapps.policies.learned_srb.agent_observation`)."""
        u, f, b = self.n_users, self.n_subchannels, self.block
        k = self.n_nodes
        onehot = torch.zeros(rows.shape[0], self.n_blocks * k, dtype=rows.dtype)
        onehot[:, m * k : (m + 1) * k] = rows[:, -k:]  # index m·K + n for the row of BS n
        return torch.cat([rows[:, m * b * u : (m + 1) * b * u], rows[:, f * u :], onehot,
                          granted.clamp(max=GRANTED_CAP)], dim=1)

    def decide(self, rows: torch.Tensor, sample: bool, keep_obs: bool = True, forced: torch.Tensor | None = None
               ) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor, torch.Tensor]:
        """Run the ``M`` agents of every BS row ``(N, row_dim)`` in sequence.

        ``forced`` ``(N, M, block)``: take these actions instead (a teacher's), the observations
        and log-probabilities following from them.

        Returns agent observations ``(N, M, agent_dim)`` (empty when not ``keep_obs``), masked
        scores ``(N, M, block, U+1)``, actions ``(N, M, block)`` (sampled, or greedy) and their
        per-subchannel log-probabilities ``(N, M, block)`` (zeros when greedy).
        """
        u, f, b, c = self.n_users, self.n_subchannels, self.block, self.common_dim
        w, bias = self.fc1.weight[0], self.fc1.bias[0]  # (agent_dim, hidden), (hidden,)
        common = rows[:, f * u :]
        k = self.n_nodes
        node = rows[:, -k:]  # BS one-hot (N, K)
        shared = common @ w[b * u : b * u + c] + bias  # (N, hidden): the parts every agent of the row sees
        keep, masked = self._mask(self._own(common, c - self.n_nodes - self.n_nodes * u))
        sinr = torch.exp(rows[:, : f * u] * math.log(10.0)).reshape(-1, self.n_blocks, b, u)  # linear SINR
        # every agent's block projected in one product (the blocks do not depend on the sequence)
        blocks = rows[:, : f * u].reshape(-1, self.n_blocks, b * u) @ w[: b * u]  # (N, M, hidden)
        granted = torch.zeros_like(rows[:, :u])
        all_obs, all_scores, all_actions, all_logp = [], [], [], []
        for m in range(self.n_blocks):
            if keep_obs:
                all_obs.append(self.agent_obs(rows, m, granted))
            agent = node @ w[b * u + c + m * k : b * u + c + (m + 1) * k]  # the agent one-hot's row of fc1
            z1 = shared + blocks[:, m] + agent + granted.clamp(max=GRANTED_CAP) @ w[-u:]
            scores = self._trunk(z1, node @ self.agent_bias[m * k : (m + 1) * k], keep, masked)
            if sample:
                dist = torch.distributions.Categorical(logits=scores)
                actions = dist.sample() if forced is None else forced[:, m]
                all_logp.append(dist.log_prob(actions))
            else:
                actions = scores.argmax(dim=-1)
            all_scores.append(scores)
            all_actions.append(actions)
            if m + 1 < self.n_blocks:
                granted = granted + self._granted(sinr[:, m], actions)
        obs = torch.stack(all_obs, 1) if keep_obs else torch.zeros(0)
        logp = torch.stack(all_logp, 1) if sample else torch.zeros(rows.shape[0], self.n_blocks, self.block)
        return obs, torch.stack(all_scores, 1), torch.stack(all_actions, 1), logp

    def _granted(self, sinr: torch.Tensor, actions: torch.Tensor) -> torch.Tensor:
        """Ψ/η ``(N, U)`` granted by ``actions`` (N, block) on a block of linear SINRs ``(N, block, U)``
        (`xapps.policies.learned_srb.granted_rates`)."""
        on = (actions > 0).to(sinr.dtype)
        n_on = on.sum(dim=1, keepdim=True).clamp(min=1.0)  # (N, 1)
        chosen = torch.eq(actions.unsqueeze(-1), self.user_ids).to(sinr.dtype)  # (N, block, U)
        served = (sinr * chosen).sum(dim=-1)  # (N, block): SINR of the served user, 0 where off
        per_sub = self.rate_scale * torch.log2(1.0 + served / n_on)  # 0 where off
        return (per_sub.unsqueeze(-1) * chosen).sum(dim=1)

    def forward(self, obs: torch.Tensor, h_in: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        _, scores, _, _ = self.decide(obs, sample=False, keep_obs=False)
        return scores.reshape(-1, self.n_subchannels * (self.n_users + 1)), h_in * 1.0


class Critic(nn.Module):
    """LayerNorm → 2×(linear, ReLU) → ``n_out`` values."""

    def __init__(self, n_in: int, hidden: int, n_out: int) -> None:
        super().__init__()
        self.net = nn.Sequential(nn.LayerNorm(n_in), AgentLinear(1, n_in, hidden), nn.ReLU(),
                                 AgentLinear(1, hidden, hidden), nn.ReLU(), AgentLinear(1, hidden, n_out, gain=1.0))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.net(x)


class CmappoNet(nn.Module):
    """Actor (`SeqActor`) and critic of one method.

    The critic maps agent observations ``(..., G, K, agent_dim)`` (group, BS) to values
    ``(..., G, K)``: centralised (``srb``, ``mappo``) it reads the ``K`` observations of a group
    together; local (``ippo``) each agent's alone.
    """

    def __init__(self, layout: SrbLayout, method: str, hidden: int) -> None:
        super().__init__()
        self.method = method
        self.actor = SeqActor(layout, block_size_of(method, layout), hidden)
        k, d = layout.n_nodes, self.actor.agent_dim
        self.central = method != "ippo"
        self.critic = Critic(k * d, hidden, k) if self.central else Critic(d, hidden, 1)

    def values(self, obs: torch.Tensor) -> torch.Tensor:
        if self.central:
            return self.critic(obs.flatten(-2))
        return self.critic(obs).squeeze(-1)


# ---------------------------------------------------------------------------------------------
# evaluation of the torch policy (greedy)
def greedy_actions(actor: SeqActor, rows: np.ndarray) -> np.ndarray:
    """Greedy actions ``(B, K, F)`` for BS rows ``(B, K, row_dim)``."""
    b, k, _ = rows.shape
    with torch.no_grad():
        _, _, actions, _ = actor.decide(torch.from_numpy(rows.reshape(b * k, -1)), sample=False, keep_obs=False)
    return actions.reshape(b, k, -1).numpy()


def evaluate_greedy(actor: SeqActor, config: CmappoConfig, slots: int, batch: int, seed: int) -> dict[str, Any]:
    """KPIs of the greedy policy over ``slots`` slots of ``batch`` worlds, plus ``objective``: the
    mean rate per present user in units of η minus the mean cost (a Lagrangian with λ = 1)."""
    env = SrbEnv(config.scenario, load=config.load, batch=batch, overrides=config.overrides)
    rows = env.reset(seed)
    rate_sum = cost_sum = present = 0.0
    for _ in range(slots):
        rows, outcome, _ = env.step(greedy_actions(actor, rows))
        active = outcome["active"]
        rate_sum += float((outcome["rate_bps"] * active).sum()) / env.layout.qos_min_rate_bps
        cost_sum += float(user_costs(outcome["rate_bps"], active, env.layout.qos_min_rate_bps).sum())
        present += float(active.sum())
    assert env.kpis is not None
    summary = env.kpis.summary()
    summary["objective"] = (rate_sum - cost_sum) / max(present, 1.0)
    return summary


# ---------------------------------------------------------------------------------------------
# checkpoints
ProgressHook = Callable[[dict[str, Any]], None]


def _checkpoint(path: Path, net: CmappoNet, optim: torch.optim.Optimizer, value_norm: ValueNorm, lam: np.ndarray,
                config: CmappoConfig, env: SrbEnv, progress: dict[str, Any], rng: np.random.Generator) -> None:
    tmp = path.with_suffix(".tmp")
    torch.save({
        "format": CHECKPOINT_FORMAT,
        "trainer": TRAINER,
        "config": asdict(config),
        "model": net.state_dict(),
        "optimizer": optim.state_dict(),
        "value_norm": vars(value_norm),
        "lambda": lam.tolist(),
        "progress": progress,
        "spec": {"scenario": env.spec.scenario, "world_kind": env.spec.world_kind, "row_dim": env.row_dim,
                 "agent_dim": net.actor.agent_dim, "block_size": net.actor.block, "load": env.load},
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
    if not isinstance(data, dict) or data.get("format") != CHECKPOINT_FORMAT or data.get("trainer") != TRAINER:
        raise TrainingError(f"{path}: not a {TRAINER} checkpoint of format {CHECKPOINT_FORMAT}")
    return data


def network_of(checkpoint: dict[str, Any], layout: SrbLayout) -> CmappoNet:
    """The `CmappoNet` stored in ``checkpoint`` for a world of ``layout``, weights loaded, eval mode."""
    config = CmappoConfig.from_dict(checkpoint["config"])
    net = CmappoNet(layout, config.method, config.hidden)
    if net.actor.agent_dim != checkpoint["spec"]["agent_dim"]:
        raise TrainingError(f"checkpoint's observation size no longer matches scenario {config.scenario!r}")
    net.load_state_dict(checkpoint["model"])
    net.eval()
    return net


# ---------------------------------------------------------------------------------------------
# training
def train(config: CmappoConfig, out_dir: str | Path, resume: bool = False, hook: ProgressHook | None = None
          ) -> dict[str, Any]:
    """Train, writing ``last.pt``, ``best.pt`` (highest evaluation objective), ``train.csv`` and
    ``config.json`` to ``out_dir``.

    ``resume`` continues from ``out_dir/last.pt`` (same config). ``hook`` gets a progress dict
    after every update. Returns the final progress dict.
    """
    config.check()
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    # ---- seeding ---------------------------------------------------------------------------
    torch.set_num_threads(config.torch_threads)
    torch.manual_seed(config.seed)
    rng = np.random.default_rng(config.seed)
    # ----------------------------------------------------------------------------------------
    try:
        env = SrbEnv(config.scenario, load=config.load, batch=config.batch, overrides=config.overrides)
    except ValueError as exc:
        raise TrainingError(str(exc).splitlines()[0]) from None
    lay = env.layout
    net = CmappoNet(lay, config.method, config.hidden)
    actor = net.actor
    g, k, u, b, t_len = actor.n_blocks, lay.n_nodes, lay.n_users, config.batch, config.rollout_slots
    d = actor.agent_dim
    optim = torch.optim.Adam(net.parameters(), lr=config.lr, eps=1e-5)
    value_norm = ValueNorm()
    lam = np.full((k, u), config.lambda_init, dtype=np.float32)
    progress: dict[str, Any] = {"update": 0, "slots": 0, "wall_s": 0.0, "best_objective": -math.inf}
    if resume:
        ckpt = load_checkpoint(out / "last.pt")
        net.load_state_dict(ckpt["model"])
        optim.load_state_dict(ckpt["optimizer"])
        vars(value_norm).update(ckpt["value_norm"])
        lam = np.asarray(ckpt["lambda"], dtype=np.float32)
        progress.update(ckpt["progress"])
        progress["resumed_at_slots"] = [*progress.get("resumed_at_slots", []), int(progress["slots"])]
        torch.set_rng_state(ckpt["torch_rng"])
        rng.bit_generator.state = ckpt["numpy_rng"]
    (out / "config.json").write_text(json.dumps(asdict(config), indent=2) + "\n")
    csv_file = (out / "train.csv").open("a", newline="")
    log = csv.writer(csv_file)
    if csv_file.tell() == 0:
        log.writerow(["update", "slots", "wall_s", "slots_per_s", "reward", "cost", "lambda_mean", "policy_loss",
                      "value_loss", "entropy", "eval_throughput_mbps", "eval_qos_violation_rate", "eval_objective"])

    rows = env.reset(config.seed * 1000 + int(progress["update"]))
    cost_sum = np.zeros((k, u), np.float64)
    cost_count = np.zeros((k, u), np.float64)
    started = time.perf_counter() - float(progress["wall_s"])
    n_updates = math.ceil(config.steps / (b * t_len))

    def act(rows: np.ndarray, forced: np.ndarray | None = None) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        """Sampled (or ``forced`` (B, K, F)) decisions for BS rows (B, K, ·): obs (B, G, K, D), actions (B, K, F),
        logp (B, G, K, block)."""
        teacher = None if forced is None else torch.from_numpy(forced.reshape(b * k, g, actor.block))
        obs, _, actions, logp = actor.decide(torch.from_numpy(rows.reshape(b * k, -1)), sample=True, forced=teacher)
        obs = obs.reshape(b, k, g, d).transpose(1, 2)
        return obs, actions.reshape(b, k, -1), logp.reshape(b, k, g, -1).transpose(1, 2)

    while progress["update"] < n_updates:
        if config.max_wall_s and time.perf_counter() - started >= config.max_wall_s:
            break
        update = int(progress["update"])
        bc_phase = int(progress["slots"]) < config.bc_slots
        # ---- rollout -------------------------------------------------------------------------
        buf_obs = torch.zeros(t_len, b, g, k, d)
        buf_act = torch.zeros(t_len, b, g, k, actor.block, dtype=torch.int64)
        buf_logp = torch.zeros(t_len, b, g, k, actor.block)
        buf_val = np.zeros((t_len + 1, b, g, k), np.float32)
        buf_rew = np.zeros((t_len, b, g, k), np.float32)
        reward_raw = cost_raw = 0.0
        with torch.no_grad():
            for t in range(t_len):
                teacher = reuse_qos_teacher(env.reports, lay, config.teacher_margin) if bc_phase else None
                obs, actions, logp = act(rows, teacher)
                buf_obs[t], buf_logp[t] = obs, logp
                buf_act[t] = actions.reshape(b, k, g, actor.block).transpose(1, 2)
                buf_val[t] = net.values(obs).numpy()
                rows, outcome, _ = env.step(actions.numpy())
                active = outcome["active"]
                costs = user_costs(outcome["rate_bps"], active, lay.qos_min_rate_bps)
                rewards = group_rewards(outcome["sub_rate_bps"], active, lay, actor.block)
                buf_rew[t] = lagrangian_rewards(rewards, costs, lam, config.gamma, config.cost_scope)
                cost_sum += costs.sum(axis=0)
                cost_count += active.sum(axis=0)
                reward_raw += float(rewards.sum(axis=1).mean())
                cost_raw += float(costs.sum() / max(active.sum(), 1))
            obs_next, _, _ = act(rows)
            buf_val[t_len] = net.values(obs_next).numpy()
        # ---- GAE on de-normalised values ------------------------------------------------------
        values = value_norm.denormalize(buf_val)
        adv = np.zeros_like(buf_rew)
        last = np.zeros((b, g, k), np.float32)
        for t in reversed(range(t_len)):
            delta = buf_rew[t] + config.gamma * values[t + 1] - values[t]
            last = delta + config.gamma * config.gae_lambda * last
            adv[t] = last
        returns = adv + values[:t_len]
        value_norm.update(returns)
        target = torch.from_numpy(value_norm.normalize(returns).astype(np.float32)).reshape(t_len * b, g, k)
        adv_n = torch.from_numpy(((adv - adv.mean()) / (adv.std() + 1e-8)).astype(np.float32)).reshape(t_len * b, g, k)
        old_v = torch.from_numpy(buf_val[:t_len]).reshape(t_len * b, g, k)
        flat_obs = buf_obs.reshape(t_len * b, g, k, d)
        flat_act = buf_act.reshape(t_len * b, g, k, actor.block)
        flat_logp = buf_logp.reshape(t_len * b, g, k, actor.block)
        # ---- PPO epochs over world slots --------------------------------------------------------
        stats = {"policy_loss": 0.0, "value_loss": 0.0, "entropy": 0.0}
        n_steps = 0
        for _ in range(config.epochs):
            for idx in torch.randperm(t_len * b).chunk(min(config.minibatches, t_len * b)):
                obs_mb = flat_obs[idx]
                dist = torch.distributions.Categorical(logits=actor.scores(obs_mb))
                logp = dist.log_prob(flat_act[idx])  # (mb, G, K, block): one ratio per subchannel head
                entropy = dist.entropy().mean()
                ratio = torch.exp(logp - flat_logp[idx])
                a = adv_n[idx].unsqueeze(-1)
                if bc_phase:  # imitate the teacher's actions, stored as the rollout's actions
                    policy_loss = -logp.mean()
                else:
                    policy_loss = -torch.min(ratio * a, ratio.clamp(1 - config.clip, 1 + config.clip) * a).mean()
                v = net.values(obs_mb)
                v_clip = old_v[idx] + (v - old_v[idx]).clamp(-config.clip, config.clip)
                tgt = target[idx]
                value_loss = torch.max((v - tgt) ** 2, (v_clip - tgt) ** 2).mean()
                entropy_coef = 0.0 if bc_phase else config.entropy_coef
                loss = policy_loss + config.value_coef * value_loss - entropy_coef * entropy
                optim.zero_grad()
                loss.backward()
                nn.utils.clip_grad_norm_(net.parameters(), config.max_grad_norm)
                optim.step()
                stats["policy_loss"] += float(policy_loss.detach())
                stats["value_loss"] += float(value_loss.detach())
                stats["entropy"] += float(entropy.detach())
                n_steps += 1
        stats = {key: value / max(n_steps, 1) for key, value in stats.items()}
        # ---- Lagrange multipliers on the slower timescale ---------------------------------------
        if (update + 1) % config.lambda_every == 0:
            lam = lagrange_update(lam, cost_sum / np.maximum(cost_count, 1.0), config.lambda_lr, config.lambda_max)
            cost_sum[:] = 0.0
            cost_count[:] = 0.0
        # ---- bookkeeping ---------------------------------------------------------------------
        progress.update(update=update + 1, slots=int(progress["slots"]) + b * t_len, phase="bc" if bc_phase else "ppo",
                        wall_s=time.perf_counter() - started, reward=reward_raw / t_len, cost=cost_raw / t_len,
                        lambda_mean=float(lam.mean()), **stats)
        progress["slots_per_s"] = progress["slots"] / max(progress["wall_s"], 1e-9)
        eval_row: dict[str, Any] = {}
        last_update = progress["update"] >= n_updates or bool(
            config.max_wall_s and time.perf_counter() - started >= config.max_wall_s)
        if progress["update"] % config.eval_every == 0 or last_update:
            net.eval()
            kpis = evaluate_greedy(actor, config, config.eval_slots, config.eval_batch, config.eval_seed)
            net.train()
            eval_row = {"eval_throughput_mbps": kpis["throughput_mbps"],
                        "eval_qos_violation_rate": kpis["qos_violation_rate"], "eval_objective": kpis["objective"]}
            progress.update(eval_row)
            if eval_row["eval_objective"] > progress["best_objective"]:
                progress.update(best_objective=eval_row["eval_objective"], best_update=progress["update"],
                                best_throughput_mbps=kpis["throughput_mbps"],
                                best_violation_rate=kpis["qos_violation_rate"], best_slots=progress["slots"])
                _checkpoint(out / "best.pt", net, optim, value_norm, lam, config, env, progress, rng)
        log.writerow([progress["update"], progress["slots"], f"{progress['wall_s']:.1f}",
                      f"{progress['slots_per_s']:.1f}", f"{progress['reward']:.4f}", f"{progress['cost']:.4f}",
                      f"{progress['lambda_mean']:.3f}", f"{stats['policy_loss']:.5f}", f"{stats['value_loss']:.5f}",
                      f"{stats['entropy']:.4f}", eval_row.get("eval_throughput_mbps", ""),
                      eval_row.get("eval_qos_violation_rate", ""), eval_row.get("eval_objective", "")])
        csv_file.flush()
        if progress["update"] % config.checkpoint_every == 0 or last_update:
            _checkpoint(out / "last.pt", net, optim, value_norm, lam, config, env, progress, rng)
        if hook is not None:
            hook(dict(progress))
    csv_file.close()
    if not (out / "best.pt").exists():
        _checkpoint(out / "best.pt", net, optim, value_norm, lam, config, env, progress, rng)
    return progress


__all__ = [
    "METHODS",
    "TRAINER",
    "CmappoConfig",
    "CmappoNet",
    "Critic",
    "SeqActor",
    "block_size_of",
    "evaluate_greedy",
    "greedy_actions",
    "lagrange_update",
    "lagrangian_rewards",
    "load_checkpoint",
    "network_of",
    "train",
]
