"""Table precompute units: the integer one (DESIGN §2.1 symmetrized bit-serial tables, §2.2
ELUT tables) and the floating-point one (:class:`FpTablePrecompute`, the FP contract of
docs/architecture.md, "Floating-point activations"). Both build every table by the adder
plans of :mod:`lutcore.spec.table_plan`."""

from ...spec.table_plan import TablePlan, bitserial_plan, elut_plan
from .fp_unit import FpTablePrecompute
from .unit import TablePrecompute

__all__ = ["TablePrecompute", "FpTablePrecompute", "TablePlan", "bitserial_plan", "elut_plan"]
