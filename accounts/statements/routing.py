"""Which cash account each statement of a file belongs to.

A file names its accounts (MT940 `:25:`, CAMT `<Acct><Id>`) in the bank's own notation;
`identifier_normalize` turns the usual ones into one form, so `NL91 ABNA 0417 1643 00`,
`NL91ABNA0417164300EUR` and `/NL91ABNA0417164300` are the same account, and a German
`37040044/0532013000` (bank code / account number) is the IBAN it stands for. A cash
account holds its `account_number` and any further identifiers the owner mapped to it
(`AccountIdentifier`); a statement goes to the account holding its identifier in its
currency. Account numbers are encrypted at rest, so they are compared after decryption:
an install holds tens of accounts, not thousands.
"""

import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass

from django.db import transaction

from accounts.models import AccountIdentifier, CashAccount, Institution

BIC = re.compile(r"^[A-Z]{4}[A-Z]{2}[A-Z0-9]{2}(?:[A-Z0-9]{3})?$")
IBAN = re.compile(r"^[A-Z]{2}\d{2}[A-Z0-9]{11,30}$")
GERMAN_BANK_CODE = re.compile(r"^\d{8}$")
ACCOUNT_DIGITS = re.compile(r"^\d{1,10}$")
CURRENCY_SUFFIX = re.compile(r"^(.*\d)([A-Z]{3})$")
UNNAMED = "the file's account"  # a format that names no account (Wise's CSV)


class StatementAccountsError(ValueError):
    """The file's statements cannot all be given an account; nothing was stored."""

    def __init__(self, message: str, *, unknown: list["FileAccount"] | None = None) -> None:
        super().__init__(message)
        self.unknown = unknown or []


@dataclass(frozen=True, order=True)
class AccountKey:
    """An account as a file names it: its identifier (normalized) and currency."""

    identifier: str
    currency: str

    @property
    def token(self) -> str:
        """`NL91ABNA0417164300:EUR`, as forms and `import_statement --map` name it."""
        return f"{self.identifier}:{self.currency}"

    @classmethod
    def from_token(cls, token: str) -> "AccountKey":
        identifier, _, currency = token.strip().rpartition(":")
        return cls(identifier_normalize(identifier), currency.strip().upper())

    def __str__(self) -> str:
        shown = iban_grouped(self.identifier) if iban_valid(self.identifier) else self.identifier
        return f"{shown or UNNAMED} {self.currency}"


@dataclass(frozen=True)
class FileAccount:
    """What a file says about one of its accounts, for the owner to decide where it goes."""

    key: AccountKey
    written: str  # the identifier as the file writes it
    bank: str
    line_count: int
    first_day: object
    last_day: object
    closing: object  # Decimal or None


@dataclass(frozen=True)
class NewAccount:
    """A cash account to create for a statement whose account Bulwark does not know."""

    name: str
    institution: str


def iban_valid(text: str) -> bool:
    if not IBAN.match(text):
        return False
    rearranged = text[4:] + text[:4]
    return int("".join(str(int(char, 36)) for char in rearranged)) % 97 == 1


def iban_grouped(text: str) -> str:
    return " ".join(text[index : index + 4] for index in range(0, len(text), 4))


def _german_iban(bank_code: str, account: str) -> str:
    bban = bank_code + account.zfill(10)
    digits = "".join(str(int(char, 36)) for char in bban + "DE00")
    return f"DE{98 - int(digits) % 97:02d}{bban}"


def identifier_normalize(text: str) -> str:
    """One form for an account identifier as banks write it (see the module docstring)."""
    value = re.sub(r"\s+", "", text or "").upper().lstrip("/")
    if "/" in value:
        left, right = value.split("/", 1)
        if BIC.match(left) and right:
            value = right
        elif GERMAN_BANK_CODE.match(left) and ACCOUNT_DIGITS.match(right):
            return _german_iban(left, right)
    suffix = CURRENCY_SUFFIX.match(value)
    if (
        suffix
        and not iban_valid(value)
        and (iban_valid(suffix.group(1)) or not re.search(r"[A-Z]", suffix.group(1)))
    ):
        value = suffix.group(1)  # `NL…EUR`, `1291.99.348EUR`: the currency is not the account
    if re.fullmatch(r"[\d.\-]+", value):
        value = value.replace(".", "").replace("-", "")
    return value  # fmt: skip


def _held_identifiers(accounts: Iterable[CashAccount]) -> dict[AccountKey, list[CashAccount]]:
    held: dict[AccountKey, list[CashAccount]] = {}
    for account in accounts:
        numbers = [account.account_number, *(i.identifier for i in account.identifiers.all())]
        for number in {identifier_normalize(n) for n in numbers if n}:
            held.setdefault(AccountKey(number, account.currency), []).append(account)
    return held


def accounts_identified(keys: Iterable[AccountKey]) -> dict[AccountKey, CashAccount]:
    """The cash accounts holding these identifiers in these currencies (two queries)."""
    wanted = {key for key in keys if key.identifier}
    if not wanted:
        return {}
    accounts = CashAccount.objects.prefetch_related("identifiers").order_by("pk")
    held = _held_identifiers(accounts)
    found: dict[AccountKey, CashAccount] = {}
    for key in wanted:
        holders = held.get(key, [])
        if len(holders) > 1:
            names = " and ".join(str(account) for account in holders)
            raise StatementAccountsError(
                f"{key} is the account number of both {names}; remove it from one of them"
            )
        if holders:
            found[key] = holders[0]
    return found


