"""A 100,000-conversation run: report.html stays small enough to open, with every failure's transcript."""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from convoload.model import ConversationRecord
from convoload.report.html import render
from convoload.report.html.render import write_html_report
from convoload.store.journal import JOURNAL_NAME
from tests.browser import chromium, needs_chromium
from tests.report_html.sample import records

CONVERSATIONS = 100_000
EVERY = 200  # one failed and one interrupted conversation in every 200
MAX_PAGE_BYTES = 20 * 1024 * 1024

pytestmark = pytest.mark.slow


def _journal(run_dir: Path) -> tuple[set[str], int]:
    """A synthetic run's journal (written line by line); the session ids that did not succeed, and
    how many did."""
    ok1, ok2, failed, interrupted = records()
    start = datetime(2024, 5, 1, 10, tzinfo=UTC)
    unsuccessful: set[str] = set()
    with (run_dir / JOURNAL_NAME).open("wb") as handle:
        for i in range(CONVERSATIONS):
            template = failed if i % EVERY == 7 else interrupted if i % EVERY == 99 else (ok1, ok2)[i % 2]
            record: ConversationRecord = template.model_copy(
                update={
                    "session_id": f"s{i}",
                    "user_id": i + 1,
                    "started_at": (start + timedelta(milliseconds=10 * i)).isoformat(),
                }
            )
            if not record.goal_reached:
                unsuccessful.add(record.session_id)
            handle.write(record.to_json() + b"\n")
    return unsuccessful, CONVERSATIONS - len(unsuccessful)


@pytest.fixture(scope="module")
def large_run(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, set[str], int]:
    run_dir = tmp_path_factory.mktemp("large-run")
    unsuccessful, successes = _journal(run_dir)
    return write_html_report(run_dir), unsuccessful, successes


def test_the_page_is_bounded_and_shows_every_failure_and_a_stated_sample(large_run) -> None:
    page, unsuccessful, successes = large_run
    assert page.stat().st_size < MAX_PAGE_BYTES
    html = page.read_text(encoding="utf-8")
    shown = re.findall(r'<details data-session="([^"]+)"', html)
    assert unsuccessful <= set(shown)
    assert len(shown) == len(unsuccessful) + render.SAMPLE_SUCCESSES
    assert f"{render.SAMPLE_SUCCESSES} of {successes} successful conversations shown" in html
    assert f"Conversations ({CONVERSATIONS})" in html
    assert f"<b>{CONVERSATIONS}</b><span>conversations</span>" in html  # totals count all


@pytest.mark.browser
@needs_chromium
def test_chromium_opens_the_page(large_run, tmp_path: Path) -> None:
    page, unsuccessful, _ = large_run
    result = chromium("--dump-dom", page.as_uri(), user_data=tmp_path / "profile")
    assert result.returncode == 0, result.stderr[-2000:]
    shown = re.findall(r'<details data-session="([^"]+)"', result.stdout)
    assert len(shown) == len(unsuccessful) + render.SAMPLE_SUCCESSES
