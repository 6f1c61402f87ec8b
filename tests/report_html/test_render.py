"""The HTML report rendered from hand-built records: charts, numbers, transcripts, escaping, no network."""

from __future__ import annotations

import json
import re
from html.parser import HTMLParser
from pathlib import Path

import pytest

from convoload.errors import ConfigError
from convoload.report.aggregate import aggregate
from convoload.report.grading import assess
from convoload.report.html import render_html, write_html_report
from convoload.store.journal import AGGREGATE_NAME, JOURNAL_NAME, META_NAME
from tests.report_html.sample import INJECTION, RUN_ID, document, records

CHARTS = (
    "turn-latency",
    "agent-latency",
    "persona-success",
    "agent-transitions",
    "conversation-cost",
    "findings-over-time",
)
SHAPES = {"rect", "circle", "line", "path", "polyline"}


class _Page(HTMLParser):
    """Collects what the tests look at: charts with their shapes and titles, transcripts, scripts, links."""

    def __init__(self) -> None:
        super().__init__()
        self.charts: dict[str, dict[str, object]] = {}
        self.sessions: list[str] = []
        self.script_bodies: list[str] = []
        self.references: list[str] = []
        self._chart: str | None = None
        self._in_script = False
        self._svg_depth = 0
        self._title_pending = False

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        a = dict(attrs)
        for name in ("src", "href", "action", "xlink:href"):
            if a.get(name):
                self.references.append(a[name] or "")
        if tag == "svg" and "data-chart" in a:
            self._chart = a["data-chart"] or ""
            self.charts[self._chart] = {"shapes": 0, "title": None, "texts": []}
            self._svg_depth = 0
        if self._chart is not None:
            self._svg_depth += 1
            if tag in SHAPES:
                self.charts[self._chart]["shapes"] += 1  # type: ignore[operator]
            # The chart's own title is its first child; nested shape titles are tooltips.
            self._title_pending = tag == "title" and self._svg_depth == 2
        if tag == "details" and "data-session" in a:
            self.sessions.append(a["data-session"] or "")
        if tag == "script":
            self._in_script = True
            self.script_bodies.append("")

    def handle_endtag(self, tag: str) -> None:
        if self._chart is not None:
            self._svg_depth -= 1
            if tag == "svg" and self._svg_depth == 0:
                self._chart = None
        if tag == "script":
            self._in_script = False

    def handle_data(self, data: str) -> None:
        if self._in_script:
            self.script_bodies[-1] += data
        if self._chart is not None:
            chart = self.charts[self._chart]
            if self._title_pending and chart["title"] is None:
                chart["title"] = data
                self._title_pending = False
            chart["texts"].append(data)  # type: ignore[union-attr]


def _parse(html: str) -> _Page:
    page = _Page()
    page.feed(html)
    page.close()
    return page


@pytest.fixture(scope="module")
def html() -> str:
    recs = records()
    return render_html(document(recs), recs)


def test_every_chart_is_an_svg_with_title_and_shapes(html: str) -> None:
    page = _parse(html)
    for name in CHARTS:
        assert name in page.charts, name
        assert page.charts[name]["title"], f"{name} has no accessible title"
        assert page.charts[name]["shapes"] > 0, f"{name} draws nothing"


def test_every_conversation_has_a_transcript_with_messages_and_findings(html: str) -> None:
    page = _parse(html)
    assert sorted(page.sessions) == ["s-failed", "s-interrupted", "s-ok-1", "s-ok-2"]
    failed = html[html.index('data-session="s-failed"') :]
    failed = failed[: failed.index("</details>")]
    assert "user message 2" in failed
    assert "http_status" in failed and "HTTP 502" in failed
    assert "timeout: no reply within 30 s" in failed
    ok = html[html.index('data-session="s-ok-1"') :]
    ok = ok[: ok.index("</details>")]
    assert "agendamento" in ok and "900 ms" in ok  # agent name and latency of the last reply
    assert "price discussed: R$ 2,300" in ok  # the conversation's findings
    interrupted = html[html.index('data-session="s-interrupted"') :]
    assert "interrupted" in interrupted[: interrupted.index("</details>")]


