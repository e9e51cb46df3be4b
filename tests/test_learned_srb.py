"""SRB agents at runtime: BS rows, the sequential decision order, granted rates, decoding."""

from __future__ import annotations

import math

import numpy as np
import pytest

from e2_sim.scenarios import load_scenario
from e2_sim.world import make_world
from xapps.policies.learned_srb import (
    GRANTED_CAP,
    MASKED_LOGIT,
    SrbDecoder,
    SrbFeatures,
    SrbLayout,
    agent_observation,
    granted_rates,
    own_presence,
    sequential_greedy,
    srb_model_spec,
)

#: float32 rounding of a few log2 terms summed [η]
RATE_TOLERANCE = 1e-5
#: relative spread of a 20-minute mean of an M/M/∞ population of ~9 users (one seed)
POPULATION_TOLERANCE = 0.5


@pytest.fixture(scope="module")
def world_rows() -> tuple[SrbLayout, np.ndarray, object]:
    """BS rows (B·K, dim) of two tn-ntn-srb-160 worlds (M = 4 agents per BS) after two slots."""
    scenario = load_scenario("tn-ntn-srb-160")
    world = make_world(scenario, load=scenario.default_load)
    features = SrbFeatures(world.spec)
    reports = world.reset([3, 4])
    rng = np.random.default_rng(0)
    for _ in range(2):
        actions = rng.integers(0, world.spec.n_users_max + 1, (2, 3, world.spec.n_resources))
        reports, _ = world.step(SrbDecoder(world.spec).decode(actions, reports))
    rows = features.build(reports)
    return features.layout, rows.reshape(-1, rows.shape[-1]), reports


def _linear_scorer(layout: SrbLayout, block: int, seed: int, bonus: dict[int, float] | None = None):
    """Scores ``obs @ W`` of a random linear agent; ``bonus[m]`` is added to agent m's "off" score."""
    rng = np.random.default_rng(seed)
    weight = rng.standard_normal((layout.agent_dim(block), block * (layout.n_users + 1))).astype(np.float32)
    seen: dict[int, np.ndarray] = {}

    def scores(m: int, obs: np.ndarray) -> np.ndarray:
        seen[m] = obs.copy()
        out = (obs @ weight).reshape(obs.shape[0], block, layout.n_users + 1)
        if bonus and m in bonus:
            out[..., 0] += bonus[m]
        return out

    return scores, seen


def test_bs_row_layout_and_presence(world_rows) -> None:
    layout, rows, reports = world_rows
    k, u, f = layout.n_nodes, layout.n_users, layout.n_subchannels
    assert rows.shape[1] == f * u + k * u * k + k * u + k
    np.testing.assert_array_equal(own_presence(rows, layout), reports.active.reshape(-1, u))
    # one-hot of the BS closes every row
    np.testing.assert_array_equal(rows[:, -k:], np.tile(np.eye(k, dtype=np.float32), (2, 1)))
    # the SINR part is the dB/10 of |h|²·p_srb/(I+N) for a present user on subchannel 7
    b, n = np.argwhere(reports.active.any(axis=-1))[0]
    user = int(np.flatnonzero(reports.active[b, n])[0])
    gain = reports.gain[b, n, user, 7, n]
    expected = math.log10(gain * layout.srb_power_w[n] / max(reports.interference_w[b, n, user, 7], layout.noise_w))
    assert rows[b * k + n, 7 * u + user] == pytest.approx(float(np.clip(expected, -3.0, 6.0)), abs=1e-5)


def test_granted_rate_is_the_power_rule_rate() -> None:
    """Two active subchannels of one SRB share its power: each serves W·log2(1 + SINR/2)."""
    layout = SrbLayout(n_nodes=1, n_users=2, n_subchannels=4, srb_size=2, agents_per_node=2,
                       subchannel_bandwidth_hz=50e3, qos_min_rate_bps=2e5, srb_power_w=np.ones(1), noise_w=1e-12)
    rows = np.zeros((1, layout.row_dim), dtype=np.float32)
    rows[0, :4] = [1.0, 2.0, 0.5, 0.0]  # SRB 0: subchannel 0 (users 0, 1), subchannel 1 (users 0, 1); dB/10
    granted = granted_rates(rows, layout, 2, 0, np.array([[2, 1]]))  # sub 0 → user 1, sub 1 → user 0
    scale = 50e3 / 2e5
    expected = [scale * math.log2(1 + 10**0.5 / 2), scale * math.log2(1 + 10**2.0 / 2)]
    np.testing.assert_allclose(granted[0], expected, rtol=RATE_TOLERANCE)
    alone = granted_rates(rows, layout, 2, 0, np.array([[0, 1]]))  # one active subchannel: full SRB power
    np.testing.assert_allclose(alone[0], [scale * math.log2(1 + 10**0.5), 0.0], rtol=RATE_TOLERANCE)


