"""config.db.insert.bulk_insert: the same parameters and rows as bulk_create, fewer layers."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal
from zoneinfo import ZoneInfo

import pytest
from django.contrib.auth.models import Group
from django.db import connection, connections
from django.db.models.sql import InsertQuery
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from config.db import insert
from config.db.insert import bulk_insert
from orders.models import Order, OrderEvent, OrderItem, Shipment

pytestmark = pytest.mark.django_db

WHEN = dt.datetime(2026, 3, 29, 1, 30, 15, 123456, tzinfo=ZoneInfo("Europe/Berlin"))


def _comparable(params):  # type: ignore[no-untyped-def]
    """psycopg's Jsonb wrapper has no equality: compare what it wraps and how it dumps."""
    return [(type(p).__name__, p.obj, p.dumps(p.obj)) if type(p).__name__ == "Jsonb" else p
            for p in params]


def _django_params(objs):  # type: ignore[no-untyped-def]
    """What Django's own SQLInsertCompiler sends for these objects."""
    model = type(objs[0])
    fields = [f for f in model._meta.concrete_fields if not f.generated and f is not model._meta.pk]
    query = InsertQuery(model)
    query.insert_values(fields, objs)
    compiler = query.get_compiler(connection=connection)
    # the per-value path of SQLInsertCompiler.as_sql (which then lays the values out per backend)
    return _comparable([compiler.prepare_value(f, compiler.pre_save_val(f, obj)) for obj in objs for f in fields])


def _ours(objs):  # type: ignore[no-untyped-def]
    fields, pre_save, converters = insert._plan(type(objs[0]), connections["default"])
    return _comparable([convert(field.pre_save(obj, True) if needs else getattr(obj, field.attname))
                        for obj in objs for field, needs, convert in zip(fields, pre_save, converters, strict=True)])


def _orders(merchant):  # type: ignore[no-untyped-def]
    full = Order(merchant=merchant, external_id="T-1", external_ids=["T-1", "x"], raw_status="3",
                 contact_name="Zoë Ünïcode", contact_email="z@example.com", city="Köln", country="DE",
                 currency="EUR", total=Decimal("12.30"), items_total=Decimal("10"),
                 shipping_total=Decimal("2.300"), ordered_at=WHEN, synced_at=WHEN,
                 expires_at=WHEN.astimezone(dt.UTC), raw_data={"a": [1, 2.5, None, True], "ß": "ü"},
                 provider_options={})
    bare = Order(merchant_id=merchant.pk)  # defaults only, the FK given by id
    odd = Order(merchant=merchant, raw_status=7, total=1.5, items_total=3,  # non-canonical types
                raw_data="just a string", ordered_at=dt.datetime(2026, 1, 1, 12, 0, tzinfo=dt.UTC))
    for order in (full, bare, odd):
        order.created_at = WHEN
    return [full, bare, odd]


@pytest.fixture(params=["utc", "berlin"])
def zone(request, settings):  # type: ignore[no-untyped-def]
    settings.TIME_ZONE = "UTC" if request.param == "utc" else "Europe/Berlin"
    timezone.activate(settings.TIME_ZONE)
    yield
    timezone.deactivate()


def test_parameters_equal_djangos_for_every_field(merchant, zone, freezer=None):  # type: ignore[no-untyped-def]
    orders = _orders(merchant)
    # auto_now fields take "now": freeze it so both sides see the same instant
    fixed = dt.datetime(2026, 11, 24, 6, 0, tzinfo=dt.UTC)
    from unittest import mock
    with mock.patch("django.utils.timezone.now", return_value=fixed):
        assert _ours(orders) == _django_params(orders)
        Order.objects.bulk_create(orders[:1])
        items = [
            OrderItem(order=orders[0], external_id="i1", sku="S", quantity=3, confirmed_quantity=2,
                      unit_price=Decimal("1.10"), total_price=Decimal("3.30"), variant={"size": "M"},
                      next_statuses=["5", "9"], raw_data={"k": 1}),
            OrderItem(order_id=orders[0].pk),
        ]
        assert _ours(items) == _django_params(items)
        events = [OrderEvent(order=orders[0], kind="sync", http_status=201, duration_ms=12,
                             data={"n": [1.5, "x"]}),
                  OrderEvent(order_id=orders[0].pk, kind="note", actor=None)]
        assert _ours(events) == _django_params(events)
        shipments = [Shipment(order=orders[0], carrier="DHL", notify_customer=False, shipped_at=WHEN),
                     Shipment(order_id=orders[0].pk)]
        assert _ours(shipments) == _django_params(shipments)


