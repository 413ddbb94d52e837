"""Reading the organisation's settings and chart from Xero, and creating what the mapping
needs there (bank accounts, currencies, the fee, FX clearing and suspense accounts) when
Bulwark is allowed to write."""

from __future__ import annotations

from django.db import transaction
from django.utils import timezone

from accounts.models import CashAccount, Institution
from ledger.mapping import (
    SPECIAL_ACCOUNTS,
    MappingError,
    bank_account_name,
    free_name,
    names_taken,
    special_name,
)
from ledger.models import (
    ChartAccount,
    Organisation,
    TaxRate,
    TrackingOption,
)
from ledger.xero.client import AccountInfo, XeroClient


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
    name = free_name(name or bank_account_name(cash), names_taken(organisation))
    number = cash.account_number or f"WISE-{cash.wise_balance_id or cash.pk}"
    if cash.institution.kind != Institution.Kind.WISE and not cash.account_number:
        number = f"BULWARK-{cash.pk}"
    created = client.account_create(
        code="", name=name, type_="BANK", currency=currency, bank_account_number=number
    )
    return account_store(organisation, created)


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
