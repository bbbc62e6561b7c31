"""The UART host link, self-contained: everything that carries host-port words over a serial
line, gateware and host side sharing one protocol definition.

- :mod:`.protocol`: the framed protocol (commands and statuses as enums, frame encoding,
  CRC), used by both sides;
- :mod:`.uart`, :mod:`.bridge`, :mod:`.uart_link`: the gateware (UART receiver and
  transmitter, the frame bridge onto the host port, the two joined);
- :mod:`.client`: the host side (byte transports, the protocol client);
- :mod:`.model`: a byte-level Python model of the board side for tests and dry runs.

The board tops that put the link in front of the accelerator live in :mod:`lutcore.fpga`;
running programs over the link is :mod:`lutcore.host`'s job.
"""
