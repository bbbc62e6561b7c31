"""The accelerator top: the parts of :mod:`lutcore.hw.accelerator`, the on-chip buffers, the
table precompute unit and the LUT core, connected (docs/architecture.md, docs/rtl.md).

::

    host req ─► HostInterface ─┬─► ControlStatus (CTRL, STATUS, CYCLES, PC) ◄─► Controller
                               ├─► instruction / activation / weight buffer write ports
                               └─► ReadPath ─► host resp
    Controller: instruction buffer ─► decode ─► execute
      PRECOMP: activation buffer ─► ReadPath register ─► TablePrecompute ─► table buffer
      LMMA:    table + weight buffer ─► ReadPath registers ─► LutCore steps
      STORE:   LutCore finalize ─► rows ─► output buffer

A configuration with FP activations (``act_format`` fp16 or bf16) builds the FP blocks in
their place: :class:`~lutcore.hw.table_precompute.fp_unit.FpTablePrecompute` and
:class:`~lutcore.hw.lut_core.fp_core.FpLutCore`, with the FP timing of
:data:`lutcore.spec.isa.TIMING`.
"""

from __future__ import annotations

from amaranth.hdl import Module
from amaranth.lib import wiring
from amaranth.lib.wiring import In, Out

from ..errors import LutcoreError
from ..spec import isa
from ..spec.config import OUT_BEAT_MAX_BITS, CoreConfig
from ..spec.isa import Region
from .accelerator.controller import (ISSUE_CYCLES, READ_CYCLES, START_CYCLES,
                                     STORE_OFFER_CYCLES, Controller)
from .accelerator.csr import ControlStatus, cycles_bits
from .accelerator.host_interface import WRITE_REGIONS, HostInterface
from .accelerator.read_path import ReadPath
from .hostport import HostPortSignature
from .lut_core import LutCore
from .lut_core.fp_core import FpLutCore
from .memory import BufferMemory
from .table_precompute import TablePrecompute
from .table_precompute.fp_unit import FpTablePrecompute

__all__ = ["Accelerator", "Top"]


