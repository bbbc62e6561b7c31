"""Host-port devices and plumbing for the board: a stand-in device and a clock-domain
crossing.

The host port itself (docs/architecture.md, "Host port") is defined once, in
:mod:`lutcore.hw.hostport`: :class:`HostPortSignature` is the initiator's side (requests
out, responses in); a device takes ``In(HostPortSignature(...))``.
"""

from __future__ import annotations

from amaranth import *
from amaranth.lib import wiring
from amaranth.lib.memory import Memory
from amaranth.lib.wiring import In, Out
from amaranth.utils import exact_log2

from ..hw.hostport import ADDR_BITS, HOST_BITS, HostPortSignature, RequestLayout

__all__ = ["ADDR_BITS", "RequestLayout", "HostPortSignature", "Scratchpad", "HostPortCDC"]


def _check_host_bits(host_bits):
    if isinstance(host_bits, bool) or host_bits not in HOST_BITS:
        raise ValueError(f"host_bits = {host_bits!r} is invalid: allowed "
                         f"{', '.join(map(str, HOST_BITS))}")


class Scratchpad(wiring.Component):
    """A host-port device that is plain memory: word ``addr mod depth`` is read and written.

    Stands in for the accelerator when the UART link is brought up on a board, and in tests.
    Reads answer two cycles after they are accepted, one at a time: a read is accepted only
    when no other is in flight or waiting on ``resp``, so backpressure on ``resp`` stalls
    ``req``.

    Parameters
    ----------
    host_bits : int
        Word width (8, 16, 32 or 64).
    depth : int
        Words of memory, a power of two in 2..65536.

    Members
    -------
    host : In(HostPortSignature(host_bits))
    """

    def __init__(self, host_bits: int = 32, depth: int = 256):
        _check_host_bits(host_bits)
        if not (isinstance(depth, int) and 2 <= depth <= 65536 and depth & (depth - 1) == 0):
            raise ValueError(f"depth = {depth!r} is invalid: must be a power of two in 2..65536")
        self._depth = depth
        super().__init__({"host": In(HostPortSignature(host_bits))})

    @property
    def depth(self) -> int:
        return self._depth

    def elaborate(self, platform):
        m = Module()
        m.submodules.mem = mem = Memory(shape=self.host.resp.payload.shape(), depth=self._depth,
                                        init=[])
        wr = mem.write_port()
        rd = mem.read_port()
        req, resp = self.host.req, self.host.resp
        index = req.payload.addr[:exact_log2(self._depth)]

        # Read data is registered once more before it leaves: an ECP5 block RAM's output is
        # slow, and the response may cross to another clock domain. One read is in flight at
        # a time; writes are always accepted.
        fetched = Signal()
        with m.If(resp.valid & resp.ready):
            m.d.sync += resp.valid.eq(0)
        with m.If(fetched):
            m.d.sync += [resp.payload.eq(rd.data), resp.valid.eq(1)]
        m.d.sync += fetched.eq(rd.en)
        m.d.comb += [
            req.ready.eq(req.payload.write | (~fetched & ~resp.valid)),
            wr.addr.eq(index),
            wr.data.eq(req.payload.data),
            wr.en.eq(req.valid & req.payload.write),
            rd.addr.eq(index),
            rd.en.eq(req.valid & ~req.payload.write & ~fetched & ~resp.valid),
        ]
        return m


class HostPortCDC(wiring.Component):
    """The host port across two clock domains, through two asynchronous FIFOs.

    Parameters
    ----------
    host_bits : int
    initiator_domain : str
        Domain of the initiator (the side issuing requests).
    device_domain : str
        Domain of the device.
    depth : int
        Depth of each FIFO (a power of two).

    Members
    -------
    initiator : In(HostPortSignature(host_bits))
        Connects to the initiator's host port.
    device : Out(HostPortSignature(host_bits))
        Connects to the device's host port.
    """

    def __init__(self, host_bits: int = 32, *, initiator_domain: str, device_domain: str,
                 depth: int = 4):
        _check_host_bits(host_bits)
        if not (isinstance(depth, int) and depth >= 2 and depth & (depth - 1) == 0):
            raise ValueError(f"depth = {depth!r} is invalid: must be a power of two >= 2")
        if initiator_domain == device_domain:
            raise ValueError(f"initiator_domain and device_domain are both {device_domain!r}: "
                             f"no crossing needed")
        self._domains = (initiator_domain, device_domain)
        self._depth = depth
        super().__init__({
            "initiator": In(HostPortSignature(host_bits)),
            "device": Out(HostPortSignature(host_bits)),
        })

    def elaborate(self, platform):
        from amaranth.lib.fifo import AsyncFIFO

        m = Module()
        ini, dev = self._domains
        req_bits = len(self.initiator.req.payload.as_value())
        m.submodules.req = req = AsyncFIFO(width=req_bits, depth=self._depth,
                                           w_domain=ini, r_domain=dev)
        m.submodules.resp = resp = AsyncFIFO(width=len(self.device.resp.payload),
                                             depth=self._depth, w_domain=dev, r_domain=ini)
        # Requests leave through a register that is refilled only when empty, so the FIFO's
        # read pointer logic never waits on the device's ready (half rate, ample for a link).
        out = self.device.req
        m.d.comb += req.r_en.eq(~out.valid)
        with m.If(req.r_rdy & ~out.valid):
            m.d[dev] += [out.payload.eq(req.r_data), out.valid.eq(1)]
        with m.Elif(out.valid & out.ready):
            m.d[dev] += out.valid.eq(0)
        m.d.comb += [
            req.w_data.eq(self.initiator.req.payload),
            req.w_en.eq(self.initiator.req.valid),
            self.initiator.req.ready.eq(req.w_rdy),
            resp.w_data.eq(self.device.resp.payload),
            resp.w_en.eq(self.device.resp.valid),
            self.device.resp.ready.eq(resp.w_rdy),
            self.initiator.resp.payload.eq(resp.r_data),
            self.initiator.resp.valid.eq(resp.r_rdy),
            resp.r_en.eq(self.initiator.resp.ready),
        ]
        return m
