from django.apps import AppConfig


class TipserConfig(AppConfig):
    name = "providers.tipser"
    label = "tipser"
    verbose_name = "Tipser provider"
    default_auto_field = "django.db.models.BigAutoField"
