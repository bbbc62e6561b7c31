"""The host side of the UART link: the protocol client, and the ``uart`` backend of the host
runtime over the Python bridge model with the ISS-backed accelerator model behind it."""

import numpy as np
import pytest

from lutcore.cli import main as cli_main
from lutcore.errors import LutcoreError
from lutcore.link import protocol as proto
from lutcore.host import DeviceError, open_device, run_gemm
from lutcore.host.iss import AcceleratorModel
from lutcore.link.client import Link, ModelTransport
from lutcore.link.model import MemoryDevice
from lutcore.spec import isa
from lutcore.spec.config import preset
from lutcore.sw.compiler import compile_gemm
from lutcore.sw.iss import ExecutionError


def problem(seed, m, n, k):
    rng = np.random.default_rng(seed)
    a = rng.integers(-128, 128, (m, k)).astype(np.int8)
    w = rng.integers(-1, 2, (n, k)).astype(np.int8)
    return a, w


# Cycle costs from docs/architecture.md, "Timing contract", with each preset's numbers:
# START 4; PRECOMP count + 2 + 3 (table unit latency 3 on every preset); LMMA planes*count +
# 2; STORE tiny 7 (one beat), default 15 (2 rows x 4 beats); HALT 1.
STORE_CYCLES = {"tiny": 7, "default": 15}


def hand_cycles(program, name, *, precomp_extra=5):
    """Per-phase cycles counted from the table above (a PRECOMP costs its count plus
    ``precomp_extra``; a STORE ``STORE_CYCLES[name]``)."""
    counts = []
    for phase in program.phases:
        total = 4
        for word in phase.instructions:
            i = isa.decode(int(word))
            total += {isa.Precomp: lambda: i.count + precomp_extra,
                      isa.Lmma: lambda: i.planes * i.count + 2,
                      isa.Store: lambda: STORE_CYCLES[name], isa.Halt: lambda: 1,
                      isa.Nop: lambda: 1}[type(i)]()
        counts.append(total)
    return counts


@pytest.mark.parametrize("name,mode,shape,seed", [
    ("tiny", "bitserial", (3, 11, 37), 0),
    ("tiny", "elut", (2, 9, 20), 1),
    ("default", "bitserial", (5, 70, 33), 2),
    ("default", "elut", (1, 3, 64), 3),
])
def test_uart_backend_exact_with_hand_counted_cycles(name, mode, shape, seed):
    """The uart backend over the model link (the ISS behind the bridge model) gives the
    int64 product and, per phase, the cycles counted by hand from the timing contract."""
    cfg = preset(name)
    a, w = problem(seed, *shape)
    dev = AcceleratorModel(cfg)
    result = run_gemm(a, w, backend="uart", mode=mode, config=cfg,
                      transport=ModelTransport(dev, host_bits=cfg.host_bits, max_words=16))
    np.testing.assert_array_equal(result.output, a.astype(np.int64) @ w.astype(np.int64).T)
    program = compile_gemm(a, w, config=cfg, mode=mode)
    assert result.info["phase_cycles"] == hand_cycles(program, name)
    assert result.cycles == sum(hand_cycles(program, name))
    assert result.info["phases"] == dev.starts
    assert result.info["device"]["max_words"] == 16 and result.info["device"]["retries"] == 0


# FP16 activations on tiny (docs/architecture.md, "Timing contract", FP cores): PRECOMP
# count + 2 + 27 (the FP table unit: 2 registers and the g = 4 plan's five 5-stage adders);
# LMMA as integer; STORE 1 row + 1 + 0 + 28 (read-out 5, lane tree 15, correction 1 + 5,
# output 2); START 4 and HALT 1.
STORE_CYCLES["tiny_fp16"] = 1 + 1 + 0 + 28


@pytest.mark.parametrize("mode", ["bitserial", "elut"])
def test_uart_backend_runs_fp_activations(mode):
    """FP16 activations over the model link: the FP golden model's output bit for bit, and
    the FP blocks' cycles counted by hand."""
    from lutcore.sw.kernels.fp import fp_lut_gemm
    from lutcore.sw.kernels.packing import pack_bitserial, pack_elut
    cfg = preset("tiny").with_act_format("fp16")
    rng = np.random.default_rng(7)
    a = rng.standard_normal((3, 23)).astype(np.float16)
    w = rng.integers(-1, 2, (6, 23)).astype(np.int8)
    dev = AcceleratorModel(cfg)
    result = run_gemm(a, w, backend="uart", mode=mode, config=cfg,
                      transport=ModelTransport(dev, host_bits=cfg.host_bits, max_words=16))
    packed = pack_bitserial(w, g=4) if mode == "bitserial" else pack_elut(w, g=3)
    want = fp_lut_gemm(a, packed, act_format="fp16")
    assert result.output.dtype == np.float32
    np.testing.assert_array_equal(result.output.view(np.uint32), want.view(np.uint32))
    program = compile_gemm(a, w, config=cfg, mode=mode)
    assert result.info["phase_cycles"] == hand_cycles(program, cfg.name, precomp_extra=2 + 27)


def flip_first(count=1, byte=5):
    """A line that flips one bit of ``byte`` in the first ``count`` frames sent."""
    state = {"left": count}

    def mangle(data):
        if state["left"] and len(data) > byte:
            state["left"] -= 1
            data = bytearray(data)
            data[byte] ^= 0x40
        return bytes(data)
    return mangle


