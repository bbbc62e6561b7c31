"""Amaranth gateware of the LUT tensor core kit (DESIGN §3): the table precompute unit, the
LUT core, their shared layouts, and Verilog generation (:mod:`lutcore.hw.verilog`)."""

from .layouts import Mode, TableGeometry
from .lut_core import LutCore
from .table_precompute import TablePrecompute

__all__ = ["Mode", "TableGeometry", "LutCore", "TablePrecompute"]
