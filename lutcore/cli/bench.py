"""``lutcore bench host|iss|rtl|model``: the speed and utilization benchmarks of
:mod:`lutcore.studies` (host kernels against BLAS, compiler + ISS utilization, the Verilator
model's GEMV, a BitNet model at 2B shapes).

Each benchmark module exposes ``DESCRIPTION``, ``add_arguments(parser)`` and
``main(args, config) -> int``; the configuration comes from the shared ``--preset/--config``
loader. The modules are imported when their benchmark runs, so ``lutcore --help`` pays for
none of them.
"""

from __future__ import annotations

import importlib

from ._config import add_config_arguments, load_config

__all__ = ["add_arguments", "HELP", "DESCRIPTION", "run", "BENCHMARKS"]

#: benchmark name -> (module, takes a configuration)
BENCHMARKS = {
    "host": ("lutcore.studies.bench_host", False),
    "iss": ("lutcore.studies.bench_iss", True),
    "rtl": ("lutcore.studies.bench_rtl", True),
    "model": ("lutcore.studies.bench_model", False),
}


HELP = "run a benchmark (host kernels, ISS utilization, RTL GEMV, model)"
DESCRIPTION = ("Benchmarks that print figures: 'host' times the LUT kernels against "
               "float32 BLAS, 'iss' reports compiler + ISS utilization, 'rtl' runs a "
               "GEMV on the Verilator model, 'model' runs a BitNet model at the "
               "2B-4T shapes.")


def add_arguments(parser) -> None:
    """The ``bench`` options."""
    benches = parser.add_subparsers(dest="bench", metavar="BENCH")
    benches.required = True
    for name, (module_name, configured) in BENCHMARKS.items():
        module = importlib.import_module(module_name)
        sub = benches.add_parser(name, help=module.DESCRIPTION.splitlines()[0],
                                 description=module.DESCRIPTION)
        if configured:
            add_config_arguments(sub)
        module.add_arguments(sub)
        sub.set_defaults(func=run, bench_module=module_name, configured=configured)


def run(args) -> int:
    module = importlib.import_module(args.bench_module)
    config = load_config(args) if args.configured else None
    return int(module.main(args, config) or 0)
