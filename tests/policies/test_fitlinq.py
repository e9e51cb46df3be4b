"""Fair-ITLinQ: the greedy against its definition, the pairwise SNR/INR conditions of the on-set,
the parameters the world publishes, and the policy's controls."""

from __future__ import annotations

import numpy as np
import pytest

from e2_sim.scenarios import load_scenario
from e2_sim.scenarios.multicell import MulticellScenario
from ric.protocol import NodeSpec, Reports, WorldSpec
from xapps.policies import PolicyError, make_policy
from xapps.policies.itlinq import FairItlinqParams, fair_itlinq_on, fitlinq_params
from xapps.policies.optimizers import link_gains

NOISE_DBM = -114.0
MAX_POWER_DBM = 23.0
NOISE_W = 10 ** ((NOISE_DBM - 30) / 10)
P_MAX_W = 10 ** ((MAX_POWER_DBM - 30) / 10)
K, S = 19, 3
# The thresholds the authors tuned for the two deployments (Zhang & Guo's public code).
AUTHORS_PARAMS = {
    "hex19": FairItlinqParams(eta=0.7, eta_bar=0.5, c=10.0, c_bar=0.1, snr_threshold_lin=1200.0),
    "random19": FairItlinqParams(eta=0.7, eta_bar=0.5, c=20.0, c_bar=2.0, snr_threshold_lin=5000.0),
}


def preset_static(name: str) -> dict:
    """What a world of preset ``name`` publishes about Fair-ITLinQ."""
    scenario = load_scenario(name)
    assert isinstance(scenario, MulticellScenario)
    return {"fitlinq": scenario.fitlinq.model_dump()}


def multicell_spec(n_users: int = 3, scenario: str = "hex19", static: dict | None = None) -> WorldSpec:
    nodes = tuple(
        NodeSpec(node_id=i, name=f"bs_{i}", kind="gnb", n_users=n_users, n_resources=S, max_power_dbm=MAX_POWER_DBM)
        for i in range(K)
    )
    if static is None:
        static = preset_static(scenario)
    return WorldSpec(scenario, "multicell", 0.02, n_users, S, 10e6, NOISE_DBM, nodes, static)


def multicell_reports(rng: np.random.Generator, spec: WorldSpec, batch: int) -> Reports:
    """A slot of a 19-cell hex layout (ISD 866 m): 128.1 + 37.6 log10(d/km) path loss x Rayleigh
    fading, Poisson queues; with U > 3 each AP has 2..U active devices."""
    u = spec.n_users_max
    isd_m = np.sqrt(3.0) * 500.0
    sites = [np.zeros(2)]
    for ring in (1, 2):
        for side in range(6):
            a0, a1 = np.pi / 3 * side + np.pi / 6, np.pi / 3 * (side + 1) + np.pi / 6
            c0 = ring * isd_m * np.array([np.cos(a0), np.sin(a0)])
            c1 = ring * isd_m * np.array([np.cos(a1), np.sin(a1)])
            sites += [c0 + (c1 - c0) * step / ring for step in range(ring)]
    site = np.array(sites)
    r_m, angle = rng.uniform(35.0, 450.0, (K, u)), rng.uniform(0.0, 2 * np.pi, (K, u))
    device = site[:, None, :] + np.stack([r_m * np.cos(angle), r_m * np.sin(angle)], axis=-1)
    distance_m = np.linalg.norm(device[:, :, None, :] - site[None, None, :, :], axis=-1)
    path_gain = 10 ** (-(128.1 + 37.6 * np.log10(distance_m / 1000.0)) / 10)
    active = np.ones((batch, K, u), dtype=bool)
    if u > 3:
        active = np.arange(u)[None, None, :] < rng.integers(2, u + 1, (batch, K, 1))
    gain = path_gain[None, :, :, None, :] * rng.exponential(1.0, (batch, K, u, S, K)) * active[..., None, None]
    queue = np.where(active, rng.poisson(1.5, (batch, K, u)), 0).astype(np.float32)
    return Reports(
        slot=0,
        gain=gain.astype(np.float32),
        queue_bits=queue * 5e5,
        queue_packets=queue,
        interference_w=np.zeros((batch, K, u, S), np.float32),
        spectral_efficiency_bps_hz=np.zeros((batch, K, u, S), np.float32),
        active=active,
        user_pos_m=np.zeros((batch, K, u, 3), np.float32),
        node_pos_m=np.zeros((batch, K, 3), np.float32),
    )


