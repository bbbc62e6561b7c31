"""The instruction-set simulator: hand-written programs, faults with error codes, cycle
counts, word layouts and the ``iss`` backend."""

from __future__ import annotations

import numpy as np
import pytest

from lutcore import host as backends
from lutcore.errors import LutcoreError
from lutcore.spec import isa
from lutcore.spec.config import CoreConfig, PRESETS
from lutcore.sw.compiler import compile_gemm
from lutcore.spec.words import pack, unpack, word_format
from lutcore.host import run_program
from lutcore.sw.iss import ExecutionError, Machine
from lutcore.sw.kernels import tables

DEFAULT = PRESETS["default"]


def load_acts(machine, rows):
    """rows: int [m, count*gs] with gs = g; written as count activation words."""
    c = machine.config
    count = rows.shape[1] // c.g
    values = np.zeros((count, c.m, c.act_slots), np.int64)
    values[:, :, :c.g] = rows.reshape(c.m, count, c.g).transpose(1, 0, 2)
    machine.write(isa.Region.ACT, 0, pack(values.reshape(count, -1),
                                          word_format(isa.Region.ACT, c)))


def program_words(text):
    return np.array(isa.assemble(text), np.uint64)


# Cycles by hand from docs/architecture.md, "Timing contract": START 4; PRECOMP count + 2 + 3
# (PRECOMP_READ, and a 3-stage table unit: g = 4 symmetrized is ceil(log2 4) + 3 = 5 adders
# deep, two per stage); LMMA planes*count + 2; STORE m*out_beats + 1 + (step - 1) + 3, tiny
# (n = 4, no broadcast stage, step 3; one 96-bit beat, m = 1) 1 + 1 + 2 + 3 = 7, default
# (n = 64 > 8, step 4; 2048-bit rows in four 512-bit beats, m = 2) 8 + 1 + 3 + 3 = 15; HALT 1.
@pytest.mark.parametrize("name, cycles", [
    ("tiny", 4 + (5 + 2 + 3) + (2 * 5 + 2) + (1 * 1 + 1 + (3 - 1) + 3) + 1),
    ("default", 4 + (5 + 2 + 3) + (2 * 5 + 2) + (2 * 4 + 1 + (4 - 1) + 3) + 1),
])
def test_hand_written_program_values_and_cycles(name, cycles):
    c = PRESETS[name]
    rng = np.random.default_rng(1)
    k = 5 * c.g
    a = rng.integers(-128, 128, (c.m, k))
    w = rng.integers(-1, 2, (c.n, k))
    m = Machine(c)
    load_acts(m, a)
    u, s = tables.encode_bitserial(w, c.g, 2, 1)                         # [2, n, 5]
    codes = (u.astype(np.int64) | s.astype(np.int64) << (c.code_bits - 1)).transpose(0, 2, 1)
    m.write(isa.Region.WEIGHT, 7, pack(codes.reshape(10, c.n), word_format(isa.Region.WEIGHT, c)))
    m.write(isa.Region.INSTR, 0, program_words("""
        precomp bitserial act=0 table=3 count=5
        lmma bitserial table=3 weight=7 count=5 planes=2 clear
        store out=4 c=1
        halt
    """))
    stats = m.run()
    assert stats.cycles == m.last_cycles == cycles
    assert stats.lookups == 10 and stats.instructions == 4
    np.testing.assert_array_equal(m.out[4:4 + c.m], a @ w.T)
    # the table buffer holds the golden symmetrized tables, unused entries 0
    h = tables.bitserial_tables(a, c.g)                                  # [m, 5, 8]
    np.testing.assert_array_equal(m.table[3:8, :, :8], h.transpose(1, 0, 2))
    assert not m.table[3:8, :, 8:].any()
    # read back through the word layout
    words = m.read(isa.Region.OUTPUT, 4, c.m)
    np.testing.assert_array_equal(unpack(words, word_format(isa.Region.OUTPUT, c)), a @ w.T)


