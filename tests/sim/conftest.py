"""RTL tests: shared helpers and the regression summary table.

Every model is built once per configuration in the per-user cache (``lutcore.sim.runner``) and
shared by the tests and the xdist workers. Tests record their GEMMs with
``record_property("rtl_run", row)`` and model builds with ``record_property("rtl_build",
(name, seconds))``; ``tests/conftest.py`` prints the summary table of them (``make regress``).
"""

from rtlmodels import model_of  # noqa: F401  (a fixture)
