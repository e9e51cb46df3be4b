"""PettingZoo ``ParallelEnv`` per preset over the batched radio world.

`RadioParallelEnv` runs one world of a `models.envs.VectorEnv` (``B = 1``) behind the PettingZoo
parallel API, one agent per E2 node, named as the node (``bs_0``, ``bs_1``, ...). Observations,
actions and rewards are the learned scheduler's (`xapps.policies.learned`): the observation is
built by `NeighbourhoodFeatures`, the code the xApp runs; the action is multi-discrete (a device
and a power level per resource); the reward is minus the packets queued at the agent's
neighbourhood after the slot. ``state()`` is the global state for centralized critics.

Environments are versioned per preset: `hex19_v0`, `random19_v0`, `conflict8_v0`, and
`make_env` for any preset of a world kind the learned scheduler runs on.

Episodes last ``episode_slots`` slots; the last one is a truncation (no slot ever terminates),
after which every agent leaves ``agents`` until the next `RadioParallelEnv.reset`.

Seeding: ``reset(seed=s)`` starts world seed ``s`` and seeds the action and observation spaces
from ``s``; each later ``reset()`` without a seed starts the next episode, world seed
``s + e·10⁶`` for episode ``e`` (the seeds `VectorEnv` gives its own successive episodes).
A first ``reset()`` without any seed draws ``s`` from the operating system's entropy.
"""

from __future__ import annotations

from typing import Any

import numpy as np
from gymnasium import spaces
from pettingzoo import ParallelEnv

from e2_sim.scenarios import load_scenario
from e2_sim.scenarios.base import ScenarioBase
from models.envs import VectorEnv
from ric.protocol import Reports, WorldSpec
from xapps.policies.learned import FEATURE_MIN, OnnxPolicy

EPISODE_SEED_STRIDE = 1_000_000
"""World seed offset between successive episodes after one seeded reset (as `VectorEnv`)."""

ENV_VERSION = "v0"
"""Version suffix of the environment names (``hex19_v0``)."""

# the lowest feature is a dB ratio clipped at the floor, which float32 log10 may undershoot by an ulp
_OBS_MIN = float(FEATURE_MIN * (1.0 + 1e-5))


