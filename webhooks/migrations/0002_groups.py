"""Operators manage webhooks (view/add/change, like everything else: no delete); Read-only
views them."""

from django.db import migrations


def grant(apps, schema_editor):
    from django.contrib.auth.management import create_permissions

    app_config = apps.get_app_config("webhooks")
    previous = getattr(app_config, "models_module", None)  # the real registry's, in tests
    app_config.models_module = previous or True
    create_permissions(app_config, apps=apps, verbosity=0)
    app_config.models_module = previous
    Group = apps.get_model("auth", "Group")
    Permission = apps.get_model("auth", "Permission")
    perms = list(Permission.objects.filter(content_type__app_label="webhooks"))
    operators, _ = Group.objects.get_or_create(name="Operators")
    operators.permissions.add(*[p for p in perms if p.codename.startswith(("view_", "add_", "change_"))])
    readonly, _ = Group.objects.get_or_create(name="Read-only")
    readonly.permissions.add(*[p for p in perms if p.codename.startswith("view_")])


class Migration(migrations.Migration):
    dependencies = [
        ("webhooks", "0001_outbox"),
        ("orders", "0002_groups"),
    ]

    operations = [migrations.RunPython(grant, migrations.RunPython.noop)]
