"""On-chip buffers as simple dual-port memories split by width into block-RAM sized slices,
and the signatures of their write and read ports."""

from __future__ import annotations

from amaranth.hdl import Module
from amaranth.lib import wiring
from amaranth.lib.memory import Memory
from amaranth.lib.wiring import In, Out

__all__ = ["BLOCK_RAM_BITS", "BufferWriteSignature", "BufferReadSignature", "BufferMemory",
           "slice_bits"]

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


class BufferWriteSignature(wiring.Signature):
    """A buffer's write port seen from the writer: ``addr`` (``range(depth)``), ``data``
    (``width``) and ``en``, all out; the word is written at the clock edge while ``en``."""

    def __init__(self, width: int, depth: int):
        super().__init__({"addr": Out(range(depth)), "data": Out(width), "en": Out(1)})


class BufferReadSignature(wiring.Signature):
    """A buffer's synchronous read port seen from the reader: ``addr`` and ``en`` out,
    ``data`` in (the word at ``addr`` one cycle after ``en``, held while ``en`` is low)."""

    def __init__(self, width: int, depth: int):
        super().__init__({"addr": Out(range(depth)), "en": Out(1), "data": In(width)})


class BufferMemory(wiring.Component):
    """A ``width`` x ``depth`` memory with one write port and one synchronous read port
    (``write``: ``In(BufferWriteSignature)``, ``read``: ``In(BufferReadSignature)``), built
    from :class:`~amaranth.lib.memory.Memory` slices of :func:`slice_bits` each.

    Behaviour is that of one memory: a read with ``en`` high returns the word at ``addr``
    in the next cycle (the old word when it is written in the same cycle) and holds it
    while ``en`` is low. Without the split, yosys maps a 4096-deep buffer to 512 x 36 block
    RAMs eight deep, with a LUT multiplexer on their outputs in the read path; the slices
    make every block RAM output go straight to the read register.
    """

    def __init__(self, name: str, width: int, depth: int):
        self.name, self.width, self.depth = name, width, depth
        super().__init__({"write": In(BufferWriteSignature(width, depth)),
                          "read": In(BufferReadSignature(width, depth))})

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
