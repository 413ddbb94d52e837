from django.apps import AppConfig


class FbarConfig(AppConfig):
    name = "treasury.fbar"
    label = "fbar"
    verbose_name = "FBAR and FATCA"

    def ready(self) -> None:
        from accounts.signals import lines_stored
        from treasury.fbar.receivers import lines_stored_monitor

        lines_stored.connect(lines_stored_monitor, dispatch_uid="fbar.lines_stored_monitor")
        # The dashboard's status panel is built in parallel; until it is merged there is
        # nothing to register with. (Lead: drop the guard once cashview.status exists.)
        try:
            from treasury.cashview.status import register_status_provider
        except ImportError:
            return
        from treasury.fbar.status import fbar_status_items

        register_status_provider(fbar_status_items)
