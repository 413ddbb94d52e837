"""`python manage.py seed_demo [--reset] [--seed N]`: the demo business, end to end.

Starts the simulators (or loads what the last seed left), then has Bulwark do its work
over HTTP step by step (`treasury.demo.steps`), printing one line a step, a summary,
and a final JSON line. Running it again changes nothing; `--reset` starts afresh.
"""

from __future__ import annotations

import json
import time
from datetime import date
from pathlib import Path
from typing import Any

from django.contrib.auth.models import User
from django.core.management import call_command
from django.core.management.base import BaseCommand, CommandError, CommandParser
from django.db.models import Count
from django.test.utils import override_settings
from django.utils import timezone

from accounts.models import CashAccount, Transaction, WiseConnection
from ledger.models import Organisation, Posting
from ledger.reconciliation.models import Mismatch
from simulators.demo import DEMO_PORTS, NAMES, demo_settings, state_dir
from simulators.wise.generator import PROFILE_BUSINESS
from treasury.demo import DEMO_USERS, story
from treasury.demo.steps import STEPS, Context, StepFailed
from treasury.demo.world import (
    World,
    WorldError,
    running_name,
    snapshots_delete,
    world_open,
    world_span,
    xero_minute_limit_lifted,
)
from treasury.fbar.selectors import fbar_year


