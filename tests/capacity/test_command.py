"""`convoload capacity` end to end on an in-process agent: the table and verdict, the early stop and
--no-abort, capacity.json, the store and `runs compare` on two capacity runs, capacity.html in Chromium."""

import pytest

from convoload.model.capacity import CAPACITY_NAME, CapacityResult
from tests.browser import dump_dom, needs_chromium, parse_dom
from tests.helpers import invoke, run_dirs, write

pytestmark = [pytest.mark.e2e, pytest.mark.slow]


@pytest.fixture(scope="module")
def runs(tmp_path_factory):
    """Two capacity runs of the same agent, steps 1,2,4: one whose SLOs hold throughout (--no-abort), one
    whose impossible latency SLO breaks at the first step (and stops there)."""
    root = tmp_path_factory.mktemp("capacity")
    config = write(
        root / "c.yaml",
        f"""
run: {{seed: 3, runs_dir: {root / "runs"}, max_iterations: 3}}
target: {{type: python, function: "tests.capacity.agents:quick_agent"}}
capacity:
  steps: [1, 2, 4]
  step_duration_s: 1.0
  warm_up_s: 0.5
  slos: ["goal_rate>=0.5", "error_rate<=0.05"]
""",
    )
    easy = invoke("capacity", "-f", str(config), "--no-abort", "--drain", "3")
    first = run_dirs(root / "runs")
    hard = invoke(
        "capacity", "-f", str(config), "--slo", "p95_turn_s<=0.001", "--drain", "3", "--min-users", "1"
    )
    (second,) = set(run_dirs(root / "runs")) - set(first)
    return root, (easy, first[0]), (hard, second)


def result_of(run_dir):
    return CapacityResult.from_json((run_dir / CAPACITY_NAME).read_text(encoding="utf-8"))


def test_every_step_runs_and_meets_the_slos(runs):
    _, (ran, run_dir), _ = runs
    assert ran.returncode == 0, ran.stderr
    result = result_of(run_dir)
    assert [s.users for s in result.steps] == [1, 2, 4]
    assert all(s.passed for s in result.steps)
    assert result.verdict.knee_users == 4 and result.verdict.broke_users is None
    assert "capacity: 4 users — every step met the SLOs" in ran.stdout
    assert "capacity steps" in ran.stdout and "goal" in ran.stdout
    for step in result.steps:
        assert step.conversations_started >= step.users and step.conversations_finished >= 1
        assert 0.5 <= step.goal_rate < 1.0, "every third customer never gets the link"
        assert step.turns_to_goal_p50 == 2.0 and step.error_rate == 0.0
        assert step.failed_conversations and all(
            f.outcome == "max_iterations" for f in step.failed_conversations
        )
        assert step.p95_turn_s is not None and step.p95_turn_s < 1.0
        assert step.judge is None, "no judgement was made"


def test_a_broken_slo_stops_the_run_after_its_step_and_names_it(runs):
    _, _, (ran, run_dir) = runs
    result = result_of(run_dir)
    assert [s.users for s in result.steps] == [1], "stopped after the first step"
    assert result.verdict.knee_users is None and result.verdict.broke_users == 1
    assert [c.slo.text for c in result.verdict.broken] == ["p95_turn_s<=0.001"]
    assert "broke at 1 user: p95_turn_s<=0.001 (measured" in ran.stdout
    assert ran.returncode == 1 and "capacity 0 users is below --min-users 1" in ran.stderr


def test_capacity_json_round_trips(runs):
    _, (_, run_dir), _ = runs
    text = (run_dir / CAPACITY_NAME).read_text(encoding="utf-8")
    result = CapacityResult.from_json(text)
    assert CapacityResult.from_json(result.to_json()) == result
    assert result.settings.slos[0].text == "goal_rate>=0.5" and result.settings.abort is False


def test_runs_compare_says_the_knee_moved(runs):
    root, (_, easy), (_, hard) = runs
    db = root / "runs" / "results.sqlite"
    ran = invoke("runs", "compare", easy.name, hard.name, "--db", f"sqlite:///{db}")
    assert "capacity knee moved down: 4 users -> none" in ran.stdout
    assert "(different steps or SLOs" in ran.stdout  # the second run broke a stricter SLO
    same = invoke("runs", "compare", easy.name, easy.name, "--db", f"sqlite:///{db}")
    assert "capacity knee unchanged at 4 users" in same.stdout and same.returncode == 0


@pytest.mark.browser
@needs_chromium
def test_the_page_draws_the_knee_and_links_failed_transcripts(runs, tmp_path):
    _, (_, easy), (_, hard) = runs
    dom = parse_dom(dump_dom((easy / "capacity.html").as_uri(), tmp_path, budget_ms=2000))
    chart = dom.find("svg", data_chart="capacity")
    series = {e.attrs["data-series"] for e in chart.find_all("polyline")}
    assert series == {"goal_rate", "error_rate", "p95_turn_s"}
    assert len(chart.find_all("circle", data_series="p95_turn_s")) == 3
    assert [e.attrs["data-users"] for e in chart.find_all("rect", **{"class": "passed"})] == ["1", "2", "4"]
    assert {e.attrs["data-slo"] for e in chart.find_all("line", **{"class": "slo"})} == {
        "goal_rate>=0.5",
        "error_rate<=0.05",
    }
    assert "capacity: 4 users" in dom.find("p", id="verdict").text()
    assert len(dom.find_all("section", **{"class": "step"})) == 3
    links = dom.find("section", id="step-2").find_all("a", **{"class": "transcript"})
    assert links, "every third customer's conversation failed"
    for link in links:  # each opens the conversation's file in the run folder
        assert (easy / link.attrs["href"]).is_file(), link.attrs["href"]
    assert dom.find("a", href="report.html")

    dom = parse_dom(dump_dom((hard / "capacity.html").as_uri(), tmp_path, budget_ms=2000))
    assert "broke at 1 user" in dom.find("p", id="verdict").text()
    step = dom.find("section", id="step-1")
    assert "broke" in step.find("h2").text()
    assert step.find("tr", data_slo="p95_turn_s<=0.001").find("td", **{"class": "fail"}).text() == "broken"


def test_a_stop_request_ends_the_run_during_a_step_with_the_steps_so_far(tmp_path):
    import convoload
    from convoload.events import ConversationFinished
    from convoload.signals import StopRequest

    stop = StopRequest()
    finished = []

    def follow(event):
        if isinstance(event, ConversationFinished):
            finished.append(event)
            if len(finished) == 3:
                stop.set("SIGTERM")

    config = write(
        tmp_path / "c.yaml",
        f"""
run: {{seed: 3, runs_dir: {tmp_path / "runs"}, max_iterations: 3}}
target: {{type: python, function: "tests.capacity.agents:quick_agent"}}
""",
    )
    result = convoload.capacity(
        config,
        steps=[1, 2],
        step_duration_s=30.0,
        warm_up_s=0.0,
        slos=["error_rate<=0.05"],
        stop=stop,
        on_event=follow,
    )
    assert [s.users for s in result.steps] == [1] and result.steps[0].cut_short
    assert result.stopped_early == "SIGTERM"
    assert result.steps[0].conversations_finished >= 1
