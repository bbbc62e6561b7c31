"""The C lookup loop: how it is built and loaded, what happens without a compiler, and its
sums against an oracle written here for both table layouts and every dtype pair it takes
(lut_gemm's own tests run with it on and off: tests/sw/kernels/test_gemm.py)."""

import numpy as np
import pytest

from lutcore.sw.kernels import lut_gemm, native, pack_elut


def oracle_sum(tab3, codes):
    """out[r, n] = sum_p tab3[r, p, codes[n, p]] by plain indexing (tab3 [M, P, 256])."""
    m, p, _ = tab3.shape
    out = np.zeros((m, codes.shape[0]), np.int64)
    for pos in range(p):
        out += tab3[:, pos, :][:, codes[:, pos]].astype(np.int64)
    return out


@pytest.fixture
def fresh(monkeypatch, tmp_path):
    """A private build cache and no library loaded yet."""
    monkeypatch.setenv("LUTCORE_BUILD", str(tmp_path / "cache"))
    monkeypatch.delenv(native.ENV, raising=False)
    native._load.cache_clear()
    yield tmp_path / "cache"
    native._load.cache_clear()


def need_c():
    if not native.enabled():
        pytest.skip(f"no C lookup loop here: {native.status()}")


@pytest.mark.parametrize("tab_dtype", [np.int16, np.int32])
@pytest.mark.parametrize("acc_dtype", [np.int32, np.int64])
@pytest.mark.parametrize("m", [1, 3, 9])
def test_both_layouts_and_dtypes(tab_dtype, acc_dtype, m):
    need_c()
    rng = np.random.default_rng(m)
    n, parts_p = 70, (13, 6)                   # two parts, like two bit planes
    p = sum(parts_p)
    # entries up to the table type's extreme, or as large as a sum of p of them allows
    top = min(np.iinfo(tab_dtype).max, np.iinfo(acc_dtype).max // p)
    tab3 = rng.integers(-top, top, (m, p, 256), endpoint=True).astype(tab_dtype)
    tab3[0, 0, :] = top                        # a row at the extreme
    codes = rng.integers(0, 256, (n, p), dtype=np.uint8)
    # the parts as strided views of one array, as a K chunk of packed weights is
    parts = [codes[:, :parts_p[0]], codes[:, parts_p[0]:]]
    want = oracle_sum(tab3, codes)
    assert np.abs(want).max() <= np.iinfo(acc_dtype).max
    rows = native.lookup_sum(tab3, m, parts, acc_dtype, rowwise=True)
    cols = native.lookup_sum(np.ascontiguousarray(tab3.transpose(1, 2, 0)), m, parts,
                             acc_dtype, rowwise=False)
    for out in (rows, cols):
        assert out.dtype == acc_dtype and out.shape == (m, n)
        np.testing.assert_array_equal(out, want)


def test_types_it_does_not_take_fall_back():
    need_c()
    tab = np.zeros((1, 1, 256), np.int64)      # int64 tables: the NumPy loop runs instead
    assert native.lookup_sum(tab, 1, [np.zeros((2, 1), np.uint8)], np.int64, True) is None


def test_compiled_once_into_the_build_cache(fresh):
    assert native.enabled(), native.status()   # gcc is part of the supported machine
    libs = list((fresh / "native").glob("lookup-*.so"))
    assert len(libs) == 1
    stamp = libs[0].stat().st_mtime_ns
    native._load.cache_clear()
    assert native.enabled()
    assert [lib.stat().st_mtime_ns for lib in (fresh / "native").glob("lookup-*.so")] == [stamp]
    assert native.status().startswith("C (")
    assert not list((fresh / "native").glob(".lookup-*"))   # no temporary file left


def gemm_is_right():
    rng = np.random.default_rng(3)
    a = rng.integers(-128, 128, (2, 31))
    w = rng.integers(-1, 2, (5, 31))
    np.testing.assert_array_equal(lut_gemm(a, pack_elut(w)), a @ w.T)


def test_no_compiler_runs_numpy_and_says_why(fresh, monkeypatch):
    monkeypatch.setenv("CC", str(fresh.parent / "no-such-cc"))
    assert not native.enabled()
    assert native.status().startswith("NumPy (no C compiler (")
    gemm_is_right()


def test_a_failing_compiler_runs_numpy_and_says_why(fresh, monkeypatch):
    monkeypatch.setenv("CC", "false")          # runs, prints nothing, fails
    assert not native.enabled()
    assert native.status() == "NumPy (false failed on lookup.c: no message)"
    assert not list((fresh / "native").glob("*"))           # nothing half-written kept
    gemm_is_right()


def test_switched_off_by_the_environment_and_in_a_block(monkeypatch):
    monkeypatch.setenv(native.ENV, "0")
    assert not native.enabled()
    assert native.status() == "NumPy (native loop switched off)"
    gemm_is_right()
    monkeypatch.delenv(native.ENV)
    with native.disabled():
        assert not native.enabled()
        with native.disabled():
            pass
        assert not native.enabled()
    assert native.enabled() == (native._load()[0] is not None)
