"""Operators manage webhooks (view/add/change, like everything else: no delete); Read-only
views them."""

from django.db import migrations

from core.groups import groups_grant


class Migration(migrations.Migration):
    dependencies = [
        ("webhooks", "0001_outbox"),
        ("orders", "0002_groups"),
    ]

    operations = [migrations.RunPython(groups_grant("webhooks"), migrations.RunPython.noop)]
