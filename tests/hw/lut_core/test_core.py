# amaranth: UnusedElaboratable=no
"""LUT core: GEMM tiles against the int64 reference, stream behaviour, cycle-exact timing."""

from __future__ import annotations

import random

import numpy as np
import pytest

from hwbench import (ALL_CONFIGS, CONFIGS, field_bits, monitor, pack_array, pack_struct, run,
                     sink, source, unpack_array, wait_until)
from lutcore.errors import LutcoreError
from lutcore.hw.layouts import Mode
from lutcore.hw.lut_core import LutCore
from lutcore.spec import isa
from lutcore.spec import numerics as nx
from lutcore.sw.kernels import tables as golden


# -- reference models ------------------------------------------------------------------------

class CoreModel:
    """Transaction-level model of the core, written from docs/architecture.md (LMMA, STORE,
    "Scaling", "Buffers"): Python integers, wrap modulo 2^sum_bits."""

    def __init__(self, cfg):
        self.cfg, self.lookups = cfg, cfg.lookups
        self.acc = [[0] * cfg.n for _ in range(cfg.m)]
        self.rowsum = [0] * cfg.m

    def step(self, tables, codes, plane, mode, clear):
        """``tables``: m * L tables (row r's l-th at r * L + l), ``codes``: n * L codes
        (column c's l-th at c * L + l); unit (r, c) adds the terms of its L lookups."""
        cfg, lookups = self.cfg, self.lookups
        top = cfg.code_bits - 1
        for r in range(cfg.m):
            if clear:
                self.acc[r] = [0] * cfg.n
                self.rowsum[r] = 0
        for i, table in enumerate(tables):
            r = i // lookups
            if mode is Mode.BITSERIAL and plane == 0:
                self.rowsum[r] = nx.wrap(self.rowsum[r] - table[0], cfg.sum_bits)
            for j, code in enumerate(codes):
                c = j // lookups
                if j % lookups != i % lookups:
                    continue
                if mode is Mode.BITSERIAL:
                    index = code & ((1 << cfg.bitserial_index_bits) - 1)
                    sign = (code >> top) & 1 if cfg.symmetrize else 0
                    shift = plane
                elif cfg.has_elut:
                    index = code & ((1 << cfg.elut_index_bits) - 1)
                    sign, shift = (code >> top) & 1, 1
                else:
                    continue                  # ELUT step on a build without ELUT adds nothing
                entry = table[index] if index < cfg.table_entries else 0
                term = (-entry if sign else entry) << shift
                self.acc[r][c] = nx.wrap(self.acc[r][c] + term, cfg.sum_bits)

    def finalize(self, correction):
        cfg = self.cfg
        rows = []
        for r in range(cfg.m):
            rows.append([nx.wrap(nx.wrap(a + correction * self.rowsum[r], cfg.sum_bits) >> 1,
                                 cfg.acc_bits) for a in self.acc[r]])
        return rows


