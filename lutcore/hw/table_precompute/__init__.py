"""Table precompute unit (DESIGN §2.1 symmetrized bit-serial tables, §2.2 ELUT tables)."""

from ...spec.table_plan import TablePlan, bitserial_plan, elut_plan
from .unit import TablePrecompute

__all__ = ["TablePrecompute", "TablePlan", "bitserial_plan", "elut_plan"]
