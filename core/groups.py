"""The two standard groups every app grants its permissions to, from its data migration.

Operators work everything (view/add/change, no delete); Read-only views it. An app's
migration runs ``migrations.RunPython(groups_grant("<app_label>"), migrations.RunPython.noop)``.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any


def groups_grant(app_label: str) -> Callable[[Any, Any], None]:
    def grant(apps: Any, schema_editor: Any) -> None:
        from django.contrib.auth.management import create_permissions

        app_config = apps.get_app_config(app_label)
        previous = getattr(app_config, "models_module", None)  # the real registry's, in tests
        app_config.models_module = previous or True
        create_permissions(app_config, apps=apps, verbosity=0)
        app_config.models_module = previous
        Group = apps.get_model("auth", "Group")
        Permission = apps.get_model("auth", "Permission")
        perms = list(Permission.objects.filter(content_type__app_label=app_label))
        operators, _ = Group.objects.get_or_create(name="Operators")
        operators.permissions.add(
            *[p for p in perms if p.codename.startswith(("view_", "add_", "change_"))])
        readonly, _ = Group.objects.get_or_create(name="Read-only")
        readonly.permissions.add(*[p for p in perms if p.codename.startswith("view_")])

    grant.__name__ = f"grant_{app_label}"
    return grant
