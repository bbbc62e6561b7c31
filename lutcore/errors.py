"""The project's error type: every message is one line naming the argument, the bad value
and what is allowed. The CLI prints it and exits with status 2."""

from __future__ import annotations

from .spec.config import ConfigError

__all__ = ["LutcoreError", "ConfigError", "USER_ERRORS"]


class LutcoreError(ValueError):
    """Bad input to a public function (shape, dtype, range, option, file)."""


# What the CLI reports as a one-line error rather than a traceback.
USER_ERRORS = (LutcoreError, ConfigError)
