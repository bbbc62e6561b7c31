"""The host side of the accelerator's host port: the request register, the address decode
(region, buffer word, sub-word; fields of :mod:`lutcore.spec.isa` memory_map), sub-word staging
and the buffer write ports, CTRL writes, host faults, and the decoded reads handed to the
read path. Responses leave from the read path (:mod:`.read_path`)."""

from __future__ import annotations

from amaranth.hdl import Cat, Const, Module, Mux, Signal
from amaranth.lib import data, stream, wiring
from amaranth.lib.wiring import In, Out

from ...spec import isa
from ...spec import numerics as nx
from ...spec.config import CoreConfig
from ...spec.isa import Csr, ErrorCode, Region
from ..hostport import RequestLayout
from ..memory import BufferWriteSignature
from .csr import READABLE
from .signatures import READ_REGIONS, ControlSignature, HostReadLayout, ReadSource, equals

__all__ = ["RequestRegister", "HostInterface", "WRITE_REGIONS"]

#: The buffer regions a host may write (while idle), by the name of their write port.
WRITE_REGIONS = {"instr": Region.INSTR, "act": Region.ACT, "weight": Region.WEIGHT}


class RequestRegister(wiring.Component):
    """A register slice on a stream: ``o.valid`` and ``o.payload`` come from flip-flops;
    ``i.ready`` is ``~o.valid | o.ready``, so a payload held by backpressure stays put and the
    slice takes one payload per cycle."""

    def __init__(self, shape):
        super().__init__({"i": In(stream.Signature(shape)), "o": Out(stream.Signature(shape))})

    def elaborate(self, platform):
        m = Module()
        m.d.comb += self.i.ready.eq(~self.o.valid | self.o.ready)
        with m.If(self.i.ready):
            m.d.sync += [self.o.valid.eq(self.i.valid), self.o.payload.eq(self.i.payload)]
        return m


class _Target:
    """Address decode of one buffer region for a request offset: ``hit`` (the region matches),
    ``word``, ``sub``, ``mapped`` (word and sub-word exist) and ``last`` (the last sub-word)."""

    def __init__(self, region: Region, config: CoreConfig, addr_region, offset):
        bits = isa.region_word_bits(region, config)
        depth = isa.region_depth(region, config)
        self.bits = bits
        self.subs = isa.sub_words(bits, config.host_bits)
        self.sub_bits = isa.sub_bits(bits, config.host_bits)
        word_bits = nx.unsigned_bits(depth - 1)
        self.hit = equals(addr_region, region.value)
        self.sub = offset[:self.sub_bits]
        self.word = offset[self.sub_bits:self.sub_bits + word_bits]
        above = offset[self.sub_bits + word_bits:]
        # Words past the depth and sub-words past the last are unmapped.
        self.mapped = ~above.any() & (self.sub < self.subs
                                      if self.subs < 2 ** self.sub_bits else Const(1))
        self.last = self.sub == self.subs - 1 if self.sub_bits else Const(1)


