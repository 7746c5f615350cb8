"""Supplier offers: CSV import validated row by row (nothing half-imported), export, API and
admin pages."""

from __future__ import annotations

from decimal import Decimal

import pytest
from django.contrib.auth.models import Permission
from django.core.files.uploadedfile import SimpleUploadedFile
from django.urls import reverse
from rest_framework.test import APIClient

from merchants.services import integration_create
from pipeline.csvio import OfferImportError, offers_export, offers_import
from pipeline.models import SupplierOffer

pytestmark = pytest.mark.django_db
HEADER = "sales_product_id,sales_sku,supplier,supplier_sku,expected_cost,cost_currency,priority\n"


def test_import_creates_and_updates_and_export_round_trips(suppliers):
    a, b = suppliers
    result = offers_import(text=HEADER + f"P1,,{a.pk},A-1,10.00,EUR,1\nP1,,{b.pk},B-1,11.50,EUR,2\n")
    assert (result.created, result.updated) == (2, 0)
    result = offers_import(text=HEADER + f"P1,,{a.pk},A-1b,9.00,EUR,1\n")
    assert (result.created, result.updated) == (0, 1)
    assert SupplierOffer.objects.get(supplier=a).supplier_sku == "A-1b"
    exported = offers_export(SupplierOffer.objects.order_by("pk"))
    SupplierOffer.objects.all().delete()
    assert offers_import(text=exported).created == 2


def test_a_bad_file_names_every_problem_by_line_and_column_and_imports_nothing(suppliers):
    a, _ = suppliers
    text = HEADER + (f"P1,,{a.pk},A-1,10.00,EUR,1\n"
                     f"P2,,999999,A-2,-3,EUR,1\n"
                     f",,{a.pk},A-3,abc,EUR,0\n"
                     f"P1,,{a.pk},A-1,10.00,EUR,1\n")
    with pytest.raises(OfferImportError) as caught:
        offers_import(text=text)
    lines = caught.value.lines()
    assert "line 3, supplier: no merchant with id 999999" in lines
    assert "line 3, expected_cost: must not be negative" in lines
    assert "line 4, sales_product_id: give the sales product id, the sales SKU, or both" in lines
    assert "line 4, expected_cost: not a number: 'abc'" in lines
    assert "line 4, priority: a whole number from 1" in lines
    assert "line 5, priority: same offer as line 2" in lines
    assert SupplierOffer.objects.count() == 0


def test_missing_and_unknown_columns_are_refused():
    with pytest.raises(OfferImportError) as caught:
        offers_import(text="sales_product_id,colour\nP1,red\n")
    assert "line 1, supplier: missing column" in caught.value.lines()
    assert "line 1, colour: unknown column" in caught.value.lines()


def test_the_admin_import_page_shows_its_file_field_and_the_errors(client, operator, suppliers):
    operator.user_permissions.add(*Permission.objects.filter(content_type__app_label="pipeline"))
    client.force_login(operator)
    url = reverse("admin:pipeline_supplieroffer_import")
    page = client.get(url).content.decode()
    assert 'type="file" name="file"' in page
    bad = SimpleUploadedFile("offers.csv", (HEADER + "P1,,0,A,x,EUR,1\n").encode())
    page = client.post(url, {"file": bad}).content.decode()
    assert "nothing was imported" in page and "line 2, supplier: no merchant with id 0" in page
    good = SimpleUploadedFile("offers.csv", (HEADER + f"P1,,{suppliers[0].pk},A,1.5,EUR,1\n").encode())
    answer = client.post(url, {"file": good}, follow=True)
    assert "Imported: 1 new, 0 updated offer(s)." in answer.content.decode()
    export = client.get(reverse("admin:pipeline_supplieroffer_export"))
    assert export["Content-Type"] == "text/csv" and b"P1" in export.content


