"""`python manage.py bench NAME [options]`: run one benchmark from `bench/NAME.py`.

A benchmark module defines `add_arguments(parser)` and `run(**options) -> dict`, and may
write progress to stdout as it goes. It runs in a throwaway database (`bench/_scratch.py`).
This command prints the returned figures as the final line, as JSON, so scripts read the
last line and people read the rest; it adds `database` (engine and version) and
`peak_rss_mib` to every benchmark's figures (`bench/_figures.py`).
"""

import importlib
import json
import pkgutil
from argparse import ArgumentParser
from decimal import Decimal
from typing import Any

from django.core.management.base import BaseCommand, CommandError

import bench
from bench._figures import database_description, peak_rss
from bench._scratch import scratch_database


def _available() -> list[str]:
    return sorted(
        m.name
        for m in pkgutil.iter_modules(bench.__path__)
        if not m.name.startswith("_") and not m.ispkg  # bench/tests is no benchmark
    )


class Command(BaseCommand):
    help = "Run a benchmark; the last line printed is its figures as JSON."

    def create_parser(self, prog_name: str, subcommand: str, **kwargs: Any) -> ArgumentParser:
        parser = super().create_parser(prog_name, subcommand, **kwargs)
        subparsers = parser.add_subparsers(dest="name", metavar="NAME", required=True)
        for name in _available():
            module = importlib.import_module(f"bench.{name}")
            sub = subparsers.add_parser(name, help=(module.__doc__ or "").strip().split("\n")[0])
            module.add_arguments(sub)
        return parser

    def handle(self, *args: Any, **options: Any) -> None:
        name = options.pop("name")
        if name not in _available():
            raise CommandError(f"Unknown benchmark {name!r}; available: {', '.join(_available())}")
        module = importlib.import_module(f"bench.{name}")
        database = database_description()  # before the bench: it may swap databases
        if getattr(module, "SCRATCH", True):
            with scratch_database(name):
                figures = module.run(stdout=self.stdout, **options)
        else:
            figures = module.run(stdout=self.stdout, **options)
        figures = {"bench": name, **figures, "database": database, **peak_rss()}
        self.stdout.write(json.dumps(figures, default=_json_default))


def _json_default(value: object) -> object:
    if isinstance(value, Decimal):
        return str(value)
    raise TypeError(f"Cannot encode {type(value).__name__} in bench output")