def test_accumulate_and_elut_shift():
    c = DEFAULT
    m = Machine(c)
    m.table[0, :, :] = np.arange(c.table_entries)[None, :] - 3           # H[e] = e - 3
    codes = np.array([[5, 5 | 1 << (c.code_bits - 1), 13, 15]
                      + [0] * (c.n - 4)], np.int64)
    m.write(isa.Region.WEIGHT, 0, pack(codes, word_format(isa.Region.WEIGHT, c)))
    m.write(isa.Region.INSTR, 0, program_words("""
        lmma elut table=0 weight=0 count=1 planes=1 clear
        lmma elut table=0 weight=0 count=1 planes=1
        store out=0 c=0
        halt
    """))
    m.run()
    # ELUT adds H << 1 twice; STORE halves: 2*H. Index 15 is past the 14 entries: reads 0.
    assert list(m.out[0, :4]) == [4, -4, 20, 0]
    assert not m.rowsum.any()


def test_store_wraps_to_acc_bits():
    c = CoreConfig(name="w15", acc_bits=15)
    m = Machine(c)
    m.acc[:] = (1 << 15) - 2                       # 2*O = 32766 -> O = 16383 fits
    m.acc[0, 1] = (1 << 15)                        # wraps to -32768 in sum_bits = 16: O = -16384
    m.write(isa.Region.INSTR, 0, program_words("store out=0 c=0\nhalt"))
    m.run()
    assert m.out[0, 0] == 16383 and m.out[0, 1] == -16384


# Cycles up to a fault: START 4, ISSUE 1 for each NOP before it and 1 for the faulting word.
@pytest.mark.parametrize("text, code, pc, cycles", [
    ("nop\nnop\n.word 0x5\nhalt", isa.ErrorCode.ILLEGAL_OPCODE, 2, 4 + 1 + 1 + 1),
    ("lmma bitserial table=0 weight=4095 count=1 planes=2 clear\nhalt",
     isa.ErrorCode.ADDR_RANGE, 0, 4 + 1),
    ("nop\nprecomp elut act=1000 table=0 count=100\nhalt", isa.ErrorCode.ADDR_RANGE, 1, 4 + 1 + 1),
    ("store out=255 c=1\nhalt", isa.ErrorCode.ADDR_RANGE, 0, 4 + 1),
    ("lmma bitserial table=0 weight=0 count=1 planes=5\nhalt", isa.ErrorCode.BAD_FIELD, 0, 4 + 1),
    ("precomp bitserial act=0 table=0 count=0\nhalt", isa.ErrorCode.BAD_FIELD, 0, 4 + 1),
    ("halt reserved=1", isa.ErrorCode.BAD_FIELD, 0, 4 + 1),
])
def test_faults_stop_with_the_error_code_and_write_nothing(text, code, pc, cycles):
    m = Machine(DEFAULT)
    m.out[:] = 7
    m.acc[:] = 5
    m.table[:] = 3
    m.write(isa.Region.INSTR, 0, program_words(text))
    with pytest.raises(ExecutionError) as e:
        m.run()
    assert e.value.code is code and e.value.pc == pc and m.last_cycles == cycles
    assert f"pc {pc} error {code.name}" in str(e.value)
    assert (m.out == 7).all() and (m.acc == 5).all() and (m.table == 3).all()


def test_elut_on_a_config_without_it():
    m = Machine(CoreConfig(name="noelut", elut_g=0))
    m.write(isa.Region.INSTR, 0, program_words("precomp elut act=0 table=0 count=1\nhalt"))
    with pytest.raises(ExecutionError) as e:
        m.run()
    assert e.value.code is isa.ErrorCode.BAD_MODE


def test_missing_halt_runs_off_the_instruction_memory():
    c = CoreConfig(name="short", instr_depth=4)
    m = Machine(c)
    with pytest.raises(ExecutionError) as e:
        m.run()                                     # all-zero memory: four NOPs
    assert e.value.code is isa.ErrorCode.PC_RANGE and e.value.pc == 4
    assert m.last_cycles == 4 + 4 * 1 + 1           # START, four NOPs, PC_RANGE costs ISSUE


