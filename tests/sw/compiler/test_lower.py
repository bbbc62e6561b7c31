"""Compiler + ISS end to end: every preset, both modes, awkward and multi-phase shapes, equal
to the int64 reference (wrapped to acc_bits where wrapping is allowed)."""

from __future__ import annotations

import re
import zlib

import numpy as np
import pytest

from lutcore.errors import LutcoreError
from lutcore.spec import isa
from lutcore.spec import numerics as nx
from lutcore.spec.config import CoreConfig, PRESETS
from lutcore.sw.compiler import Program, compile_gemm
from lutcore.host import run_program

# Small buffers force several phases, K splits, full instruction memories and output buffers.
SMALL = [
    CoreConfig(name="small", m=2, n=4, g=4, weight_bits=4, acc_bits=20, elut_g=3, act_depth=8,
               table_depth=4, weight_depth=16, out_depth=4, instr_depth=8),
    # unsymmetrized, g=4 next to elut_g=2: the bit-serial index reaches the ELUT sign bit
    CoreConfig(name="overlap", m=3, n=5, g=4, weight_bits=3, acc_bits=24, elut_g=2,
               symmetrize=False, act_depth=16, table_depth=8, weight_depth=32, out_depth=8,
               instr_depth=16),
    CoreConfig(name="noelut", m=1, n=3, g=5, weight_bits=2, act_bits=6, acc_bits=16, elut_g=0,
               act_depth=4, table_depth=4, weight_depth=8, out_depth=2, instr_depth=4),
    CoreConfig(name="wide", m=2, n=7, g=6, weight_bits=4, acc_bits=24, elut_g=5,
               symmetrize=False, act_depth=32, table_depth=16, weight_depth=64, out_depth=4,
               instr_depth=2),
]

SHAPES = [(1, 1, 1), (1, 64, 4), (2, 65, 5), (3, 1, 37), (5, 130, 301), (1, 9, 1030)]


def reference(a, w, acc_bits):
    return nx.wrap(np.asarray(a, np.int64) @ np.asarray(w, np.int64).T, acc_bits)


def run(a, w, config, **kw):
    program = compile_gemm(a, w, config=config, **kw)
    result = run_program(program)
    assert result.lookups == program.lookups()      # executed LMMA steps = emitted ones
    return program, result


@pytest.mark.parametrize("shape", SHAPES, ids=lambda s: "x".join(map(str, s)))
@pytest.mark.parametrize("mode", ["bitserial", "elut"])
@pytest.mark.parametrize("name", list(PRESETS))
def test_presets_equal_reference(name, mode, shape):
    cfg = PRESETS[name]
    m, n, k = shape
    rng = np.random.default_rng(zlib.crc32(repr((name, mode, shape)).encode()))
    a = rng.integers(-128, 128, (m, k), dtype=np.int8)
    w = rng.integers(-1, 2, (n, k), dtype=np.int8)
    program, result = run(a, w, cfg, mode=mode)
    assert result.output.dtype == np.int64
    np.testing.assert_array_equal(result.output, reference(a, w, cfg.acc_bits))


@pytest.mark.parametrize("seed", range(4))
@pytest.mark.parametrize("name", list(PRESETS))
def test_random_shapes_and_extremes(name, seed):
    cfg = PRESETS[name]
    rng = np.random.default_rng(seed)
    m, n, k = (int(rng.integers(1, 2 * cfg.m + 3)), int(rng.integers(1, 2 * cfg.n + 5)),
               int(rng.integers(1, 700)))
    a = rng.integers(-128, 128, (m, k))
    a[0] = -128                              # the table-entry extreme (DESIGN §2.1)
    w = rng.integers(-1, 2, (n, k))
    w[0] = 1
    for mode in cfg.modes:
        _, result = run(a, w, cfg, mode=mode)
        np.testing.assert_array_equal(result.output, reference(a, w, cfg.acc_bits))
        assert result.output[0, 0] == -128 * k


