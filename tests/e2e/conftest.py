"""End-to-end fixtures: the real app (``reflex run --env prod --single-port``) and headless Debian Chromium."""

from __future__ import annotations

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


def _wait_until_serving(base_url: str, process: subprocess.Popen, log_path: Path) -> None:
    deadline = time.monotonic() + START_TIMEOUT_S
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
    pytest.fail(f"the app did not start in {START_TIMEOUT_S} s:\n{log_path.read_text()[-4000:]}")


@pytest.fixture(scope="package")
def app_data_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("e2e-data")


@pytest.fixture(scope="package")
def app_url(app_data_dir: Path) -> Iterator[str]:
    """Serve the whole app on a free loopback port, on a fresh SQLite database, as `make run` does."""
    port = _free_port()
    data_dir = app_data_dir
    bin_dir = Path(sys.executable).parent
    env = {
        **os.environ,
        "PORT": str(port),
        "LLMOBSERVE_DATA_DIR": str(data_dir),
        "DATABASE_URL": f"sqlite:///{data_dir / 'e2e.db'}",
        "REFLEX_STATES_WORKDIR": str(data_dir / "states"),  # what Reflex pickles: checked for secrets
        "JWT_SECRET": secrets.token_urlsafe(40),
        "REFLEX_USE_SYSTEM_BUN": "1",
        "REFLEX_TELEMETRY_ENABLED": "false",
        "PATH": f"{REPO / '.tools/node_modules/.bin'}:{bin_dir}:{os.environ.get('PATH', '')}",
    }
    subprocess.run([sys.executable, "-m", "llmobserve_app.db", "upgrade"], cwd=REPO, env=env, check=True)
    ARTIFACTS.mkdir(exist_ok=True)
    log_path = ARTIFACTS / "e2e-server.log"
    with log_path.open("w") as log:
        process = subprocess.Popen(
            [str(bin_dir / "reflex"), "run", "--env", "prod", "--single-port",
             "--frontend-port", str(port), "--backend-port", str(port)],
            cwd=REPO, env=env, stdout=log, stderr=subprocess.STDOUT, start_new_session=True,
        )
    base_url = f"http://localhost:{port}"
    try:
        _wait_until_serving(base_url, process, log_path)
        yield base_url
    finally:
        os.killpg(process.pid, signal.SIGTERM)
        try:
            process.wait(timeout=15)
        except subprocess.TimeoutExpired:
            os.killpg(process.pid, signal.SIGKILL)


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
