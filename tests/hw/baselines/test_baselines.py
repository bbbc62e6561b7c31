# amaranth: UnusedElaboratable=no

"""The comparison baselines are bit-exact against the int64 reference ``A @ W.T`` wrapped to the
accumulator width, on random data and on the extremes (all activations -128, extreme weights,
accumulator wrap-around)."""

from __future__ import annotations

import numpy as np
import pytest
from amaranth.hdl import Fragment, signed
from amaranth.sim import Simulator

from lutcore.errors import LutcoreError
from lutcore.hw.baselines import AccumulatorArray, AdderCore, MACCore
from lutcore.spec import numerics as nx

# (label, constructor kwargs, K, acc_bits). Small tiles; one case has a narrow accumulator so
# that the extreme data wraps.
CASES = [
    ("mac-int8", dict(kind="mac", m=2, n=3, g=4, weight_bits=8, zero_point=128), 12, 32),
    ("mac-w2", dict(kind="mac", m=2, n=3, g=4, weight_bits=2, zero_point=1), 10, 32),
    ("mac-w4-wrap", dict(kind="mac", m=1, n=2, g=3, weight_bits=4, zero_point=8,
                         datapath_bits=5), 24, 15),
    ("add-ternary", dict(kind="adder", m=2, n=3, g=4, mode="ternary", weight_bits=2), 11, 32),
    ("add-ternary-wrap", dict(kind="adder", m=3, n=2, g=3, mode="ternary", weight_bits=2), 24, 12),
    ("add-bitserial-w2", dict(kind="adder", m=2, n=3, g=4, mode="bitserial", weight_bits=2,
                              zero_point=1), 10, 32),
    ("add-bitserial-w3", dict(kind="adder", m=2, n=2, g=3, mode="bitserial", weight_bits=3,
                              zero_point=4), 7, 32),
    ("add-bitserial-w4-wrap", dict(kind="adder", m=1, n=2, g=2, mode="bitserial", weight_bits=4,
                                   zero_point=8), 8, 14),
]

ACT_BITS = 8


def make_dut(spec: dict, acc_bits: int):
    """(core, zero point) of a case."""
    kw = dict(spec)
    kind = kw.pop("kind")
    if kind == "mac":
        return MACCore(act_bits=ACT_BITS, acc_bits=acc_bits, **kw), kw["zero_point"]
    zero_point = kw.pop("zero_point", 1)
    return AdderCore(act_bits=ACT_BITS, acc_bits=acc_bits, **kw), zero_point


def is_ternary(dut) -> bool:
    return isinstance(dut, AdderCore) and dut.mode == "ternary"


def make_data(dut, zero_point: int, k: int, kind: str, rng):
    """Activations [m, K] and signed weights [n, K] (codes minus zero point)."""
    lo, hi = -nx.max_abs_activation(ACT_BITS), nx.max_abs_activation(ACT_BITS) - 1
    if is_ternary(dut):
        wlo, whi = -1, 1
    else:
        wlo, whi = -zero_point, (1 << dut.weight_bits) - 1 - zero_point
    if kind == "random":
        a = rng.integers(lo, hi + 1, size=(dut.m, k))
        w = rng.integers(wlo, whi + 1, size=(dut.n, k))
    elif kind == "all-min":          # every activation -128 against the extreme weights
        a = np.full((dut.m, k), lo)
        w = np.where(np.arange(dut.n)[:, None] % 2 == 0, wlo, whi) * np.ones((1, k), np.int64)
    elif kind == "all-max":
        a = np.full((dut.m, k), hi)
        w = np.full((dut.n, k), whi)
    else:
        raise AssertionError(kind)
    return a.astype(np.int64), w.astype(np.int64)


