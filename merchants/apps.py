from django.apps import AppConfig


class MerchantsConfig(AppConfig):
    name = "merchants"
    verbose_name = "Merchants and provider accounts"

    def ready(self) -> None:
        from django.db.models.signals import post_delete, post_save

        from core.redaction import forget_account_secrets, redact_fields_on_save

        from . import checks  # noqa: F401
        from .models import AuthorizationRequest, MerchantEvent, ProviderAccount

        # the display sinks reload the accounts' secrets after an account changed
        post_save.connect(forget_account_secrets, sender=ProviderAccount,
                          dispatch_uid="redaction:account-saved")
        post_delete.connect(forget_account_secrets, sender=ProviderAccount,
                            dispatch_uid="redaction:account-deleted")
        redact_fields_on_save(MerchantEvent, "message", "data")
        redact_fields_on_save(AuthorizationRequest, "failure_reason")
