from __future__ import annotations

import importlib

from django.conf import settings
from django.contrib import admin
from django.http import HttpRequest, HttpResponse, JsonResponse
from django.shortcuts import redirect
from django.urls import URLPattern, URLResolver, include, path, re_path
from django.views.decorators.csrf import csrf_exempt
from drf_spectacular.views import SpectacularAPIView, SpectacularRedocView, SpectacularSwaggerView

from config.health import HealthView
from providers.registry import PROVIDER_CHOICES


@csrf_exempt
def api_not_found(request: HttpRequest, *args: object, **kwargs: object) -> JsonResponse:
    return JsonResponse({"error": {"code": "not_found", "message": "No such API endpoint."}},
                        status=404)


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

# Anything else under /api/ (an unknown version, a mistyped schema path) answers in the API's
# error shape, also with DEBUG on (Django's debug 404 page ignores handler404).
urlpatterns.append(re_path(r"^api/", api_not_found))


def _is_api(request: HttpRequest) -> bool:
    return request.path.startswith("/api/")


def handler404(request: HttpRequest, exception: Exception | None = None) -> HttpResponse:
    if _is_api(request):
        return api_not_found(request)
    from django.views.defaults import page_not_found

    return page_not_found(request, exception)  # type: ignore[arg-type]


def handler500(request: HttpRequest) -> HttpResponse:
    if _is_api(request):
        return JsonResponse({"error": {"code": "server_error",
                                       "message": "Internal error; it has been logged."}},
                            status=500)
    from django.views.defaults import server_error

    return server_error(request)


if settings.SANDBOX_ENABLED:
    # Each provider's fake wire API (providers/<key>/sandbox.py), for the demo and tests.
    for key, _label in PROVIDER_CHOICES:
        urlpatterns += _optional(f"providers.{key}.sandbox", f"sandbox/{key}/")
