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

import functools
import re
from collections.abc import Callable, Mapping
from typing import Any
from urllib.parse import quote

from convoload.envsecrets import secret_from_env
from convoload.errors import InputError

PLACEHOLDER_RE = re.compile(r"\{([a-zA-Z_][a-zA-Z0-9_.]*)\}")
BASE_PLACEHOLDERS = frozenset({"text", "session_id", "iteration", "user_id", "persona", "webhook_url"})
IDENTITY_FIELDS = frozenset(
    {"full_name", "first_name", "last_name", "phone", "phone_digits", "email", "cpf", "cpf_digits"}
)


class TemplateError(InputError, ValueError):  # ValueError: pydantic validators raise it
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


Renderer = Callable[[Mapping[str, Any]], Any]
_ORIGIN_RE = re.compile(r"(https?://[^/?#]*)(.*)", re.DOTALL)


class UrlTemplate:
    """A target URL with placeholders, like the body's.

    What is fixed for the whole run ({env.NAME}, target.variables) is filled in once, as it is (a
    variable may hold a whole base URL); what changes per conversation or turn ({session_id},
    {identity.phone}, {iteration}, ...) is percent-encoded into the path or query of each request,
    never the host: one connection per conversation goes to one server.
    """

    def __init__(self, template: str, variables: Mapping[str, Any] | None = None, field: str = "url") -> None:
        variables = variables or {}
        check_template(template, field, BASE_PLACEHOLDERS | frozenset(variables))
        pieces = PLACEHOLDER_RE.split(template)  # text, name, text, name, ..., text
        texts, names = [pieces[0]], []
        for name, text in zip(pieces[1::2], pieces[2::2], strict=True):
            if name.startswith("env.") or (name in variables and name not in BASE_PLACEHOLDERS):
                texts[-1] += str(_lookup(name, variables)) + text
            else:
                names.append(name)
                texts.append(text)
        match = _ORIGIN_RE.fullmatch(texts[0])
        if match is None:
            raise TemplateError(field, "must start with http:// or https://")
        if names and not match.group(2):
            raise TemplateError(
                field, f"{{{names[0]}}} changes per conversation: use it in the path or query, not the host"
            )
        if not match.group(1).partition("://")[2]:
            raise TemplateError(field, "has no host")
        self.origin = match.group(1)  # scheme://host[:port], the same for every request
        rest = match.group(2)
        texts[0] = rest if rest.startswith("/") else "/" + rest
        self._texts, self._names = texts, names

    @property
    def fixed_url(self) -> str | None:
        """The whole URL when nothing in it changes per request, else None."""
        return None if self._names else self.origin + self._texts[0]

    def request_uri(self, values: Mapping[str, Any]) -> str:
        """Path and query of one request, per-conversation values percent-encoded."""
        out = [self._texts[0]]
        for name, text in zip(self._names, self._texts[1:], strict=True):
            out.append(quote(str(_lookup(name, values)), safe=""))
            out.append(text)
        return "".join(out)


def is_static(template: Any) -> bool:
    """True when the template has no placeholder: it renders to itself."""
    return not any(PLACEHOLDER_RE.search(text) for _, text in _strings(template, ""))


def compile_template(template: Any) -> Renderer:
    """The template's placeholders found once; the renderer then only looks values up (once per turn)."""
    if isinstance(template, str):
        whole = PLACEHOLDER_RE.fullmatch(template)
        if whole:
            name = whole.group(1)
            return lambda values: _lookup(name, values)
        pieces = PLACEHOLDER_RE.split(template)  # text, name, text, name, ..., text
        if len(pieces) == 1:
            return lambda _values: template
        texts, names = pieces[0::2], pieces[1::2]

        def fill(values: Mapping[str, Any]) -> str:
            out = [texts[0]]
            for name, text in zip(names, texts[1:], strict=True):
                out.append(str(_lookup(name, values)))
                out.append(text)
            return "".join(out)

        return fill
    if isinstance(template, Mapping):
        items = [(key, compile_template(value)) for key, value in template.items()]
        return lambda values: {key: part(values) for key, part in items}
    if isinstance(template, list):
        parts = [compile_template(item) for item in template]
        return lambda values: [part(values) for part in parts]
    return lambda _values: template


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
    return _walk(document, _segments(path), path)


@functools.lru_cache(maxsize=256)
def _segments(path: str) -> tuple[str, ...]:
    # A handful of paths per run (reply, agent, message id), each followed on every callback.
    return tuple(m.group(1) if m.group(1) is not None else m.group(2) for m in _SEGMENT_RE.finditer(path))


def _walk(node: Any, segments: tuple[str, ...], path: str) -> Any:
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
