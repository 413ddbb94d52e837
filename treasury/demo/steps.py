"""Bulwark doing its own work on the demo world, through its services and over HTTP.

Each step says whether its work is already in the database (`done`), so a second run,
or a run after a crash, does only what is missing: running `seed_demo` twice adds no
row anywhere. A step returns a short description of what it did, for the progress line.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import date, timedelta
from typing import Any
from urllib.parse import parse_qs, urlsplit

import httpx
from django.conf import settings
from django.contrib.auth.models import User

from accounts.models import CashAccount, SyncRun, Transaction, WiseConnection
from accounts.wise.services import ConnectionSecrets, wise_connection_save, wise_profiles_fetch
from accounts.wise.sync import wise_connection_sync
from ledger import services as books
from ledger.books.keys import posting_key
from ledger.mapping import mapping_complete
from ledger.models import BooksConnection, Organisation, Posting
from ledger.reconciliation.models import Mismatch
from ledger.reconciliation.services import reconcile
from ledger.rules.models import Action, Condition, Rule, RuleRun
from ledger.rules.services import (
    rule_run_execute,
    rule_run_start,
    rule_save,
    rules_defaults_restore,
)
from ledger.selectors import lines_unposted
from simulators.wise.generator import PROFILE_BUSINESS
from simulators.wise.server import SIM_TOKEN, WiseSimulator
from simulators.xero.server import XeroSimulator
from treasury.demo import DEMO_USERS, story
from treasury.demo.archive import archive_done, archive_file
from treasury.fbar import thresholds
from treasury.fbar.models import FbarAccount, FbarFiling, MonitorState
from treasury.fbar.services import (
    fbar_filing_record,
    fbar_flag_set,
    fbar_monitor_run,
    foreign_account_add,
    manual_balance_set,
)
from treasury.fx.models import Rate, Source
from treasury.fx.services import rates_fetch
from treasury.services import user_create_accountant, user_create_owner


class StepFailed(RuntimeError):
    """A step could not do its work; the message says which and why."""


@dataclass
class Context:
    """What the steps share: the day, the span, and the in-process Xero and Wise
    simulators (None when they run in another process: then nothing is planted in them)."""

    today: date
    start: date
    xero: XeroSimulator | None
    wise: WiseSimulator | None = None

    @property
    def owner(self) -> User:
        return User.objects.get(username=DEMO_USERS[0][1])

    @property
    def organisation(self) -> Organisation:
        organisation = Organisation.objects.filter(connections__status="CONNECTED").first()
        if organisation is None:
            raise StepFailed("Xero is not connected")
        return organisation


@dataclass(frozen=True)
class Step:
    name: str
    done: Callable[[Context], bool]
    run: Callable[[Context], str]


# --- users and Wise --------------------------------------------------------------------------


def users_create(ctx: Context) -> str:
    creators = {"owner": user_create_owner, "accountant": user_create_accountant}
    for role, username, password in DEMO_USERS:
        creators[role](username=username, email=f"{username}@example.com", password=password)
    return ", ".join(f"{role} {username}" for role, username, _ in DEMO_USERS)


def _users_done(ctx: Context) -> bool:
    return User.objects.filter(username__in=[u for _, u, _ in DEMO_USERS]).count() == len(
        DEMO_USERS
    )


def wise_connect(ctx: Context) -> str:
    environment = WiseConnection.Environment.LIVE
    profiles = wise_profiles_fetch(token=SIM_TOKEN, environment=environment)
    profile = next((p for p in profiles if p.id == PROFILE_BUSINESS), None)
    if profile is None:
        raise StepFailed("the Wise simulator has no business profile")
    # Wise publishes the key its webhooks are signed with; the simulator serves its own.
    webhook_key = httpx.get(f"{settings.WISE_API_URL}/_sim/webhook-key", timeout=10)
    webhook_key.raise_for_status()
    wise_connection_save(
        profile=profile, environment=environment, sync_start=ctx.start,
        secrets=ConnectionSecrets(api_token=SIM_TOKEN, webhook_public_key=webhook_key.text),
    )  # fmt: skip
    return f"profile {profile.name} ({len(profiles)} profiles readable), webhook key stored"


def _wise_connection() -> WiseConnection | None:
    return WiseConnection.objects.filter(profile_id=PROFILE_BUSINESS).first()


def wise_sync(ctx: Context) -> str:
    connection = _wise_connection()
    assert connection is not None
    run = wise_connection_sync(connection=connection)
    if run.status != SyncRun.Status.SUCCEEDED:
        raise StepFailed(f"Wise sync: {run.error}")
    accounts = CashAccount.objects.filter(wise_profile_id=PROFILE_BUSINESS).count()
    return f"{run.created_count} lines on {accounts} balances"


def _wise_synced(ctx: Context) -> bool:
    connection = _wise_connection()
    return connection is not None and SyncRun.objects.filter(
        kind=SyncRun.Kind.WISE_STATEMENTS, status=SyncRun.Status.SUCCEEDED,
        account__isnull=True, detail__connection=connection.pk,
    ).exists()  # fmt: skip


# --- FBAR: which accounts are foreign, and the bank account outside Wise ----------------------


def _wise_accounts() -> list[CashAccount]:
    return list(CashAccount.objects.filter(wise_profile_id=PROFILE_BUSINESS).order_by("pk"))


def fbar_flags(ctx: Context) -> str:
    foreign = []
    for account in _wise_accounts():
        is_foreign = (account.currency, account.kind) in story.FOREIGN_WISE
        fbar_flag_set(account=account, is_foreign=is_foreign, user=ctx.owner)
        if is_foreign:
            foreign.append(account.currency)
    return "foreign: Wise " + ", ".join(foreign)


def _flags_done(ctx: Context) -> bool:
    ids = [a.pk for a in _wise_accounts()]
    decided = FbarAccount.objects.filter(account_id__in=ids, flag_decided_at__isnull=False)
    return bool(ids) and decided.count() == len(ids)


def german_account_add(ctx: Context) -> str:
    account = foreign_account_add(data=story.GERMAN_ACCOUNT, user=ctx.owner)
    rows = story.german_month_ends(ctx.today)
    for year, month, balance in rows:
        manual_balance_set(
            account=account, year=year, month=month, balance=balance, today=ctx.today
        )
    return f"{account} at {account.institution}: {len(rows)} month-end balances by hand"


def _german_done(ctx: Context) -> bool:
    return CashAccount.objects.filter(
        name=story.GERMAN_ACCOUNT.name, institution__name=story.GERMAN_ACCOUNT.institution_name
    ).exists()


# --- rates, rules ------------------------------------------------------------------------------


def rates(ctx: Context) -> str:
    sinces = {
        Source.ECB: ctx.start - timedelta(days=10),
        Source.TREASURY: date(ctx.start.year - 1, 1, 1),
    }
    told = []
    for source, since in sinces.items():
        outcome = rates_fetch(source=source, since=since)
        if outcome.status != SyncRun.Status.SUCCEEDED:
            raise StepFailed(f"{source} rates: {outcome.message}")
        told.append(f"{source}: {outcome.message}")
    return "; ".join(told)


def _rates_done(ctx: Context) -> bool:
    return all(Rate.objects.filter(source=s).exists() for s in (Source.ECB, Source.TREASURY))


def rules_install(ctx: Context) -> str:
    restored = rules_defaults_restore(user=ctx.owner)
    existing = set(Rule.objects.values_list("name", flat=True))
    added = 0
    for spec in story.DEMO_RULES:
        if spec.name in existing:
            continue
        rule_save(
            rule=Rule(name=spec.name, match=spec.match),
            conditions=[Condition(**c) for c in spec.conditions],
            actions=[Action(**a) for a in spec.actions],
            user=ctx.owner, apply=False,
        )  # fmt: skip
        added += 1
    return f"{len(restored)} default rules restored, {added} demo rules added"


def _rules_done(ctx: Context) -> bool:
    names = {spec.name for spec in story.DEMO_RULES}
    return Rule.objects.filter(name__in=names).count() == len(names)


def categorize(ctx: Context) -> str:
    run = rule_run_start(scope=RuleRun.Scope.ALL, user=ctx.owner, enqueue=False)
    run = rule_run_execute(run_id=run.pk)
    return f"{run.lines_seen} lines seen, {run.lines_changed} categorized"


def _categorized(ctx: Context) -> bool:
    return RuleRun.objects.filter(
        scope=RuleRun.Scope.ALL, sync_run__status=SyncRun.Status.SUCCEEDED
    ).exists()


# --- Xero ----------------------------------------------------------------------------------------


def _redirect_uri() -> str:
    return settings.XERO_REDIRECT_URI or "http://127.0.0.1:8000/books/xero/callback/"


def xero_connect(ctx: Context) -> str:
    """The authorization-code flow with PKCE, as the Books page runs it: Bulwark's start,
    the simulator's consent (given automatically in the demo), Bulwark's finish."""
    started = books.books_connect_start(provider="xero", redirect_uri=_redirect_uri())
    consent = httpx.get(started.url, follow_redirects=False, timeout=10)
    if consent.status_code != 302:
        raise StepFailed(f"Xero consent answered {consent.status_code}")
    query = parse_qs(urlsplit(consent.headers["Location"]).query)
    connection = books.books_connect_finish(
        provider="xero", code=query["code"][0], state=query["state"][0],
        expected_state=started.state, code_verifier=started.code_verifier,
        redirect_uri=_redirect_uri(), user=ctx.owner,
    )  # fmt: skip
    tenant = next(t for t in connection.tenants if t["tenant_name"].endswith("(US)"))
    organisation = books.books_tenant_choose(connection=connection, tenant_id=tenant["tenant_id"])
    return f"{organisation.name} ({len(connection.tenants)} organisations authorised)"


def _xero_connected(ctx: Context) -> bool:
    return BooksConnection.objects.filter(
        status=BooksConnection.Status.CONNECTED, organisation__isnull=False
    ).exists()


def xero_map(ctx: Context) -> str:
    organisation = ctx.organisation
    books.books_mode_set(organisation=organisation, mode=Organisation.Mode.POSTS, user=ctx.owner)
    accounts = _wise_accounts()
    books.books_mapping_save(
        organisation=organisation, bank={a.pk: books.NEW for a in accounts}, fee="404",
        fx_clearing=books.NEW, suspense=books.NEW,
    )  # fmt: skip
    return f"“Bulwark posts”; {len(accounts)} Wise balances → new Xero bank accounts"


def _mapped(ctx: Context) -> bool:
    return _xero_connected(ctx) and not mapping_complete(ctx.organisation)


def xero_push(ctx: Context) -> str:
    run = books.books_push(organisation_id=ctx.organisation.pk)
    if run.status != SyncRun.Status.SUCCEEDED or run.error:
        raise StepFailed(f"push: {run.status} {run.error or run.detail.get('reason', '')}")
    return f"{run.created_count} lines posted in {run.detail.get('calls', '?')} calls"


def _pushed(ctx: Context) -> bool:
    return _mapped(ctx) and not lines_unposted(ctx.organisation).exists()


def story_plant(ctx: Context) -> str:
    """Plant the story's differences in the Xero simulator of this process."""
    assert ctx.xero is not None
    planted = _differences_plant(ctx.xero, ctx.organisation)
    return (
        f"duplicate {planted.duplicate}, fee left out of {planted.missing_fee}, "
        f"{planted.late} dated {story.LATE_DAYS} days late"
    )


