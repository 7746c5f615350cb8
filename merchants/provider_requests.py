"""Our accounts and merchants as the plain objects a provider is handed (``providers.types``).

The one place a ``ProviderAccount`` becomes an ``AccountConfig``: providers never see the
model (nor write it); ``provider_service`` builds the account's service from the copy.
"""

from __future__ import annotations

import copy
from typing import TYPE_CHECKING

from providers import registry
from providers.types import AccountConfig, MerchantRef

if TYPE_CHECKING:
    from providers.base import ProviderService
    from providers.http import Recorder

    from .models import Merchant, ProviderAccount


def account_config(account: ProviderAccount) -> AccountConfig:
    readable = account.credentials_readable
    return AccountConfig(
        pk=account.pk,
        provider=account.provider,
        name=account.name,
        environment=account.environment,
        base_url=account.base_url or "",
        credentials=dict(account.credentials or {}) if readable else {},
        options=copy.deepcopy(dict(account.options or {})),
        credentials_readable=readable,
        state=copy.deepcopy(dict(account.state or {})),
        label=str(account),
    )


def merchant_ref(merchant: Merchant) -> MerchantRef:
    return MerchantRef(pk=merchant.pk, name=merchant.name, external_id=merchant.external_id or "")


def provider_service(account: ProviderAccount, *, recorder: Recorder | None = None
                     ) -> ProviderService:
    """The account's provider service, built from its plain configuration."""
    return registry.service_for(account_config(account), recorder=recorder)
