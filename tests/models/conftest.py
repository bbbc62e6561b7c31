"""Model tests: the RTL ones use the shared ``model_of`` fixture."""

from rtlmodels import model_of  # noqa: F401  (a fixture)
