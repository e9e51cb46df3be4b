"""Gauss–Markov fading: the table sampler, the AR(1) statistics, batching and the Rician variant."""

from __future__ import annotations

import math
from typing import Any

import numpy as np
import pytest
from scipy import stats
from scipy.special import j0

from e2_sim.channel.fading import (
    MAGNITUDE_BITS,
    TABLE_SIZE,
    GaussMarkovRayleigh,
    GaussMarkovRician,
    complex_gaussian_table,
    gauss_markov_rho,
)

# Links simulated at once for the statistical checks (independent processes).
N_LINKS = 40_000
# Relative tolerance on a mean power estimated from N_LINKS exponential samples (≈ 6 standard errors).
POWER_REL_TOL = 6.0 / math.sqrt(N_LINKS)
# Absolute tolerance on a lag-one correlation estimated from N_LINKS pairs.
RHO_ABS_TOL = 0.02
# Kolmogorov–Smirnov: reject the exponential law of |h|² only below this p-value.
KS_ALPHA = 1e-3
# Exactness of the table's moments (float32 rounding).
TABLE_TOL = 1e-5
# The table's magnitude levels are bin means: E|e|⁴ falls short of 2 by the within-bin variance,
# about 1/1024 here.
FOURTH_MOMENT_TOL = 4.0 / (1 << MAGNITUDE_BITS)

RHO = gauss_markov_rho(10.0, 0.02)
POWER = 4.0 / math.pi


def _rngs(seeds: list[int]) -> list[np.random.Generator]:
    return [np.random.default_rng(s) for s in seeds]


def test_rho_is_jakes_at_the_slot_period() -> None:
    rho = gauss_markov_rho(10.0, 0.02)
    assert rho == pytest.approx(float(j0(2.0 * math.pi * 10.0 * 0.02)))
    assert rho == pytest.approx(0.6425, abs=5e-5)


def test_table_is_a_unit_power_circular_gaussian() -> None:
    table = complex_gaussian_table().astype(np.complex128)
    assert table.shape == (TABLE_SIZE,) and TABLE_SIZE == 8192
    assert np.mean(np.abs(table) ** 2) == pytest.approx(1.0, abs=TABLE_TOL)
    assert abs(np.mean(table)) < TABLE_TOL
    assert abs(np.mean(table**2)) < TABLE_TOL  # circular: Re and Im uncorrelated, equal variance
    assert np.var(table.real) == pytest.approx(0.5, abs=TABLE_TOL)
    # fourth moments of a circular Gaussian: E|e|⁴ = 2, E[Re⁴] = 3/4
    assert np.mean(np.abs(table) ** 4) == pytest.approx(2.0, abs=FOURTH_MOMENT_TOL)
    assert np.mean(table.real**4) == pytest.approx(0.75, abs=FOURTH_MOMENT_TOL)
    # |e|² follows Exp(1) up to the table's resolution; the last level is the tail's mean
    assert stats.kstest(np.abs(table) ** 2, "expon").statistic < 1e-3
    assert np.max(np.abs(table) ** 2) == pytest.approx(1.0 + math.log(1 << MAGNITUDE_BITS), rel=1e-6)


def test_stationary_power_autocorrelation_and_exponential_law() -> None:
    fading = GaussMarkovRayleigh((N_LINKS,), RHO, POWER)
    fading.reset(_rngs([11]))
    for _ in range(5):
        fading.step()
    before = fading.h[0].astype(np.complex128)
    power = fading.step()[0].astype(np.float64)
    after = fading.h[0].astype(np.complex128)

    assert power.mean() == pytest.approx(POWER, rel=POWER_REL_TOL)
    np.testing.assert_allclose(power, np.abs(after) ** 2, rtol=1e-5)
    lag1 = np.real(np.vdot(before, after)) / math.sqrt(np.vdot(before, before).real * np.vdot(after, after).real)
    assert lag1 == pytest.approx(RHO, abs=RHO_ABS_TOL)
    assert stats.kstest(power / POWER, "expon").pvalue > KS_ALPHA


def test_initial_state_is_stationary() -> None:
    fading = GaussMarkovRayleigh((N_LINKS,), RHO, 2.0)
    power = fading.reset(_rngs([3]))[0].astype(np.float64)
    assert power.mean() == pytest.approx(2.0, rel=POWER_REL_TOL)
    assert stats.kstest(power / 2.0, "expon").pvalue > KS_ALPHA


