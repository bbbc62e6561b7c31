"""cocotb bench: the ternary digit classifier (:mod:`lutcore.models.classifier`) through the
whole board design (UART pins, link, accelerator) on Verilator, image after image.

The host side is the real one: :func:`~lutcore.models.classifier.load_classifier` with
``backend="uart"`` over the simulated serial line of :mod:`lutcore.sim.tb_board`
(:class:`~lutcore.sim.tb_board.SimSerial`, the ``transport=`` of the ``uart`` device), one
device session for every GEMM of every image. The logits of each image must equal the
host path's (``numpy``) bit for bit, and the accelerator's CYCLES the ISS's.

Parameters from the environment (set by the pytest wrapper), beside those of
:mod:`lutcore.sim.tb_board`: ``LUTCORE_TB_MODEL`` (the classifier directory),
``LUTCORE_TB_IMAGES`` (how many held-out images), ``LUTCORE_TB_MODE`` (elut | bitserial).
"""

from __future__ import annotations

import os

import cocotb
import numpy as np
from cocotb.task import bridge

from ..models.classifier import DIGITS_MODEL, digits_split, load_classifier
from .tb_board import CONFIG, start

MODEL = os.environ.get("LUTCORE_TB_MODEL", str(DIGITS_MODEL))
IMAGES = int(os.environ.get("LUTCORE_TB_IMAGES", "2"))
MODE = os.environ.get("LUTCORE_TB_MODE", "elut")


def host_path(images) -> tuple[np.ndarray, np.ndarray]:
    """The reference: the logits of ``images`` on the host path (``numpy``) and the ISS
    cycles of each image (run one at a time, as on the board)."""
    with load_classifier(MODEL, backend="numpy", mode=MODE, config=CONFIG) as m:
        logits = m.logits(images)
    cycles = []
    with load_classifier(MODEL, backend="iss", mode=MODE, config=CONFIG) as m:
        for image in images:
            before = m.stats.cycles
            m.logits(image[None])
            cycles.append(m.stats.cycles - before)
    return logits, np.array(cycles)


@cocotb.test()
async def digits_through_the_board(dut):
    """Held-out digits one at a time through the board: logits bit-identical to the host
    path's, the predictions equal, the CYCLES of each image the ISS's."""
    line = await start(dut)
    _, _, x, y = digits_split()
    images = x[:IMAGES]
    want, want_cycles = host_path(images)

    @bridge
    def board():
        logits, cycles = [], []
        with load_classifier(MODEL, backend="uart", mode=MODE, config=CONFIG, transport=line,
                             timeout=60.0, run_timeout=600.0) as m:
            for image in images:
                before = m.stats.cycles
                logits.append(m.logits(image[None])[0])
                cycles.append(m.stats.cycles - before)
                dut._log.info(f"image {len(logits)}/{len(images)}: label "
                              f"{y[len(logits) - 1]}, predicted {int(np.argmax(logits[-1]))}")
        return np.stack(logits), np.array(cycles)

    got, cycles = await board()
    np.testing.assert_array_equal(got, want)
    np.testing.assert_array_equal(np.argmax(got, axis=1), np.argmax(want, axis=1))
    np.testing.assert_array_equal(cycles, want_cycles)
    assert not line.incoming
