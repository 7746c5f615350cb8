from __future__ import annotations

import datetime as dt

from django.db.models import QuerySet
from django.utils import timezone

from .models import EXPIRY_WARNING, Merchant


def merchant_list(*, provider: str | None = None) -> QuerySet[Merchant]:
    qs = Merchant.objects.select_related("account")
    return qs.filter(account__provider=provider) if provider else qs


def merchant_list_expiring(*, within: dt.timedelta = EXPIRY_WARNING) -> QuerySet[Merchant]:
    now = timezone.now()
    return merchant_list().filter(
        auth_state__in=[Merchant.AuthState.AUTHORIZED, Merchant.AuthState.EXPIRING],
        authorization_expires_at__lte=now + within,
    )
