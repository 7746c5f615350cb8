import os, sys, time
os.environ["CELERY_BROKER_URL"] = "memory://"
from _common import setup_django, BENCH_DIR
setup_django(f"sqlite:///{BENCH_DIR}/bench.sqlite3")
from pyinstrument import Profiler
from django.contrib.auth import get_user_model
from django.test import Client
from merchants.models import Merchant
import bench_bulk_place as b
m = Merchant.objects.get(name="bench bulk")
pks = b.drafts(m, "PROF")
user = get_user_model().objects.get(username="bench-admin")
c = Client(); c.force_login(user)
url = f"/admin/orders/order/?merchant={m.pk}&state__exact=draft"
c.get(url)
p = Profiler(); p.start()
t = time.perf_counter()
r = c.post(url, {"action": "place_selected", "index": 0, "select_across": "1", "_selected_action": [str(pks[0])]})
print(r.status_code, time.perf_counter() - t)
p.stop(); print(p.output_text(unicode=False)[:8000])
from orders.models import Order
Order.objects.filter(pk__in=pks).update(external_id="")
