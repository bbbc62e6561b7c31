"""The ``numpy`` backend of lutcore.host.run_gemm: every preset and mode, the overflow
refusal of DESIGN §2.3, options."""

import numpy as np
import pytest

from lutcore.host import GemmResult, get_backend
from lutcore.errors import ConfigError, LutcoreError
from lutcore.spec import PRESETS, preset

backend = get_backend("numpy")


@pytest.mark.parametrize("name", list(PRESETS))
@pytest.mark.parametrize("mode", ["bitserial", "elut"])
@pytest.mark.parametrize("path", ["fast", "core"])
def test_presets_and_modes(name, mode, path):
    rng = np.random.default_rng(len(name))
    a = rng.integers(-128, 128, (3, 37)).astype(np.int8)
    w = rng.integers(-1, 2, (5, 37)).astype(np.int8)
    config = PRESETS[name]
    result = backend.run_gemm(a, w, mode=mode, config=config, path=path)
    assert isinstance(result, GemmResult)
    np.testing.assert_array_equal(result.output, a.astype(np.int64) @ w.astype(np.int64).T)
    assert result.cycles is None and result.utilization is None
    expect_group = {"fast": {"bitserial": 8, "elut": 5},
                    "core": {"bitserial": config.g, "elut": config.elut_g}}[path][mode]
    assert result.info["lookup_group"] == expect_group
    assert result.info["weight_bytes"] == (5 * 2 * 5 if mode == "bitserial" else 5 * 8)


def test_preset_name_is_accepted():
    a = np.ones((1, 4), np.int8)
    w = np.ones((1, 4), np.int8)
    assert backend.run_gemm(a, w, mode="elut", config="tiny").output.tolist() == [[4]]


def test_overflow_refused_then_wrapped():
    # tiny: acc_bits = 24. K = 65536 with a = -128, w = -1 gives +2^23, one past the top.
    config = preset("tiny")
    assert config.acc_bits == 24
    k = 1 << 16
    a = np.full((1, k), -128, np.int8)
    w = np.full((1, k), -1, np.int8)
    with pytest.raises(LutcoreError, match=r"^K = 65536 could overflow acc_bits = 24"):
        backend.run_gemm(a, w, mode="elut", config=config)
    out = backend.run_gemm(a, w, mode="elut", config=config, allow_wrap=True).output
    assert out.tolist() == [[-(1 << 23)]]


def test_mode_not_built_into_config():
    config = preset("default").replace(elut_g=0)
    with pytest.raises(ConfigError, match="mode 'elut' is not built into config"):
        backend.run_gemm(np.ones((1, 3), np.int8), np.ones((1, 3), np.int8), mode="elut",
                         config=config)


def test_unknown_option():
    with pytest.raises(LutcoreError) as e:
        backend.run_gemm(np.ones((1, 3), np.int8), np.ones((1, 3), np.int8),
                         mode="elut", config="default", port="/dev/null")
    assert str(e.value) == ("option 'port' is not taken by backend 'numpy': allowed "
                            "allow_wrap, path, act_format, table_format, acc_format")


def test_fp_options_need_fp_activations():
    with pytest.raises(LutcoreError) as e:
        backend.run_gemm(np.ones((1, 3), np.int8), np.ones((1, 3), np.int8),
                         config="default", acc_format="fp16")
    assert str(e.value) == ("option(s) ['acc_format'] apply to FP activations: pass "
                            "act_format 'fp16' or 'bf16'")
