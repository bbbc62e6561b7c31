"""cocotb bench of the floating-point adder (:class:`lutcore.hw.fp.FPAdder`) on Verilator,
many additions per clock.

The model is :func:`lanes_verilog`: ``lanes`` adders side by side behind one stream
handshake, so one beat carries ``lanes`` operand pairs and Python spends one write and one
read per beat rather than per addition. The bench only drives and collects; the caller
compares the sums with its reference.

Parameters from the environment: ``LUTCORE_FPADD_IN`` (an ``.npz`` with ``a`` and ``b``,
raw bit patterns of at most 32 bits, ``width`` and ``lanes``), ``LUTCORE_FPADD_OUT``
(where the sums are saved, ``.npy``, in operand order), ``LUTCORE_SIM_SEED``, and
``LUTCORE_SIM_IDLE`` / ``LUTCORE_SIM_STALL`` (probability that a beat is held back / that
``sum.ready`` is low in a cycle).
"""

from __future__ import annotations

import os
import random
import time

import cocotb
import numpy as np
from cocotb.triggers import FallingEdge, ReadOnly

from ..hw.fp import FPAdder
from ..hw.verilog import generate_verilog
from .hostdriver import reset, start_clock

__all__ = ["TOPLEVEL", "LANE", "LANES", "lanes_verilog", "pack_rows", "unpack_rows"]

#: Verilog module name of the bench's model.
TOPLEVEL = "fpadd_lanes"

#: Verilog module name of one adder in it.
LANE = "fpadd_lane"

#: Default adders per beat.
LANES = 16


def lanes_verilog(exp_bits: int, man_bits: int, lanes: int = LANES) -> str:
    """Verilog of ``lanes`` :class:`FPAdder` (module :data:`LANE`) of one format in lockstep
    behind one handshake, top module :data:`TOPLEVEL`: ``a_b__payload`` carries the operand
    pairs (lane i in bits ``[2*W*i, 2*W*(i+1))``, ``a`` low), ``sum__payload`` the sums
    (lane i in ``[W*i, W*(i+1))``). Every lane sees the same valid and ready, so lane 0's
    handshake is every lane's."""
    adder = FPAdder(exp_bits, man_bits)
    w = adder.width
    lane = generate_verilog(adder, name=LANE)
    top = f"""
module {TOPLEVEL}(clk, rst, a_b__payload, a_b__valid, a_b__ready, sum__payload, sum__valid,
    sum__ready);
  input clk;
  input rst;
  input [{2 * w * lanes - 1}:0] a_b__payload;
  input a_b__valid;
  output a_b__ready;
  output [{w * lanes - 1}:0] sum__payload;
  output sum__valid;
  input sum__ready;
  wire [{lanes - 1}:0] ready;
  wire [{lanes - 1}:0] valid;
  genvar i;
  generate
    for (i = 0; i < {lanes}; i = i + 1) begin : lane
      {LANE} adder (
        .clk(clk), .rst(rst),
        .a_b__payload(a_b__payload[{2 * w} * i +: {2 * w}]),
        .a_b__valid(a_b__valid), .a_b__ready(ready[i]),
        .sum__payload(sum__payload[{w} * i +: {w}]),
        .sum__valid(valid[i]), .sum__ready(sum__ready));
    end
  endgenerate
  assign a_b__ready = ready[0];
  assign sum__valid = valid[0];
endmodule
"""
    return lane + top


def pack_rows(values: np.ndarray, bits: int) -> list[int]:
    """Each row of ``values`` (``[rows, lanes]``, each ``bits`` wide) as one integer, lane 0
    in the low bits."""
    values = np.asarray(values, np.uint64)
    if bits in (8, 16, 32, 64):
        raw = values.astype(f"<u{bits // 8}")
        return [int.from_bytes(row.tobytes(), "little") for row in raw]
    packed = []
    for row in values.tolist():
        word = 0
        for x in reversed(row):
            word = (word << bits) | x
        packed.append(word)
    return packed


