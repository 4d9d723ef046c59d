"""The README's webhook signature check works on what delivery really sends (and refuses what it should)."""

from __future__ import annotations

import re
import time
from pathlib import Path

from llmobserve_app.models import utcnow
from llmobserve_app.services.notifications.webhook import signature_header, webhook_body

README = Path(__file__).resolve().parents[3] / "README.md"


def _readme_verifier():
    text = README.read_text()
    match = re.search(r"<!-- webhook-verify:[^>]*-->\n```python\n(.*?)```", text, re.DOTALL)
    assert match, "the README's webhook-verify snippet is missing"
    namespace: dict = {}
    exec(compile(match.group(1), "README.md", "exec"), namespace)  # our own README, checked in
    return namespace["verify_llmobserve_signature"]


def test_the_readme_snippet_verifies_a_real_signature() -> None:
    verify = _readme_verifier()
    body = webhook_body(delivery_id="ntf_1", source_kind="cap_alert", source_id=1, subject="Cap exceeded",
                        created_at=utcnow(), payload={"level": "exceeded", "name": "ünïcode"})
    now = int(time.time())
    header = signature_header("whsec_right", body, now)
    assert verify("whsec_right", header, body)
    assert not verify("whsec_wrong", header, body)
    assert not verify("whsec_right", header, body.replace(b"exceeded", b"threshold"))
    assert not verify("whsec_right", signature_header("whsec_right", body, now - 3600), body)
    assert not verify("whsec_right", "garbage", body)
    assert not verify("whsec_right", f"t={now}", body)
