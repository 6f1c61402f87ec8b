"""Which provider URLs are this machine's loopback (reached directly, never through an ambient proxy)."""

import pytest

from convoload.llm.client import is_loopback


@pytest.mark.parametrize(
    ("url", "loopback"),
    [
        ("http://127.0.0.1:8000/v1", True),
        ("http://127.8.9.10/v1", True),
        ("http://[::1]:11434/v1", True),
        ("http://localhost:11434/v1", True),
        ("http://ollama.localhost/v1", True),
        ("https://openrouter.ai/api/v1", False),
        ("http://10.0.0.5:11434/v1", False),
        ("http://[::2]/v1", False),
        ("http://localhost.example.com/v1", False),
        ("not a url", False),
    ],
)
def test_loopback_urls(url: str, loopback: bool) -> None:
    assert is_loopback(url) is loopback
