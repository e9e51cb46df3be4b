"""Training environments over the batched radio world.

`VectorEnv` steps ``B`` worlds of one preset at once and speaks the learned scheduler's language
(`xapps.policies.learned`): observations from `NeighbourhoodFeatures` — the very code the xApp
runs —, multi-discrete actions decoded by `ActionDecoder`, and the neighbourhood queue reward.
`models.pettingzoo` wraps one world of it as a PettingZoo ``ParallelEnv``.

Episodes have a fixed length (``episode_slots``) and all ``B`` worlds start together; the last
slot of an episode is a truncation (its value is bootstrapped), never a termination.

With ``teacher`` set, the world runs with genie CSI so a centralized optimizer (e.g. FP) can
decide on the current channel; the observation is still built from the one-slot-old channel the
xApp would see, and `VectorEnv.teacher_actions` gives the teacher's decision in action form for
behaviour cloning.
"""

from __future__ import annotations

import dataclasses
from typing import Any

import numpy as np

from e2_sim.kpi import KpiAccumulator
from e2_sim.scenarios import load_scenario
from e2_sim.scenarios.base import ScenarioBase
from e2_sim.world import SlotKpis, make_world
from ric.protocol import Controls, Reports
from xapps.policies import make_policy
from xapps.policies.learned import ActionDecoder, NeighbourhoodFeatures, neighbourhood_matrix


