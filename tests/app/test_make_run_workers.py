"""`make run WORKERS=n`: several workers need Redis, refused before anything is installed or started."""

from __future__ import annotations

import os
import shutil
import subprocess
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]


def _check(workers: str, redis_url: str | None) -> subprocess.CompletedProcess[str]:
    if shutil.which("make") is None:
        pytest.fail("make is not installed")
    env = {key: value for key, value in os.environ.items() if key != "REDIS_URL"}
    if redis_url:
        env["REDIS_URL"] = redis_url
    return subprocess.run(["make", "-s", "workers-check", f"WORKERS={workers}"], cwd=REPO, env=env,
                          capture_output=True, text=True, timeout=30)


def test_several_workers_without_redis_are_refused_with_the_reason() -> None:
    refused = _check("4", None)
    assert refused.returncode != 0
    assert "WORKERS=4 needs REDIS_URL" in refused.stderr


def test_one_worker_needs_nothing_and_several_run_with_redis() -> None:
    assert _check("1", None).returncode == 0
    assert _check("4", "redis://127.0.0.1:6379/6").returncode == 0


def test_workers_must_be_a_whole_number() -> None:
    assert "WORKERS must be a whole number" in _check("two", None).stderr
