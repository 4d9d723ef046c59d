"""/docs content: generated providers, the FAQ, this server's address in every command, search, tested claims."""

from __future__ import annotations

import re
from pathlib import Path

from llmobserve_app.docs_content import PROVIDERS_ID, Code, docs
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
    ids = [section.id for section in content.sections] + [faq.id for faq in content.faq] + [PROVIDERS_ID]
    assert len(ids) == len(set(ids))


def test_commands_use_this_servers_address_never_localhost_or_a_clone() -> None:
    content = docs(URL + "/")
    codes = [block.code for section in content.sections for block in section.blocks if isinstance(block, Code)]
    install = [code for code in codes if code.startswith("pip install")]
    wheel = f"{URL}/sdk/files/{wheel_filename(sdk_version(SDK_DIR))}"
    assert install and all(code == f"pip install {wheel}" for code in install)
    assert f"llmobserve @ {wheel}" in codes  # the requirements.txt line
    assert any(f'collector_url="{URL}"' in code for code in codes)
    texts = " ".join(docs(URL).search_texts().values())
    assert "pip install ./sdk" not in texts
    assert "localhost:8000" not in " ".join(code for code in codes if "make run" not in code)


def test_search_keeps_entries_with_every_word() -> None:
    content = docs(URL)
    assert len(content.matching("")) == len(content.search_texts())
    assert content.matching("revoked key") == ["troubleshooting", "faq-api-keys"]
    assert PROVIDERS_ID in content.matching("Pinecone")
    assert content.matching("STREAM_OPTIONS") and content.matching("no-such-word-anywhere") == []


def test_every_framework_the_docs_name_as_tested_has_a_test() -> None:
    frameworks = next(section for section in docs(URL).sections if section.id == "frameworks")
    named = re.findall(r"\*\*(\w+)\*\*", frameworks.blocks[0])
    assert named == ["LangChain", "AutoGen"]
    for name in named:
        assert (TESTS_SDK / f"test_{name.lower()}.py").exists(), name
