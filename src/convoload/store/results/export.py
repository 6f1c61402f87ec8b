"""An exported run (`convoload runs export RUN -o run.json`): what `runs compare` needs of a run, in one
file a CI job keeps as an artifact, so that a pull request's run can be compared with the main branch's
without its database.

The file is versioned: `format` names it, `version` says which layout it has. A reader refuses a newer
version than it knows (it could misread it) and reads every older one.
"""

from __future__ import annotations

import json
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, ValidationError

from convoload.errors import ConfigError
from convoload.model.capacity import CapacityResult
from convoload.store.journal import write_json
from convoload.store.results.stats import RunRow

EXPORT_FORMAT = "convoload-run"
EXPORT_VERSION = 1


class ExportedRun(BaseModel):
    """One run's numbers as the results store computed them (`RunRow`: exact percentiles from every
    turn), and a capacity run's verdict (the knee) when it was one."""

    model_config = ConfigDict(extra="ignore")

    format: Literal["convoload-run"] = EXPORT_FORMAT
    version: int = EXPORT_VERSION
    exported_at: str = ""
    run: RunRow
    capacity: CapacityResult | None = None

    @classmethod
    def of(cls, row: RunRow, capacity: CapacityResult | None = None) -> ExportedRun:
        stamp = datetime.now(UTC).isoformat(timespec="seconds")
        return cls(exported_at=stamp, run=row, capacity=capacity)

    def write(self, path: Path) -> Path:
        """As pretty JSON, atomically, without any known secret."""
        path = Path(path)
        path.parent.mkdir(parents=True, exist_ok=True)
        write_json(path, self.model_dump(mode="json"))
        return path


def _first_error(exc: ValidationError) -> tuple[str, str]:
    error = exc.errors()[0]
    return ".".join(str(part) for part in error["loc"]), error["msg"]


def read_exported_run(path: Path) -> ExportedRun:
    """An exported run file; ConfigError naming the file and the field when it is not one this
    convoload reads."""
    path = Path(path)
    source = str(path)
    try:
        document: Any = json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise ConfigError(source, "", "no such file") from None
    except (OSError, UnicodeDecodeError) as exc:
        raise ConfigError(source, "", f"cannot read it: {exc}") from None
    except ValueError as exc:
        raise ConfigError(source, "", f"not JSON: {exc}") from None
    if not isinstance(document, dict) or document.get("format") != EXPORT_FORMAT:
        raise ConfigError(source, "format", f"not an exported convoload run (expected {EXPORT_FORMAT!r})")
    version = document.get("version")
    if not isinstance(version, int) or isinstance(version, bool):
        raise ConfigError(source, "version", f"must be a whole number (got {version!r})")
    if version > EXPORT_VERSION:
        raise ConfigError(
            source,
            "version",
            f"{version} is newer than this convoload reads ({EXPORT_VERSION}): upgrade convoload",
        )
    try:
        return ExportedRun.model_validate(document)
    except ValidationError as exc:
        field, message = _first_error(exc)
        raise ConfigError(source, field, message) from None
