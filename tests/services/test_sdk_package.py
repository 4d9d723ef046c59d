"""The SDK wheel the server builds from sdk/ (real pip, offline), its cache, its name and URL, the command."""

from __future__ import annotations

import functools
import re
import shutil
import subprocess
import sys
import threading
import zipfile
from http.server import SimpleHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest

from llmobserve_app.services import sdk_package

REPO = Path(__file__).resolve().parents[2]
SDK = REPO / "sdk"


@pytest.fixture
def sdk_copy(tmp_path: Path) -> Path:
    copy = tmp_path / "sdk"
    shutil.copytree(SDK, copy, ignore=shutil.ignore_patterns("build", "*.egg-info", "__pycache__"))
    return copy


def test_builds_an_installable_wheel_of_the_sdk_and_caches_it(sdk_copy: Path, tmp_path: Path) -> None:
    cache = tmp_path / "cache"
    wheel = sdk_package.sdk_wheel(sdk_copy, cache)
    # The name the install command shows, read from pyproject.toml without building, is the name pip built.
    assert wheel.filename == sdk_package.wheel_filename(sdk_package.sdk_version(sdk_copy))
    with zipfile.ZipFile(wheel.path) as archive:
        names = archive.namelist()
        metadata = next(name for name in names if name.endswith(".dist-info/METADATA"))
        assert "Name: llmobserve" in archive.read(metadata).decode()
    assert "llmobserve/__init__.py" in names and "llmobserve/context.py" in names
    assert not (sdk_copy / "build").exists() and not list(sdk_copy.glob("*.egg-info"))  # source tree untouched
    built = wheel.path.read_bytes()
    built_at = wheel.path.stat().st_mtime_ns
    again = sdk_package.sdk_wheel(sdk_copy, cache)
    assert again == wheel and again.path.stat().st_mtime_ns == built_at  # served from the cache
    (sdk_copy / "llmobserve" / "context.py").write_text((sdk_copy / "llmobserve" / "context.py").read_text() + "\n#")
    rebuilt = sdk_package.sdk_wheel(sdk_copy, cache)
    assert rebuilt.path.parent != wheel.path.parent and rebuilt.path.read_bytes() != built  # changed source, new wheel
    assert rebuilt.filename == wheel.filename  # the same version: the URL on the pages still names it


def test_the_wheel_name_follows_the_version_in_pyproject(sdk_copy: Path, tmp_path: Path) -> None:
    pyproject = sdk_copy / "pyproject.toml"
    pyproject.write_text(re.sub(r'^version = ".*"$', 'version = "2.3.4"', pyproject.read_text(), count=1, flags=re.M))
    assert sdk_package.sdk_version(sdk_copy) == "2.3.4"
    wheel = sdk_package.sdk_wheel(sdk_copy, tmp_path / "cache")
    assert wheel.filename == sdk_package.wheel_filename("2.3.4") == "llmobserve-2.3.4-py3-none-any.whl"


def test_a_broken_sdk_is_a_build_error_naming_pips_reason(sdk_copy: Path, tmp_path: Path) -> None:
    (sdk_copy / "pyproject.toml").write_text("[project]\nname = \n")
    with pytest.raises(sdk_package.SdkBuildError, match="pip wheel failed"):
        sdk_package.sdk_wheel(sdk_copy, tmp_path / "cache")
    assert not list((tmp_path / "cache").glob("*/*.whl"))


@pytest.mark.parametrize("public_url", ["http://localhost:8000", "https://observe.example.com/",
                                        "http://observe.lan:8000"])
def test_install_command_is_the_wheels_url_on_this_server(public_url: str) -> None:
    version = sdk_package.sdk_version(SDK)
    url = f"{public_url.rstrip('/')}/sdk/files/llmobserve-{version}-py3-none-any.whl"
    # No --trusted-host even for plain http elsewhere than loopback: pip checks origins only for index pages.
    assert sdk_package.install_command(public_url, SDK) == f"pip install {url}"
    assert sdk_package.requirement_line(public_url, SDK) == f"llmobserve @ {url}"


def test_pip_fetches_the_command_s_plain_http_url_from_a_non_loopback_host(sdk_copy: Path, tmp_path: Path) -> None:
    """pip refuses a plain-http index elsewhere than loopback without --trusted-host, but not a direct URL: the
    command needs no such option. 0.0.0.0 is not loopback to pip, yet Linux connects it to this machine."""
    wheel = sdk_package.sdk_wheel(sdk_copy, tmp_path / "cache")
    handler = functools.partial(SimpleHTTPRequestHandler, directory=str(wheel.path.parent))
    server = ThreadingHTTPServer(("127.0.0.1", 0), handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        public_url = f"http://0.0.0.0:{server.server_address[1]}"
        url = sdk_package.install_command(public_url, sdk_copy).removeprefix("pip install ")
        assert url == f"{public_url}/sdk/files/{wheel.filename}"
        url = url.replace("/sdk/files/", "/")  # this test server serves the cache folder at its root
        done = subprocess.run([sys.executable, "-m", "pip", "download", "--no-deps", "--no-cache-dir",
                               "--disable-pip-version-check", "-d", str(tmp_path / "got"), url],
                              capture_output=True, text=True, timeout=60, check=False)
    finally:
        server.shutdown()
        server.server_close()
    assert done.returncode == 0, done.stdout + done.stderr
    assert (tmp_path / "got" / wheel.filename).read_bytes() == wheel.path.read_bytes()


def test_readmes_show_the_current_wheel() -> None:
    filename = sdk_package.wheel_filename(sdk_package.sdk_version(SDK))
    for readme in (REPO / "README.md", SDK / "README.md"):
        assert f"/sdk/files/{filename}" in readme.read_text(), readme