def _story_planted(ctx: Context) -> bool:
    if ctx.xero is None:  # a simulator in another process: its state is the demo's own
        return True
    return any(
        e["Contact"]["Name"] == story.NATIVE_FEED_CONTACT for e in ctx.xero.bank_transactions_of()
    )


def xero_pull(ctx: Context) -> str:
    run = books.books_pull(organisation_id=ctx.organisation.pk)
    if run.status != SyncRun.Status.SUCCEEDED:
        raise StepFailed(f"read-back: {run.status} {run.error}")
    return f"{run.created_count} Xero documents read back"


def _pulled(ctx: Context) -> bool:
    return _xero_connected(ctx) and ctx.organisation.last_pull_at is not None


def reconciliation(ctx: Context) -> str:
    run = reconcile(organisation_id=ctx.organisation.pk)
    if run.status != SyncRun.Status.SUCCEEDED:
        raise StepFailed(f"reconciliation: {run.status} {run.error}")
    open_ = Mismatch.objects.filter(status=Mismatch.Status.OPEN).count()
    return f"{open_} mismatches open"


def _reconciled(ctx: Context) -> bool:
    return SyncRun.objects.filter(
        kind=SyncRun.Kind.RECONCILE, status=SyncRun.Status.SUCCEEDED
    ).exists()


