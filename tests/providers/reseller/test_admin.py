"""Admin: days left on drafts, the provider-draft button, custom fields / characteristics
forms built from what the provider returns (against the sandbox through the wire bridge)."""

from __future__ import annotations

import datetime as dt

import pytest
from django.urls import reverse
from django.utils import timezone

from orders import services
from tests.factories import MerchantFactory, OrderFactory, OrderItemFactory

from .test_sandbox import _account, bridge

pytestmark = pytest.mark.django_db
LABEL = "White-label reseller v3"  # the provider's label, as the pages name it


@pytest.fixture
def sandbox(mocked):
    bridge(mocked)
    return mocked


@pytest.fixture
def staff(client, operator):
    client.force_login(operator)
    return client


def test_changelist_shows_draft_days_left(staff, merchant):
    OrderFactory(merchant=merchant, expires_at=timezone.now() + dt.timedelta(days=3, hours=5))
    page = staff.get(reverse("admin:orders_order_changelist")).content.decode()
    assert "Draft days left" in page
    assert "3 d 4 h" in page or "3 d 5 h" in page


def test_operator_creates_provider_draft_from_the_order_page(staff, sandbox,
                                                            django_capture_on_commit_callbacks):
    order = OrderFactory(merchant=MerchantFactory(account=_account()))
    OrderItemFactory(order=order, product_id="P1")
    change = staff.get(reverse("admin:orders_order_change", args=[order.pk])).content.decode()
    url = reverse("admin:orders_order_provider_draft", args=[order.pk])
    assert url in change
    assert staff.get(url).status_code == 200
    calls = len(sandbox.calls)
    with django_capture_on_commit_callbacks() as worker:
        response = staff.post(url, follow=True)
    assert "provider draft creation queued" in response.content.decode()
    assert len(sandbox.calls) == calls and worker  # not in the web request
    for task in worker:
        task()
    order.refresh_from_db()
    assert order.external_id and order.items.get().external_id
    change = staff.get(reverse("admin:orders_order_change", args=[order.pk])).content.decode()
    assert reverse("admin:orders_order_custom_fields", args=[order.pk]) in change
    assert "6 d" in change  # days left


def read_page(client, url, mocked, capture, what="custom fields"):
    """The page asks the worker to read: "Reading … from <provider>…" (polling itself), no
    provider call in the request; the worker reads; the page polled again shows the form."""
    calls = len(mocked.calls)
    with capture() as worker:
        reading = client.get(url).content.decode()
    assert f"Reading {what} from {LABEL}…" in reading
    assert 'hx-trigger="every 2s"' in reading and f'hx-get="{url}"' in reading
    assert "<form" not in reading.split('id="dd-read"')[1]
    assert len(mocked.calls) == calls and len(worker) == 1  # nothing sent inside the request
    worker[0]()
    assert len(mocked.calls) > calls
    calls = len(mocked.calls)
    page = client.get(url).content.decode()
    assert "Reading" not in page and 'hx-trigger="every 2s"' not in page
    assert len(mocked.calls) == calls  # served from the stored read
    return page


def test_custom_fields_form_is_built_from_provider_fields_and_saves(
        staff, sandbox, django_capture_on_commit_callbacks):
    order = OrderFactory(merchant=MerchantFactory(account=_account()))
    OrderItemFactory(order=order, product_id="P1")
    order = services.order_provider_draft_create(order=order)
    url = reverse("admin:orders_order_custom_fields", args=[order.pk])
    page = read_page(staff, url, sandbox, django_capture_on_commit_callbacks)
    assert 'name="PONumber"' in page and "Delivery notes" in page and "Read again" in page
    calls = len(sandbox.calls)
    with django_capture_on_commit_callbacks() as worker:
        saved = staff.post(url, {"PONumber": "PO-9", "DeliveryNotes": ""})
    assert saved.status_code == 302 and len(sandbox.calls) == calls  # checked on the kept read
    for task in worker:
        task()
    values = {f["name"]: f["value"] for f in services.order_custom_fields_get(order=order)}
    assert values == {"PONumber": "PO-9", "DeliveryNotes": ""}
    # saving forgot the kept read: the page reads the new values afresh
    page = read_page(staff, url, sandbox, django_capture_on_commit_callbacks)
    assert 'value="PO-9"' in page


