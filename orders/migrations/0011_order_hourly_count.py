"""Orders per hour and per day of creation (hours, days since the Unix epoch, UTC) and state
now, kept by triggers on the order table (any writer: save, bulk_create/bulk_update,
QuerySet.update, raw SQL, cascades), filled from the orders already there. The dashboard's
"orders per day" reads them (orders/dashboard.py)."""

from django.db import migrations, models


# (table, bucket column, seconds per bucket): hours and days since the Unix epoch (UTC)
ROLLUPS = (("orders_orderhourlycount", "hour", 3600), ("orders_orderdailycount", "day", 86400))

# SQLite: row triggers (one writer at a time: no lock order to keep).
SQLITE_BUCKET = "(CAST(strftime('%s', {row}.created_at) AS INTEGER) / {size})"


def _sqlite_add(table: str, column: str, size: int) -> str:
    return (f"INSERT INTO {table} ({column}, state, n) VALUES "
            f"({SQLITE_BUCKET.format(row='NEW', size=size)}, NEW.state, 1) "
            f"ON CONFLICT ({column}, state) DO UPDATE SET n = n + 1;")


def _sqlite_remove(table: str, column: str, size: int) -> str:
    return (f"UPDATE {table} SET n = n - 1 WHERE {column} = "
            f"{SQLITE_BUCKET.format(row='OLD', size=size)} AND state = OLD.state;")


SQLITE_ADD = " ".join(_sqlite_add(*r) for r in ROLLUPS)
SQLITE_REMOVE = " ".join(_sqlite_remove(*r) for r in ROLLUPS)
SQLITE_FORWARD = [
    f"CREATE TRIGGER order_hourly_ins AFTER INSERT ON orders_order BEGIN {SQLITE_ADD} END",
    f"CREATE TRIGGER order_hourly_del AFTER DELETE ON orders_order BEGIN {SQLITE_REMOVE} END",
    f"CREATE TRIGGER order_hourly_upd AFTER UPDATE OF state, created_at ON orders_order "
    f"WHEN OLD.state IS NOT NEW.state OR {SQLITE_BUCKET.format(row='OLD', size=3600)} IS NOT "
    f"{SQLITE_BUCKET.format(row='NEW', size=3600)} BEGIN {SQLITE_REMOVE} {SQLITE_ADD} END",
    *(f"INSERT INTO {table} ({column}, state, n) SELECT "
      f"{SQLITE_BUCKET.format(row='o', size=size)}, o.state, COUNT(*) FROM orders_order o GROUP BY 1, 2"
      for table, column, size in ROLLUPS),
]
SQLITE_BACKWARD = ["DROP TRIGGER IF EXISTS order_hourly_ins", "DROP TRIGGER IF EXISTS order_hourly_del",
                   "DROP TRIGGER IF EXISTS order_hourly_upd"]

# PostgreSQL: statement triggers over the transition tables, one grouped upsert per statement
# and rollup in bucket order (a sync page of 500 orders touches each bucket once, and
# concurrent writers take the bucket rows in the same order).
PG_BUCKET = "floor(extract(epoch FROM {row}.created_at) / {size})::integer"
PG_CHANGED = ("FROM new_rows AS nw JOIN old_rows AS od ON od.id = nw.id "
              "WHERE od.state IS DISTINCT FROM nw.state OR od.created_at IS DISTINCT FROM nw.created_at")


def _pg_upsert(table: str, column: str, rows: str) -> str:
    return (f"INSERT INTO {table} ({column}, state, n) SELECT b, s, SUM(d) FROM ({rows}) AS delta "
            f"GROUP BY b, s HAVING SUM(d) <> 0 ORDER BY b, s "
            f"ON CONFLICT ({column}, state) DO UPDATE SET n = {table}.n + EXCLUDED.n;")


def _pg_branches(table: str, column: str, size: int) -> dict[str, str]:
    new, old = PG_BUCKET.format(row="nw", size=size), PG_BUCKET.format(row="od", size=size)
    return {
        "INSERT": _pg_upsert(table, column, f"SELECT {new} AS b, nw.state AS s, 1 AS d FROM new_rows AS nw"),
        "DELETE": (f"UPDATE {table} AS c SET n = c.n - gone.k FROM (SELECT {old} AS b, od.state AS s, "
                   f"COUNT(*) AS k FROM old_rows AS od GROUP BY 1, 2) AS gone "
                   f"WHERE c.{column} = gone.b AND c.state = gone.s;"),
        "UPDATE": _pg_upsert(table, column, f"SELECT {new} AS b, nw.state AS s, 1 AS d {PG_CHANGED} "
                                            f"UNION ALL SELECT {old}, od.state, -1 {PG_CHANGED}"),
        "TRUNCATE": f"DELETE FROM {table};",
    }


def _pg_function() -> str:
    branches = [_pg_branches(*r) for r in ROLLUPS]
    body = "\n  ELS".join(f"IF TG_OP = '{op}' THEN\n    " + "\n    ".join(b[op] for b in branches)
                          for op in ("INSERT", "DELETE", "UPDATE", "TRUNCATE"))
    return (f"CREATE OR REPLACE FUNCTION orders_order_hourly_count() RETURNS trigger "
            f"LANGUAGE plpgsql AS $$\nBEGIN\n  {body}\n  END IF;\n  RETURN NULL;\nEND $$")


PG_FUNCTION = _pg_function()
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
    *(f"INSERT INTO {table} ({column}, state, n) SELECT {PG_BUCKET.format(row='o', size=size)}, "
      f"o.state, COUNT(*) FROM orders_order AS o GROUP BY 1, 2" for table, column, size in ROLLUPS),
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
        migrations.CreateModel(
            name='OrderDailyCount',
            fields=[
                ('id', models.BigAutoField(auto_created=True, primary_key=True, serialize=False, verbose_name='ID')),
                ('day', models.IntegerField()),
                ('state', models.CharField(max_length=50)),
                ('n', models.IntegerField(default=0)),
            ],
            options={
                'constraints': [models.UniqueConstraint(fields=('day', 'state'), name='order_daily_day_state')],
            },
        ),
        migrations.RunPython(forward, backward),
    ]