# Cycles per phase worked out by hand from docs/architecture.md, "Timing contract", for small
# GEMMs on the presets: START 4 per phase; PRECOMP count + 5 (PRECOMP_READ 2, a table unit of
# ceil(5 / 2) = 3 stages: g = 4 symmetrized is ceil(log2 4) + 3 = 5 adders deep); LMMA
# planes*count + 2; STORE 7 on tiny (1 row * 1 beat + STORE_OFFER 1 + (step 3 - 1) + 3) and 15
# on default (2 rows * 4 beats of 512 bits + 1 + (step 4 with the broadcast stage - 1) + 3);
# HALT 1. Ternary bit-serial weights take 2 planes; groups are ceil(K / 4) bit-serial and
# ceil(K / 3) ELUT. The program shape (instructions per phase) is checked with the count.
@pytest.mark.parametrize("name, mode, shape, ksplit, mnemonics, cycles", [
    # one tile: PRECOMP 2 groups, LMMA 2 planes x 2 groups
    ("tiny", "bitserial", (1, 4, 8), "auto", ["precomp", "lmma", "store", "halt"],
     [4 + (2 + 5) + (2 * 2 + 2) + 7 + 1]),
    ("tiny", "elut", (1, 4, 8), "auto", ["precomp", "lmma", "store", "halt"],
     [4 + (3 + 5) + (3 + 2) + 7 + 1]),
    # 2 row blocks x 2 column tiles: tables once per row block, an LMMA and a STORE per tile
    ("tiny", "bitserial", (2, 6, 13), "auto", ["precomp"] * 2 + ["lmma", "store"] * 4 + ["halt"],
     [4 + 2 * (4 + 5) + 4 * ((2 * 4 + 2) + 7) + 1]),
    ("tiny", "elut", (2, 6, 13), "auto", ["precomp"] * 2 + ["lmma", "store"] * 4 + ["halt"],
     [4 + 2 * (5 + 5) + 4 * ((5 + 2) + 7) + 1]),
    # K = 1200 is 300 groups, 600 weight words > weight_depth 512: two phases of 150 groups;
    # the first accumulates without a STORE, the second adds to it and stores
    ("tiny", "bitserial", (1, 4, 1200), "device", ["precomp", "lmma", "halt",
                                                   "precomp", "lmma", "store", "halt"],
     [4 + (150 + 5) + (2 * 150 + 2) + 1, 4 + (150 + 5) + (2 * 150 + 2) + 7 + 1]),
    ("default", "bitserial", (2, 64, 16), "auto", ["precomp", "lmma", "store", "halt"],
     [4 + (4 + 5) + (2 * 4 + 2) + 15 + 1]),
    ("default", "elut", (2, 64, 16), "auto", ["precomp", "lmma", "store", "halt"],
     [4 + (6 + 5) + (6 + 2) + 15 + 1]),
    ("default", "elut", (3, 70, 9), "auto", ["precomp"] * 2 + ["lmma", "store"] * 4 + ["halt"],
     [4 + 2 * (3 + 5) + 4 * ((3 + 2) + 15) + 1]),
])
def test_cycles_follow_the_timing_contract(name, mode, shape, ksplit, mnemonics, cycles):
    m, n, k = shape
    rng = np.random.default_rng(k)
    a = rng.integers(-128, 128, (m, k))
    w = rng.integers(-1, 2, (n, k))
    program, result = run(a, w, PRESETS[name], mode=mode, ksplit=ksplit)
    assert [isa.decode(int(x)).mnemonic for p in program.phases for x in p.instructions] \
        == mnemonics
    assert [p.cycles for p in result.phases] == program.predicted_cycles() == cycles
    np.testing.assert_array_equal(result.output, reference(a, w, PRESETS[name].acc_bits))


@pytest.mark.parametrize("ksplit", ["auto", "device", "host"])
@pytest.mark.parametrize("cfg", SMALL, ids=lambda c: c.name)
def test_small_buffers_multi_phase_and_bbit_weights(cfg, ksplit):
    rng = np.random.default_rng(sum(map(ord, cfg.name + ksplit)))
    lo = -nx.max_abs_activation(cfg.act_bits)
    phases = 0
    for trial in range(5):
        m, n, k = int(rng.integers(1, 9)), int(rng.integers(1, 20)), int(rng.integers(1, 90))
        a = rng.integers(lo, -lo, (m, k))
        for mode in cfg.modes:
            if mode == "elut":
                w, kw = rng.integers(-1, 2, (n, k)), {}
            else:
                b = int(rng.integers(1, cfg.weight_bits + 1))
                z = int(rng.integers(0, 1 << b))
                w, kw = rng.integers(-z, (1 << b) - z, (n, k)), dict(weight_bits=b, zero_point=z)
            program, result = run(a, w, cfg, mode=mode, ksplit=ksplit, allow_wrap=True, **kw)
            np.testing.assert_array_equal(result.output, reference(a, w, cfg.acc_bits))
            phases = max(phases, len(program.phases))
            for p in program.phases:
                assert len(p.instructions) <= cfg.instr_depth
                assert isa.decode(int(p.instructions[-1])) == isa.Halt()
                assert len(p.reads) <= cfg.out_depth
    assert phases > 1


