"""`webhook` target: the request is acknowledged and the reply arrives later as a callback.

Presets fill in the body template and reply paths of APIs our users test; today
`widget`: POST /v1/webhooks/widget {text, channelId, clientIdentifier, webhook}.
"""

from __future__ import annotations

import time
from typing import Any

from convoload.targets.base import Session, TargetError, TargetReply
from convoload.targets.httpcommon import HttpEndpoint, extract_cost, extract_reply, template_values
from convoload.targets.receiver import WebhookReceiver

PRESETS: dict[str, dict[str, Any]] = {
    "widget": {
        "body": {
            "text": "{text}",
            "channelId": "{channel_id}",
            "clientIdentifier": "{session_id}",
            "webhook": "{webhook_url}",
        },
        "reply_path": "text",
        "agent_path": "agent",
        "message_id_path": "messageId",
        "final_path": "final",
    },
}


class WebhookTarget:
    kind = "webhook"

    def __init__(
        self,
        url: str,
        receiver: WebhookReceiver,
        *,
        method: str = "POST",
        headers: dict[str, Any] | None = None,
        body: Any = None,
        reply_path: str = "text",
        agent_path: str | None = "agent",
        cost_path: str | None = None,
        ack_timeout_s: float = 10.0,
        reply_timeout_s: float = 30.0,
        connect_timeout_s: float = 5.0,
        quiet_period_s: float = 0.0,
        variables: dict[str, Any] | None = None,
    ) -> None:
        self.receiver = receiver
        body = (
            body
            if body is not None
            else {"session_id": "{session_id}", "text": "{text}", "webhook": "{webhook_url}"}
        )
        self.endpoint = HttpEndpoint(
            url,
            method,
            headers or {},
            body,
            timeout_s=ack_timeout_s,
            connect_timeout_s=connect_timeout_s,
            variables=variables,
        )
        self.reply_path = reply_path
        self.agent_path = agent_path
        self.cost_path = cost_path
        self.variables = variables or {}
        self.reply_timeout_s = reply_timeout_s
        self.quiet_period_s = quiet_period_s

    def send(self, session: Session, text: str, iteration: int) -> TargetReply:
        # Register before sending: a fast agent may call back before the ack returns.
        pending = self.receiver.expect(session.session_id, iteration)
        try:
            started = time.perf_counter()
            values = template_values(
                session,
                text,
                iteration,
                self.receiver.callback_url(session.session_id, iteration),
                self.variables,
            )
            _, _, ack_ms = self.endpoint.send(session.session_id, values)
            remaining = max(0.001, self.reply_timeout_s - (time.perf_counter() - started))
            try:
                callbacks, wake_ms = self.receiver.wait(pending, remaining, self.quiet_period_s)
            except TargetError as exc:
                exc.ack_ms = ack_ms
                raise
            messages: list[str] = []
            agent = None
            cost: float | None = None
            for callback in callbacks:
                found, found_agent = extract_reply(
                    callback.document, self.reply_path, self.agent_path, "callback body"
                )
                messages.extend(found)
                agent = found_agent or agent
                found_cost = extract_cost(callback.document, self.cost_path)
                if found_cost is not None:  # each callback reports what producing it cost
                    cost = (cost or 0.0) + found_cost
            # A reply cut short (more was announced, the time ran out) was complete only when we gave up.
            completed = time.perf_counter() if pending.cut_short else callbacks[-1].received_at
            latency_ms = (completed - started) * 1000
            return TargetReply(
                text="\n\n".join(messages),
                messages=messages,
                agent=agent,
                latency_ms=latency_ms,
                ack_ms=ack_ms,
                wake_ms=wake_ms,
                cost_usd=cost,
                raw=[c.document for c in callbacks],
            )
        finally:
            self.receiver.release(pending)

    def stats(self) -> dict[str, int]:
        return {f"callbacks_{k}": v for k, v in sorted(self.receiver.counters.items())}

    def finish(self, session: Session) -> None:
        self.endpoint.release(session.session_id)

    def close(self) -> None:
        self.endpoint.close()
        self.receiver.stop()