def test_header_numbers(html: str) -> None:
    # 2 of 4 conversations reached the goal; 8 turns, one failed; LLM cost 0.0021 + 0.0013.
    assert "50.00%" in html
    assert RUN_ID in html and "4242" in html
    assert re.search(r'class="grade"[^>]*>\s*D\s*<', html)
    assert "health-critical" in html
    assert ">8</b><span>turns (1 failed)" in html
    assert "US$ 0.0034" in html
    assert "560</b><span>tokens" in html
    assert "timed out" in html  # a recommendation from the assessment


def test_charts_show_the_numbers(html: str) -> None:
    charts = _parse(html).charts
    transitions = " ".join(charts["agent-transitions"]["texts"])  # type: ignore[arg-type]
    assert "triagem → busca" in transitions and "busca → agendamento" in transitions
    success = " ".join(charts["persona-success"]["texts"])  # type: ignore[arg-type]
    assert "Marcus" in success and "50%" in success
    agents = " ".join(charts["agent-latency"]["texts"])  # type: ignore[arg-type]
    assert "agendamento" in agents and "900 ms" in agents
    findings = charts["findings-over-time"]
    assert "per 5 s" in findings["title"]  # type: ignore[operator]  # 2 minutes span: 5 s buckets


def test_user_and_agent_text_is_escaped(html: str) -> None:
    page = _parse(html)
    # The only script is the report's own filter; the injected one is text.
    assert len(page.script_bodies) == 1 and "pwned" not in page.script_bodies[0]
    assert INJECTION not in html
    assert "&lt;script&gt;alert(" in html
    assert "HTTP 502 from &lt;proxy&gt;" in html


def test_no_external_resources(html: str) -> None:
    page = _parse(html)
    assert all(not re.match(r"(https?:)?//", ref) for ref in page.references), page.references
    assert not re.search(r"""(src|href)\s*=\s*["']?(https?:)?//""", html)
    assert "@import" not in html and "url(" not in html


def test_chart_labels_from_the_run_are_escaped() -> None:
    recs = records()
    recs[0].persona = "<img src=x onerror=alert(1)>"
    recs[0].turns[0].agent = "<b>agent</b>"
    html = render_html(document(recs), recs)
    assert "<img" not in html and "<b>agent</b>" not in html
    assert "&lt;img" in html


def test_zero_conversations_show_no_data() -> None:
    doc = aggregate([], {"run_id": "empty-run"})
    doc["assessment"] = assess(doc)
    page = _parse(render_html(doc, []))
    assert set(CHARTS) <= set(page.charts)
    for name in CHARTS:
        assert "no data" in page.charts[name]["texts"], name
    assert page.sessions == []


def test_no_cost_no_findings_no_agents() -> None:
    recs = records()
    for record in recs:
        record.usage = record.usage.model_copy(update={"cost_usd": 0.0})
        record.findings = []
        for turn in record.turns:
            turn.agent = None
    html = render_html(document(recs), recs)
    charts = _parse(html).charts
    assert "no LLM cost" in charts["conversation-cost"]["texts"]
    assert "no data" in charts["findings-over-time"]["texts"]
    assert "no data" in charts["agent-transitions"]["texts"]
    assert "(no agent name)" in charts["agent-latency"]["texts"]
    assert "No hook findings." in html


def _journal(run_dir: Path) -> list:
    recs = records()
    run_dir.mkdir()
    with (run_dir / JOURNAL_NAME).open("w", encoding="utf-8") as handle:
        for record in recs:
            handle.write(json.dumps(record.to_document()) + "\n")
    return recs


def test_write_report_uses_the_aggregate(tmp_path: Path) -> None:
    run_dir = tmp_path / "run"
    recs = _journal(run_dir)
    doc = document(recs)
    doc["run"]["run_id"] = "from-aggregate-json"
    (run_dir / AGGREGATE_NAME).write_text(json.dumps(doc), encoding="utf-8")
    out = write_html_report(run_dir)
    assert out == run_dir / "report.html"
    html = out.read_text(encoding="utf-8")
    assert "from-aggregate-json" in html
    assert len(_parse(html).sessions) == 4