def test_k_split_strategies_accumulate_or_add():
    cfg = SMALL[0]                          # J_max = 4 groups of 4
    rng = np.random.default_rng(7)
    a = rng.integers(-128, 128, (3, 50))
    w = rng.integers(-1, 2, (9, 50))
    device = compile_gemm(a, w, config=cfg, ksplit="device")
    host = compile_gemm(a, w, config=cfg, ksplit="host")
    assert device.meta["ksplit"] == "device" and host.meta["ksplit"] == "host"
    lmmas = [isa.decode(int(x)) for p in device.phases for x in p.instructions]
    lmmas = [i for i in lmmas if isinstance(i, isa.Lmma)]
    assert any(not i.clear for i in lmmas)  # LMMA accumulate across K chunks
    assert all(i.clear for p in host.phases for i in map(isa.decode, map(int, p.instructions))
               if isinstance(i, isa.Lmma))
    # device: one output read per element; host: one per element and K chunk
    assert sum(len(p.reads) for p in device.phases) == 3 * 3
    assert sum(len(p.reads) for p in host.phases) == 3 * 3 * host.meta["k_chunks"]
    for program in (device, host):
        np.testing.assert_array_equal(run_program(program).output, reference(a, w, cfg.acc_bits))


def _precomp_counts(program):
    return sum(i.count for p in program.phases for i in map(isa.decode, map(int, p.instructions))
               if isinstance(i, isa.Precomp))


