"""The demo's simulators: loaded from the snapshots a previous seed left, else built fresh
from the seed; started in this process on loopback, or found already running.

`make run` keeps a simulators process on the demo ports. When `seed_demo` runs beside
it, a port answers `/_sim/state` with the expected simulator's name, and that running
one is used instead (its state is the demo's; nothing is planted in it).
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time
from pathlib import Path

import httpx
from django.test import override_settings

from simulators.base import SimulatorServer
from simulators.demo import NAMES, demo_load, snapshot_path
from simulators.ecb.server import EcbSimulator
from simulators.treasury.server import TreasurySimulator
from simulators.wise.server import WiseSimulator
from simulators.xero.server import Limits, XeroSimulator
from treasury import limits
from treasury.demo import story


class WorldError(RuntimeError):
    """The simulators cannot be started as asked; the message says why."""


@dataclass
class World:
    """The four simulators as this run sees them."""

    urls: dict[str, str]
    servers: dict[str, SimulatorServer] = field(default_factory=dict)  # in this process
    fresh: set[str] = field(default_factory=set)  # built from the seed by this run
    running_elsewhere: set[str] = field(default_factory=set)


def world_span(today: date) -> tuple[datetime, datetime]:
    """1 January two years back → the start of today (UTC): a seed and a day fix the data."""
    return (
        datetime(today.year - 2, 1, 1, tzinfo=UTC),
        datetime.combine(today, time.min, tzinfo=UTC),
    )


def simulator_build(name: str, *, seed: int, size: int, today: date) -> SimulatorServer:
    """A fresh, unstarted simulator of the demo world."""
    if name == "wise":
        start, until = world_span(today)
        return WiseSimulator(
            seed=seed, size=size, start=start, until=until,
            auto_convert=True, draw_above=story.OWNER_FLOAT_USD,
        )  # fmt: skip
    if name == "xero":
        return XeroSimulator(seed_value=seed, auto_consent=True)
    if name == "ecb":
        return EcbSimulator(seed=seed)
    if name == "treasury":
        return TreasurySimulator(seed=seed)
    raise WorldError(f"unknown simulator {name!r}")


def running_name(port: int) -> str | None:
    """The name a simulator on `port` gives, None when nothing answers; raises
    `WorldError` when something that is not a simulator holds the port."""
    try:
        response = httpx.get(f"http://127.0.0.1:{port}/_sim/state", timeout=2)
    except httpx.HTTPError:
        return None
    try:
        return str(response.json()["name"])
    except (ValueError, KeyError, TypeError) as exc:
        raise WorldError(f"port {port} is taken by something that is not a simulator") from exc


@contextmanager
def world_open(
    *, seed: int, size: int, ports: dict[str, int], state_dir: Path, today: date
) -> Iterator[World]:
    """The simulators, started (or found running); stopped again on exit, which saves
    each one's snapshot."""
    world = World(urls={})
    try:
        for name in NAMES:
            port = ports[name]
            if port and (found := running_name(port)) is not None:
                if found != name:
                    raise WorldError(f"port {port} runs the {found} simulator, not {name}")
                world.running_elsewhere.add(name)
                world.urls[name] = f"http://127.0.0.1:{port}"
                continue
            server = demo_load(name, state_dir)
            if server is None:
                server = simulator_build(name, seed=seed, size=size, today=today)
                world.fresh.add(name)
            server.port = port
            server.persist_to(snapshot_path(state_dir, name))
            world.servers[name] = server.start()
            world.urls[name] = server.url
        yield world
    finally:
        for server in world.servers.values():
            server.stop()


def snapshots_delete(state_dir: Path) -> int:
    """Forget the demo world (for `--reset`); the number of snapshots removed."""
    removed = 0
    for name in NAMES:
        path = snapshot_path(state_dir, name)
        if path.exists():
            path.unlink()
            removed += 1
    return removed


@contextmanager
def xero_minute_limit_lifted(world: World) -> Iterator[None]:
    """The seed posts and reads back three years at once, which Xero's 60 calls a minute
    would stretch to minutes of waiting (a real first sync spreads it over the day). The
    in-process simulator lifts that limit while seeding and has Xero's back after, with a
    fresh window; so does Bulwark's own count of it, shared by its hosts (with Redis)."""
    sim = world.servers.get("xero")
    if not isinstance(sim, XeroSimulator):
        yield
        return
    sim.limits_set(minute=10_000)
    try:
        with override_settings(XERO_MINUTE_LIMIT=10_000):
            yield
    finally:
        sim.limits_set(minute=Limits().minute)
        limits.shared_forget("xero_*:window:minute")
