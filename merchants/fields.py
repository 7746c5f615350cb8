from __future__ import annotations

from typing import Any

from django.db import models

from core.redaction import register_secret

from .crypto import CredentialsUnreadable, decrypt_json, encrypt_json

UNREADABLE_MESSAGE = "credentials unreadable — enter them again"


class UnreadableCredentials(dict[str, Any]):
    """What a stored value that cannot be decrypted reads as: empty, and flagged.

    Pages keep rendering (they say ``UNREADABLE_MESSAGE``) and saving the row for another
    reason writes the stored ciphertext back unchanged, so restoring the right key later
    still reads it. Assigning a new dict (re-entered credentials) replaces it.
    """

    unreadable = True

    def __init__(self, token: str) -> None:
        super().__init__()
        self.token = token

    def __repr__(self) -> str:
        return "<UnreadableCredentials>"


def credentials_unreadable(value: object) -> bool:
    return bool(getattr(value, "unreadable", False))


class EncryptedJSONField(models.TextField):
    """A dict stored as a Fernet token. Not searchable, never rendered by default.

    Every value read or written is registered with ``core.redaction``, so it is masked in any
    text this process stores, shows or logs afterwards.
    """

    description = "Encrypted JSON"
    _pyi_private_set_type: Any
    _pyi_private_get_type: dict[str, Any]  # type: ignore[assignment]

    def from_db_value(self, value: str | None, expression: Any, connection: Any) -> Any:
        if not value:
            return {}
        return self._decrypt(value)

    def to_python(self, value: Any) -> Any:
        if isinstance(value, dict):
            return value
        if value in (None, ""):
            return {}
        return self._decrypt(value)

    def get_prep_value(self, value: Any) -> Any:
        if isinstance(value, UnreadableCredentials):
            return value.token  # untouched: readable again once the right key is configured
        if isinstance(value, dict):
            register_secret(*value.values())
        return encrypt_json(value or {})

    def value_to_string(self, obj: Any) -> str:  # dumpdata never shows the secret
        return ""

    @staticmethod
    def _decrypt(token: str) -> Any:
        try:
            value = decrypt_json(token)
        except CredentialsUnreadable:
            return UnreadableCredentials(token)
        if isinstance(value, dict):
            register_secret(*value.values())
        return value
