"""RTL tests: shared helpers and the regression summary table.

Every model is built once per configuration in the per-user cache (``lutcore.sim.runner``) and
shared by the tests and the xdist workers. Tests record their GEMMs with
``record_property("rtl_run", row)`` and model builds with ``record_property("rtl_build",
(name, seconds))``; ``tests/conftest.py`` prints the summary table of them (``make regress``).
"""

from __future__ import annotations

import pytest

from lutcore.sim.runner import top_model


@pytest.fixture
def model_of(record_property):
    """``model_of(config)``: the accelerator model (built on first use; the build time is
    recorded for the summary)."""
    def get(config):
        model = top_model(config)
        if model.rebuilt:
            record_property("rtl_build", (config.name, round(model.build_seconds, 1)))
        return model
    return get
