"""The rules Bulwark starts with: typical Wise lines booked the usual way.

Account codes are those of Xero's standard chart of accounts (404 Bank Fees, 270
Interest Income, 260 Other Revenue); an organisation with its own chart changes them on
the rules page. Transfers between the owner's own balances carry no account code: the
Xero posting books them through the FX clearing account chosen on the Books page.

The same data serves the first migration (historical models) and the owner's "restore
missing defaults" (current models), so both create identical rules.
"""

from typing import Any

WISE_FEE_DESCRIPTION = r"^(wise\s+)?(fees?|charges?)\b"

DEFAULT_RULES: tuple[dict[str, Any], ...] = (
    {
        "key": "wise-fees",
        "name": "Wise fees → Bank Fees (404)",
        "match": "ANY",
        "notes": "Fee lines Wise books on their own (account and card-order charges, "
        "and lines whose description starts with 'fee' or 'Wise charges').",
        "conditions": (
            {
                "field": "WISE_TYPE",
                "operator": "IS_ONE_OF",
                "value": "ACCRUAL_CHARGE, CARD_ORDER_CHECKOUT",
            },
            {"field": "DESCRIPTION", "operator": "REGEX", "value": WISE_FEE_DESCRIPTION},
        ),
        "actions": (
            {"kind": "TREATMENT", "value": "FEE"},
            {"kind": "ACCOUNT_CODE", "value": "404"},
        ),
    },
    {
        "key": "own-balance-moves",
        "name": "Conversions and moves between own balances and jars → transfer",
        "match": "ANY",
        "notes": "Wise shows jar moves as conversions at rate 1.",
        "conditions": (
            {
                "field": "WISE_TYPE",
                "operator": "IS_ONE_OF",
                "value": "CONVERSION, INCOMING_CROSS_BALANCE, OUTGOING_CROSS_BALANCE",
            },
        ),
        "actions": ({"kind": "TREATMENT", "value": "TRANSFER"},),
    },
    {
        "key": "balance-interest",
        "name": "Balance interest → Interest Income (270)",
        "match": "ALL",
        "notes": "",
        "conditions": (
            {"field": "WISE_TYPE", "operator": "IS_ONE_OF", "value": "BALANCE_INTEREST"},
        ),
        "actions": ({"kind": "ACCOUNT_CODE", "value": "270"},),
    },
    {
        "key": "card-cashback",
        "name": "Card cashback → Other Revenue (260)",
        "match": "ALL",
        "notes": "",
        "conditions": ({"field": "WISE_TYPE", "operator": "IS_ONE_OF", "value": "CARD_CASHBACK"},),
        "actions": ({"kind": "ACCOUNT_CODE", "value": "260"},),
    },
    {
        "key": "money-added",
        "name": "Money added from your own bank → transfer",
        "match": "ALL",
        "notes": "Top-ups from the owner's own bank account are not income.",
        "conditions": ({"field": "WISE_TYPE", "operator": "IS_ONE_OF", "value": "MONEY_ADDED"},),
        "actions": ({"kind": "TREATMENT", "value": "TRANSFER"},),
    },
)


def defaults_install(rule_model: Any, condition_model: Any, action_model: Any) -> list[Any]:
    """Create the default rules that are missing (by key), after the existing rules.

    Takes the model classes so a migration can pass its historical models. Returns the
    rules created; running it again creates nothing.
    """
    existing = set(rule_model.objects.exclude(default_key="").values_list("default_key", flat=True))
    last = rule_model.objects.order_by("-position").values_list("position", flat=True).first()
    position = last or 0
    created = []
    for spec in DEFAULT_RULES:
        if spec["key"] in existing:
            continue
        position += 1
        rule = rule_model.objects.create(
            name=spec["name"],
            match=spec["match"],
            notes=spec["notes"],
            default_key=spec["key"],
            position=position,
        )
        condition_model.objects.bulk_create(
            condition_model(rule=rule, **condition) for condition in spec["conditions"]
        )
        action_model.objects.bulk_create(action_model(rule=rule, **a) for a in spec["actions"])
        created.append(rule)
    return created
