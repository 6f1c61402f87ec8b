"""`http` target: a synchronous JSON chat API that answers in the response body."""

from __future__ import annotations

from typing import Any

from convoload.targets.base import Session, TargetReply
from convoload.targets.httpcommon import extract_reply, make_client, parse_json, post, template_values


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
        timeout_s: float = 30.0,
        connect_timeout_s: float = 5.0,
        variables: dict[str, Any] | None = None,
    ) -> None:
        self.url = url
        self.method = method
        self.headers = headers or {}
        self.body = body if body is not None else {"session_id": "{session_id}", "text": "{text}"}
        self.reply_path = reply_path
        self.agent_path = agent_path
        self.variables = variables or {}
        self._client = make_client(timeout_s, connect_timeout_s)

    def send(self, session: Session, text: str, iteration: int) -> TargetReply:
        values = template_values(session, text, iteration, variables=self.variables)
        response, elapsed_ms = post(self._client, self.method, self.url, self.headers, self.body, values)
        document = parse_json(response.content, "reply body")
        messages, agent = extract_reply(document, self.reply_path, self.agent_path, "reply body")
        return TargetReply(
            text="\n\n".join(messages), messages=messages, agent=agent, latency_ms=elapsed_ms, raw=document
        )

    def stats(self) -> dict[str, int]:
        return {}

    def close(self) -> None:
        self._client.close()
