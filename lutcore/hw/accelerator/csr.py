"""The accelerator's control and status registers (docs/architecture.md, "Host port"): busy,
done, the first error code, the cycle counter, and the value of every readable CSR."""

from __future__ import annotations

from amaranth.hdl import Const, Module, Signal
from amaranth.lib import wiring
from amaranth.lib.wiring import In, Out

from ...spec import isa
from ...spec.config import CoreConfig
from ...spec.isa import Csr, ErrorCode
from .signatures import ControlSignature, CsrReadSignature, RunSignature, equals

__all__ = ["READABLE", "ControlStatus", "cycles_bits"]

#: The CSRs a host may read (CTRL is write-only).
READABLE = (Csr.ID, Csr.STATUS, Csr.CYCLES_LO, Csr.CYCLES_HI, Csr.PC)


def cycles_bits(config: CoreConfig) -> int:
    """Width of the cycle counter: the two host words CYCLES_LO and CYCLES_HI, at most
    64 bits (with a 64-bit host port CYCLES_HI reads 0). It wraps."""
    return min(2 * config.host_bits, 64)


class ControlStatus(wiring.Component):
    """busy, done, error code and CYCLES, and the CSR read multiplexer.

    CTRL.start (only taken while idle) sets busy and clears done, the error and CYCLES;
    CYCLES counts every busy cycle. The controller's ``stop`` clears busy and sets done, and
    records its fault. The first error is kept until CTRL.clear or the next start: a host
    fault or an overrun (INTERNAL) records its code only when none is recorded, and a stopping
    fault in the same cycle wins over them (a clear in that cycle makes room for it).

    Members
    -------
    host : ``In(ControlSignature())``
        CTRL writes and host faults from the host interface.
    read : ``In(CsrReadSignature(host_bits))``
        CSR reads (ID, STATUS, CYCLES_LO, CYCLES_HI, PC; others read 0).
    run : ``Out(RunSignature(config))``
        The controller's busy / start, and its stop, fault, pc and overrun.
    busy, done, error : ``Out(1)``
        STATUS flags.
    """

    def __init__(self, config: CoreConfig):
        self._config = config
        super().__init__({
            "host": In(ControlSignature()),
            "read": In(CsrReadSignature(config.host_bits)),
            "run": Out(RunSignature(config)),
            "busy": Out(1), "done": Out(1), "error": Out(1),
        })

    def elaborate(self, platform):
        m = Module()
        hb = self._config.host_bits
        busy, done = Signal(), Signal()
        error_code = Signal(ErrorCode)
        cycles = Signal(cycles_bits(self._config))
        error = error_code.as_value().any()
        m.d.comb += [self.busy.eq(busy), self.done.eq(done), self.error.eq(error),
                     self.run.busy.eq(busy), self.run.start.eq(self.host.start)]

        status = Signal(isa.STATUS_LAYOUT)
        m.d.comb += [status.busy.eq(busy), status.done.eq(done), status.error.eq(error),
                     status.error_code.eq(error_code)]
        values = {
            Csr.ID: Const(isa.ID_VALUE & ((1 << hb) - 1), hb),
            Csr.STATUS: status.as_value(),
            Csr.CYCLES_LO: cycles[:hb],
            Csr.CYCLES_HI: cycles[hb:],
            Csr.PC: self.run.pc,
        }
        for csr in READABLE:
            with m.If(equals(self.read.addr, csr)):
                m.d.comb += self.read.data.eq(values[csr])

        with m.If(busy):
            m.d.sync += cycles.eq(cycles + 1)
        clear = self.host.clear
        with m.If(clear):
            m.d.sync += [done.eq(0), error_code.eq(ErrorCode.NONE)]
        with m.If(self.host.start):
            m.d.sync += [busy.eq(1), done.eq(0), error_code.eq(ErrorCode.NONE), cycles.eq(0)]
        # The first error is kept (a program fault in the same cycle as a host fault wins).
        with m.If(self.host.fault.as_value().any() & ~error):
            m.d.sync += error_code.eq(self.host.fault)
        with m.If(self.run.overrun & ~error):
            m.d.sync += error_code.eq(ErrorCode.INTERNAL)
        with m.If(self.run.stop):
            m.d.sync += [busy.eq(0), done.eq(1)]
            with m.If((~error | clear) & self.run.fault.as_value().any()):
                m.d.sync += error_code.eq(self.run.fault)
        return m
