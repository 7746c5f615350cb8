from __future__ import annotations

from typing import Any

from rest_framework import serializers

from api.serializers import BoundedPrimaryKeyRelatedField, OutputModelSerializer, StrictSerializerMixin
from api.strict import (
    CredentialValueField,
    FlatObjectField,
    StrictEmailField,
    StrictURLField,
)
from merchants.crypto import key_problems
from merchants.models import Merchant, ProviderAccount
from providers import registry
from providers.registry import PROVIDER_CHOICES


class ProviderAccountSerializer(OutputModelSerializer):
    """Credentials are write-only: responses say only which keys are set."""

    credentials_set = serializers.SerializerMethodField(
        help_text="Names of the credentials that have a value (never the values)."
    )
    credential_fields = serializers.SerializerMethodField(
        help_text="Credential names this provider uses."
    )
    credentials_readable = serializers.BooleanField(
        read_only=True,
        help_text="False: the stored credentials cannot be decrypted with the configured key "
                  "(credentials unreadable — enter them again).",
    )

    class Meta:
        model = ProviderAccount
        fields = ["id", "provider", "name", "environment", "base_url", "options", "is_active",
                  "credentials_set", "credential_fields", "credentials_readable",
                  "created_at", "updated_at"]
        read_only_fields = fields

    def get_credentials_set(self, account: ProviderAccount) -> list[str]:
        return sorted(k for k, v in account.credentials.items() if v)

    def get_credential_fields(self, account: ProviderAccount) -> list[str]:
        cls = registry.get(account.provider)
        return [f.name for f in cls.credential_fields] if cls else []


class ProviderAccountWriteSerializer(StrictSerializerMixin, serializers.Serializer):
    provider = serializers.ChoiceField(choices=PROVIDER_CHOICES)
    name = serializers.CharField(max_length=120)
    environment = serializers.ChoiceField(choices=ProviderAccount.Environment.choices,
                                          required=False)
    base_url = StrictURLField(required=False, allow_blank=True, max_length=200)
    options = FlatObjectField(required=False)
    is_active = serializers.BooleanField(required=False)
    credentials = serializers.DictField(
        child=CredentialValueField(allow_blank=True, max_length=4000), required=False,
        write_only=True,
        help_text="Credential name -> value. Write-only; a blank value keeps the stored one.",
    )

    def validate(self, attrs: dict[str, Any]) -> dict[str, Any]:
        attrs = super().validate(attrs)
        if key_problems():  # nothing can be stored encrypted until the setting is fixed
            raise serializers.ValidationError({"credentials": [
                "FIELD_ENCRYPTION_KEY is not a valid Fernet key: credentials cannot be stored "
                "until the setting is fixed (see `manage.py check`)."]})
        provider = attrs.get("provider") or getattr(self.instance, "provider", None)
        cls = registry.get(provider) if provider else None
        creds = attrs.get("credentials") or {}
        if cls is not None and creds:
            known = {f.name for f in cls.credential_fields}
            unknown = sorted(set(creds) - known)
            if unknown:
                # on a change, a credential of another provider conflicts with the stored
                # account's provider (the schema cannot know it): 409, not 400
                code = "conflict" if self.instance is not None and set(unknown) <= set(
                    _credential_names()) else "invalid"
                raise serializers.ValidationError(
                    {f"credentials.{k}": [f"Not a {cls.label} credential."] for k in unknown},
                    code=code,
                )
        return attrs

    openapi_body_required = True

    @classmethod
    def openapi_refine(cls, schema: dict[str, Any]) -> dict[str, Any]:
        """One variant per provider: the credentials each one has."""
        import copy

        variants = []
        for key, _label in PROVIDER_CHOICES:
            variant = copy.deepcopy(schema)
            # (inside allOf: drf-spectacular's enum hook would merge the variants' enums)
            variant["properties"]["provider"] = {"allOf": [{"type": "string", "enum": [key]}]}
            variant["properties"]["credentials"] = _credentials_schema(
                schema["properties"]["credentials"], _credential_names(key))
            variants.append(variant)
        return {"oneOf": variants}


def _credential_names(provider: str | None = None) -> list[str]:
    keys = [provider] if provider else [k for k, _ in PROVIDER_CHOICES]
    names: list[str] = []
    for key in keys:
        cls = registry.get(key)
        names += [f.name for f in cls.credential_fields if f.name not in names] if cls else []
    return names


def _credentials_schema(base: dict[str, Any], names: list[str]) -> dict[str, Any]:
    value = base.get("additionalProperties") or {"type": "string"}
    out = {k: v for k, v in base.items() if k != "additionalProperties"}
    out.update(properties={name: value for name in names}, additionalProperties=False)
    return out


class ProviderAccountUpdateSerializer(ProviderAccountWriteSerializer):
    """Everything but the provider may change."""

    openapi_body_required = False

    def get_fields(self) -> dict[str, serializers.Field]:
        fields = super().get_fields()
        fields.pop("provider")
        return fields

    @classmethod
    def openapi_refine(cls, schema: dict[str, Any]) -> dict[str, Any]:
        """Credentials: those of any provider (one of another provider than the account's:
        409)."""
        schema["properties"]["credentials"] = _credentials_schema(
            schema["properties"]["credentials"], _credential_names())
        return schema


