"""Every metric the monitor records: Prometheus name, type and help text.

The monitor writes samples under these names into the results store; `/metrics` and the
Grafana dashboard read them back by the same names, so this table is their only definition.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class MetricInfo:
    name: str
    kind: str  # gauge | counter (counters are running totals since the database was created)
    help: str
    labels: tuple[str, ...] = ()


CATALOG: dict[str, MetricInfo] = {
    m.name: m
    for m in [
        MetricInfo("convoload_health_status", "gauge", "Overall status: 0 healthy, 1 warning, 2 critical"),
        MetricInfo(
            "convoload_conversations_window", "gauge", "Synthetic conversations in the metrics window"
        ),
        MetricInfo(
            "convoload_success_ratio",
            "gauge",
            "Share of window conversations that reached their goal (those the monitor cut off left out)",
        ),
        MetricInfo("convoload_error_ratio", "gauge", "Share of window turns that failed (any error kind)"),
        MetricInfo("convoload_response_time_mean_seconds", "gauge", "Mean turn response time in the window"),
        MetricInfo(
            "convoload_response_time_p95_seconds", "gauge", "95th percentile turn response time in the window"
        ),
        MetricInfo("convoload_concurrent_users", "gauge", "Synthetic users in conversation right now"),
        MetricInfo(
            "convoload_agent_transitions",
            "gauge",
            "Agent hand-offs seen in the window",
            ("from_agent", "to_agent"),
        ),
        MetricInfo("convoload_llm_fallback_ratio", "gauge", "Share of the agent's LLM calls that fell back"),
        MetricInfo(
            "convoload_component_up",
            "gauge",
            "1 when the component answered its health check",
            ("component",),
        ),
        MetricInfo("convoload_component_latency_seconds", "gauge", "Health check round trip", ("component",)),
        MetricInfo(
            "convoload_conversations_total", "counter", "Synthetic conversations by outcome", ("outcome",)
        ),
        MetricInfo("convoload_turn_errors_total", "counter", "Failed turns by error kind", ("kind",)),
        MetricInfo("convoload_tokens_total", "counter", "LLM tokens spent by the monitor's simulated users"),
        MetricInfo("convoload_cost_usd_total", "counter", "LLM cost in USD of the monitor's simulated users"),
        MetricInfo(
            "convoload_cost_per_success_usd",
            "gauge",
            "Simulated-user, agent-reported and judge cost per window conversation that reached its goal",
        ),
        MetricInfo(
            "convoload_judge_score",
            "gauge",
            "Mean normalised conversation-judge score (0..1) of the window's judged conversations",
        ),
        MetricInfo(
            "convoload_judge_pass_ratio",
            "gauge",
            "Share of the window's judged conversations that passed the judge's rubric",
        ),
        MetricInfo(
            "convoload_judge_cost_usd_total",
            "counter",
            "LLM cost in USD of judging the monitor's conversations",
        ),
        MetricInfo(
            "convoload_simulator_errors_total",
            "counter",
            "Conversations the simulated user broke (not the agent's fault), by fault",
            ("fault",),
        ),
    ]
}
