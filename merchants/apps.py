from django.apps import AppConfig


class MerchantsConfig(AppConfig):
    name = "merchants"
    verbose_name = "Merchants and provider accounts"

    def ready(self) -> None:
        from . import checks  # noqa: F401
