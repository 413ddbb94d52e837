"""The mapping of cash accounts to the books' bank accounts, whichever provider keeps
them: a same-currency bank account proposed for every cash account, the fee, FX
clearing and suspense accounts suggested, the choices checked and stored, and what still
stops posting. Creating what is missing is the adapter's (`bank_account_ensure`)."""

from __future__ import annotations

from dataclasses import dataclass, field

from django.db import transaction
from django.utils import timezone

from accounts.models import CashAccount, Institution
from ledger.models import BankAccountMapping, ChartAccount, Organisation, PullCursor

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
                f"{organisation.name} cannot hold {cash.currency}: "
                f"{organisation.get_provider_display()} needs a multi-currency plan"
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


NAME_MAX = 150  # Xero's limit on an account name; the longest name Bulwark proposes


def names_taken(organisation: Organisation) -> set[str]:
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
    """What Bulwark would call a new bank account in the books for a cash account: `Wise EUR` or
    `Wise <jar>` for a Wise balance, `<name> (<currency>)` for another bank's account."""
    if cash.institution.kind != Institution.Kind.WISE:
        return f"{cash.name} ({cash.currency})"
    return (
        f"Wise {cash.currency}" if cash.kind == CashAccount.Kind.STANDARD else f"Wise {cash.name}"
    )


def names_proposed(organisation: Organisation, cash_accounts: list[CashAccount]) -> dict[int, str]:
    """For each cash account, in order, the name a "create" would use: free in the
    organisation and among the others proposed (so the label is what gets created)."""
    taken = names_taken(organisation)
    return {cash.pk: free_name(bank_account_name(cash), taken) for cash in cash_accounts}


def special_name(organisation: Organisation, purpose: str) -> str:
    """The name a new fee, clearing or suspense account would get: free in the organisation."""
    return free_name(SPECIAL_ACCOUNTS[purpose][0], names_taken(organisation))


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
            books = organisation.get_provider_display()
            raise MappingError(f"{account.name} is not an active {books} bank account")
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
        missing.append(
            f"map at least one cash account to a {organisation.get_provider_display()} bank account"
        )
    return missing
