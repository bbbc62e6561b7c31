# amaranth: UnusedElaboratable=no
"""The controller against a model of the ISA (docs/isa.md, docs/architecture.md
"Instructions" and "Timing contract"), on real instruction and table buffers, with the
table unit and the LUT core replaced by bench blocks of the contract's latencies: every
activation word, table write, step, finalize and output write, the stop (pc, fault) and the
busy cycles of each start equal to :func:`lutcore.spec.isa.phase_cycles`."""

from __future__ import annotations

import random

import pytest
from amaranth.hdl import Elaboratable, Module, Mux, Value
from amaranth.lib import wiring

import hwbench
from hwbench import CONFIGS

from lutcore.hw.accelerator.controller import Controller
from lutcore.hw.lut_core import LutCore
from lutcore.hw.memory import BufferMemory, BufferWriteSignature
from lutcore.hw.table_precompute import TablePrecompute
from lutcore.spec import isa
from lutcore.spec.isa import ErrorCode, Halt, Lmma, Mode, Nop, Precomp, Store

TIMING = isa.TIMING
ACT_WORDS, TABLE_WORDS, WEIGHT_WORDS = 24, 16, 48     # the words programs use


class Harness(Elaboratable):
    """The controller with its instruction and table buffers, the activation and weight
    buffers read as the read path does while busy (port, then read register)."""

    def __init__(self, cfg):
        self.pre = TablePrecompute.from_config(cfg, stage_levels=TIMING.TABLE_STAGE_LEVELS)
        self.core = LutCore.from_config(cfg)
        self.ctrl = Controller(cfg, self.pre, self.core)
        self.instr = BufferMemory("instr", isa.INSTR_BITS, cfg.instr_depth)
        self.act = BufferMemory("act", cfg.act_word_bits, cfg.act_depth)
        self.table = BufferMemory("table", cfg.table_word_bits, cfg.table_depth)
        self.weight = BufferMemory("weight", cfg.weight_word_bits, cfg.weight_depth)
        # The bench's own write port into the table buffer (before a start).
        self.table_load = BufferWriteSignature(cfg.table_word_bits, cfg.table_depth).create()

    def elaborate(self, platform):
        m = Module()
        m.submodules.ctrl = ctrl = self.ctrl
        for name in ("instr", "act", "table", "weight"):
            m.submodules[name] = getattr(self, name)
        wiring.connect(m, ctrl.instr, self.instr.read)
        load, write = self.table_load, ctrl.table_write
        m.d.comb += [self.table.write.addr.eq(Mux(load.en, load.addr, write.addr)),
                     self.table.write.data.eq(Mux(load.en, load.data, write.data)),
                     self.table.write.en.eq(load.en | write.en)]
        for name in ("act", "table", "weight"):
            mem = getattr(self, name)
            m.d.comb += [mem.read.addr.eq(getattr(ctrl.operands, f"{name}_addr")),
                         mem.read.en.eq(1)]
            m.d.sync += getattr(ctrl.operands, name).eq(mem.read.data)
        return m


def _program(rng, cfg, kind: str) -> list[int]:
    """A random program: PRECOMPs, LMMAs, STOREs and NOPs, then HALT ("halt"), a faulting
    instruction ("fault"), or NOPs to the end of the instruction buffer ("end")."""
    modes = [Mode.BITSERIAL, Mode.ELUT] if cfg.has_elut else [Mode.BITSERIAL]
    prog = []
    for _ in range(rng.randrange(3, 8)):
        mode = rng.choice(modes)
        op = rng.randrange(4)
        if op == 0:
            count = rng.randrange(1, 6)
            prog.append(Precomp(mode=mode, act_addr=rng.randrange(ACT_WORDS - count),
                                table_addr=rng.randrange(TABLE_WORDS - count), count=count))
        elif op == 1:
            count = rng.randrange(1, 4)
            planes = 1 if mode is Mode.ELUT else rng.randrange(1, cfg.weight_bits + 1)
            prog.append(Lmma(mode=mode, table_addr=rng.randrange(TABLE_WORDS - count),
                             weight_addr=rng.randrange(WEIGHT_WORDS - planes * count),
                             count=count, planes=planes, clear=rng.randrange(2)))
        elif op == 2:
            cmax = (1 << cfg.weight_bits) - 1
            prog.append(Store(out_addr=rng.randrange(cfg.out_depth - cfg.m + 1),
                              c=rng.randrange(-cmax, cmax + 1)))
        else:
            prog.append(Nop())
    prog.insert(rng.randrange(len(prog) + 1), Store(out_addr=0))     # at least one STORE
    words = [i.encode() for i in prog]
    if kind == "halt":
        words.append(Halt().encode())
    elif kind == "fault":
        words.append(Store(out_addr=cfg.out_depth - cfg.m + 1).encode())   # ADDR_RANGE
    else:
        words += [Nop().encode()] * (cfg.instr_depth - len(words))
    return words


