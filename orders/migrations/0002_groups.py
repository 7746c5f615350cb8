"""Data migration: the two staff groups of the back office.

* "Operators": view/add/change on orders and merchants, and ``orders.run_order_transitions``
  (transition buttons, bulk actions, sync, notes).
* "Read-only": view only. The admin hides the buttons and the services refuse server-side.

Idempotent: re-running it only adds missing permissions.
"""

from django.db import migrations

APPS = ("orders", "merchants")
OPERATOR_PREFIXES = ("view_", "add_", "change_")
TRANSITION_CODENAME = "run_order_transitions"


def create_groups(apps, schema_editor):
    from django.contrib.auth.management import create_permissions

    # Permissions are normally created after migrate; make sure they exist now.
    for label in (*APPS, "auth", "contenttypes"):
        try:
            app_config = apps.get_app_config(label)
        except LookupError:
            continue
        previous = getattr(app_config, "models_module", None)  # the real registry's, in tests
        app_config.models_module = previous or True
        create_permissions(app_config, apps=apps, verbosity=0)
        app_config.models_module = previous

    Group = apps.get_model("auth", "Group")
    Permission = apps.get_model("auth", "Permission")
    perms = list(
        Permission.objects.filter(content_type__app_label__in=APPS).select_related("content_type")
    )
    operators, _ = Group.objects.get_or_create(name="Operators")
    operators.permissions.add(
        *[p for p in perms if p.codename.startswith(OPERATOR_PREFIXES)
          or (p.codename == TRANSITION_CODENAME and p.content_type.app_label == "orders")]
    )
    readonly, _ = Group.objects.get_or_create(name="Read-only")
    readonly.permissions.add(*[p for p in perms if p.codename.startswith("view_")])


def remove_groups(apps, schema_editor):
    Group = apps.get_model("auth", "Group")
    Group.objects.filter(name__in=["Operators", "Read-only"]).delete()


class Migration(migrations.Migration):
    dependencies = [
        ("orders", "0001_initial"),
        ("merchants", "0001_initial"),
        ("auth", "0012_alter_user_first_name_max_length"),
        ("contenttypes", "0002_remove_content_type_name"),
    ]

    operations = [migrations.RunPython(create_groups, remove_groups)]
