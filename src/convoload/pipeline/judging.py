"""The conversation judge in the test pipeline: which scenarios are judged, by which rubric, and what
the judge's verdicts do to a scenario's quality metrics, grade and recommendations.

A scenario is judged when the pipeline judges (`convoload pipeline --judge`, the monitor's agent
config with `judge.enabled`) unless it says `judge: false`, and always when it names its own rubric
(`judge: {rubric: realestate}`). Its rubric: its own, else the judge config's (`judge.rubric`,
`judge.personas`), else the suite's (`ScenarioSuite.rubric`), else the persona's domain's
(`RubricChooser`, as `convoload judge` chooses).

The verdicts feed three quality metrics (shares 0..1, graded on the success rate's bands):

- `judge` = conversations that passed the rubric's pass rule / conversations judged;
- `coherence` = min(its own value, the pass rate of the rubric's criteria marked
  `quality: coherence`: the goal and the facts, e.g. goal_resolved, no_invented_listings);
- `user_experience` = min(its own value, the pass rate of the criteria marked
  `quality: user_experience`: how the agent talks, e.g. whatsapp_tone, customer_language).

A criterion without `quality` counts in `judge` only.

A criterion's pass rate pools every judged conversation's score on each such criterion (passes /
scores). The minimum, not a mean: either view finding a fault is enough to hold the grade back.
"""

from __future__ import annotations

from collections import Counter
from contextlib import ExitStack
from dataclasses import dataclass

from gevent.pool import Pool

from convoload.config import Config
from convoload.errors import ConfigError
from convoload.judge.judge import JudgeTask
from convoload.judge.rubric import Rubric
from convoload.judge.setup import JudgeResources, RubricChooser
from convoload.model import ConversationRecord
from convoload.model.judgement import Judgement
from convoload.model.pipeline import ScenarioJudgement
from convoload.pipeline.model import Scenario, ScenarioSuite

QUALITY_METRICS = ("coherence", "user_experience")
JUDGE_METRIC = "judge"
JUDGE_ADVICE = "judged conversations failed the rubric's pass rule (see the judge: lines for which criteria)"
_REASON_CHARS = 160


def judges(scenario: Scenario, pipeline_judges: bool) -> bool:
    """Whether the scenario's conversations are judged."""
    if scenario.judge is None:
        return pipeline_judges
    return scenario.judge.enabled


def any_judged(suite: ScenarioSuite, pipeline_judges: bool) -> bool:
    return any(judges(s, pipeline_judges) for s in suite.scenarios)


@dataclass(slots=True)
class _Scoring:
    """The judge's verdicts on one scenario, and the quality metrics they give."""

    judgements: list[Judgement]

    @property
    def judged(self) -> list[Judgement]:
        return [j for j in self.judgements if j.status == "judged"]

    def pass_rate(self) -> float:
        judged = self.judged
        return round(sum(bool(j.passed) for j in judged) / len(judged), 4) if judged else 0.0

    def criteria_rate(self, quality: str) -> float | None:
        """Pooled pass rate of the criteria the rubric marks with `quality`; None when none was scored."""
        scores = [c.passed for j in self.judged for c in j.criteria if c.quality == quality]
        return round(sum(scores) / len(scores), 4) if scores else None


def apply_judge(integration: dict[str, float], judgements: list[Judgement]) -> None:
    """The judge's metric, and its say in coherence and user experience (see the module's docstring).

    When the judge scored none of the conversations (its LLM unavailable, an agent that never
    replied) there is no metric: the judge's failure is not the agent's, and the recommendations
    say that the conversations could not be judged."""
    scoring = _Scoring(judgements)
    if not scoring.judged:
        return
    integration[JUDGE_METRIC] = scoring.pass_rate()
    for metric in QUALITY_METRICS:
        rate = scoring.criteria_rate(metric)
        if rate is not None and metric in integration:
            integration[metric] = min(integration[metric], rate)


