"""A worker's journal, shipped to its master as it grows: whole lines, compressed, exactly once.

The worker's `journal.jsonl` is the buffer. A `JournalShipper` keeps a byte offset into it and reads
the complete lines written since, at most `cap` raw bytes at a time (one longer line goes alone), into
a `Shipment`: zlib-compressed bytes and the journal offsets they span. A `ShippingLane` sends
shipments while the bytes the master has not acknowledged stay under a window, so a slow or absent
master holds no worker memory and never stalls a conversation: the lines wait in the file, which
also keeps everything if the master dies.

The master keeps a `JournalLedger` per worker: how far into that worker's journal it has the lines.
A shipment that starts before that point is trimmed to what is new (a repeat adds nothing), one
that starts after it leaves a gap, logged and kept in `gaps` (those lines are in the worker's
journal only).
"""

from __future__ import annotations

import logging
import os
import zlib
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import gevent
from gevent.event import Event
from gevent.lock import Semaphore

from convoload.errors import ConvoloadError

log = logging.getLogger(__name__)

CAP_BYTES = 1 << 20  # raw journal bytes per shipment: compressing 1 MiB holds the event loop a few ms
WINDOW_BYTES = 4 * CAP_BYTES  # shipped, not yet acknowledged
INTERVAL_S = 0.5
FLUSH_PATIENCE_S = 15.0  # at the end: how long to wait for the master's next acknowledgement
_LEVEL = 1  # zlib's fastest: journal lines still shrink several times


class ShipmentError(ConvoloadError, ValueError):
    """A shipment that cannot be what a worker's shipper sends."""


@dataclass(frozen=True, slots=True)
class Shipment:
    """Journal bytes [start, end) of one worker, whole lines, zlib-compressed in `data`."""

    start: int
    end: int
    data: bytes

    def message(self) -> dict[str, Any]:
        return {"start": self.start, "end": self.end, "data": self.data}

    @classmethod
    def from_message(cls, message: Any) -> Shipment:
        try:
            start, end, data = message["start"], message["end"], message["data"]
        except (TypeError, KeyError):
            raise ShipmentError("a shipment needs start, end and data") from None
        if not (isinstance(start, int) and isinstance(end, int) and 0 <= start < end):
            raise ShipmentError(f"bad journal offsets {start!r}..{end!r}")
        if not isinstance(data, bytes):
            raise ShipmentError("shipment data must be bytes")
        return cls(start, end, data)

    def lines(self) -> bytes:
        """The raw lines; a ShipmentError unless they are exactly end - start bytes of whole lines."""
        size = self.end - self.start
        inflater = zlib.decompressobj()
        try:
            raw = inflater.decompress(self.data, size + 1)  # bounded: a bomb stops at size + 1
        except zlib.error as exc:
            raise ShipmentError(f"undecodable shipment: {exc}") from None
        if len(raw) != size or not inflater.eof or not raw.endswith(b"\n"):
            raise ShipmentError(f"a shipment of {len(raw)} bytes is not the {size} whole-line bytes it says")
        return raw


class JournalShipper:
    """Reads a journal's complete lines from where the last shipment ended."""

    def __init__(self, path: Path, *, cap: int = CAP_BYTES, start: int = 0) -> None:
        self.path = Path(path)
        self.cap = cap
        self.offset = start  # everything before this has been taken
        self.raw_bytes = 0
        self.compressed_bytes = 0
        self._fd: int | None = None

    def take(self) -> Shipment | None:
        """The next whole lines (at most `cap` bytes, or one longer line), None when there are none."""
        fd = self._open()
        if fd is None:
            return None
        chunk = os.pread(fd, self.cap, self.offset)
        cut = chunk.rfind(b"\n") + 1
        while cut == 0 and len(chunk) >= self.cap:  # one line longer than the cap: it goes whole
            more = os.pread(fd, self.cap, self.offset + len(chunk))
            if not more:
                break
            newline = more.find(b"\n")
            chunk += more
            if newline >= 0:
                cut = len(chunk) - len(more) + newline + 1
        if cut == 0:  # nothing, or a line still being written (or torn by a crash)
            return None
        raw = chunk[:cut]
        shipment = Shipment(self.offset, self.offset + cut, zlib.compress(raw, _LEVEL))
        self.offset = shipment.end
        self.raw_bytes += cut
        self.compressed_bytes += len(shipment.data)
        return shipment

    def size(self) -> int:
        """The journal's size now (whole lines and any line being written)."""
        fd = self._open()
        return os.fstat(fd).st_size if fd is not None else 0

    def _open(self) -> int | None:
        if self._fd is None:
            try:
                self._fd = os.open(self.path, os.O_RDONLY)
            except FileNotFoundError:
                return None
        return self._fd

    def close(self) -> None:
        if self._fd is not None:
            os.close(self._fd)
            self._fd = None


