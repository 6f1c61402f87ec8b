"""Free loopback ports for tests that need several consecutive ones (a receiver port base)."""

import random
import socket

# Below Linux's ephemeral range (32768-60999), so that no outgoing connection of the test's own
# processes can take the port between this check and the bind.
_LOW, _HIGH = 20_000, 32_000


def free_consecutive_ports(count: int) -> int:
    """The first of `count` consecutive ports that were all free a moment ago."""
    rng = random.Random()
    for _ in range(200):
        base = rng.randrange(_LOW, _HIGH - count)
        sockets = []
        try:
            for offset in range(count):
                sock = socket.socket()
                sockets.append(sock)
                sock.bind(("127.0.0.1", base + offset))
            return base
        except OSError:
            continue
        finally:
            for sock in sockets:
                sock.close()
    raise RuntimeError(f"no {count} consecutive free ports on loopback")
