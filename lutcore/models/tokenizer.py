"""Tokenizers: a ``tokenizer.json`` read with the ``tokenizers`` library, and the
``--prompt`` / ``--prompt-ids`` inputs of the command line."""

from __future__ import annotations

from pathlib import Path

from ..errors import ModelError

__all__ = ["load_tokenizer", "parse_ids"]


def load_tokenizer(path):
    """A ``tokenizers.Tokenizer`` from ``path`` (one line if unreadable)."""
    try:
        from tokenizers import Tokenizer
    except ImportError as e:
        raise ModelError(f"reading {path} needs the 'models' extra (tokenizers): {e}") from None
    try:
        return Tokenizer.from_file(str(Path(path)))
    except Exception as e:
        first = (str(e).strip().splitlines() or [type(e).__name__])[0]
        raise ModelError(f"{path}: not a readable tokenizer ({first})") from None


def parse_ids(text: str, what: str = "--prompt-ids") -> list[int]:
    """``"1,2,3"`` -> ``[1, 2, 3]`` (one line naming ``what`` if malformed)."""
    try:
        ids = [int(part) for part in text.replace(" ", "").split(",") if part != ""]
    except ValueError:
        raise ModelError(f"{what} {text!r}: expected comma-separated integer token ids") \
            from None
    if not ids:
        raise ModelError(f"{what} is empty: give at least one token id")
    return ids
