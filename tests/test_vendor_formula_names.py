"""A vendor name that a spreadsheet would run as a formula is refused, with why, wherever a person types
one: the vendor form, the claim form and a lead's correction (imports and the intake API: tests of their own). Nothing is created and nothing is sent."""

import pytest
from django.urls import reverse

from certificates.exporting import FORMULA_LIKE_NAME, formula_like
from certificates.forms import ClaimForm, LeadCorrectionForm, VendorForm
from certificates.models import ApiCall, Certificate, Vendor
from tests.factories import make_certificate, make_user

pytestmark = pytest.mark.django_db

FORMULAS = [
    "=cmd|' /C calc'!A0",
    "+1 Leads",
    "-Acme",
    "@SUM(A1)",
    "\t=HYPERLINK(1)",
    "  \r\n+Acme",
    " =Acme ",
]
PLAIN = ["Acme Leads", "1+1 Leads", "Acme = Leads", "Acme-Leads", "'=Acme", "Leads @ Home", "¡Acme!"]


@pytest.mark.parametrize("name", FORMULAS)
def test_names_that_start_like_a_formula_once_trimmed_look_like_formulas(name):
    assert formula_like(name)


@pytest.mark.parametrize("name", PLAIN)
def test_ordinary_names_do_not(name):
    assert not formula_like(name)


@pytest.mark.parametrize("name", FORMULAS)
def test_the_vendor_form_refuses_them_with_why(name):
    form = VendorForm({"name": name})

    assert not form.is_valid()
    assert form.errors["name"] == [FORMULA_LIKE_NAME]


@pytest.mark.parametrize("name", FORMULAS)
def test_the_claim_form_refuses_them_with_why(name):
    form = ClaimForm(
        {"cert_url": "https://cert.trustedform.com/" + "a" * 40, "vendor": name, "email": "j@x.io"}
    )

    assert not form.is_valid()
    assert form.errors["vendor"] == [FORMULA_LIKE_NAME]


def test_a_lead_correction_refuses_them_too():
    form = LeadCorrectionForm({"lead_email": "jo@example.com", "vendor": "=cmd|' /C calc'!A0"})

    assert not form.is_valid()
    assert form.errors["vendor"] == [FORMULA_LIKE_NAME]


def test_the_error_says_what_is_refused_and_why():
    assert FORMULA_LIKE_NAME == (
        "A vendor name cannot start with =, +, -, @ (a spreadsheet would run it as a formula)."
    )


def test_a_claim_naming_a_formula_vendor_creates_nothing_and_sends_nothing(client, tf_api):
    minted = tf_api.mint(email="jane@example.com")
    client.force_login(make_user("analyst"))

    response = client.post(
        reverse("certificates:claim"),
        {"cert_url": minted["cert_url"], "vendor": "=cmd|' /C calc'!A0", "email": "jane@example.com"},
    )

    assert FORMULA_LIKE_NAME in response.content.decode()
    assert not Vendor.objects.exists()
    assert not Certificate.objects.exists()
    assert not ApiCall.objects.exists()


def test_a_manager_cannot_add_or_rename_to_a_formula_name(client):
    client.force_login(make_user("manager"))
    vendor = Vendor.objects.create(name="Acme Leads")

    added = client.post(reverse("certificates:vendor-new"), {"name": "+1 Leads"})
    renamed = client.post(reverse("certificates:vendor", args=[vendor.pk]), {"name": "@Acme"})

    assert added.status_code == renamed.status_code == 400
    assert FORMULA_LIKE_NAME in added.content.decode()
    assert list(Vendor.objects.values_list("name", flat=True)) == ["Acme Leads"]


def test_correcting_a_lead_to_a_formula_vendor_keeps_the_vendor(client):
    certificate = make_certificate(email="jo@example.com")
    vendor = certificate.vendor
    client.force_login(make_user("analyst"))

    response = client.post(
        reverse("certificates:correct-lead", args=[certificate.pk]),
        {"lead_email": "jo@example.com", "vendor": "-Acme"},
    )

    certificate.refresh_from_db()
    assert FORMULA_LIKE_NAME in response.content.decode()
    assert certificate.vendor == vendor
    assert not Vendor.objects.filter(name="-Acme").exists()
