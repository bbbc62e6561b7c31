"""CoreConfig: validation messages, presets, JSON round trip, derived widths (DESIGN §2, §3)."""

import dataclasses
import json

import pytest
from hypothesis import given, settings, strategies as st

from lutcore.spec import ConfigError, CoreConfig, PRESETS, preset, preset_names

FIELDS = ["name", "m", "n", "g", "weight_bits", "act_bits", "acc_bits", "elut_g", "symmetrize",
          "lookups", "act_depth", "table_depth", "weight_depth", "out_depth", "instr_depth", "host_bits",
          "act_format", "table_format", "acc_format"]


@pytest.mark.parametrize("changes,message", [
    ({"g": 7}, "config field 'g' = 7 is invalid: allowed 2..6"),
    ({"g": 1}, "config field 'g' = 1 is invalid: allowed 2..6"),
    ({"m": 0}, "config field 'm' = 0 is invalid: allowed 1..16"),
    ({"m": True}, "config field 'm' = True is invalid: must be an integer"),
    ({"n": 513}, "config field 'n' = 513 is invalid: allowed 1..512"),
    ({"n": 4.0}, "config field 'n' = 4.0 is invalid: must be an integer"),
    ({"weight_bits": 5}, "config field 'weight_bits' = 5 is invalid: allowed 1..4"),
    ({"act_bits": 1}, "config field 'act_bits' = 1 is invalid: allowed 2..16"),
    ({"elut_g": 1}, "config field 'elut_g' = 1 is invalid: allowed 0 (off) or 2..5"),
    ({"elut_g": 6}, "config field 'elut_g' = 6 is invalid: allowed 0 (off) or 2..5"),
    ({"symmetrize": 1}, "config field 'symmetrize' = 1 is invalid: must be true or false"),
    ({"lookups": 0}, "config field 'lookups' = 0 is invalid: allowed 1..8"),
    ({"lookups": 9}, "config field 'lookups' = 9 is invalid: allowed 1..8"),
    # default widths: table_bits 11 (g = 4, int8: |T| <= 512) + weight_bits 4 = 15
    ({"acc_bits": 14},
     "config field 'acc_bits' = 14 is invalid: allowed 15..48 (at least table_bits + "
     "weight_bits = 15)"),
    ({"acc_bits": 49},
     "config field 'acc_bits' = 49 is invalid: allowed 15..48 (at least table_bits + "
     "weight_bits = 15)"),
    ({"act_depth": 1000},
     "config field 'act_depth' = 1000 is invalid: allowed a power of two in 2..65536"),
    ({"instr_depth": 1 << 17},
     "config field 'instr_depth' = 131072 is invalid: allowed a power of two in 2..65536"),
    ({"host_bits": 12}, "config field 'host_bits' = 12 is invalid: allowed 8, 16, 32, 64"),
    ({"name": ""}, "config field 'name' = '' is invalid: must be a non-empty string"),
])
def test_validation_messages(changes, message):
    with pytest.raises(ConfigError) as e:
        CoreConfig(**changes)
    assert str(e.value) == message
    with pytest.raises(ConfigError) as e:            # replace() validates the same way
        CoreConfig().replace(**changes)
    assert str(e.value) == message


def test_lookup_messages():
    with pytest.raises(ConfigError) as e:
        preset("huge")
    assert str(e.value) == "preset 'huge' is unknown: allowed tiny, default, large, decode"
    with pytest.raises(ConfigError) as e:
        CoreConfig().group("mac")
    assert str(e.value) == "mode 'mac' is unknown: allowed 'bitserial', 'elut'"
    with pytest.raises(ConfigError) as e:
        CoreConfig(name="x", elut_g=0).group("elut")
    assert str(e.value) == "mode 'elut' is not built into config 'x' (elut_g = 0)"


def test_json_messages():
    with pytest.raises(ConfigError) as e:
        CoreConfig.from_dict({"g": 4, "lanes": 3, "foo": 1})
    assert str(e.value) == f"config has unknown field(s) ['foo', 'lanes']: allowed {sorted(FIELDS)}"
    with pytest.raises(ConfigError) as e:
        CoreConfig.from_json("[1, 2]")
    assert str(e.value) == "config must be a JSON object of CoreConfig fields, got an array"
    try:
        json.loads("{")
    except json.JSONDecodeError as err:
        decode_error = str(err)
    with pytest.raises(ConfigError) as e:
        CoreConfig.from_json("{")
    assert str(e.value) == f"config is not valid JSON: {decode_error}"


