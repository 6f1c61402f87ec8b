"""Several hosts on one machine: network namespaces joined by veth pairs and a bridge (Debian's iproute2).

Each host is a namespace of its own with one interface, `eth0`, on a private /24, and its own loopback: a
process in one host reaches another only through the bridge, at the other host's address, never over
127.0.0.1. The bridge sits in a namespace of its own, so the machine's own network is not touched.
Needs root (CAP_NET_ADMIN); `available()` says whether this machine can.
"""

from __future__ import annotations

import os
import random
import shutil
import subprocess
import uuid
from dataclasses import dataclass


def _ip(*args: str) -> None:
    result = subprocess.run(["ip", *args], capture_output=True, text=True, timeout=30)
    if result.returncode != 0:
        raise RuntimeError(f"ip {' '.join(args)}: {result.stderr.strip()}")


def available() -> str | None:
    """None when namespaces can be built here, else why not (for a skip note)."""
    if os.geteuid() != 0:
        return "network namespaces need root"
    if shutil.which("ip") is None:
        return "iproute2's `ip` is not installed"
    probe = f"cl-probe-{uuid.uuid4().hex[:6]}"
    try:
        _ip("netns", "add", probe)
    except RuntimeError as exc:
        return f"cannot create a network namespace: {exc}"
    _ip("netns", "del", probe)
    return None


@dataclass(frozen=True)
class Host:
    namespace: str
    address: str

    def command(self, *argv: str) -> list[str]:
        """`argv` run inside this host."""
        return ["ip", "netns", "exec", self.namespace, *argv]


class Network:
    """Hosts on one bridged /24 (10.<a>.<b>.0/24, picked at random), torn down on exit."""

    def __init__(self, *names: str) -> None:
        self._id = uuid.uuid4().hex[:6]
        self._switch = f"cl-{self._id}-sw"
        a, b = random.randrange(100, 250), random.randrange(0, 255)
        self.hosts = {
            name: Host(f"cl-{self._id}-{name}", f"10.{a}.{b}.{n}") for n, name in enumerate(names, start=2)
        }
        self._made: list[str] = []

    def __enter__(self) -> Network:
        try:
            self._add(self._switch)
            _ip("-n", self._switch, "link", "add", "br0", "type", "bridge")
            _ip("-n", self._switch, "link", "set", "br0", "up")
            for n, host in enumerate(self.hosts.values()):
                self._add(host.namespace)
                port = f"p{n}"  # the bridge's side of this host's cable
                _ip("-n", self._switch, "link", "add", port, "type", "veth", "peer", "name", "eth0",
                    "netns", host.namespace)  # fmt: skip
                _ip("-n", self._switch, "link", "set", port, "master", "br0", "up")
                _ip("-n", host.namespace, "addr", "add", f"{host.address}/24", "dev", "eth0")
                _ip("-n", host.namespace, "link", "set", "eth0", "up")
                _ip("-n", host.namespace, "link", "set", "lo", "up")
        except BaseException:
            self.close()
            raise
        return self

    def _add(self, namespace: str) -> None:
        _ip("netns", "add", namespace)
        self._made.append(namespace)

    def __exit__(self, *exc: object) -> None:
        self.close()

    def close(self) -> None:
        # Deleting a namespace deletes its end of each veth pair, and so the pair.
        for namespace in reversed(self._made):
            subprocess.run(["ip", "netns", "del", namespace], capture_output=True, timeout=30)
        self._made.clear()

    def __getitem__(self, name: str) -> Host:
        return self.hosts[name]
