"""The project's error types, at the bottom of the import graph (imports nothing of ours).

Every message is one line naming the argument, the bad value and what is allowed. Every
error a user can cause is a :class:`LutcoreError`; the command line catches that one type,
prints the line and exits with status 2.
"""

from __future__ import annotations

__all__ = ["LutcoreError", "ConfigError", "IsaError", "ModelError", "USER_ERRORS"]


class LutcoreError(ValueError):
    """Bad input to a public function (shape, dtype, range, option, file)."""


class ConfigError(LutcoreError):
    """A configuration value is out of range, or a preset or field name is unknown."""


class IsaError(LutcoreError):
    """An instruction cannot be encoded, a word cannot be decoded or a line cannot be
    assembled. The message is one line naming the field or line, the value and what is
    allowed."""


class ModelError(LutcoreError):
    """A model file cannot be used: missing, truncated or corrupt, an unknown architecture or
    quantization type, a tensor of the wrong shape, dtype or codes. The message is one line
    naming the file, the tensor (where there is one) and what was wrong."""


#: What the command line reports as a one-line error rather than a traceback.
USER_ERRORS = (LutcoreError,)