class Packer:
    """Raw stream payloads of one core."""

    def __init__(self, dut, cfg):
        self.dut, self.cfg = dut, cfg

    def step(self, tables, codes, plane, mode, clear):
        cfg = self.cfg
        return pack_struct(self.dut.step_layout,
                           tables=pack_array(np.asarray(tables).reshape(-1), cfg.table_bits),
                           codes=pack_array(codes, cfg.code_bits),
                           plane=plane, mode=mode.value, clear=int(clear))

    def finalize(self, correction):
        return pack_struct(self.dut.finalize_layout, correction=correction)

    def beats(self, rows):
        """The output beats of one finalize's m rows (lists of n outputs): row r, part j at
        beat r * beats + j, columns j*n/beats.. of the row."""
        dut, cfg = self.dut, self.cfg
        width, total = dut.beat_cols, cfg.m * dut.beats
        out = []
        for r, values in enumerate(rows):
            for j in range(dut.beats):
                b = r * dut.beats + j
                out.append(pack_struct(dut.row_layout,
                                       word=pack_array(values[j * width:(j + 1) * width],
                                                       cfg.acc_bits),
                                       beat=b, last=int(b == total - 1)))
        return out

    def unpack_step(self, raw):
        cfg, layout, lookups = self.cfg, self.dut.step_layout, self.dut.lookups
        count = cfg.m * lookups
        tables = unpack_array(field_bits(layout, raw, "tables"), cfg.table_bits,
                              count * cfg.table_entries)
        tables = [tables[r * cfg.table_entries:(r + 1) * cfg.table_entries] for r in range(count)]
        codes = unpack_array(field_bits(layout, raw, "codes"), cfg.code_bits, cfg.n * lookups,
                             signed=False)
        return (tables, codes, field_bits(layout, raw, "plane"),
                Mode(field_bits(layout, raw, "mode")), field_bits(layout, raw, "clear"))

    def unpack_finalize(self, raw):
        return unpack_array(field_bits(self.dut.finalize_layout, raw, "correction"),
                            self.dut.correction_bits, 1)[0]


