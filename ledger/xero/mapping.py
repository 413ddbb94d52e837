"""Reading the organisation's settings and chart, proposing a same-currency bank account
for every cash account, and creating what is missing (bank accounts, currencies, the
FX clearing and suspense accounts) when Bulwark is allowed to write."""

from __future__ import annotations

from dataclasses import dataclass, field

from django.db import transaction
from django.utils import timezone

from accounts.models import CashAccount, Institution
from ledger.models import (
    BankAccountMapping,
    ChartAccount,
    Organisation,
    PullCursor,
    TaxRate,
    TrackingOption,
)
from ledger.xero.client import AccountInfo, XeroClient

SPECIAL_ACCOUNTS = {
    # purpose: (name, type, candidate codes, words that identify an existing one)
    "fee": ("Bank Fees", "EXPENSE", ("404", "405", "406"), ("bank fee", "bank charge")),
    "fx_clearing": (
        "Cross currency clearing (Bulwark)",
        "CURRENT",
        ("815", "816", "817", "818"),
        ("clearing",),
    ),
    "suspense": ("Suspense (Bulwark)", "CURRLIAB", ("899", "898", "897"), ("suspense",)),
}


class MappingError(ValueError):
    """A mapping choice that cannot be saved; the message names what is wrong."""


@dataclass
class Proposal:
    cash_account: CashAccount
    current: ChartAccount | None
    candidates: list[ChartAccount] = field(default_factory=list)
    suggested: ChartAccount | None = None
    blocked: str = ""  # why no account of this currency can exist in this organisation

    @property
    def needs_new(self) -> bool:
        return self.suggested is None and not self.blocked


def settings_read(organisation: Organisation, client: XeroClient) -> None:
    """Organisation, currencies, chart of accounts, tax rates and tracking categories, as
    Xero has them now (6 calls). What vanished from Xero is kept, marked DELETED, so a
    line or rule still using it can be named."""
    info = client.organisation()
    currencies = client.currencies()
    accounts = client.accounts()
    tax_rates = client.tax_rates()
    tracking = client.tracking_options()
    with transaction.atomic():
        organisation.name = info.name
        organisation.base_currency = info.base_currency
        organisation.multicurrency_allowed = info.multicurrency_allowed
        organisation.currencies = sorted(set(currencies))
        organisation.settings_read_at = timezone.now()
        organisation.save(
            update_fields=[
                "name",
                "base_currency",
                "multicurrency_allowed",
                "currencies",
                "settings_read_at",
            ]
        )
        seen = [account_store(organisation, account).pk for account in accounts]
        ChartAccount.objects.filter(organisation=organisation).exclude(pk__in=seen).update(
            status="DELETED"
        )
        for rate in tax_rates:
            TaxRate.objects.update_or_create(
                organisation=organisation, tax_type=rate.tax_type,
                defaults={"name": rate.name, "status": rate.status},
            )  # fmt: skip
        TaxRate.objects.filter(organisation=organisation).exclude(
            tax_type__in=[r.tax_type for r in tax_rates]
        ).update(status="DELETED")
        for item in tracking:
            TrackingOption.objects.update_or_create(
                organisation=organisation, option_id=item.option_id,
                defaults={
                    "category_id": item.category_id, "category": item.category,
                    "option": item.option, "status": item.status,
                },
            )  # fmt: skip
        TrackingOption.objects.filter(organisation=organisation).exclude(
            option_id__in=[t.option_id for t in tracking]
        ).update(status="DELETED")


def account_store(organisation: Organisation, account: AccountInfo) -> ChartAccount:
    row, _ = ChartAccount.objects.update_or_create(
        organisation=organisation,
        account_id=account.account_id,
        defaults={
            "code": account.code,
            "name": account.name,
            "type": account.type,
            "status": account.status,
            "currency": account.currency or organisation.base_currency,
            "updated_at": timezone.now(),
        },
    )
    return row


