"""Errors a user can act on. The CLI turns them into one line and exit code 2."""

from __future__ import annotations


class ConvoloadError(Exception):
    """Base for errors caused by the user's input, reported without a traceback."""


class ConfigError(ConvoloadError):
    """A config or persona file is unreadable or invalid.

    `source` names the file, `field` the dotted path inside it (empty when the
    whole file is at fault), so the message alone says where to look.
    """

    def __init__(self, source: str, field: str, message: str) -> None:
        self.source = source
        self.field = field
        self.message = message
        where = f"{source}: {field}" if field else source
        super().__init__(f"{where}: {message}")


def pydantic_error_to_config_error(source: str, exc: Exception, prefix: str = "") -> ConfigError:
    """Reduce a pydantic ValidationError to its first problem, as a ConfigError."""
    errors = getattr(exc, "errors", None)
    if not callable(errors):
        return ConfigError(source, prefix, str(exc))
    first = errors()[0]
    parts = [prefix] if prefix else []
    parts += [str(p) for p in first.get("loc", ())]
    field = ".".join(p for p in parts if p)
    message = first.get("msg", "invalid value").removeprefix("Value error, ")
    if first.get("type") == "extra_forbidden":
        message = "unknown field"
    return ConfigError(source, field, message)
