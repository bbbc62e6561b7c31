"""The pipe between a host process and the ``serve`` bench of :mod:`lutcore.sim.tb_top`.

A session (:mod:`lutcore.host.rtl`) keeps one Verilator simulation alive across many
programs: the runtime runs in the host process and sends each transport operation over a
Unix socket (path in :data:`SERVE_ENV`) to the bench, which performs it on the host-port
driver and replies. A message is a JSON header and an optional ``uint64`` array:
``<header bytes u32><array bytes u32><header><array>``. Requests carry ``op`` (``write``:
the array is addresses then data; ``read``: the array is addresses; ``wait``, ``reset``,
``stats``, ``close``); replies carry ``value`` and the array, or ``error`` (one line).
"""

from __future__ import annotations

import json
import socket
import struct
from typing import Any

import numpy as np

__all__ = ["SERVE_ENV", "send", "receive"]

#: Environment variable naming the socket the bench connects to.
SERVE_ENV = "LUTCORE_SIM_SERVE"

_SIZES = struct.Struct("<II")


def send(sock: socket.socket, header: dict[str, Any], words=None) -> None:
    """Send one message."""
    body = b"" if words is None else np.ascontiguousarray(words, np.uint64).tobytes()
    head = json.dumps({**header, "array": words is not None}).encode()
    sock.sendall(_SIZES.pack(len(head), len(body)) + head + body)


def _exactly(sock: socket.socket, size: int) -> bytes:
    chunks, left = [], size
    while left:
        chunk = sock.recv(min(left, 1 << 20))
        if not chunk:
            raise EOFError("the other end of the simulation pipe closed")
        chunks.append(chunk)
        left -= len(chunk)
    return b"".join(chunks)


def receive(sock: socket.socket) -> tuple[dict[str, Any], np.ndarray | None]:
    """One message: ``(header, array or None)``; EOFError when the other end closed."""
    n_head, n_body = _SIZES.unpack(_exactly(sock, _SIZES.size))
    header = json.loads(_exactly(sock, n_head))
    words = np.frombuffer(_exactly(sock, n_body), np.uint64) if header.pop("array") else None
    return header, words
