"""The books become provider-neutral: the Xero-named models and fields are renamed (tables
and columns renamed in place, so every existing row is carried across unchanged) and the
connected books learn their provider, 'xero' for every organisation connected so far.

Constraints naming a renamed field are dropped before the rename and made again after it
(Django's state does not follow a field's rename into a constraint)."""

from django.db import migrations, models
from django.db.models import Q


class Migration(migrations.Migration):
    dependencies = [
        ("ledger", "0003_tax_rates_and_tracking_options"),
        # Every migration naming the old models runs first.
        ("reconciliation", "0002_accept_with_the_right_side"),
    ]

    operations = [
        migrations.RemoveConstraint(model_name="posting", name="posting_posted_has_id"),
        migrations.RemoveConstraint(model_name="ledgerentry", name="entry_unique"),
        migrations.RemoveConstraint(model_name="xerobankbalance", name="xbalance_unique_day"),
        migrations.RenameModel("XeroOrganisation", "Organisation"),
        migrations.RenameModel("XeroConnection", "BooksConnection"),
        migrations.RenameModel("XeroAccount", "ChartAccount"),
        migrations.RenameModel("XeroTaxRate", "TaxRate"),
        migrations.RenameModel("XeroTrackingOption", "TrackingOption"),
        migrations.RenameModel("XeroBankBalance", "BankBalance"),
        migrations.RenameField("booksconnection", "xero_connection_id", "remote_connection_id"),
        migrations.RenameField("bankaccountmapping", "xero_account", "chart_account"),
        migrations.RenameField("posting", "xero_id", "remote_id"),
        migrations.RenameField("ledgerentry", "xero_id", "remote_id"),
        migrations.RenameField("ledgerentry", "xero_type", "remote_type"),
        migrations.RenameField("ledgerentry", "xero_account", "chart_account"),
        migrations.RenameField("bankbalance", "xero_account", "chart_account"),
        migrations.AddField(
            model_name="organisation",
            name="provider",
            field=models.CharField(
                choices=[("xero", "Xero"), ("quickbooks", "QuickBooks Online")],
                default="xero",
                max_length=12,
            ),
        ),
        migrations.AddConstraint(
            model_name="posting",
            constraint=models.CheckConstraint(
                condition=~Q(state="POSTED") | ~Q(remote_id=""), name="posting_posted_has_id"
            ),
        ),
        migrations.AddConstraint(
            model_name="ledgerentry",
            constraint=models.UniqueConstraint(
                fields=["organisation", "kind", "remote_id", "side"], name="entry_unique"
            ),
        ),
        migrations.AddConstraint(
            model_name="bankbalance",
            constraint=models.UniqueConstraint(
                fields=["organisation", "chart_account", "as_of"], name="balance_unique_day"
            ),
        ),
    ]