def steps_for(dut, zero_point: int, a: np.ndarray, w: np.ndarray):
    """Step payloads of one output tile: every K group once (MAC, ternary), or every
    (plane, group) pair plane-major (bit-serial, as an LMMA), the first with ``clear``."""
    g = dut.g
    groups = -(-a.shape[1] // g)
    pad = groups * g - a.shape[1]
    ap = np.pad(a, ((0, 0), (0, pad)))
    wp = np.pad(w, ((0, 0), (0, pad)))                # padded weight 0 meets padded act 0
    steps = []
    if isinstance(dut, MACCore) or is_ternary(dut):
        codes = wp + (zero_point if isinstance(dut, MACCore) else 1)
        for j in range(groups):
            steps.append(dict(acts=ap[:, j * g:(j + 1) * g].tolist(),
                              codes=codes[:, j * g:(j + 1) * g].tolist()))
    else:
        codes = wp + zero_point
        for b in range(dut.weight_bits):
            for j in range(groups):
                bits = (codes[:, j * g:(j + 1) * g] >> b) & 1
                steps.append(dict(acts=ap[:, j * g:(j + 1) * g].tolist(), codes=bits.tolist(),
                                  plane=b))
    for i, s in enumerate(steps):
        s["clear"] = int(i == 0)
    return steps


def simulate(dut, tiles, correction: int, rng):
    """Run each tile's steps (random idle cycles between them, garbage payload while idle),
    then a finalize with ``correction``; collect the m rows under random backpressure.
    Returns, per tile, (rows [m, n], accumulators [m, n], row sums [m])."""
    layout = dut.step_layout
    results = []

    def garbage():
        return int.from_bytes(rng.bytes((layout.size + 7) // 8), "little") % (1 << layout.size)

    async def testbench(ctx):
        for steps in tiles:
            for payload in steps:
                while rng.random() < 0.3:
                    ctx.set(dut.steps.valid, 0)
                    ctx.set(dut.steps.payload.as_value(), garbage())
                    await ctx.tick()
                ctx.set(dut.steps.payload, layout.const(payload))
                ctx.set(dut.steps.valid, 1)
                await ctx.tick().until(dut.steps.ready)
            ctx.set(dut.steps.valid, 0)
            ctx.set(dut.steps.payload.as_value(), garbage())

            ctx.set(dut.finalize.payload.correction, correction)
            ctx.set(dut.finalize.valid, 1)
            await ctx.tick().until(dut.finalize.ready)
            ctx.set(dut.finalize.valid, 0)
            assert not ctx.get(dut.steps.ready)          # steps wait for the readout

            rows = []
            while len(rows) < dut.m:
                ready = rng.random() < 0.6
                ctx.set(dut.rows.ready, ready)
                valid, payload = ctx.get(dut.rows.valid), ctx.get(dut.rows.payload)
                await ctx.tick()
                if valid and ready:
                    assert payload.row == len(rows)
                    assert payload.last == (len(rows) == dut.m - 1)
                    rows.append([payload.word[c] for c in range(dut.n)])
            ctx.set(dut.rows.ready, 1)
            for _ in range(4):                           # drained: nothing extra comes out
                assert not ctx.get(dut.rows.valid)
                await ctx.tick()
            assert not ctx.get(dut.busy) and ctx.get(dut.steps.ready)
            acc = [[ctx.get(dut.acc[r][c]) for c in range(dut.n)] for r in range(dut.m)]
            rowsum = [ctx.get(dut.rowsum[r]) for r in range(dut.m)]
            results.append(tuple(np.array(x, np.int64) for x in (rows, acc, rowsum)))

    sim = Simulator(dut)
    sim.add_clock(1e-6)
    sim.add_testbench(testbench)
    sim.run()
    return results


@pytest.mark.parametrize("data,seed", [("random", 1), ("random", 2), ("all-min", 0),
                                       ("all-max", 0)])
@pytest.mark.parametrize("label,spec,k,acc_bits", CASES, ids=[c[0] for c in CASES])
def test_baseline_bit_exact(label, spec, k, acc_bits, seed, data):
    rng = np.random.default_rng(seed)
    dut, zp = make_dut(spec, acc_bits)
    a, w = make_data(dut, zp, k, data, rng)
    # A second, random tile after the first checks that `clear` restarts the sums.
    a2, w2 = make_data(dut, zp, k, "random", rng)
    tiles = [(a, w), (a2, w2)]
    bitserial = isinstance(dut, AdderCore) and dut.mode == "bitserial"
    c = nx.correction_constant(dut.weight_bits, zp) if bitserial else 0
    results = simulate(dut, [steps_for(dut, zp, x, y) for x, y in tiles], c, rng)
    sum_bits = acc_bits + 1
    for (x, y), (rows, acc, rowsum) in zip(tiles, results):
        golden = x @ y.T                                       # int64 reference
        assert np.array_equal(rows, nx.wrap(golden, acc_bits)), (label, data)
        if bitserial:     # S = 2*O - c*sumA (DESIGN §2.1), row sums = sum of activations
            assert np.array_equal(rowsum, nx.wrap(x.sum(axis=1), sum_bits))
            assert np.array_equal(acc, nx.wrap(2 * golden - c * x.sum(axis=1)[:, None],
                                               sum_bits))
        else:
            assert np.array_equal(acc, nx.wrap(2 * golden, sum_bits))
            assert not rowsum.any()


def test_extreme_data_wraps():
    """The narrow-accumulator cases really overflow (so the wrap above is exercised)."""
    for label, spec, k, acc_bits in CASES:
        if label.endswith("-wrap"):
            dut, zp = make_dut(spec, acc_bits)
            Fragment.get(dut, None)
            a, w = make_data(dut, zp, k, "all-min", np.random.default_rng(0))
            assert not all(nx.fits_signed(int(v), acc_bits) for v in (a @ w.T).ravel()), label


@pytest.mark.parametrize("seed", [1, 2])
def test_accumulator_array(seed):
    """The shared floor adds ready-made terms shifted by the plane and reads out like the
    LUT core: rows = (acc + c * rowsum) >> 1, with wrap-around in a narrow accumulator."""
    rng = np.random.default_rng(seed)
    dut = AccumulatorArray(m=2, n=3, term_bits=12, acc_bits=16, weight_bits=3)
    lo, hi = -(1 << 11), (1 << 11) - 1
    tiles, expected = [], []
    for _ in range(2):
        steps, acc, rowsum = [], np.zeros((2, 3), np.int64), np.zeros(2, np.int64)
        for i in range(12):
            terms = rng.integers(lo, hi + 1, size=(2, 3))
            terms[0, 0] = lo                               # the extreme term
            rowterms = rng.integers(lo, hi + 1, size=2)
            plane = int(rng.integers(0, 3))
            steps.append(dict(terms=terms.tolist(), rowterms=rowterms.tolist(), plane=plane,
                              clear=int(i == 0)))
            acc += terms << plane
            rowsum += rowterms
        tiles.append(steps)
        expected.append((nx.wrap(acc, 17), nx.wrap(rowsum, 17)))
    c = -3
    results = simulate(dut, tiles, c, rng)
    for (acc, rowsum), (rows, got_acc, got_rowsum) in zip(expected, results):
        assert np.array_equal(got_acc, acc) and np.array_equal(got_rowsum, rowsum)
        assert np.array_equal(rows, nx.wrap(nx.wrap(acc + c * rowsum[:, None], 17) >> 1, 16))


@pytest.mark.parametrize("make,error,message", [
    (lambda: MACCore(m=0, n=2, g=4), LutcoreError, "MACCore: m = 0 is invalid: allowed 1..16"),
    (lambda: MACCore(m=1, n=2, g=4, weight_bits=9), LutcoreError,
     "MACCore: weight_bits = 9 is invalid: allowed 1..8"),
    (lambda: MACCore(m=1, n=2, g=4, weight_bits=2, zero_point=4), LutcoreError,
     "MACCore: zero_point = 4 is invalid: allowed 0..3"),
    (lambda: MACCore(m=1, n=2, g=4, weight_bits=8, zero_point=0), LutcoreError,
     "MACCore: datapath_bits = 8 is invalid: weight_bits = 8, zero_point = 0 need at least 9"),
    (lambda: MACCore(m=1, n=2, g=4, acc_bits=12), LutcoreError,
     "MACCore: acc_bits = 12 is invalid: allowed 19..48"),
    (lambda: MACCore(m=1, n=2, g="4"), TypeError, "MACCore: g must be an integer, not '4'"),
    (lambda: AdderCore(m=1, n=2, g=4, mode="lut"), LutcoreError,
     "AdderCore: mode = 'lut' is invalid: allowed 'ternary', 'bitserial'"),
    (lambda: AdderCore(m=1, n=2, g=4, mode="ternary", weight_bits=3), LutcoreError,
     "AdderCore: weight_bits = 3 is invalid: allowed 2..2"),
    (lambda: AdderCore(m=1, n=2, g=4, mode="bitserial", weight_bits=4, acc_bits=14),
     LutcoreError, "AdderCore: acc_bits = 14 is invalid: allowed 15..48"),
])
def test_parameter_messages(make, error, message):
    with pytest.raises(error) as e:
        make()
    assert str(e.value) == message


def test_products_per_step_and_properties():
    mac = MACCore(m=2, n=8, g=4, weight_bits=2, zero_point=1)
    add = AdderCore(m=2, n=8, g=4, mode="bitserial", weight_bits=3)
    Fragment.get(mac, None), Fragment.get(add, None)
    assert mac.products_per_step == add.products_per_step == 64
    assert (mac.weight_bits, mac.zero_point, mac.datapath_bits, mac.sum_bits) == (2, 1, 8, 33)
    assert mac.term_shape == signed(18)               # 4 products of int8 x int8, + 2 bits
    assert add.term_shape == signed(11)               # the LUT core's table entry width
    assert add.plane_bits == 2 and add.mode == "bitserial"
    with pytest.raises(AttributeError):
        mac.m = 3
