"""The compute- and memory-bound figures, against the arithmetic done by hand."""

from __future__ import annotations

import pytest

from lutcore.models.report import bounds, default_clock_mhz
from lutcore.spec.config import preset


def test_bounds_by_hand():
    b = bounds(cycles_per_token=2_000_000, weight_bytes=500_000_000, clock_mhz=100,
               bandwidth_gbs=10)
    assert b.compute_tokens_per_s == pytest.approx(50.0)      # 100e6 / 2e6
    assert b.memory_tokens_per_s == pytest.approx(20.0)       # 10e9 / 5e8
    assert b.bound == "memory"
    assert "the memory bound holds" in b.lines()


def test_default_clock_is_the_board_clock_of_the_preset():
    assert default_clock_mhz(preset("tiny"))[0] == 12.0
    assert default_clock_mhz(preset("default"))[0] == 60.0
    assert default_clock_mhz(preset("decode")) == (80.0, "ulx3s build clock")
    assert default_clock_mhz(preset("large")) == (1000.0, "nominal standard-cell clock")
