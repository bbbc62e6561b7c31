"""The multiplexer the LUT core and the baseline cores share."""

from __future__ import annotations

from amaranth.hdl import Const, Mux

__all__ = ["select"]


def select(items, index):
    """``items[index]`` as a tree of 2:1 multiplexers, index bit 0 at the leaves; indices past
    the end select 0, so every index value is defined (no incomplete case in the generated
    Verilog). An indexed ``Array`` becomes a decoder and an AND-OR tree instead, which maps to
    about half again the LUT4s and routed pins (docs/fpga.md, "Timing work on the default
    preset")."""
    level = list(items) + [Const(0, items[0].shape())] * (2 ** len(index) - len(items))
    for bit in index:
        level = [Mux(bit, hi, lo) for lo, hi in zip(level[0::2], level[1::2])]
    return level[0]