def test_host_port_faults():
    m = Machine(DEFAULT)
    with pytest.raises(ExecutionError) as e:
        m.write(isa.Region.INSTR, DEFAULT.instr_depth - 1, np.zeros(2, np.uint64))
    assert e.value.code is isa.ErrorCode.HOST_ADDR
    with pytest.raises(ExecutionError) as e:
        m.write(isa.Region.OUTPUT, 0, np.zeros((1, 32), np.uint64))
    assert e.value.code is isa.ErrorCode.HOST_ADDR
    with pytest.raises(ExecutionError) as e:
        m.read(isa.Region.OUTPUT, DEFAULT.out_depth, 1)
    assert e.value.code is isa.ErrorCode.HOST_ADDR


def test_program_fault_names_the_phase():
    rng = np.random.default_rng(0)
    cfg = CoreConfig(name="small", m=2, n=4, act_depth=8, table_depth=4, weight_depth=16,
                     out_depth=4, instr_depth=8)
    program = compile_gemm(rng.integers(-128, 128, (3, 40)), rng.integers(-1, 2, (9, 40)),
                           config=cfg)
    assert len(program.phases) > 2
    program.phases[2].instructions[1] = np.uint64(0xE)          # an illegal opcode
    with pytest.raises(ExecutionError) as e:
        run_program(program)
    assert (e.value.code, e.value.phase, e.value.pc) == (isa.ErrorCode.ILLEGAL_OPCODE, 2, 1)
    assert str(e.value).startswith("phase 2 pc 1 error ILLEGAL_OPCODE")


def test_words_pack_to_the_documented_bit_positions():
    c = DEFAULT
    rng = np.random.default_rng(2)
    for region in (isa.Region.ACT, isa.Region.TABLE, isa.Region.WEIGHT, isa.Region.OUTPUT):
        fmt = word_format(region, c)
        lo, hi = (-(1 << (fmt.field_bits - 1)), 1 << (fmt.field_bits - 1)) if fmt.signed \
            else (0, 1 << fmt.field_bits)
        values = rng.integers(lo, hi, (3, fmt.fields))
        limbs = pack(values, fmt)
        np.testing.assert_array_equal(unpack(limbs, fmt), values)
        for word, row in zip(limbs, values):
            as_int = sum(int(x) << (64 * i) for i, x in enumerate(word))
            expected = sum((int(v) % (1 << fmt.field_bits)) << (f * fmt.field_bits)
                           for f, v in enumerate(row))
            assert as_int == expected and as_int < (1 << isa.region_word_bits(region, c))
    with pytest.raises(LutcoreError, match="do not fit signed 8-bit"):
        pack(np.full((1, c.m * c.act_slots), 128), word_format(isa.Region.ACT, c))


# tiny (m = 1, n = 4), a 2 x 13 by 6 x 13 GEMM: two row blocks, two column tiles, one phase.
# Bit-serial: 4 groups of 4; each row block's tables once (PRECOMP 4 + 5), each tile an LMMA
# (2 planes: 2*4 + 2) and a STORE (7): 4 + 2*(4 + 5) + 4*(10 + 7) + 1 = 91 cycles, 4*8 lookups.
# ELUT: 5 groups of 3: 4 + 2*(5 + 5) + 4*((5 + 2) + 7) + 1 = 81 cycles, 4*5 lookups.
@pytest.mark.parametrize("mode, cycles, lookups", [("bitserial", 91, 32), ("elut", 81, 20)])
def test_iss_backend(mode, cycles, lookups):
    rng = np.random.default_rng(4)
    a = rng.integers(-128, 128, (2, 13), dtype=np.int8)
    w = rng.integers(-1, 2, (6, 13), dtype=np.int8)
    module = backends.get_backend("iss")
    result = module.run_gemm(a, w, mode=mode, config=PRESETS["tiny"], allow_wrap=False)
    assert isinstance(result, backends.GemmResult)
    np.testing.assert_array_equal(result.output, a.astype(np.int64) @ w.T)
    assert result.cycles == cycles and result.info["phase_cycles"] == [cycles]
    assert result.utilization == pytest.approx(lookups / cycles)
    assert result.info["phases"] == 1


def test_iss_backend_refuses_unknown_options():
    a, w = np.zeros((1, 4), np.int8), np.zeros((1, 4), np.int8)
    with pytest.raises(LutcoreError, match=r"option 'turbo' is not taken by backend 'iss'"):
        backends.get_backend("iss").run_gemm(a, w, mode="bitserial", config="tiny", turbo=True)
