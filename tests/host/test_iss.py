"""The host port modelled on the ISS (lutcore.host.iss): bulk and word-by-word access agree,
faults follow the memory map (docs/architecture.md, "Host port"), reset."""

from __future__ import annotations

import numpy as np

from lutcore.host.iss import AcceleratorModel
from lutcore.spec import isa
from lutcore.spec.config import preset


def addr(region, offset):
    return (region.value << isa.REGION_SHIFT) | offset


def test_bulk_and_word_by_word_writes_and_reads_agree():
    cfg = preset("default")                     # weight words span several host words
    rng = np.random.default_rng(0)
    words = np.arange(3, 9)
    addrs = isa.host_addresses(isa.Region.WEIGHT, words, config=cfg)       # [6, subs]
    data = rng.integers(0, 1 << cfg.host_bits, addrs.shape, dtype=np.uint64)
    bulk, single = AcceleratorModel(cfg), AcceleratorModel(cfg)
    bulk.write_words(addrs, data)
    for a, d in zip(addrs.reshape(-1).tolist(), data.reshape(-1).tolist()):
        single.write(a, d)
    np.testing.assert_array_equal(bulk.machine.weight, single.machine.weight)
    got = bulk.read_words(addrs)
    assert got.shape == addrs.shape
    assert got.tolist() == [[single.read(a) for a in row] for row in addrs.tolist()]
    # the words read back are the words written, masked to the word width
    bits = isa.region_word_bits(isa.Region.WEIGHT, cfg)
    value = sum(int(d) << (i * cfg.host_bits) for i, d in enumerate(data[0]))
    read = sum(int(d) << (i * cfg.host_bits) for i, d in enumerate(got[0]))
    assert read == value & ((1 << bits) - 1)


def test_a_word_commits_on_its_last_sub_word_only():
    cfg = preset("default")
    model = AcceleratorModel(cfg)
    first, last = isa.host_addresses(isa.Region.WEIGHT, [2], config=cfg)[0, [0, -1]]
    model.write_words(np.array([first]), np.array([5]))
    assert not model.machine.weight.any()
    model.write_words(np.array([last]), np.array([0]))
    assert model.read(int(first)) == 5


def test_bad_accesses_set_host_addr_first_error_kept():
    cfg = preset("tiny")
    model = AcceleratorModel(cfg)
    status = addr(isa.Region.CSR, isa.Csr.STATUS)
    assert model.read(addr(isa.Region.CSR, isa.Csr.ID)) == 0x4C555443
    assert model.read_words(np.array([addr(isa.Region.INSTR, 0)])).tolist() == [0]
    assert model.read(status) == 0b100 | (isa.ErrorCode.HOST_ADDR.value << 8)
    model.write(addr(isa.Region.CSR, isa.Csr.CTRL), 0b10)                  # clear
    assert model.read(status) == 0
    model.write_words(np.array([addr(isa.Region.TABLE, 0), 6 << isa.REGION_SHIFT]),
                      np.array([1, 1]))
    assert not model.machine.table.any()
    assert model.read(status) >> 8 == isa.ErrorCode.HOST_ADDR.value


def test_start_runs_to_done_and_reset_clears_the_csrs():
    cfg = preset("tiny")
    model = AcceleratorModel(cfg)
    halt = isa.split_host_words(isa.Halt().encode(), isa.INSTR_BITS, cfg.host_bits)
    model.write_words(isa.host_addresses(isa.Region.INSTR, [0], config=cfg), np.array([halt]))
    model.write(addr(isa.Region.CSR, isa.Csr.CTRL), 0b01)                  # start
    assert model.read(addr(isa.Region.CSR, isa.Csr.STATUS)) == 0b010       # done
    # START + ISSUE (docs/architecture.md, "Timing contract"): 4 + 1
    assert model.read(addr(isa.Region.CSR, isa.Csr.CYCLES_LO)) == 5
    model.reset()
    assert [model.read(addr(isa.Region.CSR, c)) for c in (2, 3, 4, 5)] == [0, 0, 0, 0]
