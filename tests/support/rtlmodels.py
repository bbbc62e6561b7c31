"""The ``model_of`` fixture of the RTL tests: the Verilator model of a configuration, built
once in the per-user cache (``lutcore.sim.runner``), its build time recorded for the
regression summary (``record_property("rtl_build", (name, seconds))``)."""

from __future__ import annotations

import pytest

from lutcore.sim.runner import top_model


@pytest.fixture
def model_of(record_property):
    """``model_of(config)``: the accelerator model (built on first use)."""
    def get(config):
        model = top_model(config)
        if model.rebuilt:
            record_property("rtl_build", (config.name, round(model.build_seconds, 1)))
        return model
    return get
