from django.apps import AppConfig


class CoreConfig(AppConfig):
    name = "core"
    verbose_name = "Core"

    def ready(self) -> None:
        from django.conf import settings

        from . import fsm, redaction

        fsm.install()  # thread-safe refresh of FSM-protected fields (version-guarded)
        redaction.install_log_redaction()
        redaction.register_secret(settings.SECRET_KEY)  # a secret too (debug page, a log line)
