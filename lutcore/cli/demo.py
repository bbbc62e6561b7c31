"""``lutcore demo digits``: the committed ternary digit classifier (``examples/digits``,
:mod:`lutcore.models.classifier`) classifies the held-out 8x8 digits on one or more
backends, every BitLinear layer an integer GEMM on the backend; it draws the first images
with their predictions, shows a progress line, then the accuracy table (per backend: images,
accuracy, logits equal to the first backend's, cycles per image and images/s at the
configuration's clock on ``iss``/``rtl``/``uart``) and the images/s that the ``default`` and
``large`` configurations reach at their clocks, from their ISS cycle counts."""

from __future__ import annotations

import argparse
import sys
import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from ..host import backend_names
from ..models.bitnet import MODES
from ..models.classifier import DIGITS_MODEL, digits_split, load_classifier
from ..models.report import default_clock_mhz
from ..spec.config import preset
from ._config import add_config_arguments, load_config
from .gemm import backend_options
from .inputs import int_in

__all__ = ["add_arguments", "HELP", "DESCRIPTION", "run", "draw", "RATE_PRESETS"]

#: The configurations whose images/s the demo reports from their cycle counts.
RATE_PRESETS = ("default", "large")
#: Pixel values 0..16 drawn darker to lighter.
SHADES = " .:-=+*#%@"
DEFAULT_BACKENDS = ("numpy", "iss")


HELP = "trained models classifying real data on a backend"
DESCRIPTION = "Run a trained ternary model shipped with the kit on a backend."


def add_arguments(p) -> None:
    """The ``demo`` options: one sub-command per demo (``digits``)."""
    demos = p.add_subparsers(dest="demo", metavar="DEMO")
    demos.required = True
    d = demos.add_parser(
        "digits", help="the ternary digit classifier on the held-out 8x8 digits",
        description="Classify the held-out 8x8 handwritten digits (scikit-learn's "
                    "load_digits) with the ternary MLP of examples/digits, each BitLinear "
                    "an integer GEMM on the backend, and print the accuracy table.")
    d.add_argument("--model", metavar="DIR", type=Path, default=DIGITS_MODEL,
                   help="a bitnet-mlp directory (default: the committed examples/digits)")
    d.add_argument("--backend", action="append", choices=backend_names(), default=None,
                   help="where to run it; repeat for several (default: numpy and iss)")
    d.add_argument("--port", metavar="PORT", help="serial port of the board (uart backend)")
    d.add_argument("--waves", action="store_true", help="dump waveforms (rtl backend)")
    d.add_argument("--mode", choices=MODES, default="elut",
                   help="LUT mode of the ternary layers (default: elut)")
    add_config_arguments(d)
    d.add_argument("--limit", type=int_in(1), default=None, metavar="N",
                   help="classify only the first N held-out images (default: all)")
    d.add_argument("--batch", type=int_in(1), default=1, metavar="B",
                   help="images per GEMM (default: 1, image after image)")
    d.add_argument("--show", type=int_in(0), default=3, metavar="N",
                   help="draw the first N images with their predictions (default: 3)")


@dataclass
class _Row:
    backend: str
    images: int
    correct: int
    seconds: float
    cycles: int | None
    same: bool = True

    @property
    def cycles_per_image(self) -> float | None:
        return None if self.cycles is None else self.cycles / self.images