class Model:
    """What each instruction does at the controller's ports, in order."""

    def __init__(self, cfg, act, table, weight, table_fn):
        self.cfg, self.act, self.table, self.weight = cfg, act, dict(table), weight
        self.table_fn = table_fn

    def run(self, words):
        cfg = self.cfg
        acts, table_writes, steps, finals, outs = [], [], [], [], []
        pc, fault = cfg.instr_depth, ErrorCode.PC_RANGE
        for at, word in enumerate(words[:cfg.instr_depth]):
            instr = isa.decode(word)
            bad = isa.validate(instr, cfg)
            if bad is not None or isinstance(instr, Halt):
                pc, fault = at, bad.code if bad else ErrorCode.NONE
                break
            if isinstance(instr, Precomp):
                for i in range(instr.count):
                    a = self.act[instr.act_addr + i]
                    acts.append((a, instr.mode.value))
                    self.table[instr.table_addr + i] = self.table_fn(a)
                    table_writes.append((instr.table_addr + i, self.table_fn(a)))
            elif isinstance(instr, Lmma):
                for b in range(instr.planes):
                    for j in range(instr.count):
                        steps.append((self.table[instr.table_addr + j],
                                      self.weight[instr.weight_addr + b * instr.count + j],
                                      b, instr.mode.value, int(instr.clear and b == j == 0)))
            elif isinstance(instr, Store):
                finals.append(instr.c)
                outs.append(instr.out_addr * cfg.out_beats)
        return dict(acts=acts, table_writes=table_writes, steps=steps, finals=finals,
                    outs=outs, pc=pc, fault=fault)


@pytest.mark.parametrize("name,kind,stall", [
    ("tiny", "halt", 0.0), ("tiny", "end", 0.0), ("tiny", "halt", 0.5), ("m3n20", "halt", 0.3),
    ("g5", "fault", 0.0), ("noelut", "halt", 0.0)])
