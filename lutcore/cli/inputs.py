"""The command line's one input layer: every file, directory and option a user names goes
through here before any work starts.

Each check raises :class:`CliError` (a :class:`~lutcore.errors.LutcoreError`) whose message is
one line naming the argument (``--acts 'a.npy'``), what is wrong and what is allowed; the
command line prints it and exits with status 2. Array contents (shape, dtype, value range)
are checked by :mod:`lutcore.sw.kernels.validate`, which the Python API shares.

* input files: :func:`read_bytes`, :func:`read_text` (UTF-8), :func:`load_npy` (the one
  ``.npy`` loader of every subcommand; the header is checked against the file size before any
  data is read, so a truncated file or a header claiming terabytes is refused in one line);
* outputs: :func:`output_file` and :func:`output_dir` refuse a directory where a file is
  wanted (and the reverse), a path that cannot be created or written, and an output that is
  one of the inputs; :func:`write_npy` replaces the file atomically; :func:`writing` turns an
  ``OSError`` while writing into one line;
* options: :func:`int_in` and :func:`positive_float` are argparse ``type=`` checks.
"""

from __future__ import annotations

import argparse
import contextlib
import math
import os
import tempfile
import tokenize
from pathlib import Path

import numpy as np

from ..errors import LutcoreError

__all__ = ["CliError", "HEADER_ERRORS", "one_line", "describe", "read_bytes", "read_text", "load_npy",
           "output_file", "output_dir", "write_npy", "writing", "int_in", "positive_float"]

_NPY_MAGIC = b"\x93NUMPY"
_ZIP_MAGIC = b"PK\x03\x04"
#: What NumPy's ``.npy`` header parser raises on a damaged header (it evaluates a Python
#: literal: syntax, tokenizer, nesting and size errors besides its own ValueErrors).
HEADER_ERRORS = (ValueError, TypeError, SyntaxError, EOFError, tokenize.TokenError,
                 RecursionError, OverflowError, MemoryError)


class CliError(LutcoreError):
    """A one-line usage error of a subcommand (exit status 2)."""


def one_line(e: BaseException) -> str:
    """The text of ``e`` on one line (its type name if it has none)."""
    return " ".join(str(e).split()) or type(e).__name__


def describe(flag: str, path) -> str:
    """How an argument is named in messages: ``--acts 'a.npy'``."""
    return f"{flag} {str(path)!r}"


def _reason(e: OSError) -> str:
    if isinstance(e, FileNotFoundError):
        return "no such file"
    if isinstance(e, IsADirectoryError):
        return "it is a directory"
    if isinstance(e, NotADirectoryError):
        return "a parent of it is not a directory"
    if isinstance(e, PermissionError):
        return "permission denied"
    return " ".join((e.strerror or one_line(e)).split())


def read_bytes(flag: str, path) -> bytes:
    """The bytes of an input file.

    Raises:
        CliError: missing, a directory, unreadable.
    """
    try:
        with open(path, "rb") as f:
            return f.read()
    except OSError as e:
        raise CliError(f"{describe(flag, path)} cannot be read: {_reason(e)}") from None


def read_text(flag: str, path) -> str:
    """The text of a UTF-8 input file.

    Raises:
        CliError: unreadable (see :func:`read_bytes`) or not UTF-8 (the first bad byte and
            its offset are named).
    """
    data = read_bytes(flag, path)
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError as e:
        raise CliError(f"{describe(flag, path)} is not UTF-8 text: byte 0x{data[e.start]:02x} "
                       f"at offset {e.start}") from None


def load_npy(flag: str, path) -> np.ndarray:
    """One array from a ``.npy`` file, the only ``.npy`` loader of the command line.

    The header (magic, version, dtype, shape) is read and checked against the file size
    before the data is read; pickled (object) arrays are refused.

    Raises:
        CliError: missing, a directory, unreadable, an ``.npz`` archive, not a ``.npy``
            file, a corrupted header, or fewer or more data bytes than the header declares.
    """
    what = describe(flag, path)
    try:
        with open(path, "rb") as f:
            magic = f.read(len(_NPY_MAGIC))
            if magic.startswith(_ZIP_MAGIC):
                raise CliError(f"{what} is an .npz archive: expected a single .npy array")
            if magic != _NPY_MAGIC:
                raise CliError(f"{what} is not a .npy file (no NumPy header)")
            f.seek(0)
            try:
                version = np.lib.format.read_magic(f)
                read_header = (np.lib.format.read_array_header_1_0 if version == (1, 0)
                               else np.lib.format.read_array_header_2_0)
                shape, fortran, dtype = read_header(f)
            except HEADER_ERRORS as e:
                raise CliError(f"{what} has a corrupted .npy header: {one_line(e)}") from None
            if dtype.hasobject:
                raise CliError(f"{what} holds Python objects (dtype {dtype}): allowed numeric "
                               f"arrays only")
            declared = math.prod(shape) * dtype.itemsize
            present = os.fstat(f.fileno()).st_size - f.tell()
            if present != declared:
                raise CliError(f"{what} is {'truncated' if present < declared else 'corrupted'}"
                               f": its header declares {dtype} shape {shape} ({declared} bytes "
                               f"of data), the file holds {present}")
            f.seek(0)
            return np.lib.format.read_array(f, allow_pickle=False)
    except OSError as e:
        raise CliError(f"{what} cannot be read: {_reason(e)}") from None
    except (ValueError, EOFError) as e:
        if isinstance(e, LutcoreError):
            raise
        raise CliError(f"{what} is not a readable .npy array: {one_line(e)}") from None