def test_presets():
    assert preset_names()[:3] == ["tiny", "default", "large"]
    for name, cfg in PRESETS.items():
        assert cfg.name == name and preset(name) is cfg
        assert cfg.modes == ("bitserial", "elut")
    d = preset("default")                             # the paper's M2 N64 K4 tile
    assert (d.m, d.n, d.g, d.weight_bits, d.act_bits, d.acc_bits) == (2, 64, 4, 4, 8, 32)
    assert preset("tiny").n < d.n <= preset("large").n and preset("large").m > d.m
    dec = preset("decode")                  # the default's 128 lookups a step in one row
    assert (dec.m, dec.n, dec.lookups) == (1, 64, 2)
    assert dec.lookups_per_cycle == d.lookups_per_cycle == 128
    assert dec.step_codes * dec.weight_depth == d.step_codes * d.weight_depth   # same codes
    assert dec.replace(name="default", m=2, n=64, lookups=1,
                       weight_depth=d.weight_depth) == d


def test_frozen():
    with pytest.raises(dataclasses.FrozenInstanceError):
        CoreConfig().g = 5


@pytest.mark.parametrize("name", list(PRESETS))
def test_preset_json_round_trip(name):
    cfg = PRESETS[name]
    text = cfg.to_json()
    assert set(json.loads(text)) == set(FIELDS)
    assert CoreConfig.from_json(text) == cfg
    assert CoreConfig.from_dict(cfg.to_dict()) == cfg


@st.composite
def configs(draw):
    return CoreConfig(
        name=draw(st.text("abcxyz-_", min_size=1, max_size=8)),
        m=draw(st.integers(1, 16)), n=draw(st.integers(1, 512)), g=draw(st.integers(2, 6)),
        weight_bits=draw(st.integers(1, 4)), act_bits=draw(st.integers(2, 16)),
        # 32 is above every table_bits + weight_bits (at most 19 + 4)
        acc_bits=draw(st.integers(32, 48)),
        elut_g=draw(st.sampled_from([0, 2, 3, 4, 5])), symmetrize=draw(st.booleans()),
        lookups=draw(st.integers(1, 8)),
        act_depth=1 << draw(st.integers(1, 16)), table_depth=1 << draw(st.integers(1, 16)),
        weight_depth=1 << draw(st.integers(1, 16)), out_depth=1 << draw(st.integers(1, 16)),
        instr_depth=1 << draw(st.integers(1, 16)), host_bits=draw(st.sampled_from([8, 16, 32, 64])))


@settings(max_examples=50, deadline=None)
@given(cfg=configs())
def test_json_round_trip_property(cfg):
    assert CoreConfig.from_json(cfg.to_json()) == cfg


def brute_signed_bits(bound):
    """Smallest b with -2^(b-1) <= -bound and bound <= 2^(b-1) - 1, by counting up."""
    b = 1
    while not (bound <= (1 << (b - 1)) - 1):
        b += 1
    return b


@pytest.mark.parametrize("g,elut_g,act_bits,symmetrize",
                         [(g, e, a, s) for g in range(2, 7) for e in (0, 2, 3, 4, 5)
                          for a in (2, 8, 16) for s in (True, False)])
