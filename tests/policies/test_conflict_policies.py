"""GMS, Q-CSMA (and the generic LLQ) on the 8-device conflict graph: conflict-free schedules
every slot, GMS maximality, and Q-CSMA's product-form schedule distribution."""

from __future__ import annotations

import itertools
from collections.abc import Iterator

import numpy as np
import pytest

from ric.protocol import Controls, NodeSpec, Reports, WorldSpec
from xapps.policies import PolicyError, make_policy
from xapps.policies.conflict import conflict_matrix

K, U, S = 4, 2, 3
N = K * U
BOTH_WAYS = [(0, 1), (2, 3), (4, 5), (6, 7), (1, 2), (3, 4), (5, 6), (7, 0)]
ONE_WAY = [(1, 7), (7, 5), (5, 3), (3, 1), (0, 2), (2, 4), (4, 6), (6, 0)]
EDGES = [list(e) for e in BOTH_WAYS] + [[b, a] for a, b in BOTH_WAYS] + [list(e) for e in ONE_WAY]
BREAKS = np.zeros((N, N), dtype=bool)  # BREAKS[i, j]: i transmitting breaks j on the same subband
BREAKS[tuple(np.array(EDGES).T)] = True
SLOTS = 300
# Q-CSMA stationary law: total-variation distance allowed between the empirical schedule
# frequencies (64 worlds x 3 subbands, 600 slots after 300 of burn-in: correlated Markov-chain
# samples, observed 0.03-0.045 over seeds) and the product form. Fugacities q instead of 10q,
# or equal fugacities, sit at distance 0.26-0.28.
TV_TOLERANCE = 0.06
QCSMA_BURN_IN_SLOTS = 300
QCSMA_SAMPLE_SLOTS = 600


def conflict_spec(static: dict | None = None) -> WorldSpec:
    nodes = tuple(
        NodeSpec(node_id=i, name=f"bs_{i}", kind="gnb", n_users=U, n_resources=S, max_power_dbm=0.0) for i in range(K)
    )
    default = {"conflict_edges": EDGES, "neighbours": [[1, 3], [0, 2], [1, 3], [2, 0]]}
    return WorldSpec("conflict8", "conflict", 1.0, U, S, 1.0, -100.0, nodes, default if static is None else static)


def reports_for(queue_packets: np.ndarray) -> Reports:
    b = queue_packets.shape[0]
    q = queue_packets.reshape(b, K, U).astype(np.float32)
    return Reports(
        slot=0, gain=np.zeros((b, K, U, S, K), np.float32), queue_bits=q, queue_packets=q,
        interference_w=np.zeros((b, K, U, S), np.float32),
        spectral_efficiency_bps_hz=np.zeros((b, K, U, S), np.float32),
        active=np.ones((b, K, U), dtype=bool), user_pos_m=np.zeros((b, K, U, 3), np.float32),
        node_pos_m=np.zeros((b, K, 3), np.float32),
    )


def scheduled_links(controls: Controls) -> np.ndarray:
    """(B, S, N) bool: device ``k * U + u`` scheduled on subband ``s``."""
    b = controls.user.shape[0]
    on = np.zeros((b, S, K, U), dtype=bool)
    bb, kk, ss = np.nonzero(controls.user >= 0)
    on[bb, ss, kk, controls.user[bb, kk, ss]] = True
    return on.reshape(b, S, N)


def run(policy_name: str, batch: int, arrival_rate: float, seed: int = 0) -> Iterator[tuple[np.ndarray, np.ndarray]]:
    """Drive a policy on the conflict graph; yield (queue before service (B, N), schedule (B, S, N))."""
    policy = make_policy(policy_name, conflict_spec(), seed=seed)
    policy.reset(batch)
    rng = np.random.default_rng(seed + 1000)
    queue = rng.poisson(arrival_rate, (batch, N)).astype(np.float64)
    for _ in range(SLOTS):
        controls = policy.decide(reports_for(queue))
        on = scheduled_links(controls)
        yield queue.copy(), on
        broken = np.einsum("bsi,ij->bsj", on.astype(int), BREAKS.astype(int)) > 0
        queue = np.maximum(queue - (on & ~broken).sum(axis=1), 0.0) + rng.poisson(arrival_rate, (batch, N))


@pytest.mark.parametrize("name", ["gms", "gms-ordered", "qcsma", "llq"])
def test_schedules_are_conflict_free_on_every_slot(name: str) -> None:
    conflict = conflict_matrix(conflict_spec())
    served_slots = 0
    for queue, on in run(name, batch=4, arrival_rate=0.4):
        assert not np.any(on & (queue[:, None, :] == 0)), "an empty queue was scheduled"
        pairs = on[..., :, None] & on[..., None, :] & conflict
        assert not pairs.any(), "two conflicting links scheduled on one subband"
        served_slots += int(on.any())
    assert served_slots > SLOTS // 2


def test_gms_is_maximal_longest_queue_first_and_equal_on_all_subbands() -> None:
    conflict = conflict_matrix(conflict_spec())
    for queue, on in run("gms", batch=4, arrival_rate=0.5, seed=3):
        assert np.all(on == on[:, :1, :])
        scheduled = on[:, 0, :]
        blocked = (scheduled[:, None, :] & conflict[None]).any(axis=2)  # conflicts with a scheduled link
        assert np.all(scheduled | blocked | (queue == 0)), "a non-empty link could have been added"
        longest = queue.max(axis=1, keepdims=True)
        unique = ((queue == longest).sum(axis=1) == 1) & (longest[:, 0] > 0)
        assert np.all(scheduled[unique, np.argmax(queue[unique], axis=1)])


