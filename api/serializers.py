"""Serializer bases every app's API uses: strict bodies (unknown fields and wrong JSON types
refused, naming the field), bounded ids, read-only output serializers."""

from __future__ import annotations

from typing import Any

from django.db import models
from rest_framework import serializers

from api.strict import (
    StrictDecimalField,
    StrictEmailField,
    StrictURLField,
    json_normalize,
    json_type_problem,
    raw_length_problem,
)


class StrictSerializerMixin:
    """Refuse fields the serializer does not know (typos must not pass silently)."""

    serializer_field_mapping = {
        **serializers.ModelSerializer.serializer_field_mapping,
        models.DecimalField: StrictDecimalField,
        models.EmailField: StrictEmailField,
        models.URLField: StrictURLField,
    }

    def to_internal_value(self, data: Any) -> Any:
        unknown: dict[str, list[str]] = {}
        if isinstance(data, dict):
            writable = {name for name, f in self.fields.items() if not f.read_only}  # type: ignore[attr-defined]
            unknown = {str(k): ["Unknown field."] for k in sorted(set(data) - writable, key=str)}
            # JSON types exactly as the schema states them (DRF would coerce 5 to "5")
            wrong = {name: [problem] for name, f in self.fields.items()  # type: ignore[attr-defined]
                     if name in data and not f.read_only
                     and (problem := json_type_problem(f, data[name]))}
            if wrong:
                raise serializers.ValidationError({**wrong, **unknown})
            too_long = {name: [problem] for name, f in self.fields.items()  # type: ignore[attr-defined]
                        if name in data and not f.read_only
                        and (problem := raw_length_problem(f, data[name]))}
            unknown = {**too_long, **unknown}  # reported with the other fields' errors
            data = {name: json_normalize(self.fields[name], value)  # type: ignore[attr-defined]
                    if name in self.fields else value for name, value in data.items()}  # type: ignore[attr-defined]
        try:
            value = super().to_internal_value(data)  # type: ignore[misc]
        except serializers.ValidationError as exc:
            if unknown and isinstance(exc.detail, dict):
                raise serializers.ValidationError({**exc.detail, **unknown}) from exc
            raise
        if unknown:
            raise serializers.ValidationError(unknown)
        return value


class BoundedPrimaryKeyRelatedField(serializers.PrimaryKeyRelatedField):
    """Ids beyond the database's integer range are 'does not exist', not an overflow."""

    def to_internal_value(self, data: Any) -> Any:
        if isinstance(data, bool) or (isinstance(data, int) and not 0 < data < 2**63) or (
            isinstance(data, str) and data.isdigit() and int(data) >= 2**63
        ):
            self.fail("does_not_exist", pk_value=data)
        if isinstance(data, float) and not data.is_integer():
            self.fail("incorrect_type", data_type=type(data).__name__)
        return super().to_internal_value(data)


# --- output ------------------------------------------------------------------------------------
class OutputModelSerializer(serializers.ModelSerializer):
    """Read-only rendering: e-mail and URL fields may be blank, so they are plain strings in
    the schema (a blank value would violate ``format: email``/``uri``)."""

    serializer_field_mapping = {
        **serializers.ModelSerializer.serializer_field_mapping,
        models.EmailField: serializers.CharField,
        models.URLField: serializers.CharField,
    }
