"""List filters of the order list."""

from __future__ import annotations

from typing import Any

from django.contrib import admin
from django.db.models import QuerySet
from django.http import (
    HttpRequest,
)

from merchants.models import Merchant
from providers import registry

from .. import selectors
from ..models import (
    Order,
)


class ProviderFilter(admin.SimpleListFilter):
    title = "provider"
    parameter_name = "provider"

    def lookups(self, request: HttpRequest, model_admin: Any) -> list[tuple[str, str]]:
        return [(key, cls.label) for key, cls in sorted(registry.all_services().items())]

    def queryset(self, request: HttpRequest, queryset: QuerySet[Order]) -> QuerySet[Order]:
        if self.value():
            return queryset.filter(merchant__account__provider=self.value())
        return queryset


class MerchantFilter(admin.SimpleListFilter):
    """Merchants of the chosen provider only (there may be thousands in all): pick a provider
    first, or search by merchant name in the search box."""

    title = "merchant (pick a provider first)"
    parameter_name = "merchant"
    limit = 100

    def lookups(self, request: HttpRequest, model_admin: Any) -> list[tuple[str, str]]:
        provider = request.GET.get(ProviderFilter.parameter_name)
        qs = Merchant.objects.order_by("name")
        if provider:
            rows = qs.filter(account__provider=provider).values_list("pk", "name")[: self.limit]
        elif self.value():
            rows = qs.filter(pk=self.value() if str(self.value()).isdigit() else 0).values_list(
                "pk", "name"
            )
        else:
            return []
        return [(str(pk), name) for pk, name in rows]

    def queryset(self, request: HttpRequest, queryset: QuerySet[Order]) -> QuerySet[Order]:
        value = self.value()
        if value and str(value).isdigit():
            return queryset.filter(merchant_id=int(value))
        return queryset


class QuickFilter(admin.SimpleListFilter):
    """The status tabs above the list (also offered in the sidebar)."""

    title = "quick filter"
    parameter_name = "tab"

    def lookups(self, request: HttpRequest, model_admin: Any) -> list[tuple[str, str]]:
        return [(key, label) for key, (label, _q) in selectors.order_tabs().items()]

    def queryset(self, request: HttpRequest, queryset: QuerySet[Order]) -> QuerySet[Order]:
        tabs = selectors.order_tabs()
        value = self.value()
        if value and value in tabs:
            return queryset.filter(tabs[value][1])
        return queryset
