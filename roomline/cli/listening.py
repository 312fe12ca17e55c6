"""Check, before the server starts, that it can listen where it is told to.

uvicorn finds out only once it binds, and then says so inside a log record (a JSON line
by default) and exits. Trying the same bind first turns the usual mistakes, a port in
use or a host that is not this machine's, into one ``error: …`` line.
"""

from __future__ import annotations

import errno
import socket

from roomline.cli.common import fail


def check_can_listen(host: str, port: int) -> None:
    """Bind ``host``:``port`` as uvicorn will and let go; fail with one line if it cannot."""
    try:
        addresses = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM, flags=socket.AI_PASSIVE)
    except socket.gaierror as exc:
        fail(f"cannot listen on {host!r}: {exc.strerror}; give --host an address of this machine")
    for family, kind, protocol, _, address in addresses:
        with socket.socket(family, kind, protocol) as sock:
            # As uvicorn does, so a port left in TIME_WAIT by a server just stopped is free.
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
            if family == socket.AF_INET6:
                sock.setsockopt(socket.IPPROTO_IPV6, socket.IPV6_V6ONLY, 1)
            try:
                sock.bind(address)
            except OSError as exc:
                if exc.errno == errno.EADDRINUSE:
                    fail(
                        f"port {port} on {host} is already in use (another roomline?); stop "
                        "what listens there or choose another port with --port"
                    )
                fail(f"cannot listen on {host}:{port}: {exc.strerror}")
