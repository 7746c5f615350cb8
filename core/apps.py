from django.apps import AppConfig


class CoreConfig(AppConfig):
    name = "core"
    verbose_name = "Core"

    def ready(self) -> None:
        from django.conf import settings

        from merchants.crypto import configured_keys

        from . import redaction

        redaction.install_log_redaction()
        # the keys themselves are secrets too (a debug page, a misconfigured log line)
        redaction.register_secret(*configured_keys(), settings.SECRET_KEY)
