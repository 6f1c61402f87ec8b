"""The monitor's log files, rotated, one event per line in `key=value` form (easy to grep).

  agents.log       every synthetic conversation: persona, outcome, the agents it went through
  alerts.log       every alert notice of the `log` channel at its level (firing, resolved), and
                   every retry or failure of a notification channel
  api.log          every health check and every failed call to the agent
  errors.log       everything at ERROR or above, from any part of convoload
  performance.log  the metrics of each collection, and how long each job took

Known secrets (API keys read from the environment) are scrubbed from every line.
"""

from __future__ import annotations

import logging
from logging.handlers import RotatingFileHandler
from pathlib import Path

from convoload.envsecrets import redact

AGENTS = logging.getLogger("convoload.monitor.agents")
API = logging.getLogger("convoload.monitor.api")
PERFORMANCE = logging.getLogger("convoload.monitor.performance")
ALERTS = logging.getLogger("convoload.alerts")
LOG_FILES = ("agents.log", "alerts.log", "api.log", "errors.log", "performance.log")


class _RedactingFormatter(logging.Formatter):
    def format(self, record: logging.LogRecord) -> str:
        return redact(super().format(record))


def logfmt(**fields: object) -> str:
    """`key=value` pairs; values with spaces or quotes are quoted."""
    parts = []
    for key, value in fields.items():
        text = "" if value is None else str(value)
        if not text or any(c in text for c in ' "=\n'):
            text = '"' + text.replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n") + '"'
        parts.append(f"{key}={text}")
    return " ".join(parts)


def setup_logs(folder: Path, *, max_bytes: int, backups: int) -> list[logging.Handler]:
    """Attach the rotating files; returns the handlers so that `close_logs` can detach them."""
    folder.mkdir(parents=True, exist_ok=True)
    formatter = _RedactingFormatter("%(asctime)s %(levelname)s %(name)s %(message)s")
    formatter.default_msec_format = "%s.%03d"

    def handler(name: str, level: int) -> RotatingFileHandler:
        h = RotatingFileHandler(folder / name, maxBytes=max_bytes, backupCount=backups, encoding="utf-8")
        h.setFormatter(formatter)
        h.setLevel(level)
        return h

    routes = [
        (AGENTS, handler("agents.log", logging.INFO)),
        (ALERTS, handler("alerts.log", logging.INFO)),
        (API, handler("api.log", logging.INFO)),
        (PERFORMANCE, handler("performance.log", logging.INFO)),
        (logging.getLogger("convoload"), handler("errors.log", logging.ERROR)),
    ]
    for logger, h in routes:
        logger.addHandler(h)
    for logger in (AGENTS, ALERTS, API, PERFORMANCE, logging.getLogger("convoload.monitor")):
        logger.setLevel(logging.INFO)
    logging.getLogger("convoload").setLevel(logging.INFO)
    return [h for _, h in routes]


def close_logs(handlers: list[logging.Handler]) -> None:
    for logger in (AGENTS, ALERTS, API, PERFORMANCE, logging.getLogger("convoload")):
        for h in handlers:
            logger.removeHandler(h)
    for h in handlers:
        h.close()
