"""Multi-agent double DQN under a satellite-user interference cap (MADQN-IL) for ``cstn``, in one file.

Zhai et al., Mathematics 13(19) 3133 (2025), §3 and Table 2. One agent per base station; the
joint action of an agent is the power level of each of its antennas ((L+1)^S choices,
`xapps.policies.learned_cstn.CstnDecoder`); every agent receives the shared reward: the slot's
terrestrial throughput [Mbit/s], or the penalty η when the base stations' interference at any
satellite user exceeded I_th (`shared_reward`).

Read top to bottom: the typed config, the Q-network, the pieces the tests pin (`shared_reward`,
`double_dqn_targets`, `epsilon_at`), the replay buffer, the greedy evaluation, then `train`: step
``batch`` worlds together with ε-greedy actions, store one transition per world and slot (all
agents' observations and actions, the shared reward, the next observations), and after
``learning_starts`` slots do ``updates_per_step`` gradient steps per batched step on minibatches
drawn uniformly from the replay: the double-DQN target y = r + γ·Q̄(s', argmax_a Q(s', a)) with
the online network Q choosing and the target network Q̄ evaluating, MSE loss (the paper's), Adam;
Q̄ is synchronised with Q every ``target_sync`` gradient steps. Episodes last ``episode_slots``
slots (the paper's 250) and restart every world on fresh seeds; episode ends are time limits, so
the targets bootstrap through them.

Base-station power. With ``train_powers_dbw`` the training worlds are spread over several P_max
(the paper's 16–28 dBW sweep, Fig. 7); the observation carries P_max through the gains scaled
by the antenna maximum and the action is a fraction of it, so one model serves the whole sweep.
The periodic evaluation (and so ``best.pt``) runs at the scenario's own power.

Agents. The paper gives each base station its own network; here one network serves all agents,
with the agent's one-hot id in its observation (the xApp then runs every agent in one batched
call), and each agent's transitions train it. Deviations from Table 2 for a CPU budget (learning
rate 1e-5 → ``lr``, γ 0.95 → ``gamma``) are the config's defaults and recorded in every
checkpoint and model card.
"""

from __future__ import annotations

import csv
import json
import math
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch import nn

from e2_sim.scenarios import load_scenario
from e2_sim.world import make_world
from e2_sim.world.base import SlotKpis, World
from models.config import TrainConfig, TrainingError
from xapps.policies.learned_cstn import CstnDecoder, CstnFeatures

CHECKPOINT_FORMAT = 1
TRAINER = "maddqn"
_MBIT = 1e-6



@dataclass
class MaddqnConfig(TrainConfig):
    """Everything a training run depends on (saved in every checkpoint)."""

    scenario: str = "cstn"
    """Preset name or TOML path (a cstn world)."""
    load: float | None = None
    """Demand scale in the scenario's unit (its default when None)."""
    overrides: dict[str, Any] = field(default_factory=dict)
    """Scenario field overrides (dotted names)."""
    train_powers_dbw: list[float] = field(default_factory=list)
    """Base-station powers P_max the training worlds are spread over [dBW] (empty: the scenario's own)."""
    steps: int = 2_000_000
    """Training budget in world slots (summed over the batch of worlds)."""
    seed: int = 1
    """Seed of the network, the exploration and the training worlds."""
    batch: int = 32
    """Worlds stepped together."""
    episode_slots: int = 250
    """Slots per training episode (Table 2: 250 training steps)."""
    hidden: int = 128
    """Width of the two hidden layers (Table 2: 128/128)."""
    lr: float = 5e-4
    """Adam learning rate (Table 2: 1e-5 over 4000 episodes)."""
    gamma: float = 0.8
    """Discount per slot (Table 2: 0.95)."""
    penalty_mbps: float = -1000.0
    """Reward η of a slot whose interference at a satellite user exceeds I_th [Mbit/s] (paper: −1000)."""
    reward_unit_mbps: float = 1000.0
    """Rewards are divided by this before learning [Mbit/s]."""
    buffer_size: int = 100_000
    """Transitions (world slots) kept in the replay."""
    batch_size: int = 512
    """Transitions per gradient step (Table 2: 512), each with every agent's row."""
    learning_starts: int = 20_000
    """World slots collected before the first gradient step."""
    updates_per_step: int = 1
    """Gradient steps per batched world step once learning has started."""
    target_sync: int = 200
    """Gradient steps between copies of the online network into the target network (Table 2: 200)."""
    eps_start: float = 1.0
    """ε of the ε-greedy exploration at the start."""
    eps_end: float = 0.02
    """ε after the decay."""
    eps_decay_fraction: float = 0.5
    """Fraction of ``steps`` over which ε falls linearly from ``eps_start`` to ``eps_end``."""
    max_grad_norm: float = 10.0
    """Gradient norm clip."""
    eval_every: int = 100_000
    """Evaluate the greedy policy every this many world slots."""
    eval_slots: int = 1_000
    """Slots of each periodic evaluation."""
    eval_batch: int = 4
    """Worlds of each periodic evaluation."""
    eval_seed: int = 9_000
    """World seed of the periodic evaluations (never the test seed 0)."""
    torch_threads: int = 1
    """Threads torch may use."""

    def check(self) -> None:
        """`TrainingError` naming the first field out of range."""
        positive = ("steps", "batch", "episode_slots", "hidden", "buffer_size", "batch_size", "updates_per_step",
                    "target_sync", "eval_every", "eval_slots", "eval_batch", "torch_threads")
        self.require_positive(*positive)
        if not 0.0 <= self.gamma < 1.0:
            raise TrainingError(f"gamma must be in [0, 1), got {self.gamma}")
        if not 0.0 <= self.eps_end <= self.eps_start <= 1.0:
            raise TrainingError(f"need 0 <= eps_end <= eps_start <= 1, got {self.eps_end}, {self.eps_start}")
        if not 0.0 < self.eps_decay_fraction <= 1.0:
            raise TrainingError(f"eps_decay_fraction must be in (0, 1], got {self.eps_decay_fraction}")
        if self.lr <= 0 or self.reward_unit_mbps <= 0:
            raise TrainingError("lr and reward_unit_mbps must be > 0")
        if self.learning_starts < 0:
            raise TrainingError(f"learning_starts must be >= 0, got {self.learning_starts}")



