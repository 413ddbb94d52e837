import json
import time
from typing import Any

from django.core.management.base import BaseCommand, CommandParser

from simulators.registry import SIMULATORS, build


class Command(BaseCommand):
    help = "Run every simulator (Wise, Xero, ECB, Treasury) on loopback ports until Ctrl-C."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--seed", type=int, default=1, help="Seed of the generated data.")
        parser.add_argument(
            "--base-port", type=int, default=0,
            help="First port (the rest follow in order); 0 picks free ports.",
        )  # fmt: skip
        parser.add_argument("--only", action="append", choices=sorted(SIMULATORS))

    def handle(self, *args: Any, **options: Any) -> None:
        names = options["only"] or sorted(SIMULATORS)
        servers = {}
        for offset, name in enumerate(names):
            port = options["base_port"] + offset if options["base_port"] else 0
            servers[name] = build(name, seed=options["seed"], port=port).start()
            self.stdout.write(f"{name:<9} {servers[name].url}")
        self.stdout.write(json.dumps({name: server.url for name, server in servers.items()}))
        try:
            while True:
                time.sleep(3600)
        except KeyboardInterrupt:
            pass
        finally:
            for server in servers.values():
                server.stop()