def test_controller(name, kind, stall):
    """``stall``: the probability that the bench LUT core holds off a finalize request in a
    cycle (the only stream the controller waits on; it takes tables and rows every cycle,
    and the blocks never refuse activations or steps). Each held cycle adds one cycle."""
    cfg = CONFIGS[name]
    rng = random.Random(f"{name}-{kind}")
    dut = Harness(cfg)
    ctrl = dut.ctrl
    step_layout, act_layout = dut.core.step_layout, dut.pre.activation_layout
    row_layout = dut.core.row_layout
    table_mask = (1 << cfg.table_word_bits) - 1

    def table_fn(a):                       # the bench table unit's (arbitrary) table word
        return (a * 0x9E3779B97F4A7C15 + 1) & table_mask

    act = {a: rng.getrandbits(cfg.act_word_bits) for a in range(ACT_WORDS)}
    table = {t: rng.getrandbits(cfg.table_word_bits) for t in range(TABLE_WORDS)}
    weight = {w: rng.getrandbits(cfg.weight_word_bits) for w in range(WEIGHT_WORDS)}
    model = Model(cfg, act, table, weight, table_fn)
    log = {k: [] for k in ("acts", "table_writes", "steps", "finals", "rows", "written")}
    starts, stops = [], []
    held = []                              # cycles a finalize request waited
    held_total = []

    async def blocks(ctx):
        """The table unit and LUT core at the contract's latencies; writes, starts, stops."""
        table_lat = TIMING.table_latency(cfg)
        fin_lat = TIMING.finalize_latency(cfg)
        beats = cfg.m * cfg.out_beats
        fin_bits = len(Value.cast(ctrl.finalize.payload))
        row_bits = len(Value.cast(ctrl.rows.payload.word))
        due_tables, due_rows = {}, {}
        cycle = 0
        signals = [ctrl.activations.valid, Value.cast(ctrl.activations.payload),
                   ctrl.steps.valid, Value.cast(ctrl.steps.payload), ctrl.finalize.valid,
                   Value.cast(ctrl.finalize.payload), ctrl.out_write.en, ctrl.out_write.addr,
                   ctrl.out_write.data, ctrl.table_write.en, ctrl.table_write.addr,
                   ctrl.table_write.data, ctrl.run.start, ctrl.run.stop, ctrl.run.pc,
                   ctrl.run.fault.as_value()]
        signals += [ctrl.finalize.ready, ctrl.tables.ready, ctrl.rows.ready, ctrl.run.overrun]
        for stream in (ctrl.activations, ctrl.steps, ctrl.finalize):
            ctx.set(stream.ready, 1)
        async for (_c, _r, a_v, a_p, s_v, s_p, f_v, f_p, o_en, o_addr, o_data, t_en, t_addr,
                   t_data, start, stop, pc, fault, f_r, t_r, r_r, overrun) in \
                ctx.tick().sample(*signals):
            assert t_r and r_r and not overrun
            if f_v and not f_r:
                held.append(cycle)
            if a_v:
                word = hwbench.field_bits(act_layout, a_p, "word")
                log["acts"].append((word, hwbench.field_bits(act_layout, a_p, "mode")))
                due_tables[cycle + table_lat] = table_fn(word)
            if s_v:
                log["steps"].append(tuple(hwbench.field_bits(step_layout, s_p, f)
                                          for f in ("tables", "codes", "plane", "mode",
                                                    "clear")))
            if f_v and f_r:
                log["finals"].append(hwbench.unpack_array(f_p, fin_bits, 1)[0])
                for i in range(beats):
                    due_rows[cycle + fin_lat + i] = (rng.getrandbits(row_bits),
                                                     i % cfg.out_beats, i == beats - 1)
            if o_en:
                log["written"].append((o_addr, o_data))
            if t_en:
                log["table_writes"].append((t_addr, t_data))
            if start:
                starts.append(cycle)
            if stop:
                stops.append((cycle, pc, ErrorCode(fault)))
            cycle += 1
            ctx.set(ctrl.finalize.ready, not (stall and rng.random() < stall))
            tables = due_tables.pop(cycle, None)
            ctx.set(ctrl.tables.valid, tables is not None)
            ctx.set(ctrl.tables.payload.word.as_value(), tables or 0)
            row = due_rows.pop(cycle, None)
            ctx.set(ctrl.rows.valid, row is not None)
            if row is not None:
                ctx.set(Value.cast(ctrl.rows.payload),
                        hwbench.pack_struct(row_layout, word=row[0], beat=row[1], last=row[2]))
                log["rows"].append(row[0])

    async def write(ctx, port, words):
        for addr, word in words.items():
            ctx.set(port.addr, addr)
            ctx.set(port.data, word)
            ctx.set(port.en, 1)
            await ctx.tick()
        ctx.set(port.en, 0)

    async def bench(ctx):
        for port, words in ((dut.act.write, act), (dut.table_load, table),
                            (dut.weight.write, weight)):
            await write(ctx, port, words)
        for _ in range(2):
            words = _program(rng, cfg, kind)
            await write(ctx, dut.instr.write, dict(enumerate(words)))
            want = model.run(words)
            for entries in log.values():
                entries.clear()
            # CTRL.start in one cycle; busy from the next one until the stop cycle.
            ctx.set(ctrl.run.start, 1)
            await ctx.tick()
            ctx.set(ctrl.run.start, 0)
            ctx.set(ctrl.run.busy, 1)
            await hwbench.wait_until(ctx, lambda: ctx.get(ctrl.run.stop), 5000, "stop")
            await ctx.tick()
            ctx.set(ctrl.run.busy, 0)
            await ctx.tick().repeat(30)            # nothing more comes out
            (stop_cycle, pc, fault), = stops
            stops.clear()
            assert (pc, fault) == (want["pc"], want["fault"])
            for k in ("acts", "table_writes", "steps", "finals"):
                assert log[k] == want[k], k
            beats = cfg.m * cfg.out_beats
            assert log["written"] == [(base + i, log["rows"][n * beats + i])
                                      for n, base in enumerate(want["outs"])
                                      for i in range(beats)]
            # Busy cycles (what CYCLES counts) are the ISS's, plus the cycles held.
            assert stop_cycle - starts[-1] == isa.phase_cycles(words, cfg) + len(held)
            held_total.append(len(held))
            held.clear()

    hwbench.run(dut, bench, [blocks, hwbench.monitor(ctrl.finalize, [])])
    assert (sum(held_total) > 0) == (stall > 0)
