from django.apps import AppConfig


class OrdersConfig(AppConfig):
    name = "orders"
    verbose_name = "Orders"

    # --- bench: thread-safe refresh of FSM-protected fields (orders/fsm_threadsafe.py) ---
    def ready(self) -> None:
        from . import fsm_threadsafe, shortfall

        fsm_threadsafe.install()
        shortfall.install()
