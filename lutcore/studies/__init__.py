"""Studies: measurements of the design rather than parts of it.

- :mod:`.area`: yosys area of the LUT core against MAC and adder baselines (``lutcore synth``,
  ``make area``);
- :mod:`.dse`: the tile-shape and weight-bit design-space exploration (``lutcore dse``);
- :mod:`.bench_host`, :mod:`.bench_iss`, :mod:`.bench_rtl`: speed and utilization
  benchmarks of the host path, the ISS and the Verilator model (``lutcore bench``);
- :mod:`.regress`: the summary table of the RTL regression.

Nothing in the design imports this package.
"""