def unpack_rows(words: list[int], bits: int, lanes: int) -> np.ndarray:
    """Inverse of :func:`pack_rows`: ``uint64 [len(words), lanes]``."""
    if bits in (8, 16, 32, 64):
        size = bits // 8 * lanes
        raw = b"".join(w.to_bytes(size, "little") for w in words)
        return np.frombuffer(raw, f"<u{bits // 8}").reshape(-1, lanes).astype(np.uint64)
    mask = (1 << bits) - 1
    return np.array([[(w >> (bits * i)) & mask for i in range(lanes)] for w in words],
                    np.uint64).reshape(-1, lanes)


async def _stream(dut, beats: list[int], rng: random.Random, idle: float,
                  stall: float) -> list[int]:
    """Send ``beats`` on ``a_b`` and collect as many from ``sum``, in order. Inputs change
    on falling edges; transfers are decided on the settled values before the rising edge."""
    fall, settled = FallingEdge(dut.clk), ReadOnly()
    in_valid, in_payload, in_ready = dut.a_b__valid, dut.a_b__payload, dut.a_b__ready
    out_valid, out_payload, out_ready = dut.sum__valid, dut.sum__payload, dut.sum__ready
    got: list[int] = []
    sent, offered, ready, held = 0, False, 1, None
    limit, cycles = 4 * len(beats) + 1000, 0
    while len(got) < len(beats):
        cycles += 1
        if cycles > limit:
            raise AssertionError(f"{len(got)} of {len(beats)} beats out after {limit} cycles")
        await fall
        if not offered and sent < len(beats) and not (idle and rng.random() < idle):
            in_payload.value = beats[sent]
            in_valid.value = offered = 1
        elif not offered:
            in_valid.value = 0
        want = 0 if (stall and rng.random() < stall) else 1
        if want != ready:
            out_ready.value = ready = want
        await settled
        if offered and int(in_ready.value):
            sent += 1
            offered = False
        if int(out_valid.value):
            word = int(out_payload.value)
            if held is not None and word != held:
                raise AssertionError(f"sum changed while stalled (beat {len(got)})")
            held = None
            if ready:
                got.append(word)
            else:
                held = word
        elif held is not None:
            raise AssertionError(f"sum withdrawn while stalled (beat {len(got)})")
    # Drained: nothing more comes out.
    await fall
    in_valid.value = 0
    out_ready.value = 1
    for _ in range(8):
        await settled
        if int(out_valid.value):
            raise AssertionError("an extra sum came out after the last beat")
        await fall
    return got


@cocotb.test()
async def add_vectors(dut):
    """Every pair of ``LUTCORE_FPADD_IN`` through the lanes, sums saved in order."""
    vectors = np.load(os.environ["LUTCORE_FPADD_IN"])
    a, b = vectors["a"].astype(np.uint64), vectors["b"].astype(np.uint64)
    width, lanes = int(vectors["width"]), int(vectors["lanes"])
    if 2 * width > 64:
        raise ValueError(f"tb_fpadd: width = {width} is invalid: allowed up to 32")
    count = len(a)
    pairs = np.concatenate([a | (b << np.uint64(width)),
                            np.zeros(-count % lanes, np.uint64)]).reshape(-1, lanes)
    beats = pack_rows(pairs, 2 * width)
    rng = random.Random(int(os.environ.get("LUTCORE_SIM_SEED", "1")))
    idle = float(os.environ.get("LUTCORE_SIM_IDLE", "0"))
    stall = float(os.environ.get("LUTCORE_SIM_STALL", "0"))

    start_clock(dut)
    dut.a_b__valid.value = 0
    dut.sum__ready.value = 1
    await reset(dut)
    started = time.perf_counter()
    got = await _stream(dut, beats, rng, idle, stall)
    seconds = time.perf_counter() - started
    np.save(os.environ["LUTCORE_FPADD_OUT"], unpack_rows(got, width, lanes).reshape(-1)[:count])
    dut._log.info(f"{count} additions in {len(beats)} beats, {seconds:.2f} s "
                  f"({count / max(seconds, 1e-9):.0f} per second)")
