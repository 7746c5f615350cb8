"""Orders per hour of creation (hours since the Unix epoch) and state now, kept by triggers on the order table (any
writer: save, bulk_create/bulk_update, QuerySet.update, raw SQL, cascades), filled from the
orders already there. The dashboard's "orders per day" reads it (orders/dashboard.py)."""

from django.db import migrations, models


TABLE = "orders_orderhourlycount"

# SQLite: row triggers (one writer at a time: no lock order to keep).
SQLITE_HOUR = "(CAST(strftime('%s', {row}.created_at) AS INTEGER) / 3600)"
SQLITE_ADD = (f"INSERT INTO {TABLE} (hour, state, n) VALUES ({SQLITE_HOUR.format(row='NEW')}, "
              f"NEW.state, 1) ON CONFLICT (hour, state) DO UPDATE SET n = n + 1;")
SQLITE_REMOVE = (f"UPDATE {TABLE} SET n = n - 1 WHERE hour = {SQLITE_HOUR.format(row='OLD')} "
                 f"AND state = OLD.state;")
SQLITE_FORWARD = [
    f"CREATE TRIGGER order_hourly_ins AFTER INSERT ON orders_order BEGIN {SQLITE_ADD} END",
    f"CREATE TRIGGER order_hourly_del AFTER DELETE ON orders_order BEGIN {SQLITE_REMOVE} END",
    f"CREATE TRIGGER order_hourly_upd AFTER UPDATE OF state, created_at ON orders_order "
    f"WHEN OLD.state IS NOT NEW.state OR {SQLITE_HOUR.format(row='OLD')} IS NOT "
    f"{SQLITE_HOUR.format(row='NEW')} BEGIN {SQLITE_REMOVE} {SQLITE_ADD} END",
    f"INSERT INTO {TABLE} (hour, state, n) SELECT {SQLITE_HOUR.format(row='o')}, o.state, "
    f"COUNT(*) FROM orders_order o GROUP BY 1, 2",
]
SQLITE_BACKWARD = ["DROP TRIGGER IF EXISTS order_hourly_ins", "DROP TRIGGER IF EXISTS order_hourly_del",
                   "DROP TRIGGER IF EXISTS order_hourly_upd"]

# PostgreSQL: statement triggers over the transition tables, one grouped upsert per statement
# in (hour, state) order (a sync page of 500 orders touches each bucket once, and concurrent
# writers take the bucket rows in the same order).
PG_HOUR = "floor(extract(epoch FROM {row}.created_at) / 3600)::integer"
PG_UPSERT = (f"INSERT INTO {TABLE} (hour, state, n) SELECT h, s, SUM(d) FROM ({{rows}}) AS delta "
             f"GROUP BY h, s HAVING SUM(d) <> 0 ORDER BY h, s "
             f"ON CONFLICT (hour, state) DO UPDATE SET n = {TABLE}.n + EXCLUDED.n;")
PG_CHANGED = ("FROM new_rows AS nw JOIN old_rows AS od ON od.id = nw.id "
              "WHERE od.state IS DISTINCT FROM nw.state OR od.created_at IS DISTINCT FROM nw.created_at")
PG_FUNCTION = f"""
CREATE OR REPLACE FUNCTION orders_order_hourly_count() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  IF TG_OP = 'INSERT' THEN
    {PG_UPSERT.format(rows=f"SELECT {PG_HOUR.format(row='nw')} AS h, nw.state AS s, 1 AS d FROM new_rows AS nw")}
  ELSIF TG_OP = 'DELETE' THEN
    UPDATE {TABLE} AS c SET n = c.n - gone.k
    FROM (SELECT {PG_HOUR.format(row='od')} AS h, od.state AS s, COUNT(*) AS k FROM old_rows AS od
          GROUP BY 1, 2) AS gone
    WHERE c.hour = gone.h AND c.state = gone.s;
  ELSIF TG_OP = 'UPDATE' THEN
    {PG_UPSERT.format(rows=f"SELECT {PG_HOUR.format(row='nw')} AS h, nw.state AS s, 1 AS d {PG_CHANGED} "
                      f"UNION ALL SELECT {PG_HOUR.format(row='od')}, od.state, -1 {PG_CHANGED}")}
  ELSE
    DELETE FROM {TABLE};
  END IF;
  RETURN NULL;
END $$
"""
PG_FORWARD = [
    PG_FUNCTION,
    "CREATE TRIGGER order_hourly_ins AFTER INSERT ON orders_order REFERENCING NEW TABLE AS new_rows "
    "FOR EACH STATEMENT EXECUTE FUNCTION orders_order_hourly_count()",
    "CREATE TRIGGER order_hourly_del AFTER DELETE ON orders_order REFERENCING OLD TABLE AS old_rows "
    "FOR EACH STATEMENT EXECUTE FUNCTION orders_order_hourly_count()",
    "CREATE TRIGGER order_hourly_upd AFTER UPDATE ON orders_order "
    "REFERENCING OLD TABLE AS old_rows NEW TABLE AS new_rows "
    "FOR EACH STATEMENT EXECUTE FUNCTION orders_order_hourly_count()",
    "CREATE TRIGGER order_hourly_trunc AFTER TRUNCATE ON orders_order "
    "FOR EACH STATEMENT EXECUTE FUNCTION orders_order_hourly_count()",
    f"INSERT INTO {TABLE} (hour, state, n) SELECT {PG_HOUR.format(row='o')}, o.state, COUNT(*) "
    f"FROM orders_order AS o GROUP BY 1, 2",
]
PG_BACKWARD = [*(f"DROP TRIGGER IF EXISTS {name} ON orders_order" for name in
                 ("order_hourly_ins", "order_hourly_del", "order_hourly_upd", "order_hourly_trunc")),
               "DROP FUNCTION IF EXISTS orders_order_hourly_count()"]


def _run(schema_editor, statements: dict[str, list[str]]) -> None:
    vendor = schema_editor.connection.vendor
    if vendor not in statements:
        raise RuntimeError(f"orders.OrderHourlyCount has no triggers for {vendor}")
    for sql in statements[vendor]:
        schema_editor.execute(sql, params=None)


def forward(apps, schema_editor) -> None:
    _run(schema_editor, {"sqlite": SQLITE_FORWARD, "postgresql": PG_FORWARD})


def backward(apps, schema_editor) -> None:
    _run(schema_editor, {"sqlite": SQLITE_BACKWARD, "postgresql": PG_BACKWARD})


class Migration(migrations.Migration):

    dependencies = [
        ('orders', '0010_item_state_order'),
    ]

    operations = [
        migrations.CreateModel(
            name='OrderHourlyCount',
            fields=[
                ('id', models.BigAutoField(auto_created=True, primary_key=True, serialize=False, verbose_name='ID')),
                ('hour', models.IntegerField()),
                ('state', models.CharField(max_length=50)),
                ('n', models.IntegerField(default=0)),
            ],
            options={
                'constraints': [models.UniqueConstraint(fields=('hour', 'state'), name='order_hourly_hour_state')],
            },
        ),
        migrations.RunPython(forward, backward),
    ]
