"""Compiled GEMMs on the Verilator model of the accelerator top (the ``serve`` bench of
``lutcore.sim.tb_top`` in one rtl session): bit-exact with the ISS and the int64 reference,
and CYCLES of every phase (the RTL's own register) equal to the ISS's count, under random
host-port idle and backpressure.

The non-slow set runs odd shapes (M, N not multiples of the tile, K not a multiple of g,
M = 1, N = 1, a K split on tiny, multi-bit weights, all -128 activations) on tiny, both
modes; the slow set (``make regress``) runs every preset (the odd shapes of default and
decode too), both modes, many seeds and larger random shapes with both K-split
strategies.
"""

from __future__ import annotations

import numpy as np
import pytest

from lutcore.host import open_device
from lutcore.host.scoreboard import score
from lutcore.studies.regress import make_row
from lutcore.spec import fp
from lutcore.spec.config import CoreConfig, preset
from lutcore.sw.compiler import compile_gemm

pytestmark = pytest.mark.rtl

# (M, N, K): M = 1, N = 1, M and N off the tile, K off g (4) and elut_g (3); on tiny the
# last one splits K (its buffers hold 256 groups of a row block).
SHAPES = {
    "tiny": [(1, 9, 37), (3, 1, 13), (2, 17, 6), (1, 7, 1100)],
    "default": [(1, 65, 301), (3, 1, 13), (5, 130, 5), (2, 64, 1)],
    "large": [(1, 65, 301), (5, 1, 13), (7, 130, 999), (4, 64, 2)],
    "decode": [(1, 129, 301), (3, 1, 13), (2, 257, 999), (1, 128, 2)],
}


# K = g x L (CoreConfig.lookups): each step looks up L K groups per unit. Shapes with K off
# g * L (padding groups inside a step), M and N off the tile, and a K split on the small
# buffers (tiny_l2's hold 256 steps, 2048 K, of a row block; m3n5g3_l3's 64 steps, 576 K).
LOOKUP_CONFIGS = {
    "tiny_l2": preset("tiny").replace(name="tiny_l2", lookups=2),
    "m3n5g3_l3": CoreConfig(name="m3n5g3_l3", m=3, n=5, g=3, weight_bits=3, acc_bits=24,
                            elut_g=2, lookups=3, act_depth=64, table_depth=64,
                            weight_depth=256, out_depth=32, instr_depth=128),
    "default_l2": preset("default").replace(name="default_l2", lookups=2),
}
LOOKUP_SHAPES = [(1, 9, 37), (3, 1, 13), (4, 17, 6), (1, 7, 2200)]


def random_shapes(rng, count, k_max):
    return [(int(rng.integers(1, 9)), int(rng.integers(1, 200)), int(rng.integers(1, k_max)))
            for _ in range(count)]


def gemms(config, mode, seed, shapes, *, extras=True):
    """(a, w, options) per GEMM: ternary weights, plus (extras) all -128 activations and,
    in bit-serial mode, weights of the config's full width with a zero point (FP
    activations: :func:`fp_gemms`)."""
    rng = np.random.default_rng(seed)
    if config.is_fp:
        return fp_gemms(config, mode, rng, shapes, extras=extras)
    out = []
    for m, n, k in shapes:
        a = rng.integers(-128, 128, (m, k))
        w = rng.integers(-1, 2, (n, k))
        out.append((a, w, {}))
    if extras:
        m, n, k = shapes[0]
        out.append((np.full((m, k), -128), rng.choice([-1, 1], (n, k)), {}))   # table extremes
        if mode == "bitserial":
            b = config.weight_bits
            z = (1 << b) // 2
            w = rng.integers(-z, (1 << b) - z, (n, k))
            out.append((rng.integers(-128, 128, (m, k)), w, {"weight_bits": b, "zero_point": z}))
    return out


def fp_gemms(config, mode, rng, shapes, *, extras=True):
    """FP activations (normal values of the act_format), plus (extras) the largest finite
    values (sums overflow to infinity in 16-bit tables), subnormals, an infinity and a NaN,
    and in bit-serial mode weights of the full width with a zero point."""
    fmt = config.act_format
    big = float(np.finfo(np.float16).max) if fmt == "fp16" else 3e38
    tiny_value = 2.0 ** -20 if fmt == "fp16" else 2.0 ** -130       # subnormal in fmt

    def acts(shape, scale=1.0):
        return fp.as_format(rng.standard_normal(shape) * scale, fmt)

    out = [(acts((m, k)), rng.integers(-1, 2, (n, k)), {}) for m, n, k in shapes]
    if extras:
        m, n, k = shapes[0]
        out.append((fp.as_format(rng.choice([-big, big], (m, k)), fmt),
                    rng.integers(-1, 2, (n, k)), {}))
        out.append((acts((m, k), tiny_value), rng.integers(-1, 2, (n, k)), {}))
        special = acts((m, k))
        special[0, 0] = np.inf
        special[-1, -1] = np.nan
        out.append((special, rng.integers(-1, 2, (n, k)), {}))
        if mode == "bitserial":
            b = config.weight_bits
            w = rng.integers(0, 1 << b, (n, k))
            out.append((acts((m, k)), w, {"weight_bits": b, "zero_point": 0}))
    return out


