"""End-to-end fixtures: the real app (``reflex run --env prod --single-port``) and headless Debian Chromium."""

from __future__ import annotations

import contextlib
import os
import secrets
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from playwright.sync_api import Browser, sync_playwright

REPO = Path(__file__).resolve().parents[2]
ARTIFACTS = REPO / "test-artifacts"
CHROMIUM = os.environ.get("CHROMIUM_PATH", "/usr/bin/chromium")
START_TIMEOUT_S = 480


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def _wait_until_serving(base_url: str, process: subprocess.Popen, log_path: Path, timeout_s: float) -> None:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if process.poll() is not None:
            pytest.fail(f"the app exited with {process.returncode}:\n{log_path.read_text()[-4000:]}")
        try:
            if (httpx.get(f"{base_url}/v1/healthz", timeout=2).status_code == 200
                    and httpx.get(f"{base_url}/login/", timeout=5).status_code == 200):
                return
        except httpx.HTTPError:
            pass
        time.sleep(1)
    pytest.fail(f"the app did not start in {timeout_s} s:\n{log_path.read_text()[-4000:]}")


def app_env(port: int, data_dir: Path, database_url: str, **extra: str) -> dict[str, str]:
    """The environment `make run` gives the app, on ``port`` with ``database_url``."""
    return {
        **os.environ,
        "PORT": str(port),
        "LLMOBSERVE_DATA_DIR": str(data_dir),
        "DATABASE_URL": database_url,
        "JWT_SECRET": secrets.token_urlsafe(40),
        "REFLEX_USE_SYSTEM_BUN": "1",
        "REFLEX_TELEMETRY_ENABLED": "false",
        "PATH": f"{REPO / '.tools/node_modules/.bin'}:{Path(sys.executable).parent}:{os.environ.get('PATH', '')}",
        **extra,
    }


def start_app(env: dict[str, str], log_path: Path, timeout_s: float = START_TIMEOUT_S,
              command: list[str] | None = None) -> subprocess.Popen:
    """Start ``reflex run --env prod --single-port`` (or ``command``) from the repository, as `make run` does, and
    wait until it serves."""
    port = env["PORT"]
    ARTIFACTS.mkdir(exist_ok=True)
    with log_path.open("w") as log:
        process = subprocess.Popen(
            command or [str(Path(sys.executable).parent / "reflex"), "run", "--env", "prod", "--single-port",
                        "--frontend-port", port, "--backend-port", port],
            cwd=REPO, env=env, stdout=log, stderr=subprocess.STDOUT, start_new_session=True,
        )
    try:
        _wait_until_serving(f"http://localhost:{port}", process, log_path, timeout_s)
    except BaseException:
        stop_app(process)
        raise
    return process


def stop_app(process: subprocess.Popen, sig: int = signal.SIGTERM) -> None:
    """Stop the app and every process of its session."""
    with contextlib.suppress(ProcessLookupError):
        os.killpg(process.pid, sig)
    try:
        process.wait(timeout=15)
    except subprocess.TimeoutExpired:
        os.killpg(process.pid, signal.SIGKILL)
        process.wait(timeout=15)


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """End-to-end tests marked ``own_app`` (their module builds and serves its own app) run before the other
    end-to-end tests, before the package's app is started: the frontend is built in this checkout with the app's
    address in it, so two apps built here must never serve pages at the same time."""
    e2e = [item for item in items if Path(__file__).parent in item.path.parents]
    first = [item for item in e2e if item.get_closest_marker("own_app")]
    if not first:
        return
    start = items.index(e2e[0])
    rest = [item for item in items if item not in first]
    items[:] = rest[:start] + first + rest[start:]


@pytest.fixture(scope="package")
def app_data_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("e2e-data")


@pytest.fixture(scope="package")
def app_url(app_data_dir: Path) -> Iterator[str]:
    """Serve the whole app on a free loopback port, on a fresh SQLite database, as `make run` does."""
    port = _free_port()
    data_dir = app_data_dir
    env = app_env(port, data_dir, f"sqlite:///{data_dir / 'e2e.db'}",
                  REFLEX_STATES_WORKDIR=str(data_dir / "states"))  # what Reflex pickles: checked for secrets
    subprocess.run([sys.executable, "-m", "llmobserve_app.db", "upgrade"], cwd=REPO, env=env, check=True)
    process = start_app(env, ARTIFACTS / "e2e-server.log")
    try:
        yield f"http://localhost:{port}"
    finally:
        stop_app(process)


@pytest.fixture(scope="package")
def browser() -> Iterator[Browser]:
    """Package-scoped: Playwright's sync API keeps an event loop on this thread until it is closed, and later
    tests (the SDK's) call asyncio.run()."""
    if not Path(CHROMIUM).exists():
        pytest.fail(f"Chromium not found at {CHROMIUM}: `make test` installs Debian's chromium package")
    with sync_playwright() as playwright:
        launched = playwright.chromium.launch(
            executable_path=CHROMIUM,
            args=["--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-component-update",
                  "--disable-sync", "--no-first-run", "--disable-quic"],
        )
        yield launched
        launched.close()
