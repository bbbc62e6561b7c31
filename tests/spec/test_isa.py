"""The ISA definition: layouts, encode/decode, assembler, validation, timing, memory map, doc."""

from __future__ import annotations

import dataclasses
from pathlib import Path

import pytest
from amaranth.hdl import Shape, Signal, unsigned
from hypothesis import given, settings
from hypothesis import strategies as st

from lutcore.spec import isa
from lutcore.spec.config import ConfigError, CoreConfig, PRESETS

DOC = Path(__file__).resolve().parents[2] / "docs" / "isa.md"
DEFAULT = PRESETS["default"]
FORMATS = [isa.PRECOMP_LAYOUT, isa.LMMA_LAYOUT, isa.STORE_LAYOUT, isa.NOP_LAYOUT, isa.HALT_LAYOUT]


# -- layouts ----------------------------------------------------------------------------------

def test_every_format_fills_one_word_with_the_opcode_low():
    for layout in FORMATS:
        assert layout.size == isa.INSTR_BITS
        assert layout["opcode"].offset == 0 and layout["opcode"].width == isa.OPCODE_BITS
        names = [name for name, _ in layout]
        assert names[-1] == "reserved"
    assert isa.INSTRUCTION_LAYOUT.size == isa.INSTR_BITS
    assert Shape.cast(isa.Opcode).width == isa.OPCODE_BITS


def test_precomp_and_lmma_share_field_positions():
    for name in ("mode", "count", "table_addr"):
        assert isa.PRECOMP_LAYOUT[name] == isa.LMMA_LAYOUT[name]


def test_layouts_are_amaranth_shapes():
    word = Signal(isa.INSTRUCTION_LAYOUT)
    assert word.lmma.count.shape() == unsigned(isa.COUNT_BITS)
    assert word.store.c.shape().signed
    assert Shape.cast(word.as_value().shape()).width == isa.INSTR_BITS


def test_field_widths_cover_the_config_limits():
    # Address and count fields hold the largest depth CoreConfig allows, and no more is needed.
    CoreConfig(act_depth=isa.MAX_DEPTH, table_depth=isa.MAX_DEPTH)
    with pytest.raises(ConfigError, match="act_depth"):
        CoreConfig(act_depth=2 * isa.MAX_DEPTH)
    assert (1 << isa.ADDR_BITS) == isa.MAX_DEPTH
    assert (1 << isa.COUNT_BITS) > isa.MAX_DEPTH
    CoreConfig(weight_bits=isa.MAX_WEIGHT_BITS, acc_bits=32)
    with pytest.raises(ConfigError, match="weight_bits"):
        CoreConfig(weight_bits=isa.MAX_WEIGHT_BITS + 1)
    assert isa.MAX_WEIGHT_BITS < (1 << isa.PLANES_BITS)
    cmax = (1 << isa.MAX_WEIGHT_BITS) - 1
    assert -(1 << (isa.CORRECTION_BITS - 1)) <= -cmax and cmax < (1 << (isa.CORRECTION_BITS - 1))


def test_known_encodings():
    # Pinned words: a change of any format breaks these (and the generated reference).
    assert isa.encode(isa.Lmma("bitserial", table_addr=0, weight_addr=128, count=640, planes=2,
                               clear=1)) == 0x0280200000005002
    assert isa.encode(isa.Precomp("elut", act_addr=3, table_addr=5, count=7)) == \
        (1 | 1 << 4 | 7 << 5 | 5 << 22 | 3 << 38)
    assert isa.encode(isa.Store(out_addr=9, c=-1)) == (3 | 0b11111 << 4 | 9 << 9)
    assert isa.encode(isa.Halt()) == 0xF
    assert isa.encode(isa.Nop()) == 0


# -- encode / decode / assembler (hypothesis) ----------------------------------------------------

def _fits(layout, name):
    lo, hi = isa.field_range(layout[name].shape)
    return st.integers(lo, hi)