def fbar(ctx: Context) -> str:
    result = fbar_monitor_run(today=ctx.today)
    return "; ".join(
        f"{y.year}: ${y.aggregate_usd:,}" + (" (filing required)" if y.filing_required else "")
        for y in result.years
    )


def _fbar_done(ctx: Context) -> bool:
    return MonitorState.objects.filter(year=ctx.today.year).exists()


def fbar_filed(ctx: Context) -> str:
    """The owner filed last year's FinCEN 114 before its April 15 due date, and recorded
    it; before that date this year, it is still due and the dashboard says so."""
    last = ctx.today.year - 1
    filed_on = story.fbar_filed_on(ctx.today)
    state = MonitorState.objects.filter(year=last).first()
    if state is None or not state.filing_required or filed_on is None:
        return f"{last}: nothing to record (due {thresholds.fbar_due(last)[0]:%Y-%m-%d})"
    fbar_filing_record(year=last, filed_on=filed_on, reference="", user=ctx.owner, today=ctx.today)
    return f"{last}: FinCEN 114 filed on {filed_on:%Y-%m-%d}"


def _fbar_filed_done(ctx: Context) -> bool:
    last = ctx.today.year - 1
    state = MonitorState.objects.filter(year=last).first()
    needed = state is not None and state.filing_required and story.fbar_filed_on(ctx.today)
    return not needed or FbarFiling.objects.filter(year=last).exists()


