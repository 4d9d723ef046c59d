"""Hooks: only for libraries the host has, patched on import, removed on shutdown."""

from __future__ import annotations

import subprocess
import sys
import textwrap

import pytest

pytestmark = pytest.mark.timeout(30)


def test_never_imports_http_libraries_and_patches_on_import():
    script = textwrap.dedent(
        """
        import sys
        import llmobserve
        llmobserve.observe("http://127.0.0.1:9", api_key="k", caps_poll_interval=3600)
        for name in ("httpx", "httpx2", "requests", "urllib3"):
            assert name not in sys.modules, name
        import requests
        assert requests.Session.send.__name__ == "send" and hasattr(requests.Session.send, "__wrapped__")
        import httpx2
        assert hasattr(httpx2.Client.send, "__wrapped__")
        assert sorted(llmobserve.stats()["hooks"]) == ["httpx2", "requests", "urllib3"], llmobserve.stats()
        llmobserve.shutdown(0.1)
        assert not hasattr(requests.Session.send, "__wrapped__")
        assert not hasattr(httpx2.Client.send, "__wrapped__")
        print("ok")
        """
    )
    proc = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, timeout=20)
    assert proc.returncode == 0 and proc.stdout.strip() == "ok", proc.stderr