def test_a_post_without_a_kept_read_saves_nothing_and_reads_again(
        staff, sandbox, django_capture_on_commit_callbacks):
    order = OrderFactory(merchant=MerchantFactory(account=_account()))
    OrderItemFactory(order=order, product_id="P1")
    order = services.order_provider_draft_create(order=order)
    url = reverse("admin:orders_order_custom_fields", args=[order.pk])
    calls = len(sandbox.calls)
    with django_capture_on_commit_callbacks() as worker:
        page = staff.post(url, {"PONumber": "PO-9"}).content.decode()
    assert "Nothing saved" in page and f"Reading custom fields from {LABEL}…" in page
    assert len(sandbox.calls) == calls
    assert len(worker) == 1  # the read, not a save
    assert not order.events.filter(message__contains="queued").exists()


def test_a_failed_read_shows_its_reason_and_read_again(
        staff, sandbox, django_capture_on_commit_callbacks, monkeypatch):
    from providers.errors import ProviderUnavailable
    from providers.reseller.service import ResellerService

    order = OrderFactory(merchant=MerchantFactory(account=_account()))
    OrderItemFactory(order=order, product_id="P1")
    order = services.order_provider_draft_create(order=order)

    def down(self, order):
        raise ProviderUnavailable("HTTP 503: maintenance window")

    monkeypatch.setattr(ResellerService, "custom_fields_get", down)
    url = reverse("admin:orders_order_custom_fields", args=[order.pk])
    with django_capture_on_commit_callbacks(execute=True):
        staff.get(url)
    page = staff.get(url)
    assert page.status_code == 200
    text = page.content.decode()
    assert (f"Could not read the custom fields from {LABEL}: {LABEL} could not be reached or "
            "is busy (HTTP 503: maintenance window); read again in a moment.") in text
    assert f'href="{url}?refresh=1">Read again' in text
    assert 'hx-trigger="every 2s"' not in text  # no more polling
    monkeypatch.undo()
    with django_capture_on_commit_callbacks(execute=True):
        staff.get(url + "?refresh=1")
    assert 'name="PONumber"' in staff.get(url).content.decode()


def test_characteristics_form_saves(staff, sandbox, django_capture_on_commit_callbacks):
    order = OrderFactory(merchant=MerchantFactory(account=_account()))
    item = OrderItemFactory(order=order, product_id="P1")
    services.order_provider_draft_create(order=order)
    item.refresh_from_db()
    url = reverse("admin:orders_order_item_characteristics", args=[order.pk, item.pk])
    assert 'name="Seats"' in read_page(staff, url, sandbox, django_capture_on_commit_callbacks,
                                       what="characteristics")
    with django_capture_on_commit_callbacks(execute=True):
        staff.post(url, {"DomainName": "shop.example", "Seats": "3"})
    values = {v["name"]: v["value"]
              for v in services.order_item_characteristics_get(item=item)}
    assert values == {"DomainName": "shop.example", "Seats": "3"}


def test_custom_fields_page_is_read_only_for_readonly_user(client, readonly_user, sandbox,
                                                           django_capture_on_commit_callbacks):
    client.force_login(readonly_user)
    order = OrderFactory(merchant=MerchantFactory(account=_account()))
    OrderItemFactory(order=order, product_id="P1")
    order = services.order_provider_draft_create(order=order)
    page = read_page(client, reverse("admin:orders_order_custom_fields", args=[order.pk]),
                     sandbox, django_capture_on_commit_callbacks)
    assert 'name="PONumber"' in page and "disabled" in page
    assert "Save at the provider" not in page


