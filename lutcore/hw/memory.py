"""On-chip buffers as simple dual-port memories split by width into block-RAM sized slices."""

from __future__ import annotations

from amaranth.hdl import Elaboratable, Module, Signal
from amaranth.lib.memory import Memory

__all__ = ["BLOCK_RAM_BITS", "BufferMemory", "slice_bits"]

#: Bits of one block RAM (ECP5 DP16KD: 16 Kbit plus parity, as 512 x 36 .. 16384 x 1).
BLOCK_RAM_BITS = 18432
#: The depth of a block RAM in its widest mode (ECP5: 512 x 36).
BLOCK_RAM_MIN_DEPTH = 512


def slice_bits(width: int, depth: int) -> int:
    """Width of each slice of a ``width`` x ``depth`` buffer: the widest mode of one block RAM
    at that depth (``BLOCK_RAM_BITS // depth``), so a slice never needs several block RAMs
    stacked in depth (whose read data would meet in a multiplexer behind the RAMs); the whole
    width when the depth is that of the block RAM's widest mode or less."""
    if depth <= BLOCK_RAM_MIN_DEPTH:
        return width
    return max(1, min(width, BLOCK_RAM_BITS // depth))


class _Port:
    def __init__(self, name: str, width: int, depth: int):
        self.addr = Signal(range(depth), name=f"{name}_addr")
        self.data = Signal(width, name=f"{name}_data")
        self.en = Signal(name=f"{name}_en")


class BufferMemory(Elaboratable):
    """A ``width`` x ``depth`` memory with one write port and one synchronous read port
    (``write`` and ``read``: ``addr``, ``data``, ``en``), built from
    :class:`~amaranth.lib.memory.Memory` slices of :func:`slice_bits` each.

    Behaviour is that of one memory: a read with ``en`` high returns the word at ``addr``
    in the next cycle (the old word when it is written in the same cycle) and holds it
    while ``en`` is low. Without the split, yosys maps a 4096-deep buffer to 512 x 36 block
    RAMs eight deep, with a LUT multiplexer on their outputs in the read path; the slices
    make every block RAM output go straight to the read register.
    """

    def __init__(self, name: str, width: int, depth: int):
        self.name, self.width, self.depth = name, width, depth
        self.write = _Port(f"{name}_w", width, depth)
        self.read = _Port(f"{name}_r", width, depth)

    @property
    def slices(self) -> list[tuple[int, int]]:
        step = slice_bits(self.width, self.depth)
        return [(lo, min(lo + step, self.width)) for lo in range(0, self.width, step)]

    def elaborate(self, platform):
        m = Module()
        for i, (lo, hi) in enumerate(self.slices):
            mem = Memory(shape=hi - lo, depth=self.depth, init=[])
            m.submodules[f"slice{i}"] = mem
            wp, rp = mem.write_port(), mem.read_port()
            m.d.comb += [
                wp.addr.eq(self.write.addr), wp.data.eq(self.write.data[lo:hi]),
                wp.en.eq(self.write.en),
                rp.addr.eq(self.read.addr), rp.en.eq(self.read.en),
                self.read.data[lo:hi].eq(rp.data),
            ]
        return m
