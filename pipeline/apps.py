from django.apps import AppConfig


class PipelineConfig(AppConfig):
    """The order pipeline: a sale on the sales channel (Tipser) bought from suppliers, their
    tracking sent back to the sales channel."""

    name = "pipeline"
    verbose_name = "Order pipeline"
    default_auto_field = "django.db.models.BigAutoField"

    def ready(self) -> None:
        from . import receivers

        receivers.connect()
