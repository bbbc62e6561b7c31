"""The accelerator's buffer read side: the activation, table and weight read ports shared by
the controller (while busy) and host reads (while idle), the read registers behind them, the
output buffer's host read port, and the host read pipeline (buffer read, read register,
sub-word select, source select into the response register)."""

from __future__ import annotations

from amaranth.hdl import Array, Cat, Const, Module, Mux, Signal
from amaranth.lib import stream, wiring
from amaranth.lib.wiring import In, Out

from ...spec import isa
from ...spec.config import CoreConfig
from ...spec.isa import Region
from ..memory import BufferReadSignature
from .signatures import (CsrReadSignature, HostReadLayout, OperandSignature, ReadSource,
                         equals)

__all__ = ["ReadPath"]

#: The buffers whose read port the controller shares with the host, by port name.
SHARED = {"act": (Region.ACT, ReadSource.ACT), "table": (Region.TABLE, ReadSource.TABLE),
          "weight": (Region.WEIGHT, ReadSource.WEIGHT)}


class ReadPath(wiring.Component):
    """Buffer reads for the controller and the host.

    While ``busy`` the activation, table and weight ports read the controller's addresses
    every cycle, and their read registers (``operands.act`` ...) take the data every cycle.
    While idle a host read reads one port: one read is in flight at a time (h1: the port's
    read cycle; h2: its read register, or a CSR value taken when the read was accepted; h3:
    the sub-word of each source in a register of its own), and the chosen source's sub-word
    goes into the response register; ``request.ready`` only when the pipeline
    and the response register are empty. A ZERO read answers 0. No logic sits between a block RAM's data and a flip-flop.

    The ports read every cycle (``en`` is 1): each read register and the host read pipeline
    take a port's data only in the cycle after they chose its address, so a read nobody asked
    for is harmless, and no request, ready or busy logic reaches the block RAMs' enables
    across the die (on the ULX3S that path, host request to a table block RAM's read enable,
    was the critical one).

    Members
    -------
    request : ``In(stream.Signature(HostReadLayout(config)))``
        Decoded host reads.
    resp : ``Out(stream.Signature(host_bits))``
        Host read responses, from a register.
    csr : ``Out(CsrReadSignature(host_bits))``
        The CSR value of a read being accepted.
    busy : ``In(1)``
        The controller owns the shared ports.
    operands : ``In(OperandSignature(config))``
        The controller's addresses and read registers.
    act, table, weight, out : ``Out(BufferReadSignature)``
        The buffers' read ports.
    """

    def __init__(self, config: CoreConfig):
        self._config = config
        hb = config.host_bits
        members = {
            "request": In(stream.Signature(HostReadLayout(config))),
            "resp": Out(stream.Signature(hb)),
            "csr": Out(CsrReadSignature(hb)),
            "busy": In(1),
            "operands": In(OperandSignature(config)),
        }
        for name, (region, _) in SHARED.items():
            members[name] = Out(BufferReadSignature(isa.region_word_bits(region, config),
                                                    isa.region_depth(region, config)))
        members["out"] = Out(BufferReadSignature(config.out_beat_bits,
                                                 config.out_depth * config.out_beats))
        super().__init__(members)

    def elaborate(self, platform):
        m = Module()
        cfg = self._config
        hb = cfg.host_bits
        req, resp = self.request, self.resp
        h1_valid, h2_valid, h3_valid = Signal(), Signal(), Signal()
        h1_source, h2_source, h3_source = (Signal(ReadSource) for _ in range(3))
        h1_sub, h2_sub = Signal.like(req.payload.sub), Signal.like(req.payload.sub)
        h1_csr, h2_csr = Signal(hb), Signal(hb)
        m.d.comb += [
            req.ready.eq(~h1_valid & ~h2_valid & ~h3_valid & ~resp.valid),
            self.csr.addr.eq(req.payload.csr),
        ]
        read = req.valid & req.ready
        m.d.sync += [h1_valid.eq(read), h2_valid.eq(h1_valid), h3_valid.eq(h2_valid)]
        with m.If(read):
            m.d.sync += [h1_source.eq(req.payload.source), h1_sub.eq(req.payload.sub),
                         h1_csr.eq(self.csr.data)]
        m.d.sync += [h2_source.eq(h1_source), h2_sub.eq(h1_sub), h2_csr.eq(h1_csr),
                     h3_source.eq(h2_source)]

        # The shared ports and their read registers (the controller's operands; the h2 stage
        # of a host read of those buffers, accepted only while the controller is idle).
        registers = {}
        for name, (region, source) in SHARED.items():
            port = getattr(self, name)
            reg = getattr(self.operands, name)
            m.d.comb += [
                port.addr.eq(Mux(self.busy, getattr(self.operands, f"{name}_addr"),
                                 getattr(req.payload, name))),
                port.en.eq(1),
            ]
            m.d.sync += reg.eq(port.data)
            registers[source] = (reg, isa.region_word_bits(region, cfg))
        # The output buffer's port is the host's; its read register.
        o_rd = Signal(cfg.out_beat_bits)
        m.d.comb += [self.out.addr.eq(req.payload.out), self.out.en.eq(1)]
        with m.If(h1_valid & (h1_source == ReadSource.OUT)):
            m.d.sync += o_rd.eq(self.out.data)
        registers[ReadSource.OUT] = (o_rd, cfg.out_beat_bits)

        def sub_word(value, bits):
            """Sub-word ``h2_sub`` of a buffer word (a case over the sub-words, 0 past them)."""
            subs = isa.sub_words(bits, hb)
            padded = Cat(value, Const(0, subs * hb - bits))
            words = [padded[i * hb:(i + 1) * hb] for i in range(subs)]
            if subs == 1:
                return words[0]
            sel_bits = isa.sub_bits(bits, hb)
            words += [Const(0, hb)] * (2 ** sel_bits - subs)
            return Array(words)[h2_sub[:sel_bits]]

        # h2 -> h3: each source's sub-word into a register of its own (the sub-word
        # multiplexer of a wide word gathers bits from across the array: on the ULX3S it and
        # the source select in one cycle were the decode preset's critical path); h3: the
        # source select into the response register.
        picked = {ReadSource.CSR: Signal(hb, name="h3_csr")}
        m.d.sync += picked[ReadSource.CSR].eq(h2_csr)
        for source, (reg, bits) in registers.items():
            picked[source] = Signal(hb, name=f"h3_{source.name.lower()}")
            m.d.sync += picked[source].eq(sub_word(reg, bits))
        read_data = Signal(hb)
        for source, value in picked.items():
            with m.If(equals(h3_source, source.value)):
                m.d.comb += read_data.eq(value)
        with m.If(resp.ready):
            m.d.sync += resp.valid.eq(0)
        with m.If(h3_valid):            # never while a response waits (request.ready)
            m.d.sync += [resp.valid.eq(1), resp.payload.eq(read_data)]
        return m
