"""report.html of a judged run: the Judge section (KPIs, per criterion, per persona, failures with the
criteria they failed and their reasons, linked to their transcripts) and each transcript's verdict;
rendered in memory, from a run folder, and opened in the real headless Chromium."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from convoload.model.report import RunReport
from convoload.report.html import render, render_html, write_html_report
from convoload.store.journal import AGGREGATE_NAME, JOURNAL_NAME
from convoload.store.judgements import JUDGEMENTS_NAME
from tests.browser import dump_dom, needs_chromium, parse_dom
from tests.report_html.sample import INJECTION, document, judged_document, judgements, records


@pytest.fixture(scope="module")
def page():
    recs = records()
    verdicts = judgements(recs)
    return parse_dom(render_html(judged_document(recs, verdicts), recs, verdicts))


def test_the_judge_section_has_its_kpis_and_tables(page) -> None:
    section = page.find("section", data_section="judge")
    rate = section.find(data_kpi="judge-pass-rate")
    assert rate.find("b").text() == "33.3%" and "1 of 3 judged" in rate.text()  # s-interrupted unjudged
    # s-ok-1 (1.0 + 0.75) / 2 = 0.875, s-ok-2 (0.75 + 0.25) / 2 = 0.5, s-failed (0 + 0.5) / 2 = 0.25
    assert section.find(data_kpi="judge-mean-score").find("b").text() == "0.54"
    assert section.find(data_kpi="judge-errors").find("b").text() == "1"
    criteria = section.find("table", **{"class": "judge-criteria"})
    tone = [td.text() for td in criteria.find("tr", data_criterion="tone").find_all("td")]
    assert tone == ["tone", "3", "1", "33.3%", "3.00"]
    goal = [td.text() for td in criteria.find("tr", data_criterion="goal_resolved").find_all("td")]
    assert goal == ["goal_resolved", "3", "2", "66.7%", "3.33"]
    chart = section.find("svg", data_chart="judge-criteria")
    tips = [t.text() for t in chart.find_all("title")]
    assert "tone: 1 of 3 passed" in tips and "tone: 2 of 3 failed" in tips
    assert "goal_resolved: 2 of 3 passed" in tips and "67%" in chart.text()
    personas = section.find("table", **{"class": "judge-personas"})
    marcus = [td.text() for td in personas.find("tr", data_persona="Marcus").find_all("td")]
    assert marcus == ["Marcus", "2", "2", "0", "0", "0.0%", "0.38"]
    helena = [td.text() for td in personas.find("tr", data_persona="Helena").find_all("td")]
    assert helena == ["Helena", "1", "0", "1", "0", "–", "–"]


def test_each_failure_lists_its_failed_criteria_with_reasons_and_links_its_transcript(page) -> None:
    section = page.find("section", data_section="judge")
    rows = section.find_all("tr", data_judge_failed=True)
    assert [r.attrs["data-judge-failed"] for r in rows] == ["s-ok-2", "s-failed"]
    ok2 = section.find("tr", data_judge_failed="s-ok-2")
    assert ok2.find("a").attrs["href"] == "#conversation-s-ok-2"
    (tone,) = ok2.find_all("li")  # goal_resolved passed: only the failed criterion is listed
    assert tone.attrs["data-criterion"] == "tone" and f"quoted {INJECTION} at the customer" in tone.text()
    failed = section.find("tr", data_judge_failed="s-failed")
    assert [li.attrs["data-criterion"] for li in failed.find_all("li")] == ["goal_resolved", "tone"]
    assert "never answered" in failed.text()
    # Every link leads to a transcript the page shows.
    for link in section.find_all("a"):
        assert page.find("details", id=link.attrs["href"][1:])


def test_each_transcript_shows_the_judges_verdict(page) -> None:
    ok1 = page.find("details", data_session="s-ok-1")
    assert "judge passed" in ok1.find("summary").text()
    verdict = ok1.find(data_verdict="judged")
    reasons = {tr.attrs["data-criterion"]: tr.text() for tr in verdict.find_all("tr", data_criterion=True)}
    assert set(reasons) == {"goal_resolved", "tone"} and "booked the visit" in reasons["goal_resolved"]
    assert "judge failed" in page.find("details", data_session="s-failed").find("summary").text()
    interrupted = page.find("details", data_session="s-interrupted")
    assert "no reply to judge" in interrupted.find(data_verdict="judge_error").text()


def test_the_judges_reasons_are_escaped() -> None:
    recs = records()
    verdicts = judgements(recs)
    html = render_html(judged_document(recs, verdicts), recs, verdicts)
    assert INJECTION not in html  # the reason quoted it: only escaped text reaches the page
    assert html.count("&lt;script&gt;alert(&#39;pwned&#39;)") >= 3  # a reply, a list item, a verdict
    assert html.count("<script") == 1


def test_an_unjudged_run_has_no_judge_section_and_no_verdicts() -> None:
    recs = records()
    html = render_html(document(recs), recs, judgements(recs))  # no `judgement` in the aggregate
    assert 'data-section="judge"' not in html and "data-verdict" not in html and "judge passed" not in html


def test_judge_failed_transcripts_are_shown_even_beyond_the_sample(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(render, "SAMPLE_SUCCESSES", 1)  # s-ok-1 is the one successful transcript kept
    recs = records()
    verdicts = judgements(recs)
    dom = parse_dom(render_html(judged_document(recs, verdicts), recs, verdicts))
    shown = {d.attrs["data-session"] for d in dom.find_all("details", data_session=True)}
    assert "s-ok-2" in shown  # a success the judge failed: its transcript is there to read


def _judged_run_dir(tmp_path: Path) -> Path:
    recs = records()
    verdicts = judgements(recs)
    run_dir = tmp_path / "run"
    run_dir.mkdir()
    with (run_dir / JOURNAL_NAME).open("w", encoding="utf-8") as handle:
        for record in recs:
            handle.write(json.dumps(record.to_document()) + "\n")
    with (run_dir / JUDGEMENTS_NAME).open("w", encoding="utf-8") as handle:
        for judgement in verdicts:
            handle.write(judgement.model_dump_json() + "\n")
    doc = judged_document(recs, verdicts)
    assert RunReport.from_document(doc).to_document() == doc
    (run_dir / AGGREGATE_NAME).write_text(json.dumps(doc), encoding="utf-8")
    return run_dir


def test_write_report_reads_the_judgements_of_a_run_folder(tmp_path: Path) -> None:
    run_dir = _judged_run_dir(tmp_path)
    dom = parse_dom(write_html_report(run_dir).read_text(encoding="utf-8"))
    section = dom.find("section", data_section="judge")
    assert [r.attrs["data-judge-failed"] for r in section.find_all("tr", data_judge_failed=True)] == [
        "s-ok-2",
        "s-failed",
    ]
    assert dom.find("details", data_session="s-ok-1").find(data_verdict="judged")


@pytest.mark.browser
@needs_chromium
def test_chromium_shows_the_judge_section_and_opens_a_linked_transcript(tmp_path: Path) -> None:
    run_dir = _judged_run_dir(tmp_path)
    page = write_html_report(run_dir)
    dom = parse_dom(dump_dom(page.as_uri() + "#conversation-s-failed", tmp_path))
    section = dom.find("section", data_section="judge")
    assert section.find(data_kpi="judge-pass-rate").find("b").text() == "33.3%"
    assert len(section.find("table", **{"class": "judge-criteria"}).find_all("tr", data_criterion=True)) == 2
    assert len(section.find("svg", data_chart="judge-criteria").find_all("rect")) >= 4  # legend and bars
    # The link's target was opened by the page's script; the others stay closed.
    assert "open" in dom.find("details", data_session="s-failed").attrs
    assert "open" not in dom.find("details", data_session="s-ok-1").attrs
    # The reason that quotes markup is text in the browser's DOM, not an element.
    assert len(dom.find_all("script")) == 1
    assert INJECTION in section.find("tr", data_judge_failed="s-ok-2").text()
