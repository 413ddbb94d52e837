"""Writes of the treasury core: users and their roles, heartbeats."""

from django.contrib.auth.models import Group, User
from django.db import transaction
from django.utils import timezone

from treasury.access import ACCOUNTANT, OWNER, role_groups_sync
from treasury.models import Heartbeat


@transaction.atomic
def user_create_owner(*, username: str, email: str, password: str) -> User:
    """Create (or promote) an owner: a superuser in the owner group."""
    role_groups_sync()
    user, _ = User.objects.get_or_create(username=username)
    user.email = email
    user.is_staff = True
    user.is_superuser = True
    user.is_active = True
    user.set_password(password)
    user.save()
    user.groups.set([Group.objects.get(name=OWNER)])
    return user


@transaction.atomic
def user_create_accountant(*, username: str, email: str, password: str) -> User:
    """Create (or demote) an accountant: staff, view permissions only, never superuser."""
    role_groups_sync()
    user, _ = User.objects.get_or_create(username=username)
    user.email = email
    user.is_staff = True
    user.is_superuser = False
    user.is_active = True
    user.set_password(password)
    user.save()
    user.groups.set([Group.objects.get(name=ACCOUNTANT)])
    return user


def heartbeat_record(*, name: str) -> None:
    Heartbeat.objects.update_or_create(name=name, defaults={"seen_at": timezone.now()})