class HostInterface(wiring.Component):
    """Takes host requests, writes the buffers and CTRL, and hands reads to the read path.

    Requests pass :class:`RequestRegister` first, so no logic of the port's source reaches
    the decode. Writes are taken every cycle: sub-words below the last of a buffer word wait
    in a staging register per buffer, the last commits the word (while idle). Reads are
    offered on :attr:`read`, decoded; a read of the activation, table or weight buffer is
    held while ``busy`` (the controller owns their read ports then). Faults follow the memory
    map: a buffer write while busy is BUSY_WRITE (dropped); an unmapped address, a write of a
    read-only or a read of a write-only location is HOST_ADDR (writes dropped, reads return
    0 from the read path).

    Members
    -------
    req : ``In(stream.Signature(RequestLayout(host_bits)))``
        Host requests.
    busy : ``In(1)``
        The controller runs.
    instr, act, weight : ``Out(BufferWriteSignature)``
        The buffers' write ports.
    control : ``Out(ControlSignature())``
        CTRL start / clear pulses and this cycle's host fault.
    read : ``Out(stream.Signature(HostReadLayout(config)))``
        Decoded host reads.
    """

    def __init__(self, config: CoreConfig):
        self._config = config
        members = {
            "req": In(stream.Signature(RequestLayout(config.host_bits))),
            "busy": In(1),
            "control": Out(ControlSignature()),
            "read": Out(stream.Signature(HostReadLayout(config))),
        }
        for name, region in WRITE_REGIONS.items():
            members[name] = Out(BufferWriteSignature(isa.region_word_bits(region, config),
                                                     isa.region_depth(region, config)))
        super().__init__(members)

    def elaborate(self, platform):
        m = Module()
        cfg = self._config
        hb = cfg.host_bits
        busy = self.busy
        m.submodules.request = reg = RequestRegister(RequestLayout(hb))
        wiring.connect(m, wiring.flipped(self.req), reg.i)
        req = reg.o
        addr = req.payload.addr
        region = addr[isa.REGION_SHIFT:]
        offset = addr[:isa.REGION_SHIFT]
        targets = {r: _Target(r, cfg, region, offset)
                   for r in (*WRITE_REGIONS.values(), *READ_REGIONS)}
        is_csr = equals(region, Region.CSR.value)

        # Reads of the buffers whose read ports the controller owns wait while it runs (they
        # cannot hang: every run ends).
        shared_hit = targets[Region.ACT].hit | targets[Region.TABLE].hit \
            | targets[Region.WEIGHT].hit
        read_open = ~(busy & shared_hit)
        m.d.comb += [
            self.read.valid.eq(req.valid & ~req.payload.write & read_open),
            req.ready.eq(req.payload.write | (self.read.ready & read_open)),
        ]
        write = req.valid & req.ready & req.payload.write
        read = self.read.valid & self.read.ready

        # -- writes ------------------------------------------------------------------------
        ctrl = data.View(isa.CTRL_LAYOUT, req.payload.data[:isa.CTRL_LAYOUT.size])
        ctrl_write = write & is_csr & equals(offset, Csr.CTRL)
        m.d.comb += [
            self.control.start.eq(ctrl_write & ctrl.start & ~busy),
            self.control.clear.eq(ctrl_write & ctrl.clear),
        ]
        for name, region in WRITE_REGIONS.items():
            target, port = targets[region], getattr(self, name)
            hit = write & target.hit & target.mapped
            if target.subs > 1:
                # Sub-words 0..subs-2 wait here; the last one commits the whole word.
                staging = Signal((target.subs - 1) * hb, name=f"staging_{name}")
                for i in range(target.subs - 1):
                    with m.If(hit & ~busy & equals(target.sub, i)):
                        m.d.sync += staging[i * hb:(i + 1) * hb].eq(req.payload.data)
                word = Cat(staging, req.payload.data)[:target.bits]
            else:
                word = req.payload.data[:target.bits]
            m.d.comb += [
                port.addr.eq(target.word),
                port.data.eq(word),
                port.en.eq(hit & target.last & ~busy),
            ]
        written = [targets[r] for r in WRITE_REGIONS.values()]
        buffer_write = write & _any(t.hit for t in written)
        buffer_write_ok = _any(t.hit & t.mapped for t in written)
        write_fault = Mux(ctrl_write, ErrorCode.NONE.value,
                          Mux(buffer_write & buffer_write_ok,
                              Mux(busy, ErrorCode.BUSY_WRITE.value, ErrorCode.NONE.value),
                              ErrorCode.HOST_ADDR.value))

        # -- reads -------------------------------------------------------------------------
        rd = self.read.payload
        with m.If(is_csr & _any(equals(offset, c) for c in READABLE)):
            m.d.comb += rd.source.eq(ReadSource.CSR)
        for reg_region, code in READ_REGIONS.items():
            target = targets[reg_region]
            with m.If(target.hit & target.mapped):
                m.d.comb += [rd.source.eq(code), rd.sub.eq(target.sub)]
        out = targets[Region.OUTPUT]
        beats = cfg.out_beats
        # Output buffer: host word w, sub-word s is beat w * out_beats + s // out_beat_subs.
        beat_sel_bits = isa.sub_bits(cfg.out_beat_bits, hb)
        m.d.comb += [
            rd.csr.eq(offset),
            rd.act.eq(targets[Region.ACT].word),
            rd.table.eq(targets[Region.TABLE].word),
            rd.weight.eq(targets[Region.WEIGHT].word),
            rd.out.eq(out.word * beats + out.sub[beat_sel_bits:] if beats > 1 else out.word),
        ]
        read_fault = Mux(rd.source.as_value().any(), ErrorCode.NONE.value,
                         ErrorCode.HOST_ADDR.value)
        m.d.comb += self.control.fault.as_value().eq(
            Mux(write, write_fault, Mux(read, read_fault, ErrorCode.NONE.value)))
        return m


def _any(conditions):
    """The OR of 1-bit values."""
    conditions = list(conditions)
    total = conditions[0]
    for c in conditions[1:]:
        total = total | c
    return total