def may_follow(inr: np.ndarray, j: int, i: int, same_tx: np.ndarray, p: FairItlinqParams) -> bool:
    """Whether link ``j`` may switch on with link ``i`` already on (the Fair-ITLinQ test)."""
    snr_j = inr[j, j]
    received_ok = inr[j, i] <= p.c * snr_j**p.eta
    caused_max = p.c * snr_j**p.eta if snr_j <= p.snr_threshold_lin else p.c_bar * snr_j**p.eta_bar
    return bool(received_ok and inr[i, j] <= caused_max and not same_tx[i, j])


def reference_on(
    inr: np.ndarray, candidate: np.ndarray, order: np.ndarray, same_tx: np.ndarray, p: FairItlinqParams
) -> np.ndarray:
    """The greedy written out link by link."""
    on = np.zeros(candidate.shape, dtype=bool)
    for m in range(candidate.shape[0]):
        for j in order[m]:
            if candidate[m, j]:
                on[m, j] = all(may_follow(inr[m], int(j), int(i), same_tx, p) for i in np.flatnonzero(on[m]))
    return on


def same_tx(n_users: int) -> np.ndarray:
    return np.kron(np.eye(K, dtype=bool), np.ones((n_users, n_users), dtype=bool))


@pytest.mark.parametrize("layout", ["hex19", "random19"])
def test_vectorized_greedy_equals_the_definition(layout: str) -> None:
    params = AUTHORS_PARAMS[layout]
    for seed in range(8):
        rng = np.random.default_rng(seed)
        spec = multicell_spec(3 if layout == "hex19" else 5)
        reports = multicell_reports(rng, spec, batch=2)
        n = K * spec.n_users_max
        inr = link_gains(reports.gain).reshape(2 * S, n, n) * (P_MAX_W / NOISE_W)
        candidate = rng.random((2 * S, n)) < 0.6
        order = np.argsort(rng.random((2 * S, n)), axis=1)
        on = fair_itlinq_on(inr, candidate, order, same_tx(spec.n_users_max), params)
        np.testing.assert_array_equal(on, reference_on(inr, candidate, order, same_tx(spec.n_users_max), params))
        assert on.sum() > 2 * S  # more than one link per subband: the test is not vacuous


@pytest.mark.parametrize("scenario", ["hex19", "random19"])
def test_policy_on_set_meets_the_pairwise_conditions(scenario: str) -> None:
    spec = multicell_spec(3 if scenario == "hex19" else 5, scenario)
    u = spec.n_users_max
    policy = make_policy("fitlinq", spec, seed=3)
    assert policy.genie
    params = AUTHORS_PARAMS[scenario]
    tx = same_tx(u)
    for seed in range(4):
        reports = multicell_reports(np.random.default_rng(seed), spec, batch=2)
        controls = policy.decide(reports)
        inr = link_gains(reports.gain) * (P_MAX_W / NOISE_W)  # (B, S, N, N)
        backlogged = (reports.queue_packets > 0).reshape(2, K * u)
        for b in range(2):
            for s in range(S):
                served = np.flatnonzero(controls.user[b, :, s] >= 0)
                on = served * u + controls.user[b, served, s]
                assert np.all(backlogged[b, on])
                np.testing.assert_allclose(controls.power_w[b, served, s], P_MAX_W, rtol=1e-6)
                # every pair of on links passes the test in one of the two orders
                for i in on:
                    for j in on[on > i]:
                        assert may_follow(inr[b, s], j, i, tx, params) or may_follow(inr[b, s], i, j, tx, params)
                # every backlogged link left off fails the test against some link that is on
                for j in np.setdiff1d(np.flatnonzero(backlogged[b]), on):
                    assert not all(may_follow(inr[b, s], j, i, tx, params) for i in on)


