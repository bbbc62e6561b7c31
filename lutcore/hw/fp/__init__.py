"""Floating-point gateware: :class:`FPAdder`, a pipelined IEEE 754 adder of a parameterised
binary format (FP16, BF16, FP32 by name through :data:`FORMATS`)."""

from .adder import FORMATS, FPAdder, operand_layout

__all__ = ["FPAdder", "FORMATS", "operand_layout"]
