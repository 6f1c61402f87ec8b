"""Did a run do what it planned? From its run.json (plan, how it ended) and its conversation counts.

A run is complete when it ended by itself (not stopped early by a signal or its time limit, and not
killed: a run.json still saying `running` means the process never got to its end), lost no worker
(a distributed run's summary then counts `lost_with_worker`) and, when it planned a number of
conversations, finished that many. Interrupted conversations are not finished.
A run planned with neither a number of conversations nor a duration (Locust without -t) runs until
it is stopped: a signal is its planned end, a kill is not.
See grading.assess for what an incomplete run's grade and health are.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from convoload.model.report import Completion

NEVER_ENDED = "a kill or a crash (its run.json still says running)"


def completion(meta: Mapping[str, Any], summary: Mapping[str, Any]) -> dict[str, Any]:
    plan = meta.get("plan") or {}
    planned = plan.get("conversations")
    finished = summary["total_conversations"] - summary["interrupted_conversations"]
    stopped_by = NEVER_ENDED if meta.get("status") == "running" else meta.get("stopped_by")
    # A run with neither a count nor a duration runs until stopped: a signal is its planned end.
    bounded = planned is not None or plan.get("duration_s") is not None
    early = stopped_by is not None and (bounded or stopped_by == NEVER_ENDED)
    lost = summary.get("lost_with_worker")  # present when a distributed run lost a worker
    return {
        "complete": not early and lost is None and (planned is None or finished >= planned),
        "planned_conversations": planned,
        "finished_conversations": finished,
        "stopped_by": stopped_by,
        **({"lost_with_worker": lost} if lost is not None else {}),
        **{f"planned_{k}": v for k, v in plan.items() if k != "conversations"},
    }


def describe(completion: Completion) -> str:
    """One line: '4 of 10 planned conversations finished (stopped by SIGTERM)'."""
    planned = completion.planned_conversations
    finished = completion.finished_conversations
    if planned is not None:
        text = f"{finished} of {planned} planned conversations finished"
    else:
        users, duration = completion.planned_users, completion.planned_duration_s
        shape = " for ".join(
            part
            for part in (f"{users} users" if users else "", f"{duration:g} s" if duration else "")
            if part
        )
        text = f"{finished} conversations finished" + (f" (planned: {shape})" if shape else "")
    if completion.lost_with_worker is not None:
        text += f", {completion.lost_with_worker} lost in flight with a worker"
    stopped_by = completion.stopped_by
    return f"{text} (stopped by {stopped_by})" if stopped_by else text
