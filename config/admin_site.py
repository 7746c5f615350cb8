"""The admin site: the dashboard as its home, sandbox tables grouped under "Sandboxes" and only
when ``SANDBOX_ENABLED``. Through Django's documented hooks (``AdminConfig.default_site``,
``AdminSite.index_template`` / ``index`` / ``get_app_list``): no stock template is copied."""

from __future__ import annotations

from typing import Any

from django.conf import settings
from django.contrib import admin
from django.contrib.admin.apps import AdminConfig
from django.http import HttpRequest
from django.template.response import TemplateResponse
from django.urls import URLPattern, URLResolver

SANDBOXES = {"name": "Sandboxes", "app_label": "sandboxes", "app_url": "", "has_module_perms": True}


def is_sandbox_model(model: type) -> bool:
    """A provider sandbox's own table (providers/<key>/sandbox.py keeps its state there)."""
    return model._meta.app_config.name.startswith("providers.") and model.__name__.startswith("Sandbox")  # type: ignore[attr-defined,union-attr]


class DropdeskAdminSite(admin.AdminSite):
    site_header = "dropdesk"
    site_title = "dropdesk"
    index_title = "Today"
    index_template = "admin/dropdesk_index.html"

    def index(self, request: HttpRequest, extra_context: dict[str, Any] | None = None) -> TemplateResponse:
        context = dict(extra_context or {})
        if request.user.has_perm("orders.view_order"):
            from orders.dashboard import dashboard  # models are ready once a request runs

            context["dd"] = dashboard()
        if request.user.has_perm("pipeline.view_salesrouting"):
            from pipeline.selectors import PIPELINE_CARDS, pipeline_counts

            counts = pipeline_counts()
            context["dd_pipeline"] = [(key, label, query, counts[key])
                                      for key, label, query in PIPELINE_CARDS]
        return super().index(request, context)

    def get_app_list(self, request: HttpRequest, app_label: str | None = None) -> list[Any]:
        apps = super().get_app_list(request, app_label)
        sandbox_models: list[dict[str, Any]] = []
        kept = []
        for app in apps:
            if app.get("app_label") == "sandboxes":
                kept.append(app)
                continue
            models = [m for m in app["models"] if not is_sandbox_model(m["model"])]
            sandbox_models += [m for m in app["models"] if is_sandbox_model(m["model"])]
            if models:
                kept.append({**app, "models": models})
        if sandbox_models and settings.SANDBOX_ENABLED and app_label is None:
            kept.append({**SANDBOXES, "models": sorted(sandbox_models, key=lambda m: m["name"])})
        return kept

    def get_urls(self) -> list[URLResolver | URLPattern]:
        if not settings.SANDBOX_ENABLED:  # no admin pages over sandbox tables in production
            for model in [m for m in self._registry if is_sandbox_model(m)]:
                self.unregister(model)
        return super().get_urls()


class DropdeskAdminConfig(AdminConfig):
    default_site = "config.admin_site.DropdeskAdminSite"
