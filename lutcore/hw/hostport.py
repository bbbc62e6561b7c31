"""The accelerator's host port: a request stream in, a response stream out.

The port (docs/architecture.md, "Host port") carries host-word requests ``{addr, data,
write}`` on a valid/ready stream and returns one ``data`` word for every read, in request
order, on a second stream; writes return nothing. Addresses are
:data:`lutcore.spec.isa.HOST_ADDR_BITS` wide and count host words.

:class:`HostPortSignature` is written from the initiator's side (requests out, responses
in), so a bridge or test driver takes ``Out(HostPortSignature(host_bits))`` and a device,
such as :class:`lutcore.hw.top.Accelerator`, takes ``In(HostPortSignature(host_bits))``.
"""

from __future__ import annotations

from amaranth.hdl import Module, Signal
from amaranth.lib import data, stream, wiring
from amaranth.lib.memory import Memory
from amaranth.lib.wiring import In, Out

from amaranth.utils import exact_log2

from ..spec.isa import HOST_ADDR_BITS

__all__ = ["ADDR_BITS", "HOST_BITS", "RequestLayout", "HostPortSignature", "Scratchpad",
           "HostPortCDC"]

#: Width of a host-port address.
ADDR_BITS = HOST_ADDR_BITS
#: Host word widths a configuration may choose (``CoreConfig.host_bits``).
HOST_BITS = (8, 16, 32, 64)


def _check_host_bits(host_bits) -> int:
    if isinstance(host_bits, bool) or host_bits not in HOST_BITS:
        raise ValueError(f"host_bits = {host_bits!r} is invalid: allowed "
                         f"{', '.join(map(str, HOST_BITS))}")
    return host_bits


class RequestLayout(data.StructLayout):
    """One host-port request.

    Fields: ``addr`` (:data:`ADDR_BITS`), ``data`` (``host_bits``, ignored by a read) and
    ``write`` (1 for a write, 0 for a read).

    Raises
    ------
    ValueError
        ``host_bits`` is not one of :data:`HOST_BITS`.
    """

    def __init__(self, host_bits: int):
        _check_host_bits(host_bits)
        super().__init__({"addr": ADDR_BITS, "data": host_bits, "write": 1})


class HostPortSignature(wiring.Signature):
    """The host port seen from the initiator.

    Parameters
    ----------
    host_bits : int
        Host word width, one of :data:`HOST_BITS`.

    Members
    -------
    req : ``Out(stream.Signature(RequestLayout(host_bits)))``
        Requests, in order.
    resp : ``In(stream.Signature(host_bits))``
        One word per read request, in request order.

    Raises
    ------
    ValueError
        ``host_bits`` is not one of :data:`HOST_BITS`.
    """

    def __init__(self, host_bits: int):
        self._host_bits = _check_host_bits(host_bits)
        super().__init__({
            "req": Out(stream.Signature(RequestLayout(host_bits))),
            "resp": In(stream.Signature(host_bits)),
        })

    @property
    def host_bits(self) -> int:
        return self._host_bits

    def __eq__(self, other):
        return type(other) is type(self) and other.host_bits == self.host_bits

    def __hash__(self):
        return hash((type(self), self._host_bits))

    def __repr__(self):
        return f"HostPortSignature({self._host_bits})"


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
