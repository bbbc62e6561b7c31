"""The package layout: every folder is a package that says what belongs in it, and the map
that opens docs/architecture.md names every folder."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

import lutcore

PACKAGE = Path(lutcore.__file__).parent
ARCHITECTURE = PACKAGE.parent / "docs" / "architecture.md"

# Every folder of the package holding Python code, as a path relative to the package root.
FOLDERS = sorted({p.parent.relative_to(PACKAGE).as_posix() for p in PACKAGE.rglob("*.py")
                  if "__pycache__" not in p.parts})


def docstring(path: Path) -> str:
    return (ast.get_docstring(ast.parse(path.read_text(encoding="utf-8"))) or "").strip()


@pytest.mark.parametrize("folder", FOLDERS)
def test_every_folder_is_a_package_with_a_docstring(folder):
    init = PACKAGE / folder / "__init__.py"
    assert init.exists(), f"lutcore/{folder} has Python modules but no __init__.py"
    # A sentence at least: what belongs in the folder, not just its name.
    assert len(docstring(init).split()) >= 8, f"{init.relative_to(PACKAGE.parent)}: the " \
        "module docstring must say what belongs in the folder"


def test_walk_finds_the_known_folders():
    # The walk above is not vacuous: it sees the nested packages too.
    assert {".", "spec", "spec/isa", "sw", "sw/kernels", "sw/compiler", "hw", "hw/lut_core",
            "sim", "cli"} <= set(FOLDERS)


def test_top_docstring_names_every_subpackage():
    top = docstring(PACKAGE / "__init__.py")
    for child in sorted(p.name for p in PACKAGE.iterdir() if (p / "__init__.py").exists()):
        assert f"lutcore.{child}" in top, f"lutcore/__init__.py does not describe {child}/"


def test_architecture_opens_with_a_map_of_every_folder():
    text = ARCHITECTURE.read_text(encoding="utf-8")
    head, sep, _ = text.partition("## The micro-architecture contract")
    assert sep and head.startswith("# Accelerator architecture\n\n## Map of the package\n")
    assert len(head.splitlines()) <= 50, "the map must fit one screen"
    for folder in FOLDERS:
        if folder != "." and "/" not in folder.removeprefix("sw/"):
            assert f"lutcore/{folder}/" in head, f"the map does not name lutcore/{folder}/"
    for flow in ("sw/compiler", "host Runtime", "transport", "spec <- hw <- "):
        assert flow in head
