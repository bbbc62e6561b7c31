"""``lutcore demo digits`` as a user runs it: the drawn images, the progress, the accuracy
table and the rates, checked against the classifier's own API and the ISS cycle counts;
bad arguments are exit 2 and one line."""

from __future__ import annotations

import re

import numpy as np
import pytest

import lutcore.cli
from lutcore.cli import demo
from lutcore.models.classifier import DIGITS_MODEL, digits_split, load_classifier
from lutcore.models.report import default_clock_mhz
from lutcore.spec.config import preset


@pytest.fixture
def run(capsys):
    """``run(*argv)`` -> (status, stdout, stderr) of ``lutcore demo ...``."""
    def go(*argv):
        status = lutcore.cli.main(["demo", *map(str, argv)])
        out = capsys.readouterr()
        return status, out.out, out.err
    return go


def table(out: str) -> dict[str, list[str]]:
    lines = out.splitlines()
    start = next(i for i, line in enumerate(lines) if line.startswith("backend "))
    rows = {}
    for line in lines[start + 2:]:
        if not line or line.startswith("from the cycle counts"):
            break
        cells = re.split(r"\s{2,}", line)
        rows[cells[0]] = cells
    return rows


def test_numpy_and_iss_give_the_api_accuracy_and_the_iss_cycles(run):
    status, out, err = run("digits", "--limit", 24, "--batch", 6, "--show", 2)
    assert status == 0, err
    _, _, x, y = digits_split()
    with load_classifier(DIGITS_MODEL, backend="iss", config=preset("default")) as m:
        correct = sum(int(np.sum(m.predict(x[b:b + 6]) == y[b:b + 6])) for b in (0, 6, 12, 18))
        per_image = m.stats.cycles / 24
    rows = table(out)
    assert list(rows) == ["numpy", "iss"]
    for backend in ("numpy", "iss"):
        assert rows[backend][1:4] == ["24", f"{correct / 24:.2%}", "yes"]
    mhz, _ = default_clock_mhz(preset("default"))
    assert rows["iss"][4:6] == [f"{per_image:,.1f}", f"{mhz * 1e6 / per_image:,.0f}"]
    assert rows["numpy"][4:6] == ["-", "-"]
    assert f"label {y[0]}: " in out and f"label {y[1]}: " in out
    assert "   iss:   24/24 images" in out
    rates = out.splitlines()[-1]
    assert rates.startswith("from the cycle counts (iss, batch 6): default "
                            f"{per_image:,.1f} cycles/image")
    assert "large " in rates and "at 1000 MHz" in rates


def test_the_drawing_is_the_pixels():
    img = np.zeros(64)
    img[0], img[63] = 16, 8
    lines = demo.draw([img], ["x"])
    assert lines[0].startswith("@@") and lines[7].endswith(demo.SHADES[80 // 17] * 2)
    assert lines[8] == "x" and len(lines) == 9


@pytest.mark.parametrize("argv, message", [
    (["digits", "--limit", "0"], "argument --limit: 0 is out of range: allowed >= 1"),
    (["digits", "--backend", "iss", "--port", "/dev/null"],
     "--port is only used by --backend uart, not 'iss'"),
    (["digits", "--backend", "fpga"], "argument --backend: invalid choice: 'fpga'"),
    (["digits", "--model", "no/such/dir", "--backend", "numpy"],
     "no/such/dir: no such file or directory"),
    (["digits", "--preset", "huge"], "huge"),
    (["pictures"], "invalid choice: 'pictures'"),
])
def test_bad_arguments_are_one_line(run, argv, message):
    status, out, err = run(*argv)
    assert status == 2 and message in err and err.count("\n") == 1, err