modes = st.sampled_from(list(isa.Mode))
reserved = {cls: _fits(cls.LAYOUT, "reserved") for cls in isa.INSTRUCTION_CLASSES.values()}
instructions = st.one_of(
    st.builds(isa.Nop, reserved=st.one_of(st.just(0), reserved[isa.Nop])),
    st.builds(isa.Precomp, mode=modes, act_addr=_fits(isa.PRECOMP_LAYOUT, "act_addr"),
              table_addr=_fits(isa.PRECOMP_LAYOUT, "table_addr"),
              count=_fits(isa.PRECOMP_LAYOUT, "count"),
              reserved=st.one_of(st.just(0), reserved[isa.Precomp])),
    st.builds(isa.Lmma, mode=modes, table_addr=_fits(isa.LMMA_LAYOUT, "table_addr"),
              weight_addr=_fits(isa.LMMA_LAYOUT, "weight_addr"),
              count=_fits(isa.LMMA_LAYOUT, "count"), planes=_fits(isa.LMMA_LAYOUT, "planes"),
              clear=st.integers(0, 1), reserved=st.one_of(st.just(0), reserved[isa.Lmma])),
    st.builds(isa.Store, out_addr=_fits(isa.STORE_LAYOUT, "out_addr"),
              c=_fits(isa.STORE_LAYOUT, "c"), reserved=st.one_of(st.just(0), reserved[isa.Store])),
    st.builds(isa.Halt, reserved=st.one_of(st.just(0), reserved[isa.Halt])),
)


@settings(max_examples=300, deadline=None)
@given(instructions)
def test_encode_decode_and_text_round_trip(instr):
    word = isa.encode(instr)
    assert 0 <= word < (1 << isa.INSTR_BITS)
    assert isa.decode(word) == instr
    assert isa.parse_line(str(instr)) == instr
    # Amaranth's own constant packing of the same layout gives the same word.
    values = {"opcode": instr.OPCODE, **instr.fields()}
    assert instr.LAYOUT.const(values).as_bits() == word
    # ... and the decoder's union view reads the fields back.
    view = isa.INSTRUCTION_LAYOUT.from_bits(word)
    assert view.opcode is instr.OPCODE
    member = getattr(view, instr.mnemonic)
    for name, value in instr.fields().items():
        assert member[name] == value


@settings(max_examples=300, deadline=None)
@given(st.lists(st.integers(0, (1 << isa.INSTR_BITS) - 1), max_size=20))
def test_every_word_decodes_and_disassembles_back(words):
    for word in words:
        assert isa.encode(isa.decode(word)) == word
    assert isa.assemble(isa.disassemble(words)) == words
    assert isa.assemble(isa.disassemble(words, pcs=True)) == words


def test_illegal_opcodes_decode_to_illegal():
    defined = {op.value for op in isa.Opcode}
    for value in range(1 << isa.OPCODE_BITS):
        instr = isa.decode(value | 0x1230)
        assert isinstance(instr, isa.Illegal) == (value not in defined)
    instr = isa.decode(0x4)
    assert str(instr) == ".word 0x0000000000000004"
    assert isa.validate(instr, DEFAULT).code is isa.ErrorCode.ILLEGAL_OPCODE


def test_assembler_syntax():
    text = """
        # a program
        precomp bitserial act=0 table=0 count=640   # tables
        LMMA Bitserial table=0 weight=0x80 count=640 planes=2 clear
        lmma elut count=3 weight=1 table=2 planes=1
        store out=0 c=-3
        nop
        halt
    """
    words = isa.assemble(text)
    assert [isa.decode(w) for w in words] == [
        isa.Precomp(isa.Mode.BITSERIAL, act_addr=0, table_addr=0, count=640),
        isa.Lmma(isa.Mode.BITSERIAL, table_addr=0, weight_addr=128, count=640, planes=2, clear=1),
        isa.Lmma(isa.Mode.ELUT, table_addr=2, weight_addr=1, count=3, planes=1, clear=0),
        isa.Store(out_addr=0, c=-3), isa.Nop(), isa.Halt()]
    assert isa.disassemble(words).splitlines()[1] == \
        "lmma bitserial table=0 weight=128 count=640 planes=2 clear"


