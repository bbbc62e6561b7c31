"""What flows between the accelerator's parts: the read-source enum, the layout of a decoded
host read, and the signatures of the CSR read, run-control and operand connections. Every
width comes from the :class:`~lutcore.spec.config.CoreConfig`."""

from __future__ import annotations

from amaranth.hdl import Value
from amaranth.lib import data, enum, wiring
from amaranth.lib.wiring import In, Out

from ...spec import isa
from ...spec.config import CoreConfig
from ...spec.isa import Csr, ErrorCode, Region

__all__ = ["ReadSource", "READ_REGIONS", "region_sub_bits", "HostReadLayout",
           "ControlSignature", "CsrReadSignature", "RunSignature", "OperandSignature",
           "equals"]


class ReadSource(enum.Enum, shape=3):
    """Where a host read's response comes from (ZERO: an unmapped or write-only address)."""
    ZERO = 0
    CSR = 1
    ACT = 2
    TABLE = 3
    WEIGHT = 4
    OUT = 5


#: The buffer regions a host may read, and the read source of each.
READ_REGIONS = {Region.ACT: ReadSource.ACT, Region.TABLE: ReadSource.TABLE,
                Region.WEIGHT: ReadSource.WEIGHT, Region.OUTPUT: ReadSource.OUT}


def region_sub_bits(region: Region, config: CoreConfig) -> int:
    """Address bits of the sub-word index of a word of ``region``."""
    return isa.sub_bits(isa.region_word_bits(region, config), config.host_bits)


def equals(value, k: int):
    """``value == k``, written for zero as a NOR reduction (the Verilog backend would turn
    ``x == 0`` into a logical not of a vector, which Verilator -Wall flags)."""
    value = Value.cast(value)
    return ~value.any() if k == 0 else value == k


class HostReadLayout(data.StructLayout):
    """One decoded host read: its ``source``, the ``sub``-word of the region's word (for the
    output buffer its low bits are the sub-word in the beat), the ``csr`` offset and the word
    address in each readable buffer (``out`` counts output beats)."""

    def __init__(self, config: CoreConfig):
        sub = max(1, max(region_sub_bits(r, config) for r in READ_REGIONS))
        super().__init__({
            "source": ReadSource,
            "sub": sub,
            "csr": range(len(Csr)),
            "act": range(config.act_depth),
            "table": range(config.table_depth),
            "weight": range(config.weight_depth),
            "out": range(config.out_depth * config.out_beats),
        })


class ControlSignature(wiring.Signature):
    """Host interface to CSRs: ``start`` and ``clear`` (one-cycle CTRL write pulses; start
    only while idle) and this cycle's host ``fault`` (NONE if none)."""

    def __init__(self):
        super().__init__({"start": Out(1), "clear": Out(1), "fault": Out(ErrorCode)})


class CsrReadSignature(wiring.Signature):
    """Read path to CSRs: the CSR ``addr`` out, its current value ``data`` in (combinational)."""

    def __init__(self, host_bits: int):
        super().__init__({"addr": Out(range(len(Csr))), "data": In(host_bits)})


class RunSignature(wiring.Signature):
    """CSRs to controller: ``busy`` and the ``start`` pulse out; in, the controller's ``stop``
    (HALT or a fault in execute, this cycle), that instruction's ``fault`` code, the ``pc`` in
    execute and ``overrun`` (a block refused a word: INTERNAL)."""

    def __init__(self, config: CoreConfig):
        super().__init__({
            "busy": Out(1), "start": Out(1),
            "stop": In(1), "fault": In(ErrorCode), "pc": In(range(config.instr_depth + 1)),
            "overrun": In(1),
        })


class OperandSignature(wiring.Signature):
    """Controller to read path: the activation, table and weight buffer addresses out (read
    every cycle while busy); in, the read registers holding the words read two cycles
    earlier."""

    def __init__(self, config: CoreConfig):
        words = {r: isa.region_word_bits(r, config) for r in (Region.ACT, Region.TABLE,
                                                              Region.WEIGHT)}
        super().__init__({
            "act_addr": Out(range(config.act_depth)),
            "table_addr": Out(range(config.table_depth)),
            "weight_addr": Out(range(config.weight_depth)),
            "act": In(words[Region.ACT]),
            "table": In(words[Region.TABLE]),
            "weight": In(words[Region.WEIGHT]),
        })