def _form_data(html: str) -> dict[str, str]:
    """The change form's current values (inputs, selects, textareas) as a browser posts them."""
    from html.parser import HTMLParser

    data: dict[str, str] = {}

    class Parser(HTMLParser):
        select: str | None = None
        textarea: str | None = None

        def handle_starttag(self, tag, attrs):
            a = dict(attrs)
            name = a.get("name")
            if tag == "input" and name and a.get("type") not in ("submit", "button", "file"):
                if a.get("type") == "checkbox":
                    if "checked" in a:
                        data[name] = a.get("value") or "on"
                else:
                    data[name] = a.get("value") or ""
            elif tag == "select" and name:
                self.select = name
                data.setdefault(name, "")
            elif tag == "option" and self.select and "selected" in a:
                data[self.select] = a.get("value") or ""
            elif tag == "textarea" and name:
                self.textarea = name
                data[name] = ""

        def handle_endtag(self, tag):
            if tag == "select":
                self.select = None
            if tag == "textarea":
                self.textarea = None

        def handle_data(self, text):
            if self.textarea:
                data[self.textarea] += text

    Parser().feed(html)
    return data


def test_item_inline_adds_and_deletes_through_the_provider(staff, sandbox,
                                                           django_capture_on_commit_callbacks):
    from providers.reseller.models import SandboxOrder

    order = OrderFactory(merchant=MerchantFactory(account=_account()))
    OrderItemFactory(order=order, product_id="P1", name="First")
    order = services.order_provider_draft_create(order=order)
    url = reverse("admin:orders_order_change", args=[order.pk])
    data = _form_data(staff.get(url).content.decode())
    first = order.items.get()
    data.update({"items-0-DELETE": "on", "items-TOTAL_FORMS": "2",
                 "items-1-name": "Second", "items-1-product_id": "P2", "items-1-sku": "",
                 "items-1-quantity": "3", "items-1-unit_price": "", "items-1-order": str(order.pk),
                 "items-1-id": ""})
    calls = len(sandbox.calls)
    with django_capture_on_commit_callbacks() as worker:
        response = staff.post(url, data, follow=True)
    assert response.redirect_chain and response.redirect_chain[0][1] == 302
    page = response.content.decode()
    assert f"removing item &#x27;{first}&#x27; queued" in page
    assert "adding item &#x27;3 × Second&#x27; at the provider queued" in page
    assert len(sandbox.calls) == calls  # nothing sent inside the web request
    assert order.items.filter(pk=first.pk).exists()  # removed by the worker, after the provider
    assert order.items.get(name="Second").external_id == ""  # saved here; pushed by the worker
    for task in worker:
        task()
    remote = SandboxOrder.objects.get(pk=int(order.external_id))
    assert list(remote.items.values_list("product_id", "quantity")) == [("P2", 3)]
    assert not order.items.filter(pk=first.pk).exists()
    assert order.items.get().external_id == str(remote.items.get().pk)


@pytest.mark.django_db(transaction=True)
def test_item_inline_calls_the_provider_after_the_form_transaction_committed(admin_client,
                                                                              mocked, monkeypatch):
    """Regression: the inline's provider calls ran inside the admin's form transaction; with
    the sandbox served by the same process on SQLite they failed ('database is locked'). Now
    the worker makes them (eager here: queued on commit, so run once the form committed)."""
    from django.db import connection

    from providers.http import HttpClient
    from providers.reseller.models import SandboxOrder

    bridge(mocked)
    in_transaction = []
    send = HttpClient.request

    def recording(self, method, *args, **kwargs):  # every provider call, whoever serves it
        in_transaction.append((method, connection.in_atomic_block))
        return send(self, method, *args, **kwargs)

    monkeypatch.setattr(HttpClient, "request", recording)
    client = admin_client
    order = OrderFactory(merchant=MerchantFactory(account=_account()))
    OrderItemFactory(order=order, product_id="P1", name="First")
    order = services.order_provider_draft_create(order=order)
    in_transaction.clear()
    url = reverse("admin:orders_order_change", args=[order.pk])
    data = _form_data(client.get(url).content.decode())
    data.update({"items-0-DELETE": "on", "items-TOTAL_FORMS": "2",
                 "items-1-name": "Second", "items-1-product_id": "P2", "items-1-sku": "",
                 "items-1-quantity": "3", "items-1-unit_price": "", "items-1-order": str(order.pk),
                 "items-1-id": ""})
    response = client.post(url, data)
    assert response.status_code == 302
    assert in_transaction and not any(atomic for _, atomic in in_transaction), in_transaction
    remote = SandboxOrder.objects.get(pk=int(order.external_id))
    assert list(remote.items.values_list("product_id", "quantity")) == [("P2", 3)]
