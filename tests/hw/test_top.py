# amaranth: UnusedElaboratable=no
"""The accelerator top's and host port's construction (no simulation): the ports the
Verilator benches drive."""

from __future__ import annotations

import dataclasses

import pytest
from amaranth.hdl import Shape
from amaranth.lib import wiring

from lutcore.errors import LutcoreError
from lutcore.hw import hostport
from lutcore.hw.top import Accelerator
from lutcore.spec import isa
from lutcore.spec.config import preset



# -- construction (no simulation) ----------------------------------------------------------------

def test_host_port_signature():
    for bits in (8, 16, 32, 64):
        ours = hostport.HostPortSignature(bits)
        assert ours.host_bits == bits and ours == hostport.HostPortSignature(bits)
        assert set(ours.members) == {"req", "resp"}
        assert ours.members["req"].flow == wiring.Out and ours.members["resp"].flow == wiring.In
        assert ours.members["resp"].signature.members["payload"].shape == bits
        fields = dict(hostport.RequestLayout(bits))
        assert {k: Shape.cast(v.shape).width for k, v in fields.items()} == {
            "addr": 32, "data": bits, "write": 1}
    with pytest.raises(ValueError, match=r"^host_bits = 24 is invalid: allowed 8, 16, 32, 64$"):
        hostport.RequestLayout(24)


def test_accelerator_members_and_errors(monkeypatch):
    top = Accelerator(preset("tiny"))
    assert top.signature.members["host"] == wiring.In(hostport.HostPortSignature(32))
    assert top.cycles_bits == 64 and top.config is preset("tiny")
    with pytest.raises(TypeError, match=r"^Accelerator: config must be a CoreConfig, not 'tiny'$"):
        Accelerator("tiny")
    slow = dataclasses.replace(isa.TIMING, LMMA_LATENCY=3)
    monkeypatch.setattr(isa, "TIMING", slow)
    with pytest.raises(LutcoreError, match=r"controller's timing .* differs from isa.TIMING"):
        Accelerator(preset("tiny"))