def judge_recommendations(judgements: list[Judgement]) -> list[str]:
    """One line per criterion that failed in some judged conversation, most failures first, with the
    judge's most common reason: "judge: whatsapp_tone failed in 3 of 8 conversations: <reason>"."""
    failed: dict[str, list[str]] = {}
    scored: Counter[str] = Counter()
    for j in judgements:
        if j.status != "judged":
            continue
        for c in j.criteria:
            scored[c.id] += 1
            if not c.passed:
                failed.setdefault(c.id, []).append(c.reason.strip())
    lines = []
    for cid, reasons in sorted(failed.items(), key=lambda item: (-len(item[1]), item[0])):
        reason = Counter(r for r in reasons if r).most_common(1)
        text = reason[0][0] if reason else "no reason given"
        if len(text) > _REASON_CHARS:
            text = text[: _REASON_CHARS - 1].rstrip() + "…"
        lines.append(f"judge: {cid} failed in {len(reasons)} of {scored[cid]} conversations: {text}")
    errors = sum(1 for j in judgements if j.status != "judged")
    if errors:
        first = next(j.error for j in judgements if j.status != "judged")
        lines.append(f"judge: {errors} of {len(judgements)} conversations could not be judged: {first}")
    return lines


def summary(judgements: list[Judgement]) -> ScenarioJudgement:
    """What the scenario's results file keeps of the verdicts (its `judgement` section)."""
    scoring = _Scoring(judgements)
    judged = scoring.judged
    scores = [j.score for j in judged if j.score is not None]
    by_criterion: dict[str, list[bool]] = {}
    for j in judged:
        for c in j.criteria:
            by_criterion.setdefault(c.id, []).append(c.passed)
    rubrics = list(dict.fromkeys(j.rubric for j in judgements))
    return ScenarioJudgement(
        rubrics=rubrics,
        conversations=len(judgements),
        judged=len(judged),
        judge_errors=len(judgements) - len(judged),
        passed=sum(bool(j.passed) for j in judged),
        pass_rate=scoring.pass_rate(),
        mean_score=round(sum(scores) / len(scores), 4) if scores else None,
        criteria={cid: round(sum(v) / len(v), 4) for cid, v in by_criterion.items()},
        cost_usd=round(sum(j.usage.cost_usd for j in judgements), 8),
    )


class PipelineJudge:
    """The judge of a pipeline's scenarios: its provider chain started once (into `resources`), the
    rubric of every judged scenario loaded before the first scenario runs (bad input: ConfigError)."""

    def __init__(
        self, suite: ScenarioSuite, config: Config | None, pipeline_judges: bool, resources: ExitStack
    ) -> None:
        self.config = config or Config()
        self.chooser = RubricChooser(self.config)
        self.rubrics: dict[str, Rubric | None] = {}
        for index, scenario in enumerate(suite.scenarios):
            if not judges(scenario, pipeline_judges):
                continue
            own = scenario.judge.rubric if scenario.judge is not None else None
            spec, field = (own, f"scenarios.{index}.judge.rubric") if own else (suite.rubric, "rubric")
            if not own and (self.config.judge.rubric or self.config.judge.personas):
                spec = None  # the judge's config names its rubrics: they win over the suite's
            if spec is None:
                self.rubrics[scenario.name] = None  # by persona, as `convoload judge` chooses
                for persona in suite.personas_of(scenario):
                    self.chooser.rubric(persona)
                continue
            self.rubrics[scenario.name] = self.chooser.load(spec, f"suite {suite.name}: {field}")
        self.resources = resources.enter_context(JudgeResources(self.config))

    def judge(self, scenario: Scenario, records: list[ConversationRecord]) -> list[Judgement]:
        """The verdicts on the scenario's conversations, in their order (`judge.concurrency` at a time)."""
        rubric = self.rubrics.get(scenario.name)

        def task(record: ConversationRecord) -> JudgeTask:
            chosen = rubric if rubric is not None else self.chooser.rubric(record.persona)
            return self.chooser.task_with(record, chosen)

        judge = self.resources.judge

        def one(record: ConversationRecord) -> Judgement:
            try:
                return judge.judge(task(record))
            except ConfigError:
                raise
            except Exception as exc:  # the rubric's reference facts failed on this conversation
                name = rubric.name if rubric is not None else self.chooser.rubric(record.persona).name
                return judge.failed(record, name, f"reference facts: {exc!r}")

        pool = Pool(max(1, self.config.judge.concurrency))
        return list(pool.imap(one, records))
