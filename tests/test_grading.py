"""Grade boundaries, health status and recommendations."""

import pytest

from convoload.report.grading import assess, at_least, grade, health


@pytest.mark.parametrize(
    ("success", "p95", "expected"),
    [
        (0.96, 2.9, "A+"),
        (0.95, 2.9, "A"),  # boundaries are strict: > 95 %, < 3 s
        (0.96, 3.0, "A"),
        (0.91, 4.99, "A"),
        (0.90, 4.0, "B"),
        (0.96, 5.0, "B"),
        (0.81, 7.9, "B"),
        (0.80, 7.9, "C"),
        (0.99, 8.0, "C"),
        (0.71, 9.99, "C"),
        (0.70, 1.0, "D"),
        (1.0, 10.0, "D"),
    ],
)
def test_grade_boundaries(success, p95, expected):
    assert grade(success, p95) == expected


def test_grade_floor():
    assert at_least("A+", "B") and at_least("B", "B") and not at_least("C", "B")
    with pytest.raises(ValueError, match="unknown grade"):
        at_least("A", "E")


@pytest.mark.parametrize(
    ("success", "p95", "errors", "expected"),
    [
        (0.99, 1.0, 0.0, "healthy"),
        (0.84, 1.0, 0.0, "warning"),
        (0.99, 5.1, 0.0, "warning"),
        (0.99, 1.0, 0.11, "warning"),
        (0.69, 1.0, 0.0, "critical"),
        (0.99, 10.1, 0.0, "critical"),
        (0.99, 1.0, 0.21, "critical"),
    ],
)
def test_health(success, p95, errors, expected):
    assert health(success, p95, errors) == expected


def document(success_rate, p95_ms, failed_turns=0, errors=None, outcomes=None, findings=None):
    return {
        "summary": {
            "total_conversations": 20,
            "success_rate": success_rate,
            "total_turns": 100,
            "failed_turns": failed_turns,
            "errors_by_kind": errors or {},
            "outcomes": outcomes or {},
        },
        "latency": {"turn_ms": {"count": 100, "p95": p95_ms}},
        "findings": {"by_hook": findings or {}},
    }


def test_assess_grades_and_recommends():
    good = assess(document(1.0, 800))
    assert good["grade"] == "A+" and good["health"] == "healthy"
    assert good["recommendations"] == ["No action needed: every check passed."]
    bad = assess(
        document(
            0.6,
            9_000,
            failed_turns=25,
            errors={"timeout": 20, "http_status": 5},
            outcomes={"user_stopped": 3},
            findings={"ollama_fallbacks": {"count": 4, "examples": []}},
        )
    )
    assert bad["grade"] == "D" and bad["health"] == "critical" and bad["error_rate"] == 0.25
    text = " ".join(bad["recommendations"])
    assert bad["recommendations"][0].startswith("20 turns timed out")
    assert (
        "p95 turn latency is 9.0 s" in text and "fell back to the local model" in text and "gave up" in text
    )


# -- quality metrics (the test pipeline's scenarios) ------------------------------------------------------

PERFECT = {"coherence": 1.0, "agent_coordination": 1.0, "data_consistency": 1.0, "user_experience": 1.0}


@pytest.mark.parametrize(
    ("value", "allowed"),
    [
        (1.0, "A+"),
        (0.96, "A+"),
        (0.95, "A"),  # strict, like the success rate: > 0.95 for A+
        (0.91, "A"),
        (0.9, "B"),
        (0.81, "B"),
        (0.8, "C"),
        (0.71, "C"),
        (0.7, "D"),
        (0.67, "D"),
        (0.0, "D"),
    ],
)
def test_each_quality_metric_is_graded_on_the_success_bands(value, allowed):
    from convoload.report.grading import quality_grade, quality_recommendations, share_grade

    for metric in PERFECT:
        metrics = {**PERFECT, metric: value}
        assert share_grade(value) == allowed and quality_grade(metrics) == allowed
        lines = quality_recommendations(metrics)
        if allowed == "A+":
            assert lines == []
        else:
            head = f"{metric.replace('_', ' ')} is {value:.2f} (grade at most {allowed}): "
            assert len(lines) == 1 and lines[0].startswith(head)


def test_the_lowest_of_the_success_grade_and_the_quality_grades_wins():
    from convoload.report.grading import quality_grade, quality_recommendations, worst

    # The probe of issue 14: every conversation succeeded, fast, but a third of the replies were errors
    # and a third of the turns failed or were slow. It was graded A+ with "No action needed".
    metrics = {**PERFECT, "coherence": 0.67, "user_experience": 0.6667}
    assert worst(grade(1.0, 0.5), quality_grade(metrics)) == "D"
    lines = quality_recommendations(metrics)
    assert [line.split(" is ")[0] for line in lines] == ["user experience", "coherence"]  # lowest first
    assert "0.67 (grade at most D): 33 % of replies were errors" in lines[1]
    assert worst(grade(0.85, 0.5), quality_grade({**PERFECT, "data_consistency": 0.93})) == "B"
    assert worst(grade(1.0, 0.5), quality_grade({**PERFECT, "agent_coordination": 0.93})) == "A"
    assert worst(grade(1.0, 0.5), quality_grade(PERFECT)) == "A+" and quality_recommendations(PERFECT) == []
    assert quality_grade({}) == "A+"