def test_derived_widths(g, elut_g, act_bits, symmetrize):
    cfg = CoreConfig(g=g, elut_g=elut_g, act_bits=act_bits, symmetrize=symmetrize, acc_bits=48)
    # Bit-serial (DESIGN §2.1): 2^(g-1) entries symmetrized (index g-1 bits + sign bit),
    # 2^g entries and a g-bit index with no sign otherwise.
    if symmetrize:
        assert (cfg.bitserial_entries, cfg.bitserial_index_bits, cfg.bitserial_code_bits) == (
            2 ** (g - 1), g - 1, g)
    else:
        assert (cfg.bitserial_entries, cfg.bitserial_index_bits, cfg.bitserial_code_bits) == (
            2 ** g, g, g)
    # ELUT (DESIGN §2.2): |v| <= (3^e - 1)/2, so (3^e + 1)/2 entries; index bits to hold the
    # largest |v|, plus a sign.
    if elut_g:
        top = (3 ** elut_g - 1) // 2
        assert cfg.elut_entries == top + 1
        assert cfg.elut_index_bits == len(bin(top)) - 2
        assert cfg.elut_code_bits == cfg.elut_index_bits + 1
    else:
        assert (cfg.elut_entries, cfg.elut_index_bits, cfg.elut_code_bits) == (0, 0, 0)
        assert cfg.modes == ("bitserial",)
    # Table entries: |sum of up to max(g, elut_g) activations| <= that many * 2^(act_bits-1).
    bound = max(g, elut_g) * (1 << (act_bits - 1))
    assert cfg.table_bits == brute_signed_bits(bound)
    assert cfg.table_entries == max(cfg.bitserial_entries, cfg.elut_entries)
    assert cfg.code_bits == max(cfg.bitserial_code_bits, cfg.elut_code_bits)
    assert cfg.act_slots == max(g, elut_g)
    assert cfg.sum_bits == 49
    assert cfg.act_word_bits == cfg.m * max(g, elut_g) * act_bits
    assert cfg.table_word_bits == cfg.m * cfg.table_entries * cfg.table_bits
    assert cfg.weight_word_bits == cfg.n * cfg.code_bits
    assert cfg.out_word_bits == cfg.n * 48
    assert cfg.products_per_cycle("bitserial") == cfg.m * cfg.n * g


@pytest.mark.parametrize("n, acc_bits, host_bits, beats", [
    (4, 24, 32, 1),      # 96-bit rows fit one beat
    (16, 32, 32, 1),     # exactly 512 bits
    (64, 32, 32, 4),     # 2048 bits: 4 beats of 16 x 32 = 16 host words
    (20, 32, 32, 5),     # 640 bits: 2 beats are 10 host words (not a power of two), 4 beats 5
    (64, 48, 32, 1),     # 3072 bits: beats of 12, 6, 3 or 1.5 host words: kept whole
    (24, 48, 32, 1),     # 1152 bits: no beat is a power-of-two number of host words
])
def test_output_beats(n, acc_bits, host_bits, beats):
    cfg = CoreConfig(n=n, acc_bits=acc_bits, host_bits=host_bits)
    assert cfg.out_beats == beats
    assert cfg.out_beat_cols * beats == n and cfg.out_beat_bits == n // beats * acc_bits
    if beats > 1:
        words = cfg.out_beat_bits // host_bits
        assert cfg.out_beat_bits <= 512 and cfg.out_beat_bits % host_bits == 0
        assert words & (words - 1) == 0


def test_broadcast_groups():
    assert [CoreConfig(n=n).broadcast_groups for n in (1, 8, 9, 64, 65)] == [1, 1, 2, 8, 9]


def test_default_widths_by_hand():
    # The numbers DESIGN §2 quotes for the default core.
    d = preset("default")
    assert d.table_bits == 11            # g = 4, int8: +512 needs 11 signed bits
    assert d.bitserial_entries == 8      # 2^(4-1)
    assert d.elut_entries == 14          # (27 + 1) / 2
    assert d.elut_code_bits == 5         # 4 index bits + sign: 5 bits per 3 weights
    assert d.sum_bits == 33
    assert d.weight_word_bits == 64 * 5


def test_lookups_widen_the_words_by_hand():
    # L = 3 on the default tile: each word holds three K groups per tile row / column.
    d = preset("default").replace(lookups=3)
    assert (d.table_rows, d.step_codes) == (6, 192)
    assert d.act_word_bits == 2 * 3 * 4 * 8           # m * L * act_slots (4) * act_bits
    assert d.table_word_bits == 2 * 3 * 14 * 11       # m * L * entries (ELUT's 14) * bits
    assert d.weight_word_bits == 64 * 3 * 5
    assert d.products_per_cycle() == 2 * 64 * 3 * 4
    assert d.products_per_cycle("elut") == 2 * 64 * 3 * 3
    assert d.lookups_per_cycle == 384


