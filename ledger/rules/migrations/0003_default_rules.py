"""Create the default rules on the first migrate (the owner edits or deletes them; a
deleted default comes back only through "Restore missing defaults")."""

from django.db import migrations

from ledger.rules.defaults import defaults_install


def install(apps, schema_editor):
    defaults_install(
        apps.get_model("rules", "Rule"),
        apps.get_model("rules", "Condition"),
        apps.get_model("rules", "Action"),
    )


class Migration(migrations.Migration):
    dependencies = [("rules", "0002_rules_runs_history_audit")]

    operations = [migrations.RunPython(install, migrations.RunPython.noop)]