class ShippingLane:
    """Sends a shipper's shipments as the journal grows, at most `window` bytes unacknowledged.

    `send(message)` hands a shipment to the transport; the receiver answers with `acknowledged(offset)`
    (how far it has the journal). A greenlet ships every `interval_s`; `flush` ships everything left.
    """

    def __init__(
        self,
        shipper: JournalShipper,
        send: Callable[[dict[str, Any]], None],
        *,
        window: int = WINDOW_BYTES,
        interval_s: float = INTERVAL_S,
    ) -> None:
        self.shipper = shipper
        self.send = send
        self.window = window
        self.interval_s = interval_s
        self.acked = shipper.offset
        self.shipments = 0
        self._wake = Event()
        self._acked = Event()
        self._sending = Semaphore()  # shipments leave in the order they were taken
        self._greenlet: gevent.Greenlet | None = None
        self._closed = False

    def start(self) -> None:
        if self._greenlet is None:
            self._greenlet = gevent.spawn(self._run)

    def acknowledged(self, offset: int) -> None:
        if offset > self.acked:
            self.acked = offset
            self._acked.set()
            self._wake.set()

    @property
    def in_flight(self) -> int:
        return self.shipper.offset - self.acked

    def ship(self) -> bool:
        """Send what the window allows now; True when every whole line written so far is sent."""
        with self._sending:
            while not self._closed and self.in_flight < self.window:
                shipment = self.shipper.take()
                if shipment is None:
                    return True
                try:
                    self.send(shipment.message())
                except BaseException:
                    # Maybe not sent: taken again next time (the master trims it if it did arrive).
                    self.shipper.offset = shipment.start
                    raise
                self.shipments += 1
                gevent.sleep(0)  # one shipment at a time in the event loop the conversations share
        return False

    def flush(self, patience_s: float = FLUSH_PATIENCE_S) -> bool:
        """Ship every whole line written so far and wait until the receiver has them all; False
        when it stops acknowledging for `patience_s` (the rest stays in the journal)."""
        while not self._closed:
            self._acked.clear()  # before shipping: an acknowledgement meanwhile is not missed
            if self.ship() and self.in_flight == 0:
                return True
            if not self._acked.wait(patience_s):
                log.error(
                    "the master acknowledged no journal lines for %g s; %d bytes of %s are not "
                    "acknowledged (they are in this worker's journal)",
                    patience_s,
                    self.shipper.size() - self.acked,
                    self.shipper.path,
                )
                return False
        return False

    def close(self) -> None:
        """No more shipping (the greenlet ends after what it is sending); the journal's file closed."""
        self._closed = True
        self._wake.set()
        with self._sending:
            self.shipper.close()

    def _run(self) -> None:
        while not self._closed:
            self._wake.wait(self.interval_s)
            self._wake.clear()
            if self._closed:
                return
            try:
                self.ship()
            except Exception:  # the transport: the lines stay in the journal, shipped later
                log.exception("could not ship journal lines to the master; retrying")


@dataclass
class JournalLedger:
    """The master's account of one worker's journal: how far it has it, what it never got."""

    source: str  # for the log: "worker 1"
    have: int = 0
    received_bytes: int = 0  # compressed, as they came
    repeated_bytes: int = 0  # raw bytes it already had (trimmed)
    gaps: list[tuple[int, int]] = field(default_factory=list)  # [start, end) never received

    def accept(self, shipment: Shipment) -> bytes:
        """The lines of `shipment` the master does not have yet (b"" for a repeat)."""
        raw = shipment.lines()
        self.received_bytes += len(shipment.data)
        if shipment.end <= self.have:
            self.repeated_bytes += len(raw)
            return b""
        if shipment.start < self.have:
            skip = self.have - shipment.start
            if raw[skip - 1 : skip] != b"\n":
                raise ShipmentError(
                    f"{self.source}: a shipment from {shipment.start} does not break at a line at {self.have}"
                )
            self.repeated_bytes += skip
            raw = raw[skip:]
        elif shipment.start > self.have:
            self.gaps.append((self.have, shipment.start))
            log.error(
                "%s: journal bytes %d-%d never arrived; they are in that worker's own journal",
                self.source,
                self.have,
                shipment.start,
            )
        self.have = shipment.end
        return raw
