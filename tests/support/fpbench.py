"""Benches shared by the floating-point operator tests (adder, multiplier): the special
operands of a format, an Amaranth-simulator run of a two-operand stream component under
random idle and backpressure, and a Verilator run through the cocotb bench
``lutcore.sim.tb_fpadd`` (many operators side by side behind one handshake)."""

from __future__ import annotations

import random

import numpy as np
from amaranth.lib.wiring import Out
from amaranth.sim import Simulator

from fpref import Fmt


def specials(f: Fmt) -> list[int]:
    """Both signs of: zero, the smallest, a middle and the largest subnormal, the smallest
    normal, one and its neighbours, the largest finite value, infinity, quiet and
    signalling NaNs."""
    m = f.man_bits
    top = 1 << (m - 1)
    base = [0, 1, (1 << m) >> 1 | 1, (1 << m) - 1, f.min_normal, f.min_normal + 1,
            f.one, f.one + 1, f.one - 1, f.max_finite - 1, f.max_finite, f.inf,
            f.inf | top, f.inf | ((1 << m) - 1), f.inf | 1]
    return sorted({x | s for x in base for s in (0, f.sign)})


def result_stream(dut):
    """The one output stream of ``dut`` (the adder's ``sum``, the multiplier's
    ``product``)."""
    names = [name for name, member in dut.signature.members.items()
             if member.flow == Out and member.is_signature]
    assert len(names) == 1, names
    return getattr(dut, names[0])


def simulate(dut, a, b, *, seed: int = 0, idle: float = 0.3,
             stall: float = 0.3) -> tuple[np.ndarray, int]:
    """Push the pairs through ``dut``'s ``a_b`` stream with random idle cycles (valid low)
    and backpressure (the result stream's ``ready`` low); the results in the order they came
    out and the cycles taken. Checks the stream rules on the result (a stalled result stays),
    and that nothing comes out once every result is in."""
    a, b = [int(x) for x in a], [int(x) for x in b]
    n, rng, got, cycles = len(a), random.Random(seed), [], [0]
    out = result_stream(dut)

    async def bench(ctx):
        sent, offered, held = 0, False, None
        while len(got) < n:
            if not offered and sent < n and rng.random() >= idle:
                ctx.set(dut.a_b.payload.a, a[sent])
                ctx.set(dut.a_b.payload.b, b[sent])
                ctx.set(dut.a_b.valid, 1)
                offered = True
            elif not offered:
                ctx.set(dut.a_b.valid, 0)
            ready = rng.random() >= stall
            ctx.set(out.ready, ready)
            accepted = offered and ctx.get(dut.a_b.ready)
            valid, payload = ctx.get(out.valid), ctx.get(out.payload)
            if held is not None:
                assert valid and payload == held, "a stalled result changed or vanished"
            held = payload if valid and not ready else None
            await ctx.tick()
            cycles[0] += 1
            assert cycles[0] < 10 * n + 100, f"{len(got)} of {n} results after {cycles[0]}"
            if accepted:
                sent, offered = sent + 1, False
            if valid and ready:
                got.append(payload)
        ctx.set(dut.a_b.valid, 0)
        ctx.set(out.ready, 1)
        for _ in range(dut.LATENCY + 3):
            assert not ctx.get(out.valid), "a result came out twice"
            await ctx.tick()

    sim = Simulator(dut)
    sim.add_clock(1e-6)
    sim.add_testbench(bench)
    sim.run()
    return np.array(got, np.uint64), cycles[0]


def lone_result(dut, a: int, b: int, cycles: int) -> list[tuple[int, int]]:
    """Offer one pair for one cycle (the result stream always ready) and watch ``cycles``
    more: every (cycle, payload) the result stream offered, counted from the acceptance."""
    out, seen = result_stream(dut), []

    async def bench(ctx):
        ctx.set(out.ready, 1)
        ctx.set(dut.a_b.payload.a, a)
        ctx.set(dut.a_b.payload.b, b)
        ctx.set(dut.a_b.valid, 1)
        assert ctx.get(dut.a_b.ready)
        await ctx.tick()
        ctx.set(dut.a_b.valid, 0)
        for cycle in range(1, cycles + 1):
            if ctx.get(out.valid):
                seen.append((cycle, ctx.get(out.payload)))
            await ctx.tick()

    sim = Simulator(dut)
    sim.add_clock(1e-6)
    sim.add_testbench(bench)
    sim.run()
    return seen


def run_lanes(verilog: str, toplevel: str, tag: str, a, b, width: int, lanes: int, tmp_path,
              *, idle: float = 0.05, stall: float = 0.05, seed: int = 1) -> np.ndarray:
    """The results of the pairs from a Verilator model of ``lanes`` operators behind one
    handshake (``verilog``, top module ``toplevel``, ports as
    :func:`lutcore.sim.tb_fpadd.lanes_verilog`'s: lane i's operands in bits
    ``[2*width*i, 2*width*(i+1))`` of ``a_b__payload``, ``a`` low, its result in
    ``[width*i, width*(i+1))`` of ``sum__payload``), run by the cocotb bench
    ``lutcore.sim.tb_fpadd``."""
    from lutcore.sim import runner

    model = runner.build_model(verilog, toplevel, tag)
    vectors, out = tmp_path / "pairs.npz", tmp_path / "results.npy"
    np.savez(vectors, a=np.asarray(a, np.uint64), b=np.asarray(b, np.uint64), width=width,
             lanes=lanes)
    sim_dir = tmp_path / "sim"
    sim_dir.mkdir()
    runner.run_bench(model, "lutcore.sim.tb_fpadd", seed=seed, test_dir=sim_dir,
                     env={"LUTCORE_FPADD_IN": str(vectors), "LUTCORE_FPADD_OUT": str(out),
                          "LUTCORE_SIM_SEED": str(seed), "LUTCORE_SIM_IDLE": str(idle),
                          "LUTCORE_SIM_STALL": str(stall)})
    return np.load(out)
