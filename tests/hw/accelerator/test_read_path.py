# amaranth: UnusedElaboratable=no
"""The read path on real buffers against a model of the buffers (docs/architecture.md,
"Buffers" and "Host port"): host reads with random idle cycles and random stalls on the
responses, while idle and, for the CSR and output reads, while the controller streams its
operand reads; every response value, the order, the latency and one read in flight."""

from __future__ import annotations

import random

import pytest
from amaranth.hdl import Array, Const, Elaboratable, Module
from amaranth.lib import wiring

import hwbench
from hwbench import CONFIGS, HOST_BITS_CONFIGS

from lutcore.hw.accelerator.read_path import ReadPath
from lutcore.hw.accelerator.signatures import HostReadLayout, ReadSource
from lutcore.hw.memory import BufferMemory
from lutcore.spec import isa
from lutcore.spec.isa import Region

REGIONS = {ReadSource.ACT: Region.ACT, ReadSource.TABLE: Region.TABLE,
           ReadSource.WEIGHT: Region.WEIGHT}
TESTED = {"tiny": CONFIGS["tiny"], "m3n20": CONFIGS["m3n20"],
          "tiny_h64": HOST_BITS_CONFIGS["tiny_h64"]}


class Harness(Elaboratable):
    """The read path with its four buffers and a constant CSR bank."""

    def __init__(self, cfg, csr_values):
        self.path = ReadPath(cfg)
        self.mems = {s: BufferMemory(s.name.lower(), isa.region_word_bits(r, cfg),
                                     isa.region_depth(r, cfg)) for s, r in REGIONS.items()}
        self.mems[ReadSource.OUT] = BufferMemory("out", cfg.out_beat_bits,
                                                 cfg.out_depth * cfg.out_beats)
        self.csr_values = csr_values

    def elaborate(self, platform):
        m = Module()
        m.submodules.path = path = self.path
        for source, mem in self.mems.items():
            m.submodules[source.name.lower()] = mem
            wiring.connect(m, getattr(path, source.name.lower()), mem.read)
        width = len(path.csr.data)
        m.d.comb += path.csr.data.eq(Array(Const(v, width) for v in self.csr_values)
                                     [path.csr.addr])
        return m


def _sub_word(word: int, index: int, bits: int, hb: int) -> int:
    """Host sub-word ``index`` of a ``bits``-wide word, 0 past the last."""
    return (word >> (index * hb)) & ((1 << hb) - 1) if index < isa.sub_words(bits, hb) else 0


@pytest.mark.parametrize("name", list(TESTED))
def test_read_path(name):
    cfg = TESTED[name]
    hb = cfg.host_bits
    rng = random.Random(name)
    layout = HostReadLayout(cfg)
    csr_width = 2 ** len(ReadPath(cfg).csr.addr)
    csr_values = [rng.getrandbits(hb) for _ in range(csr_width)]
    dut = Harness(cfg, csr_values)
    path = dut.path
    widths = {s: mem.width for s, mem in dut.mems.items()}
    contents = {s: {} for s in dut.mems}
    for source, mem in dut.mems.items():
        for addr in rng.sample(range(mem.depth), min(mem.depth, 12)):
            contents[source][addr] = rng.getrandbits(mem.width)

    def request(source):
        """A random read of ``source`` and its expected response."""
        fields = {"source": source.value, "csr": rng.randrange(csr_width)}
        for s, mem in dut.mems.items():
            fields[s.name.lower()] = rng.choice([*contents[s], rng.randrange(mem.depth)])
        if source is ReadSource.OUT:
            region_bits = cfg.out_word_bits     # the sub-word in the host's output word
        else:
            region_bits = widths.get(source, hb)
        fields["sub"] = rng.randrange(2 ** isa.sub_bits(region_bits, hb))
        if source is ReadSource.ZERO:
            want = 0
        elif source is ReadSource.CSR:
            want = csr_values[fields["csr"]]
        else:
            word = contents[source].get(fields[source.name.lower()], 0)
            index = fields["sub"]
            if source is ReadSource.OUT:           # the sub-word within the beat
                index %= 2 ** isa.sub_bits(cfg.out_beat_bits, hb)
            want = _sub_word(word, index, widths[source], hb)
        return hwbench.pack_struct(layout, **fields), want

    accepted, responses = [], []
    operand_checks = []

    async def load(ctx):
        for source, mem in dut.mems.items():
            for addr, word in contents[source].items():
                ctx.set(mem.write.addr, addr)
                ctx.set(mem.write.data, word)
                ctx.set(mem.write.en, 1)
                await ctx.tick()
            ctx.set(mem.write.en, 0)

    busy = []                              # the bench's busy request (applied per cycle)

    async def operands(ctx):
        """busy as requested; while busy a random address per cycle, checked in the read
        registers two cycles later."""
        history = []
        while True:
            ctx.set(path.busy, bool(busy))
            if busy:
                addrs = {s: rng.randrange(dut.mems[s].depth) for s in REGIONS}
                for s, a in addrs.items():
                    ctx.set(getattr(path.operands, f"{s.name.lower()}_addr"), a)
                history.append(addrs)
            else:
                history.append(None)
            await ctx.tick()
            # The addresses of cycle k are in the read registers in cycle k + 2 (after the
            # edges that end cycles k and k + 1).
            if len(history) >= 2 and history[-2] is not None:
                for s, a in history[-2].items():
                    got = ctx.get(getattr(path.operands, s.name.lower()))
                    assert got == contents[s].get(a, 0), f"operand {s.name} word {a}"
                operand_checks.append(1)

    async def reads(ctx, sources, count):
        items, wants = zip(*(request(rng.choice(sources)) for _ in range(count)))
        done = len(responses) + count
        await hwbench.source(path.request, items, rng, idle=0.3)(ctx)
        await hwbench.wait_until(ctx, lambda: len(responses) == done, 400, "responses")
        return list(wants)

    async def bench(ctx):
        await load(ctx)
        wants = await reads(ctx, list(ReadSource), 50)
        busy.append(1)
        wants += await reads(ctx, [ReadSource.ZERO, ReadSource.CSR, ReadSource.OUT], 20)
        busy.clear()
        await ctx.tick().repeat(20)
        assert [raw for _, raw in responses] == wants
        assert len(operand_checks) > 40
        # One read in flight: each accepted at least 4 cycles before its response, and only
        # once the response before it has left.
        for i, ((t_req, _), (t_resp, _)) in enumerate(zip(accepted, responses)):
            assert t_resp >= t_req + 4
            if i + 1 < len(accepted):
                assert accepted[i + 1][0] > t_resp

    hwbench.run(dut, bench, [hwbench.sink(path.resp, rng, stall=0.3), operands,
                             hwbench.monitor(path.request, accepted),
                             hwbench.monitor(path.resp, responses)])