def proposals(organisation: Organisation) -> list[Proposal]:
    accounts = list(
        ChartAccount.objects.filter(organisation=organisation, type="BANK", status="ACTIVE")
    )
    mapped = {
        m.cash_account_id: m.chart_account
        for m in BankAccountMapping.objects.filter(organisation=organisation).select_related(
            "chart_account"
        )
    }
    taken = {account.pk for account in mapped.values()}
    result = []
    active = CashAccount.objects.filter(is_active=True).select_related("institution")
    for cash in active.order_by("currency", "name"):
        candidates = [a for a in accounts if a.currency == cash.currency]
        proposal = Proposal(cash_account=cash, current=mapped.get(cash.pk), candidates=candidates)
        if proposal.current is not None:
            proposal.suggested = proposal.current
        else:
            free = [a for a in candidates if a.pk not in taken]
            proposal.suggested = _best_match(cash, free)
            if proposal.suggested is not None:
                taken.add(proposal.suggested.pk)
        if (
            not candidates
            and cash.currency != organisation.base_currency
            and not organisation.multicurrency_allowed
        ):
            proposal.blocked = (
                f"{organisation.name} cannot hold {cash.currency}: Xero needs a multi-currency plan"
            )
        result.append(proposal)
    return result


def _best_match(cash: CashAccount, accounts: list[ChartAccount]) -> ChartAccount | None:
    """Prefer a name that mentions the cash account's name, then Wise, then any."""

    def score(account: ChartAccount) -> tuple[int, int, str]:
        name = account.name.lower()
        return (cash.name.lower() in name, "wise" in name, account.name)

    return max(accounts, key=score) if accounts else None


def special_suggestions(organisation: Organisation) -> dict[str, ChartAccount | None]:
    """An existing account for each of fee, FX clearing and suspense, when one fits."""
    accounts = list(
        ChartAccount.objects.filter(organisation=organisation, status="ACTIVE").exclude(type="BANK")
    )
    chosen = {
        "fee": organisation.fee_account_code,
        "fx_clearing": organisation.fx_clearing_account_code,
        "suspense": organisation.suspense_account_code,
    }
    result: dict[str, ChartAccount | None] = {}
    for purpose, (_name, _type, codes, words) in SPECIAL_ACCOUNTS.items():
        by_code = {a.code: a for a in accounts}
        match = by_code.get(chosen[purpose]) if chosen[purpose] else None
        match = match or next(
            (a for a in accounts if any(w in a.name.lower() for w in words)), None
        )
        if match is None and purpose == "fee":
            match = next((by_code[c] for c in codes if c in by_code), None)
        result[purpose] = match
    return result


NAME_MAX = 150  # Xero's limit on an account name


def _names_taken(organisation: Organisation) -> set[str]:
    """Account names the organisation holds, any status: Xero wants them unique."""
    names = ChartAccount.objects.filter(organisation=organisation).values_list("name", flat=True)
    return {name.casefold() for name in names}


def free_name(name: str, taken: set[str]) -> str:
    """`name`, or `name #2`, `#3`… : the first the organisation does not hold (casefolded
    `taken`, which the chosen name joins)."""
    base, candidate, suffix = name[:NAME_MAX], name[:NAME_MAX], 2
    while candidate.casefold() in taken:
        candidate, suffix = f"{base[: NAME_MAX - 4]} #{suffix}", suffix + 1
    taken.add(candidate.casefold())
    return candidate


def bank_account_name(cash: CashAccount) -> str:
    """What Bulwark would call a new Xero bank account for a cash account: `Wise EUR` or
    `Wise <jar>` for a Wise balance, `<name> (<currency>)` for another bank's account."""
    if cash.institution.kind != Institution.Kind.WISE:
        return f"{cash.name} ({cash.currency})"
    return (
        f"Wise {cash.currency}" if cash.kind == CashAccount.Kind.STANDARD else f"Wise {cash.name}"
    )


def names_proposed(organisation: Organisation, cash_accounts: list[CashAccount]) -> dict[int, str]:
    """For each cash account, in order, the name a "create" would use: free in the
    organisation and among the others proposed (so the label is what gets created)."""
    taken = _names_taken(organisation)
    return {cash.pk: free_name(bank_account_name(cash), taken) for cash in cash_accounts}


