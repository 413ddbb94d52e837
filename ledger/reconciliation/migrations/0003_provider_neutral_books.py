"""A balance check compares the books' figure, whichever provider keeps them: its columns
are renamed in place (every stored check carried across unchanged)."""

from django.db import migrations


class Migration(migrations.Migration):
    dependencies = [
        ("reconciliation", "0002_accept_with_the_right_side"),
        ("ledger", "0004_provider_neutral_books"),
    ]

    operations = [
        migrations.RenameField("balancecheck", "xero_account", "chart_account"),
        migrations.RenameField("balancecheck", "xero_minor", "books_minor"),
        migrations.RenameField("balancecheck", "xero_read_at", "books_read_at"),
    ]