class RadioParallelEnv(ParallelEnv):
    """One world of a preset as a PettingZoo parallel environment, one agent per E2 node.

    Parameters
    ----------
    scenario : str or ScenarioBase
        Preset name, TOML path or a loaded scenario; its world kind must be one the learned
        scheduler runs on (``multicell`` or ``conflict``).
    load : float, optional
        Traffic load in the scenario's unit (its ``default_load`` when None).
    episode_slots : int, optional
        Slots per episode (the scenario's ``train_episode_slots`` when None).
    overrides : dict, optional
        Scenario field overrides (when ``scenario`` is a name or path).

    Attributes
    ----------
    possible_agents, agents : list of str
        Node names; ``agents`` is empty once an episode has ended.
    spec : WorldSpec
        The world the agents act on.
    vector : VectorEnv
        The underlying batched environment (``batch = 1``).
    episode_slots : int
        Slots per episode.
    slot : int
        Slots stepped in the current episode.

    Notes
    -----
    ``infos[agent]["delivered_bits"]`` after a step holds the bits delivered to the agent's
    devices in that slot [bit].
    """

    metadata: dict[str, Any]

    def __init__(
        self,
        scenario: str | ScenarioBase,
        load: float | None = None,
        episode_slots: int | None = None,
        overrides: dict[str, Any] | None = None,
    ) -> None:
        loaded = load_scenario(scenario, overrides) if isinstance(scenario, str) else scenario
        if loaded.world not in OnnxPolicy.world_kinds:
            raise ValueError(
                f"scenario {loaded.name!r} is a {loaded.world!r} world; the learned scheduler's environments "
                f"cover {', '.join(repr(k) for k in OnnxPolicy.world_kinds)} worlds"
            )
        if episode_slots is not None and (isinstance(episode_slots, bool) or int(episode_slots) < 1):
            raise ValueError(f"episode_slots must be an integer >= 1, got {episode_slots!r}")
        self.episode_slots = int(episode_slots if episode_slots is not None else loaded.train_episode_slots)
        # one slot longer than ours, so the vector env never restarts a world on its own: the
        # truncating step returns the episode's true last observation
        self.vector = VectorEnv(loaded, load=load, batch=1, episode_slots=self.episode_slots + 1)
        self.spec: WorldSpec = self.vector.spec
        self.metadata = {"name": f"{loaded.name}_{ENV_VERSION}", "render_modes": [], "is_parallelizable": True}
        self.render_mode: str | None = None
        self.possible_agents: list[str] = [node.name for node in self.spec.nodes]
        self.agents: list[str] = []
        self._index = {agent: k for k, agent in enumerate(self.possible_agents)}
        self._heads = np.asarray(self.vector.heads, dtype=np.int64)  # (2S,)
        self.observation_spaces: dict[str, spaces.Box] = {
            agent: spaces.Box(low=_OBS_MIN, high=np.inf, shape=(self.vector.obs_dim,), dtype=np.float32)
            for agent in self.possible_agents
        }
        self.action_spaces: dict[str, spaces.MultiDiscrete] = {
            agent: spaces.MultiDiscrete(self._heads) for agent in self.possible_agents
        }
        self.state_space = spaces.Box(low=0.0, high=np.inf, shape=(self.vector.state_dim,), dtype=np.float32)
        self.slot = 0
        self._seed: int | None = None
        self._episode = 0

    # ------------------------------------------------------------------------------------------
    def observation_space(self, agent: str) -> spaces.Box:
        """Box float32 ``(obs_dim,)``: the agent's ``neighbourhood-v1`` features."""
        return self.observation_spaces[agent]

    def action_space(self, agent: str) -> spaces.MultiDiscrete:
        """MultiDiscrete ``heads`` (``2S`` heads): a device per resource, then a power level per resource."""
        return self.action_spaces[agent]

    @property
    def reports(self) -> Reports:
        """The current slot's reports as the agents' xApp sees them (``B = 1``)."""
        return self.vector.agent_reports()

    def reset(
        self, seed: int | None = None, options: dict[str, Any] | None = None
    ) -> tuple[dict[str, np.ndarray], dict[str, dict[str, Any]]]:
        """Start an episode (module docstring for the seeds); ``options`` are not used.

        Returns
        -------
        observations : dict of str to ndarray, float32, (obs_dim,)
        infos : dict of str to dict (empty)
        """
        if seed is not None:
            if isinstance(seed, bool) or not isinstance(seed, int | np.integer) or seed < 0:
                raise ValueError(f"seed must be an integer >= 0, got {seed!r}")
            self._seed, self._episode = int(seed), 0
            self._seed_spaces(int(seed))
        elif self._seed is None:
            self._seed, self._episode = int(np.random.SeedSequence().entropy % 2**32), 0  # type: ignore[operator]
        else:
            self._episode += 1
        obs = self.vector.reset(self._seed + self._episode * EPISODE_SEED_STRIDE)[0]  # (K, obs_dim)
        self.slot = 0
        self.agents = list(self.possible_agents)
        return {agent: obs[k] for k, agent in enumerate(self.agents)}, {agent: {} for agent in self.agents}

    def _seed_spaces(self, seed: int) -> None:
        children = np.random.SeedSequence(seed).spawn(2 * len(self.possible_agents))
        seeds = [int(child.generate_state(1)[0]) for child in children]
        for k, agent in enumerate(self.possible_agents):
            self.action_spaces[agent].seed(seeds[2 * k])
            self.observation_spaces[agent].seed(seeds[2 * k + 1])

    def step(
        self, actions: dict[str, np.ndarray]
    ) -> tuple[
        dict[str, np.ndarray], dict[str, float], dict[str, bool], dict[str, bool], dict[str, dict[str, Any]]
    ]:
        """Apply every live agent's action (int, ``(2S,)``) for one slot.

        Returns
        -------
        observations : dict of str to ndarray, float32, (obs_dim,)
            Next slot's observations (the episode's last ones on truncation).
        rewards : dict of str to float
            Minus the packets queued at the agent's own and neighbours' devices after the slot [packet].
        terminations, truncations : dict of str to bool
            Never terminated; truncated on the episode's last slot.
        infos : dict of str to dict
            ``delivered_bits``: bits delivered to the agent's devices in the slot [bit].
        """
        if not self.agents:
            raise RuntimeError("the episode has ended (or never started): call reset() first")
        unknown = sorted(set(actions) - set(self.agents))
        missing = [agent for agent in self.agents if agent not in actions]
        if unknown or missing:
            raise ValueError(f"actions must name every live agent once: unknown {unknown}, missing {missing}")
        joint = np.empty((1, len(self.possible_agents), self._heads.size), dtype=np.int64)
        for agent, action in actions.items():
            row = np.asarray(action)
            if row.shape != self._heads.shape or not np.issubdtype(row.dtype, np.integer):
                raise ValueError(f"action of {agent!r}: expected {self._heads.size} integers, got {action!r}")
            if ((row < 0) | (row >= self._heads)).any():
                raise ValueError(f"action of {agent!r}: {row.tolist()} outside the head sizes {self._heads.tolist()}")
            joint[0, self._index[agent]] = row
        obs, reward, _, kpis = self.vector.step(joint)
        self.slot += 1
        truncated = self.slot >= self.episode_slots
        delivered_bits = kpis.delivered_bits[0].sum(axis=1)  # (K,)
        agents = self.agents
        observations = {agent: obs[0, k] for k, agent in enumerate(agents)}
        rewards = {agent: float(reward[0, k]) for k, agent in enumerate(agents)}
        terminations = dict.fromkeys(agents, False)
        truncations = dict.fromkeys(agents, truncated)
        infos: dict[str, dict[str, Any]] = {
            agent: {"delivered_bits": float(delivered_bits[k])} for k, agent in enumerate(agents)
        }
        if truncated:
            self.agents = []
        return observations, rewards, terminations, truncations, infos

    def state(self) -> np.ndarray:
        """Global state ``(state_dim,)`` float32: log1p queue and presence of every device (`VectorEnv.state`)."""
        return self.vector.state()[0]

    def render(self) -> None:
        """Nothing to draw: the environment has no render modes."""
        return None

    def close(self) -> None:
        """Nothing to release (the world lives in this process's memory)."""


