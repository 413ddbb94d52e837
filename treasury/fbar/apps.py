from django.apps import AppConfig


class FbarConfig(AppConfig):
    name = "treasury.fbar"
    label = "fbar"
    verbose_name = "FBAR and FATCA"

    def ready(self) -> None:
        from accounts.signals import lines_stored
        from treasury.fbar.receivers import lines_stored_monitor

        lines_stored.connect(lines_stored_monitor, dispatch_uid="fbar.lines_stored_monitor")
        from treasury.cashview.status import register_status_provider
        from treasury.fbar.status import fbar_status_items

        register_status_provider(fbar_status_items)
