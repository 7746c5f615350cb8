from typing import Any

from django.core.management.base import BaseCommand


class Command(BaseCommand):
    help = "Route the Tipser demo account's sales to the demo suppliers (after seed_demo)."

    def handle(self, *args: Any, **options: Any) -> None:
        from pipeline.demo import seed

        seed(stdout=self.stdout)
