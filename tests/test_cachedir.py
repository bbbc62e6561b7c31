"""The build cache (Verilator models, the native kernel): one per-user directory,
overridable, one line when it cannot be used (no build happens here)."""

from __future__ import annotations

import pytest

from lutcore.errors import LutcoreError
from lutcore import cachedir


def test_cache_is_per_user_not_per_directory(tmp_path, monkeypatch):
    monkeypatch.delenv(cachedir.BUILD_ENV, raising=False)
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "cache"))
    monkeypatch.chdir(tmp_path)
    assert cachedir.build_root() == (tmp_path / "cache" / "lutcore").resolve()
    monkeypatch.chdir(tmp_path / "cache")
    assert cachedir.build_root() == (tmp_path / "cache" / "lutcore").resolve()


def test_variable_overrides_the_cache(tmp_path, monkeypatch):
    monkeypatch.setenv(cachedir.BUILD_ENV, str(tmp_path / "models"))
    assert cachedir.build_root() == (tmp_path / "models").resolve()
    assert (tmp_path / "models").is_dir()


def test_unusable_cache_is_one_line(tmp_path, monkeypatch):
    (tmp_path / "file").write_text("")
    monkeypatch.setenv(cachedir.BUILD_ENV, str(tmp_path / "file" / "models"))
    with pytest.raises(LutcoreError) as e:
        cachedir.build_root()
    text = str(e.value)
    assert "\n" not in text
    assert text.startswith(f"the build cache '{tmp_path / 'file' / 'models'}' "
                           f"cannot be used: ")
    assert text.endswith("set LUTCORE_BUILD to a writable directory")
