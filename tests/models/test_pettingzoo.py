"""The PettingZoo environments: API and seeding checks, and the agents' view of the world."""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
import pytest

pytest.importorskip("pettingzoo")

from pettingzoo.test import parallel_api_test, parallel_seed_test

from models.envs import VectorEnv
from models.pettingzoo import (
    EPISODE_SEED_STRIDE,
    RadioParallelEnv,
    conflict8_v0,
    hex19_v0,
    make_env,
    random19_v0,
)
from xapps.policies.learned import NeighbourhoodFeatures

pytestmark = pytest.mark.train

EPISODE_SLOTS = 30
CONSTRUCTORS: dict[str, Callable[..., RadioParallelEnv]] = {
    "hex19": hex19_v0,
    "random19": random19_v0,
    "conflict8": conflict8_v0,
}


def _random_actions(env: RadioParallelEnv) -> dict[str, np.ndarray]:
    return {agent: env.action_space(agent).sample() for agent in env.agents}


@pytest.mark.parametrize("preset", sorted(CONSTRUCTORS))
def test_parallel_api(preset: str) -> None:
    env = CONSTRUCTORS[preset](episode_slots=EPISODE_SLOTS)
    parallel_api_test(env, num_cycles=EPISODE_SLOTS + 5)
    assert env.metadata["name"] == f"{preset}_v0"
    assert env.possible_agents == [node.name for node in env.spec.nodes]


@pytest.mark.parametrize("preset", ["hex19", "conflict8"])
def test_parallel_seed(preset: str) -> None:
    parallel_seed_test(lambda: CONSTRUCTORS[preset](episode_slots=EPISODE_SLOTS), num_cycles=EPISODE_SLOTS)


def _rollout(env: RadioParallelEnv, seed: int | None) -> tuple[np.ndarray, np.ndarray]:
    """Observations (slots+1, K, obs_dim) and rewards (slots, K) of one episode under seeded random actions."""
    obs, _ = env.reset(seed=seed)
    observations, rewards = [np.stack(list(obs.values()))], []
    while env.agents:
        obs, reward, _, _, _ = env.step(_random_actions(env))
        observations.append(np.stack(list(obs.values())))
        rewards.append(list(reward.values()))
    return np.stack(observations), np.asarray(rewards)


def test_unseeded_reset_continues_the_seeded_sequence() -> None:
    env = conflict8_v0(episode_slots=EPISODE_SLOTS)
    first = _rollout(env, seed=7)
    second = _rollout(env, seed=None)
    again = conflict8_v0(episode_slots=EPISODE_SLOTS)
    for replayed, original in ((_rollout(again, seed=7), first), (_rollout(again, seed=None), second)):
        np.testing.assert_array_equal(replayed[0], original[0])
        np.testing.assert_array_equal(replayed[1], original[1])
    assert not np.array_equal(first[1], second[1])  # a new episode, not a replay


def test_trajectory_is_the_vector_envs_world() -> None:
    env = hex19_v0(episode_slots=EPISODE_SLOTS)
    vector = VectorEnv("hex19", batch=1, episode_slots=EPISODE_SLOTS)
    obs, _ = env.reset(seed=3)
    env.reset()  # episode 1 of seed 3
    obs, _ = env.reset()  # episode 2 of seed 3
    expected = vector.reset(3 + 2 * EPISODE_SEED_STRIDE)
    np.testing.assert_array_equal(np.stack([obs[a] for a in env.possible_agents]), expected[0])
    for _ in range(5):
        actions = _random_actions(env)
        obs, reward, _, _, _ = env.step(actions)
        expected, expected_reward, _, _ = vector.step(np.stack([actions[a] for a in env.possible_agents])[None])
        np.testing.assert_array_equal(np.stack([obs[a] for a in env.possible_agents]), expected[0])
        np.testing.assert_array_equal([reward[a] for a in env.possible_agents], expected_reward[0])


