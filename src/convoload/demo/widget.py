"""The inbound body of the widget webhook API, shared by the bundled agents that speak it."""

from __future__ import annotations

from typing import Annotated
from urllib.parse import urlsplit

from pydantic import BaseModel, ConfigDict, Field, StringConstraints, field_validator

NonEmptyStr = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1)]


class WidgetMessage(BaseModel):
    """What convoload's `widget` preset sends (camelCase on the wire)."""

    model_config = ConfigDict(populate_by_name=True)

    text: NonEmptyStr
    channel_id: NonEmptyStr = Field(alias="channelId")
    client_identifier: NonEmptyStr = Field(alias="clientIdentifier")
    webhook: NonEmptyStr

    @field_validator("webhook")
    @classmethod
    def _http_url(cls, value: str) -> str:
        parts = urlsplit(value)
        if parts.scheme not in ("http", "https") or not parts.hostname:
            raise ValueError("webhook must be an absolute http:// or https:// URL")
        return value
