"""The one option table: every backend refuses, in one line and before any work starts, an
option it does not take and a value of the wrong type or range (issue 18)."""

from __future__ import annotations

import numpy as np
import pytest

import lutcore.host.rtl
from lutcore.errors import LutcoreError
from lutcore.host import BACKEND_NAMES, OPTIONS, open_device, run_gemm
from lutcore.host.options import check_options, option_table

A = np.ones((1, 4), np.int8)
W = np.ones((2, 4), np.int8)


@pytest.fixture(autouse=True)
def no_simulation(monkeypatch):
    """Refusals must come before a simulation starts: starting one fails the test."""
    def refuse(*args, **kwargs):
        raise AssertionError("a simulation was started")
    monkeypatch.setattr(lutcore.host.rtl, "SimTransport", refuse)


def one_line(excinfo) -> str:
    text = str(excinfo.value)
    assert "\n" not in text and len(text) < 200, text
    return text


@pytest.mark.parametrize("backend,options,message", [
    ("rtl", {"check": "no"}, "option check = 'no' is invalid: allowed True or False"),
    ("rtl", {"idle": 1.5}, "option idle = 1.5 is invalid: allowed a number 0 <= idle < 1"),
    ("rtl", {"stall": -0.1}, "option stall = -0.1 is invalid: allowed a number 0 <= stall < 1"),
    ("rtl", {"stall": float("nan")}, "option stall = nan is invalid"),
    ("rtl", {"seed": -1}, "option seed = -1 is invalid: allowed an integer 0..2**32-1"),
    ("rtl", {"seed": 1.5}, "option seed = 1.5 is invalid"),
    ("rtl", {"waves": 1}, "option waves = 1 is invalid: allowed True or False"),
    ("iss", {"allow_wrap": "no"}, "option allow_wrap = 'no' is invalid: allowed True or False"),
    ("numpy", {"allow_wrap": "no"}, "option allow_wrap = 'no' is invalid"),
    ("uart", {"allow_wrap": "no"}, "option allow_wrap = 'no' is invalid"),
    ("numpy", {"path": "turbo"}, "option path = 'turbo' is invalid: allowed 'fast' or 'core'"),
    ("iss", {"ksplit": "Auto"}, "option ksplit = 'Auto' is invalid"),
    ("iss", {"weight_bits": 9},
     "option weight_bits = 9 is invalid: allowed None or an integer 1..4"),
    ("uart", {"baud": 0}, "option baud = 0 is invalid: allowed a positive integer"),
    ("uart", {"timeout": 0}, "option timeout = 0 is invalid: allowed a number > 0"),
    ("iss", {"path": "fast"}, "option 'path' is not taken by backend 'iss': allowed "
                              "allow_wrap, weight_bits, zero_point, ksplit"),
    ("uart", {"waves": True}, "option 'waves' is not taken by backend 'uart'"),
    ("numpy", {"port": "/dev/null"}, "option 'port' is not taken by backend 'numpy'"),
    ("rtl", {"speed": 3}, "option 'speed' is not taken by backend 'rtl'"),
])
def test_bad_option_is_one_line_before_any_work(backend, options, message):
    with pytest.raises(LutcoreError) as e:
        run_gemm(A, W, backend=backend, config="tiny", **options)
    assert one_line(e).startswith(message)


@pytest.mark.parametrize("backend", BACKEND_NAMES)
@pytest.mark.parametrize("mode", ["ELUT", "BitSerial", 3, None])
def test_mode_is_spelled_the_same_on_every_backend(backend, mode):
    with pytest.raises(LutcoreError) as e:
        run_gemm(A, W, backend=backend, mode=mode, config="tiny")
    assert one_line(e) == f"mode = {mode!r} is invalid: allowed 'bitserial', 'elut'"


def test_unknown_backend():
    with pytest.raises(LutcoreError) as e:
        run_gemm(A, W, backend="gpu")
    assert one_line(e) == "backend = 'gpu' is unknown: allowed numpy, iss, rtl, uart"


def test_session_options_are_split_by_scope():
    with pytest.raises(LutcoreError) as e:
        open_device("iss", "tiny", allow_wrap=True)
    assert one_line(e) == ("option 'allow_wrap' is not taken by backend 'iss' (device "
                           "options): allowed none")
    with pytest.raises(LutcoreError, match=r"^option 'idle' is not taken by backend 'rtl' "
                                           r"\(gemm options\): allowed allow_wrap"):
        check_options("rtl", {"idle": 0.1}, "gemm")


def test_accepted_values_are_converted():
    got = check_options("rtl", {"allow_wrap": np.bool_(True), "seed": np.int64(3),
                                "idle": 0, "weight_bits": None})
    assert got == {"allow_wrap": True, "weight_bits": None, "seed": 3, "idle": 0.0}
    assert type(got["seed"]) is int and type(got["idle"]) is float


def test_table_lists_every_option_once():
    table = option_table()
    for name in OPTIONS:
        assert table.count(f"| `{name}` |") == 1


@pytest.mark.parametrize("backend", ["iss", "rtl"])
def test_bad_operands_are_refused_before_a_device_opens(backend):
    with pytest.raises(LutcoreError) as e:
        run_gemm(A, np.ones((2, 5), np.int8), backend=backend, config="tiny")
    assert "K" in one_line(e) or "shape" in one_line(e)
