from __future__ import annotations

import django_filters as filters

from api.filters import IdFilter
from merchants.models import Merchant, ProviderAccount
from providers.registry import PROVIDER_CHOICES


class MerchantFilter(filters.FilterSet):
    provider = filters.ChoiceFilter(field_name="account__provider", choices=PROVIDER_CHOICES)
    account = IdFilter(field_name="account_id")
    auth_state = filters.ChoiceFilter(choices=Merchant.AuthState.choices)
    external_id = filters.CharFilter()
    name = filters.CharFilter(lookup_expr="icontains")

    class Meta:
        model = Merchant
        fields: list[str] = []


class ProviderAccountFilter(filters.FilterSet):
    provider = filters.ChoiceFilter(choices=PROVIDER_CHOICES)
    environment = filters.ChoiceFilter(choices=ProviderAccount.Environment.choices)
    is_active = filters.BooleanFilter()

    class Meta:
        model = ProviderAccount
        fields: list[str] = []