def test_gms_ordered_breaks_ties_by_device_index_and_is_deterministic() -> None:
    spec = conflict_spec()
    queue = np.array([[3, 3, 0, 0, 3, 0, 0, 3]], dtype=np.float64)  # devices 0, 1, 4, 7 tie
    decisions = [scheduled_links(make_policy("gms-ordered", spec, seed=seed).decide(reports_for(queue)))[0, 0]
                 for seed in range(5)]
    assert all(np.array_equal(d, decisions[0]) for d in decisions)
    # device 0 first; it excludes 1 and 7 (conflicts) and 2 (0 -> 2); then device 4
    assert np.flatnonzero(decisions[0]).tolist() == [0, 4]
    random_picks = {tuple(np.flatnonzero(scheduled_links(make_policy("gms", spec, seed=seed)
                                                            .decide(reports_for(queue)))[0, 0]))
                    for seed in range(20)}
    assert len(random_picks) > 1  # plain GMS breaks the same tie differently across seeds


def independent_sets(conflict: np.ndarray) -> list[tuple[int, ...]]:
    sets = []
    for r in range(N + 1):
        for subset in itertools.combinations(range(N), r):
            if not conflict[np.ix_(subset, subset)].any():
                sets.append(subset)
    return sets


def test_qcsma_schedules_follow_the_product_form() -> None:
    # With frozen queues Q-CSMA is a reversible Markov chain on independent sets with
    # P(x) proportional to prod_{i in x} 10 q_i (Ni, Tan, Srikant 2011, Prop. 1).
    conflict = conflict_matrix(conflict_spec())
    queue = np.array([1.0, 2.0, 1.0, 3.0, 1.0, 1.0, 2.0, 1.0])
    sets = independent_sets(conflict)
    law = np.array([np.prod(10.0 * queue[list(x)]) for x in sets])
    law /= law.sum()
    codes = np.array([sum(1 << i for i in x) for x in sets])
    policy = make_policy("qcsma", conflict_spec(), seed=7)
    batch = 64
    policy.reset(batch)
    reports = reports_for(np.broadcast_to(queue, (batch, N)))
    counts = np.zeros(1 << N)
    for slot in range(QCSMA_BURN_IN_SLOTS + QCSMA_SAMPLE_SLOTS):
        on = scheduled_links(policy.decide(reports))
        if slot >= QCSMA_BURN_IN_SLOTS:
            counts += np.bincount(on.reshape(-1, N) @ (1 << np.arange(N)), minlength=1 << N)
    assert counts[codes].sum() == counts.sum()  # only independent sets ever appear
    counts = counts[codes]
    empirical = counts / counts.sum()
    assert 0.5 * np.abs(empirical - law).sum() <= TV_TOLERANCE


@pytest.mark.parametrize("name", ["gms", "qcsma", "llq"])
@pytest.mark.parametrize("batch", [1, 4])
def test_controls_have_the_world_shapes(name: str, batch: int) -> None:
    policy = make_policy(name, conflict_spec(), seed=1)
    policy.reset(batch)
    queue = np.random.default_rng(batch).poisson(1.0, (batch, N)).astype(np.float64)
    controls = policy.decide(reports_for(queue))
    assert controls.user.shape == controls.power_w.shape == controls.mask.shape == (batch, K, S)
    assert controls.user.dtype == np.int16
    assert np.all((controls.user >= -1) & (controls.user < U))
    assert np.all((controls.power_w > 0) == (controls.user >= 0))


def test_conflict_matrix_and_bad_static() -> None:
    conflict = conflict_matrix(conflict_spec())
    assert np.array_equal(conflict, conflict.T) and not conflict.diagonal().any()
    assert conflict[1, 7] and conflict[7, 1] and conflict[0, 1] and not conflict[0, 4]
    with pytest.raises(PolicyError, match="publishes no"):
        make_policy("gms", conflict_spec(static={}))
    with pytest.raises(PolicyError, match=r"outside 0\.\.7"):
        make_policy("qcsma", conflict_spec(static={"conflict_edges": [[0, 8]]}))
    multicell = WorldSpec("hex19", "multicell", 0.02, U, S, 1.0, -100.0, conflict_spec().nodes)
    with pytest.raises(PolicyError, match="does not support 'multicell'"):
        make_policy("gms", multicell)


@pytest.mark.parametrize("name", ["gms", "qcsma", "llq"])
def test_on_the_conflict_world(name: str) -> None:
    pytest.importorskip("e2_sim.world.conflict")
    from e2_sim.scenarios import ScenarioError, load_scenario
    from e2_sim.world import make_world

    try:
        scenario = load_scenario("conflict8")
    except ScenarioError as exc:
        pytest.skip(f"conflict8 preset not available: {exc}")
    world = make_world(scenario)
    conflict = conflict_matrix(world.spec)
    policy = make_policy(name, world.spec, seed=4)
    policy.reset(2)
    reports = world.reset([1, 2])
    for _ in range(200):
        controls = policy.decide(reports)
        on = scheduled_links(controls)
        queue = reports.queue_packets.reshape(2, -1)
        assert not np.any(on & (queue[:, None, :] == 0))
        assert not (on[..., :, None] & on[..., None, :] & conflict).any()
        reports, _ = world.step(controls)
