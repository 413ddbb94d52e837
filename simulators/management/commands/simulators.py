import json
import random
import signal
import threading
import time
from decimal import Decimal
from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser

from simulators.base import SimulatorServer
from simulators.demo import DEMO_PORTS, NAMES, demo_load, snapshot_path, state_dir
from simulators.registry import SIMULATORS, build


def _interrupt(signum: int, frame: object) -> None:
    raise KeyboardInterrupt


class Command(BaseCommand):
    help = (
        "Run every simulator (Wise, Xero, QuickBooks, ECB, Treasury, ConnectWise) on loopback "
        "ports until Ctrl-C."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--seed", type=int, default=1, help="Seed of the generated data.")
        parser.add_argument(
            "--base-port", type=int, default=0,
            help="First port (the rest follow in order); 0 picks free ports.",
        )  # fmt: skip
        parser.add_argument("--only", action="append", choices=sorted(SIMULATORS))
        parser.add_argument(
            "--demo", action="store_true",
            help="Serve the demo world `seed_demo` left in var/simulators, on the demo "
            "ports, saving every change back (what `make run` starts).",
        )  # fmt: skip
        parser.add_argument(
            "--webhook-url", default="",
            help="Where the Wise simulator sends its signed balance webhooks.",
        )  # fmt: skip
        parser.add_argument(
            "--live-every", type=float, default=0, metavar="SECONDS",
            help="Book a new client payment in Wise this often (0: never), so webhooks "
            "and periodic syncs have something to bring in.",
        )  # fmt: skip

    def handle(self, *args: Any, **options: Any) -> None:
        # A SIGTERM (runstack stopping its children, a supervisor) stops cleanly, as Ctrl-C.
        signal.signal(signal.SIGTERM, _interrupt)
        # The demo serves what `seed_demo` made (not yet QuickBooks or ConnectWise); fresh
        # runs serve all.
        names = options["only"] or (list(NAMES) if options["demo"] else sorted(SIMULATORS))
        servers = self._demo(names) if options["demo"] else self._fresh(names, options)
        stop = threading.Event()
        try:
            for name, server in servers.items():
                server.start()
                self.stdout.write(f"{name:<9} {server.url}")
            wise = servers.get("wise")
            if wise is not None and options["webhook_url"]:
                wise.webhook_url = options["webhook_url"]  # type: ignore[attr-defined]
            if wise is not None and options["live_every"] > 0:
                threading.Thread(
                    target=self._live, args=(wise, options["live_every"], stop), daemon=True
                ).start()
            self.stdout.write(json.dumps({name: s.url for name, s in servers.items()}))
            while not stop.wait(3600):
                pass
        except KeyboardInterrupt:
            pass
        finally:
            stop.set()
            for signame in ("SIGINT", "SIGTERM"):  # a second Ctrl-C must not cut saving short
                signal.signal(getattr(signal, signame), signal.SIG_IGN)
            for server in servers.values():
                server.stop()

    def _live(self, wise: Any, every: float, stop: threading.Event) -> None:
        """A client pays now and then: a credit on a STANDARD balance, webhook and all."""
        rng = random.Random(wise.seed * 7919 + int(time.time()))
        while not stop.wait(every):
            balance = rng.choice([b for b in wise.balances_of() if b.type == "STANDARD"])
            units = {"JPY": 150_000}.get(balance.currency, 1_000)
            amount = Decimal(rng.randint(units // 4, units * 3))
            sender = rng.choice(["Kestrel Labs", "Studio Lumen BV", "Pebble & Pine Ltd"])
            line = wise.transaction_add(balance.id, amount, sender=sender)
            self.stdout.write(
                f"wise: {sender} paid {line['amount']['value']} {balance.currency} (live)"
            )

    @staticmethod
    def _fresh(names: list[str], options: dict[str, Any]) -> dict[str, SimulatorServer]:
        servers = {}
        for offset, name in enumerate(names):
            port = options["base_port"] + offset if options["base_port"] else 0
            servers[name] = build(name, seed=options["seed"], port=port)
        return servers

    @staticmethod
    def _demo(names: list[str]) -> dict[str, SimulatorServer]:
        directory = state_dir()
        servers = {}
        for name in names:
            if name not in DEMO_PORTS:
                raise CommandError(f"{name} is not part of the demo yet")
            server = demo_load(name, directory)
            if server is None:
                raise CommandError(
                    f"No demo state for {name} in {directory}: run `manage.py seed_demo` first."
                )
            server.port = DEMO_PORTS[name]
            servers[name] = server.persist_to(snapshot_path(directory, name))
        return servers
