# amaranth: UnusedElaboratable=no
"""Table precompute unit: adder plans, streamed tables against the golden model, throughput."""

from __future__ import annotations

import random

import numpy as np
import pytest

from hwbench import (ALL_CONFIGS, CONFIGS, monitor, pack_array, pack_struct, run, sink, source,
                     wait_until)
from lutcore.errors import LutcoreError
from lutcore.hw.layouts import Mode, TableGeometry
from lutcore.hw.table_precompute import TablePrecompute, bitserial_plan, elut_plan
from lutcore.spec import numerics as nx
from lutcore.sw.kernels import tables as golden


# -- adder plans (plain Python, exhaustive over every supported group size) -------------------

def _plan_inputs(g, act_bits=8, count=64, seed=0):
    lo, hi = -(1 << (act_bits - 1)), (1 << (act_bits - 1)) - 1
    rng = np.random.default_rng(seed)
    rows = [np.full(g, lo), np.full(g, hi), np.array([lo, hi] * g)[:g]]
    rows += list(rng.integers(lo, hi + 1, size=(count, g)))
    return np.array(rows, dtype=np.int64)


@pytest.mark.parametrize("g", range(2, 7))
@pytest.mark.parametrize("symmetrize", [True, False])
def test_bitserial_plan_matches_golden_one_adder_per_entry(g, symmetrize):
    plan = bitserial_plan(g, symmetrize)
    entries = nx.bitserial_entries(g) if symmetrize else nx.bitserial_full_entries(g)
    a = _plan_inputs(g)
    want = (golden.bitserial_tables if symmetrize else golden.bitserial_full_tables)(a, g)[:, 0]
    got = np.array([plan.evaluate(row) for row in a])
    np.testing.assert_array_equal(got, want)
    # One adder tree of g - 1 over the group, then exactly one adder per further entry.
    assert plan.adders == (g - 1) + entries - 1
    if symmetrize:      # a balanced tree, then one chain step per cleared index bit
        assert plan.depth == (g - 1).bit_length() + nx.bitserial_index_bits(g)
    bound = nx.table_bound(g, 8)
    assert np.abs(got).max() <= bound


@pytest.mark.parametrize("g", range(2, 6))
def test_elut_plan_matches_golden_one_adder_per_entry(g):
    plan = elut_plan(g)
    a = _plan_inputs(g)
    want = golden.elut_tables(a, g)[:, 0]
    np.testing.assert_array_equal(np.array([plan.evaluate(row) for row in a]), want)
    # H[0] = 0 and the g single-digit entries are free; every other entry is one adder.
    assert plan.adders == nx.elut_entries(g) - 1 - g
    assert plan.depth == g - 1


def test_default_adder_counts_and_latency():
    unit = TablePrecompute.from_config(CONFIGS["default"])
    assert unit.adders == {"bitserial": 10, "elut": 10}
    assert unit.latency == 3 == TablePrecompute.latency_of(4, 3, True)
    assert TablePrecompute.from_config(CONFIGS["default"], stage_levels=1).latency == 5


# -- parameters --------------------------------------------------------------------------------

GOOD = dict(m=2, g=4, elut_g=3, act_bits=8)


@pytest.mark.parametrize("change, error, message", [
    (dict(m=0), LutcoreError, r"^TablePrecompute: m = 0 is invalid: allowed 1\.\.16$"),
    (dict(g=7), LutcoreError, r"^TablePrecompute: g = 7 is invalid: allowed 2\.\.6$"),
    (dict(elut_g=1), LutcoreError, r"^TablePrecompute: elut_g = 1 is invalid: allowed 0 \(off\)"),
    (dict(act_bits=1), LutcoreError, r"^TablePrecompute: act_bits = 1 is invalid"),
    (dict(stage_levels=0), LutcoreError, r"^TablePrecompute: stage_levels = 0 is invalid"),
    (dict(g=4.0), TypeError, r"^TablePrecompute: g must be an integer, not 4\.0$"),
    (dict(m=True), TypeError, r"^TablePrecompute: m must be an integer, not True$"),
    (dict(symmetrize=1), TypeError, r"^TablePrecompute: symmetrize must be True or False, not 1$"),
])
def test_parameters_are_validated(change, error, message):
    with pytest.raises(error, match=message):
        TablePrecompute(**{**GOOD, **change})


def test_parameters_are_read_only_and_geometry_matches_config():
    for cfg in CONFIGS.values():
        unit = TablePrecompute.from_config(cfg)
        geo = unit.geometry
        assert (unit.m, unit.g, unit.elut_g, unit.act_bits, unit.symmetrize) == \
               (cfg.m, cfg.g, cfg.elut_g, cfg.act_bits, cfg.symmetrize)
        assert (geo.entries, geo.entry_bits, geo.act_slots, geo.code_bits, geo.index_bits) == \
               (cfg.table_entries, cfg.table_bits, cfg.act_slots, cfg.code_bits, cfg.index_bits)
        assert unit.activation_layout["word"].width == cfg.act_word_bits
        assert unit.table_layout["word"].width == cfg.table_word_bits
    with pytest.raises(AttributeError):
        unit.g = 3