def make_env(
    scenario: str | ScenarioBase,
    load: float | None = None,
    episode_slots: int | None = None,
    overrides: dict[str, Any] | None = None,
) -> RadioParallelEnv:
    """The parallel environment of ``scenario`` (a ``multicell`` or ``conflict`` preset, path or scenario).

    Raises
    ------
    ValueError
        One line, for an unknown scenario or a world kind the learned scheduler does not run on.
    """
    return RadioParallelEnv(scenario, load=load, episode_slots=episode_slots, overrides=overrides)


def hex19_v0(
    load: float | None = None, episode_slots: int | None = None, overrides: dict[str, Any] | None = None
) -> RadioParallelEnv:
    """19 hexagonal cells, 57 devices, 3 subbands (preset ``hex19``)."""
    return make_env("hex19", load=load, episode_slots=episode_slots, overrides=overrides)


def random19_v0(
    load: float | None = None, episode_slots: int | None = None, overrides: dict[str, Any] | None = None
) -> RadioParallelEnv:
    """19 APs on a jittered hexagonal grid, 57 devices (2–5 per AP), 3 subbands (preset ``random19``)."""
    return make_env("random19", load=load, episode_slots=episode_slots, overrides=overrides)


def conflict8_v0(
    load: float | None = None, episode_slots: int | None = None, overrides: dict[str, Any] | None = None
) -> RadioParallelEnv:
    """4 agents × 2 devices on the directed conflict graph (preset ``conflict8``)."""
    return make_env("conflict8", load=load, episode_slots=episode_slots, overrides=overrides)


__all__ = [
    "ENV_VERSION",
    "EPISODE_SEED_STRIDE",
    "RadioParallelEnv",
    "conflict8_v0",
    "hex19_v0",
    "make_env",
    "random19_v0",
]