@pytest.mark.parametrize("preset", ["hex19", "conflict8"])
def test_observation_is_the_xapps_feature_builder(preset: str) -> None:
    env = CONSTRUCTORS[preset](episode_slots=EPISODE_SLOTS)
    obs, _ = env.reset(seed=1)
    features = NeighbourhoodFeatures(env.spec)
    for _ in range(10):
        built = features.build(env.reports)  # (1, K, obs_dim)
        for k, node in enumerate(env.spec.nodes):
            np.testing.assert_array_equal(obs[node.name], built[0, k])
            assert env.observation_space(node.name).contains(obs[node.name])
        obs, _, _, _, _ = env.step(_random_actions(env))


@pytest.mark.parametrize("preset", ["hex19", "conflict8"])
def test_state_has_the_declared_shape(preset: str) -> None:
    env = CONSTRUCTORS[preset](episode_slots=EPISODE_SLOTS)
    env.reset(seed=2)
    for _ in range(3):
        env.step(_random_actions(env))
    state = env.state()
    assert state.shape == env.state_space.shape == (2 * env.spec.n_nodes * env.spec.n_users_max,)
    assert state.dtype == np.float32
    assert env.state_space.contains(state)
    reports = env.reports
    np.testing.assert_allclose(state[: state.size // 2], np.log1p(reports.queue_packets[0]).ravel(), rtol=1e-6)
    np.testing.assert_array_equal(state[state.size // 2 :], reports.active[0].ravel())


@pytest.mark.parametrize("preset", ["hex19", "conflict8"])
def test_reward_is_minus_the_neighbourhood_queue(preset: str) -> None:
    env = CONSTRUCTORS[preset](episode_slots=EPISODE_SLOTS)
    env.reset(seed=4)
    neighbours = env.spec.static["neighbours"]
    seen_backlog = False
    for _ in range(EPISODE_SLOTS):
        _, reward, _, _, _ = env.step(_random_actions(env))
        reports = env.reports
        for k, node in enumerate(env.spec.nodes):
            queued = sum(
                float(reports.queue_packets[0, j][reports.active[0, j]].sum()) for j in {k, *neighbours[k]}
            )
            assert reward[node.name] == pytest.approx(-queued, rel=1e-6)
            seen_backlog |= queued > 0
    assert seen_backlog  # the check above saw non-zero rewards


def test_episode_ends_in_a_truncation() -> None:
    env = conflict8_v0(episode_slots=EPISODE_SLOTS)
    env.reset(seed=5)
    delivered_bits = 0.0
    for slot in range(EPISODE_SLOTS):
        _, _, terminations, truncations, infos = env.step(_random_actions(env))
        assert not any(terminations.values())
        assert all(truncations.values()) == (slot == EPISODE_SLOTS - 1)
        delivered_bits += sum(info["delivered_bits"] for info in infos.values())
    assert env.agents == []
    assert delivered_bits > 0
    with pytest.raises(RuntimeError, match="reset"):
        env.step({})


def test_bad_actions_and_scenarios_are_one_line_errors() -> None:
    env = conflict8_v0(episode_slots=EPISODE_SLOTS)
    env.reset(seed=0)
    actions = _random_actions(env)
    with pytest.raises(ValueError, match="missing \\['bs_0'\\]"):
        env.step({a: v for a, v in actions.items() if a != "bs_0"})
    too_big = {**actions, "bs_1": np.asarray(env.action_space("bs_1").nvec)}
    with pytest.raises(ValueError, match="outside the head sizes"):
        env.step(too_big)
    with pytest.raises(ValueError, match="'sag' world") as excinfo:
        make_env("sag")
    assert "\n" not in str(excinfo.value)
    with pytest.raises(ValueError):
        make_env("no-such-preset")


def test_environments_are_exported_from_models() -> None:
    import models

    assert models.hex19_v0 is hex19_v0
    assert models.make_env is make_env
