"""LUT tensor core kit: a parameterised LUT-based mixed-precision GEMM core for ternary and
low-bit LLM weights, with its golden model, compiler, simulators and FPGA flow.

The folders, one concern each (docs/architecture.md opens with the map and the data flow):

- :mod:`lutcore.errors`: the one error root (``LutcoreError``); imports nothing;
- :mod:`lutcore.spec`: the contract (configuration, parameter ranges, widths, buffer word
  formats, the ISA), importing nothing else of the package;
- :mod:`lutcore.sw`: software: the golden model and host CPU path (``sw.kernels``), the
  compiler (``sw.compiler``) and the instruction-set simulator (``sw.iss``);
- :mod:`lutcore.host`: the runtime that runs a compiled program over a transport (ISS,
  Verilator, UART) and the public ``run_gemm``;
- :mod:`lutcore.models`: real models: BitNet b1.58 checkpoints through every backend;
- :mod:`lutcore.hw`: the Amaranth gateware and its Verilog;
- :mod:`lutcore.link`: the UART link (gateware, protocol, client, device model);
- :mod:`lutcore.sim`: the Verilator runner and the cocotb benches;
- :mod:`lutcore.fpga`: boards and the yosys/nextpnr flow;
- :mod:`lutcore.studies`: area, design-space exploration, benchmarks, regression summary;
- :mod:`lutcore.cli`: the ``lutcore`` command.
"""

__version__ = "0.1.0"
