from django.apps import AppConfig


class MerchantsConfig(AppConfig):
    name = "merchants"
    verbose_name = "Merchants and provider accounts"

    def ready(self) -> None:
        from django.db.models.signals import post_delete, post_save

        from core import redaction

        from . import checks  # noqa: F401
        from .crypto import configured_keys
        from .models import AuthorizationRequest, MerchantEvent, ProviderAccount

        redaction.register_secret(*configured_keys())  # the keys are never shown nor logged
        # the display sinks reload the accounts' secrets after an account changed
        redaction.account_secrets_loader = _register_account_secrets
        post_save.connect(redaction.forget_account_secrets, sender=ProviderAccount,
                          dispatch_uid="redaction:account-saved")
        post_delete.connect(redaction.forget_account_secrets, sender=ProviderAccount,
                            dispatch_uid="redaction:account-deleted")
        redaction.redact_fields_on_save(MerchantEvent, "message", "data")
        redaction.redact_fields_on_save(AuthorizationRequest, "failure_reason")


def _register_account_secrets() -> None:
    """Read every account's credentials once: reading the field registers each value with
    core.redaction (merchants.fields); unreadable ones are skipped."""
    from .models import ProviderAccount

    for _account in ProviderAccount.objects.only("pk", "credentials").iterator():
        pass
