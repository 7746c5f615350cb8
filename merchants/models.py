from __future__ import annotations

import datetime as dt

from django.conf import settings
from django.db import models
from django.utils import timezone
from django_fsm import FSMField, transition

from core.models import AppendOnlyModel, FSMConcurrencyMixin
from providers.registry import provider_label

from .fields import UNREADABLE_MESSAGE, EncryptedJSONField, credentials_unreadable

AUTHORIZATION_PERIOD = dt.timedelta(days=30)
EXPIRY_WARNING = dt.timedelta(days=7)


class ProviderAccount(models.Model):
    class Environment(models.TextChoices):
        PRODUCTION = "production", "Production"
        SANDBOX = "sandbox", "Sandbox"

    # Validated against the provider registry (the one list of installed providers) by the
    # forms and services, not by a frozen choices list in migrations.
    provider = models.CharField(max_length=32, db_index=True)
    name = models.CharField(max_length=120)
    environment = models.CharField(
        max_length=16, choices=Environment.choices, default=Environment.PRODUCTION
    )
    base_url = models.URLField(
        blank=True,
        help_text="Overrides the provider's default host (the *_API_URL setting).",
    )
    credentials = EncryptedJSONField(
        blank=True, default=dict, help_text="Encrypted at rest; never shown back."
    )
    options = models.JSONField(
        blank=True, default=dict, help_text="Provider-specific settings of this account."
    )
    # Sync bookkeeping written by orders/services (the cursor). Provider data cached per account
    # (carrier lists, reservations, markets) lives in core.account_cache, not here.
    state = models.JSONField(blank=True, default=dict, editable=False)
    is_active = models.BooleanField(default=True)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["provider", "name"]
        constraints = [
            models.UniqueConstraint(fields=["provider", "name"], name="uniq_account_name")
        ]

    def __str__(self) -> str:
        return f"{self.name} ({self.provider_label}, {self.environment})"

    @property
    def provider_label(self) -> str:
        return provider_label(self.provider)

    def get_provider_display(self) -> str:  # the name Django would give a choices field
        return self.provider_label

    @property
    def credentials_readable(self) -> bool:
        """False when the stored credentials cannot be decrypted with FIELD_ENCRYPTION_KEY."""
        return not credentials_unreadable(self.credentials)

    def masked_credentials(self) -> dict[str, str]:
        """Which credentials are set, never any character of their values."""
        if not self.credentials_readable:
            return {"all": UNREADABLE_MESSAGE}
        return {key: "set" for key, value in sorted(self.credentials.items()) if value}


class Merchant(FSMConcurrencyMixin, models.Model):
    class AuthState(models.TextChoices):
        PENDING = "pending", "Pending authorization"
        AUTHORIZED = "authorized", "Authorized"
        EXPIRING = "expiring", "Expiring soon"
        EXPIRED = "expired", "Expired"
        REVOKED = "revoked", "Revoked"

    account = models.ForeignKey(ProviderAccount, on_delete=models.PROTECT, related_name="merchants")
    external_id = models.CharField(
        max_length=120, blank=True, db_index=True, help_text="The provider's merchant id."
    )
    name = models.CharField(max_length=200)
    contact_email = models.EmailField(blank=True)
    auth_state = FSMField(
        default=AuthState.PENDING, choices=AuthState.choices, protected=True, db_index=True
    )
    authorized_at = models.DateTimeField(null=True, blank=True)
    authorization_expires_at = models.DateTimeField(null=True, blank=True, db_index=True)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["name"]
        constraints = [
            models.UniqueConstraint(
                fields=["account", "external_id"],
                condition=~models.Q(external_id=""),
                name="uniq_merchant_external_id",
            )
        ]

    def __str__(self) -> str:
        return self.name

    @property
    def provider(self) -> str:
        return self.account.provider

    @property
    def can_order(self) -> bool:
        return self.auth_state in (self.AuthState.AUTHORIZED, self.AuthState.EXPIRING) and not (
            self.authorization_expires_at and self.authorization_expires_at <= timezone.now()
        )

    @property
    def days_left(self) -> int | None:
        if not self.authorization_expires_at:
            return None
        return (self.authorization_expires_at - timezone.now()).days

    # --- authorization state machine ---------------------------------------------------
    @transition(
        field=auth_state,
        source=[AuthState.PENDING, AuthState.AUTHORIZED, AuthState.EXPIRING, AuthState.EXPIRED,
                AuthState.REVOKED],
        target=AuthState.AUTHORIZED,
        custom={"label": "Mark authorized", "admin": False},
    )
    def authorize(self, *, at: dt.datetime, expires_at: dt.datetime | None) -> None:
        self.authorized_at = at
        self.authorization_expires_at = expires_at

    @transition(
        field=auth_state,
        source=AuthState.AUTHORIZED,
        target=AuthState.EXPIRING,
        custom={"label": "Flag as expiring", "admin": False},
    )
    def flag_expiring(self) -> None:
        pass

    @transition(
        field=auth_state,
        source=[AuthState.AUTHORIZED, AuthState.EXPIRING],
        target=AuthState.EXPIRED,
        custom={"label": "Expire", "admin": False},
    )
    def expire(self) -> None:
        pass

    @transition(
        field=auth_state,
        source=[AuthState.PENDING, AuthState.AUTHORIZED, AuthState.EXPIRING, AuthState.EXPIRED],
        target=AuthState.REVOKED,
        permission="merchants.change_merchant",
        custom={"label": "Revoke authorization", "admin": True},
    )
    def revoke(self) -> None:
        self.authorization_expires_at = None


