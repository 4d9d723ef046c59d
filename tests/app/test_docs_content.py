"""/docs content: generated providers, the FAQ, this server's address in every command, search, tested claims."""

from __future__ import annotations

import ast
import re
import time
from pathlib import Path

from fastapi.testclient import TestClient

from ingest_api import create_ingest_app
from ingest_api.schemas import CapCreate
from llmobserve_app import routes
from llmobserve_app.docs_content import PROVIDERS_ID, Code, DocSection, docs
from llmobserve_app.services.notifications.webhook import signature_header
from llmobserve_app.services.sdk_package import sdk_version, wheel_filename
from llmobserve_app.settings import SDK_DIR
from pricing import default_registry

URL = "https://observe.example.com"
TESTS_SDK = Path(__file__).resolve().parents[1] / "sdk"


def test_providers_are_the_registrys_and_the_faq_has_at_least_eleven_questions() -> None:
    content = docs(URL)
    assert {provider.id for provider in content.providers} == set(default_registry().providers)
    assert len(content.providers) == len(default_registry().providers)
    assert len(content.faq) >= 11
    ids = [entry for entry, _ in content.contents()] + [faq.id for faq in content.faq]
    assert PROVIDERS_ID in ids and len(ids) == len(set(ids))


def test_commands_use_this_servers_address_never_localhost_or_a_clone() -> None:
    content = docs(URL + "/")
    codes = [block.code for section in content.sections for block in section.blocks if isinstance(block, Code)]
    install = [code for code in codes if code.startswith("pip install")]
    wheel = f"{URL}/sdk/files/{wheel_filename(sdk_version(SDK_DIR))}"
    assert install and all(code == f"pip install {wheel}" for code in install)
    assert f"llmobserve @ {wheel}" in codes  # the requirements.txt line
    assert any(f'collector_url="{URL}"' in code for code in codes)
    texts = " ".join(docs(URL).search_texts.values())
    assert "pip install ./sdk" not in texts
    assert "localhost:8000" not in " ".join(code for code in codes if "make run" not in code)


def test_search_keeps_entries_with_every_word() -> None:
    content = docs(URL)
    assert content.search_texts is docs(URL).search_texts  # built once, not per keystroke
    assert len(content.matching("")) == len(content.search_texts)
    assert content.matching("revoked key") == ["troubleshooting", "faq-api-keys"]
    assert PROVIDERS_ID in content.matching("Pinecone")
    assert content.matching("STREAM_OPTIONS") and content.matching("no-such-word-anywhere") == []


def test_every_framework_the_docs_name_as_tested_has_a_test() -> None:
    frameworks = next(section for section in docs(URL).sections if section.id == "frameworks")
    named = re.findall(r"\*\*(\w+)\*\*", frameworks.blocks[0])
    assert named == ["LangChain", "AutoGen"]
    for name in named:
        assert (TESTS_SDK / f"test_{name.lower()}.py").exists(), name


def _caps(public_url: str = URL) -> DocSection:
    return next(section for section in docs(public_url).sections if section.id == "caps")


def _code_with(section: DocSection, text: str) -> str:
    (code,) = [block.code for block in section.blocks if isinstance(block, Code) and text in block.code]
    return code


def test_caps_section_covers_what_the_caps_code_does() -> None:
    section = _caps()
    text = " ".join(block.code if isinstance(block, Code) else block for block in section.blocks)
    for fact in ("`global`", "`provider`", "`model`", "`agent`", "`customer`", "`*`", "`day`", "`week`", "`month`",
                 "`threshold_pct`", "`alert`", "`block`", "**derived**", "at most once per cap and period",
                 "**email**", "**Slack**", "**webhook**", "X-LLMObserve-Signature", "BudgetExceededError",
                 "before any network I/O", "bounded, not zero", "POST", "/v1/caps",
                 f"Settings → Caps** ([{routes.CAPS}]({routes.CAPS}))"):
        assert fact in text, fact
    faq = {entry.id: entry for entry in docs(URL).faq}
    assert "BudgetExceededError" in faq["faq-caps"].answer and "POST /v1/caps" in faq["faq-caps"].answer
    assert docs(URL).matching("BudgetExceededError")[:1] == ["caps"]


def _example_body(code: str, **arguments: str) -> dict:
    """The ``json=`` argument of the example's ``requests.post`` call, evaluated with the function's arguments."""
    call = next(node for node in ast.walk(ast.parse(code)) if isinstance(node, ast.Call)
                and ast.unparse(node.func) == "requests.post")
    url = ast.unparse(call.args[0])
    assert url == "f'{LLMOBSERVE_URL}" + routes.API_CAPS + "'", url
    body = next(keyword.value for keyword in call.keywords if keyword.arg == "json")
    return eval(compile(ast.Expression(body), "<docs>", "eval"), {}, arguments)  # noqa: S307 - our own docs


def test_caps_api_example_is_accepted_by_the_real_api(database_url: str, make_account) -> None:
    code = _code_with(_caps(), "requests.post")
    assert f'LLMOBSERVE_URL = "{URL}"' in code
    compile(code, "<docs>", "exec")
    body = _example_body(code, customer_id="acme", daily_limit_usd="5.00")
    CapCreate.model_validate(body)  # the API's own schema (extra fields are refused)
    _, _, key = make_account("docs")
    client = TestClient(create_ingest_app(database_url))
    reply = client.post(routes.API_CAPS, json=body, headers={"Authorization": f"Bearer {key}"})
    assert reply.status_code == 201, reply.text
    cap = reply.json()
    assert (cap["name"], cap["limit_usd"], cap["action"], cap["status"]) == ("customer:acme per day", "5", "block",
                                                                           "ok")


def test_caps_signature_check_accepts_our_signature_only() -> None:
    namespace: dict = {}
    exec(_code_with(_caps(), "X-LLMObserve-Signature"), namespace)  # noqa: S102 - our own docs
    check = namespace["signed_by_llmobserve"]
    body, secret, now = b'{"id":"d1","data":{"level":"exceeded"}}', "whsec_docs", int(time.time())
    assert check(secret, signature_header(secret, body, now), body)
    assert not check(secret, signature_header(secret, body, now), body + b" ")
    assert not check("another secret", signature_header(secret, body, now), body)
    assert not check(secret, signature_header(secret, body, now - 3600), body)  # replayed
    assert not check(secret, "v1=abc", body) and not check(secret, "", body)
