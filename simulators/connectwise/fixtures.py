"""Pytest fixtures for the ConnectWise PSA simulator; the root conftest lists this module in
`pytest_plugins`.

- `connectwise_sim`: a started simulator holding the MSP's year up to 2025-12-31 (seed 7),
  its callback retries shortened (50 and 100 ms instead of 2 and 4 s) so tests do not wait.
  A contract violation it saw fails the test; a test that breaks the contract on purpose
  clears `sim.violations` after asserting on them.
- `callback_receiver`: a loopback HTTP server that records the callbacks POSTed to it and
  answers each with the next status of `statuses` (200 once they run out).
"""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import date
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import pytest

from simulators.connectwise.server import ConnectWiseSimulator

UNTIL = date(2025, 12, 31)


@pytest.fixture
def connectwise_sim() -> Iterator[ConnectWiseSimulator]:
    sim = ConnectWiseSimulator(
        seed=7, until=UNTIL, callback_retry_delays=(0.05, 0.1), callback_timeout=2.0
    ).start()
    try:
        yield sim
    finally:
        sim.stop()
    # Every exchange was checked against the extracted spec: a violation the test did not
    # expect (and clear after asserting on it) fails the test, as the suite-wide guard does
    # for the Xero and Wise simulators.
    assert not sim.violations, "\n".join(str(v) for v in sim.violations)


@dataclass
class CallbackReceiver:
    url: str = ""
    received: list[dict[str, Any]] = field(default_factory=list)  # path, headers, payload
    statuses: list[int] = field(default_factory=list)
    lock: threading.Lock = field(default_factory=threading.Lock)

    def wait_for(self, count: int, timeout: float = 5.0) -> list[dict[str, Any]]:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            with self.lock:
                if len(self.received) >= count:
                    return list(self.received)
            time.sleep(0.01)
        with self.lock:
            return list(self.received)


@pytest.fixture
def callback_receiver() -> Iterator[CallbackReceiver]:
    receiver = CallbackReceiver()

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
            with receiver.lock:
                status = receiver.statuses.pop(0) if receiver.statuses else 200
                receiver.received.append(
                    {
                        "path": self.path,
                        "headers": {k.lower(): v for k, v in self.headers.items()},
                        "body": body,
                        "payload": json.loads(body),
                        "status": status,
                    }
                )
            self.send_response(status)
            self.send_header("Content-Length", "0")
            self.end_headers()

        def log_message(self, *args: object) -> None:
            return

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    server.daemon_threads = True
    threading.Thread(target=server.serve_forever, daemon=True).start()
    receiver.url = f"http://127.0.0.1:{server.server_address[1]}"
    try:
        yield receiver
    finally:
        server.shutdown()
        server.server_close()