def bank_account_create(
    organisation: Organisation, client: XeroClient, cash: CashAccount, name: str = ""
) -> ChartAccount:
    """A Xero bank account in the cash account's currency, adding the currency first,
    named `name` (what the page offered) unless the organisation took it meanwhile."""
    currency = cash.currency
    if currency != organisation.base_currency and not organisation.multicurrency_allowed:
        raise MappingError(
            f"{organisation.name} cannot hold {currency}: Xero needs a multi-currency plan"
        )
    if currency not in organisation.currencies:
        client.currency_add(currency)
        organisation.currencies = sorted({*organisation.currencies, currency})
        organisation.save(update_fields=["currencies"])
    name = free_name(name or bank_account_name(cash), _names_taken(organisation))
    number = cash.account_number or f"WISE-{cash.wise_balance_id or cash.pk}"
    if cash.institution.kind != Institution.Kind.WISE and not cash.account_number:
        number = f"BULWARK-{cash.pk}"
    created = client.account_create(
        code="", name=name, type_="BANK", currency=currency, bank_account_number=number
    )
    return account_store(organisation, created)


def special_name(organisation: Organisation, purpose: str) -> str:
    """The name a new fee, clearing or suspense account would get: free in the organisation."""
    return free_name(SPECIAL_ACCOUNTS[purpose][0], _names_taken(organisation))


def special_account_create(
    organisation: Organisation, client: XeroClient, purpose: str
) -> ChartAccount:
    _name, type_, codes, _words = SPECIAL_ACCOUNTS[purpose]
    name = special_name(organisation, purpose)
    used = set(
        ChartAccount.objects.filter(organisation=organisation).values_list("code", flat=True)
    )
    code = next((c for c in codes if c not in used), None)
    if code is None:
        raise MappingError(f"No free account code for {name}; create it in Xero and choose it")
    created = client.account_create(
        code=code, name=name, type_=type_, currency=organisation.base_currency
    )
    return account_store(organisation, created)


def mapping_save(
    organisation: Organisation,
    *,
    bank: dict[int, ChartAccount],
    fee: str,
    fx_clearing: str,
    suspense: str,
) -> None:
    """Store the choices; refuses a bank account of another currency, a non-bank account
    for a balance, and a bank account as fee, clearing or suspense account."""
    for cash_id, account in bank.items():
        cash = CashAccount.objects.get(pk=cash_id)
        if account.type != "BANK" or account.status != "ACTIVE":
            raise MappingError(f"{account.name} is not an active Xero bank account")
        if account.currency != cash.currency:
            raise MappingError(
                f"{cash.name} holds {cash.currency} but {account.name} is in {account.currency}"
            )
    codes = {"fee": fee, "FX clearing": fx_clearing, "suspense": suspense}
    by_code = {
        a.code: a for a in ChartAccount.objects.filter(organisation=organisation).exclude(code="")
    }
    for purpose, code in codes.items():
        account = by_code.get(code) if code else None
        if code and (account is None or account.type == "BANK" or account.status != "ACTIVE"):
            raise MappingError(f"The {purpose} account must be an active non-bank account")
    with transaction.atomic():
        before = set(
            BankAccountMapping.objects.filter(organisation=organisation).values_list(
                "cash_account_id", "chart_account_id"
            )
        )
        for cash_id, account in bank.items():
            BankAccountMapping.objects.update_or_create(
                organisation=organisation,
                cash_account_id=cash_id,
                defaults={"chart_account": account, "updated_at": timezone.now()},
            )
        organisation.fee_account_code = fee
        organisation.fx_clearing_account_code = fx_clearing
        organisation.suspense_account_code = suspense
        organisation.save(
            update_fields=["fee_account_code", "fx_clearing_account_code", "suspense_account_code"]
        )
        after = set(
            BankAccountMapping.objects.filter(organisation=organisation).values_list(
                "cash_account_id", "chart_account_id"
            )
        )
        if after != before:
            # Newly mapped accounts have history the cursors already passed: read it all.
            PullCursor.objects.filter(organisation=organisation).delete()


def mapping_complete(organisation: Organisation) -> list[str]:
    """What still stops posting, in words (empty when Bulwark can post)."""
    missing = []
    if not organisation.fee_account_code:
        missing.append("choose the bank-fee account")
    if not organisation.fx_clearing_account_code:
        missing.append("choose the FX clearing account")
    if not organisation.suspense_account_code:
        missing.append("choose the suspense account")
    if not BankAccountMapping.objects.filter(organisation=organisation).exists():
        missing.append("map at least one cash account to a Xero bank account")
    return missing
