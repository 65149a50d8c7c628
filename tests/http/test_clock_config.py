from __future__ import annotations

import pytest

from anibridge.http import SYSTEM_CLOCK, ScaledClock, clock_from_config


def test_clock_from_config_prefers_an_explicit_clock():
    clock = ScaledClock(0.5)
    assert clock_from_config({"clock": clock, "time_scale": 2}) is clock


def test_clock_from_config_builds_a_scaled_clock():
    clock = clock_from_config({"time_scale": 0.01})
    assert isinstance(clock, ScaledClock) and clock.scale == 0.01


def test_clock_from_config_defaults_to_real_time():
    assert clock_from_config({}) is SYSTEM_CLOCK


@pytest.mark.parametrize(
    "config", [{"clock": object()}, {"time_scale": "fast"}, {"time_scale": 0}]
)
def test_clock_from_config_refuses_nonsense(config):
    with pytest.raises(ValueError):
        clock_from_config(config)
