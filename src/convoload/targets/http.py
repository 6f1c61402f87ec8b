"""`http` target: a synchronous JSON chat API that answers in the response body."""

from __future__ import annotations

from typing import Any

from convoload.targets.base import Session, TargetReply
from convoload.targets.httpcommon import (
    HttpEndpoint,
    extract_cost,
    extract_reply,
    parse_json,
    template_values,
)


class HttpTarget:
    kind = "http"

    def __init__(
        self,
        url: str,
        *,
        method: str = "POST",
        headers: dict[str, Any] | None = None,
        body: Any = None,
        reply_path: str = "reply",
        agent_path: str | None = "agent",
        cost_path: str | None = None,
        timeout_s: float = 30.0,
        connect_timeout_s: float = 5.0,
        variables: dict[str, Any] | None = None,
    ) -> None:
        body = body if body is not None else {"session_id": "{session_id}", "text": "{text}"}
        self.endpoint = HttpEndpoint(
            url,
            method,
            headers or {},
            body,
            timeout_s=timeout_s,
            connect_timeout_s=connect_timeout_s,
            variables=variables,
        )
        self.reply_path = reply_path
        self.agent_path = agent_path
        self.cost_path = cost_path
        self.variables = variables or {}

    def send(self, session: Session, text: str, iteration: int) -> TargetReply:
        values = template_values(session, text, iteration, variables=self.variables)
        _, content, elapsed_ms = self.endpoint.send(session.session_id, values)
        document = parse_json(content, "reply body")
        messages, agent = extract_reply(document, self.reply_path, self.agent_path, "reply body")
        return TargetReply(
            text="\n\n".join(messages),
            messages=messages,
            agent=agent,
            latency_ms=elapsed_ms,
            cost_usd=extract_cost(document, self.cost_path),
            raw=document,
        )

    def stats(self) -> dict[str, int]:
        return {}

    def finish(self, session: Session) -> None:
        self.endpoint.release(session.session_id)

    def close(self) -> None:
        self.endpoint.close()