@pytest.mark.parametrize("text, message", [
    ("frob 1", "line 1: mnemonic 'frob' is unknown"),
    ("lmma bitserial table=0 weight=0 count=1", "line 1: lmma: missing operand(s) planes="),
    ("lmma turbo table=0", "line 1: mode 'turbo' is unknown"),
    ("precomp elut act=0 act=1 table=0 count=1", "operand 'act' given twice"),
    ("precomp elut act=0 table=0 count=131072", "field 'count' = 131072 does not fit its 17-bit"),
    ("store out=1 c=16", "field 'c' = 16 does not fit its 5-bit field: allowed -16..15"),
    ("store out=1 c=1 planes=2", "operand 'planes=2' is not understood"),
    ("halt\n.word 12 13", "line 2: '.word' takes one value"),
    ("precomp", "precomp: missing mode"),
])
def test_assembler_errors_are_one_line(text, message):
    with pytest.raises(isa.IsaError) as e:
        isa.assemble(text)
    assert message in str(e.value)
    assert "\n" not in str(e.value)


def test_decode_rejects_non_words():
    with pytest.raises(isa.IsaError, match="out of range"):
        isa.decode(1 << isa.INSTR_BITS)
    with pytest.raises(isa.IsaError, match="out of range"):
        isa.decode(-1)


# -- validation --------------------------------------------------------------------------------

TINY = PRESETS["tiny"]
NO_ELUT = CoreConfig(name="noelut", elut_g=0)
E = isa.ErrorCode


@pytest.mark.parametrize("config, instr, code", [
    (DEFAULT, isa.Precomp("bitserial", act_addr=0, table_addr=0, count=DEFAULT.act_depth), None),
    (DEFAULT, isa.Precomp("bitserial", act_addr=1, table_addr=0, count=DEFAULT.act_depth),
     E.ADDR_RANGE),
    (DEFAULT, isa.Precomp("elut", act_addr=0, table_addr=DEFAULT.table_depth - 1, count=2),
     E.ADDR_RANGE),
    (DEFAULT, isa.Precomp("elut", act_addr=0, table_addr=0, count=0), E.BAD_FIELD),
    (NO_ELUT, isa.Precomp("elut", act_addr=0, table_addr=0, count=1), E.BAD_MODE),
    (NO_ELUT, isa.Lmma("elut", table_addr=0, weight_addr=0, count=1, planes=1), E.BAD_MODE),
    # priority: BAD_MODE before BAD_FIELD before ADDR_RANGE
    (NO_ELUT, isa.Lmma("elut", table_addr=0, weight_addr=0, count=0, planes=0), E.BAD_MODE),
    (DEFAULT, isa.Lmma("bitserial", table_addr=DEFAULT.table_depth, weight_addr=0, count=0,
                       planes=1), E.BAD_FIELD),
    (DEFAULT, isa.Lmma("bitserial", table_addr=0, weight_addr=0, count=1, planes=4), None),
    (DEFAULT, isa.Lmma("bitserial", table_addr=0, weight_addr=0, count=1, planes=5), E.BAD_FIELD),
    (TINY, isa.Lmma("bitserial", table_addr=0, weight_addr=0, count=1, planes=3), E.BAD_FIELD),
    (DEFAULT, isa.Lmma("bitserial", table_addr=0, weight_addr=0, count=1, planes=0), E.BAD_FIELD),
    (DEFAULT, isa.Lmma("elut", table_addr=0, weight_addr=0, count=1, planes=2), E.BAD_FIELD),
    # weight range is addr + planes*count
    (DEFAULT, isa.Lmma("bitserial", table_addr=0, weight_addr=DEFAULT.weight_depth - 1024,
                       count=512, planes=2), None),
    (DEFAULT, isa.Lmma("bitserial", table_addr=0, weight_addr=DEFAULT.weight_depth - 1024,
                       count=513, planes=2), E.ADDR_RANGE),
    (DEFAULT, isa.Lmma("bitserial", table_addr=0, weight_addr=0, count=1, planes=1, reserved=1),
     E.BAD_FIELD),
    (DEFAULT, isa.Store(out_addr=DEFAULT.out_depth - DEFAULT.m, c=15), None),
    (DEFAULT, isa.Store(out_addr=DEFAULT.out_depth - DEFAULT.m + 1, c=0), E.ADDR_RANGE),
    (TINY, isa.Store(out_addr=0, c=-3), None),
    (TINY, isa.Store(out_addr=0, c=-4), E.BAD_FIELD),
    (DEFAULT, isa.Halt(reserved=2), E.BAD_FIELD),
    (DEFAULT, isa.Nop(), None),
    (DEFAULT, isa.Illegal(0x5), E.ILLEGAL_OPCODE),
])
def test_validate_reports_the_hardware_error_code(config, instr, code):
    fault = isa.validate(instr, config)
    assert (fault.code if fault else None) is code
    assert isa.validate(isa.encode(instr), config) == fault       # words validate alike
    if fault:
        assert "\n" not in fault.message
        assert isa.instruction_cycles(instr, config) == 1       # a fault costs ISSUE


