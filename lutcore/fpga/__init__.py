"""FPGA flow, board tops and the UART host link.

- :mod:`.flow` and ``lutcore fpga``: yosys, nextpnr and icepack/ecppack through the
  amaranth-boards platforms, with resource and fmax reports (:mod:`.nextpnr` reads nextpnr's
  output);
- :mod:`.board`: the accelerator (or a stand-in device) behind the UART link on a board, with
  its clocking (:mod:`.clocks`);
- :mod:`.uart`, :mod:`.bridge`, :mod:`.link`: the gateware of the link; :mod:`.protocol`: its
  framed protocol, shared with the host;
- :mod:`.host`: transports, protocol client, runtime and the ``uart`` GEMM backend;
  :mod:`.model`: Python models of the board side for tests.
"""