class VectorEnv:
    """``batch`` worlds of ``scenario`` as a multi-agent environment, one agent per E2 node.

    Parameters
    ----------
    scenario : str or ScenarioBase
        Preset name, TOML path or a loaded scenario.
    load : float, optional
        Traffic load in the scenario's unit (its ``default_load`` when None).
    batch : int
        Worlds stepped together (``B``).
    episode_slots : int, optional
        Slots per episode (the scenario's ``train_episode_slots`` when None).
    teacher : str, optional
        Policy name whose decisions `teacher_actions` returns (e.g. ``fp`` or ``gms``).
    overrides : dict, optional
        Scenario field overrides.
    teacher_genie : bool
        Let a genie teacher see the current channel (False: it decides on the agents' one-slot-old
        channel, like an xApp would).

    Attributes
    ----------
    n_agents, obs_dim, state_dim : int
    heads : list of int
        Sizes of the action heads of every agent.
    """

    def __init__(
        self,
        scenario: str | ScenarioBase,
        load: float | None = None,
        batch: int = 16,
        episode_slots: int | None = None,
        teacher: str | None = None,
        overrides: dict[str, Any] | None = None,
        teacher_genie: bool = True,
    ) -> None:
        self.scenario = load_scenario(scenario, overrides) if isinstance(scenario, str) else scenario
        self.load = float(self.scenario.default_load if load is None else load)
        self.batch = int(batch)
        self.episode_slots = int(self.scenario.train_episode_slots if episode_slots is None else episode_slots)
        if self.batch < 1 or self.episode_slots < 1:
            raise ValueError(f"batch and episode_slots must be >= 1, got {self.batch} and {self.episode_slots}")
        probe = make_world(self.scenario, load=self.load)
        self.teacher = make_policy(teacher, probe.spec, seed=0) if teacher else None
        genie = bool(self.teacher is not None and self.teacher.genie and teacher_genie)
        self.world = make_world(self.scenario, load=self.load, genie_csi=genie) if genie else probe
        self.spec = self.world.spec
        self.features = NeighbourhoodFeatures(self.spec)
        self.decoder = ActionDecoder(self.spec)
        self.heads = list(self.decoder.heads)
        self.n_agents = self.spec.n_nodes
        self.obs_dim = self.features.dim
        self.state_dim = 2 * self.spec.n_nodes * self.spec.n_users_max
        self._neighbourhood = neighbourhood_matrix(self.spec)  # (K, K)
        self._genie = genie
        self._reports: Reports | None = None
        self._delayed_gain: np.ndarray | None = None
        self.slot = 0
        self._seed = self._episode = 0
        self.kpis: KpiAccumulator | None = None
        self.final_obs = np.zeros((0, self.n_agents, self.obs_dim), np.float32)
        self.final_state = np.zeros((0, self.state_dim), np.float32)

    # ------------------------------------------------------------------------------------------
    def reset(self, seed: int) -> np.ndarray:
        """Start ``B`` worlds seeded ``seed·B … seed·B + B − 1``; observations ``(B, K, obs_dim)``.

        Episode ``e`` after a reset with ``seed`` uses worlds seeded from ``seed + e·10⁶``.
        """
        self._seed, self._episode = int(seed), 0
        return self._start(self._seed)

    def _start(self, seed: int) -> np.ndarray:
        seeds = [seed * self.batch + i for i in range(self.batch)]
        self._reports = self.world.reset(seeds)
        self._delayed_gain = np.zeros_like(self._reports.gain) if self._genie else None
        if self.teacher is not None:
            self.teacher.reset(self.batch)
        self.slot = 0
        self.kpis = KpiAccumulator(self.spec, batch=self.batch)
        return self.observe()

    @property
    def reports(self) -> Reports:
        """The current slot's reports as the world produced them (genie CSI with a genie teacher)."""
        if self._reports is None:
            raise RuntimeError("reset() first")
        return self._reports

    def agent_reports(self) -> Reports:
        """The current slot's reports as an xApp sees them (one-slot-old CSI)."""
        reports = self.reports
        if self._delayed_gain is None:
            return reports
        return dataclasses.replace(reports, gain=self._delayed_gain)

    def observe(self) -> np.ndarray:
        """Observations ``(B, K, obs_dim)`` float32 of the current slot."""
        return self.features.build(self.agent_reports())

    def state(self) -> np.ndarray:
        """Global state ``(B, state_dim)`` for centralized critics: log1p queue and presence of every device."""
        reports = self.reports
        b = self.batch
        queue = np.log1p(reports.queue_packets).reshape(b, -1)
        return np.concatenate([queue, reports.active.reshape(b, -1).astype(np.float32)], axis=1).astype(np.float32)

    def teacher_actions(self) -> np.ndarray:
        """The teacher's decision for the current slot as actions ``(B, K, 2S)``."""
        if self.teacher is None:
            raise RuntimeError("this environment has no teacher")
        return self.encode(self.teacher.decide(self.reports))

    def encode(self, controls: Controls) -> np.ndarray:
        """Actions ``(B, K, 2S)`` closest to ``controls``: nearest power level in dB, off → device 0."""
        s = self.spec.n_resources
        table = self.decoder._power_table_w  # (K, L+1)
        on = (controls.user >= 0) & (controls.power_w > 0)
        with np.errstate(divide="ignore"):
            p_db = np.log10(np.maximum(controls.power_w, 1e-30))[..., None]  # (B, K, S, 1)
            level_db = np.log10(np.where(table > 0, table, np.nan))[None, :, None, :]  # (1, K, 1, L+1)
        distance = np.abs(p_db - level_db)
        level = np.nanargmin(np.where(np.isnan(distance), np.inf, distance), axis=-1)
        actions = np.zeros((*controls.user.shape[:2], 2 * s), dtype=np.int64)
        actions[..., :s] = np.where(on, controls.user.astype(np.int64) + 1, 0)
        actions[..., s:] = np.where(on, level, 0)
        return actions

    def step(self, actions: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray, SlotKpis]:
        """Apply ``actions`` (int, (B, K, 2S)) for one slot.

        Returns
        -------
        obs : ndarray, (B, K, obs_dim)
            Observations of the next slot (of the next episode's first slot after a truncation;
            the truncated episode's last observations and state are then in `final_obs` and
            `final_state`, for bootstrapping).
        reward : ndarray, float32, (B, K)
            Minus the packets queued at each agent's neighbourhood after the slot.
        truncated : ndarray of bool, (B,)
            The slot ended an episode (the environment has already reset).
        kpis : SlotKpis
            What happened in the slot.
        """
        reports = self.reports
        controls = self.decoder.decode(np.asarray(actions), self.agent_reports())
        if self._genie:
            self._delayed_gain = reports.gain
        self._reports, kpis = self.world.step(controls)
        assert self.kpis is not None
        self.kpis.add(kpis)
        queued = (self._reports.queue_packets * self._reports.active).sum(axis=2)  # (B, K)
        reward = -(queued @ self._neighbourhood.T).astype(np.float32)
        self.slot += 1
        truncated = np.full(self.batch, self.slot >= self.episode_slots)
        if truncated[0]:
            self.final_obs, self.final_state = self.observe(), self.state()
            self._episode += 1
            obs = self._start(self._seed + self._episode * 1_000_000)
        else:
            obs = self.observe()
        return obs, reward, truncated, kpis
