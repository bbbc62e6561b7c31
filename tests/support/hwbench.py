"""Stream test-bench parts for Amaranth simulations of the gateware blocks.

- :func:`monitor`: a passive background testbench recording every transfer of a stream as
  ``(cycle, raw payload)`` and checking the stream rules on it: once ``valid`` is high without
  ``ready``, the next cycle must still be ``valid`` with the same payload.
- :func:`source`: drives a list of raw payloads, with random idle cycles (``idle``
  probability), random garbage on the payload while idle.
- :func:`sink`: background ``ready`` driver with random backpressure (``stall`` probability);
  each cycle it also checks that ``valid`` does not depend on ``ready``.
- :func:`run`: builds the simulator, runs until the main testbench returns.
- payload packing helpers working on raw integers (one simulator update per payload).

Cycle numbers count rising clock edges from the start of the simulation; a transfer "in
cycle k" is one sampled at edge k. All monitors count alike, so their cycles compare.
"""

from __future__ import annotations

import random

from amaranth.hdl import Value
from amaranth.sim import Simulator

CLOCK_PERIOD = 1e-8


# -- raw payload packing --------------------------------------------------------------------

def pack_array(values, width: int) -> int:
    mask = (1 << width) - 1
    raw = 0
    for i, v in enumerate(values):
        raw |= (int(v) & mask) << (i * width)
    return raw


def unpack_array(raw: int, width: int, count: int, signed: bool = True) -> list[int]:
    mask = (1 << width) - 1
    half = 1 << (width - 1)
    out = []
    for i in range(count):
        v = (raw >> (i * width)) & mask
        out.append(v - (1 << width) if signed and v >= half else v)
    return out


def pack_struct(layout, **fields) -> int:
    """Raw bits of a StructLayout value; each field given as an int or an already packed int."""
    raw = 0
    for name, value in fields.items():
        field = layout[name]
        raw |= (int(value) & ((1 << field.width) - 1)) << field.offset
    return raw


def field_bits(layout, raw: int, name: str) -> int:
    field = layout[name]
    return (raw >> field.offset) & ((1 << field.width) - 1)


# -- testbench processes --------------------------------------------------------------------

def monitor(stream, log: list):
    """Background testbench appending ``(cycle, raw payload)`` per transfer to ``log``."""
    payload = Value.cast(stream.payload)

    async def process(ctx):
        cycle = 0
        pending = None                  # payload offered but not taken at the last edge
        async for _clk, _rst, valid, ready, value in ctx.tick().sample(
                stream.valid, stream.ready, payload):
            if pending is not None:
                assert valid, f"cycle {cycle}: valid dropped before the transfer"
                assert value == pending, f"cycle {cycle}: payload changed before the transfer"
            if valid and ready:
                log.append((cycle, value))
            pending = value if valid and not ready else None
            cycle += 1
    return process


def source(stream, items, rng: random.Random, idle: float = 0.0):
    """Testbench offering each raw payload of ``items`` in turn."""
    payload = Value.cast(stream.payload)
    width = len(payload)

    async def process(ctx):
        for raw in items:
            while idle and rng.random() < idle:
                # While not valid the payload is meaningless: make it garbage.
                ctx.set(payload, rng.getrandbits(width))
                await ctx.tick()
            ctx.set(payload, raw)
            ctx.set(stream.valid, 1)
            await ctx.tick().until(stream.ready)
            ctx.set(stream.valid, 0)
    return process


def sink(stream, rng: random.Random, stall: float = 0.0, check_valid: bool = True):
    """Background testbench driving ``ready``: low with probability ``stall`` each cycle."""
    async def process(ctx):
        while True:
            if check_valid:
                # Stream rule: valid never waits for ready (no combinational path ready->valid).
                ctx.set(stream.ready, 0)
                low = ctx.get(stream.valid)
                ctx.set(stream.ready, 1)
                assert ctx.get(stream.valid) == low, "valid depends on ready"
            ctx.set(stream.ready, not (stall and rng.random() < stall))
            await ctx.tick()
    return process


async def wait_until(ctx, condition, timeout: int, what: str):
    for _ in range(timeout):
        if condition():
            return
        await ctx.tick()
    raise AssertionError(f"timeout after {timeout} cycles waiting for {what}")


def run(dut, main, background=()):
    """Simulate ``dut`` with critical testbench ``main`` and background testbenches."""
    sim = Simulator(dut)
    sim.add_clock(CLOCK_PERIOD)
    for process in background:
        sim.add_testbench(process, background=True)
    sim.add_testbench(main)
    sim.run()


# -- configurations under test ----------------------------------------------------------------

import dataclasses  # noqa: E402

from lutcore.spec.config import CoreConfig, preset  # noqa: E402

CONFIGS: dict[str, CoreConfig] = {
    "tiny": preset("tiny"),
    "default": preset("default"),
    # odd sizes: three rows, five columns, g = 3, three planes, ELUT g = 2
    "m3n5g3": CoreConfig(name="m3n5g3", m=3, n=5, g=3, weight_bits=3, acc_bits=16, elut_g=2),
    # smallest group; acc_bits at its minimum so that outputs wrap (DESIGN §2.3)
    "g2wrap": CoreConfig(name="g2wrap", m=2, n=3, g=2, weight_bits=2, acc_bits=12, elut_g=2),
    # g = 5 with a 41-entry ELUT g = 4 table
    "g5": CoreConfig(name="g5", m=1, n=4, g=5, weight_bits=4, acc_bits=20, elut_g=4),
    # unsymmetrized baseline: full 2^g tables, unsigned bit-serial codes
    "full": CoreConfig(name="full", m=2, n=6, g=4, weight_bits=2, acc_bits=24, elut_g=3,
                       symmetrize=False),
    # full tables where the ELUT sign bit is also the top bit-serial index bit
    "full_g5": CoreConfig(name="full_g5", m=1, n=4, g=5, weight_bits=3, acc_bits=20, elut_g=3,
                          symmetrize=False),
    # three broadcast groups (8 + 8 + 4 columns) and rows of five 4-output beats
    "m3n20": CoreConfig(name="m3n20", m=3, n=20, g=3, weight_bits=2, acc_bits=32, elut_g=2),
    # K = g x L: three lookups per unit a step (words of three groups per row and column),
    # odd rows and columns, narrow accumulators
    "l3": CoreConfig(name="l3", m=2, n=5, g=3, weight_bits=3, acc_bits=18, elut_g=2,
                     lookups=3),
    # no ELUT mode, 6-bit activations, narrow accumulators (wrap)
    "noelut": CoreConfig(name="noelut", m=2, n=4, g=3, weight_bits=4, act_bits=6, acc_bits=14,
                         elut_g=0),
}

# Extra configurations for the slow sweeps (`make regress`): the large preset, and the widest
# geometry a config allows (g = 6, ELUT g = 5 with 122 entries, 16-bit activations).
SLOW_CONFIGS: dict[str, CoreConfig] = {
    "large": preset("large"),
    "g6e5": CoreConfig(name="g6e5", m=2, n=3, g=6, weight_bits=4, act_bits=16, acc_bits=48,
                       elut_g=5),
}
ALL_CONFIGS = {**CONFIGS, **SLOW_CONFIGS}

# The tiny preset with each other host word width (address decode, sub-words, CSR widths).
HOST_BITS_CONFIGS: dict[str, CoreConfig] = {
    f"tiny_h{hb}": dataclasses.replace(CONFIGS["tiny"], name=f"tiny_h{hb}", host_bits=hb)
    for hb in (8, 16, 64)
}
