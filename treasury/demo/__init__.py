"""The demo business that `manage.py seed_demo` builds (local development only).

`world` starts the four simulators (or loads the snapshots a previous seed left) and
seeds them; `story` holds what makes the demo tell something (the business's habits, a
bank account outside Wise, the rules, the planted differences, the FBAR figures);
`steps` is Bulwark doing its own work against the simulators, step by step.
"""

# The demo's fixed logins, printed by `make run`.
DEMO_USERS = (
    ("owner", "owner", "bulwark-owner-demo"),
    ("accountant", "accountant", "bulwark-accountant-demo"),
)