class Accelerator(wiring.Component):
    """The LUT tensor core accelerator of one :class:`~lutcore.spec.config.CoreConfig`.

    The host loads the instruction, activation and weight buffers through the host port,
    writes CTRL.start, waits for STATUS.done (or the :attr:`done` output) and reads the output
    buffer. Semantics, word layouts and the memory map are those of docs/architecture.md;
    cycle counts equal :func:`lutcore.spec.isa.phase_cycles` exactly.

    Parts (each a :class:`~amaranth.lib.wiring.Component` of :mod:`lutcore.hw.accelerator`):
    :class:`~lutcore.hw.accelerator.host_interface.HostInterface` (request register, address
    decode, sub-word staging, host faults), :class:`~lutcore.hw.accelerator.csr.ControlStatus`,
    :class:`~lutcore.hw.accelerator.read_path.ReadPath` (the shared read ports and the host
    read pipeline: a read answers four cycles after the port accepts it, one in flight; a read
    of the activation, table or weight buffer waits while the core is busy) and
    :class:`~lutcore.hw.accelerator.controller.Controller` (fetch, decode, execute), with
    every buffer a :class:`~lutcore.hw.memory.BufferMemory`.

    Parameters
    ----------
    config : CoreConfig

    Members
    -------
    host : ``In(HostPortSignature(config.host_bits))``
        The host port.
    busy, done, error : ``Out(1)``
        STATUS.busy, STATUS.done and STATUS.error, for LEDs, interrupts and test benches.

    Raises
    ------
    TypeError
        ``config`` is not a :class:`CoreConfig`.
    LutcoreError
        The configuration cannot be built (a region does not fit the host address space) or
        the timing contract in :data:`lutcore.spec.isa.TIMING` differs from this controller.
    """

    def __init__(self, config: CoreConfig):
        if not isinstance(config, CoreConfig):
            raise TypeError(f"Accelerator: config must be a CoreConfig, not {config!r}")
        self._config = config
        for region in (Region.INSTR, Region.ACT, Region.TABLE, Region.WEIGHT, Region.OUTPUT):
            bits = isa.region_word_bits(region, config)
            span = isa.region_depth(region, config) << isa.sub_bits(bits, config.host_bits)
            if span > 1 << isa.REGION_SHIFT:
                raise LutcoreError(f"Accelerator: region {region.name} of config "
                                   f"'{config.name}' needs {span} host addresses: at most "
                                   f"{1 << isa.REGION_SHIFT}")
        timing = isa.TIMING
        if config.is_fp:
            if config.out_beats != 1:
                raise LutcoreError(
                    f"Accelerator: config '{config.name}' has {config.out_word_bits}-bit "
                    f"output rows: the FP LUT core writes whole rows, at most "
                    f"{OUT_BEAT_MAX_BITS} bits (n x {config.acc_bits} for acc_format "
                    f"{config.acc_format}): allowed n <= "
                    f"{OUT_BEAT_MAX_BITS // config.acc_bits}")
            # Built once here, for their latencies, and elaborated as they are.
            self._fp_blocks = pre, core = self._blocks(config)
            table_latency = pre.latency
            step_latency, finalize_latency = core.step_latency, core.finalize_latency
        else:
            table_latency = TablePrecompute.latency_of(config.g, config.elut_g,
                                                       config.symmetrize,
                                                       timing.TABLE_STAGE_LEVELS)
            step_latency, finalize_latency = LutCore.latencies_of(config.n)
        built = (START_CYCLES, ISSUE_CYCLES, READ_CYCLES, READ_CYCLES, step_latency,
                 STORE_OFFER_CYCLES + finalize_latency, table_latency)
        contract = (timing.START, timing.ISSUE, timing.PRECOMP_READ, timing.LMMA_LATENCY,
                    timing.step_latency(config), timing.store_latency(config),
                    timing.table_latency(config))
        if built != contract:
            raise LutcoreError(f"Accelerator: the controller's timing (START, ISSUE, "
                               f"PRECOMP_READ, LMMA_LATENCY, step latency, store latency, table "
                               f"latency) = {built} differs from isa.TIMING {contract}")
        super().__init__({
            "host": In(HostPortSignature(config.host_bits)),
            "busy": Out(1),
            "done": Out(1),
            "error": Out(1),
        })

    @classmethod
    def from_config(cls, config: CoreConfig) -> "Accelerator":
        return cls(config)

    @staticmethod
    def _blocks(cfg: CoreConfig):
        """The table precompute unit and the LUT core of ``cfg``: the integer blocks, or the
        FP blocks of its formats."""
        if cfg.is_fp:
            return (FpTablePrecompute(m=cfg.m, g=cfg.g, elut_g=cfg.elut_g,
                                      act_format=cfg.act_format, table_format=cfg.table_format,
                                      symmetrize=cfg.symmetrize, lookups=cfg.lookups),
                    FpLutCore(m=cfg.m, n=cfg.n, g=cfg.g, elut_g=cfg.elut_g,
                              weight_bits=cfg.weight_bits, symmetrize=cfg.symmetrize,
                              lookups=cfg.lookups, table_format=cfg.table_format,
                              acc_format=cfg.acc_format))
        return (TablePrecompute.from_config(cfg, stage_levels=isa.TIMING.TABLE_STAGE_LEVELS),
                LutCore.from_config(cfg))

    @property
    def config(self) -> CoreConfig:
        return self._config

    @property
    def cycles_bits(self) -> int:
        """Width of the cycle counter (:func:`lutcore.hw.accelerator.csr.cycles_bits`)."""
        return cycles_bits(self._config)

    # -- gateware -------------------------------------------------------------------------
    def elaborate(self, platform):
        m = Module()
        cfg = self._config
        m.submodules.host_interface = hif = HostInterface(cfg)
        m.submodules.csr = csr = ControlStatus(cfg)
        m.submodules.read_path = reads = ReadPath(cfg)
        pre, core = self._fp_blocks if cfg.is_fp else self._blocks(cfg)
        m.submodules.precompute, m.submodules.core = pre, core
        m.submodules.controller = ctrl = Controller(cfg, pre, core)

        def buffer(name, width, depth):
            m.submodules[name] = mem = BufferMemory(name, width, depth)
            return mem

        mems = {r: buffer(f"{r.name.lower()}_mem", isa.region_word_bits(r, cfg),
                          isa.region_depth(r, cfg))
                for r in (Region.INSTR, Region.ACT, Region.TABLE, Region.WEIGHT)}
        # The output buffer holds each row as out_beats beats (the core's output beats); the
        # host still addresses one word per row, its sub-words split into beat and sub-word.
        out_mem = buffer("out_mem", cfg.out_beat_bits, cfg.out_depth * cfg.out_beats)

        # Host port: requests into the host interface, responses from the read path.
        wiring.connect(m, wiring.flipped(self.host.req), hif.req)
        wiring.connect(m, wiring.flipped(self.host.resp), reads.resp)
        wiring.connect(m, hif.control, csr.host)
        wiring.connect(m, hif.read, reads.request)
        wiring.connect(m, reads.csr, csr.read)
        for name, region in WRITE_REGIONS.items():
            wiring.connect(m, getattr(hif, name), mems[region].write)
        # Buffer reads: the shared ports through the read path, the output buffer's too.
        wiring.connect(m, reads.act, mems[Region.ACT].read)
        wiring.connect(m, reads.table, mems[Region.TABLE].read)
        wiring.connect(m, reads.weight, mems[Region.WEIGHT].read)
        wiring.connect(m, reads.out, out_mem.read)
        # Controller: run control, fetch, operands, and the blocks it feeds.
        wiring.connect(m, csr.run, ctrl.run)
        wiring.connect(m, ctrl.instr, mems[Region.INSTR].read)
        wiring.connect(m, ctrl.operands, reads.operands)
        wiring.connect(m, ctrl.activations, pre.activations)
        wiring.connect(m, pre.tables, ctrl.tables)
        wiring.connect(m, ctrl.table_write, mems[Region.TABLE].write)
        wiring.connect(m, ctrl.steps, core.steps)
        wiring.connect(m, ctrl.finalize, core.finalize)
        wiring.connect(m, core.rows, ctrl.rows)
        wiring.connect(m, ctrl.out_write, out_mem.write)

        m.d.comb += [
            hif.busy.eq(csr.busy), reads.busy.eq(csr.busy),
            self.busy.eq(csr.busy), self.done.eq(csr.done), self.error.eq(csr.error),
        ]
        return m


#: The name the board flow looks the accelerator up by (``lutcore.fpga.board``).
Top = Accelerator
