"""A fault run the way a user starts it: `convoload run -f config.yaml`, through its real main()."""

import json

import pytest

from tests.faults.harness import GOAL_TURN, SCRIPT, UNUSED_LLM, webhook_target
from tests.helpers import invoke, run_dirs

pytestmark = pytest.mark.e2e


def test_convoload_run_counts_faults_and_gates_on_them(tmp_path, faulty):
    faulty.set_faults(
        [
            {"kind": "no_callback", "conversations": [2], "turn": 2},
            {"kind": "status", "status": 503, "conversations": [3]},
        ]
    )
    config = {
        "run": {"conversations": 4, "concurrency": 2, "seed": 3, "runs_dir": str(tmp_path / "runs")},
        "user": {"type": "fixed", "scripts": [SCRIPT]},
        "llm": UNUSED_LLM,
        "target": webhook_target(faulty),
    }
    path = tmp_path / "faults.yaml"
    path.write_text(json.dumps(config), encoding="utf-8")  # JSON is YAML
    result = invoke(
        "run", "-f", str(path), "--fail-under", "60", env={"COLUMNS": "200", "CONVOLOAD_DB_URL": None}
    )
    # 2 of 4 reached the goal: below the gate, so exit 1, with the run complete and reported.
    assert result.returncode == 1, result.stderr + result.stdout
    assert "goal-reached rate 50.00% is below 60" in " ".join(result.stderr.split())
    out = " ".join(result.stdout.split())
    assert "http_status: 1, webhook_timeout: 1" in out
    (run_dir,) = run_dirs(tmp_path / "runs")
    aggregate = json.loads((run_dir / "aggregate.json").read_text())
    assert aggregate["summary"]["errors_by_kind"] == {"http_status": 1, "webhook_timeout": 1}
    assert aggregate["summary"]["total_conversations"] == 4
    journal = (run_dir / "journal.jsonl").read_text().splitlines()
    assert len(journal) == 4 and len(list((run_dir / "conversations").iterdir())) == 4
    injected = {i["session_id"]: i["kind"] for i in faulty.stats()["injections"]}
    for line in journal:
        summary = json.loads(line)["summary"]
        kind = injected.get(summary["session_id"])
        expected = {"no_callback": "webhook_timeout", "status": "http_status"}.get(kind)
        assert (summary["error"] or {}).get("kind") == expected
        assert summary["goal_reached"] is (kind is None) and summary["iterations"] <= GOAL_TURN
    html = (run_dir / "report.html").read_text()
    assert html.count("· error http_status: ") == 1 and html.count("· error webhook_timeout: ") == 1
