"""What the emulated platform sends to the bot: each user's messages on that conversation's own
connection, and status callbacks in the background (in order per conversation, on a second connection,
so a status never delays the user's next message)."""

from __future__ import annotations

import logging
from collections import Counter
from typing import NamedTuple

import gevent
from gevent.queue import Queue

from convoload.targets.base import TargetError
from convoload.targets.httpcommon import HttpEndpoint

log = logging.getLogger(__name__)


class _Queued(NamedTuple):
    body: bytes
    headers: dict[str, str]


class InboundSender:
    def __init__(
        self,
        url: str,
        *,
        timeout_s: float = 10.0,
        connect_timeout_s: float = 5.0,
        counters: Counter[str] | None = None,
    ) -> None:
        self.endpoint = HttpEndpoint(
            url, "POST", {}, None, timeout_s=timeout_s, connect_timeout_s=connect_timeout_s
        )
        self.counters: Counter[str] = counters if counters is not None else Counter()
        self._queues: dict[str, tuple[Queue, gevent.Greenlet]] = {}
        self._late: list[gevent.Greenlet] = []

    def post(self, key: str, body: bytes, headers: dict[str, str]) -> tuple[int, bytes, float]:
        """POST now on `key`'s connection; transport faults and 4xx/5xx raise TargetError."""
        return self.endpoint.request(key, body, headers)

    def get(self, key: str, request_uri: str) -> tuple[int, bytes, float]:
        return self.endpoint.request(key, None, {}, request_uri, "GET")

    def post_background(self, key: str, body: bytes, headers: dict[str, str]) -> None:
        """Queue a POST on `key`'s background connection: sent after the ones queued before it."""
        found = self._queues.get(key)
        if found is None:
            queue: Queue = Queue()
            found = self._queues[key] = (queue, gevent.spawn(self._drain, key, queue))
        found[0].put(_Queued(body, headers))

    def _drain(self, key: str, queue: Queue) -> None:
        connection = f"{key}#background"
        try:
            while True:
                item = queue.get()
                if item is None:
                    return
                try:
                    self.endpoint.request(connection, item.body, item.headers)
                    self.counters["platform_statuses_sent"] += 1
                except TargetError as exc:
                    self.counters["platform_statuses_failed"] += 1
                    log.debug("status callback refused: %s", exc)
        finally:
            self.endpoint.release(connection)

    def finish(self, key: str) -> None:
        """The conversation is over: its background callbacks go out (waited for, so that the run's counts
        hold every one when it ends), then its connections close."""
        self.endpoint.release(key)
        found = self._queues.pop(key, None)
        if found is not None:
            found[0].put(None)
            found[1].join(timeout=self.endpoint.timeout_s)
            if not found[1].dead:
                self._late.append(found[1])  # still sending: close() waits for it, then stops it

    def close(self) -> None:
        # What is still queued goes out first, for a short while: a status the run counted as sent is sent.
        greenlets = [g for _, g in self._queues.values()] + [g for g in self._late if not g.dead]
        for queue, _ in self._queues.values():
            queue.put(None)
        self._queues.clear()
        gevent.joinall(greenlets, timeout=self.endpoint.timeout_s)
        gevent.killall([g for g in greenlets if not g.dead], block=False)
        self.endpoint.close()
