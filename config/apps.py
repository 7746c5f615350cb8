from __future__ import annotations

from django.apps import AppConfig


class ConfigConfig(AppConfig):
    """The project's own wiring: deploy checks, health checks, logging context."""

    name = "config"
    label = "dropdesk_config"

    def ready(self) -> None:
        from . import checks, observability  # noqa: F401  (registers checks and signals)
