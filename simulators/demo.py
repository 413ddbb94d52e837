"""The demo's simulators: fixed ports, snapshots, and the settings that point Bulwark at them.

`seed_demo` builds the demo world and leaves a snapshot of each simulator under
`state_dir()`; `manage.py simulators --demo` (started by `make run`) serves them again on
`DEMO_PORTS`, saving every change back, and `runstack` hands web, worker and beat the
environment from `demo_settings`. ECB and Treasury are pure functions of their seed and
the day: what their snapshots keep is the seed, and on loading their day moves to today.
"""

from __future__ import annotations

import os
from pathlib import Path

from django.conf import settings
from django.utils import timezone

from simulators.base import SimulatorServer
from simulators.persist import snapshot_load
from simulators.xero import seed as xero_seed

NAMES = ("wise", "xero", "ecb", "treasury")
DEMO_PORT_BASE = int(os.environ.get("DEMO_SIM_PORT_BASE", "8101"))
DEMO_PORTS = {name: DEMO_PORT_BASE + offset for offset, name in enumerate(NAMES)}


def state_dir() -> Path:
    return Path(settings.VAR_DIR) / "simulators"


def snapshot_path(directory: Path, name: str) -> Path:
    return directory / f"{name}.pickle"


def demo_urls(ports: dict[str, int] | None = None, host: str = "127.0.0.1") -> dict[str, str]:
    return {name: f"http://{host}:{port}" for name, port in (ports or DEMO_PORTS).items()}


def demo_settings(urls: dict[str, str]) -> dict[str, str]:
    """Django setting names → values that send Bulwark's clients to the simulators."""
    return {
        "WISE_API_URL": urls["wise"],
        "WISE_SANDBOX_API_URL": urls["wise"],
        "XERO_API_URL": urls["xero"],
        "XERO_IDENTITY_URL": urls["xero"],
        "XERO_LOGIN_URL": urls["xero"],
        "XERO_CLIENT_ID": xero_seed.DEMO_CLIENT_ID,
        "XERO_CLIENT_SECRET": xero_seed.DEMO_CLIENT_SECRET,
        "ECB_URL": urls["ecb"],
        "TREASURY_API_URL": urls["treasury"],
    }


def demo_load(name: str, directory: Path) -> SimulatorServer | None:
    """The simulator `name` as the demo left it (unstarted), or None if never seeded."""
    server = snapshot_load(snapshot_path(directory, name))
    if server is not None and hasattr(server, "today"):  # ECB and Treasury publish daily
        server.today = timezone.now().date()
    return server
