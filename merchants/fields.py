from __future__ import annotations

from typing import Any

from django.db import models

from .crypto import decrypt_json, encrypt_json


class EncryptedJSONField(models.TextField):
    """A dict stored as a Fernet token. Not searchable, never rendered by default."""

    description = "Encrypted JSON"
    _pyi_private_set_type: Any
    _pyi_private_get_type: dict[str, Any]  # type: ignore[assignment]

    def from_db_value(self, value: str | None, expression: Any, connection: Any) -> Any:
        if not value:
            return {}
        return decrypt_json(value)

    def to_python(self, value: Any) -> Any:
        if isinstance(value, dict):
            return value
        if value in (None, ""):
            return {}
        return decrypt_json(value)

    def get_prep_value(self, value: Any) -> Any:
        return encrypt_json(value or {})

    def value_to_string(self, obj: Any) -> str:  # dumpdata never shows the secret
        return ""