def test_a_read_only_user_cannot_import(client, readonly_user):
    readonly_user.user_permissions.add(*Permission.objects.filter(codename="view_supplieroffer"))
    client.force_login(readonly_user)
    assert client.get(reverse("admin:pipeline_supplieroffer_import")).status_code == 403
    assert client.get(reverse("admin:pipeline_supplieroffer_export")).status_code == 200


def test_api_offers_validate_and_name_the_field(suppliers):
    integration, key = integration_create(name="catalogue", staff=True)
    integration.user.user_permissions.add(*Permission.objects.filter(content_type__app_label="pipeline"))
    api = APIClient()
    api.credentials(HTTP_AUTHORIZATION=f"Token {key}")
    a, _ = suppliers
    ok = api.post("/api/v1/supplier-offers/", {"sales_product_id": "P1", "supplier": a.pk,
                                                "expected_cost": "10.00"}, format="json")
    assert ok.status_code == 201, ok.content
    again = api.post("/api/v1/supplier-offers/", {"sales_product_id": "P1", "supplier": a.pk,
                                                   "expected_cost": "10.00"}, format="json")
    assert again.status_code == 409 and "priority" in again.json()["error"]["fields"]
    bad = api.post("/api/v1/supplier-offers/", {"sales_product_id": "P2", "supplier": a.pk,
                                                 "expected_cost": "-1", "cost_currency": "€€€"}, format="json")
    assert bad.status_code == 400
    assert {"expected_cost", "cost_currency"} <= set(bad.json()["error"]["fields"])
    assert SupplierOffer.objects.get().expected_cost == Decimal("10.00")


def test_api_offer_writes_need_the_permission(suppliers):
    _integration, key = integration_create(name="reader")
    api = APIClient()
    api.credentials(HTTP_AUTHORIZATION=f"Token {key}")
    assert api.get("/api/v1/supplier-offers/").status_code == 200
    answer = api.post("/api/v1/supplier-offers/", {"sales_product_id": "P1", "supplier": suppliers[0].pk,
                                                    "expected_cost": "1"}, format="json")
    assert answer.status_code == 403


def test_api_offer_names_a_sales_product_or_sku_as_the_schema_says(suppliers):
    import jsonschema_rs

    integration, key = integration_create(name="offers-schema")
    integration.user.user_permissions.add(*Permission.objects.filter(
        codename__in=["add_supplieroffer", "change_supplieroffer"]))
    api = APIClient()
    api.credentials(HTTP_AUTHORIZATION=f"Token {key}")
    openapi = api.get("/api/schema/?format=json").json()
    a, _ = suppliers

    def schema_allows(name, body):
        schema = {**openapi["components"]["schemas"][name], "components": openapi["components"]}
        return jsonschema_rs.validator_for(schema).is_valid(body)

    # "\x1f" is blank to DRF (trimmed): the schema says so too (ECMA's \s does not have it)
    control = {"sales_product_id": "\x1f", "supplier": a.pk, "expected_cost": "1.00"}
    assert not schema_allows("SupplierOfferRequest", control)
    assert api.post("/api/v1/supplier-offers/", control, format="json").status_code == 400
    offer = api.post("/api/v1/supplier-offers/", {"sales_sku": "S1", "supplier": a.pk,
                                                  "expected_cost": "1.00"}, format="json").json()
    url = f"/api/v1/supplier-offers/{offer['id']}/"
    # blanking both in one PATCH: refused by the schema and by the server (400)
    both = {"sales_product_id": "", "sales_sku": " "}
    assert not schema_allows("PatchedSupplierOfferRequest", both)
    assert api.patch(url, both, format="json").status_code == 400
    # blanking the one the offer has (schema-valid alone): a conflict with the stored offer
    sku = {"sales_sku": ""}
    assert schema_allows("PatchedSupplierOfferRequest", sku)
    answer = api.patch(url, sku, format="json")
    assert answer.status_code == 409 and answer.json()["error"]["code"] == "conflict"
    assert SupplierOffer.objects.get(pk=offer["id"]).sales_sku == "S1"
