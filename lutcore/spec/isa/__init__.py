"""The instruction set of the LUT tensor core, defined once, one concern per module.

Everything that knows about instructions takes it from here: the compiler
(:mod:`lutcore.sw.compiler`), the instruction-set simulator (:mod:`lutcore.sw.iss`), the host
runtime (:mod:`lutcore.host`), the RTL decoder and the generated reference (``docs/isa.md``).

- :mod:`.encoding`: widths, the :class:`Opcode`, :class:`Mode` and :class:`ErrorCode` enums,
  instruction formats as Amaranth layouts, instruction objects, :func:`encode` /
  :func:`decode`;
- :mod:`.assembler`: :func:`assemble` / :func:`disassemble` (one instruction per line);
- :mod:`.validation`: :func:`validate`, the :class:`ErrorCode` the hardware raises;
- :mod:`.timing`: :data:`TIMING`, :func:`instruction_cycles`, :func:`phase_cycles`, the cycle
  model of ``docs/architecture.md`` that the RTL top matches exactly;
- :mod:`.memory_map`: the host port's regions, CSRs, CTRL/STATUS layouts and the address
  arithmetic (:func:`host_addresses`, :func:`decode_address`);
- :mod:`.doc`: the reference document (``lutcore docs``).

Every public name is re-exported here, so users write ``from lutcore.spec import isa`` and
``isa.Lmma(...)``.
"""

from .encoding import *            # noqa: F401,F403
from .encoding import __all__ as _encoding
from .assembler import *           # noqa: F401,F403
from .assembler import __all__ as _assembler
from .validation import *          # noqa: F401,F403
from .validation import __all__ as _validation
from .timing import *              # noqa: F401,F403
from .timing import __all__ as _timing
from .memory_map import *          # noqa: F401,F403
from .memory_map import __all__ as _memory_map
from .doc import render_doc, write_doc

__all__ = [*_encoding, *_assembler, *_validation, *_timing, *_memory_map,
           "render_doc", "write_doc"]
