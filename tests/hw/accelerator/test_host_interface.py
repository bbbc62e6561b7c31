"""The host interface against a model of the memory map (docs/architecture.md, "Host
port"; addresses decoded by :func:`lutcore.spec.isa.decode_address`): random requests with
idle cycles, random stalls on the decoded reads, idle and busy phases. Every request has at
most one effect, in order: a buffer word committed, a CTRL pulse, a fault, a decoded read."""

from __future__ import annotations

import random

import pytest
from amaranth.hdl import Value

import hwbench
from hwbench import CONFIGS, HOST_BITS_CONFIGS

from lutcore.hw.accelerator.host_interface import HostInterface
from lutcore.hw.accelerator.signatures import HostReadLayout, ReadSource
from lutcore.hw.hostport import RequestLayout
from lutcore.spec import isa
from lutcore.spec.isa import Csr, ErrorCode, Region

WRITABLE = {Region.INSTR: "instr", Region.ACT: "act", Region.WEIGHT: "weight"}
READABLE = {Region.ACT: ReadSource.ACT, Region.TABLE: ReadSource.TABLE,
            Region.WEIGHT: ReadSource.WEIGHT, Region.OUTPUT: ReadSource.OUT}
READABLE_CSRS = {Csr.ID, Csr.STATUS, Csr.CYCLES_LO, Csr.CYCLES_HI, Csr.PC}
SHARED = {Region.ACT, Region.TABLE, Region.WEIGHT}

TESTED = {"tiny": CONFIGS["tiny"], "default": CONFIGS["default"],
          "tiny_h8": HOST_BITS_CONFIGS["tiny_h8"]}


class Model:
    """Staging registers and the effect of one request (None: no visible effect)."""

    def __init__(self, cfg):
        self.cfg = cfg
        self.staged = {r: {} for r in WRITABLE}

    def effect(self, addr: int, data: int, write: bool, busy: bool):
        cfg, hb = self.cfg, self.cfg.host_bits
        at = isa.decode_address(addr, cfg)
        start = clear = 0
        fault, commit, read = ErrorCode.NONE, None, None
        if write:
            if at is not None and at.region is Region.CSR and at.word == Csr.CTRL:
                start, clear = data & 1 and not busy, data >> 1 & 1
            elif at is not None and at.region in WRITABLE and busy:
                fault = ErrorCode.BUSY_WRITE
            elif at is not None and at.region in WRITABLE:
                staged = self.staged[at.region]
                staged[at.sub] = data
                if at.sub == at.sub_words - 1:
                    bits = isa.region_word_bits(at.region, cfg)
                    word = sum(staged.get(i, 0) << (i * hb) for i in range(at.sub_words))
                    commit = (WRITABLE[at.region], at.word, word & ((1 << bits) - 1))
            else:
                fault = ErrorCode.HOST_ADDR
        elif at is not None and at.region is Region.CSR and at.word in READABLE_CSRS:
            read = (ReadSource.CSR, at.word)
        elif at is not None and at.region in READABLE:
            word = at.word
            if at.region is Region.OUTPUT:
                beat_subs = isa.sub_words(cfg.out_beat_bits, hb)
                word = at.word * cfg.out_beats + at.sub // beat_subs
            read = (READABLE[at.region], at.sub, word)
        else:
            read, fault = (ReadSource.ZERO,), ErrorCode.HOST_ADDR
        event = (int(start), clear, fault, commit, read)
        return event if event != (0, 0, ErrorCode.NONE, None, None) else None


def _requests(rng, cfg, busy: bool):
    """(addr, data, write) tuples: whole buffer words sub-word by sub-word, and single
    requests anywhere (unmapped regions, words and sub-words past the end, CSRs)."""
    out = []
    while len(out) < 50:
        region = Region(rng.randrange(6))
        if region is Region.CSR:
            offset = rng.choice([rng.randrange(8), 1 << rng.randrange(3, isa.REGION_SHIFT)])
            write = rng.random() < 0.5
            data = rng.randrange(4) if write else 0
            out.append(((region.value << isa.REGION_SHIFT) | offset, data, write))
            continue
        if busy and region in SHARED and rng.random() < 0.9:
            region = Region.OUTPUT
        depth = isa.region_depth(region, cfg)
        bits = isa.region_word_bits(region, cfg)
        subs, sub_bits = isa.sub_words(bits, cfg.host_bits), isa.sub_bits(bits, cfg.host_bits)
        word = rng.choice([rng.randrange(depth), depth - 1, depth + rng.randrange(3)])
        base = (region.value << isa.REGION_SHIFT) | (word << sub_bits)
        if rng.random() < 0.4 and word < depth:
            out += [(base | s, rng.getrandbits(cfg.host_bits), True) for s in range(subs)]
        else:
            sub = rng.randrange(2 ** sub_bits)
            write = rng.random() < 0.5
            if busy and not write and region in SHARED:
                write = True
            out.append((base | sub, rng.getrandbits(cfg.host_bits), write))
    # Unknown regions.
    out += [(rng.randrange(6, 16) << isa.REGION_SHIFT | rng.randrange(64), 0, w)
            for w in (False, True)]
    rng.shuffle(out)
    return out


