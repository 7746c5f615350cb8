from django.apps import AppConfig


class OrdersConfig(AppConfig):
    name = "orders"
    verbose_name = "Orders"

    def ready(self) -> None:
        self._redact_stored_text()

    @staticmethod
    def _redact_stored_text() -> None:
        """Provider failures become stored text here: secrets are masked before it is saved."""
        from core.redaction import redact_fields_on_save

        from .models import BulkRunItem, Order, OrderEvent, Shipment

        redact_fields_on_save(Order, "failure_reason")
        redact_fields_on_save(OrderEvent, "message", "data")
        redact_fields_on_save(Shipment, "raw_data")
        redact_fields_on_save(BulkRunItem, "message")
