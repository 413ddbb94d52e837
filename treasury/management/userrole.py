"""Shared body of `create_owner` and `create_accountant`."""

import getpass
from collections.abc import Callable
from typing import Any

from django.contrib.auth.models import User
from django.contrib.auth.password_validation import validate_password
from django.core.exceptions import ValidationError
from django.core.management.base import BaseCommand, CommandError, CommandParser


class RoleUserCommand(BaseCommand):
    role = ""
    create: Callable[..., User]

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--username", help="Login name.")
        parser.add_argument("--email", default="", help="Email address for alerts.")
        parser.add_argument(
            "--password",
            help="Password (for scripts; prefer the BULWARK_PASSWORD environment variable).",
        )
        parser.add_argument(
            "--no-input", action="store_true", help="Never prompt; fail when a value is missing."
        )

    def handle(self, *args: Any, **options: Any) -> None:
        import os

        interactive = not options["no_input"]
        username = options["username"] or (interactive and input("Username: ").strip())
        if not username:
            raise CommandError("A username is required (--username).")
        email = options["email"]
        if not email and interactive:
            email = input("Email (optional): ").strip()
        password = options["password"] or os.environ.get("BULWARK_PASSWORD", "")
        if not password and interactive:
            password = getpass.getpass("Password: ")
            if password != getpass.getpass("Password (again): "):
                raise CommandError("The passwords do not match.")
        if not password:
            raise CommandError("A password is required (--password or BULWARK_PASSWORD).")
        try:
            validate_password(password, User(username=username, email=email))
        except ValidationError as exc:
            raise CommandError(" ".join(exc.messages)) from exc
        type(self).create(username=username, email=email, password=password)
        self.stdout.write(self.style.SUCCESS(f"{self.role.capitalize()} '{username}' is ready."))
