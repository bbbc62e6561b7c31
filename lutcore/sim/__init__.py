"""Verification on Verilator with cocotb (DESIGN §3, docs/rtl.md).

- :mod:`.runner`: builds one Verilator model per design and configuration (``build/sim``),
  runs cocotb benches on it;
- :mod:`.hostdriver`: the host-port driver (random idle, random backpressure) and stream
  monitors;
- :mod:`.tb_top`, :mod:`.tb_board`: the cocotb benches of the accelerator top (compiled
  programs, faults) and of the board design behind the UART link;
- :mod:`.job`, :mod:`.scoreboard`: files between Python and the bench, and the comparison
  against the ISS and the int64 reference;
- :mod:`.backend`: the ``rtl`` backend (``lutcore gemm --backend rtl``).

Importing this package needs neither cocotb nor Verilator; the modules that drive a
simulation import cocotb themselves.
"""