# ---------------------------------------------------------------------------------------------
# network
class QNetwork(nn.Module):
    """Q(s, ·) of one agent: input → hidden → hidden → one value per joint action (ReLU, §3)."""

    def __init__(self, obs_dim: int, hidden: int, n_actions: int) -> None:
        super().__init__()
        self.net = nn.Sequential(
            nn.Linear(obs_dim, hidden), nn.ReLU(),
            nn.Linear(hidden, hidden), nn.ReLU(),
            nn.Linear(hidden, n_actions),
        )

    def forward(self, obs: torch.Tensor) -> torch.Tensor:
        """Q-values ``(..., n_actions)`` of observations ``(..., obs_dim)``."""
        out: torch.Tensor = self.net(obs)
        return out


class OnnxQNetwork(nn.Module):
    """The exported graph: ``obs`` (N, dim), ``h_in`` (N, 1) → Q-values as ``logits``, ``h_out`` = ``h_in``."""

    def __init__(self, q: QNetwork) -> None:
        super().__init__()
        self.q = q

    def forward(self, obs: torch.Tensor, h_in: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        return self.q(obs), h_in * 1.0


# ---------------------------------------------------------------------------------------------
# reward, targets, exploration
def shared_reward(kpis: SlotKpis, slot_s: float, penalty_mbps: float) -> np.ndarray:
    """The reward every agent of a world gets for one slot, ``(B,)`` [Mbit/s].

    The terrestrial throughput Σ delivered bits / slot length, or ``penalty_mbps`` (η) in worlds
    whose base stations put more than I_th on any satellite user in the slot
    (``kpis.extra["interference_violated"]``).
    """
    throughput_mbps = kpis.delivered_bits.sum(axis=(1, 2)) / slot_s * _MBIT
    violated = np.asarray(kpis.extra["interference_violated"], dtype=bool)
    out: np.ndarray = np.where(violated, penalty_mbps, throughput_mbps)
    return out


def double_dqn_targets(reward: torch.Tensor, q_next_online: torch.Tensor, q_next_target: torch.Tensor,
                       gamma: float) -> torch.Tensor:
    """y = r + γ·Q̄(s', argmax_a Q(s', a)): the online network chooses, the target network evaluates.

    Parameters
    ----------
    reward : Tensor, (N,)
    q_next_online, q_next_target : Tensor, (N, A)
        Q(s', ·) of the online and of the target network.

    Returns
    -------
    Tensor, (N,)
    """
    best = q_next_online.argmax(dim=-1, keepdim=True)
    return reward + gamma * q_next_target.gather(-1, best).squeeze(-1)


def epsilon_at(slots: int, config: MaddqnConfig) -> float:
    """ε after ``slots`` world slots: linear from ``eps_start`` to ``eps_end`` over
    ``eps_decay_fraction·steps`` slots, then constant."""
    span = config.eps_decay_fraction * config.steps
    frac = min(max(slots / span, 0.0), 1.0)
    return config.eps_start + frac * (config.eps_end - config.eps_start)


# ---------------------------------------------------------------------------------------------
# environment and replay
class CstnEnv:
    """``batch`` cstn worlds with the agents' observations, decoding and shared reward.

    With several ``powers_dbw`` the worlds are spread over them (world ``i`` runs at
    ``powers_dbw[i mod n]``, one batched world object per power); the observations carry the
    power through the gains scaled by each world's antenna maximum.

    Parameters
    ----------
    config : MaddqnConfig
        Scenario, load, overrides and penalty.
    batch : int
        Worlds stepped together.
    powers_dbw : list of float, optional
        Base-station powers [dBW]; the scenario's own when empty or None.
    """

    def __init__(self, config: MaddqnConfig, batch: int, powers_dbw: list[float] | None = None) -> None:
        powers: list[float | None] = list(powers_dbw) if powers_dbw else [None]
        if batch < len(powers):
            raise TrainingError(f"batch ({batch}) must be at least the number of training powers ({len(powers)})")
        self.worlds: list[World] = []
        self.rows: list[np.ndarray] = []
        for g, power in enumerate(powers):
            overrides = dict(config.overrides or {})
            if power is not None:
                overrides["bs_max_power_dbw"] = float(power)
            scenario = load_scenario(config.scenario, overrides or None)
            if scenario.world != "cstn":
                raise TrainingError(f"maddqn trains cstn power control; {config.scenario!r} is a "
                                    f"{scenario.world!r} world")
            self.load = scenario.default_load if config.load is None else float(config.load)
            self.slot_s = scenario.slot_s
            self.worlds.append(make_world(scenario, load=self.load))
            self.rows.append(np.arange(g, batch, len(powers)))
        self.spec = self.worlds[0].spec
        self.features = [CstnFeatures(w.spec) for w in self.worlds]
        self.decoders = [CstnDecoder(w.spec) for w in self.worlds]
        self.n_agents = self.spec.n_nodes
        self.obs_dim = self.features[0].dim
        self.n_actions = self.decoders[0].heads[0]
        self.batch = batch
        self.penalty_mbps = config.penalty_mbps
        self._obs = np.zeros((batch, self.n_agents, self.obs_dim), dtype=np.float32)

    def reset(self, seeds: list[int]) -> np.ndarray:
        """Restart every world (``seeds`` (B,)); observations ``(B, K, dim)``."""
        self.reports = []
        for world, features, rows in zip(self.worlds, self.features, self.rows, strict=True):
            self.reports.append(world.reset([seeds[i] for i in rows]))
            self._obs[rows] = features.build(self.reports[-1])
        return self._obs.copy()

    def step(self, actions: np.ndarray) -> tuple[np.ndarray, np.ndarray, dict[str, np.ndarray]]:
        """Apply joint indices ``(B, K)``; next observations, the shared reward ``(B,)`` [Mbit/s] and
        ``{"throughput_mbps": (B,), "violated": (B,) bool}``."""
        reward = np.zeros(self.batch)
        throughput = np.zeros(self.batch)
        violated = np.zeros(self.batch, dtype=bool)
        for g, (world, features, decoder, rows) in enumerate(
            zip(self.worlds, self.features, self.decoders, self.rows, strict=True)
        ):
            controls = decoder.decode(actions[rows][..., None], self.reports[g])
            self.reports[g], kpis = world.step(controls)
            self._obs[rows] = features.build(self.reports[g])
            reward[rows] = shared_reward(kpis, self.slot_s, self.penalty_mbps)
            throughput[rows] = kpis.delivered_bits.sum(axis=(1, 2)) / self.slot_s * _MBIT
            violated[rows] = kpis.extra["interference_violated"]
        return self._obs.copy(), reward, {"throughput_mbps": throughput, "violated": violated}


class Replay:
    """Uniform replay of ``(obs (K, dim), actions (K,), reward, next_obs (K, dim))`` per world slot."""

    def __init__(self, size: int, n_agents: int, obs_dim: int) -> None:
        self.size, self.count, self.cursor = size, 0, 0
        self.obs = np.zeros((size, n_agents, obs_dim), dtype=np.float32)
        self.next_obs = np.zeros((size, n_agents, obs_dim), dtype=np.float32)
        self.actions = np.zeros((size, n_agents), dtype=np.int64)
        self.reward = np.zeros(size, dtype=np.float32)

    def add(self, obs: np.ndarray, actions: np.ndarray, reward: np.ndarray, next_obs: np.ndarray) -> None:
        """Store one batched step (leading axis B)."""
        idx = (self.cursor + np.arange(obs.shape[0])) % self.size
        self.obs[idx], self.actions[idx], self.reward[idx], self.next_obs[idx] = obs, actions, reward, next_obs
        self.cursor = int((self.cursor + obs.shape[0]) % self.size)
        self.count = min(self.count + obs.shape[0], self.size)

    def sample(self, n: int, rng: np.random.Generator) -> tuple[torch.Tensor, ...]:
        idx = rng.integers(0, self.count, size=n)
        return (torch.from_numpy(self.obs[idx]), torch.from_numpy(self.actions[idx]),
                torch.from_numpy(self.reward[idx]), torch.from_numpy(self.next_obs[idx]))


def greedy_actions(q: QNetwork, obs: np.ndarray) -> np.ndarray:
    """Argmax joint action ``(B, K)`` of observations ``(B, K, dim)``."""
    with torch.no_grad():
        out: np.ndarray = q(torch.from_numpy(obs)).argmax(dim=-1).numpy()
    return out


def evaluate_greedy(q: QNetwork, config: MaddqnConfig, slots: int, batch: int, seed: int) -> dict[str, float]:
    """The greedy policy over ``slots`` slots of ``batch`` worlds seeded ``seed, seed+1, ...``.

    Returns ``throughput_mbps`` (terrestrial, mean over worlds), ``violation_rate`` (fraction of
    world slots over I_th) and ``score_mbps``: the mean shared reward (η in violating slots).
    """
    env = CstnEnv(config, batch)
    obs = env.reset([seed + i for i in range(batch)])
    reward_sum = throughput_sum = 0.0
    violations = 0
    for _ in range(slots):
        obs, reward, info = env.step(greedy_actions(q, obs))
        reward_sum += float(reward.sum())
        throughput_sum += float(info["throughput_mbps"].sum())
        violations += int(np.count_nonzero(info["violated"]))
    n = slots * batch
    return {"throughput_mbps": throughput_sum / n, "violation_rate": violations / n, "score_mbps": reward_sum / n}


# ---------------------------------------------------------------------------------------------
# checkpoints
ProgressHook = Callable[[dict[str, Any]], None]


def _checkpoint(path: Path, q: QNetwork, target: QNetwork, optim: torch.optim.Optimizer, config: MaddqnConfig,
                env: CstnEnv, progress: dict[str, Any]) -> None:
    tmp = path.with_suffix(".tmp")
    torch.save({
        "format": CHECKPOINT_FORMAT,
        "trainer": TRAINER,
        "config": asdict(config),
        "model": q.state_dict(),
        "target": target.state_dict(),
        "optimizer": optim.state_dict(),
        "progress": progress,
        "spec": {"scenario": env.spec.scenario, "world_kind": env.spec.world_kind, "n_agents": env.n_agents,
                 "obs_dim": env.obs_dim, "n_actions": env.n_actions, "load": env.load},
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


def network_of(checkpoint: dict[str, Any]) -> QNetwork:
    """The online `QNetwork` stored in ``checkpoint``, weights loaded, in eval mode."""
    config = MaddqnConfig.from_dict(checkpoint["config"])
    spec = checkpoint["spec"]
    q = QNetwork(spec["obs_dim"], config.hidden, spec["n_actions"])
    q.load_state_dict(checkpoint["model"])
    q.eval()
    return q


# ---------------------------------------------------------------------------------------------
# training
def train(config: MaddqnConfig, out_dir: str | Path, hook: ProgressHook | None = None) -> dict[str, Any]:
    """Train, writing ``last.pt``, ``best.pt`` (best periodic greedy score), ``train.csv``,
    ``config.json`` and TensorBoard logs to ``out_dir``. ``hook`` gets the progress dict after
    every evaluation. Returns the final progress dict."""
    config.check()
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    torch.set_num_threads(config.torch_threads)
    torch.manual_seed(config.seed)
    rng = np.random.default_rng(config.seed)
    env = CstnEnv(config, config.batch, config.train_powers_dbw)
    k, b = env.n_agents, config.batch
    q = QNetwork(env.obs_dim, config.hidden, env.n_actions)
    target = QNetwork(env.obs_dim, config.hidden, env.n_actions)
    target.load_state_dict(q.state_dict())
    optim = torch.optim.Adam(q.parameters(), lr=config.lr)
    replay = Replay(min(config.buffer_size, max(config.steps, b)), k, env.obs_dim)
    (out / "config.json").write_text(json.dumps(asdict(config), indent=2) + "\n")
    from torch.utils.tensorboard import SummaryWriter

    writer = SummaryWriter(str(out / "tb"))
    csv_file = (out / "train.csv").open("w", newline="")
    log = csv.writer(csv_file)
    log.writerow(["slots", "wall_s", "epsilon", "updates", "loss", "train_reward_mbps", "train_violation_rate",
                  "eval_throughput_mbps", "eval_violation_rate", "eval_score_mbps"])
    progress: dict[str, Any] = {"slots": 0, "updates": 0, "wall_s": 0.0, "best_score_mbps": -math.inf,
                                "episodes": 0}
    started = time.perf_counter()
    episode = 0
    obs = env.reset([config.seed * 1_000_003 + i for i in range(b)])
    episode_slot = 0
    loss_sum, loss_n, reward_sum, violation_sum, window_slots = 0.0, 0, 0.0, 0, 0
    next_eval = config.eval_every
    scale = 1.0 / config.reward_unit_mbps
    while progress["slots"] < config.steps:
        eps = epsilon_at(int(progress["slots"]), config)
        actions = greedy_actions(q, obs)
        explore = rng.random((b, k)) < eps
        actions = np.where(explore, rng.integers(0, env.n_actions, size=(b, k)), actions)
        next_obs, reward, info = env.step(actions)
        replay.add(obs, actions, (reward * scale).astype(np.float32), next_obs)
        reward_sum += float(reward.sum())
        violation_sum += int(np.count_nonzero(info["violated"]))
        window_slots += b
        obs = next_obs
        progress["slots"] += b
        episode_slot += 1
        if episode_slot == config.episode_slots:
            episode += 1
            episode_slot = 0
            obs = env.reset([config.seed * 1_000_003 + episode * b + i for i in range(b)])
            progress["episodes"] = episode

        if progress["slots"] >= config.learning_starts:
            for _ in range(config.updates_per_step):
                s, a, r, s_next = replay.sample(config.batch_size, rng)
                with torch.no_grad():
                    y = double_dqn_targets(r[:, None].expand(-1, k).reshape(-1), q(s_next).reshape(-1, env.n_actions),
                                           target(s_next).reshape(-1, env.n_actions), config.gamma)
                q_taken = q(s).gather(-1, a[..., None]).reshape(-1)
                loss = nn.functional.mse_loss(q_taken, y)
                optim.zero_grad()
                loss.backward()
                nn.utils.clip_grad_norm_(q.parameters(), config.max_grad_norm)
                optim.step()
                progress["updates"] += 1
                loss_sum += loss.item()
                loss_n += 1
                if progress["updates"] % config.target_sync == 0:
                    target.load_state_dict(q.state_dict())

        last = progress["slots"] >= config.steps
        if progress["slots"] >= next_eval or last:
            next_eval += config.eval_every
            q.eval()
            ev = evaluate_greedy(q, config, config.eval_slots, config.eval_batch, config.eval_seed)
            q.train()
            progress["wall_s"] = time.perf_counter() - started
            progress.update(epsilon=eps, loss=loss_sum / max(loss_n, 1),
                            train_reward_mbps=reward_sum / max(window_slots, 1),
                            train_violation_rate=violation_sum / max(window_slots, 1),
                            eval_throughput_mbps=ev["throughput_mbps"], eval_violation_rate=ev["violation_rate"],
                            eval_score_mbps=ev["score_mbps"],
                            slots_per_s=progress["slots"] / max(progress["wall_s"], 1e-9))
            if ev["score_mbps"] > progress["best_score_mbps"]:
                progress.update(best_score_mbps=ev["score_mbps"], best_slots=progress["slots"],
                                best_throughput_mbps=ev["throughput_mbps"],
                                best_violation_rate=ev["violation_rate"])
                _checkpoint(out / "best.pt", q, target, optim, config, env, progress)
            for key in ("epsilon", "loss", "train_reward_mbps", "train_violation_rate", "eval_throughput_mbps",
                        "eval_violation_rate", "eval_score_mbps"):
                writer.add_scalar(key, progress[key], progress["slots"])
            log.writerow([progress["slots"], f"{progress['wall_s']:.1f}", f"{eps:.4f}", progress["updates"],
                          f"{progress['loss']:.6f}", f"{progress['train_reward_mbps']:.2f}",
                          f"{progress['train_violation_rate']:.5f}", f"{ev['throughput_mbps']:.2f}",
                          f"{ev['violation_rate']:.5f}", f"{ev['score_mbps']:.2f}"])
            csv_file.flush()
            _checkpoint(out / "last.pt", q, target, optim, config, env, progress)
            loss_sum, loss_n, reward_sum, violation_sum, window_slots = 0.0, 0, 0.0, 0, 0
            if hook is not None:
                hook(dict(progress))
    writer.close()
    csv_file.close()
    return progress