# Expected cycles below are worked out by hand from docs/architecture.md, "Timing contract"
# (START 4, ISSUE 1, PRECOMP_READ 2, LMMA_LATENCY 2, STORE_OFFER 1, STEP_STAGES 3,
# FINALIZE_STAGES 3, TABLE_STAGE_LEVELS 2), never from the timing module:
# - table unit: symmetrized g = 4 has adder depth ceil(log2 4) + (4 - 1) = 5 (ELUT g = 3:
#   3 - 1 = 2, shallower), so ceil(5 / 2) = 3 stages on tiny and default alike;
# - step latency: tiny n = 4 <= 8 has no broadcast stage (3); default n = 64 > 8 has one (4);
# - out_beats: a tiny row is 4 * 24 = 96 bits, one beat; a default row is 64 * 32 = 2048 bits,
#   four beats of 512.

def _lmma(mode="bitserial", count=1, planes=1):
    return isa.Lmma(mode, table_addr=0, weight_addr=0, count=count, planes=planes, clear=1)


@pytest.mark.parametrize("name, instr, cycles", [
    # PRECOMP count: count + PRECOMP_READ + table unit latency
    ("tiny", isa.Precomp("bitserial", act_addr=0, table_addr=0, count=10), 10 + 2 + 3),
    ("default", isa.Precomp("elut", act_addr=0, table_addr=0, count=1), 1 + 2 + 3),
    # LMMA count, planes: planes*count + LMMA_LATENCY
    ("tiny", _lmma(count=10, planes=2), 2 * 10 + 2),
    ("default", _lmma(count=10, planes=3), 3 * 10 + 2),
    ("default", _lmma("elut", count=7), 7 + 2),
    # STORE: m*out_beats + STORE_OFFER + (step latency - 1) + FINALIZE_STAGES
    ("tiny", isa.Store(out_addr=0, c=1), 1 * 1 + 1 + (3 - 1) + 3),
    ("default", isa.Store(out_addr=0, c=1), 2 * 4 + 1 + (4 - 1) + 3),
    # HALT, NOP, and an instruction that faults: ISSUE
    ("tiny", isa.Halt(), 1),
    ("default", isa.Nop(), 1),
    ("tiny", _lmma(count=10, planes=3), 1),                 # planes > weight_bits = 2
    ("default", isa.Illegal(0x5), 1),
])
def test_instruction_cycles_follow_the_timing_contract(name, instr, cycles):
    config = PRESETS[name]
    assert isa.instruction_cycles(instr, config) == cycles
    assert isa.instruction_cycles(isa.encode(instr), config) == cycles     # words cost alike


def test_timing_parts_follow_the_documented_formulas():
    t, tiny = isa.TIMING, PRESETS["tiny"]
    # The constants the docs state (docs/architecture.md, "Timing contract").
    assert (t.START, t.ISSUE, t.PRECOMP_READ, t.LMMA_LATENCY, t.STORE_OFFER, t.STEP_STAGES,
            t.FINALIZE_STAGES, t.TABLE_STAGE_LEVELS) == (4, 1, 2, 2, 1, 3, 3, 2)
    assert isa.table_unit_depth(4, 3, True) == 5            # ceil(log2 4) + 3
    assert isa.table_unit_depth(4, 0, False) == 4           # ceil(log2 4) + ceil(4/2)
    assert isa.table_unit_depth(2, 5, True) == 4            # elut_g - 1 dominates 1 + 1
    assert (t.table_latency(tiny), t.precomp_latency(tiny)) == (3, 5)
    assert (tiny.broadcast_groups, t.step_latency(tiny), tiny.out_beats) == (1, 3, 1)
    assert (DEFAULT.broadcast_groups, t.step_latency(DEFAULT), DEFAULT.out_beats,
            DEFAULT.out_beat_bits) == (8, 4, 4, 512)
    assert (t.store_latency(tiny), t.store_latency(DEFAULT)) == (6, 7)
    # The timing is a parameter: a slower LMMA costs more.
    slow = dataclasses.replace(t, LMMA_LATENCY=7)
    assert isa.instruction_cycles(_lmma("elut"), DEFAULT, slow) == 1 + 7


