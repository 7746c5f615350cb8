"""Bodies of the order routes that talk to the order's provider (drafts, lookup, execution,
custom fields, item characteristics, carriers): what the admin's provider pages do."""

from __future__ import annotations

from rest_framework import serializers

from api.strict import NO_NUL

from .serializers import OrderSerializer, StrictSerializerMixin

MAX_VALUES = 100


class ProviderValueSerializer(serializers.Serializer):
    """One value the provider keeps for the order (a custom field) or an item (a
    characteristic), as its GET returns it."""

    name = serializers.CharField()
    label = serializers.CharField(allow_blank=True, required=False)  # type: ignore[assignment]
    value = serializers.CharField(allow_null=True, allow_blank=True, required=False)
    type = serializers.CharField(allow_blank=True, required=False)
    choices = serializers.ListField(child=serializers.CharField(), allow_null=True,
                                    required=False)
    required = serializers.BooleanField(required=False)  # type: ignore[assignment]


class ProviderValuesInputSerializer(StrictSerializerMixin, serializers.Serializer):
    values = serializers.DictField(
        child=serializers.CharField(max_length=1000, allow_blank=True), allow_empty=False,
        help_text="Names (as the GET lists them) to their new text; only the names sent change.",
    )

    def validate_values(self, value: dict[str, str]) -> dict[str, str]:
        if len(value) > MAX_VALUES:
            raise serializers.ValidationError(f"At most {MAX_VALUES} values at once.")
        blank = sorted(k for k in value if not str(k).strip() or "\x00" in str(k))
        if blank:
            raise serializers.ValidationError("Every value needs a name.")
        return {k.strip(): v for k, v in value.items()}

    @classmethod
    def openapi_refine(cls, schema: dict) -> dict:  # type: ignore[type-arg]
        values = schema["properties"]["values"]
        values.update(minProperties=1, maxProperties=MAX_VALUES,
                      propertyNames={"pattern": r"^[^\u0000]*[^\s\u0000][^\u0000]*$"})
        values.setdefault("additionalProperties", {}).setdefault("pattern", NO_NUL)
        return schema


class CarrierSerializer(serializers.Serializer):
    value = serializers.CharField(help_text="Send this as `carrier` when shipping.")
    label = serializers.CharField()  # type: ignore[assignment]


class CarrierListSerializer(serializers.Serializer):
    free_text = serializers.BooleanField(
        help_text="true: the provider has no list; any carrier name is taken.")
    carriers = CarrierSerializer(many=True)


class QueuedResultSerializer(serializers.Serializer):
    status = serializers.ChoiceField(choices=["accepted"])
    location = serializers.CharField(help_text="Poll the order here for the outcome.")
    order = OrderSerializer()


class ReadPendingSerializer(serializers.Serializer):
    """The worker is reading this from the provider: ask again after ``Retry-After`` seconds
    at ``Location`` (the same URL)."""

    status = serializers.ChoiceField(choices=["pending"])
    detail = serializers.CharField()