def _same_file(a: Path, b: Path) -> bool:
    try:
        return a.exists() and b.exists() and os.path.samefile(a, b)
    except OSError:
        return False


def _refuse_inputs(flag: str, path: Path, inputs: dict) -> None:
    for in_flag, in_path in inputs.items():
        if in_path is not None and (_same_file(path, Path(in_path))
                                    or path.resolve() == Path(in_path).resolve()):
            raise CliError(f"{describe(flag, path)} is the same file as {in_flag}: choose "
                           f"another output, an input is never overwritten")


def output_file(flag: str, path, inputs: dict | None = None) -> Path:
    """Check that a file can be written at ``path`` before any work starts.

    Args:
        flag: the option naming the output (``--out``).
        path: where the file goes; its directory must exist.
        inputs: ``{flag: path}`` of the subcommand's input files, none of which may be the
            output.

    Raises:
        CliError: ``path`` is a directory, its directory is missing or not writable, the file
            exists and is not writable, or it is one of the inputs.
    """
    path = Path(path)
    what = describe(flag, path)
    if path.is_dir():
        raise CliError(f"{what} is a directory: expected a file to write")
    parent = path.parent if str(path.parent) else Path(".")
    if not parent.is_dir():
        raise CliError(f"{what} cannot be created: directory {str(parent)!r} does not exist")
    if not os.access(parent, os.W_OK | os.X_OK) or (path.exists() and
                                                    not os.access(path, os.W_OK)):
        raise CliError(f"{what} cannot be written: permission denied")
    _refuse_inputs(flag, path, inputs or {})
    return path


def output_dir(flag: str, path, inputs: dict | None = None,
               files: tuple[str, ...] | None = None) -> Path:
    """Create the output directory ``path`` (and its parents) if missing and check that it
    is a writable directory that will not overwrite an input.

    Args:
        inputs: ``{flag: path}`` of the subcommand's input files.
        files: the names the subcommand writes into the directory; an input with one of
            these names in it is refused. None: no input may lie in the directory at all.

    Raises:
        CliError: ``path`` is an existing file, cannot be created or is not writable, or an
            input would be overwritten.
    """
    path = Path(path)
    what = describe(flag, path)
    if path.exists() and not path.is_dir():
        raise CliError(f"{what} is an existing file: expected a directory (created if "
                       f"missing)")
    try:
        path.mkdir(parents=True, exist_ok=True)
    except OSError as e:
        raise CliError(f"{what} cannot be created: {_reason(e)}") from None
    if not os.access(path, os.W_OK | os.X_OK):
        raise CliError(f"{what} cannot be written: permission denied")
    for in_flag, in_path in (inputs or {}).items():
        if in_path is None:
            continue
        inside = Path(in_path).resolve().parent == path.resolve()
        if inside and (files is None or Path(in_path).name in files):
            raise CliError(f"{what} holds the input {describe(in_flag, in_path)}, which it "
                           f"would overwrite: choose another output directory")
    return path


@contextlib.contextmanager
def writing(flag: str, path):
    """Turn an ``OSError`` raised while writing ``path`` into a one-line :class:`CliError`
    (a full disk, a path that vanished after the checks)."""
    try:
        yield
    except OSError as e:
        raise CliError(f"{describe(flag, path)} cannot be written: {_reason(e)}") from None


def write_npy(flag: str, path, array: np.ndarray) -> None:
    """Write ``array`` to the ``.npy`` file ``path`` atomically: a temporary file in the same
    directory replaces ``path`` only when complete, so a failed write leaves no half file."""
    path = Path(path)
    with writing(flag, path):
        fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", dir=path.parent or ".")
        try:
            with os.fdopen(fd, "wb") as f:
                np.save(f, array)
            os.replace(tmp, path)
        except BaseException:
            with contextlib.suppress(OSError):
                os.unlink(tmp)
            raise


def int_in(lo: int, hi: int | None = None):
    """An argparse ``type=`` accepting an integer in ``lo..hi`` (no upper bound if None)."""
    allowed = f"{lo}..{hi}" if hi is not None else f">= {lo}"

    def parse(text: str) -> int:
        try:
            value = int(text, 10)
        except ValueError:
            raise argparse.ArgumentTypeError(f"{text!r} is not an integer: allowed "
                                             f"{allowed}") from None
        if value < lo or (hi is not None and value > hi):
            raise argparse.ArgumentTypeError(f"{value} is out of range: allowed {allowed}")
        return value
    parse.__name__ = "integer"
    return parse


def positive_float(text: str) -> float:
    """An argparse ``type=`` accepting a finite number above zero."""
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a number: allowed a positive "
                                         f"number") from None
    if not (math.isfinite(value) and value > 0):
        raise argparse.ArgumentTypeError(f"{text} is invalid: allowed a positive number")
    return value
