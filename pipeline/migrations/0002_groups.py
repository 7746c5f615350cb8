"""Operators work the pipeline (view/add/change, no delete, like everything else); Read-only
views it."""

from django.db import migrations

from core.groups import groups_grant


class Migration(migrations.Migration):
    dependencies = [
        ("pipeline", "0001_supplier_offers"),
        ("orders", "0002_groups"),
    ]

    operations = [migrations.RunPython(groups_grant("pipeline"), migrations.RunPython.noop)]
