"""The parts of the accelerator top (:class:`lutcore.hw.top.Accelerator`), one concept per
module, joined in the top with :func:`amaranth.lib.wiring.connect`:

- :mod:`.signatures`: what flows between the parts (the read-source enum, the host's read
  requests, the CSR, run-control and operand connections);
- :mod:`.host_interface`: the host port's request register, address decode, sub-word staging,
  buffer writes, CTRL writes and host faults;
- :mod:`.csr`: the control and status registers (busy, done, error code, cycle counter) and
  the CSR read multiplexer;
- :mod:`.read_path`: the shared buffer read ports, their read registers, the host read
  pipeline with its sub-word select and the response register;
- :mod:`.decode`: the two instruction decode stages (:func:`lutcore.spec.isa.validate` in
  gateware);
- :mod:`.controller`: instruction fetch, the decode registers and the execute stage feeding
  the table precompute unit and the LUT core.
"""

from .controller import Controller
from .csr import ControlStatus
from .decode import Validate, ValidateWeights
from .host_interface import HostInterface
from .read_path import ReadPath
from .signatures import ReadSource

__all__ = ["Controller", "ControlStatus", "Validate", "ValidateWeights", "HostInterface",
           "ReadPath", "ReadSource"]
