"""manage.py create_api_token NAME [--merchant ID ...] [--staff]

Creates an API integration (its own service user and token) and prints the token once. Only a
hash of the token is stored: it cannot be shown again (issue a new one in the admin, Merchants →
Integrations → "Issue a new token", which revokes the old one).
"""

from __future__ import annotations

from typing import Any

from django.core.exceptions import ValidationError
from django.core.management.base import BaseCommand, CommandError, CommandParser

from merchants.models import Merchant
from merchants.services import integration_create


class Command(BaseCommand):
    help = (
        "Create an API integration and print its token on stdout. The token is shown only "
        "this once: the database keeps only a hash of it (a lost token cannot be recovered; "
        "issue a new one in the admin, Merchants > Integrations, which revokes the old one). "
        "Send it as 'Authorization: Token <key>'. Revoke it there too; the integration's page "
        "shows when it was last used."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("name", help="A name for the integration (unique).")
        parser.add_argument(
            "--merchant", action="append", type=int, default=[], metavar="ID",
            help="Limit the token to this merchant (repeat for several). Default: all.",
        )
        parser.add_argument("--staff", action="store_true",
                            help="Staff token: may also read and manage provider accounts.")

    def handle(self, *args: Any, name: str, merchant: list[int], staff: bool,
               **options: Any) -> None:
        merchants = list(Merchant.objects.filter(pk__in=merchant))
        missing = sorted(set(merchant) - {m.pk for m in merchants})
        if missing:
            raise CommandError(f"No merchant with id {', '.join(map(str, missing))}.")
        try:
            integration, key = integration_create(name=name, merchants=merchants, staff=staff)
        except ValidationError as exc:
            raise CommandError("; ".join(exc.messages)) from exc
        scope = ", ".join(m.name for m in merchants) or "all merchants"
        self.stderr.write(f"Integration '{integration.name}' created ({scope}). "
                          "Its token (shown once, stored only as a hash; send it as "
                          "'Authorization: Token <key>'):")
        self.stdout.write(key)