class Command(BaseCommand):
    help = (
        "Seed the demo: a U.S. freelancer's Wise, Xero, rates and FBAR, worked by Bulwark "
        "against the simulators. Idempotent; --reset starts afresh."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--reset", action="store_true", help="Wipe the demo, then seed.")
        parser.add_argument("--seed", type=int, default=1, help="Seed of the demo world.")
        parser.add_argument(
            "--size", type=int, default=story.DEFAULT_SIZE,
            help="About how many Wise statement lines (a fresh world only).",
        )  # fmt: skip
        parser.add_argument(
            "--sim-port-base", type=int, default=None,
            help="First simulator port (the rest follow); 0 picks free ports. "
            "Default: the demo ports `make run` uses.",
        )  # fmt: skip
        parser.add_argument("--state-dir", type=Path, default=None, help=f"Default: {state_dir()}")

    def handle(self, *args: Any, **options: Any) -> None:
        clock = time.monotonic()
        directory = options["state_dir"] or state_dir()
        ports = self._ports(options["sim_port_base"])
        today = timezone.localdate()
        stranger = _not_the_demo()
        if stranger:
            raise CommandError(
                f"This database holds {stranger}, which is not the demo's: seed_demo (and "
                "its --reset, which empties the database) runs only on a database of its own."
            )
        if options["reset"]:
            self._reset(directory, ports)
        elif not _demo_in_database():
            snapshots_delete(directory)  # a world the database no longer knows is stale
        try:
            with world_open(
                seed=options["seed"], size=options["size"], ports=ports,
                state_dir=directory, today=today,
            ) as world:  # fmt: skip
                self._world_check(world)
                self._line("Simulators", _world_describe(world), clock)
                ctx = Context(
                    today=today,
                    start=world_span(today)[0].date(),
                    xero=world.servers.get("xero"),  # type: ignore[arg-type]
                    wise=world.servers.get("wise"),  # type: ignore[arg-type]
                )
                with (
                    override_settings(**demo_settings(world.urls)),
                    xero_minute_limit_lifted(world),
                ):
                    self._steps(ctx)
        except (WorldError, StepFailed) as exc:
            raise CommandError(str(exc)) from exc
        self._summary(options["seed"], today, time.monotonic() - clock)

    # --- the parts ---------------------------------------------------------------------------

    @staticmethod
    def _ports(base: int | None) -> dict[str, int]:
        if base is None:
            return dict(DEMO_PORTS)
        return {name: base + offset if base else 0 for offset, name in enumerate(NAMES)}

    def _reset(self, directory: Path, ports: dict[str, int]) -> None:
        if any(port and running_name(port) for port in ports.values()):
            raise CommandError(
                "The demo simulators are running (make run?): stop them before --reset."
            )
        call_command("flush", interactive=False, verbosity=0)
        removed = snapshots_delete(directory)
        self.stdout.write(f"Reset: database flushed, {removed} simulator snapshots removed")

    @staticmethod
    def _world_check(world: World) -> None:
        if world.fresh and _demo_in_database():
            raise WorldError(
                f"The database holds the demo but the {', '.join(sorted(world.fresh))} "
                "simulator's state is gone: run `manage.py seed_demo --reset`."
            )

    def _steps(self, ctx: Context) -> None:
        for number, step in enumerate(STEPS, start=1):
            started = time.monotonic()
            label = f"{number:>2}. {step.name}"
            if step.done(ctx):
                self._line(label, "already done", started)
                continue
            self._line(label, step.run(ctx), started)

    def _line(self, label: str, text: str, started: float) -> None:
        self.stdout.write(f"{label:<46} {text}  [{time.monotonic() - started:.1f} s]")

    def _summary(self, seed: int, today: date, seconds: float) -> None:
        figures = demo_figures(today)
        this_year, last_year = today.year, today.year - 1
        self.stdout.write("")
        self.stdout.write(
            f"Demo ready: {figures['transactions']} lines on {figures['cash_accounts']} "
            f"accounts, {figures['postings']} posted to Xero, {figures['mismatches']} "
            "mismatches open."
        )
        self.stdout.write(
            f"FBAR {last_year}: ${figures['fbar_aggregate_usd'].get(str(last_year), 0):,}"
            f"{' (filing required)' if figures['fbar_filing_required'] else ''}; "
            f"{this_year}: ${figures['fbar_aggregate_usd'].get(str(this_year), 0):,}"
            f" ({figures['fbar_percent_reached_this_year'] or 0}% alert level)"
        )
        for role, username, password in DEMO_USERS:
            self.stdout.write(f"  {role:<11} login: {username} / {password}")
        self.stdout.write(json.dumps({**figures, "seed": seed, "seconds": round(seconds, 1)}))


def _not_the_demo() -> str:
    """What in the database the demo did not make (a real install's users or Wise
    connection), named for the refusal; empty when there is nothing of the kind."""
    usernames = [username for _, username, _ in DEMO_USERS]
    users = User.objects.exclude(username__in=usernames).values_list("username", flat=True)
    if users:
        return f"the user {users[0]!r}"
    if WiseConnection.objects.exclude(profile_id=PROFILE_BUSINESS).exists():
        return "a Wise connection to a real profile"
    return ""


def _demo_in_database() -> bool:
    """Whether Bulwark already worked on a demo world (whose simulators it depends on)."""
    return WiseConnection.objects.exists() or Organisation.objects.exists()


def _world_describe(world: World) -> str:
    parts = []
    for name in NAMES:
        how = (
            "running elsewhere" if name in world.running_elsewhere
            else "fresh" if name in world.fresh else "from snapshot"
        )  # fmt: skip
        parts.append(f"{name} {how}")
    return ", ".join(parts)


def demo_figures(today: date) -> dict[str, Any]:
    """The counts the final JSON line reports, read from the database; FBAR's from its
    own computation, for last year (filed next spring) and this one (the monitor)."""
    last, this = (fbar_year(year=year, today=today) for year in (today.year - 1, today.year))
    open_ = Mismatch.objects.filter(status=Mismatch.Status.OPEN)
    by_type = open_.values_list("type").annotate(count=Count("id")).order_by("type")
    return {
        "transactions": Transaction.objects.count(),
        "cash_accounts": CashAccount.objects.count(),
        "postings": Posting.objects.filter(state=Posting.State.POSTED).count(),
        "mismatches": open_.count(),
        "mismatches_by_type": dict(by_type),
        "fbar_filing_required": last.filing_required,
        "fbar_aggregate_usd": {str(y.year): y.aggregate_usd for y in (last, this)},
        "fbar_percent_reached_this_year": this.percent_reached,
    }
