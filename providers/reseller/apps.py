from django.apps import AppConfig


class ResellerConfig(AppConfig):
    name = "providers.reseller"
    label = "reseller"
    verbose_name = "Reseller provider"
    default_auto_field = "django.db.models.BigAutoField"
