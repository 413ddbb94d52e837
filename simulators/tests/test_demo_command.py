"""`manage.py simulators --demo`: the demo world served on its ports, alive and saved."""

import base64
import json
import os
import socket
import subprocess
import sys
import threading
import time
from http.server import BaseHTTPRequestHandler, HTTPServer
from pathlib import Path

import httpx
import pytest
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import padding

from simulators.demo import NAMES, snapshot_path
from simulators.ecb.server import EcbSimulator
from simulators.persist import snapshot_load
from simulators.treasury.server import TreasurySimulator
from simulators.wise.server import WiseSimulator
from simulators.xero.server import XeroSimulator

ROOT = Path(__file__).resolve().parents[2]


def _free_port_run(count: int) -> int:
    """A first port such that it and the next `count - 1` are free now."""
    for _ in range(50):
        with socket.socket() as probe:
            probe.bind(("127.0.0.1", 0))
            base = probe.getsockname()[1]
        if base + count > 65535:
            continue
        try:
            sockets = []
            for port in range(base, base + count):
                s = socket.socket()
                sockets.append(s)
                s.bind(("127.0.0.1", port))
            return base
        except OSError:
            continue
        finally:
            for s in sockets:
                s.close()
    raise RuntimeError("no run of free ports")


class _Webhooks(BaseHTTPRequestHandler):
    received: list[tuple[bytes, str]] = []

    def do_POST(self) -> None:
        body = self.rfile.read(int(self.headers["Content-Length"]))
        self.received.append((body, self.headers["X-Signature-SHA256"]))
        self.send_response(200)
        self.send_header("Content-Length", "0")
        self.end_headers()

    def log_message(self, *args: object) -> None:
        return


@pytest.fixture
def demo_state(tmp_path):
    directory = tmp_path / "simulators"
    servers = {
        "wise": WiseSimulator(seed=3, size=80),
        "xero": XeroSimulator(seed_value=3, auto_consent=True),
        "ecb": EcbSimulator(seed=3),
        "treasury": TreasurySimulator(seed=3),
    }
    for name, server in servers.items():
        server.persist_to(snapshot_path(directory, name))
    return tmp_path, servers


def test_the_demo_simulators_serve_the_snapshots_and_book_live_payments(demo_state):
    var_dir, servers = demo_state
    base = _free_port_run(len(NAMES))
    hooks = HTTPServer(("127.0.0.1", 0), _Webhooks)
    threading.Thread(target=hooks.serve_forever, daemon=True).start()
    env = {**os.environ, "BULWARK_VAR_DIR": str(var_dir), "DEMO_SIM_PORT_BASE": str(base)}
    process = subprocess.Popen(
        [sys.executable, "manage.py", "simulators", "--demo", "--live-every", "0.3",
         "--webhook-url", f"http://127.0.0.1:{hooks.server_address[1]}/webhooks/wise/"],
        cwd=ROOT, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
    )  # fmt: skip
    try:
        urls = json.loads(_line_starting(process, "{"))
        assert urls == {name: f"http://127.0.0.1:{base + i}" for i, name in enumerate(NAMES)}
        state = httpx.get(f"{urls['xero']}/_sim/state").json()
        assert state["name"] == "xero"
        assert httpx.get(f"{urls['wise']}/_sim/state").json()["seed"] == 3
        deadline = time.monotonic() + 20
        while len(_Webhooks.received) < 2 and time.monotonic() < deadline:
            time.sleep(0.1)
        assert len(_Webhooks.received) >= 2, "no live payment webhooks arrived"
    finally:
        process.kill()  # no clean stop: the snapshots written as it went must hold
        process.wait()
        hooks.shutdown()
    key = serialization.load_pem_public_key(servers["wise"].webhook_public_key_pem.encode())
    body, signature = _Webhooks.received[0]
    key.verify(base64.b64decode(signature), body, padding.PKCS1v15(), hashes.SHA256())
    event = json.loads(body)
    assert event["event_type"] == "balances#update"
    reloaded = snapshot_load(snapshot_path(var_dir / "simulators", "wise"))
    assert reloaded.line_count >= servers["wise"].line_count + 2
    refs = {line["referenceNumber"] for b in reloaded.business.balances for line in b.lines}
    assert event["data"]["transfer_reference"] in refs


def test_without_a_seeded_demo_it_says_what_to_run(tmp_path):
    result = subprocess.run(
        [sys.executable, "manage.py", "simulators", "--demo"],
        cwd=ROOT, env={**os.environ, "BULWARK_VAR_DIR": str(tmp_path)},
        capture_output=True, text=True, timeout=60,
    )  # fmt: skip
    assert result.returncode != 0
    assert "run `manage.py seed_demo` first" in result.stderr


def _line_starting(process: subprocess.Popen, prefix: str) -> str:
    assert process.stdout is not None
    for line in process.stdout:
        if line.startswith(prefix):
            return line
    raise AssertionError("the command ended before printing its URLs")


def test_sigterm_stops_the_demo_simulators_cleanly(demo_state):
    var_dir, _ = demo_state
    base = _free_port_run(len(NAMES))
    env = {**os.environ, "BULWARK_VAR_DIR": str(var_dir), "DEMO_SIM_PORT_BASE": str(base)}
    process = subprocess.Popen(
        [sys.executable, "manage.py", "simulators", "--demo", "--only", "treasury"],
        cwd=ROOT, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
    )  # fmt: skip
    _line_starting(process, "{")
    before = snapshot_path(var_dir / "simulators", "treasury").stat().st_mtime_ns
    process.terminate()
    assert process.wait(timeout=20) == 0
    assert snapshot_path(var_dir / "simulators", "treasury").stat().st_mtime_ns > before