class MerchantSerializer(OutputModelSerializer):
    account = serializers.IntegerField(source="account_id", read_only=True)
    provider = serializers.CharField(source="account.provider", read_only=True)
    can_order = serializers.BooleanField(read_only=True)

    class Meta:
        model = Merchant
        fields = ["id", "account", "provider", "external_id", "name", "contact_email",
                  "auth_state", "can_order", "authorized_at", "authorization_expires_at",
                  "created_at", "updated_at"]
        read_only_fields = fields


class MerchantCreateSerializer(StrictSerializerMixin, serializers.Serializer):
    account = BoundedPrimaryKeyRelatedField(queryset=ProviderAccount.objects.all())
    name = serializers.CharField(max_length=200)
    external_id = serializers.CharField(max_length=120, required=False, allow_blank=True)
    contact_email = StrictEmailField(required=False, allow_blank=True, max_length=254)

    def validate(self, attrs: dict[str, Any]) -> dict[str, Any]:
        attrs = super().validate(attrs)
        external_id = attrs.get("external_id", "")
        if external_id and Merchant.objects.filter(
                account=attrs["account"], external_id=external_id).exists():
            raise serializers.ValidationError(
                {"external_id": ["This account has a merchant with this id."]}, code="unique")
        return attrs


class MerchantAuthorizeSerializer(StrictSerializerMixin, serializers.Serializer):
    mode = serializers.ChoiceField(
        choices=["link", "manual", "verify"], default="link",
        help_text="link: a one-time authorization link for the merchant to open (where the "
        "provider has one); manual: mark the merchant authorized now (operators); verify: "
        "check the Merchant ID with the provider (a harmless read, by the worker), then "
        "authorize (the admin's “Verify Merchant ID and authorize”).",
    )
    external_id = serializers.CharField(
        max_length=120, required=False, allow_blank=True,
        help_text="manual, verify: the provider's merchant id, when it changes.",
    )


class MerchantAuthorizeResultSerializer(serializers.Serializer):
    merchant = MerchantSerializer()
    authorization_url = serializers.CharField(
        allow_null=True, help_text="mode=link: the one-time link to hand to the merchant."
    )
    expires_at = serializers.DateTimeField(allow_null=True,
                                           help_text="When the link stops working.")



class AccountCheckResultSerializer(serializers.Serializer):
    ok = serializers.BooleanField(help_text="false: the check failed (see `detail`).")
    detail = serializers.CharField(
        help_text="ok=true: what the provider said; ok=false: why, for people (never raw "
        "error text nor a credential).")
    checked_at = serializers.DateTimeField(allow_null=True,
                                           help_text="When the worker ran the check.")
    message = serializers.CharField(help_text="Same as `detail` (kept for older clients).")
    reason = serializers.CharField(
        allow_null=True, help_text="ok=false: same as `detail`; null when ok (kept for older "
        "clients).")


class AcceptedSerializer(serializers.Serializer):
    """202: queued for the worker; ask `location` again after `retry_after` seconds (also
    the `Location` and `Retry-After` headers)."""

    status = serializers.ChoiceField(choices=["pending"])
    location = serializers.CharField(help_text="Where the result appears (GET).")
    retry_after = serializers.IntegerField(help_text="Seconds to wait before asking again.")


class MerchantVerificationSerializer(serializers.Serializer):
    ok = serializers.BooleanField(help_text="true: verified and authorized; false: not "
                                  "(see `detail`; nothing changed).")
    detail = serializers.CharField(help_text="What happened, for people.")
    code = serializers.CharField(allow_blank=True, help_text="Empty when verified; else why "
                                 "(e.g. `verify_failed`, `missing`, `duplicate`).")
    authorized_until = serializers.DateTimeField(allow_null=True,
                                                 help_text="When the authorization lapses.")


class AuthorizationLinkSerializer(serializers.Serializer):
    created = serializers.BooleanField(help_text="false: the provider did not create the link "
                                       "(see `detail`; nothing changed).")
    url = serializers.CharField(allow_null=True, help_text="The one-time link for the merchant.")
    expires_at = serializers.DateTimeField(allow_null=True,
                                           help_text="When the link stops working.")
    detail = serializers.CharField(help_text="What happened, for people.")
    code = serializers.CharField(allow_blank=True, help_text="Empty when created; else why "
                                 "(e.g. `provider_refused`, `not_supported`, `mismatch`).")


class AccountSyncResultSerializer(serializers.Serializer):
    status = serializers.ChoiceField(choices=["accepted"])
    location = serializers.CharField(help_text="Where the pulled orders appear.")


class ReservedModelSerializer(serializers.Serializer):
    stock_id = serializers.CharField()
    locked = serializers.IntegerField()
    available = serializers.IntegerField(allow_null=True, required=False)
    since = serializers.CharField(allow_null=True, required=False)


class ReservationSerializer(serializers.Serializer):
    models = ReservedModelSerializer(many=True, help_text="What the reservation holds now.")
    read_at = serializers.CharField(allow_null=True, required=False)
    error = serializers.CharField(allow_blank=True, help_text="Why it could not be read now "
                                  "(the last reading is shown); empty when read.")


class ReservationReleasedSerializer(serializers.Serializer):
    released = serializers.BooleanField(help_text="False when the provider could not be asked "
                                        "(the message says why; nothing was released).")
    message = serializers.CharField()
    finished_at = serializers.DateTimeField(allow_null=True, required=False,
                                            help_text="When the worker finished the release.")
    reservation = ReservationSerializer()
