# amaranth: UnusedElaboratable=no

"""The FP LUT core against the FP golden model (:func:`lutcore.sw.kernels.fp.fp_lut_gemm`):
a GEMM tile fed as the contract's steps (every plane of a step before the next step), then a
finalize; every output bit for bit (NaN as NaN), in both modes, with L = 1 and 3, FP16 and
FP32 accumulators, B-bit weights with a zero point, random idle and output backpressure; a
second finalize of the same sums gives the same rows, and the first row comes at the
documented latency. Amaranth's simulator builds these many FP adders slowly: the fast suite
runs one unit, ``make regress`` 2 x 1 tiles (two rows, so the row sums and the row
selection of the output are exercised)."""

from __future__ import annotations

import random

import ml_dtypes
import numpy as np
import pytest
from amaranth.hdl import Value
from amaranth.sim import Simulator

from fpref import FMT, is_nan
from hwbench import pack_array, pack_struct, unpack_array

from lutcore.hw.layouts import Mode
from lutcore.hw.lut_core.fp_core import FpLutCore
from lutcore.sw.kernels.fp import fp_lut_gemm, fp_tables
from lutcore.sw.kernels.packing import pack_bitserial, pack_elut

DTYPES = {"fp16": (np.float16, np.uint16), "bf16": (ml_dtypes.bfloat16, np.uint16),
          "fp32": (np.float32, np.uint32)}


