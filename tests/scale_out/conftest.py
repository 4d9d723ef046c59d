"""Two servers of the real app (``reflex run --env prod --single-port``, one worker each, as two machines would
run it) sharing one PostgreSQL database and one Redis, behind a round-robin proxy (the load balancer)."""

from __future__ import annotations

import os
import secrets
import signal
import sys
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
import redis
import sqlalchemy as sa

from llmobserve_app.db import get_engine, migrate
from tests.e2e.conftest import ARTIFACTS, _free_port, app_env, browser, start_app, stop_app  # noqa: F401
from tests.scale_out.proxy import RoundRobinProxy

POSTGRES_ADMIN_URL = os.environ.get("TEST_POSTGRES_URL", "postgresql+psycopg://postgres@127.0.0.1:5432/postgres")
REDIS_URL = os.environ.get("TEST_REDIS_URL", "redis://127.0.0.1:6379/6")
LEASE_SECONDS = 3  # the job lease, short so that a takeover is seen quickly
START_TIMEOUT_S = 150


@dataclass
class Server:
    name: str
    port: int
    process: object  # subprocess.Popen
    data_dir: Path
    log: Path

    @property
    def states(self) -> Path:
        """Where Reflex would pickle State to disk without Redis (REFLEX_STATES_WORKDIR)."""
        return self.data_dir / "states"

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def stop(self, sig: int = signal.SIGTERM) -> None:
        stop_app(self.process, sig)  # type: ignore[arg-type]


@dataclass
class Cluster:
    servers: list[Server]
    proxy: RoundRobinProxy
    engine: sa.Engine
    redis: redis.Redis

    @property
    def url(self) -> str:
        return f"http://localhost:{self.proxy.port}"


def _backend_with_built_frontend(port: int) -> list[str]:
    """What ``reflex run --env prod --single-port`` ends in (Granian serving the app, the compiled frontend
    mounted), without compiling and building the frontend again: server A has just built it in this checkout,
    and a second build would take another minute on a busy machine."""
    return ["env", "REFLEX_ENV_MODE=prod", "__REFLEX_SKIP_COMPILE=true", "__REFLEX_MOUNT_FRONTEND_COMPILED_APP=true",
            sys.executable, "-m", "granian", "--interface", "asgi", "--factory", "--host", "0.0.0.0",
            "--port", str(port), "--workers", "1", "llmobserve_app.llmobserve_app:app"]


@pytest.fixture(scope="package")
def cluster(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Cluster]:
    name = f"llmo_scale_{uuid.uuid4().hex[:10]}"
    admin = sa.create_engine(POSTGRES_ADMIN_URL, isolation_level="AUTOCOMMIT")
    with admin.connect() as connection:
        connection.execute(sa.text(f'CREATE DATABASE "{name}"'))
    database_url = POSTGRES_ADMIN_URL.rsplit("/", 1)[0] + f"/{name}"
    store = redis.Redis.from_url(REDIS_URL)
    store.flushdb()
    ports = [_free_port(), _free_port()]
    servers: list[Server] = []
    try:
        migrate(database_url)
        with RoundRobinProxy(ports) as proxy:
            shared = {"JWT_SECRET": secrets.token_urlsafe(40), "REDIS_URL": REDIS_URL, "GRANIAN_WORKERS": "1",
                      "API_URL": f"http://localhost:{proxy.port}",  # the public URL: the load balancer's
                      "LLMOBSERVE_JOB_LEASE_SECONDS": str(LEASE_SECONDS), "LOGIN_LIMIT_PER_ACCOUNT": "3/minute",
                      "DATABASE_URL": database_url.replace("+psycopg", "")}
            for label, port in zip("ab", ports, strict=True):
                data_dir = tmp_path_factory.mktemp(f"scale-out-{label}")  # its own disk, as another machine
                env = app_env(port, data_dir, shared["DATABASE_URL"], **shared,
                              REFLEX_STATES_WORKDIR=str(data_dir / "states"))  # must stay empty: State is in Redis
                log = ARTIFACTS / f"scale-out-{label}.log"
                command = None if label == "a" else _backend_with_built_frontend(port)
                servers.append(Server(label, port, start_app(env, log, START_TIMEOUT_S, command), data_dir, log))
            yield Cluster(servers, proxy, get_engine(database_url), store)
    finally:
        for server in servers:
            server.stop()
        get_engine(database_url).dispose()
        with admin.connect() as connection:
            connection.execute(sa.text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        admin.dispose()
        store.flushdb()
        store.close()
