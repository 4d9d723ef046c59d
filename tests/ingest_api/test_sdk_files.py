"""/sdk/files/: the SDK's wheel at the URL the install command names, served by the API."""

from __future__ import annotations

import zipfile
from io import BytesIO

from fastapi.testclient import TestClient

from ingest_api import create_ingest_app
from llmobserve_app.services import sdk_package
from llmobserve_app.settings import SDK_DIR


def test_the_install_commands_url_serves_the_wheel(tmp_path) -> None:
    client = TestClient(create_ingest_app(f"sqlite:///{tmp_path / 'unused.db'}"))
    url = sdk_package.wheel_url("http://testserver", SDK_DIR)
    assert sdk_package.install_command("http://testserver", SDK_DIR) == f"pip install {url}"
    wheel = client.get(url)
    assert wheel.status_code == 200 and wheel.headers["content-type"] == "application/octet-stream"
    with zipfile.ZipFile(BytesIO(wheel.content)) as archive:
        metadata = next(name for name in archive.namelist() if name.endswith(".dist-info/METADATA"))
        text = archive.read(metadata).decode()
    assert "Name: llmobserve" in text and f"Version: {sdk_package.sdk_version(SDK_DIR)}" in text
    assert "Requires-Dist: msgspec" in text  # pip resolves it from the user's own index


def test_other_files_and_the_old_index_are_json_404s(tmp_path) -> None:
    client = TestClient(create_ingest_app(f"sqlite:///{tmp_path / 'unused.db'}"))
    for path in ("/sdk/files/llmobserve-9.9.9-py3-none-any.whl", "/sdk/files/..%2Fjwt_secret",
                 "/sdk/simple/llmobserve/"):
        response = client.get(path)
        assert response.status_code == 404, path
        assert response.json()["error"] == "not_found"
