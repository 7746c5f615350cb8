"""Admin for the Brandsdistribution sandbox's stock, locks and orders (so an operator can restock
the demo). The order form's carrier choices and the accounts' reservations are our admin's
(``orders/admin/brandsdistribution.py``): this package never imports the domain."""

from __future__ import annotations

from django.contrib import admin

from .models import SandboxLock, SandboxOrder, SandboxStock


@admin.register(SandboxStock)
class SandboxStockAdmin(admin.ModelAdmin):
    list_display = ["stock_id", "name", "available"]
    list_editable = ["available"]


@admin.register(SandboxOrder)
class SandboxOrderAdmin(admin.ModelAdmin):
    list_display = ["order_id", "ext_ref", "api_key", "status", "tracking_code", "created_at"]
    readonly_fields = ["document", "models_taken"]


@admin.register(SandboxLock)
class SandboxLockAdmin(admin.ModelAdmin):
    list_display = ["api_key", "stock_id", "locked"]
