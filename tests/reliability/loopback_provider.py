"""A minimal provider sandbox on loopback speaking the fake provider's wire format
(tests/fake_provider.py), for tests that run a real worker process."""

from __future__ import annotations

import json
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs, urlsplit


class LoopbackProvider:
    def __init__(self) -> None:
        self.orders: dict[str, dict[str, Any]] = {}  # by our reference
        self.incoming: list[dict[str, Any]] = []
        self.creates = 0
        self.requests: list[str] = []
        self.hold_creates = threading.Event()  # set: creates block until released
        self.release = threading.Event()
        self.create_arrived = threading.Event()
        self.lock = threading.Lock()
        provider = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args: Any) -> None:
                pass

            def _send(self, status: int, body: Any) -> None:
                data = json.dumps(body).encode()
                try:
                    self.send_response(status)
                    self.send_header("Content-Type", "application/json")
                    self.send_header("Content-Length", str(len(data)))
                    self.end_headers()
                    self.wfile.write(data)
                except OSError:
                    pass  # the client went away (a killed worker)

            def do_GET(self) -> None:
                parts = urlsplit(self.path)
                provider.requests.append(f"GET {parts.path}")
                if parts.path.startswith("/orders/by-ref/"):
                    ref = parts.path.rsplit("/", 1)[1]
                    self._send(200, provider.orders.get(ref, {}))
                elif parts.path.startswith("/orders/"):
                    ext = parts.path.rsplit("/", 1)[1]
                    found = [o for o in provider.orders.values() if str(o["id"]) == ext]
                    self._send(200 if found else 404, found[0] if found else {"error": "nope"})
                elif parts.path == "/incoming":
                    page = int(parse_qs(parts.query).get("page", ["0"])[0])
                    self._send(200, {"pages": 1, "orders": provider.incoming if page == 0 else []})
                else:
                    self._send(404, {"error": "unknown path"})

            def do_POST(self) -> None:
                length = int(self.headers.get("Content-Length") or 0)
                body = json.loads(self.rfile.read(length) or b"{}")
                provider.requests.append(f"POST {self.path}")
                if self.path != "/orders":
                    self._send(404, {"error": "unknown path"})
                    return
                with provider.lock:
                    provider.creates += 1
                    number = provider.creates
                    order = {"id": f"LB-{number}", "status": "NEW", "items": [
                        {"id": f"LB-{number}-{n}", "sku": i["sku"], "qty": i["qty"]}
                        for n, i in enumerate(body.get("items", []))]}
                    provider.orders[body["ref"]] = order  # accepted before replying
                provider.create_arrived.set()
                if provider.hold_creates.is_set():
                    provider.release.wait(timeout=60)
                self._send(200, order)

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)

    def __enter__(self) -> LoopbackProvider:
        self.thread.start()
        return self

    def __exit__(self, *exc: Any) -> None:
        self.release.set()
        self.server.shutdown()
        self.server.server_close()
