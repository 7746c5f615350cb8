from django.apps import AppConfig


class PipelineConfig(AppConfig):
    """The order pipeline: a sale on the sales channel (Tipser) bought from suppliers, their
    tracking sent back to the sales channel."""

    name = "pipeline"
    verbose_name = "Order pipeline"
    default_auto_field = "django.db.models.BigAutoField"

    def ready(self) -> None:
        from orders.admin.common import order_page_panel_register

        from . import receivers
        from .panels import order_pipeline_panel

        receivers.connect()
        order_page_panel_register(order_pipeline_panel)