def test_write_report_rebuilds_a_missing_aggregate(tmp_path: Path) -> None:
    run_dir = tmp_path / "run"
    _journal(run_dir)
    (run_dir / META_NAME).write_text(json.dumps({"run_id": "from-run-json", "seed": 7}), encoding="utf-8")
    html = write_html_report(run_dir).read_text(encoding="utf-8")
    assert "from-run-json" in html and "50.00%" in html
    assert not (run_dir / AGGREGATE_NAME).exists()  # reading a run does not rewrite its files


def test_write_report_needs_a_journal(tmp_path: Path) -> None:
    with pytest.raises(ConfigError):
        write_html_report(tmp_path)


def test_findings_over_a_long_run_are_counted_per_minute() -> None:
    recs = records()
    # Findings at 10:00:30, 10:01:30 and 10:12:30: twelve minutes, so one column per minute.
    recs[1].findings[0].at = "2024-05-01T10:12:30.000Z"
    chart = _parse(render_html(document(recs), recs)).charts["findings-over-time"]
    assert "per 1 min" in chart["title"]  # type: ignore[operator]
    assert chart["shapes"] == 3 + 1 + 3  # three columns + the axis + three legend swatches
    assert "+12:00" in chart["texts"]  # the last column's label


def test_every_fault_category_has_its_row() -> None:
    recs = records()
    doc = document(recs)
    doc["run"]["target_stats"] = {"callbacks_accepted": 40, "callbacks_forged": 2, "callbacks_late": 1}
    doc["summary"]["llm"] = {
        "fallbacks": {"gemini -> local (rate_limited)": 3},
        "by_provider": {"gemini/gemini-2.5-flash": {"calls": 9, "retries": 4}},
    }
    html = render_html(doc, recs)
    rows = set(re.findall(r'data-fault="([^"]+)"><td>[^<]*</td><td>([^<]*)</td><td>(\d+)</td>', html))
    errors = {(f"error:{k}", k, str(n)) for k, n in doc["summary"]["errors_by_kind"].items()}
    assert errors and errors <= rows
    assert ("callbacks:forged", "forged", "2") in rows and ("callbacks:late", "late", "1") in rows
    assert not any(kind == "callbacks:accepted" for kind, _, _ in rows)  # accepted callbacks are no fault
    assert ("llm-fallback", "gemini -&gt; local (rate_limited)", "3") in rows
    assert ("llm-retry", "gemini/gemini-2.5-flash", "4") in rows


def test_a_run_without_faults_says_so() -> None:
    recs = [r for r in records() if r.error is None and all(t.error is None for t in r.turns)]
    html = render_html(aggregate(recs, {"run_id": RUN_ID}), recs)
    assert "No faults: every turn was answered" in html
    assert "data-fault=" not in html


def test_latency_table_per_request_type_and_persona() -> None:
    recs = records()
    doc = aggregate(recs, {"run_id": RUN_ID})
    html = render_html(doc, recs)
    rows = re.findall(
        r'<tr data-request="([A-Z]+)" data-name="([^"]+)"[^>]*>(?:<td>[^<]*</td>){2}'
        r"<td>(\d+)</td><td>\d+</td><td>([^<]+)</td>(?:<td>[^<]+</td>){3}<td>([^<]+)</td>",
        html,
    )
    table = {(kind, name): (int(count), p50, mx) for kind, name, count, p50, mx in rows}
    message = doc["requests"]["MESSAGE"]
    assert table[("MESSAGE", "all")][0] == message["all"]["count"]
    for persona, dist in message["by_name"].items():
        if dist.get("count"):
            assert table[("MESSAGE", persona)][0] == dist["count"]
    assert ("CONVERSATION", "all") in table
    p50 = message["all"]["p50"]
    assert table[("MESSAGE", "all")][1] == (f"{p50:.1f} ms" if p50 < 1000 else f"{p50 / 1000:.3f} s")