@pytest.mark.parametrize("k", [300, 1030])    # tiny: no K split, then K split on the host
def test_tables_precomputed_once_per_row_block_and_group(k):
    cfg = PRESETS["tiny"]
    rng = np.random.default_rng(k)
    a = rng.integers(-128, 128, (3, k))
    w = rng.integers(-1, 2, (40, k))
    for mode in cfg.modes:
        program = compile_gemm(a, w, config=cfg, mode=mode, ksplit="host")
        groups = -(-k // cfg.group(mode))
        assert _precomp_counts(program) == 3 * groups      # 3 row blocks of m = 1, reused by every column tile
        assert program.meta["col_tiles"] == -(-40 // cfg.n)


def test_wrap_is_bit_exact_when_allowed():
    cfg = CoreConfig(name="narrow", acc_bits=15, act_depth=64, table_depth=64, weight_depth=256)
    rng = np.random.default_rng(3)
    a = np.full((3, 700), -128)
    a[1] = 127
    a[2] = rng.integers(-128, 128, 700)
    w = rng.integers(-1, 2, (5, 700))
    w[0], w[1] = 1, -1
    for mode in cfg.modes:
        with pytest.raises(LutcoreError, match="could overflow acc_bits=15"):
            compile_gemm(a, w, config=cfg, mode=mode)
        for ksplit in ("device", "host"):
            _, result = run(a, w, cfg, mode=mode, ksplit=ksplit, allow_wrap=True)
            ref = a @ w.T
            np.testing.assert_array_equal(result.output, nx.wrap(ref, 15))
            assert not np.array_equal(result.output, ref)


@pytest.mark.parametrize("mode", ["bitserial", "elut"])
def test_bitnet_shape_reaches_target_utilization(mode):
    rng = np.random.default_rng(0)
    a = rng.integers(-128, 128, (1, 2560), dtype=np.int8)
    w = rng.integers(-1, 2, (2560, 2560), dtype=np.int8)
    program = compile_gemm(a, w, config="default", mode=mode)
    assert program.summary()["utilization"] >= 0.9


# -- Program: files, text, host port ----------------------------------------------------------

@pytest.fixture(scope="module")
def program():
    cfg = SMALL[0]
    rng = np.random.default_rng(11)
    return compile_gemm(rng.integers(-128, 128, (5, 37)), rng.integers(-3, 5, (11, 37)),
                        config=cfg, ksplit="device")


def test_save_and_load_round_trip(program, tmp_path):
    path = tmp_path / "prog.npz"
    program.save(path)
    loaded = Program.load(path)
    assert (loaded.config, loaded.mode, loaded.shape, loaded.meta) == \
        (program.config, program.mode, program.shape, program.meta)
    assert len(loaded.images) == len(program.images)
    for x, y in zip(loaded.images, program.images):
        np.testing.assert_array_equal(x, y)
    for p, q in zip(loaded.phases, program.phases):
        assert p.loads == q.loads
        np.testing.assert_array_equal(p.instructions, q.instructions)
        np.testing.assert_array_equal(p.reads, q.reads)
    np.testing.assert_array_equal(run_program(loaded).output, run_program(program).output)


def test_disassembly_assembles_back(program):
    text = program.disassemble()
    blocks = re.split(r"^# phase \d+$", text, flags=re.M)[1:]
    assert len(blocks) == len(program.phases)
    for block, phase in zip(blocks, program.phases):
        assert isa.assemble(block) == [int(x) for x in phase.instructions]
    assert program.disassemble(1).count("# phase") == 1
    with pytest.raises(LutcoreError, match="phase 99 is out of range"):
        program.disassemble(99)


def test_host_writes_rebuild_the_images(program):
    cfg = program.config
    for i, phase in enumerate(program.phases):
        addrs, data = program.host_writes(i)
        assert len(set(addrs.tolist())) == len(addrs)
        memory = dict(zip(addrs.tolist(), data.tolist()))
        targets = [(ld.region, ld.addr, program.images[ld.image]) for ld in phase.loads]
        targets.append((isa.Region.INSTR, 0, phase.instructions[:, None]))
        for region, base, image in targets:
            bits = isa.region_word_bits(region, cfg)
            subs = isa.sub_words(bits, cfg.host_bits)
            for j, limbs in enumerate(image):
                parts = [memory[isa.host_address(region, base + j, s, config=cfg)]
                         for s in range(subs)]
                value = sum(int(x) << (64 * q) for q, x in enumerate(limbs))
                assert isa.join_host_words(parts, bits, cfg.host_bits) == value
        reads = program.host_reads(i)
        assert reads.shape == (len(phase.reads),
                               isa.sub_words(cfg.out_word_bits, cfg.host_bits))
        if len(phase.reads):
            assert int(reads[0, 0]) == isa.host_address(isa.Region.OUTPUT,
                                                        int(phase.reads[0, 0]), config=cfg)


def test_gather_from_output_limbs(program):
    from lutcore.sw.iss import Machine
    machine = Machine(program.config)
    outputs = []
    for phase in program.phases:
        for ld in phase.loads:
            machine.write(ld.region, ld.addr, program.images[ld.image])
        machine.write(isa.Region.INSTR, 0, phase.instructions)
        machine.run()
        outputs.append(np.concatenate([machine.read(isa.Region.OUTPUT, int(x), 1)
                                       for x in phase.reads[:, 0]])
                       if len(phase.reads) else np.zeros((0, 1), np.uint64))
    np.testing.assert_array_equal(program.gather(outputs, limbs=True), run_program(program).output)


# -- refusals -----------------------------------------------------------------------------------

A = np.zeros((2, 8), np.int8)
W = np.zeros((3, 8), np.int8)


@pytest.mark.parametrize("args, kw, message", [
    ((A, W), dict(config="nope"), "preset 'nope' is unknown"),
    ((A, W), dict(config=3), "config 3 is neither a CoreConfig nor a preset name"),
    ((A, W), dict(mode="fast"), "mode 'fast' is unknown: allowed 'bitserial', 'elut'"),
    ((A, W), dict(config=SMALL[2], mode="elut"), "mode 'elut' is not built into config 'noelut'"),
    ((A, W), dict(ksplit="both"), "ksplit 'both' is unknown: allowed auto, device, host"),
    ((A[0], W), {}, "acts must be a 2-D array [M, K]"),
    ((A.astype(float), W), {}, "acts has dtype float64"),
    ((A, W.astype(bool)), {}, "weights has dtype bool"),
    ((A[:, :0], W[:, :0]), {}, "acts is empty (shape (2, 0))"),
    ((A, W[:, :7]), {}, "K mismatch: weights has K = 7"),
    ((A.astype(np.int16) + 128, W), {}, "acts has value 128 at [0, 0]: allowed -128..127"),
    ((A, W + 2), dict(mode="elut"), "weights values 2..2 are not ternary"),
    ((A, W), dict(mode="elut", weight_bits=2), "weight_bits and zero_point apply to mode "
                                               "'bitserial' only"),
    ((A, W + 9), dict(config="tiny"), "weight_bits 4 (inferred from weights values 9..9 with "
                                      "zero_point 0) is not supported by config 'tiny': "
                                      "allowed 1..2"),
    ((A, W), dict(weight_bits=5), "weight_bits 5 is not supported by config 'default': "
                                  "allowed 1..4"),
    ((A, W), dict(weight_bits=2, zero_point=4), "zero_point 4 is out of range for weight_bits "
                                                "2: allowed 0..3"),
    ((A, W - 2), dict(weight_bits=2, zero_point=1),
     "weights values -2..-2 do not fit weight_bits 2 with zero_point 1: allowed -1..2"),
    ((np.full((1, 70000), -128), np.ones((1, 70000), np.int8)), dict(config="tiny"),
     "GEMM could overflow acc_bits=24: worst case K*max|a|*max|w| = 70000*128*1 = 8960000 > "
     "8388607; pass allow_wrap=True"),
])
def test_refusals_are_one_line(args, kw, message):
    with pytest.raises(LutcoreError) as e:
        compile_gemm(*args, **kw)
    assert message in str(e.value)
    assert "\n" not in str(e.value)


def test_out_buffer_smaller_than_a_store():
    cfg = CoreConfig(name="shallow", m=4, out_depth=2)
    with pytest.raises(LutcoreError, match="out_depth=2 is below m=4"):
        compile_gemm(A, W, config=cfg)