def steps_of(dut, a, packed, mode, table_format, symmetrize):
    """Raw step payloads of one output tile in the contract's order, and c."""
    geo = dut._geometry
    lk, m, n = dut.lookups, dut.m, dut.n
    group = dut.g if mode == "bitserial" else dut.elut_g
    h = fp_tables(a, group, mode, symmetrize=symmetrize, table_format=table_format)
    h = h.view(DTYPES[table_format][1]).astype(np.int64)            # [m, J, E] bits
    if mode == "bitserial":
        u, s = packed.codes(symmetrize)
        planes, c = packed.weight_bits, packed.correction
    else:
        u, s = packed.codes()
        u, s, planes, c = u[None], s[None], 1, 0
    codes = u.astype(np.int64) | (s.astype(np.int64) << (geo.code_bits - 1))   # [P, N, J]
    groups = h.shape[1]
    steps = -(-groups // lk)
    tables = np.zeros((m, steps * lk, geo.entries), np.int64)
    tables[:, :groups, :h.shape[2]] = h
    codes_p = np.zeros((planes, n, steps * lk), np.int64)
    codes_p[:, :, :groups] = codes
    width = dut._table.width
    items = []
    for j in range(steps):
        for b in range(planes):
            tab = [tables[r, j * lk + l] for r in range(m) for l in range(lk)]
            cod = [codes_p[b, col, j * lk + l] for col in range(n) for l in range(lk)]
            items.append(pack_struct(
                dut.step_layout,
                tables=pack_array(np.concatenate(tab), width),
                codes=pack_array(cod, geo.code_bits), plane=b,
                mode=(Mode.ELUT if mode == "elut" else Mode.BITSERIAL).value,
                clear=int(not items)))
    return items, c


def simulate(dut, items, c, *, seed, idle, stall, finalizes=1):
    rng = random.Random(seed)
    rows, offered = [], []
    sim = Simulator(dut)
    sim.add_clock(1e-8)

    async def bench(ctx):
        cycle = 0
        for raw in items:
            while idle and rng.random() < idle:
                await ctx.tick()
                cycle += 1
            ctx.set(Value.cast(dut.steps.payload), raw)
            ctx.set(dut.steps.valid, 1)
            while not ctx.get(dut.steps.ready):
                await ctx.tick()
                cycle += 1
            await ctx.tick()
            cycle += 1
            ctx.set(dut.steps.valid, 0)
        for _ in range(finalizes):
            ctx.set(dut.finalize.payload.correction, c)
            ctx.set(dut.finalize.valid, 1)
            while not ctx.get(dut.finalize.ready):
                await ctx.tick()
                cycle += 1
            accepted = cycle
            await ctx.tick()
            cycle += 1
            ctx.set(dut.finalize.valid, 0)
            got = 0
            while got < dut.m:
                ready = not (stall and rng.random() < stall)
                ctx.set(dut.rows.ready, ready)
                if ctx.get(dut.rows.valid):
                    if not offered or offered[-1][0] != accepted:
                        offered.append((accepted, cycle))
                    if ready:
                        rows.append(ctx.get(Value.cast(dut.rows.payload.word)))
                        got += 1
                await ctx.tick()
                cycle += 1
                assert cycle < 20000, "no rows"
            ctx.set(dut.rows.ready, 0)

    sim.add_testbench(bench)
    sim.run()
    return rows, offered


def check_rows(dut, rows, want_bits, acc):
    f = FMT[acc]
    for r, raw in enumerate(rows):
        raw = int(raw) if not isinstance(raw, int) else raw
        got = unpack_array(raw, dut._acc.width, dut.n, signed=False)
        for col, (g, w) in enumerate(zip(got, want_bits[r % dut.m])):
            assert g == w or (is_nan(g, f) and is_nan(int(w), f)), \
                f"row {r} column {col}: got {g:#x}, want {int(w):#x}"


CASES = [
    # mode, act, table, acc, g, elut_g, L, weight_bits, zero, symmetrize
    ("bitserial", "fp16", "fp32", "fp32", 4, 3, 1, 2, 1, True),
    ("elut", "fp16", "fp32", "fp32", 4, 3, 3, 2, 1, True),
    ("bitserial", "bf16", "bf16", "fp32", 3, 2, 3, 3, 2, True),
    ("bitserial", "fp16", "fp16", "fp16", 4, 0, 2, 2, 1, False),
]


@pytest.mark.slow
@pytest.mark.parametrize("mode,act,table,acc,g,elut_g,lookups,bits,zero,sym", CASES)
def test_tiles_match_the_golden_model(mode, act, table, acc, g, elut_g, lookups, bits, zero,
                                      sym):
    m, n, k = 2, 1, 23
    dut = FpLutCore(m=m, n=n, g=g, elut_g=elut_g, weight_bits=max(bits, 2), symmetrize=sym,
                    lookups=lookups, table_format=table, acc_format=acc)
    rng = np.random.default_rng(g * 10 + lookups)
    a = (rng.standard_normal((m, k)) * np.exp2(rng.integers(-4, 5, (m, k)))).astype(
        DTYPES[act][0])
    a[0, 3] = np.inf if act == "fp16" else a[0, 3]           # an infinity in one row
    if mode == "elut":
        w = rng.integers(-1, 2, (n, k))
        packed = pack_elut(w, g=elut_g)
    else:
        w = rng.integers(-zero, (1 << bits) - zero, (n, k))
        packed = pack_bitserial(w, g=g, weight_bits=bits, zero_point=zero)
    items, c = steps_of(dut, a, packed, mode, table, sym)
    want = fp_lut_gemm(a, packed, act_format=act, table_format=table, acc_format=acc,
                       symmetrize=sym, lookups=lookups)
    want_bits = want.view(DTYPES[acc][1]).astype(np.int64)
    rows, offered = simulate(dut, items, c, seed=g, idle=0.3, stall=0.4, finalizes=2)
    assert len(rows) == 2 * m
    check_rows(dut, rows, want_bits, acc)


def test_first_row_at_the_documented_latency():
    """One unit, L = 2, K = 19 (a padding group in the last step): the golden value, and row
    0 exactly finalize_latency cycles after the finalize's acceptance, twice."""
    dut = FpLutCore(m=1, n=1, g=4, elut_g=0, weight_bits=2, lookups=2)
    rng = np.random.default_rng(1)
    a = rng.standard_normal((1, 19)).astype(np.float16)
    w = rng.integers(-1, 2, (1, 19))
    packed = pack_bitserial(w, g=4)
    items, c = steps_of(dut, a, packed, "bitserial", "fp32", True)
    rows, offered = simulate(dut, items, c, seed=1, idle=0.3, stall=0, finalizes=2)
    assert [first - accepted for accepted, first in offered] == [dut.finalize_latency] * 2
    want = fp_lut_gemm(a, packed, act_format="fp16", lookups=2).view(np.uint32)
    check_rows(dut, rows, want.astype(np.int64), "fp32")
