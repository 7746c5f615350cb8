"""Request fields that accept exactly what the OpenAPI schema states (no silent coercion).

DRF coerces: a CharField takes ``5`` as ``"5"``, an IntegerField takes ``"5"`` and ``5.0``,
a BooleanField takes ``"yes"``. The schema says ``string``/``integer``/``boolean``, so a client
following it must not be able to send something else and be accepted. ``json_type_problem``
checks a value's JSON type against its field before DRF's own validation; the fields below
carry their exact schema (``openapi_schema``), read by ``api.schema``.
"""

from __future__ import annotations

import re
from decimal import Decimal
from typing import Any

from django.core.validators import MinValueValidator
from rest_framework import serializers
from rest_framework.relations import PrimaryKeyRelatedField

NO_NUL = r"^[^\u0000]*$"
# What DRF trims (Python's str.strip(): str.isspace() characters). Not ECMA's \s, which
# misses \x1c-\x1f and \x85 (a body of "\x1f" looked valid, then was refused as blank) and
# has \ufeff (which DRF keeps).
TRIMMED = (r"\t\n\x0b\x0c\r\x1c-\x20\x85\xa0\u1680\u2000-\u200a\u2028\u2029\u202f\u205f"
           r"\u3000")
# not blank once trimmed (DRF trims), no NUL anywhere
NOT_BLANK = rf"^[^\u0000]*[^{TRIMMED}\u0000][^\u0000]*$"


