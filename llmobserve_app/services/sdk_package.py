"""The SDK as this server hands it out: a wheel built from ``sdk/`` by pip, cached, and the install command.

The server builds its own SDK so a newcomer installs it with one ``pip install`` against this server (a PEP 503
"simple" index under ``/sdk/simple/``), without cloning the repository or reaching PyPI. The wheel is built once
per version of the SDK's sources (their SHA-256 names the cache folder), offline (``--no-index
--no-build-isolation``: setuptools and wheel come from the server's own environment), in a copy of ``sdk/`` so the
source tree gets no ``build/`` or ``egg-info`` folders. Several server processes may build at once: each builds in
its own temporary folder and the first to rename it into place wins.
"""

from __future__ import annotations

import hashlib
import html
import shutil
import subprocess
import sys
import tempfile
import threading
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import urlsplit

DIST_NAME = "llmobserve"
INDEX_PATH = "/sdk/simple/"
FILES_PATH = "/sdk/files/"
BUILD_TIMEOUT_S = 120
_SOURCE_GLOBS = ("pyproject.toml", "README.md", "llmobserve/**/*.py", "llmobserve/**/*.typed")
_build_lock = threading.Lock()


class SdkBuildError(RuntimeError):
    """pip could not build the SDK's wheel (its output says why)."""


@dataclass(frozen=True)
class SdkWheel:
    path: Path
    sha256: str

    @property
    def filename(self) -> str:
        return self.path.name


def _source_files(sdk_dir: Path) -> list[Path]:
    files = {path for pattern in _SOURCE_GLOBS for path in sdk_dir.glob(pattern) if path.is_file()}
    return sorted(files)


def source_fingerprint(sdk_dir: Path) -> str:
    """SHA-256 over the SDK's packaged sources (names and bytes): a new wheel whenever one of them changes."""
    digest = hashlib.sha256()
    for path in _source_files(sdk_dir):
        digest.update(path.relative_to(sdk_dir).as_posix().encode() + b"\0" + path.read_bytes() + b"\0")
    return digest.hexdigest()


def _existing(folder: Path) -> SdkWheel | None:
    wheels = sorted(folder.glob(f"{DIST_NAME}-*.whl"))
    if not wheels:
        return None
    return SdkWheel(wheels[0], hashlib.sha256(wheels[0].read_bytes()).hexdigest())


def _pip_wheel(source: Path, out_dir: Path) -> None:
    command = [sys.executable, "-m", "pip", "wheel", "--no-deps", "--no-build-isolation", "--no-index",
               "--disable-pip-version-check", "--quiet", "--wheel-dir", str(out_dir), str(source)]
    try:
        done = subprocess.run(command, capture_output=True, text=True, timeout=BUILD_TIMEOUT_S, check=False)
    except subprocess.TimeoutExpired as error:
        raise SdkBuildError(f"pip wheel did not finish in {BUILD_TIMEOUT_S} s") from error
    if done.returncode != 0:
        raise SdkBuildError(f"pip wheel failed ({done.returncode}): {(done.stderr or done.stdout)[-2000:]}")


def sdk_wheel(sdk_dir: Path, cache_dir: Path) -> SdkWheel:
    """The wheel of the SDK in ``sdk_dir``, built on first use and kept under ``cache_dir/<fingerprint>/``."""
    target = cache_dir / source_fingerprint(sdk_dir)[:20]
    found = _existing(target)
    if found is not None:
        return found
    with _build_lock:  # one build per process; other processes race through the rename below
        found = _existing(target)
        if found is not None:
            return found
        cache_dir.mkdir(parents=True, exist_ok=True)
        with tempfile.TemporaryDirectory(dir=cache_dir, prefix=".build-") as scratch:
            source = Path(scratch) / "sdk"
            for path in _source_files(sdk_dir):
                destination = source / path.relative_to(sdk_dir)
                destination.parent.mkdir(parents=True, exist_ok=True)
                shutil.copyfile(path, destination)
            out_dir = Path(scratch) / "wheel"
            _pip_wheel(source, out_dir)
            try:
                out_dir.rename(target)
            except OSError:  # another process renamed its build into place first
                if _existing(target) is None:
                    raise
        found = _existing(target)
        if found is None:
            raise SdkBuildError(f"pip wheel produced no {DIST_NAME} wheel")
        return found


def project_page(wheel: SdkWheel, requires_python: str = ">=3.9") -> str:
    """The PEP 503 project page: one link to the wheel, with its SHA-256 (pip checks it) and Requires-Python."""
    href = f"{FILES_PATH}{wheel.filename}#sha256={wheel.sha256}"
    return ("<!DOCTYPE html>\n<html><head><meta name=\"pypi:repository-version\" content=\"1.0\">"
            f"<title>Links for {DIST_NAME}</title></head><body><h1>Links for {DIST_NAME}</h1>\n"
            f"<a href=\"{html.escape(href)}\" data-requires-python=\"{html.escape(requires_python)}\">"
            f"{html.escape(wheel.filename)}</a>\n</body></html>\n")


def root_page() -> str:
    """The PEP 503 root: the one project this index holds."""
    return ("<!DOCTYPE html>\n<html><head><meta name=\"pypi:repository-version\" content=\"1.0\">"
            f"<title>Simple index</title></head><body>\n<a href=\"{DIST_NAME}/\">{DIST_NAME}</a>\n</body></html>\n")


def _is_loopback(host: str) -> bool:
    return host == "localhost" or host.startswith("127.") or host == "::1"


def install_command(public_url: str) -> str:
    """The one command that installs the SDK from the server at ``public_url``.

    ``--index-url`` (not ``--extra-index-url``): pip then looks nowhere else, so no package of the same name
    on PyPI can stand in for ours. pip refuses plain http except to loopback, so an http address elsewhere gets
    ``--trusted-host`` (production servers are https; ``settings`` enforces it).
    """
    base = public_url.rstrip("/")
    command = f"pip install --index-url {base}{INDEX_PATH} {DIST_NAME}"
    parts = urlsplit(base)
    if parts.scheme == "http" and parts.hostname and not _is_loopback(parts.hostname):
        command += f" --trusted-host {parts.hostname}"
    return command