# -- streamed tables against the golden model -------------------------------------------------

def expected_table(cfg, acts, mode) -> np.ndarray:
    """[m, table_entries] golden tables of one activation word, unused entries 0."""
    geo = TableGeometry(cfg.g, cfg.elut_g, cfg.act_bits, cfg.symmetrize)
    out = np.zeros((cfg.m, geo.entries), np.int64)
    if mode is Mode.BITSERIAL:
        make = golden.bitserial_tables if cfg.symmetrize else golden.bitserial_full_tables
        t = make(acts[:, :cfg.g], cfg.g)[:, 0]
    elif cfg.has_elut:
        t = golden.elut_tables(acts[:, :cfg.elut_g], cfg.elut_g)[:, 0]
    else:
        return out                       # ELUT word on a build without ELUT: all zero
    out[:, :t.shape[1]] = t
    return out


def make_words(cfg, rng: np.random.Generator, count: int):
    """Random words in every mode (ELUT included even without it), then the extremes."""
    lo, hi = -(1 << (cfg.act_bits - 1)), (1 << (cfg.act_bits - 1)) - 1
    shape = (cfg.m, cfg.act_slots)
    words = []
    for _ in range(count):
        words.append((rng.integers(lo, hi + 1, size=shape), Mode(int(rng.integers(2)))))
    for mode in Mode:
        for fill in (lo, hi):
            words.append((np.full(shape, fill), mode))
        alternating = np.where(np.arange(cfg.act_slots) % 2, hi, lo)
        words.append((np.broadcast_to(alternating, shape).copy(), mode))
    return words


def drive(cfg, words, *, idle, stall, seed, stage_levels=2):
    dut = TablePrecompute.from_config(cfg, stage_levels=stage_levels)
    geo = dut.geometry
    rng = random.Random(seed)
    items = [pack_struct(dut.activation_layout, mode=mode.value,
                         word=pack_array(acts.reshape(-1), cfg.act_bits))
             for acts, mode in words]
    expected = [pack_struct(dut.table_layout, mode=mode.value,
                            word=pack_array(expected_table(cfg, acts, mode).reshape(-1),
                                            geo.entry_bits))
                for acts, mode in words]
    accepted, produced = [], []

    async def main(ctx):
        await wait_until(ctx, lambda: len(produced) >= len(items), 40 * len(items) + 100,
                         "all tables")
        # Drain: the pipeline must hold nothing more.
        for _ in range(3 * dut.latency + 8):
            await ctx.tick()
        assert not ctx.get(dut.tables.valid)

    run(dut, main, [
        source(dut.activations, items, rng, idle),
        sink(dut.tables, rng, stall),
        monitor(dut.activations, accepted),
        monitor(dut.tables, produced),
    ])
    return dut, items, expected, accepted, produced


CASES = [(name, seed, 2) for name in CONFIGS for seed in (1, 2)]
# Slow sweep: more seeds, the extra configurations, and other pipeline cuts.
CASES += [pytest.param(name, seed, levels, marks=pytest.mark.slow)
          for name in ALL_CONFIGS for seed in (3, 4) for levels in (1, 2, 3)]


@pytest.mark.parametrize("name, seed, stage_levels", CASES)
def test_tables_match_golden_under_random_stalls(name, seed, stage_levels):
    cfg = ALL_CONFIGS[name]
    words = make_words(cfg, np.random.default_rng(seed), count=60)
    dut, items, expected, accepted, produced = drive(cfg, words, idle=0.3, stall=0.3, seed=seed,
                                                     stage_levels=stage_levels)
    assert [p for _, p in accepted] == items                 # each word taken exactly once
    assert len(produced) == len(expected)                    # nothing lost, nothing extra
    for i, ((_, got), want) in enumerate(zip(produced, expected)):
        assert got == want, f"word {i} ({words[i][1].name}): table differs from golden"


@pytest.mark.parametrize("name", list(CONFIGS))
def test_one_word_per_cycle_without_bubbles(name):
    cfg = CONFIGS[name]
    words = make_words(cfg, np.random.default_rng(7), count=10)
    dut, items, expected, accepted, produced = drive(cfg, words, idle=0, stall=0, seed=7)
    start = accepted[0][0]
    assert [c for c, _ in accepted] == list(range(start, start + len(items)))
    assert [c for c, _ in produced] == [c + dut.latency for c, _ in accepted]
    assert [p for _, p in produced] == expected
