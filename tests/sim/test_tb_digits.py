"""The digit classifier through the whole board design (UART pins, link, ``tiny``
accelerator) on Verilator with cocotb, image after image over the simulated serial line:
logits bit-identical to the host path's and CYCLES equal to the ISS's
(:mod:`lutcore.sim.tb_digits`)."""

import pytest
from amaranth.back import verilog

from lutcore.fpga.board import LinkTiming, UartDevice, accelerator_available, make_device
from lutcore.spec.config import preset

# About 1.2 million board cycles per image (the weights cross the UART for every GEMM), a
# minute or more of simulation each: in `make regress` only.
pytestmark = [pytest.mark.rtl, pytest.mark.slow,
              pytest.mark.skipif(not accelerator_available(),
                                 reason="the accelerator top is not in this build")]

DIVISOR = 8
TIMING = LinkTiming(divisor=DIVISOR, frame_timeout=200 * DIVISOR * 10,
                    device_timeout=1 << 16)


@pytest.mark.parametrize("mode, images", [("elut", 3), ("bitserial", 1)])
def test_digits_through_the_board(mode, images):
    from lutcore.sim.runner import build_model, run_bench

    config = preset("tiny")
    top = UartDevice(make_device("accelerator", config), TIMING, max_words=32)
    # The board of tests/sim/test_tb_board.py: the same design, so the same cached model.
    model = build_model(verilog.convert(top, name="board"), "board",
                        f"fpga_board_accelerator_{config.name}")
    env = {"LUTCORE_TB_DIVISOR": str(DIVISOR), "LUTCORE_TB_CONFIG": config.to_json(),
           "LUTCORE_TB_SEED": "2", "LUTCORE_TB_IMAGES": str(images), "LUTCORE_TB_MODE": mode}
    run_bench(model, "lutcore.sim.tb_digits", env=env, seed=2)
