"""The Conversations tab in the real Locust web UI, in headless Chromium, while a test runs."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from tests.browser import keep_screen, needs_chromium
from tests.helpers import Processes, journal_lines, run_dirs, wait_until
from tests.locust_tab.cdp import Chromium
from tests.locust_tab.ui import start_locust

pytestmark = [pytest.mark.e2e, pytest.mark.browser, pytest.mark.slow, needs_chromium]

# The rows of the table the open tab shows, as the page drew them: header titles, then cell texts.
TABLE = """(() => {
  const table = document.querySelector('table');
  if (!table) return null;
  const head = Array.from(table.querySelectorAll('thead th')).map(th => th.innerText.trim());
  const rows = Array.from(table.querySelectorAll('tbody tr'))
    .map(tr => Object.fromEntries(Array.from(tr.cells).map((td, i) => [head[i], td.innerText.trim()])));
  return {head, rows};
})()"""


@pytest.fixture
def browser(tmp_path: Path) -> Iterator[Chromium]:
    chromium = Chromium(tmp_path / "chromium-profile")
    try:
        yield chromium
    finally:
        chromium.close()


def table_in(browser: Chromium) -> dict | None:
    return browser.evaluate(TABLE)


def total_row(browser: Chromium) -> dict | None:
    table = table_in(browser)
    rows = [r for r in (table or {}).get("rows", []) if r.get("Persona") == "all personas"]
    return rows[0] if rows else None


def test_tab_shows_live_numbers_and_failed_transcripts(tmp_path, processes: Processes, browser: Chromium):
    locust, base = start_locust(processes, tmp_path)
    client = httpx.Client(base_url=base, timeout=10)
    assert client.post("/swarm", data={"user_count": 2, "spawn_rate": 2}).json()["success"]

    # Locust's own page, its Conversations tab chosen as a click on it would.
    browser.open(f"{base}/?tab=convoload-conversations")
    first = wait_until(
        lambda: (row := total_row(browser)) and int(row["Conversations"]) >= 1 and row,
        "the Conversations tab drawing its first finished conversations",
    )
    head = table_in(browser)["head"]
    assert head == [
        "Persona",
        "Conversations",
        "Goal reached",
        "Goal rate",
        "Turns to goal (avg)",
        "Outcomes",
        "Error kinds",
    ]
    # The same page, not reloaded: Locust's polling brings newer numbers into the tab.
    before = int(first["Conversations"])
    later = wait_until(
        lambda: (row := total_row(browser)) and int(row["Conversations"]) > before and row,
        "the tab's numbers to grow while the test runs",
    )
    assert int(later["Conversations"]) > before

    # Per persona: Talliz never reaches the goal, the others always do, in 8 turns.
    def personas_seen() -> dict | None:
        rows = {r["Persona"]: r for r in (table_in(browser) or {}).get("rows", [])}
        return rows if {"Talliz", "Edman", "Kataryna"} <= set(rows) else None

    rows = wait_until(personas_seen, "a row for every persona")
    assert rows["Talliz"]["Goal rate"] == "0.0%"
    assert rows["Talliz"]["Outcomes"].startswith("max_iterations ")
    assert rows["Talliz"]["Turns to goal (avg)"] == "-"
    assert rows["Edman"]["Goal rate"] == "100.0%" and rows["Edman"]["Turns to goal (avg)"] == "8.00"
    assert rows["Talliz"]["Error kinds"] == "-"
    keep_screen(browser.capture(tmp_path / "locust-tab.png"))  # the docs' picture of the tab

    # The Transcripts tab: failed conversations first, with their last turns.
    browser.go(f"{base}/?tab=convoload-transcripts")

    def transcripts() -> list[dict] | None:
        table = table_in(browser)
        if not table or "Last turns" not in table["head"]:
            return None
        outcomes = [r["Outcome"] for r in table["rows"]]
        return table["rows"] if "max_iterations" in outcomes and "goal_reached" in outcomes else None

    shown = wait_until(transcripts, "failed and successful conversations in the Transcripts tab")
    outcomes = [r["Outcome"] for r in shown]
    first_ok = outcomes.index("goal_reached")
    assert set(outcomes[:first_ok]) == {"max_iterations"}, outcomes  # failed first
    assert "goal_reached" in outcomes[first_ok:] and "max_iterations" not in outcomes[first_ok:]
    failed = shown[0]
    assert failed["Persona"] == "Talliz" and failed["Turns"] == "9"
    assert failed["Reason"] == "no goal after 9 iterations"
    assert "#9 user:" in failed["Last turns"] and "agent:" in failed["Last turns"]

    # The page with every kept transcript, filtered on the failed ones: that conversation in full.
    browser.go(f"{base}/convoload/conversations?outcome=failed")
    session = failed["Session"]
    conversation = wait_until(
        lambda: browser.evaluate(
            f"""(() => {{
              const c = document.querySelector('details[data-session="{session}"]');
              if (!c) return null;
              return {{failed: c.dataset.failed, open: c.open,
                       messages: Array.from(c.querySelectorAll('.msg')).map(m => m.innerText),
                       outcomes: Array.from(document.querySelectorAll('details.conversation'))
                                   .map(d => d.dataset.outcome)}};
            }})()"""
        ),
        "the failed conversation on the transcripts page",
    )
    assert conversation["failed"] == "yes" and conversation["open"] is True
    assert set(conversation["outcomes"]) == {"max_iterations"}  # the filter left out the successful ones
    run_dir = run_dirs(tmp_path / "runs")[0]
    (record,) = [r for r in journal_lines(run_dir / "journal.jsonl") if r.session_id == session]
    user_messages = [m for m in conversation["messages"] if "user" in m.split("\n")[0]]
    assert len(user_messages) == 9 == len(record.turns)
    assert record.turns[-1].user_text.split()[0] in user_messages[-1]

    # Downloads: the journal of the current run (a redirect to its file); the report not before it is written.
    journal = client.get("/convoload/journal", follow_redirects=True)
    assert journal.status_code == 200
    assert journal.url.path == f"/convoload/runs/{run_dir.name}/journal.jsonl"
    assert "attachment" in journal.headers["content-disposition"]
    lines = [json.loads(line) for line in journal.text.splitlines()]
    assert lines and {line["summary"]["run_id"] for line in lines} == {run_dir.name}
    assert locust.process.poll() is None