def run_and_check(config, mode, seed, shapes, record_property, model_of, *, idle=0.2,
                  stall=0.3, ksplit="auto", extras=True):
    model_of(config)
    cases = gemms(config, mode, seed, shapes, extras=extras)
    programs = [compile_gemm(a, w, config=config, mode=mode, ksplit=ksplit, **opts)
                for a, w, opts in cases]
    with open_device("rtl", config, seed=seed, idle=idle, stall=stall, monitor=True) as dev:
        runs = [dev.runtime.run(program) for program in programs]
    failures = []
    for (a, w, _), program, run in zip(cases, programs, runs):
        result = score(run, a=a, w=w)
        record_property("rtl_run", make_row(
            preset=config.name, mode=mode, seed=seed, shape=program.shape,
            phases=len(program.phases), cycles=result.cycles,
            predicted=sum(result.predicted), utilization=run.utilization or 0.0,
            useful_utilization=run.useful_utilization or 0.0, ok=result.ok))
        if not result.ok:
            failures.append(f"{program.shape} {program.meta['ksplit']}: "
                            f"{'; '.join(result.mismatches[:2])}")
    assert not failures, "\n".join(failures)
    stats = dev.transport.stats
    assert stats["errors"] == [] and stats["reads"] == stats["responses"] > 0
    if idle:
        assert stats["idle_cycles"] > 0, "the driver never idled"
    if stall:
        assert stats["stall_cycles"] > 0, "the responses never saw backpressure"
    return programs


@pytest.mark.parametrize("mode", ["bitserial", "elut"])
@pytest.mark.parametrize("name", ["tiny", pytest.param("default", marks=pytest.mark.slow),
                                  pytest.param("decode", marks=pytest.mark.slow)])
def test_odd_shapes_bit_exact_and_cycle_exact(name, mode, record_property, model_of):
    config = preset(name)
    programs = run_and_check(config, mode, 1, SHAPES[name], record_property, model_of)
    if name == "tiny":
        assert any(p.meta["ksplit"] != "none" for p in programs), "no K split exercised"


@pytest.mark.parametrize("mode", ["bitserial", "elut"])
@pytest.mark.parametrize("name", ["tiny_l2", pytest.param("m3n5g3_l3", marks=pytest.mark.slow),
                                  pytest.param("default_l2", marks=pytest.mark.slow)])
def test_lookups_per_step_bit_exact_and_cycle_exact(name, mode, record_property, model_of):
    """Configurations with L > 1 lookups per unit a step: the compiler's L-group words, the
    table unit's m*L tables, the core's adder tree; outputs equal the int64 reference and
    CYCLES the ISS's count, with a K split on the small buffers."""
    config = LOOKUP_CONFIGS[name]
    programs = run_and_check(config, mode, 3, LOOKUP_SHAPES, record_property, model_of)
    assert all(p.meta["lookups"] == config.lookups for p in programs)
    if config.table_depth * config.g * config.lookups < max(k for _, _, k in LOOKUP_SHAPES):
        assert any(p.meta["ksplit"] != "none" for p in programs), "no K split exercised"


@pytest.mark.slow
@pytest.mark.parametrize("seed", range(2, 8))
@pytest.mark.parametrize("mode", ["bitserial", "elut"])
@pytest.mark.parametrize("name", ["tiny", "default", "large", "decode"])
def test_random_shapes_matrix(name, mode, seed, record_property, model_of):
    config = preset(name)
    rng = np.random.default_rng(1000 + seed)
    shapes = SHAPES[name] + random_shapes(rng, 3, 1500 if name == "tiny" else 700)
    run_and_check(config, mode, seed, shapes, record_property, model_of,
                  idle=[0.0, 0.1, 0.5][seed % 3], stall=[0.0, 0.3, 0.7][seed % 3])


@pytest.mark.slow
@pytest.mark.parametrize("ksplit", ["host", "device"])
@pytest.mark.parametrize("mode", ["bitserial", "elut"])
def test_k_split_strategies(ksplit, mode, record_property, model_of):
    """Both K-split strategies, device accumulation across phase boundaries included."""
    config = preset("tiny")
    programs = run_and_check(config, mode, 11, [(2, 9, 1500), (1, 20, 2100)], record_property,
                             model_of, ksplit=ksplit, extras=False)
    assert all(p.meta["ksplit"] == ksplit for p in programs)


# FP activations (docs/architecture.md, "Floating-point activations"): the FP blocks in the
# accelerator, the FP LMMA order (planes inside each group), K accumulated on the core in K
# order; outputs bit for bit with the ISS and the FP golden model, CYCLES with the ISS.
FP_CONFIGS = {
    "tiny_fp16": preset("tiny").with_act_format("fp16"),
    "tiny_bf16_bf16": preset("tiny").with_act_format("bf16", table_format="bf16")
                                    .replace(name="tiny_bf16_bf16"),
    "tiny_fp16_all16": preset("tiny").with_act_format("fp16", table_format="fp16",
                                                      acc_format="fp16")
                                     .replace(name="tiny_fp16_all16"),
    "tiny_l2_fp16": preset("tiny").replace(name="tiny_l2", lookups=2).with_act_format("fp16"),
}


@pytest.mark.parametrize("mode", ["bitserial", "elut"])
@pytest.mark.parametrize("name", ["tiny_fp16", *(pytest.param(n, marks=pytest.mark.slow)
                                                  for n in list(FP_CONFIGS)[1:])])
def test_fp_activations_bit_exact_and_cycle_exact(name, mode, record_property, model_of):
    config = FP_CONFIGS[name]
    shapes = LOOKUP_SHAPES if config.lookups > 1 else SHAPES["tiny"]
    programs = run_and_check(config, mode, 2, shapes, record_property, model_of)
    assert any(p.meta["ksplit"] == "device" for p in programs), "no K split exercised"
