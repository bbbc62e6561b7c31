"""The FPGA flow: boards, board tops, clocks, yosys/nextpnr/icepack/ecppack and their reports.

- :mod:`.flow` and ``lutcore fpga``: synthesis, place and route and packing through the
  amaranth-boards platforms, with resource and fmax reports (:mod:`.nextpnr` reads nextpnr's
  output);
- :mod:`.board`: the accelerator (or a stand-in device) behind the UART link
  (:mod:`lutcore.link`) on a board, with its clocking (:mod:`.clocks`);
- :mod:`.harness`: a registered shell around the bare LUT core for its timing;
- :mod:`.yosys`: running YoWASP Yosys and reading its ``stat`` reports (the flow and the area
  studies share it).
"""
