"""Studies: measurements of the design rather than parts of it.

- :mod:`.area`: area of the LUT core against MAC and adder baselines (``lutcore synth``,
  ``make area``): yosys CMOS and ECP5 estimates, and the standard-cell rows; syntheses run
  as Dask tasks, their figures kept per design digest;
- :mod:`.cells`: the standard-cell flow (OSU 0.18 um cells, high-fanout buffering, OpenSTA
  timing and power);
- :mod:`.dse`: the tile-shape and weight-bit design-space exploration (``lutcore dse``);
- :mod:`.space`: the paper's M x N x K design space of LUT and MAC arrays in standard cells
  (``lutcore space``);
- :mod:`.bench_host`, :mod:`.bench_iss`, :mod:`.bench_rtl`: speed and utilization
  benchmarks of the host path, the ISS and the Verilator model (``lutcore bench``);
- :mod:`.regress`: the summary table of the RTL regression.

Nothing in the design imports this package.
"""
