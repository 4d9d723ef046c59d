"""The SDK wheel the server builds from sdk/ (real pip, offline), its cache, the PEP 503 pages, the command."""

from __future__ import annotations

import hashlib
import shutil
import zipfile
from pathlib import Path

import pytest

from llmobserve_app.services import sdk_package

SDK = Path(__file__).resolve().parents[2] / "sdk"


@pytest.fixture
def sdk_copy(tmp_path: Path) -> Path:
    copy = tmp_path / "sdk"
    shutil.copytree(SDK, copy, ignore=shutil.ignore_patterns("build", "*.egg-info", "__pycache__"))
    return copy


def test_builds_an_installable_wheel_of_the_sdk_and_caches_it(sdk_copy: Path, tmp_path: Path) -> None:
    cache = tmp_path / "cache"
    wheel = sdk_package.sdk_wheel(sdk_copy, cache)
    assert wheel.filename.startswith("llmobserve-") and wheel.filename.endswith("-py3-none-any.whl")
    assert wheel.sha256 == hashlib.sha256(wheel.path.read_bytes()).hexdigest()
    with zipfile.ZipFile(wheel.path) as archive:
        names = archive.namelist()
        metadata = next(name for name in names if name.endswith(".dist-info/METADATA"))
        assert "Name: llmobserve" in archive.read(metadata).decode()
    assert "llmobserve/__init__.py" in names and "llmobserve/context.py" in names
    assert not (sdk_copy / "build").exists() and not list(sdk_copy.glob("*.egg-info"))  # source tree untouched
    built_at = wheel.path.stat().st_mtime_ns
    again = sdk_package.sdk_wheel(sdk_copy, cache)
    assert again == wheel and again.path.stat().st_mtime_ns == built_at  # served from the cache
    (sdk_copy / "llmobserve" / "context.py").write_text((sdk_copy / "llmobserve" / "context.py").read_text() + "\n#")
    rebuilt = sdk_package.sdk_wheel(sdk_copy, cache)
    assert rebuilt.path.parent != wheel.path.parent and rebuilt.sha256 != wheel.sha256  # changed source, new wheel


def test_a_broken_sdk_is_a_build_error_naming_pips_reason(sdk_copy: Path, tmp_path: Path) -> None:
    (sdk_copy / "pyproject.toml").write_text("[project]\nname = \n")
    with pytest.raises(sdk_package.SdkBuildError, match="pip wheel failed"):
        sdk_package.sdk_wheel(sdk_copy, tmp_path / "cache")
    assert not list((tmp_path / "cache").glob("*/*.whl"))


def test_project_page_links_the_wheel_with_its_hash(tmp_path: Path) -> None:
    wheel = sdk_package.SdkWheel(tmp_path / "llmobserve-0.1.0-py3-none-any.whl", "ab" * 32)
    page = sdk_package.project_page(wheel)
    assert ('href="/sdk/files/llmobserve-0.1.0-py3-none-any.whl#sha256=' + "ab" * 32 + '"') in page
    assert 'data-requires-python="&gt;=3.9"' in page
    assert '<a href="llmobserve/">llmobserve</a>' in sdk_package.root_page()


@pytest.mark.parametrize(("public_url", "command"), [
    ("http://localhost:8000", "pip install --index-url http://localhost:8000/sdk/simple/ llmobserve"),
    ("https://observe.example.com/", "pip install --index-url https://observe.example.com/sdk/simple/ llmobserve"),
    ("http://127.0.0.1:9000", "pip install --index-url http://127.0.0.1:9000/sdk/simple/ llmobserve"),
    ("http://observe.lan:8000",
     "pip install --index-url http://observe.lan:8000/sdk/simple/ llmobserve --trusted-host observe.lan"),
])
def test_install_command_uses_this_servers_address(public_url: str, command: str) -> None:
    assert sdk_package.install_command(public_url) == command
