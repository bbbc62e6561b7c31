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

from amaranth.lib import data, stream, wiring
from amaranth.lib.wiring import In, Out

from ..spec.isa import HOST_ADDR_BITS

__all__ = ["ADDR_BITS", "HOST_BITS", "RequestLayout", "HostPortSignature"]

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