def draw(images, captions: list[str]) -> list[str]:
    """8x8 images (pixel values 0..16) drawn side by side in text, a caption under each."""
    width = 2 * 8 + 3
    lines = []
    for r in range(8):
        lines.append("".join(
            "".join(2 * SHADES[min(int(v) * len(SHADES) // 17, len(SHADES) - 1)]
                    for v in img.reshape(8, 8)[r]).ljust(width) for img in images).rstrip())
    lines.append("".join(c.ljust(width) for c in captions).rstrip())
    return lines


def _classify(model, x, y, args, out) -> tuple[_Row, np.ndarray]:
    """Classify ``x`` batch by batch with a progress line; the row and the logits."""
    n, backend = len(x), model.engine.backend
    tty = out.isatty()
    every = max(1, n // 10)
    logits, correct, started = [], 0, time.perf_counter()
    for b0 in range(0, n, args.batch):
        b1 = min(n, b0 + args.batch)
        lg = model.logits(x[b0:b1])
        logits.append(lg)
        correct += int(np.sum(np.argmax(lg, axis=1) == y[b0:b1]))
        shown = min(args.show, n)
        if b0 < shown <= b1:                    # the first images are classified: draw them
            preds = np.argmax(np.concatenate(logits)[:shown], axis=1)
            out.write("\n".join(draw(x[:shown], [f"label {y[i]}: {preds[i]}"
                                                  for i in range(shown)])) + "\n")
        if tty or b1 == n or b1 // every != b0 // every:
            line = f"{backend:>6}: {b1:4d}/{n} images, {correct} correct"
            out.write(("\r" + line) if tty else line + "\n")
            out.flush()
    if tty:
        out.write("\n")
    return (_Row(backend, n, correct, time.perf_counter() - started,
                 model.stats.cycles if backend != "numpy" else None),
            np.concatenate(logits))


def _rate(cycles_per_image: float | None, mhz: float) -> str:
    return "-" if not cycles_per_image else f"{mhz * 1e6 / cycles_per_image:,.0f}"


def _table(rows: list[_Row], config, args, out) -> None:
    mhz, source = default_clock_mhz(config)
    head = ("backend", "images", "accuracy", "logits = " + rows[0].backend, "cycles/image",
            f"images/s at {mhz:g} MHz", "wall s")
    body = [(r.backend, str(r.images), f"{r.correct / r.images:.2%}",
             "yes" if r.same else "NO",
             "-" if r.cycles is None else f"{r.cycles_per_image:,.1f}",
             _rate(r.cycles_per_image, mhz), f"{r.seconds:.2f}") for r in rows]
    widths = [max(len(c[i]) for c in (head, *body)) for i in range(len(head))]
    out.write(f"\nconfiguration {config.name}, mode {args.mode}, batch {args.batch}; "
              f"clock {mhz:g} MHz ({source})\n")
    for cells in (head, tuple("-" * w for w in widths), *body):
        out.write("  ".join(c.ljust(w) for c, w in zip(cells, widths)).rstrip() + "\n")


def _rates(args, x, out) -> None:
    """Images/s on :data:`RATE_PRESETS` at their clocks, from the ISS cycles of one batch."""
    batch = x[:args.batch]
    parts = []
    for name in RATE_PRESETS:
        config = preset(name)
        with load_classifier(args.model, backend="iss", mode=args.mode, config=config) as m:
            m.logits(batch)
            per_image = m.stats.cycles / len(batch)
        mhz, source = default_clock_mhz(config)
        parts.append(f"{name} {per_image:,.1f} cycles/image -> {_rate(per_image, mhz)} "
                     f"images/s at {mhz:g} MHz ({source})")
    out.write(f"from the cycle counts (iss, batch {len(batch)}): " + "; ".join(parts) + "\n")


def run(args) -> int:
    """Execute ``lutcore demo digits`` for parsed ``args``; return the exit status."""
    out = sys.stdout
    config = load_config(args)
    backends = list(dict.fromkeys(args.backend or DEFAULT_BACKENDS))
    options = {b: backend_options(argparse.Namespace(**{**vars(args), "backend": b}))
               for b in backends}
    _, _, x, y = digits_split()
    x, y = x[:args.limit], y[:args.limit]
    out.write(f"lutcore demo digits: {args.model}, {len(x)} held-out images, configuration "
              f"{config.name}, mode {args.mode}\n")
    rows, first = [], None
    for backend in backends:
        with load_classifier(args.model, backend=backend, mode=args.mode, config=config,
                             **options[backend]) as model:
            row, logits = _classify(model, x, y, args, out)
        first = logits if first is None else first
        row.same = bool(np.array_equal(logits, first))
        rows.append(row)
    _table(rows, config, args, out)
    _rates(args, x, out)
    return 0 if all(r.same for r in rows) else 1