def tile_steps(cfg, rng, a, w, mode, planes, zero_point, clear):
    """Steps of one LMMA (architecture "Instructions") from the golden tables and encodings:
    list of (tables [m * L][E], codes [n * L], plane, mode, clear), L = cfg.lookups."""
    entries = cfg.table_entries
    if mode is Mode.BITSERIAL:
        make = golden.bitserial_tables if cfg.symmetrize else golden.bitserial_full_tables
        tables = make(a, cfg.g)
        index, sign = golden.encode_bitserial(w, cfg.g, planes, zero_point, cfg.symmetrize)
        index_bits = cfg.bitserial_index_bits
    else:
        tables = golden.elut_tables(a, cfg.elut_g)
        index, sign = golden.encode_elut(w, cfg.elut_g)
        index, sign = index[None], sign[None]
        index_bits = cfg.elut_index_bits
    lk = cfg.lookups
    groups = tables.shape[1]
    steps_count = -(-groups // lk)
    # K groups padded to whole steps of L groups: padding tables are 0 (zero activations),
    # so whatever their codes they add 0.
    padded = np.zeros((cfg.m, steps_count * lk, entries), np.int64)
    padded[:, :groups, :tables.shape[2]] = tables
    # Bits between the index field and the sign bit are not part of the code: fill them with
    # noise to show the core ignores them. (Full bit-serial codes have no sign bit at all.)
    signed_mode = mode is Mode.ELUT or cfg.symmetrize
    sign_pos = cfg.code_bits - 1
    noise_bits = [b for b in range(index_bits, cfg.code_bits)
                  if not (signed_mode and b == sign_pos)]

    def code(b, c, j):
        if j >= groups:
            return rng.randrange(1 << cfg.code_bits)
        value = int(index[b, c, j])
        if signed_mode and sign[b, c, j]:
            value |= 1 << sign_pos
        for bit in noise_bits:
            value |= rng.randrange(2) << bit
        return value

    steps = []
    for b in range(index.shape[0]):
        for j in range(steps_count):
            # Row r's l-th table at r * L + l, column c's l-th code at c * L + l.
            tabs = [padded[r, j * lk + l].tolist() for r in range(cfg.m) for l in range(lk)]
            codes = [code(b, c, j * lk + l) for c in range(cfg.n) for l in range(lk)]
            steps.append((tabs, codes, b, mode, clear and not steps))
    return steps


def gemm_program(cfg, seed, tiles):
    """A program of LMMA/STORE pairs over random and extreme data.

    Returns ``(ops, expected)``: ops ``("step", args)`` / ``("finalize", c)`` in program
    order; expected the output rows ([n] ints), each wrap(A @ W.T) of the int64 reference
    summed over the tiles the STORE covers (DESIGN §2.3 wrap)."""
    rng = random.Random(seed)
    nrng = np.random.default_rng(seed)
    lo, hi = -(1 << (cfg.act_bits - 1)), (1 << (cfg.act_bits - 1)) - 1
    ops, expected = [], []

    def add_store(parts, c):
        # parts: LMMAs (a, w, mode, planes, z) accumulated into one output tile
        total = np.zeros((cfg.m, cfg.n), np.int64)
        for i, (a, w, mode, planes, z) in enumerate(parts):
            for st in tile_steps(cfg, rng, a, w, mode, planes, z, clear=(i == 0)):
                ops.append(("step", st))
            total += a.astype(np.int64) @ w.astype(np.int64).T      # the int64 reference
        ops.append(("finalize", c))
        expected.extend(nx.wrap(total, cfg.acc_bits).tolist())

    def weights(k, planes, z):
        return nrng.integers(0, 1 << planes, size=(cfg.n, k)) - z

    def ternary(k):
        return nrng.integers(-1, 2, size=(cfg.n, k))

    def acts(k):
        return nrng.integers(lo, hi + 1, size=(cfg.m, k))

    bitserial_ternary = cfg.weight_bits >= 2      # ternary bit-serial needs B = 2 (z = 1)
    for _ in range(tiles):
        k = int(nrng.integers(1, 4 * max(cfg.g, cfg.elut_g) + 1))    # odd K: padded groups
        planes = int(nrng.integers(1, cfg.weight_bits + 1))
        z = int(nrng.integers(0, 1 << planes))
        c = nx.correction_constant(planes, z)
        parts = [(acts(k), weights(k, planes, z), Mode.BITSERIAL, planes, z)]
        if nrng.integers(2):     # K split across two LMMAs accumulating into one tile
            k2 = int(nrng.integers(1, 2 * cfg.g + 1))
            parts.append((acts(k2), weights(k2, planes, z), Mode.BITSERIAL, planes, z))
        if cfg.has_elut and nrng.integers(2):   # ELUT accumulates into the same 2*O scale
            parts.append((acts(k), ternary(k), Mode.ELUT, 0, 0))
        add_store(parts, c)
        if cfg.has_elut:
            add_store([(acts(k), ternary(k), Mode.ELUT, 0, 0)], 0)
        if bitserial_ternary:
            add_store([(acts(k), ternary(k), Mode.BITSERIAL, 2, 1)], nx.correction_constant(2, 1))

    # Extremes: every activation at either end, every weight +1 or -1, in each mode; K long
    # enough to wrap the narrow-accumulator configurations.
    k = 8 * max(cfg.g, cfg.elut_g)
    modes = ([Mode.BITSERIAL] if bitserial_ternary else []) + ([Mode.ELUT] if cfg.has_elut else [])
    for mode in modes:
        planes, z = (2, 1) if mode is Mode.BITSERIAL else (0, 0)
        c = nx.correction_constant(planes, z) if mode is Mode.BITSERIAL else 0
        for fill in (lo, hi):
            for wsign in (1, -1):
                a = np.full((cfg.m, k), fill)
                w = np.full((cfg.n, k), wsign)
                add_store([(a, w, mode, planes, z)], c)
    return ops, expected


def simulate(cfg, ops, *, seed, idle, stall, interleave=False, observe=None, variant=None):
    """Run ``ops`` through a core; returns the transfer logs and the dut.

    Ordered (default): one source walks the program, so each STORE follows its steps.
    ``interleave``: independent step and finalize sources, racing; the expected rows then
    follow the order in which the core accepted them.
    ``observe``: a function of the dut giving signals to sample every cycle; their values
    are returned as lists, one entry per clock edge.
    ``variant``: constructor parameters beyond the config (``negate_in_unit``)."""
    dut = LutCore.from_config(cfg, **(variant or {}))
    observe = observe(dut) if observe else []
    pk = Packer(dut, cfg)
    rng = random.Random(seed)
    program = [(dut.steps, pk.step(*args)) if kind == "step" else (dut.finalize, pk.finalize(args))
               for kind, args in ops]
    step_items = [raw for stream, raw in program if stream is dut.steps]
    fin_items = [raw for stream, raw in program if stream is dut.finalize]
    logs = {"steps": [], "finalize": [], "rows": []}
    samples = [[] for _ in observe]
    rows_due = cfg.m * dut.beats * len(fin_items)

    async def ordered(ctx):
        for stream, raw in program:
            while idle and rng.random() < idle:
                ctx.set(stream.payload.as_value(), rng.getrandbits(len(stream.payload.as_value())))
                await ctx.tick()
            ctx.set(stream.payload.as_value(), raw)
            ctx.set(stream.valid, 1)
            await ctx.tick().until(stream.ready)
            ctx.set(stream.valid, 0)

    async def observer(ctx):
        async for _clk, _rst, *values in ctx.tick().sample(*observe):
            for log, v in zip(samples, values):
                log.append(v)

    async def main(ctx):
        def done():
            return (len(logs["steps"]) >= len(step_items) and
                    len(logs["finalize"]) >= len(fin_items) and len(logs["rows"]) >= rows_due)
        await wait_until(ctx, done, 30 * (len(step_items) + rows_due) + 200,
                         "all steps, finalize requests and output rows")
        for _ in range(2 * (dut.step_latency + dut.finalize_latency) + 8):
            await ctx.tick()
        assert not ctx.get(dut.rows.valid) and not ctx.get(dut.busy), "core did not drain"

    background = [
        sink(dut.rows, rng, stall),
        monitor(dut.steps, logs["steps"]),
        monitor(dut.finalize, logs["finalize"]),
        monitor(dut.rows, logs["rows"]),
    ]
    if interleave:
        background += [source(dut.steps, step_items, rng, idle),
                       source(dut.finalize, fin_items, random.Random(seed + 1), idle)]
    else:
        background.append(ordered)
    if observe:
        background.append(observer)
    run(dut, main, background)
    assert [p for _, p in logs["steps"]] == step_items, "steps lost or duplicated"
    assert [p for _, p in logs["finalize"]] == fin_items, "finalize requests lost or duplicated"
    assert len(logs["rows"]) == rows_due, "extra output beats"
    return dut, pk, logs, samples


def replay(cfg, pk, logs):
    """Expected output rows of the observed acceptance order, through the model."""
    model = CoreModel(cfg)
    events = [(c, 0, "step", p) for c, p in logs["steps"]]
    events += [(c, 1, "finalize", p) for c, p in logs["finalize"]]
    cycles = [c for c, _, _, _ in events]
    assert len(set(cycles)) == len(cycles), "a step and a finalize accepted in the same cycle"
    rows = []
    for _, _, kind, raw in sorted(events):
        if kind == "step":
            model.step(*pk.unpack_step(raw))
        else:
            rows += pk.beats(model.finalize(pk.unpack_finalize(raw)))
    return rows


# -- tests -----------------------------------------------------------------------------------

# Two seeds on the small configurations, one on the default tile (each of its runs is
# slow in the Amaranth simulator; its second seed is in the slow sweep).
GEMM_CASES = [(name, seed, 3) for name in CONFIGS for seed in (1, 2)
              if name != "default" or seed == 1]
GEMM_CASES += [pytest.param("default", 2, 3, marks=pytest.mark.slow)]
# Slow sweep: more seeds and tiles, and the extra configurations.
GEMM_CASES += [pytest.param(name, seed, 6, marks=pytest.mark.slow)
               for name in ALL_CONFIGS for seed in (3, 4, 5)]


@pytest.mark.parametrize("name, seed, tiles", GEMM_CASES)
def test_gemm_tiles_match_int64_reference(name, seed, tiles):
    cfg = ALL_CONFIGS[name]
    ops, expected = gemm_program(cfg, seed, tiles)
    dut, pk, logs, _ = simulate(cfg, ops, seed=seed, idle=0.25, stall=0.3)
    want = [beat for t in range(len(expected) // cfg.m)
            for beat in pk.beats(expected[t * cfg.m:(t + 1) * cfg.m])]
    got = [p for _, p in logs["rows"]]
    per_tile = cfg.m * dut.beats
    for i, (g, w) in enumerate(zip(got, want)):
        assert g == w, (f"output beat {i} (tile {i // per_tile}, beat {i % per_tile}) differs: "
                        f"got {unpack_array(g, cfg.acc_bits, dut.beat_cols)}, "
                        f"want {unpack_array(w, cfg.acc_bits, dut.beat_cols)}")
    assert got == replay(cfg, pk, logs)


def random_steps(cfg, rng: random.Random, count: int, lookups: int = 1):
    """Arbitrary steps: full-range entries, any code bits, any plane, random clear."""
    half = 1 << (cfg.table_bits - 1)
    ops = []
    for i in range(count):
        tables = [[rng.randrange(-half, half) for _ in range(cfg.table_entries)]
                  for _ in range(cfg.m * lookups)]
        codes = [rng.getrandbits(cfg.code_bits) for _ in range(cfg.n * lookups)]
        plane = rng.getrandbits(nx.unsigned_bits(cfg.weight_bits - 1))
        mode = rng.choice(list(Mode))
        ops.append(("step", (tables, codes, plane, mode, i == 0 or rng.random() < 0.2)))
    return ops


RACE_CASES = [(name, seed) for name in CONFIGS if name != "default" for seed in (3, 4)]
RACE_CASES += [pytest.param(name, seed, marks=pytest.mark.slow)
               for name in ALL_CONFIGS for seed in (5, 6, 7)]


@pytest.mark.parametrize("name, seed", RACE_CASES)
def test_racing_step_and_finalize_streams(name, seed):
    """Independent sources: each finalize covers exactly the steps accepted before it."""
    cfg = ALL_CONFIGS[name]
    rng = random.Random(seed)
    ops = random_steps(cfg, rng, 60)
    # Any c of the finalize field: c = 2^B - 1 - 2z spans -(2^B - 1)..2^B - 1.
    top = (1 << cfg.weight_bits) - 1
    ops += [("finalize", rng.randint(-top, top)) for _ in range(8)]
    dut, pk, logs, _ = simulate(cfg, ops, seed=seed, idle=0.5, stall=0.3, interleave=True)
    assert [p for _, p in logs["rows"]] == replay(cfg, pk, logs)


@pytest.mark.parametrize("name", ["g2wrap", "m3n5g3", "g5"])
def test_negation_in_the_unit_gives_the_same_rows(name):
    """The area study's ladder rung: arbitrary entries (the extremes included), any codes and
    planes, outputs that wrap: the rows equal the step model's, as with the carry-in."""
    cfg = ALL_CONFIGS[name]
    rng = random.Random(11)
    ops = random_steps(cfg, rng, 50)
    half = 1 << (cfg.table_bits - 1)
    extreme = [[-half] * cfg.table_entries for _ in range(cfg.m)]
    codes = [(1 << cfg.code_bits) - 1] * cfg.n         # every sign bit set: -(-half) << b
    ops += [("step", (extreme, codes, (1 << nx.unsigned_bits(cfg.weight_bits - 1)) - 1,
                      Mode.BITSERIAL, False))] * 3
    top = (1 << cfg.weight_bits) - 1
    ops += [("finalize", rng.randint(-top, top)) for _ in range(3)]
    dut, pk, logs, _ = simulate(cfg, ops, seed=11, idle=0.3, stall=0.3,
                                variant={"negate_in_unit": True})
    assert dut.negate_in_unit
    assert [p for _, p in logs["rows"]] == replay(cfg, pk, logs)


@pytest.mark.parametrize("name, lookups", [("g2wrap", 2), ("m3n5g3", 3), ("m3n20", 2),
                                           ("noelut", 4), ("full", 2)])
def test_l_lookups_per_unit_sum_before_one_accumulator(name, lookups):
    """K = g x L: every unit adds L signed lookups a step (the extremes included, outputs
    wrapping at the narrow configurations), as the step model says; same timing as L = 1."""
    cfg = ALL_CONFIGS[name].replace(lookups=lookups)
    rng = random.Random(20 + lookups)
    ops = random_steps(cfg, rng, 40, lookups)
    half = 1 << (cfg.table_bits - 1)
    extreme = [[-half] * cfg.table_entries for _ in range(cfg.m * lookups)]
    codes = [(1 << cfg.code_bits) - 1] * (cfg.n * lookups)
    ops += [("step", (extreme, codes, (1 << nx.unsigned_bits(cfg.weight_bits - 1)) - 1,
                      Mode.BITSERIAL, False))] * 3
    top = (1 << cfg.weight_bits) - 1
    ops += [("finalize", rng.randint(-top, top)) for _ in range(4)]
    dut, pk, logs, _ = simulate(cfg, ops, seed=lookups, idle=0.3, stall=0.3, interleave=True)
    assert (dut.lookups, dut.step_latency) == \
        (lookups, LutCore.from_config(cfg.replace(lookups=1)).step_latency)
    assert [p for _, p in logs["rows"]] == replay(cfg, pk, logs)


@pytest.mark.parametrize("name", list(CONFIGS))
def test_one_step_per_cycle_and_documented_latencies(name):
    cfg = CONFIGS[name]
    rng = random.Random(5)
    count = 12 if name == "default" else 24
    ops = random_steps(cfg, rng, count) + [("finalize", 1), ("finalize", -1)]
    dut, pk, logs, (acc_first, acc_last, rowsum0) = simulate(
        cfg, ops, seed=0, idle=0, stall=0,
        observe=lambda dut: [dut.acc[0][0], dut.acc[cfg.m - 1][cfg.n - 1], dut.rowsum[0]])

    steps = [c for c, _ in logs["steps"]]
    fins = [c for c, _ in logs["finalize"]]
    rows = [c for c, _ in logs["rows"]]
    assert steps == list(range(steps[0], steps[0] + count)), "bubble in the step stream"
    # A finalize right behind the steps is accepted at once (it waits inside the core).
    assert fins[0] == steps[-1] + 1
    # The second is accepted once the first has begun to issue, ...
    assert fins[1] == fins[0] + dut.step_latency
    # ... and its beats follow the first's directly, or its own latency, whichever is later.
    per = cfg.m * dut.beats
    first = [fins[0] + dut.finalize_latency + i for i in range(per)]
    start = max(fins[1] + dut.finalize_latency, first[-1] + 1)
    assert rows == first + [start + i for i in range(per)]
    assert (dut.step_latency, dut.finalize_latency) == (
        isa.TIMING.step_latency(cfg), isa.TIMING.finalize_latency(cfg))

    # Accumulators sampled at edge k hold exactly the steps accepted up to k - step_latency,
    # except that a clearing step accepted at k - step_latency + 1 has already zeroed them.
    model = CoreModel(cfg)
    accepted = {t: pk.unpack_step(raw) for t, raw in logs["steps"]}
    cleared = 0
    for k in range(len(acc_first)):
        t = k - dut.step_latency
        if t in accepted:
            model.step(*accepted[t])
        clearing = t + 1 in accepted and accepted[t + 1][-1]
        cleared += clearing
        expect = (0, 0, 0) if clearing else (
            model.acc[0][0], model.acc[cfg.m - 1][cfg.n - 1], model.rowsum[0])
        sb = cfg.sum_bits
        assert nx.wrap(acc_first[k], sb) == expect[0], f"acc[0][0] at cycle {k}"
        assert nx.wrap(acc_last[k], sb) == expect[1], f"acc[-1][-1] at {k}"
        assert nx.wrap(rowsum0[k], sb) == expect[2], f"rowsum[0] at cycle {k}"
    assert cleared, "no clearing step in the stream"
    assert [p for _, p in logs["rows"]] == replay(cfg, pk, logs)


# -- parameters --------------------------------------------------------------------------------

GOOD = dict(m=2, n=64, g=4, elut_g=3, act_bits=8, acc_bits=32, weight_bits=4)


@pytest.mark.parametrize("change, error, message", [
    (dict(m=17), LutcoreError, r"^LutCore: m = 17 is invalid: allowed 1\.\.16$"),
    (dict(n=0), LutcoreError, r"^LutCore: n = 0 is invalid: allowed 1\.\.512$"),
    (dict(g=1), LutcoreError, r"^LutCore: g = 1 is invalid: allowed 2\.\.6$"),
    (dict(elut_g=6), LutcoreError,
     r"^LutCore: elut_g = 6 is invalid: allowed 0 \(off\) or 2\.\.5$"),
    (dict(weight_bits=5), LutcoreError, r"^LutCore: weight_bits = 5 is invalid: allowed 1\.\.4$"),
    (dict(act_bits=17), LutcoreError, r"^LutCore: act_bits = 17 is invalid: allowed 2\.\.16$"),
    (dict(acc_bits=14), LutcoreError,
     r"^LutCore: acc_bits = 14 is invalid: allowed 15\.\.48 \(at least table_bits \+ "
     r"weight_bits = 15\)$"),
    (dict(acc_bits=49), LutcoreError, r"^LutCore: acc_bits = 49 is invalid: allowed 2\.\.48$"),
    (dict(n="64"), TypeError, r"^LutCore: n must be an integer, not '64'$"),
    (dict(symmetrize=None), TypeError, r"^LutCore: symmetrize must be True or False, not None$"),
    (dict(beats=3), LutcoreError, r"^LutCore: beats = 3 is invalid: must divide n = 64$"),
    (dict(beats=0), LutcoreError, r"^LutCore: beats = 0 is invalid: allowed 1\.\.512$"),
    (dict(broadcast_cols=0), LutcoreError,
     r"^LutCore: broadcast_cols = 0 is invalid: allowed 1\.\.512$"),
])
def test_parameters_are_validated(change, error, message):
    with pytest.raises(error, match=message):
        LutCore(**{**GOOD, **change})


@pytest.mark.parametrize("name", list(CONFIGS))
def test_widths_come_from_the_config(name):
    cfg = CONFIGS[name]
    core = LutCore.from_config(cfg)
    assert (core.m, core.n, core.g, core.elut_g, core.act_bits, core.acc_bits, core.weight_bits,
            core.symmetrize) == (cfg.m, cfg.n, cfg.g, cfg.elut_g, cfg.act_bits, cfg.acc_bits,
                                 cfg.weight_bits, cfg.symmetrize)
    assert core.sum_bits == cfg.sum_bits == cfg.acc_bits + 1
    assert core.step_layout["tables"].width == cfg.table_word_bits
    assert core.step_layout["codes"].width == cfg.weight_word_bits
    assert core.row_layout["word"].width * cfg.out_beats == cfg.out_word_bits
    assert core.row_layout["word"].width == cfg.out_beat_bits
    assert len(core.acc) == cfg.m and all(len(row) == cfg.n for row in core.acc)
    # c = 2^B - 1 - 2z must fit for every B <= weight_bits and every zero point.
    lim = 1 << (core.correction_bits - 1)
    for planes in range(1, cfg.weight_bits + 1):
        for z in range(1 << planes):
            assert -lim <= nx.correction_constant(planes, z) < lim
    with pytest.raises(AttributeError):
        core.n = 1
