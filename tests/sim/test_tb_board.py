"""The board design (UART pins, link, device) on Verilator with cocotb, driven by the real
host code (``lutcore.link.client``) over a simulated serial line: the scratchpad device now,
and a GEMM bit-exact through the accelerator once the accelerator top exists."""


import pytest
from amaranth.back import verilog

from lutcore.fpga.board import LinkTiming, UartDevice, accelerator_available, make_device
from lutcore.hw.hostport import Scratchpad
from lutcore.spec.config import preset

pytestmark = pytest.mark.rtl

DIVISOR = 8
TIMING = LinkTiming(divisor=DIVISOR, frame_timeout=200 * DIVISOR * 10,
                    device_timeout=1 << 16)


def build_and_run(device_kind, config, seed, device=None):
    from lutcore.sim.runner import build_model, run_bench

    device = device or make_device(device_kind, config)
    top = UartDevice(device, TIMING, max_words=32)
    text = verilog.convert(top, name="board")
    model = build_model(text, "board", f"fpga_board_{device_kind}_{config.name}")
    env = {"LUTCORE_TB_DIVISOR": str(DIVISOR), "LUTCORE_TB_CONFIG": config.to_json(),
           "LUTCORE_TB_DEVICE": device_kind, "LUTCORE_TB_SEED": str(seed)}
    if isinstance(device, Scratchpad):
        env["LUTCORE_TB_DEPTH"] = str(device.depth)
    run_bench(model, "lutcore.sim.tb_board", env=env, seed=seed)


@pytest.mark.slow
def test_scratchpad_through_uart():
    build_and_run("scratchpad", preset("tiny"), 3, Scratchpad(32, 256))


@pytest.mark.skipif(not accelerator_available(), reason="the accelerator top is not in this build")
@pytest.mark.parametrize("name", ["tiny", pytest.param("default", marks=pytest.mark.slow)])
def test_accelerator_gemm_through_uart(name):
    """Both modes, bit-exact, and the CYCLES CSR equal to the timing contract."""
    build_and_run("accelerator", preset(name), 5)