@pytest.mark.parametrize("name, text, cycles", [
    # START + PRECOMP (3 + 5) + LMMA (2*3 + 2) + STORE 7 + HALT 1
    ("tiny", "precomp bitserial act=0 table=0 count=3\n"
             "lmma bitserial table=0 weight=0 count=3 planes=2 clear\nstore out=0 c=1\nhalt",
     4 + (3 + 5) + (2 * 3 + 2) + 7 + 1),
    # START + NOP + STORE 15 + HALT; the NOP after HALT is never reached
    ("default", "nop\nstore out=0 c=1\nhalt\nnop", 4 + 1 + 15 + 1),
    # START + NOP + the faulting word (ISSUE); the HALT after it is never reached
    ("default", "nop\n.word 0x5\nhalt", 4 + 1 + 1),
    # two LMMAs into one tile, then the store: START + 2 * (5*4 + 2) + 15 + 1
    ("default", "lmma bitserial table=0 weight=0 count=5 planes=4 clear\n"
                "lmma bitserial table=5 weight=20 count=5 planes=4\nstore out=0 c=15\nhalt",
     4 + 2 * (4 * 5 + 2) + 15 + 1),
])
def test_phase_cycles_add_the_start_and_stop_at_halt_or_fault(name, text, cycles):
    assert isa.phase_cycles(isa.assemble(text), PRESETS[name]) == cycles


def test_phase_cycles_past_the_instruction_memory():
    tiny = PRESETS["tiny"]
    # 128 NOPs, then PC_RANGE costs ISSUE: 4 + 128 + 1.
    assert isa.phase_cycles([0] * tiny.instr_depth, tiny) == 4 + 128 + 1
    with pytest.raises(isa.IsaError, match="no HALT or fault in 1 word"):
        isa.phase_cycles([0], DEFAULT)


@pytest.mark.parametrize("g", range(2, 7))
@pytest.mark.parametrize("elut_g", [0, 2, 3, 4, 5])
@pytest.mark.parametrize("symmetrize", [True, False])
def test_table_unit_depth_matches_the_gateware_plans(g, elut_g, symmetrize):
    # The spec cannot import the gateware; this holds the closed form to the adder plans the
    # table precompute unit builds, and the timing to the unit's latency.
    from lutcore.hw.table_precompute import TablePrecompute
    from lutcore.spec.table_plan import bitserial_plan, elut_plan

    depth = bitserial_plan(g, symmetrize).depth
    if elut_g:
        depth = max(depth, elut_plan(elut_g).depth)
    assert isa.table_unit_depth(g, elut_g, symmetrize) == depth
    config = CoreConfig(g=g, elut_g=elut_g, symmetrize=symmetrize, acc_bits=40)
    assert isa.TIMING.table_latency(config) == TablePrecompute.latency_of(
        g, elut_g, symmetrize, isa.TIMING.TABLE_STAGE_LEVELS)


# -- host port memory map ------------------------------------------------------------------------

def test_host_addresses():
    c = DEFAULT                     # weight word 64*5 = 320 bits = 10 host words -> 4 sub bits
    assert isa.sub_words(c.weight_word_bits, 32) == 10
    assert isa.sub_bits(c.weight_word_bits, 32) == 4
    assert isa.sub_bits(32, 32) == 0 and isa.sub_bits(33, 32) == 1
    assert isa.host_address(isa.Region.WEIGHT, 3, 9, config=c) == (4 << 28) | (3 << 4) | 9
    assert isa.host_address(isa.Region.INSTR, 5, 1, config=c) == (1 << 28) | (5 << 1) | 1
    assert isa.host_address(isa.Region.CSR, isa.Csr.STATUS, config=c) == 2
    with pytest.raises(isa.IsaError, match="sub-word 10 is out of range"):
        isa.host_address(isa.Region.WEIGHT, 0, 10, config=c)
    with pytest.raises(isa.IsaError, match="word 4096 is out of range"):
        isa.host_address(isa.Region.WEIGHT, c.weight_depth, 0, config=c)
    with pytest.raises(isa.IsaError, match="region 9 is unknown"):
        isa.host_address(9, 0, config=c)


