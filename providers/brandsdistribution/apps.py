from django.apps import AppConfig


class BrandsdistributionConfig(AppConfig):
    name = "providers.brandsdistribution"
    label = "brandsdistribution"
    verbose_name = "Brandsdistribution provider"
    default_auto_field = "django.db.models.BigAutoField"