STEPS = (
    Step("Demo logins", _users_done, users_create),
    Step("Connect Wise (token)", lambda ctx: _wise_connection() is not None, wise_connect),
    Step("Sync Wise balances and statements", _wise_synced, wise_sync),
    Step("Decide which accounts are foreign (FBAR)", _flags_done, fbar_flags),
    Step("Add a bank account outside Wise", _german_done, german_account_add),
    Step("Fetch rates (ECB, Treasury)", _rates_done, rates),
    Step("Install rules", _rules_done, rules_install),
    Step("Categorize every line", _categorized, categorize),
    Step("Connect Xero (OAuth)", _xero_connected, xero_connect),
    Step("Choose the mode and map accounts", _mapped, xero_map),
    Step("Post to Xero", _pushed, xero_push),
    Step("Plant the story's differences in Xero", _story_planted, story_plant),
    Step("Read Xero back", _pulled, xero_pull),
    Step("Reconcile", _reconciled, reconciliation),
    Step("FBAR monitor", _fbar_done, fbar),
    Step("Record last year's FBAR filing", _fbar_filed_done, fbar_filed),
    Step("File two years of statements (archive)", archive_done, archive_file),
)


# --- the planted differences ------------------------------------------------------------------


def _posted_element(sim: XeroSimulator, line: Transaction) -> dict[str, Any]:
    key = posting_key(line.pk)
    element = next((e for e in sim.bank_transactions_of() if e["Reference"] == key), None)
    if element is None:
        raise StepFailed(f"line {line.reference_number} is not in Xero")
    return element


def _latest(**filters: Any) -> Transaction:
    """The latest posted Wise line matching `filters`."""
    line = (
        Transaction.objects.filter(
            account__wise_profile_id=PROFILE_BUSINESS, postings__state=Posting.State.POSTED,
            **filters,
        )
        .order_by("-booked_at", "-pk")
        .first()
    )  # fmt: skip
    if line is None:
        raise StepFailed(f"no posted {filters} line to plant a difference on")
    return line


def _differences_plant(sim: XeroSimulator, organisation: Organisation) -> story.Planted:
    usd = CashAccount.objects.get(
        wise_profile_id=PROFILE_BUSINESS, currency="USD", kind=CashAccount.Kind.STANDARD
    )
    # Someone in Xero takes the fee out of a contractor payment.
    paid = _latest(wise_type="TRANSFER", fee_minor__gt=0)
    element = _posted_element(sim, paid)
    sim.bank_transaction_amend(
        element["BankTransactionID"], total=abs(paid.amount) - paid.fee,
        tenant_id=organisation.tenant_id,
    )  # fmt: skip
    # A card payment booked in Xero well after Wise booked it.
    card = _latest(account=usd, wise_type="CARD")
    element = _posted_element(sim, card)
    sim.bank_transaction_amend(
        element["BankTransactionID"], day=card.booked_on + timedelta(days=story.LATE_DAYS),
        tenant_id=organisation.tenant_id,
    )  # fmt: skip
    # Wise's own Xero feed posts a client payment Bulwark posted too. Last: it is what
    # marks the step done, and the amendments above set values derived from the Wise
    # lines, so a run killed before this point repeats them harmlessly.
    payment = _latest(account=usd, wise_type="DEPOSIT")
    mapping = organisation.mappings.select_related("chart_account").get(cash_account=usd)
    sim.native_feed_line(
        account_code=mapping.chart_account.code, amount=payment.amount, day=payment.booked_on,
        reference=payment.reference_number, contact=story.NATIVE_FEED_CONTACT,
        tenant_id=organisation.tenant_id,
    )  # fmt: skip
    return story.Planted(
        duplicate=payment.reference_number,
        missing_fee=paid.reference_number,
        late=card.reference_number,
    )
