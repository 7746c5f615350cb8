from __future__ import annotations

import importlib

from django.conf import settings
from django.contrib import admin
from django.shortcuts import redirect
from django.urls import URLPattern, URLResolver, include, path
from drf_spectacular.views import SpectacularAPIView, SpectacularRedocView, SpectacularSwaggerView

from config.health import HealthView
from providers.registry import PROVIDER_CHOICES


def _optional(module: str, prefix: str) -> list[URLPattern | URLResolver]:
    try:
        importlib.import_module(module)
    except ModuleNotFoundError as exc:
        if not exc.name or not (module == exc.name or module.startswith(exc.name + ".")):
            raise
        return []
    return [path(prefix, include(module))]


urlpatterns: list[URLPattern | URLResolver] = [
    path("", lambda request: redirect("admin:index")),
    path("healthz", HealthView.as_view(), name="healthz"),
    path("admin/", admin.site.urls),
    path("api/schema/", SpectacularAPIView.as_view(), name="api-schema"),
    path("api/docs/", SpectacularSwaggerView.as_view(url_name="api-schema"), name="api-docs"),
    path("api/redoc/", SpectacularRedocView.as_view(url_name="api-schema"), name="api-redoc"),
    *_optional("config.api_urls", "api/v1/"),
    *_optional("merchants.urls", "merchants/"),
]

if settings.SANDBOX_ENABLED:
    # Each provider's fake wire API (providers/<key>/sandbox.py), for the demo and tests.
    for key, _label in PROVIDER_CHOICES:
        urlpatterns += _optional(f"providers.{key}.sandbox", f"sandbox/{key}/")
