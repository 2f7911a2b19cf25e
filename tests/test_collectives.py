"""Collectives between the GPUs of a box: measured curves by message size, and the ring fallback."""

from __future__ import annotations

import numpy as np
import pytest

from llmplan.catalog.kernels import Collective
from llmplan.core import collectives


def test_a_measured_curve_is_its_floor_plus_the_bytes_over_its_rate():
    # 10 us floor and 100 GB/s: a 1 MB message takes 10 + 10 = 20 us on 2 or more GPUs, nothing on one
    curve = Collective(10e-6, 100e9)
    got = collectives.seconds(curve, np.array([1e6, 1e6, 2e6]), np.array([2, 1, 8]))
    assert got == pytest.approx([20e-6, 0.0, 30e-6])


def test_no_curve_costs_nothing():
    assert float(collectives.seconds(None, 1e9, 8)) == 0.0


def test_ring_fallback_by_hand():
    # a ring all-reduce over n GPUs moves 2(n-1)/n of the message over each link: 4 GPUs, 8 MB over 64 GB/s
    # -> 2 x 3/4 x 8e6 / 64e9 = 187.5 us, plus PCIe's 25 us floor; NVLink's floor is 8 us; one GPU costs nothing
    assert float(collectives.ring_allreduce_seconds(8e6, 4, 64e9, "pcie")) == pytest.approx(187.5e-6 + 25e-6)
    assert float(collectives.ring_allreduce_seconds(8e6, 4, 64e9, "nvlink")) == pytest.approx(187.5e-6 + 8e-6)
    assert float(collectives.ring_allreduce_seconds(8e6, 4, 64e9, "ethernet")) == pytest.approx(187.5e-6 + 60e-6)
    assert float(collectives.ring_allreduce_seconds(8e6, 1, 64e9, "pcie")) == 0.0
    # an unknown link kind takes PCIe's floor
    assert float(collectives.ring_allreduce_seconds(8e6, 2, 64e9, "carrier-pigeon")) == pytest.approx(
        2 * 0.5 * 8e6 / 64e9 + 25e-6
    )