@pytest.mark.parametrize("text,message", [
    (b"\xff{}", "--config 'c.json' is not UTF-8 text: byte 0xff at offset 0"),
    (b'{"m": 2, "n": "\xe9"}', "--config 'c.json' is not UTF-8 text: byte 0xe9 at offset 15"),
    ("[1, 2]", "--config 'c.json' must be a JSON object of CoreConfig fields, got an array"),
    ('"tiny"', "--config 'c.json' must be a JSON object of CoreConfig fields, got a string"),
    ("{", "--config 'c.json' is not valid JSON: Expecting property name enclosed in double "
          "quotes: line 1 column 2 (char 1)"),
    ("[" * 100000, "--config 'c.json' is not usable JSON: maximum recursion depth exceeded"),
    ('{"m": 1' + "0" * 5000 + "}", "--config 'c.json' is not usable JSON: Exceeds the limit"),
    ('{"m": 1e400}', "--config 'c.json': config field 'm' = inf is invalid: must be an integer"),
    ('{"m": [2]}', "--config 'c.json': config field 'm' = [2] is invalid: must be an integer"),
    ('{"symmetrize": 1}', "--config 'c.json': config field 'symmetrize' = 1 is invalid: must "
                          "be true or false"),
])
def test_from_json_of_bad_bytes_is_one_line(text, message):
    with pytest.raises(ConfigError) as e:
        CoreConfig.from_json(text, source="--config 'c.json'")
    assert str(e.value).startswith(message)
    assert "\n" not in str(e.value)


def test_from_json_bytes_round_trip():
    cfg = PRESETS["tiny"]
    assert CoreConfig.from_json(cfg.to_json().encode()) == cfg


# -- FP activations ---------------------------------------------------------------------------

def test_fp_variant_sets_the_raw_widths():
    c = preset("tiny").with_act_format("bf16", table_format="bf16", acc_format="fp32")
    assert (c.name, c.act_format, c.table_format, c.acc_format) == ("tiny_bf16", "bf16",
                                                                   "bf16", "fp32")
    # raw fields: 16-bit activations, BF16 table entries (1+8+7), FP32 outputs
    assert (c.act_bits, c.table_bits, c.acc_bits) == (16, 16, 32)
    assert c.is_fp and not preset("tiny").is_fp
    assert c.act_word_bits == 1 * 4 * 16            # rows x act_slots (max(4, 3)) x 16
    assert c.table_word_bits == 1 * 14 * 16         # rows x entries (ELUT g 3: (3^3+1)/2)
    assert c.out_word_bits == 4 * 32
    assert preset("tiny").with_act_format("int8") is preset("tiny")
    assert CoreConfig.from_json(c.to_json()) == c


@pytest.mark.parametrize("changes,message", [
    ({"act_format": "fp8"}, "config field 'act_format' = 'fp8' is invalid: allowed int8, fp16, bf16"),
    ({"act_format": "fp16", "table_format": "bf16", "act_bits": 16},
     "config field 'table_format' = 'bf16' is invalid: must hold act_format fp16 exactly: "
     "allowed fp16, fp32"),
    ({"act_format": "bf16", "acc_format": "fp16", "act_bits": 16, "acc_bits": 16},
     "config field 'acc_format' = 'fp16' is invalid: must hold table_format fp32 exactly: "
     "allowed fp32"),
    ({"act_format": "fp16"}, "config field 'act_bits' = 8 is invalid: act_format fp16 has "
     "16-bit activations: allowed 16 (CoreConfig.with_act_format sets it)"),
    ({"act_format": "fp16", "act_bits": 16, "acc_bits": 24},
     "config field 'acc_bits' = 24 is invalid: acc_format fp32 has 32-bit outputs: allowed 32 "
     "(CoreConfig.with_act_format sets it)"),
    ({"table_format": "fp16"}, "config field 'table_format' = 'fp16' is invalid: allowed fp32 "
     "(the default) with act_format int8: it applies to FP activations only"),
])
def test_fp_fields_are_checked(changes, message):
    with pytest.raises(ConfigError) as e:
        CoreConfig(**{"acc_bits": 32, **changes})
    assert str(e.value) == message


def test_fp_variant_names_and_refusals():
    c = preset("tiny").with_act_format("fp16")
    assert c.with_act_format("bf16").name == "tiny_bf16"
    assert c.with_act_format("fp16", table_format="fp16", acc_format="fp16").name == "tiny_fp16"
    with pytest.raises(ConfigError, match="table_format 'xx' is unknown: allowed fp16, bf16, fp32"):
        preset("tiny").with_act_format("int8", table_format="xx")
    with pytest.raises(ConfigError, match="act_format int8 takes no table_format or acc_format"):
        c.with_act_format("int8")
