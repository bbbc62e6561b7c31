"""Amaranth gateware of the LUT tensor core kit (DESIGN §3); widths come from the
configuration (:mod:`lutcore.spec`), and nothing here imports :mod:`lutcore.sw`.

- :mod:`.table_precompute`: the table precompute unit (symmetrized bit-serial, ELUT tables);
- :mod:`.lut_core`: the LUT tensor core (m x n units, accumulators, finalize);
- :mod:`.top`: the accelerator top, built from small components (host interface, CSRs, read
  path, instruction controller) around the buffers and the two blocks;
- :mod:`.hostport`: the host port's signature and the devices behind it (scratchpad, clock
  domain crossing); :mod:`.memory`: on-chip buffers; :mod:`.layouts`: shared layouts;
- :mod:`.baselines`: MAC and adder cores for the area comparison;
- :mod:`.fp`: floating-point building blocks (a pipelined IEEE 754 adder, FP16/BF16/FP32);
- :mod:`.verilog`: the one Verilog entry (``lutcore verilog`` and the area study).
"""

from .layouts import Mode, TableGeometry
from .lut_core import LutCore
from .table_precompute import TablePrecompute

__all__ = ["Mode", "TableGeometry", "LutCore", "TablePrecompute"]
