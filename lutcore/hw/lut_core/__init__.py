"""LUT tensor cores: m x n LUT units, output-stationary accumulators, finalize: the integer
core (DESIGN §2) and the floating-point one (:class:`FpLutCore`, the FP contract of
docs/architecture.md, "Floating-point activations")."""

from .core import ELUT_SHIFT, LutCore
from .fp_core import FpLutCore

__all__ = ["LutCore", "FpLutCore", "ELUT_SHIFT"]
