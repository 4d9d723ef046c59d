"""/sdk/simple/: the PEP 503 index pip reads, and the wheel it links, served by the API."""

from __future__ import annotations

import hashlib
import re

from fastapi.testclient import TestClient

from ingest_api import create_ingest_app


def test_index_links_the_wheel_pip_can_download_and_verify(tmp_path) -> None:
    client = TestClient(create_ingest_app(f"sqlite:///{tmp_path / 'unused.db'}"))
    root = client.get("/sdk/simple/")
    assert root.status_code == 200 and 'href="llmobserve/"' in root.text
    page = client.get("/sdk/simple/llmobserve/")
    assert page.status_code == 200 and page.headers["content-type"].startswith("text/html")
    href, digest = re.search(r'href="(/sdk/files/llmobserve-[^"#]+\.whl)#sha256=([0-9a-f]{64})"', page.text).groups()
    wheel = client.get(href)
    assert wheel.status_code == 200 and hashlib.sha256(wheel.content).hexdigest() == digest
    assert wheel.content[:2] == b"PK"  # a zip archive
    assert client.get("/sdk/simple/LLMObserve/").status_code == 200  # PEP 503 names are case-insensitive


def test_other_projects_and_files_are_json_404s(tmp_path) -> None:
    client = TestClient(create_ingest_app(f"sqlite:///{tmp_path / 'unused.db'}"))
    for path in ("/sdk/simple/requests/", "/sdk/files/llmobserve-9.9.9-py3-none-any.whl", "/sdk/files/..%2Fjwt_secret"):
        response = client.get(path)
        assert response.status_code == 404, path
        assert response.json()["error"] == "not_found"
