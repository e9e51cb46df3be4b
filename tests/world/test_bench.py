"""The world benchmark: its fixed control and the numbers it reports."""

from __future__ import annotations

import numpy as np
import pytest

from e2_sim.bench import bench_world, fixed_control
from e2_sim.scenarios import load_scenario
from e2_sim.world import make_world


def test_fixed_control_serves_every_resource_with_an_own_device_at_full_power() -> None:
    world = make_world(load_scenario("random19"))
    reports = world.reset([0, 1])
    controls = fixed_control(world.spec, reports)
    n_users = np.array([node.n_users for node in world.spec.nodes])
    s = np.arange(world.spec.n_resources)
    # resource s of node k → its (s mod n_k)-th device, which is an active slot of k
    np.testing.assert_array_equal(controls.user, np.broadcast_to(s[None, :] % n_users[:, None], controls.user.shape))
    b_idx, k_idx, s_idx = np.nonzero(controls.user >= 0)
    assert np.all(reports.active[b_idx, k_idx, controls.user[b_idx, k_idx, s_idx]])
    np.testing.assert_allclose(controls.power_w, 10 ** ((23.0 - 30.0) / 10.0), rtol=1e-6)


def test_bench_reports_rates_of_the_timed_loop() -> None:
    result = bench_world("hex19", slots=20, batch=3, seed=4)
    assert result["scenario"] == "hex19" and result["batch"] == 3 and result["slots"] == 20
    wall_s, cpu_s = float(result["wall_s"]), float(result["cpu_s"])
    assert wall_s > 0.0 and cpu_s >= 0.0
    assert float(result["slots_per_s"]) == pytest.approx(20 / wall_s)
    assert float(result["world_slots_per_s"]) == pytest.approx(3 * 20 / wall_s)
    with pytest.raises(ValueError, match="slots and batch"):
        bench_world("hex19", slots=0, batch=1)
