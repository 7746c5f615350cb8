import providers.tipser.models
from django.db import migrations


def fill(apps, schema_editor):
    """Existing sandbox orders get their item status codes (new writes derive them)."""
    from providers.tipser.models import item_statuses_text

    SandboxOrder = apps.get_model("tipser", "SandboxOrder")
    batch = []
    for order in SandboxOrder.objects.only("pk", "data").iterator(chunk_size=2000):
        order.item_statuses = item_statuses_text(order.data)
        batch.append(order)
        if len(batch) == 2000:
            SandboxOrder.objects.bulk_update(batch, ["item_statuses"])
            batch = []
    if batch:
        SandboxOrder.objects.bulk_update(batch, ["item_statuses"])


class Migration(migrations.Migration):

    dependencies = [
        ("tipser", "0002_sandbox_list_index"),
    ]

    operations = [
        migrations.AddField(
            model_name="sandboxorder",
            name="item_statuses",
            field=providers.tipser.models.ItemStatusesField(default="", editable=False,
                                                            max_length=255),
        ),
        migrations.RunPython(fill, migrations.RunPython.noop),
    ]
