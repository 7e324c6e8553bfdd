"""Ports for the servers tests start, which no other test process can take first.

A port the kernel hands out for ``bind(("127.0.0.1", 0))`` is free only until the probe closes: a
test running in the other pytest-xdist process, or any outgoing connection, may be handed the same
port before our server binds it. So tests pick below the kernel's ephemeral range (Linux hands out
32768-60999 by default: /proc/sys/net/ipv4/ip_local_port_range), where nothing is handed out, and each
xdist process in its own block of that space, so two test processes never choose the same port.
"""
from __future__ import annotations

import os
import random
import socket

FIRST_PORT = 20000
BLOCK = 3000


def free_port() -> int:
    """A port on 127.0.0.1 that is free now and that no other test process will choose."""
    worker = os.environ.get("PYTEST_XDIST_WORKER", "gw0")
    index = int(worker[2:]) if worker[2:].isdigit() else 0
    first = FIRST_PORT + (index % 4) * BLOCK
    for port in random.sample(range(first, first + BLOCK), 200):
        with socket.socket() as probe:
            try:
                probe.bind(("127.0.0.1", port))
            except OSError:
                continue
            return port
    raise RuntimeError(f"no free port in {first}-{first + BLOCK - 1}")
