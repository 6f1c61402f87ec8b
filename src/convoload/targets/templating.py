"""Request-body templates with placeholders, and reply extraction by path.

A template is any JSON-like structure. A string that is exactly one placeholder
("{iteration}") is replaced by the value itself, keeping its type; placeholders
inside longer strings are substituted as text. Placeholders:
  {text} {session_id} {iteration} {user_id} {persona} {webhook_url}
  {identity.full_name} {identity.first_name} {identity.phone} {identity.phone_digits}
  {identity.email} {identity.cpf} {identity.cpf_digits}
  {env.NAME}  (read from the environment / .env; treated as a secret)
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any

from convoload.envsecrets import secret_from_env

PLACEHOLDER_RE = re.compile(r"\{([a-zA-Z_][a-zA-Z0-9_.]*)\}")
BASE_PLACEHOLDERS = frozenset({"text", "session_id", "iteration", "user_id", "persona", "webhook_url"})
IDENTITY_FIELDS = frozenset(
    {"full_name", "first_name", "last_name", "phone", "phone_digits", "email", "cpf", "cpf_digits"}
)


class TemplateError(ValueError):
    def __init__(self, field: str, message: str) -> None:
        self.field = field
        super().__init__(message)


def check_template(template: Any, field: str, allowed: frozenset[str] = BASE_PLACEHOLDERS) -> None:
    """Fail early, at config load, on a placeholder no request can fill or an env var that is not set."""
    for path, text in _strings(template, field):
        for name in PLACEHOLDER_RE.findall(text):
            if name.startswith("env."):
                if secret_from_env(name[4:]) is None:
                    raise TemplateError(
                        path, f"environment variable {name[4:]} is not set (use the env or .env)"
                    )
            elif name.startswith("identity."):
                if name[9:] not in IDENTITY_FIELDS:
                    raise TemplateError(path, f"unknown placeholder {{{name}}}")
            elif name not in allowed:
                raise TemplateError(path, f"unknown placeholder {{{name}}}")


def render(template: Any, values: Mapping[str, Any]) -> Any:
    if isinstance(template, str):
        whole = PLACEHOLDER_RE.fullmatch(template)
        if whole:
            return _lookup(whole.group(1), values)
        return PLACEHOLDER_RE.sub(lambda m: str(_lookup(m.group(1), values)), template)
    if isinstance(template, Mapping):
        return {key: render(value, values) for key, value in template.items()}
    if isinstance(template, list):
        return [render(item, values) for item in template]
    return template


def _lookup(name: str, values: Mapping[str, Any]) -> Any:
    if name.startswith("env."):
        return secret_from_env(name[4:]) or ""
    if name.startswith("identity."):
        return getattr(values["identity"], name[9:])
    return values[name]


def _strings(template: Any, path: str):
    if isinstance(template, str):
        yield path, template
    elif isinstance(template, Mapping):
        for key, value in template.items():
            yield from _strings(value, f"{path}.{key}")
    elif isinstance(template, list):
        for i, item in enumerate(template):
            yield from _strings(item, f"{path}[{i}]")


_SEGMENT_RE = re.compile(r"([^.\[\]]+)|\[(\d+|\*)\]")


def extract(document: Any, path: str) -> Any:
    """Follow a dotted path like `data.messages[0].text` or `messages[*].text`.

    `[*]` maps the rest of the path over a list. Raises KeyError when the path
    does not exist in the document.
    """
    segments = [m.group(1) if m.group(1) is not None else m.group(2) for m in _SEGMENT_RE.finditer(path)]
    return _walk(document, segments, path)


def _walk(node: Any, segments: list[str], path: str) -> Any:
    for i, segment in enumerate(segments):
        if segment == "*":
            if not isinstance(node, list):
                raise KeyError(path)
            return [_walk(item, segments[i + 1 :], path) for item in node]
        if isinstance(node, list) and segment.isdigit():
            index = int(segment)
            if index >= len(node):
                raise KeyError(path)
            node = node[index]
        elif isinstance(node, Mapping) and segment in node:
            node = node[segment]
        else:
            raise KeyError(path)
    return node


def reply_text(value: Any) -> list[str]:
    """Normalise what a reply path found into a list of message texts."""
    if value is None:
        return []
    if isinstance(value, list):
        out: list[str] = []
        for item in value:
            out.extend(reply_text(item))
        return out
    text = value if isinstance(value, str) else str(value)
    return [text] if text.strip() else []
