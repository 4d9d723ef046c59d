"""Slack: a JSON ``{"text": ...}`` POST to the channel's incoming-webhook URL."""

from __future__ import annotations

import json

import httpx

from llmobserve_app.services.notifications.http_post import post_json
from llmobserve_app.services.notifications.message import slack_escape
from llmobserve_app.services.notifications.outcome import SendOutcome


def slack_body(text: str) -> bytes:
    return json.dumps({"text": slack_escape(text)}, ensure_ascii=False).encode("utf-8")


def send_slack(client: httpx.Client, webhook_url: str, text: str) -> SendOutcome:
    return post_json(client, webhook_url, slack_body(text))