def test_buffer_words_and_decode_address_invert_the_map():
    c = DEFAULT                     # weight words: 4 sub bits, 10 sub-words, depth 4096
    base = 4 << 28
    words, subs = isa.buffer_words(isa.Region.WEIGHT, [base | 3 << 4 | 9, base | 5 << 4], c)
    assert words.tolist() == [3, 5] and subs.tolist() == [9, 0]
    assert isa.buffer_words(isa.Region.WEIGHT, [base | 3 << 4 | 10], c) is None     # sub 10
    assert isa.buffer_words(isa.Region.WEIGHT, [base | 4096 << 4], c) is None       # depth
    assert isa.decode_address(base | 3 << 4 | 9, c) == (isa.Region.WEIGHT, 3, 9, 10)
    assert isa.decode_address(2, c) == (isa.Region.CSR, isa.Csr.STATUS, 0, 1)
    assert isa.decode_address(6 << 28, c) is None


# Word widths by hand from docs/architecture.md, "Buffers" (act m*act_slots*act_bits, table
# m*entries*table_bits, weight n*code_bits, output n*acc_bits): every preset has g = 4 and
# elut_g = 3, so 4 activation slots, 14 table entries (ELUT's (27 + 1) / 2 > 8) of 11 bits
# (|T| <= 4 * 128 = 512) and 5-bit codes (ELUT: 4 index bits + sign > g = 4 bits).
@pytest.mark.parametrize("name, act, table, weight, output", [
    ("tiny", 1 * 4 * 8, 1 * 14 * 11, 4 * 5, 4 * 24),
    ("default", 2 * 4 * 8, 2 * 14 * 11, 64 * 5, 64 * 32),
    ("large", 4 * 4 * 8, 4 * 14 * 11, 64 * 5, 64 * 32),
])
def test_region_word_bits_match_the_config(name, act, table, weight, output):
    c = PRESETS[name]
    assert [isa.region_word_bits(r, c) for r in (isa.Region.ACT, isa.Region.TABLE,
                                                 isa.Region.WEIGHT, isa.Region.OUTPUT)] \
        == [act, table, weight, output]
    assert isa.region_word_bits(isa.Region.INSTR, c) == 64
    assert isa.region_depth(isa.Region.OUTPUT, c) == c.out_depth
    for region in isa.Region:       # every word of every region is addressable
        depth = isa.region_depth(region, c)
        bits = isa.region_word_bits(region, c)
        isa.host_address(region, depth - 1, isa.sub_words(bits, c.host_bits) - 1, config=c)


@given(st.integers(1, 700), st.sampled_from([8, 16, 32, 64]), st.data())
def test_host_word_split_round_trip(bits, host_bits, data):
    value = data.draw(st.integers(0, (1 << bits) - 1))
    parts = isa.split_host_words(value, bits, host_bits)
    assert len(parts) == isa.sub_words(bits, host_bits)
    assert all(0 <= p < (1 << host_bits) for p in parts)
    assert isa.join_host_words(parts, bits, host_bits) == value


def test_status_layout():
    status = isa.STATUS_LAYOUT.const({"busy": 0, "done": 1, "error": 1,
                                      "error_code": isa.ErrorCode.ADDR_RANGE}).as_bits()
    assert status == (1 << 1) | (1 << 2) | (isa.ErrorCode.ADDR_RANGE.value << 8)


# -- generated reference ------------------------------------------------------------------------

def test_checked_in_isa_doc_is_current():
    assert DOC.read_text(encoding="utf-8") == isa.render_doc(), \
        "docs/isa.md is stale: run `lutcore docs --out docs/isa.md`"


def test_doc_lists_every_definition():
    doc = isa.render_doc()
    for op in isa.Opcode:
        assert f"| {op.name} |" in doc
    for code in isa.ErrorCode:
        assert f"| {code.name} |" in doc
    for region in isa.Region:
        assert f"| {region.name} |" in doc
    assert "| 57 | `clear` |" in doc and "| 56:54 | `planes` |" in doc


def test_doc_cli_writes_the_file(tmp_path):
    out = tmp_path / "isa.md"
    from lutcore.cli import main

    assert main(["docs", "--out", str(out)]) == 0
    assert out.read_text(encoding="utf-8") == isa.render_doc()
