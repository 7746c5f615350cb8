from __future__ import annotations

from typing import Any

from django.conf import settings
from django.contrib.auth import get_user_model
from django.contrib.auth.models import Group
from django.core.management.base import BaseCommand, CommandError

USERNAME = "admin"
PASSWORD = "admin"  # noqa: S105 - demo only, refused outside DEBUG
# A member of the "Read-only" group (orders/migrations/0002_groups): sees everything, no buttons.
VIEWER = "viewer"
VIEWER_PASSWORD = "viewer"  # noqa: S105 - demo only, refused outside DEBUG


class Command(BaseCommand):
    help = "Ensure the demo superuser exists (DEBUG only) and print the admin URL and login."

    def handle(self, *args: Any, **options: Any) -> None:
        if not settings.DEBUG:
            raise CommandError("demo_login only runs with DJANGO_DEBUG=true.")
        user_model = get_user_model()
        user, created = user_model.objects.get_or_create(
            username=USERNAME, defaults={"is_staff": True, "is_superuser": True}
        )
        if created:
            user.set_password(PASSWORD)
            user.save()
        viewer, created = user_model.objects.get_or_create(
            username=VIEWER, defaults={"is_staff": True}
        )
        if created:
            viewer.set_password(VIEWER_PASSWORD)
            viewer.save()
            group = Group.objects.filter(name="Read-only").first()
            if group is not None:
                viewer.groups.add(group)
        base = (settings.PUBLIC_BASE_URL or "http://127.0.0.1:8000").rstrip("/")
        self.stdout.write("")
        self.stdout.write(f"  Admin:  {base}/admin/")
        self.stdout.write(f"  Login:  {USERNAME} / {PASSWORD}   (read-only: {VIEWER} / "
                          f"{VIEWER_PASSWORD})")
        self.stdout.write(f"  API:    {base}/api/docs/")
        self.stdout.write("")
