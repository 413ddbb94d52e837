from treasury.management.userrole import RoleUserCommand
from treasury.services import user_create_accountant


class Command(RoleUserCommand):
    help = "Create or update an accountant (read-only everywhere)."
    role = "accountant"
    create = staticmethod(user_create_accountant)