def test_corrupted_request_is_resent():
    """A bit error on the way to the board: BAD_CRC reply, resend, right answer."""
    mem = MemoryDevice(32, 64)
    mem.words[10:13] = [7, 8, 9]
    link = Link(ModelTransport(mem, mangle=flip_first(2)), timeout=0.05)
    assert link.read(10, 3) == [7, 8, 9]
    # One word per frame before connect(): three frames, the first two sent twice.
    assert link.stats.retries == 2 and link.stats.frames == 3 + 2


class LossyReplies(ModelTransport):
    """Loses the next ``n`` replies on the way back (the board did receive the request)."""

    def __init__(self, *args, lose=1, **kw):
        super().__init__(*args, **kw)
        self.lose = lose

    def write(self, data):
        super().write(data)
        if self.lose:
            self.lose -= 1
            self.discard_input()


def test_lost_read_reply_is_resent_lost_write_reply_is_an_error():
    mem = MemoryDevice(32, 64)
    link = Link(LossyReplies(mem, lose=0), timeout=0.05)
    link.write(3, [0xAB])
    assert mem.words[3] == 0xAB
    link.transport.lose = 1
    assert link.read(3) == [0xAB]
    assert link.stats.retries == 1
    link.transport.lose = 1
    with pytest.raises(proto.ProtocolError, match=r"no reply to WRITE of 1 word\(s\) at "
                                                  r"0x00000004 within 0.05 s"):
        link.write(4, [1])
    assert mem.words[4] == 1     # it was carried out: that is why it is not resent


def test_gives_up_after_retries():
    link = Link(ModelTransport(MemoryDevice(), mangle=flip_first(10)), timeout=0.02, retries=2)
    with pytest.raises(proto.ProtocolError, match=r"READ at 0x00000000: board replied BAD_CRC "
                                                  r"after 3 attempt\(s\)"):
        link.read(0)


def test_bursts_split_at_frame_size():
    mem = MemoryDevice(32, 256)
    link = Link(ModelTransport(mem, max_words=8))
    link.connect()
    assert link.max_words == 8
    link.write(5, range(100, 120))
    assert mem.words[5:25] == list(range(100, 120))
    assert link.read(5, 20) == list(range(100, 120))
    assert link.stats.frames == 1 + 3 + 3


def test_scattered_access_groups_runs():
    mem = MemoryDevice(16, 64)
    link = Link(ModelTransport(mem, host_bits=16), host_bits=16)
    link.connect()
    addrs = np.array([4, 5, 6, 20, 21, 9], np.uint64)
    link.write_scattered(addrs, np.array([1, 2, 3, 4, 5, 6], np.uint64))
    assert [mem.words[i] for i in (4, 5, 6, 20, 21, 9)] == [1, 2, 3, 4, 5, 6]
    frames = link.stats.frames
    got = link.read_scattered(addrs.reshape(2, 3))
    assert got.tolist() == [[1, 2, 3], [4, 5, 6]]
    assert link.stats.frames - frames == 3


def test_connect_checks_word_size():
    link = Link(ModelTransport(MemoryDevice(16), host_bits=16), host_bits=32)
    with pytest.raises(proto.ProtocolError, match=r"board has 16-bit host words, the "
                                                  r"configuration 32"):
        link.connect()


def test_device_errors_name_phase_code_and_pc():
    cfg = preset("tiny")
    a, w = problem(4, 2, 5, 12)
    program = compile_gemm(a, w, config=cfg, mode="bitserial")
    program.phases[0].instructions[0] = np.uint64(0xE)           # an illegal opcode
    with open_device("uart", cfg, transport=ModelTransport(AcceleratorModel(cfg))) as dev:
        with pytest.raises(ExecutionError, match=r"^phase 0 pc 0 error ILLEGAL_OPCODE") as e:
            dev.run(program)
    assert e.value.code is isa.ErrorCode.ILLEGAL_OPCODE


def test_device_id_is_checked():
    with pytest.raises(DeviceError, match=r"ID CSR reads 0x0, expected 0x4c555443"):
        open_device("uart", "tiny", transport=ModelTransport(MemoryDevice()))


def test_bad_options_and_ports():
    a, w = problem(5, 1, 2, 4)
    with pytest.raises(LutcoreError, match=r"^option 'waves' is not taken by backend 'uart'"):
        run_gemm(a, w, backend="uart", config="tiny", waves=True)
    with pytest.raises(LutcoreError, match=r"--port is required for the uart backend"):
        run_gemm(a, w, backend="uart", config="tiny")
    with pytest.raises(LutcoreError, match=r"--port '/nonexistent/ttyX' cannot be opened"):
        run_gemm(a, w, backend="uart", config="tiny", port="/nonexistent/ttyX")


def test_no_board_on_the_line():
    """A port that answers nothing (pyserial's loopback echoes the request): no reply."""
    from lutcore.link.client import SerialTransport

    link = Link(SerialTransport("loop://"), timeout=0.05, retries=1)
    with pytest.raises(proto.ProtocolError, match=r"INFO at 0x00000000: no reply after 2 "
                                                  r"attempt\(s\)"):
        link.connect()


def test_cli_uart_backend_needs_port(tmp_path, capsys):
    a, w = problem(6, 2, 3, 8)
    np.save(tmp_path / "a.npy", a)
    np.save(tmp_path / "w.npy", w)
    status = cli_main(["gemm", "--acts", str(tmp_path / "a.npy"), "--weights",
                       str(tmp_path / "w.npy"), "--out", str(tmp_path / "o.npy"),
                       "--backend", "uart", "--preset", "tiny"])
    err = capsys.readouterr().err.strip().splitlines()
    assert status == 2
    assert err == ["lutcore gemm: error: --port is required for the uart backend "
                   "(e.g. /dev/ttyUSB1)"]
    assert not (tmp_path / "o.npy").exists()
