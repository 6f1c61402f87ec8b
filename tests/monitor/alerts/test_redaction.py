"""Error texts lose URL tokens even when we never saw the URL (a redirect, a library's message)."""

from __future__ import annotations

import logging

import pytest

from convoload.monitor.alerts.redaction import protect_logger, remember_url, safe_url, scrub


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        (
            "POST https://hooks.example.com/services/T1/B2/tok3n: HTTP 500",
            "POST https://hooks.example.com/***: HTTP 500",
        ),
        ("see http://127.0.0.1:8080/hook?token=abc, then", "see http://127.0.0.1:8080/***, then"),
        ("moved to https://user:pa55@example.com/x", "moved to https://example.com/***"),
        ("plain http://example.com/ stays", "plain http://example.com/ stays"),
    ],
)
def test_scrub_cuts_url_paths_and_credentials(text, expected):
    assert scrub(text) == expected


def test_safe_url_keeps_only_the_endpoint():
    assert (
        safe_url("https://u:p@hooks.example.com:8443/services/a?b=c") == "https://hooks.example.com:8443/***"
    )


def test_a_protected_logger_scrubs_remembered_tokens_only(caplog):
    caplog.set_level(logging.INFO)
    protect_logger("convoload.tests.redaction")
    remember_url("https://hooks.example.com/services/T9/B9/verysecret")
    log = logging.getLogger("convoload.tests.redaction")
    log.info("POST %s", "https://hooks.example.com/services/T9/B9/verysecret")
    log.info("GET %s", "https://catalog.example.com/api/properties")
    assert [r.getMessage() for r in caplog.records] == [
        "POST ***",
        "GET https://catalog.example.com/api/properties",
    ]
