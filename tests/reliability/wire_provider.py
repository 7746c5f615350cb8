"""A provider on loopback that misbehaves at the wire: real sockets, real timeouts.

``WireProvider`` reads each HTTP request itself (one request per connection) and answers by
route. The create route (``create=(method, path)``) can be faulted for its first ``times``
requests (``None``: every one) with one of ``FAULTS``; later creates succeed. It counts what
it *received* (complete create requests read off the socket) and what it *accepted* (orders
it created before the fault), and keeps every request with its headers and body, so a test
can assert at the wire that a create was never sent twice or that a host received nothing.

The dead addresses (``refused_url``, ``ConnectTimeoutAddress``, ``DNS_FAILURE_URL``) produce
the failures that happen before a request is sent.
"""

from __future__ import annotations

import contextlib
import json
import socket
import socketserver
import struct
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

# fault name -> (the provider acted on the create before failing?)
FAULTS: dict[str, bool] = {
    "stall_body": True,  # 200 + headers, then the body stalls past the read timeout
    "trickle_headers_then_stall": True,  # headers come a line at a time, then stop
    "trickle_headers_slow": True,  # headers a line at a time, total past the read timeout
    "reset_after_read": True,  # the request is read and acted on, then TCP RST
    "reset_before_acting": False,  # the request is read, then TCP RST without acting
    "truncated_chunked": True,  # 200, chunked body cut off mid-chunk
    "truncated_length": True,  # 200, Content-Length promises more than is sent
    "redirect_307": False,  # 307 to another host
    "redirect_302": False,  # 302 to another host
    "redirect_301": False,
    "redirect_303": False,
    "redirect_308": False,
}
DNS_FAILURE_URL = "http://provider-does-not-exist.invalid"


@dataclass
class Received:
    method: str
    path: str
    headers: dict[str, str]
    body: bytes


