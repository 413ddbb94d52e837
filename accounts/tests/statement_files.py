"""Helpers for the statement-file tests: the sample files and a view of what is stored."""

import html
from decimal import Decimal
from io import StringIO
from pathlib import Path
from typing import Any

from django.core.files.uploadedfile import SimpleUploadedFile
from django.core.management import call_command

from accounts.models import CashAccount, DailyBalance, Transaction

DATA = Path(__file__).parent / "data" / "statements"


def sample(name: str) -> bytes:
    return (DATA / name).read_bytes()


def sample_text(name: str) -> str:
    return sample(name).decode("utf-8")


def stored_state(account: CashAccount) -> dict[str, Any]:
    """Everything an import may change for an account, to prove a refusal changed nothing."""
    account.refresh_from_db()
    return {
        "lines": list(
            Transaction.objects.filter(account=account)
            .order_by("seq")
            .values_list("natural_key", "amount_minor")
        ),
        "daily": list(
            DailyBalance.objects.filter(account=account)
            .order_by("date")
            .values_list("date", "closing_minor")
        ),
        "opening": account.opening_balance_minor,
        "chain": (account.chain_head, account.chain_length),
    }


def line_by(account: CashAccount, reference: str, direction: str = "DEBIT") -> Transaction:
    return Transaction.objects.get(account=account, reference_number=reference, direction=direction)


def command(*args: str) -> str:
    """`manage.py import_statement …`, its output."""
    out = StringIO()
    call_command("import_statement", *args, stdout=out)
    return out.getvalue()


def upload(client: Any, name: str, data: bytes | None = None, **fields: Any) -> Any:
    """Post a file to the import page as the browser does (htmx), with form fields."""
    content = sample(name) if data is None else data
    post = {"format": "", "account": "", **fields, "file": SimpleUploadedFile(name, content)}
    return client.post("/accounts/import/", post, HTTP_HX_REQUEST="true")


def mt940(
    account: str,
    currency: str,
    opening: str,
    lines: list[tuple[str, str, str]],
    *,
    opened: str,
    closed: str,
    number: int = 1,
) -> str:
    """One MT940 statement as a bank writes it: `lines` are (YYMMDD, signed amount, text),
    amounts with a decimal comma; balances are dated `opened` and `closed` (YYMMDD)."""

    def amount(value: Decimal) -> str:
        return f"{abs(value):.2f}".replace(".", ",")

    def balance(tag: str, day: str, value: Decimal) -> str:
        return f":{tag}:{'D' if value < 0 else 'C'}{day}{currency}{amount(value)}"

    total = Decimal(opening)
    out = [f":20:STMT{closed}{number:03d}", f":25:{account}", f":28C:{number}/1",
           balance("60F", opened, total)]  # fmt: skip
    for day, value, text in lines:
        signed = Decimal(value)
        mark = "D" if signed < 0 else "C"
        reference = f"B{day}{abs(signed):.0f}{len(text):02d}"  # the bank's own, per line
        out += [f":61:{day}{day[2:]}{mark}{amount(signed)}NTRFNONREF//{reference}",
                f":86:{text}"]  # fmt: skip
        total += signed
    out.append(balance("62F", closed, total))
    return "\r\n".join(out) + "\r\n"


def page_text(response: Any) -> str:
    """A page's HTML with runs of whitespace as one space, to find phrases across lines."""
    return " ".join(html.unescape(response.content.decode()).split())


def account_numbered(number: str) -> CashAccount:
    """The account holding `number` (numbers are encrypted, so not filtered in SQL)."""
    return next(a for a in CashAccount.objects.all() if a.account_number == number)