def test_thresholds_decide_how_many_links_share_a_subband() -> None:
    rng = np.random.default_rng(5)
    reports = multicell_reports(rng, multicell_spec(), batch=1)
    backlogged_aps = (reports.queue_packets[0] > 0).any(axis=1).sum()
    loose = {"eta": 1.0, "eta_bar": 1.0, "c": 1e12, "c_bar": 1e12, "snr_threshold_lin": 1.0}
    strict = {"eta": 1.0, "eta_bar": 1.0, "c": 1e-12, "c_bar": 1e-12, "snr_threshold_lin": 1.0}
    everyone = make_policy("fitlinq", multicell_spec(static={"fitlinq": loose})).decide(reports)
    assert np.all((everyone.user[0] >= 0).sum(axis=0) == backlogged_aps)  # one device per backlogged AP
    alone = make_policy("fitlinq", multicell_spec(static={"fitlinq": strict})).decide(reports)
    assert np.all((alone.user[0] >= 0).sum(axis=0) == 1)  # only the first link of each subband


@pytest.mark.parametrize("name", ["hex19", "random19"])
def test_the_presets_publish_the_authors_parameters(name: str) -> None:
    from e2_sim.world import make_world

    spec = make_world(load_scenario(name)).spec
    assert fitlinq_params(spec) == AUTHORS_PARAMS[name]
    assert make_policy("fitlinq", spec).params == AUTHORS_PARAMS[name]  # type: ignore[attr-defined]


def test_parameters_come_from_the_world_spec() -> None:
    custom = {"eta": 0.6, "eta_bar": 0.4, "c": 5.0, "c_bar": 1.0, "snr_threshold_lin": 800.0}
    assert fitlinq_params(multicell_spec(scenario="my-layout", static={"fitlinq": custom})) == FairItlinqParams(
        **custom
    )
    # the scenario's name plays no part: only what the world publishes
    assert fitlinq_params(multicell_spec(scenario="hex19", static={"fitlinq": custom})).c == 5.0
    with pytest.raises(PolicyError, match="no Fair-ITLinQ parameters for scenario 'my-layout'"):
        make_policy("fitlinq", multicell_spec(scenario="my-layout", static={"layout": "hexagonal"}))
    with pytest.raises(PolicyError, match="must hold exactly the keys"):
        fitlinq_params(multicell_spec(static={"fitlinq": {"eta": 0.7}}))
    with pytest.raises(PolicyError, match="must be a positive number"):
        fitlinq_params(multicell_spec(static={"fitlinq": {**custom, "c": "ten"}}))


@pytest.mark.parametrize("batch", [1, 4])
def test_controls_have_the_world_shapes(batch: int) -> None:
    spec = multicell_spec(5, "random19")
    policy = make_policy("fitlinq", spec, seed=0)
    policy.reset(batch)
    reports = multicell_reports(np.random.default_rng(batch), spec, batch)
    controls = policy.decide(reports)
    assert controls.user.shape == controls.power_w.shape == controls.mask.shape == (batch, K, S)
    assert controls.move_m.shape == (batch, K, 3)
    on = controls.user >= 0
    b_idx, k_idx, _ = np.nonzero(on)
    assert np.all(reports.active[b_idx, k_idx, controls.user[on]])
    assert np.all(controls.power_w[~on] == 0.0)


def test_no_traffic_no_transmission() -> None:
    spec = multicell_spec()
    reports = multicell_reports(np.random.default_rng(0), spec, 2)
    reports.queue_packets[...] = 0.0
    controls = make_policy("fitlinq", spec).decide(reports)
    assert np.all(controls.user == -1)


def test_fitlinq_on_the_multicell_world() -> None:
    pytest.importorskip("e2_sim.world.multicell")
    from e2_sim.scenarios import ScenarioError, load_scenario
    from e2_sim.world import make_world

    for name in ("hex19", "random19"):
        try:
            scenario = load_scenario(name)
        except ScenarioError as exc:
            pytest.skip(f"{name} preset not available: {exc}")
        world = make_world(scenario, genie_csi=True)
        policy = make_policy("fitlinq", world.spec, seed=2)
        reports = world.reset([11])
        for _ in range(5):
            controls = policy.decide(reports)
            served = controls.user >= 0
            assert served.any()
            b_idx, k_idx, _ = np.nonzero(served)
            assert np.all(reports.queue_packets[b_idx, k_idx, controls.user[served]] > 0)
            reports, _ = world.step(controls)