@dataclass
class WireProvider:
    host: str = "127.0.0.1"
    create: tuple[str, str] = ("POST", "/orders")
    create_reply: Any = field(default_factory=dict)
    # (method, path) -> callable(accepted: bool) -> (status, json body)
    routes: dict[tuple[str, str], Callable[[bool], tuple[int, Any]]] = field(default_factory=dict)
    fault: str | None = None
    times: int | None = None  # faulty creates: the first `times`; None: all
    stall: float = 2.0  # how long a stalled reply waits before giving up
    gap: float = 0.1  # between trickled header lines
    redirect_to: str = ""

    def __post_init__(self) -> None:
        self.requests: list[Received] = []
        self.creates_received = 0
        self.accepted = 0
        self.lock = threading.Lock()
        self.stopping = threading.Event()
        provider = self

        class Handler(socketserver.StreamRequestHandler):
            def handle(self) -> None:
                # OSError: the client gave up (its timeout) or we reset on purpose
                with contextlib.suppress(OSError):
                    provider._handle(self.connection, self.rfile)

        socketserver.ThreadingTCPServer.allow_reuse_address = True
        self.server = socketserver.ThreadingTCPServer((self.host, 0), Handler)
        self.server.daemon_threads = True
        self.url = f"http://{self.host}:{self.server.server_address[1]}"
        self.thread = threading.Thread(target=self.server.serve_forever, args=(0.05,),
                                       daemon=True)

    def __enter__(self) -> WireProvider:
        self.thread.start()
        return self

    def __exit__(self, *exc: Any) -> None:
        self.stopping.set()
        self.server.shutdown()
        self.server.server_close()

    # --- one request ---------------------------------------------------------------------
    def _handle(self, conn: socket.socket, rfile: Any) -> None:
        line = rfile.readline(65537).decode("latin-1").strip()
        if line.count(" ") < 2:
            return  # not HTTP (e.g. a TLS hello): hang up
        method, target, _version = line.split(" ", 2)
        headers: dict[str, str] = {}
        while True:
            header = rfile.readline(65537).decode("latin-1")
            if header in ("\r\n", "\n", ""):
                break
            name, _, value = header.partition(":")
            headers[name.strip().lower()] = value.strip()
        body = rfile.read(int(headers.get("content-length") or 0))
        path = target.split("?", 1)[0]
        with self.lock:
            self.requests.append(Received(method, target, headers, body))
        if (method, path) == self.create:
            self._create(conn)
            return
        route = self.routes.get((method, path))
        if route is None:  # not part of the scenario: "try later", never a false answer
            self._reply(conn, 503, {"error": f"no route {method} {path} on the loopback"})
            return
        status, reply = route(self.accepted > 0)
        self._reply(conn, status, reply)

    def _create(self, conn: socket.socket) -> None:
        with self.lock:
            self.creates_received += 1
            faulty = self.fault is not None and (
                self.times is None or self.creates_received <= self.times)
            if not faulty or FAULTS[str(self.fault)]:
                self.accepted += 1
        if not faulty:
            self._reply(conn, 200, self.create_reply)
            return
        data = json.dumps(self.create_reply).encode()
        fault = self.fault
        if fault == "stall_body":
            conn.sendall(self._head(200, len(data)))
            self.stopping.wait(self.stall)
        elif fault in ("trickle_headers_then_stall", "trickle_headers_slow"):
            head = [*self._head(200, len(data)).split(b"\r\n")[:-2], b"X-Trickle: 1"]
            for head_line in head:
                conn.sendall(head_line + b"\r\n")
                self.stopping.wait(self.gap)
            if fault == "trickle_headers_then_stall":
                self.stopping.wait(self.stall)
                return
            conn.sendall(b"\r\n" + data)
        elif fault in ("reset_after_read", "reset_before_acting"):
            conn.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
            conn.close()
        elif fault == "truncated_chunked":
            conn.sendall(b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\n"
                         b"Transfer-Encoding: chunked\r\nConnection: close\r\n\r\n"
                         + f"{len(data):x}\r\n".encode() + data[: len(data) // 2])
        elif fault == "truncated_length":
            conn.sendall(self._head(200, len(data) + 100) + data)
        elif str(fault).startswith("redirect_"):
            status = int(fault[-3:])
            conn.sendall(
                f"HTTP/1.1 {status} Moved\r\nLocation: {self.redirect_to}\r\n"
                "Content-Length: 0\r\nConnection: close\r\n\r\n".encode())
        else:  # pragma: no cover - a typo in a test
            raise AssertionError(f"unknown fault {fault}")

    @staticmethod
    def _head(status: int, length: int) -> bytes:
        return (f"HTTP/1.1 {status} OK\r\nContent-Type: application/json\r\n"
                f"Content-Length: {length}\r\nConnection: close\r\n\r\n").encode()

    def _reply(self, conn: socket.socket, status: int, body: Any) -> None:
        data = json.dumps(body).encode()
        conn.sendall(self._head(status, len(data)) + data)


def refused_url() -> str:
    """A loopback address nobody listens on: connection refused."""
    probe = socket.socket()
    probe.bind(("127.0.0.1", 0))
    port = probe.getsockname()[1]
    probe.close()
    return f"http://127.0.0.1:{port}"


class ConnectTimeoutAddress:
    """A listener whose accept queue is full and never drained: a connect times out."""

    def __enter__(self) -> str:
        self.listener = socket.socket()
        self.listener.bind(("127.0.0.1", 0))
        self.listener.listen(0)
        port = self.listener.getsockname()[1]
        self.fillers = []
        for _ in range(3):
            filler = socket.socket()
            filler.setblocking(False)
            with contextlib.suppress(BlockingIOError):
                filler.connect(("127.0.0.1", port))
            self.fillers.append(filler)
        time.sleep(0.05)
        return f"http://127.0.0.1:{port}"

    def __exit__(self, *exc: Any) -> None:
        for sock in [*self.fillers, self.listener]:
            sock.close()