class StrictDecimalField(serializers.DecimalField):
    """A money amount as a JSON string of plain digits (``"12.50"``): no exponent, no sign
    unless negatives are allowed, at most the field's digits and decimal places."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        whole = (self.max_digits or 30) - (self.decimal_places or 0)
        non_negative = (self.min_value is not None and Decimal(self.min_value) >= 0) or any(
            (getattr(v, "openapi_schema", None) or {}).get("minimum", -1) >= 0
            or (isinstance(v, MinValueValidator) and Decimal(v.limit_value) >= 0)
            for v in self.validators)
        sign = "" if non_negative else "-?"
        places = self.decimal_places or 0
        fraction = rf"(?:\.\d{{1,{places}}})?" if places else ""
        self.regex = rf"^{sign}\d{{1,{whole}}}{fraction}$"

    def validate_empty_values(self, data: Any) -> tuple[bool, Any]:
        # DRF reads "" as null for a nullable decimal; the schema's pattern refuses "" (null
        # is written as null)
        if isinstance(data, str) and not data.strip():
            self.fail("invalid")
        return super().validate_empty_values(data)

    def to_internal_value(self, data: Any) -> Any:
        if not isinstance(data, str) or not re.match(self.regex, data):
            self.fail("invalid")
        return super().to_internal_value(data)

    def openapi_schema(self) -> dict[str, Any]:
        schema: dict[str, Any] = {"type": "string", "format": "decimal", "pattern": self.regex}
        if self.allow_null:
            schema["nullable"] = True
        return schema


class FlatObjectField(serializers.DictField):
    """A JSON object of plain values: names to strings, numbers or booleans (no nesting)."""

    def to_internal_value(self, data: Any) -> Any:
        value = super().to_internal_value(data)
        bad = sorted(str(k) for k, v in value.items()
                     if isinstance(v, dict | list) or v is None)
        if bad:
            raise serializers.ValidationError(
                {k: ["A string, number or boolean."] for k in bad})
        return value

    def openapi_schema(self) -> dict[str, Any]:
        schema: dict[str, Any] = {
            "type": "object",
            "additionalProperties": {"anyOf": [
                {"type": "string", "pattern": NO_NUL}, {"type": "number"}, {"type": "boolean"},
            ]},
            "propertyNames": {"pattern": NO_NUL},
        }
        if self.allow_null:
            schema["nullable"] = True
        return schema


def _expected(field: serializers.Field) -> tuple[type | tuple[type, ...], str] | None:
    if isinstance(field, StrictDecimalField | serializers.CharField):
        return str, "a string"
    if isinstance(field, serializers.ChoiceField):
        return (str, "a string") if all(isinstance(k, str) for k in field.choices) else None
    if isinstance(field, serializers.BooleanField):
        return bool, "true or false"
    if isinstance(field, serializers.IntegerField | PrimaryKeyRelatedField):
        return int, "an integer"
    if isinstance(field, serializers.ListField | serializers.ListSerializer):
        return list, "a list"
    if isinstance(field, serializers.DictField | serializers.Serializer):
        return dict, "an object"
    return None


def raw_length_problem(field: serializers.Field, value: Any) -> str | None:
    """The schema's ``maxLength`` counts the string sent; DRF counts it after trimming
    whitespace (Python's, control characters such as ``\x1f`` included), so a value one
    character too long could pass. Checked on the value as sent."""
    max_length = getattr(field, "max_length", None)
    if isinstance(field, serializers.CharField) and isinstance(value, str) and max_length \
            and len(value) > max_length:
        return f"Ensure this field has no more than {max_length} characters."
    return None


def json_type_problem(field: serializers.Field, value: Any) -> str | None:
    """Why ``value`` does not have the JSON type the field's schema states (else None)."""
    if value is None:
        return None if field.allow_null else "Must not be null."
    expected = _expected(field)
    if expected is None:
        return None
    kind, name = expected
    if isinstance(value, bool) and kind is not bool:
        return f"Must be {name}."
    if kind is int and isinstance(value, float) and value.is_integer():
        return None  # JSON Schema: 1.0 is an integer
    if not isinstance(value, kind):
        return f"Must be {name}."
    child = getattr(field, "child", None)
    if child is not None and not isinstance(field, serializers.ListSerializer):
        items = value.values() if isinstance(value, dict) else value
        for item in items:
            problem = json_type_problem(child, item)
            if problem:
                return problem
    return None


# Conservative URL and e-mail shapes: every value they match, Django's URLValidator and
# EmailValidator accept too (the model fields validate again), so the schema's pattern is
# exactly what the API takes. Looser forms some clients might send are refused with 400.
_LABEL = r"[A-Za-z0-9](?:[A-Za-z0-9-]{0,30}[A-Za-z0-9])?"
_HOST = (rf"(?:(?:{_LABEL}\.){{1,4}}[A-Za-z]{{2,10}}|localhost"
         r"|(?:(?:25[0-5]|2[0-4]\d|1\d\d|[1-9]?\d)\.){3}(?:25[0-5]|2[0-4]\d|1\d\d|[1-9]?\d))")
# a path (and query) of URI characters, "%" only as an escape (%HH), then at most one fragment:
# what a JSON Schema "uri" is too (a stray "%" or a second "#" is not one)
_URI_CHARS = r"(?:[A-Za-z0-9._~!$&'()*+,;=:@/?-]|%[0-9A-Fa-f]{2})*"
URL_PATTERN = (rf"^https?://{_HOST}(?::[1-9]\d{{0,3}})?"
               rf"(?:/{_URI_CHARS}(?:#{_URI_CHARS})?)?$")
EMAIL_PATTERN = (r"^[A-Za-z0-9_%+-]{1,32}(?:\.[A-Za-z0-9_%+-]{1,32}){0,3}"
                 rf"@(?:{_LABEL}\.){{1,4}}[A-Za-z]{{2,10}}$")


class _PatternCharField(serializers.CharField):
    pattern = ""
    message = ""

    def to_internal_value(self, data: Any) -> Any:
        value = super().to_internal_value(data)
        if value and not re.match(self.pattern, value):
            raise serializers.ValidationError(self.message, code="invalid")
        return value

    def openapi_schema(self) -> dict[str, Any]:
        pattern = self.pattern if not self.allow_blank else f"(?:{self.pattern})|^$"
        schema: dict[str, Any] = {"type": "string", "pattern": pattern}
        if self.max_length is not None:
            schema["maxLength"] = self.max_length
        return schema


class StrictURLField(_PatternCharField):
    """An http(s) URL of the usual shape (host name, IPv4 address or localhost)."""

    pattern = URL_PATTERN
    message = "Enter a valid http(s) URL."

    def __init__(self, **kwargs: Any) -> None:
        kwargs.setdefault("trim_whitespace", False)
        super().__init__(**kwargs)


class StrictEmailField(_PatternCharField):
    pattern = EMAIL_PATTERN
    message = "Enter a valid e-mail address."

    def __init__(self, **kwargs: Any) -> None:
        kwargs.setdefault("trim_whitespace", False)
        super().__init__(**kwargs)


def json_normalize(field: serializers.Field, value: Any) -> Any:
    """Integral floats (``5.0``, ``1e16``) as ints where the schema says integer (JSON Schema
    counts them as integers; DRF would read ``1e16`` as text and refuse it)."""
    expected = _expected(field)
    if expected and expected[0] is int and isinstance(value, float) and value.is_integer():
        return int(value)
    child = getattr(field, "child", None)
    if (child is not None and isinstance(field, serializers.ListField)
            and isinstance(value, list)):
        return [json_normalize(child, item) for item in value]
    return value


class CredentialValueField(_PatternCharField):
    """A credential (API key, password): printable ASCII, as HTTP headers and query strings
    carry them."""

    pattern = r"^[\x20-\x7e]*$"
    message = "Printable ASCII characters only."

    def __init__(self, **kwargs: Any) -> None:
        kwargs.setdefault("trim_whitespace", False)
        super().__init__(**kwargs)

    def openapi_schema(self) -> dict[str, Any]:
        schema = super().openapi_schema()
        schema["pattern"] = self.pattern
        return schema
