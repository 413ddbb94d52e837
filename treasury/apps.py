import logging
from typing import Any

from django.apps import AppConfig
from django.contrib.auth.signals import user_login_failed
from django.db.models.signals import post_migrate

security_log = logging.getLogger("bulwark.security")


def _log_failed_login(
    sender: Any, credentials: dict[str, Any], request: Any = None, **_: Any
) -> None:
    from treasury.security import client_address

    address = (client_address(request) if request is not None else None) or "?"
    security_log.warning(
        "Failed sign-in for username=%r from %s", credentials.get("username"), address
    )


class TreasuryConfig(AppConfig):
    name = "treasury"
    verbose_name = "Treasury"

    def ready(self) -> None:
        from treasury import access, security  # noqa: F401 - security registers its check

        # After every migrate, so view permissions of models added later reach the
        # accountant without anyone remembering to grant them.
        post_migrate.connect(access.role_groups_sync, dispatch_uid="treasury.role_groups_sync")
        user_login_failed.connect(_log_failed_login, dispatch_uid="treasury.log_failed_login")
