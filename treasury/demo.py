"""The demo's fixed logins, printed by `make run` (local development only)."""

DEMO_USERS = (
    ("owner", "owner", "bulwark-owner-demo"),
    ("accountant", "accountant", "bulwark-accountant-demo"),
)