def _rows(qs, exclude=("id", "reference", "external_id", "updated_at")):  # type: ignore[no-untyped-def]
    return [{k: v for k, v in row.items() if k not in exclude} for row in qs.order_by("pk").values()]


def test_rows_read_back_equal_to_bulk_create(merchant):  # type: ignore[no-untyped-def]
    ours, theirs = _orders(merchant), _orders(merchant)
    for i, (a, b) in enumerate(zip(ours, theirs, strict=True)):
        a.external_id, b.external_id = f"ours-{i}", f"theirs-{i}"
    with CaptureQueriesContext(connection) as ctx:
        result = bulk_insert(ours)
    assert len(ctx.captured_queries) == 1
    assert result is ours and all(o.pk and not o._state.adding for o in ours)
    assert sorted(o.pk for o in ours) == [o.pk for o in ours]  # ids in the order sent
    Order.objects.bulk_create(theirs)
    assert _rows(Order.objects.filter(pk__in=[o.pk for o in ours])) == \
        _rows(Order.objects.filter(pk__in=[o.pk for o in theirs]))
    # the primary keys set on the instances are the rows' own
    assert dict(Order.objects.filter(pk__in=[o.pk for o in ours]).values_list("pk", "external_id")) == \
        {o.pk: o.external_id for o in ours}
    # children by the parent instance (FK attname taken from it, as bulk_create does)
    items = bulk_insert([OrderItem(order=ours[0], sku=f"S{i}") for i in range(3)])
    assert [i.order_id for i in items] == [ours[0].pk] * 3
    assert list(OrderItem.objects.filter(order=ours[0]).order_by("pk").values_list("sku", flat=True)) == \
        ["S0", "S1", "S2"]


def test_batches_by_the_backends_parameter_limit(merchant, monkeypatch):  # type: ignore[no-untyped-def]
    monkeypatch.setattr(connection.ops, "bulk_batch_size", lambda fields, objs: 4)
    events = [OrderEvent(order_id=None, kind="note", message=str(i)) for i in range(10)]
    order = Order.objects.create(merchant=merchant)
    for e in events:
        e.order = order
    with CaptureQueriesContext(connection) as ctx:
        bulk_insert(events)
    assert len(ctx.captured_queries) == 3  # 4 + 4 + 2
    assert list(order.events.order_by("pk").values_list("message", flat=True)) == [str(i) for i in range(10)]
    assert [e.pk for e in events] == list(order.events.order_by("pk").values_list("pk", flat=True))


def test_falls_back_to_bulk_create_when_it_cannot_help(merchant):  # type: ignore[no-untyped-def]
    with CaptureQueriesContext(connection) as ctx:
        assert bulk_insert([]) == []
    assert not ctx.captured_queries
    # objects with a primary key already: bulk_create's business
    group = Group(pk=987654, name="preset")
    bulk_insert([group])
    assert Group.objects.get(pk=987654).name == "preset"
    # an unsaved parent is refused exactly like bulk_create refuses it
    with pytest.raises(ValueError, match="unsaved related object"):
        bulk_insert([OrderItem(order=Order(merchant=merchant))])


def test_custom_fields_keep_their_own_preparation():  # type: ignore[no-untyped-def]
    from django.db import models

    class Shouting(models.CharField):
        def get_prep_value(self, value):  # type: ignore[no-untyped-def]
            return str(value).upper()

    plain = insert._converter(models.CharField(max_length=9), connections["default"])
    custom = insert._converter(Shouting(max_length=9), connections["default"])
    assert plain("abc") == "abc"
    assert custom("abc") == "ABC"  # not the str fast path
    fsm = insert._converter(Order._meta.get_field("state"), connections["default"])
    assert fsm("placed") == "placed"
