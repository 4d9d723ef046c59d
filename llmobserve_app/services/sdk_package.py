"""The SDK as this server hands it out: a wheel built from ``sdk/`` by pip, cached, and the install command.

The server builds its own SDK so a newcomer installs it with one ``pip install <API_URL>/sdk/files/<wheel>``,
without cloning the repository. A direct wheel URL, not an index: pip installs exactly that file (no package of the
same name on PyPI can stand in for it, as one could through ``--extra-index-url``) and resolves the SDK's own
dependencies (``msgspec``) from the user's usual index, which ``--index-url <this server>`` would shut out. The URL
names the version read from ``sdk/pyproject.toml``, so pages show it before any wheel is built.

The wheel is built once per version of the SDK's sources (their SHA-256 names the cache folder), offline
(``--no-index --no-build-isolation``: setuptools and wheel come from the server's own environment), in a copy of
``sdk/`` so the source tree gets no ``build/`` or ``egg-info`` folders. Several server processes may build at once:
each builds in its own temporary folder and the first to rename it into place wins.
"""

from __future__ import annotations

import hashlib
import shutil
import subprocess
import sys
import tempfile
import threading
import tomllib
from dataclasses import dataclass
from pathlib import Path

DIST_NAME = "llmobserve"
FILES_PATH = "/sdk/files/"
BUILD_TIMEOUT_S = 120
_SOURCE_GLOBS = ("pyproject.toml", "README.md", "llmobserve/**/*.py", "llmobserve/**/*.typed")
_build_lock = threading.Lock()


class SdkBuildError(RuntimeError):
    """pip could not build the SDK's wheel (its output says why)."""


@dataclass(frozen=True)
class SdkWheel:
    path: Path

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
    return SdkWheel(wheels[0])


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


def sdk_version(sdk_dir: Path) -> str:
    """The SDK's version as ``sdk/pyproject.toml`` states it (what the built wheel's filename carries)."""
    with (sdk_dir / "pyproject.toml").open("rb") as file:
        return tomllib.load(file)["project"]["version"]


def wheel_filename(version: str) -> str:
    """The name pip gives the SDK's wheel: pure Python, any Python 3."""
    return f"{DIST_NAME}-{version}-py3-none-any.whl"


def wheel_url(public_url: str, sdk_dir: Path) -> str:
    """Where the server at ``public_url`` serves the wheel of the SDK in ``sdk_dir``."""
    return f"{public_url.rstrip('/')}{FILES_PATH}{wheel_filename(sdk_version(sdk_dir))}"


def install_command(public_url: str, sdk_dir: Path) -> str:
    """The one command that installs the SDK from the server at ``public_url``.

    pip checks an origin's security (https, or loopback, or ``--trusted-host``) only for the indexes and
    find-links pages it reads, not for a direct URL, so a plain-http address needs no extra option.
    """
    return f"pip install {wheel_url(public_url, sdk_dir)}"


def requirement_line(public_url: str, sdk_dir: Path) -> str:
    """The SDK pinned in a ``requirements.txt``: a PEP 508 direct reference to the same wheel."""
    return f"{DIST_NAME} @ {wheel_url(public_url, sdk_dir)}"
