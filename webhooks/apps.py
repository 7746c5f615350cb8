from django.apps import AppConfig


class WebhooksConfig(AppConfig):
    """Outbound webhooks: integrations are told about changes (signed, retried, recorded)."""

    name = "webhooks"
    verbose_name = "Webhooks"
    default_auto_field = "django.db.models.BigAutoField"

    def ready(self) -> None:
        from . import receivers

        receivers.connect()
