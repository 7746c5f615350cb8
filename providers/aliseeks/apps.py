from django.apps import AppConfig


class AliseeksConfig(AppConfig):
    name = "providers.aliseeks"
    label = "aliseeks"
    verbose_name = "Aliseeks provider"
    default_auto_field = "django.db.models.BigAutoField"