class MerchantEvent(AppendOnlyModel):
    """Append-only history of a merchant's authorization."""

    merchant = models.ForeignKey(Merchant, on_delete=models.CASCADE, related_name="events")
    kind = models.CharField(max_length=32)
    message = models.TextField(blank=True)
    data = models.JSONField(blank=True, default=dict)
    actor = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL
    )
    created_at = models.DateTimeField(default=timezone.now, db_index=True)

    class Meta:
        ordering = ["-created_at", "-id"]

    def __str__(self) -> str:
        return f"{self.kind}: {self.message}"


# --- merchant authorization links (Aliseeks "Register Merchant" flow) ---
AUTHORIZATION_LINK_TTL = dt.timedelta(days=3)


class AuthorizationRequest(models.Model):
    """One one-time authorization link sent to a merchant.

    Only a hash of the link's random token is stored; the link and the landing URL carry it
    signed (``django.core.signing``, each with its own salt). The provider's one-time
    ``redirectUrl`` is the only place the connect page ever redirects to.
    """

    class Status(models.TextChoices):
        CREATED = "created", "Link sent, not opened"
        REDIRECTED = "redirected", "Sent to the provider"
        RETURNED = "returned", "Back from the provider, confirming"
        COMPLETED = "completed", "Authorized"
        CANCELLED = "cancelled", "Cancelled by the merchant"
        FAILED = "failed", "Failed"

    merchant = models.ForeignKey(Merchant, on_delete=models.CASCADE,
                                 related_name="authorization_requests")
    token_hash = models.CharField(max_length=64, unique=True)
    status = models.CharField(max_length=16, choices=Status.choices, default=Status.CREATED,
                              db_index=True)
    provider_merchant_id = models.CharField(max_length=120, blank=True)
    provider_redirect_url = models.URLField(max_length=2000, blank=True, editable=False)
    failure_reason = models.TextField(blank=True)
    expires_at = models.DateTimeField()
    used_at = models.DateTimeField(null=True, blank=True)
    completed_at = models.DateTimeField(null=True, blank=True)
    created_by = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, blank=True,
                                   on_delete=models.SET_NULL, related_name="+")
    created_at = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering = ["-created_at", "-id"]

    def __str__(self) -> str:
        return f"Authorization link for {self.merchant} ({self.get_status_display()})"

    @property
    def is_expired(self) -> bool:
        return self.expires_at <= timezone.now()


# --- REST API integrations -------------------------------------------------------------------
class Integration(models.Model):
    """An API client (a storefront, an ERP, a script).

    Each integration has its own service user (whose DRF token authenticates it, and whose
    permissions say what it may change) and may be limited to some merchants: it then sees
    and touches nothing else.
    """

    name = models.CharField(max_length=120, unique=True)
    user = models.OneToOneField(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="api_integration"
    )
    merchants = models.ManyToManyField(
        Merchant, blank=True, related_name="integrations",
        help_text="Limit the token to these merchants. Empty: all merchants.",
    )
    is_active = models.BooleanField(default=True)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["name"]

    def __str__(self) -> str:
        return self.name


# --- API tokens, hashed at rest -------------------------------------------------------------
from typing import ClassVar  # noqa: E402

from rest_framework_api_key.models import (  # noqa: E402
    AbstractAPIKey,
    APIKeyManager,
)

LEGACY_PREFIX_LENGTH = 8


def api_token_prefix(key: str) -> str:
    """The stored lookup prefix of a presented key: ``<prefix>.<secret>`` keys carry it before
    the dot; the 40-hex DRF tokens issued before hashing use their first 8 characters."""
    prefix, dot, _secret = key.partition(".")
    return prefix if dot else key[:LEGACY_PREFIX_LENGTH]


class ApiTokenManager(APIKeyManager):
    def get_from_key(self, key: str) -> ApiToken:
        """The live token a presented key belongs to: one indexed query by prefix (with its
        user and the user's integration), then one hash comparison. ``DoesNotExist`` else."""
        token = (self.get_usable_keys().select_related("user", "user__api_integration")
                 .get(prefix=api_token_prefix(key)))
        if not token.is_valid(key):
            raise ApiToken.DoesNotExist("Key is not valid.")
        return token


class ApiToken(AbstractAPIKey):
    """An API token: only its prefix and a hash of the key are stored (djangorestframework-
    api-key's ``AbstractAPIKey``: ``prefix``, ``hashed_key``, ``revoked``, ``expiry_date``).

    The key is ``<8-char prefix>.<32 random characters>`` (~190 bits). It is hashed with one
    SHA-512 (the library's ``Sha512ApiKeyHasher``), not a slow password hasher: a slow,
    salted hash protects *guessable* secrets (people's passwords) against a dictionary attack
    on a stolen table; a key drawn uniformly from 2^190 values cannot be guessed however fast
    each guess is, so one fast hash is as safe and keeps authentication at a few µs per
    request. Never use this hasher for passwords.
    """

    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE,
                             related_name="api_tokens")
    last_used_at = models.DateTimeField(
        null=True, blank=True,
        help_text="Last request with this token (recorded at most once a minute).",
    )

    objects: ClassVar[ApiTokenManager] = ApiTokenManager()  # type: ignore[assignment]

    class Meta(AbstractAPIKey.Meta):
        verbose_name = "API token"
        verbose_name_plural = "API tokens"
