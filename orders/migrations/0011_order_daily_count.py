"""Orders per local day and state (``OrderDailyCount``) and when they were counted
(``OrderDailyCountRefresh``), for the dashboard's chart; filled here from the orders already
there, then kept by the worker (``order_daily_counts_refresh``, every minute). The fill is the
refresh's own query, written against the historical models."""

import datetime as dt

from django.db import migrations, models
from django.db.models import Count
from django.db.models.functions import TruncDate
from django.utils import timezone

DAYS = 31  # orders.services.rollups.ROLLUP_DAYS


def fill(apps, schema_editor):
    Order = apps.get_model("orders", "Order")
    OrderDailyCount = apps.get_model("orders", "OrderDailyCount")
    OrderDailyCountRefresh = apps.get_model("orders", "OrderDailyCountRefresh")
    alias = schema_editor.connection.alias
    now, zone = timezone.now(), timezone.get_current_timezone()
    first = timezone.localdate(now) - dt.timedelta(days=DAYS - 1)
    since = timezone.make_aware(dt.datetime.combine(first, dt.time.min), zone)
    rows = (Order.objects.using(alias).filter(created_at__gte=since).order_by()
            .annotate(day=TruncDate("created_at", tzinfo=zone))
            .values_list("day", "state").annotate(n=Count("id")))
    OrderDailyCount.objects.using(alias).bulk_create(
        [OrderDailyCount(day=day, state=state, n=n) for day, state, n in rows])
    OrderDailyCountRefresh.objects.using(alias).create(
        pk=1, refreshed_at=now, first_day=first, time_zone=timezone.get_current_timezone_name())


class Migration(migrations.Migration):

    dependencies = [
        ('orders', '0010_item_state_order'),
    ]

    operations = [
        migrations.CreateModel(
            name='OrderDailyCount',
            fields=[
                ('id', models.BigAutoField(auto_created=True, primary_key=True, serialize=False, verbose_name='ID')),
                ('day', models.DateField()),
                ('state', models.CharField(max_length=50)),
                ('n', models.IntegerField()),
            ],
            options={
                'constraints': [models.UniqueConstraint(fields=('day', 'state'), name='order_daily_day_state')],
            },
        ),
        migrations.CreateModel(
            name='OrderDailyCountRefresh',
            fields=[
                ('id', models.BigAutoField(auto_created=True, primary_key=True, serialize=False, verbose_name='ID')),
                ('refreshed_at', models.DateTimeField()),
                ('first_day', models.DateField()),
                ('time_zone', models.CharField(max_length=64)),
            ],
        ),
        migrations.RunPython(fill, migrations.RunPython.noop),
    ]
