"""LUT tensor core: m x n LUT units, output-stationary accumulators, finalize (DESIGN §2)."""

from .core import ELUT_SHIFT, LutCore

__all__ = ["LutCore", "ELUT_SHIFT"]