def test_agent_m_sees_exactly_the_rates_granted_before_it(world_rows) -> None:
    layout, rows, _ = world_rows
    block = layout.srb_size
    scores, seen = _linear_scorer(layout, block, seed=1)
    actions = sequential_greedy(rows, layout, block, scores)
    u = layout.n_users
    expected = np.zeros((rows.shape[0], u), dtype=np.float32)
    for m in range(layout.agents_per_node):
        np.testing.assert_allclose(seen[m][:, -u:], np.minimum(expected, GRANTED_CAP), rtol=RATE_TOLERANCE,
                                   atol=RATE_TOLERANCE)
        np.testing.assert_array_equal(seen[m], agent_observation(rows, layout, block, m, expected))
        expected = expected + granted_rates(rows, layout, block, m, actions[:, m * block : (m + 1) * block])
    assert (seen[layout.agents_per_node - 1][:, -u:] > 0).any(), "no agent granted anything: a vacuous check"


def test_changing_agent_m_changes_only_its_successors(world_rows) -> None:
    layout, rows, _ = world_rows
    block, m = layout.srb_size, 2
    base = sequential_greedy(rows, layout, block, _linear_scorer(layout, block, seed=2)[0])
    silenced = sequential_greedy(rows, layout, block, _linear_scorer(layout, block, seed=2, bonus={m: 1e6})[0])
    before = slice(0, m * block)
    np.testing.assert_array_equal(silenced[:, before], base[:, before])
    assert (silenced[:, m * block : (m + 1) * block] == 0).all()
    assert (base[:, m * block : (m + 1) * block] > 0).any()
    assert not np.array_equal(silenced[:, (m + 1) * block :], base[:, (m + 1) * block :])


def test_other_bs_rows_do_not_enter_an_agents_observation(world_rows) -> None:
    layout, rows, _ = world_rows
    block = layout.srb_size
    changed = rows.copy()
    changed[1:, : layout.n_subchannels * layout.n_users] += 1.0  # every row but the first
    scores_a, seen_a = _linear_scorer(layout, block, seed=3)
    scores_b, seen_b = _linear_scorer(layout, block, seed=3)
    sequential_greedy(rows, layout, block, scores_a)
    sequential_greedy(changed, layout, block, scores_b)
    for m in range(layout.agents_per_node):
        np.testing.assert_array_equal(seen_a[m][0], seen_b[m][0])


def test_absent_users_are_never_chosen(world_rows) -> None:
    layout, rows, _ = world_rows
    block = layout.srb_size

    def prefer_absent(m: int, obs: np.ndarray) -> np.ndarray:
        out = np.zeros((obs.shape[0], block, layout.n_users + 1), dtype=np.float32)
        out[..., 1:] = np.where(own_presence(rows, layout), 0.0, 1e3)[:, None, :]  # absent users score high
        return out

    actions = sequential_greedy(rows, layout, block, prefer_absent)
    present = own_presence(rows, layout)
    chosen = actions > 0
    users = np.maximum(actions - 1, 0)
    assert np.take_along_axis(present, users, axis=1)[chosen].all()
    assert MASKED_LOGIT < -1e3


def test_decoder_sends_the_srb_power_cap(world_rows) -> None:
    layout, _, reports = world_rows
    scenario = load_scenario("tn-ntn-srb-160")
    world = make_world(scenario, load=scenario.default_load)
    decoder = SrbDecoder(world.spec)
    actions = np.zeros((2, 3, layout.n_subchannels), dtype=np.int64)
    actions[..., 0] = 1  # user slot 0 on subchannel 0 everywhere
    controls = decoder.decode(actions, reports)
    served = reports.active[..., 0]
    np.testing.assert_array_equal(controls.user[..., 0] == 0, served)
    cap_w = np.broadcast_to(layout.srb_power_w, served.shape)[served]
    np.testing.assert_allclose(controls.power_w[..., 0][served], cap_w, rtol=1e-6)
    assert (controls.user[..., 1:] == -1).all()


def test_model_spec_names_the_world_sizes() -> None:
    scenario = load_scenario("tn-ntn-srb-320")
    spec = make_world(scenario, load=scenario.default_load).spec
    obs = srb_model_spec(spec)["observation"]
    assert (obs["n_subchannels"], obs["srb_size"], obs["devices_per_agent"], obs["nodes"]) == (320, 40, 30, 3)


def test_flexibility_test_series_follow_the_arrival_rate(tmp_path) -> None:
    from ntnric.srb_flex import flex_overrides, plot_flex, run_flex

    overrides = flex_overrides("tn-ntn-srb", compression=600.0)
    assert overrides["users.mean_holding_s"] == pytest.approx(0.3) and overrides["users.speed_mps"] == 600.0
    series = run_flex(["equal-split"], scenario="tn-ntn-srb", arrivals_per_min=(1.0, 5.0), compression=600.0,
                      bin_min=5.0)
    low, high = series
    assert low.time_min == pytest.approx([2.5, 7.5, 12.5, 17.5, 22.5, 27.5])  # 30 test minutes, 6 bins
    # after the ramp-up the population holds about rate × 3 min users per BS (3 BSs, K_max = 10 caps 5/min)
    assert np.mean(low.active_users[2:]) == pytest.approx(9.0, rel=POPULATION_TOLERANCE)
    assert np.mean(high.active_users[2:]) > 2.0 * np.mean(low.active_users[2:])
    assert 0.0 <= low.qos_violation_rate <= 1.0 and high.mean_throughput_mbps > 0.0
    assert plot_flex(series, tmp_path / "flex.png").stat().st_size > 10_000
