"""Re-encrypt every stored credential with the first key of FIELD_ENCRYPTION_KEY.

Steps (README, "Security"): put the new key first (``FIELD_ENCRYPTION_KEY=new,old``), deploy,
run this command, then remove the old key. A value no configured key reads stops the command
before anything is written (one transaction), naming the account.
"""

from __future__ import annotations

from typing import Any

from django.core.management.base import BaseCommand, CommandError
from django.db import connection, transaction

from merchants.crypto import KEY_SETTING, CredentialsUnreadable, key_problems, rotate
from merchants.models import ProviderAccount


class Command(BaseCommand):
    help = f"Re-encrypt stored provider credentials with the first key of {KEY_SETTING}."

    def handle(self, *args: Any, **options: Any) -> None:
        problems = key_problems()
        if problems:
            raise CommandError(" ".join(problems))
        table = connection.ops.quote_name(ProviderAccount._meta.db_table)
        rotated = 0
        with transaction.atomic():
            # the stored tokens as they are (the model field would decrypt them)
            lock = " FOR UPDATE" if connection.features.has_select_for_update else ""
            with connection.cursor() as cursor:
                cursor.execute(f"SELECT id, name, credentials FROM {table} ORDER BY id{lock}")  # noqa: S608
                rows = cursor.fetchall()
            for pk, name, token in rows:
                if not token:
                    continue
                try:
                    new = rotate(token)
                except CredentialsUnreadable:
                    raise CommandError(
                        f"Account #{pk} {name}: its credentials cannot be decrypted with any "
                        f"key of {KEY_SETTING}; nothing was changed. Add the key they were "
                        "encrypted with, or enter them again on the account page first."
                    ) from None
                with connection.cursor() as cursor:
                    cursor.execute(f"UPDATE {table} SET credentials = %s WHERE id = %s",  # noqa: S608
                                   [new, pk])
                rotated += 1
        self.stdout.write(f"Re-encrypted the credentials of {rotated} account(s) with the first "
                          f"key of {KEY_SETTING}; the other keys can now be removed.")

