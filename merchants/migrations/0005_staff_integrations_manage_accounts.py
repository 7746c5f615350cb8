"""Staff integrations made before ``create_api_token --staff`` granted it get what it promised:
the provider account permissions (view, add, change) of ``INTEGRATION_STAFF_PERMISSIONS``.
Idempotent; on a fresh database there are no integrations yet and nothing to do."""

from __future__ import annotations

from typing import Any

from django.db import migrations

CODENAMES = ("view_provideraccount", "add_provideraccount", "change_provideraccount")


def grant(apps: Any, schema_editor: Any) -> None:
    Integration = apps.get_model("merchants", "Integration")
    Permission = apps.get_model("auth", "Permission")
    perms = list(Permission.objects.filter(content_type__app_label="merchants",
                                           codename__in=CODENAMES))
    if not perms:
        return  # permissions are created after the first migrate: no integrations yet
    for integration in Integration.objects.filter(user__is_staff=True).select_related("user"):
        integration.user.user_permissions.add(*perms)


class Migration(migrations.Migration):
    dependencies = [
        ("merchants", "0004_api_tokens_hashed"),
        ("auth", "0012_alter_user_first_name_max_length"),
    ]

    operations = [migrations.RunPython(grant, migrations.RunPython.noop)]