@pytest.mark.parametrize("name", list(TESTED))
def test_host_interface(name):
    cfg = TESTED[name]
    hb = cfg.host_bits
    rng = random.Random(name)
    dut = HostInterface(cfg)
    model = Model(cfg)
    req_layout, read_layout = RequestLayout(hb), HostReadLayout(cfg)
    observed, expected = [], []
    ports = [dut.instr, dut.act, dut.weight]

    def decode_read(raw):
        source = ReadSource(hwbench.field_bits(read_layout, raw, "source"))
        if source is ReadSource.ZERO:
            return (source,)
        if source is ReadSource.CSR:
            return (source, hwbench.field_bits(read_layout, raw, "csr"))
        field = {ReadSource.ACT: "act", ReadSource.TABLE: "table",
                 ReadSource.WEIGHT: "weight", ReadSource.OUT: "out"}[source]
        sub_bits = max(1, isa.sub_bits(isa.region_word_bits(
            {v: k for k, v in READABLE.items()}[source], cfg), hb))
        sub = hwbench.field_bits(read_layout, raw, "sub") & ((1 << sub_bits) - 1)
        return (source, sub, hwbench.field_bits(read_layout, raw, field))

    async def observe(ctx):
        signals = [dut.control.start, dut.control.clear, dut.control.fault.as_value(),
                   dut.read.valid, dut.read.ready, Value.cast(dut.read.payload)]
        for p in ports:
            signals += [p.en, p.addr, p.data]
        async for _clk, _rst, start, clear, fault, valid, ready, payload, *writes in \
                ctx.tick().sample(*signals):
            commits = [(n, writes[3 * i + 1], writes[3 * i + 2])
                       for i, n in enumerate(("instr", "act", "weight")) if writes[3 * i]]
            assert len(commits) <= 1
            event = (start, clear, ErrorCode(fault), commits[0] if commits else None,
                     decode_read(payload) if valid and ready else None)
            if event != (0, 0, ErrorCode.NONE, None, None):
                observed.append(event)

    def expect(requests, busy):
        for addr, data, write in requests:
            event = model.effect(addr, data, write, busy)
            if event is not None:
                expected.append(event)

    async def phase(ctx, busy):
        ctx.set(dut.busy, busy)
        requests = _requests(rng, cfg, busy)
        expect(requests, busy)
        items = [hwbench.pack_struct(req_layout, addr=a, data=d, write=w)
                 for a, d, w in requests]
        await hwbench.source(dut.req, items, rng, idle=0.3)(ctx)
        await ctx.tick().repeat(40)
        assert observed == expected

    async def bench(ctx):
        await phase(ctx, busy=False)
        await phase(ctx, busy=True)
        await phase(ctx, busy=False)
        # A read of a shared buffer waits while busy, and so does the request behind it.
        ctx.set(dut.busy, 1)
        addr = isa.host_address(Region.ACT, 3, config=cfg)
        ctx.set(Value.cast(dut.req.payload), hwbench.pack_struct(req_layout, addr=addr, write=0))
        ctx.set(dut.req.valid, 1)
        await ctx.tick().until(dut.req.ready)       # into the request register
        for _ in range(20):
            assert not ctx.get(dut.req.ready)
            await ctx.tick()
        assert observed == expected
        ctx.set(dut.busy, 0)
        expect([(addr, 0, False)] * 2, False)
        await ctx.tick().until(dut.req.ready)
        ctx.set(dut.req.valid, 0)
        await ctx.tick().repeat(40)
        assert observed == expected

    hwbench.run(dut, bench, [observe, hwbench.sink(dut.read, rng, stall=0.3),
                             hwbench.monitor(dut.req, []), hwbench.monitor(dut.read, [])])
