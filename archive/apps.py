from django.apps import AppConfig


class ArchiveConfig(AppConfig):
    name = "archive"
    verbose_name = "Archive"
    default_auto_field = "django.db.models.BigAutoField"

    def ready(self) -> None:
        from archive.status import archive_status_items
        from treasury.cashview.status import register_status_provider

        register_status_provider(archive_status_items)

        from accounts.signals import statement_imported
        from archive.uploads import on_statement_imported

        statement_imported.connect(on_statement_imported, dispatch_uid="archive-statement-file")
