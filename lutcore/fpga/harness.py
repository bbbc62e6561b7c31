"""A timing and area harness for the LUT core alone, behind the host port.

The core's ports are far wider than any package, so place and route of the bare core is not
possible. The harness feeds it from registers filled by an LFSR and folds every output bit
into a signature the host can read; every path into and out of the core starts and ends at a
register, so nextpnr's figures are those of the core itself plus a thin, registered shell.
It is what ``lutcore fpga --device core`` builds; it computes nothing useful.
"""

from __future__ import annotations

from amaranth import *
from amaranth.lib import wiring
from amaranth.lib.wiring import In

from ..hw.lut_core import LutCore
from ..spec.config import CoreConfig
from ..hw.hostport import HostPortSignature

__all__ = ["CoreHarness", "LFSR_TAPS"]

#: Feedback mask of the 32-bit Galois LFSR that makes the stimulus.
LFSR_TAPS = 0x80200003


def _fold(m, bits: Value, width: int, name: str) -> Value:
    """XOR-reduce ``bits`` to ``width`` bits, four-to-one per registered level."""
    level = 0
    while len(bits) > width:
        chunks = [bits[i:i + width] for i in range(0, len(bits), width)]
        groups = [chunks[i:i + 4] for i in range(0, len(chunks), 4)]
        nxt = Signal(width * len(groups), name=f"{name}_l{level}")
        for j, group in enumerate(groups):
            acc = group[0]
            for c in group[1:]:
                acc = acc ^ c
            m.d.sync += nxt[j * width:(j + 1) * width].eq(acc)
        bits, level = nxt, level + 1
    return bits


class CoreHarness(wiring.Component):
    """The :class:`~lutcore.hw.lut_core.LutCore` of ``config`` with LFSR stimulus and a
    folded output signature.

    Host port: writing word 0 seeds the LFSR with the data (a nonzero seed starts it, zero
    stops it); reading word 0 returns the signature, word 1 the number of output rows seen.

    Parameters
    ----------
    config : CoreConfig

    Members
    -------
    host : In(HostPortSignature(config.host_bits))
    """

    def __init__(self, config: CoreConfig):
        if not isinstance(config, CoreConfig):
            raise TypeError(f"config must be a CoreConfig, not {config!r}")
        self._config = config
        super().__init__({"host": In(HostPortSignature(config.host_bits))})

    @property
    def config(self) -> CoreConfig:
        return self._config

    def elaborate(self, platform):
        m = Module()
        hb = self._config.host_bits
        m.submodules.core = core = LutCore.from_config(self._config)

        lfsr = Signal(32, init=1)
        running = Signal()
        with m.If(running):
            m.d.sync += lfsr.eq(Mux(lfsr[0], (lfsr >> 1) ^ LFSR_TAPS, lfsr >> 1))

        # Stimulus: a shift register refilled 32 bits a cycle from the LFSR.
        step_bits = len(core.steps.payload.as_value())
        fin_bits = len(core.finalize.payload.as_value())
        stim = Signal(32 * -(-(step_bits + fin_bits + 4) // 32))
        m.d.sync += stim.eq(Cat(lfsr, stim[:-32]))
        s_payload = stim[:step_bits]
        f_payload = stim[step_bits:step_bits + fin_bits]
        s_valid = stim[-1]
        f_valid = stim[-4:-1] == 0b111          # a finalize now and then
        # The payloads change every cycle, also while the core holds ready low: the stimulus
        # is random anyway, and a ready-gated load of some 700 payload flip-flops would put the
        # harness's own enable fan-out on the critical path (the accelerator's read pipeline
        # has no such enable either).
        m.d.sync += [core.steps.payload.eq(s_payload), core.finalize.payload.eq(f_payload)]
        with m.If(~core.steps.valid | core.steps.ready):
            m.d.sync += core.steps.valid.eq(s_valid & running)
        with m.If(~core.finalize.valid | core.finalize.ready):
            m.d.sync += core.finalize.valid.eq(f_valid & running)

        # Signature: every bit of every output row, folded.
        captured = Signal(len(core.rows.payload.as_value()))
        seen = Signal(hb)
        m.d.comb += core.rows.ready.eq(1)
        with m.If(core.rows.valid):
            m.d.sync += [captured.eq(core.rows.payload), seen.eq(seen + 1)]
        folded = _fold(m, captured, hb, "fold")
        signature = Signal(hb)
        m.d.sync += signature.eq(signature.rotate_left(1) ^ folded)

        # Host port: writes seed, reads return signature or row count, one cycle later.
        req, resp = self.host.req, self.host.resp
        with m.If(resp.ready):
            m.d.sync += resp.valid.eq(0)
        m.d.comb += req.ready.eq(req.payload.write | ~resp.valid | resp.ready)
        with m.If(req.valid & req.ready):
            with m.If(req.payload.write):
                m.d.sync += [lfsr.eq(req.payload.data[:32] | (req.payload.data[:32] == 0)),
                             running.eq(req.payload.data != 0)]
            with m.Else():
                m.d.sync += [resp.payload.eq(Mux(req.payload.addr[0], seen, signature)),
                             resp.valid.eq(1)]
        return m
