"""Ising measurements and Onsager's exact results on known answers."""

import math

import numpy as np
import pytest

from gensci.ops.ising import CRITICAL_TEMPERATURE, energy, magnetisation, neighbour_table, onsager_energy, onsager_magnetisation


def test_configurations_with_known_energy_and_magnetisation():
    up = np.ones((4, 4))
    checker = np.indices((4, 4)).sum(0) % 2 * 2 - 1.0
    stripes = np.repeat([[1.0], [-1.0]], 2, axis=0).repeat(4, axis=1)  # rows + + - - : horizontal bonds all equal
    assert energy(up) == -2 and magnetisation(up) == 1
    assert energy(checker) == 2 and magnetisation(checker) == 0
    assert energy(stripes) == pytest.approx(-1.0)  # horizontal: -1 per spin; vertical: half +1, half -1
    assert energy(np.stack([up, checker])).tolist() == [-2.0, 2.0]


def test_onsager_limits_and_critical_point():
    assert CRITICAL_TEMPERATURE == pytest.approx(2.269185, abs=1e-6)  # 2 / ln(1 + sqrt 2)
    assert onsager_energy(CRITICAL_TEMPERATURE) == pytest.approx(-math.sqrt(2), abs=1e-9)  # u(T_c) = -sqrt 2
    assert onsager_energy(0.3) == pytest.approx(-2.0, abs=1e-6)
    # high-temperature expansion: ln Z / N = ln 2 + 2 ln cosh b + t^4 + 2 t^6 + O(t^8), t = tanh b (closed loops:
    # one plaquette per site, two 1x2 rectangles), so u = -d(ln Z / N)/db = -2t - (4 t^3 + 12 t^5)(1 - t^2) + O(t^7)
    t = math.tanh(1 / 20)
    assert onsager_energy(20.0) == pytest.approx(-2 * t - (4 * t**3 + 12 * t**5) * (1 - t**2), abs=1e-7)
    assert onsager_magnetisation(0.3) == pytest.approx(1.0, abs=1e-9)
    assert onsager_magnetisation(CRITICAL_TEMPERATURE + 1e-9) == 0 and onsager_magnetisation(3.0) == 0
    assert 0 < onsager_magnetisation(CRITICAL_TEMPERATURE - 1e-3) < 0.5  # continuous (exponent 1/8) at T_c
    m = onsager_magnetisation(2.0)
    assert m**8 == pytest.approx(1 - math.sinh(1.0) ** -4)


def test_energy_is_monotone_in_temperature():
    t = np.linspace(0.5, 5, 200)
    assert np.all(np.diff(onsager_energy(t)) > 0)


def test_neighbour_table_is_periodic():
    table = neighbour_table(3)
    assert table[0].tolist() == [1, 2, 3, 6]  # right, left, down, up of site (0, 0)
    assert sorted(np.bincount(table.ravel())) == [4] * 9
