"""Verification on Verilator with cocotb (DESIGN §3, docs/rtl.md).

- :mod:`.runner`: builds one Verilator model per design and configuration in the per-user
  cache, runs cocotb benches on it;
- :mod:`.hostdriver`: the host-port driver (random idle, random backpressure), stream
  monitors, and the driver as a transport of the host runtime;
- :mod:`.tb_top`: the accelerator top's benches (``serve``: the simulator end of an rtl
  session; the fault benches);
- :mod:`.pipe`: the messages between a host process and ``serve``;
- :mod:`.tb_board`: the board design (UART link) driven by the real host code.

Running programs (the per-phase sequence, sessions, the ``rtl`` backend) is
:mod:`lutcore.host`'s job. Importing this package needs neither cocotb nor Verilator; the
modules that drive a simulation import cocotb themselves.
"""