def test_world_b_of_a_batch_draws_what_a_single_world_draws() -> None:
    batched = GaussMarkovRayleigh((4, 3, 5), RHO, POWER)
    single = GaussMarkovRayleigh((4, 3, 5), RHO, POWER)
    np.testing.assert_array_equal(batched.reset(_rngs([5, 6, 7]))[1], single.reset(_rngs([6]))[0])
    for _ in range(10):
        np.testing.assert_array_equal(batched.step()[1], single.step()[0])
    np.testing.assert_array_equal(batched.h[1], single.h[0])


def test_power_buffer_is_reused_and_shape_is_kept() -> None:
    fading = GaussMarkovRayleigh((2, 3), RHO)
    first = fading.reset(_rngs([1, 2]))
    assert first.shape == (2, 2, 3) and first.dtype == np.float32
    second = fading.step()
    assert second is first  # documented: the same buffer every slot


@pytest.mark.parametrize("rho", [-0.1, 1.0, 1.5])
def test_rho_out_of_range_is_refused(rho: float) -> None:
    with pytest.raises(ValueError, match="rho must be in"):
        GaussMarkovRayleigh((3,), rho)


def test_rician_unit_power_and_los_share() -> None:
    k_db = 10.0
    k_lin = 10.0 ** (k_db / 10.0)
    fading = GaussMarkovRician((N_LINKS,), RHO, k_db)
    power = fading.reset(_rngs([9]))[0].astype(np.float64)
    for _ in range(3):
        power = fading.step()[0].astype(np.float64)
    assert power.mean() == pytest.approx(1.0, rel=POWER_REL_TOL)
    # Var|h|² of a Rician channel with E|h|² = 1: (1 + 2K) / (1 + K)²
    assert power.var() == pytest.approx((1.0 + 2.0 * k_lin) / (1.0 + k_lin) ** 2, rel=0.05)


def test_rician_k_per_link_broadcasts() -> None:
    fading = GaussMarkovRician((2, 50_000), RHO, np.array([[30.0], [-30.0]]))
    power = fading.reset(_rngs([4]))[0].astype(np.float64)
    assert power[0].std() < 0.1  # almost pure line of sight: |h|² ≈ 1
    assert power[1].std() == pytest.approx(1.0, rel=0.05)  # almost Rayleigh: exponential, std = mean


@pytest.mark.parametrize("cls", [GaussMarkovRayleigh, GaussMarkovRician])
def test_power_block_is_the_same_as_stepping(cls: type[GaussMarkovRayleigh], monkeypatch: pytest.MonkeyPatch) -> None:
    """Blocks of slots, chunks of worlds and a scale give exactly what `step` gives, world by world."""
    import e2_sim.channel.fading as fading

    shape = (4, 3, 5)
    arg: Any = POWER if cls is GaussMarkovRayleigh else np.linspace(-5.0, 10.0, 5)
    scale = np.random.default_rng(0).uniform(0.5, 2.0, size=shape).astype(np.float32)
    stepped = cls(shape, RHO, arg)
    stepped.reset(_rngs([5, 6, 7]))
    expected = [stepped.step().copy() for _ in range(12)]
    for chunk in (1 << 16, 2 * 60):  # all worlds at once; two worlds per chunk
        monkeypatch.setattr(fading, "_CHUNK_COEFFICIENTS", chunk)
        blocked = cls(shape, RHO, arg)
        blocked.reset(_rngs([5, 6, 7]))
        got = [blocked.power_block(5), blocked.power_block(1), blocked.power_block(6, scale)]
        slots = np.concatenate(got)
        assert slots.shape == (12, 3, *shape) and slots.dtype == np.float32
        np.testing.assert_array_equal(slots[:6], np.stack(expected[:6]))
        np.testing.assert_array_equal(slots[6:], np.stack(expected[6:]) * scale)
        np.testing.assert_array_equal(blocked.h, stepped.h)


def test_power_block_after_step_uses_the_innovations_drawn_ahead() -> None:
    single = GaussMarkovRayleigh((7,), RHO, POWER)
    mixed = GaussMarkovRayleigh((7,), RHO, POWER)
    single.reset(_rngs([3]))
    mixed.reset(_rngs([3]))
    expected = np.stack([single.step().copy() for _ in range(40)])
    first = mixed.step().copy()  # draws a block of slots ahead
    assert mixed.block_slots >= 1
    rest = mixed.power_block(39)
    np.testing.assert_array_equal(np.concatenate([first[None], rest]), expected)
