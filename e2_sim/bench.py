"""Raw stepping speed of a world: slots per second with a fixed, cheap control.

The control is built once from the spec and the first reports and never changes, so the
measurement is the world alone (channel, interference, rates, queues, KPI accounting, reports):
on resource ``s`` every node serves its active user slot number ``s mod n_active`` at its
maximum power, with a full mask and no moves. It only relies on the generic world contract, so
it runs for every world kind.

Example: ``python -m e2_sim.bench hex19 --slots 2000 --batch 64``.
"""

from __future__ import annotations

import argparse
import json
import time

import numpy as np

from e2_sim.scenarios import load_scenario
from e2_sim.world import make_world
from ric.protocol import Controls, Reports, WorldSpec


def fixed_control(spec: WorldSpec, reports: Reports) -> Controls:
    """Resource ``s`` of node ``k`` → the ``(s mod n)``-th active user of ``k`` at max power (B, K, S)."""
    batch, n_nodes, n_resources = reports.batch, spec.n_nodes, spec.n_resources
    controls = Controls.off(batch, n_nodes, n_resources)
    active = np.asarray(reports.active, dtype=bool)  # (B, K, U)
    n_active = active.sum(axis=-1, keepdims=True)  # (B, K, 1)
    wanted = np.arange(n_resources)[None, None, :] % np.maximum(n_active, 1)  # (B, K, S)
    # user slot of the wanted-th active user: rank of every active slot, then look it up
    rank = np.cumsum(active, axis=-1) - 1  # (B, K, U)
    hit = active[:, :, None, :] & (rank[:, :, None, :] == wanted[..., None])  # (B, K, S, U)
    user = np.where(n_active > 0, hit.argmax(axis=-1), -1)
    max_power_w = 10.0 ** ((np.array([node.max_power_dbm for node in spec.nodes]) - 30.0) / 10.0)
    controls.user[...] = user
    controls.power_w[...] = np.where(user >= 0, max_power_w[None, :, None], 0.0)
    return controls


def bench_world(scenario_name: str, slots: int, batch: int, seed: int = 0) -> dict[str, float | int | str]:
    """Step ``batch`` worlds of ``scenario_name`` for ``slots`` slots with `fixed_control`.

    Parameters
    ----------
    scenario_name : str
        Preset name or scenario file.
    slots : int
        Slots to time (after reset) [slots].
    batch : int
        Worlds stepped together ``B``.
    seed : int
        Seed of world 0; world ``b`` gets ``seed + b``.

    Returns
    -------
    dict
        ``scenario``, ``batch``, ``slots``, ``wall_s`` (time of the stepping loop [s]), ``cpu_s``
        (processor time of this process over the loop [s]; on a shared machine it leaves out the
        time other processes held the core), ``slots_per_s`` (batched steps per second, wall
        time) and ``world_slots_per_s`` (= batch × slots/s).
    """
    if slots <= 0 or batch <= 0:
        raise ValueError(f"slots and batch must be > 0, got slots={slots}, batch={batch}")
    scenario = load_scenario(scenario_name)
    world = make_world(scenario)
    reports = world.reset([seed + b for b in range(batch)])
    controls = fixed_control(world.spec, reports)
    step = world.step
    start, start_cpu = time.perf_counter(), time.process_time()
    for _ in range(slots):
        step(controls)
    wall_s = time.perf_counter() - start
    cpu_s = time.process_time() - start_cpu
    return {
        "scenario": scenario.name,
        "batch": batch,
        "slots": slots,
        "wall_s": wall_s,
        "cpu_s": cpu_s,
        "slots_per_s": slots / wall_s,
        "world_slots_per_s": batch * slots / wall_s,
    }


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description="Time a world's step() with a fixed control.")
    parser.add_argument("scenario", help="preset name or scenario file")
    parser.add_argument("--slots", type=int, default=2000, help="slots to time")
    parser.add_argument("--batch", type=int, default=1, help="worlds stepped together")
    parser.add_argument("--seed", type=int, default=0, help="seed of world 0")
    parser.add_argument("--repeat", type=int, default=3, help="runs; the median is printed")
    args = parser.parse_args(argv)
    runs = [bench_world(args.scenario, args.slots, args.batch, args.seed) for _ in range(args.repeat)]
    median = sorted(runs, key=lambda r: float(r["wall_s"]))[len(runs) // 2]
    print(json.dumps({**median, "runs_wall_s": [r["wall_s"] for r in runs]}))


if __name__ == "__main__":
    main()
