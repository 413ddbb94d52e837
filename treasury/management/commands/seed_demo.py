from typing import Any

from django.core.management.base import BaseCommand

from treasury.demo import DEMO_USERS
from treasury.services import user_create_accountant, user_create_owner


class Command(BaseCommand):
    help = "Seed the demo: the demo owner and accountant logins (idempotent)."

    def handle(self, *args: Any, **options: Any) -> None:
        creators = {"owner": user_create_owner, "accountant": user_create_accountant}
        for role, username, password in DEMO_USERS:
            creators[role](username=username, email=f"{username}@example.com", password=password)
            self.stdout.write(f"{role}: {username} / {password}")
