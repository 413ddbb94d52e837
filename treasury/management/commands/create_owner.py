from treasury.management.userrole import RoleUserCommand
from treasury.services import user_create_owner


class Command(RoleUserCommand):
    help = "Create or update an owner (full control)."
    role = "owner"
    create = staticmethod(user_create_owner)