def accounts_resolve(
    *,
    accounts: list[FileAccount],
    account: CashAccount | None,
    mapping: Mapping[AccountKey, CashAccount | NewAccount],
    create: bool = False,
) -> dict[AccountKey, CashAccount | NewAccount]:
    """Where each of the file's accounts goes, or StatementAccountsError naming those
    without a home (`unknown`). `account` is the owner's choice for a file holding one
    account; `mapping` the choices for accounts Bulwark does not know; `create` makes a
    new bank account for each account still without one."""
    keys = [item.key for item in accounts]
    known = accounts_identified(keys)
    if account is not None:
        if len(keys) > 1:
            raise StatementAccountsError(
                f"this file holds {len(keys)} accounts ({_listed(accounts)}); choose where "
                "each goes instead of one account for the file",
                unknown=[item for item in accounts if item.key not in known],
            )
        if keys and keys[0] in known and known[keys[0]].pk != account.pk:
            raise StatementAccountsError(
                f"this file is the statement of {known[keys[0]]} ({keys[0]}), not of {account}"
            )
        return dict.fromkeys(keys, account)
    routes: dict[AccountKey, CashAccount | NewAccount] = {}
    for key in keys:
        chosen, holder = mapping.get(key), known.get(key)
        if chosen is not None and holder is not None and getattr(chosen, "pk", None) != holder.pk:
            raise StatementAccountsError(f"{key} is already the account {holder}")
        target = holder or chosen
        if target is not None:
            routes[key] = target
    if create:
        for item in accounts:
            routes.setdefault(item.key, NewAccount(account_name_suggest(item), bank_name(item)))
    unknown = [item for item in accounts if item.key not in routes]
    if unknown:
        raise StatementAccountsError(
            f"nothing was stored: the file names {_count(unknown)} Bulwark does not know "
            f"({_listed(unknown)}); choose or create an account for each",
            unknown=unknown,
        )
    return routes


def _listed(accounts: list[FileAccount]) -> str:
    return ", ".join(f"{item.key} ({item.line_count} lines)" for item in accounts)


def _count(accounts: list[FileAccount]) -> str:
    return "an account" if len(accounts) == 1 else f"{len(accounts)} accounts"


def account_create(*, key: AccountKey, new: NewAccount) -> CashAccount:
    """A bank account for a file's statement, at an institution found by name or made."""
    name = new.institution.strip() or "Bank"
    institution = Institution.objects.filter(name__iexact=name).first()
    if institution is None:
        country = key.identifier[:2] if iban_valid(key.identifier) else ""
        institution = Institution.objects.create(
            name=name[:200], kind=Institution.Kind.BANK, country=country
        )
    return CashAccount.objects.create(
        institution=institution,
        name=(new.name.strip() or f"{name} {key.currency}")[:200],
        currency=key.currency,
        kind=CashAccount.Kind.CHECKING,
        account_number=key.identifier,
    )


@transaction.atomic
def identifier_remember(*, account: CashAccount, key: AccountKey) -> None:
    """Let later files find the account by this identifier: as its number when it has
    none, else as one more identifier."""
    if not key.identifier:
        return
    locked = CashAccount.objects.select_for_update().get(pk=account.pk)
    if identifier_normalize(locked.account_number) == key.identifier:
        return
    if not locked.account_number:
        locked.account_number = key.identifier
        locked.save(update_fields=["account_number"])
        return
    held = {identifier_normalize(i.identifier) for i in locked.identifiers.all()}
    if key.identifier not in held:
        AccountIdentifier.objects.create(account=locked, identifier=key.identifier)


# Banks whose statement files Bulwark reads, by the four letters that open their BIC (and
# the bank code of a Dutch IBAN), to name an account made from a file.
BANK_NAMES = {
    "ABNA": "ABN AMRO", "ASNB": "ASN Bank", "BREX": "mBank", "BUNQ": "bunq",
    "COBA": "Commerzbank", "DEUT": "Deutsche Bank", "INGB": "ING", "KNAB": "Knab",
    "RABO": "Rabobank", "RBRB": "RegioBank", "SNSB": "SNS", "TRIO": "Triodos Bank",
    "TRWI": "Wise",
}  # fmt: skip


def bank_name(item: FileAccount) -> str:
    """The bank of a file's account: known by its BIC or Dutch IBAN, else as the file
    names it."""
    identifier = item.key.identifier
    code = identifier[4:8] if identifier.startswith("NL") and iban_valid(identifier) else ""
    if not code and BIC.match(item.bank):
        code = item.bank[:4]
    return BANK_NAMES.get(code, item.bank) or "Bank"


def account_name_suggest(item: FileAccount) -> str:
    tail = item.key.identifier[-4:]
    return f"{bank_name(item)} {item.key.currency}" + (f" ••{tail}" if tail else "")
