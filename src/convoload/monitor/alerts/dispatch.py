"""Send notifications to every channel routed for their severities, with retries; never raise."""

from __future__ import annotations

import logging
import time
from collections import deque
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass

from convoload.monitor.alerts.channels import Channel, ChannelError, build_channel
from convoload.monitor.alerts.model import ChannelConfig, Notification
from convoload.monitor.alerts.redaction import scrub

logger = logging.getLogger("convoload.alerts")


@dataclass(frozen=True)
class DeliveryResult:
    channel: str
    ok: bool
    attempts: int
    error: str | None = None  # scrubbed of secrets
    group_key: str = ""
    status: str = ""  # firing | resolved: what this channel was sent


class Dispatcher:
    """Deliver to each channel in turn. `sleep` waits between retries (tests pass one that doesn't)."""

    def __init__(
        self, channels: Sequence[Channel], *, sleep: Callable[[float], None] = time.sleep, history: int = 200
    ) -> None:
        self.channels = list(channels)
        self._sleep = sleep
        self._recent: deque[DeliveryResult] = deque(maxlen=history)

    @classmethod
    def from_config(
        cls, configs: Iterable[ChannelConfig], *, sleep: Callable[[float], None] = time.sleep
    ) -> Dispatcher:
        return cls([build_channel(c) for c in configs], sleep=sleep)

    @property
    def recent(self) -> list[DeliveryResult]:
        """The latest results, oldest first (for the dashboard)."""
        return list(self._recent)

    def send(self, notification: Notification) -> list[DeliveryResult]:
        """One result per channel that the notification (or part of it) is routed to."""
        results = []
        for channel in self.channels:
            routed = notification.only(channel.severities)
            if routed is not None:
                result = self._deliver(channel, routed)
                self._recent.append(result)
                results.append(result)
        return results

    def send_all(self, notifications: Iterable[Notification]) -> list[DeliveryResult]:
        return [result for n in notifications for result in self.send(n)]

    def _deliver(self, channel: Channel, notification: Notification) -> DeliveryResult:
        def result(ok: bool, attempts: int, error: str | None = None) -> DeliveryResult:
            return DeliveryResult(
                channel.name, ok, attempts, error, notification.group_key, notification.status
            )

        attempt = 0
        while True:
            attempt += 1
            try:
                channel.deliver(notification)
                return result(True, attempt)
            except ChannelError as exc:
                error, retry = scrub(str(exc)), exc.retry
            except Exception as exc:  # whatever a channel does wrong, the monitor keeps running
                error, retry = scrub(f"{type(exc).__name__}: {exc}".removesuffix(": ")), True
            if not retry or attempt > channel.retries:
                logger.warning(
                    "alert channel %s failed after %d attempt(s): %s", channel.name, attempt, error
                )
                return result(False, attempt, error)
            delay = channel.backoff_s * 2 ** (attempt - 1)
            logger.info(
                "alert channel %s: attempt %d failed (%s), retrying in %g s",
                channel.name,
                attempt,
                error,
                delay,
            )
            self._sleep(delay)
