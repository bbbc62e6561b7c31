"""Sessions and the one GEMM entry: the same info fields on every backend, a session that
serves many GEMMs, run_program and get_backend."""

from __future__ import annotations

import numpy as np
import pytest

from lutcore.errors import LutcoreError
from lutcore.host import INFO_FIELDS, get_backend, open_device, run_gemm, run_program
from lutcore.host.iss import AcceleratorModel
from lutcore.link import protocol as proto
from lutcore.link.client import ModelTransport
from lutcore.spec.config import preset
from lutcore.sw.compiler import compile_gemm


def operands(seed, m, n, k):
    rng = np.random.default_rng(seed)
    return (rng.integers(-128, 128, (m, k)).astype(np.int8),
            rng.integers(-1, 2, (n, k)).astype(np.int8))


def uart_options(cfg):
    return {"transport": ModelTransport(AcceleratorModel(cfg), host_bits=cfg.host_bits)}


@pytest.mark.parametrize("backend", ["numpy", "iss", "uart"])
def test_info_fields_are_the_same_on_every_backend(backend):
    cfg = preset("tiny")
    a, w = operands(1, 2, 6, 21)
    options = uart_options(cfg) if backend == "uart" else {}
    result = run_gemm(a, w, backend=backend, mode="elut", config=cfg, **options)
    np.testing.assert_array_equal(result.output, a.astype(np.int64) @ w.astype(np.int64).T)
    assert tuple(result.info) == INFO_FIELDS
    assert (result.info["backend"], result.info["config"], result.info["mode"]) == \
        (backend, "tiny", "elut")
    compiled = backend != "numpy"
    assert (result.cycles is not None) == compiled
    assert (result.info["phases"] is not None) == compiled
    assert (result.info["weight_bytes"] is not None) == (not compiled)


def test_iss_session_serves_many_gemms_on_one_model():
    cfg = preset("tiny")
    with open_device("iss", cfg) as dev:
        for seed in range(3):
            a, w = operands(seed, 1 + seed, 5, 13 + seed)
            out = dev.gemm(a, w, mode="bitserial").output
            np.testing.assert_array_equal(out, a.astype(np.int64) @ w.astype(np.int64).T)
        # one model: three programs of one phase each started it three times
        assert dev.transport.model.starts == 3


class CountingLine(ModelTransport):
    """Counts the INFO request frames sent (byte 1 of a frame is the command)."""

    infos = 0

    def write(self, data):
        if data[:1] == bytes([proto.REQUEST_SYNC]) and data[1] == proto.Command.INFO.value:
            self.infos += 1
        super().write(data)


def test_uart_session_connects_once():
    cfg = preset("tiny")
    line = CountingLine(AcceleratorModel(cfg), host_bits=cfg.host_bits)
    with open_device("uart", cfg, transport=line) as dev:
        for seed in range(2):
            a, w = operands(seed, 2, 5, 9)
            np.testing.assert_array_equal(dev.gemm(a, w).output,
                                          a.astype(np.int64) @ w.astype(np.int64).T)
    assert line.infos == 1
    assert line.bridge.device.starts == 2


def test_run_program_and_gemm_agree_on_cycles():
    cfg = preset("default")
    a, w = operands(3, 4, 70, 33)
    program = compile_gemm(a, w, config=cfg, mode="bitserial")
    run = run_program(program)
    result = get_backend("iss").run_gemm(a, w, mode="bitserial", config=cfg)
    assert run.cycles == result.cycles and run.phase_cycles == result.info["phase_cycles"]


def test_numpy_device_runs_no_programs():
    a, w = operands(4, 1, 4, 8)
    with open_device("numpy", "tiny") as dev:
        with pytest.raises(LutcoreError, match="backend 'numpy' runs GEMMs, not compiled"):
            dev.run(compile_gemm(a, w, config="tiny"))


def test_unavailable_backend_is_one_line(monkeypatch):
    import lutcore.host.devices as devices

    monkeypatch.setitem(devices.BACKENDS, "rtl", "lutcore._no_such_module:Device")
    with pytest.raises(LutcoreError, match=r"^--backend 'rtl' is not available in this "
                                           r"build: No module named"):
        get_backend("rtl")


@pytest.mark.parametrize("backend", ["numpy", "iss"])
@pytest.mark.parametrize("mode", ["bitserial", "elut"])
def test_packed_weights_run_as_they_are(backend, mode):
    from lutcore.sw.kernels import pack_bitserial, pack_elut
    rng = np.random.default_rng(12)
    a = rng.integers(-128, 128, (3, 37), dtype=np.int8)
    w = rng.integers(-1, 2, (9, 37), dtype=np.int8)
    cfg = preset("tiny")
    packed = pack_elut(w, g=cfg.elut_g) if mode == "elut" else pack_bitserial(w, g=cfg.g)
    out = run_gemm(a, packed, backend=backend, mode=mode, config=cfg).output
    np.testing.assert_array_equal(out, a.astype(np.int64) @ w.astype(np.int64).T)


@pytest.mark.parametrize("backend", ["numpy", "iss"])
def test_packed_weights_of_another_mode_or_group_are_refused(backend):
    from lutcore.sw.kernels import pack_bitserial, pack_elut
    a = np.ones((1, 10), np.int8)
    w = np.ones((2, 10), np.int8)
    with pytest.raises(LutcoreError, match="w is packed for mode 'elut': the GEMM's mode is "
                                           "'bitserial'"):
        run_gemm(a, pack_elut(w), backend=backend, mode="bitserial", config="tiny")
    with pytest.raises(LutcoreError, match="w is packed for group size g = 3: configuration "
                                           "'tiny' has g = 4 in mode 'bitserial'"):
        run_gemm(a, pack_bitserial(w, g=3), backend=backend, mode="bitserial", config="tiny")
    with pytest.raises(LutcoreError, match="weight_bits 3, zero_point 2"):
        run_gemm(a, pack_bitserial(w, g=4, weight_bits=3, zero_point=2), backend=backend,
                 mode="bitserial", config="tiny")
