"""Floating-point gateware: :class:`FPAdder`, a pipelined IEEE 754 adder of a parameterised
binary format (FP16, BF16, FP32 by name through :data:`FORMATS`); :class:`FpMultiplier`, a
pipelined IEEE multiplier whose product is rounded once into a chosen format (exact for
FP16 into FP32); :class:`FpAccumulator`,
the FP contract's five interleaved partial sums kept by one such adder; and the finalize's
rounding helpers (:mod:`.rounding`: one rounding of an exact value, ``c * R``, halving)."""

from .accumulator import FpAccumulator
from .adder import FORMATS, FPAdder, operand_layout
from .multiplier import FpMultiplier

__all__ = ["FPAdder", "FpMultiplier", "FpAccumulator", "FORMATS", "operand_layout"]
