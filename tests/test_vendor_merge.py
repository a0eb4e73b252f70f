"""Managers merge two vendors (everything moves, the merged one is deleted and the audit trail says so)
and delete a vendor that nothing refers to; otherwise the page says why it cannot be deleted."""

from datetime import UTC, datetime, timedelta

import pytest
from django.urls import reverse
from django.utils import timezone

from certificates import vendors
from certificates.models import Certificate, Vendor, VendorDayRollup
from certificates.reports import rollups
from scanning.models import VendorScanProfile
from tests.factories import make_certificate, make_user, make_vendor
from tests.scanning_factories import make_profile

pytestmark = pytest.mark.django_db

DAY_1 = datetime(2026, 3, 2, 15, 0, tzinfo=UTC)
DAY_2 = DAY_1 + timedelta(days=1)


def received_on(certificate: Certificate, when: datetime) -> Certificate:
    Certificate.objects.filter(pk=certificate.pk).update(received_at=when)
    return certificate


def merge_url(vendor: Vendor) -> str:
    return reverse("certificates:vendor-merge", args=[vendor.pk])


@pytest.fixture
def two_vendors() -> tuple[Vendor, Vendor]:
    """“Acme” with two certificates on two days and a scan profile; “Acme Leads” with one on day 1."""
    source, target = make_vendor("Acme"), make_vendor("Acme Leads")
    received_on(make_certificate(vendor=source), DAY_1)
    received_on(make_certificate(vendor=source), DAY_2)
    received_on(make_certificate(vendor=target), DAY_1)
    make_profile("Acme consent", vendors=[source])
    rollups.refresh_dirty()
    return source, target


def test_the_confirmation_shows_what_moves_before_anything_changes(client, two_vendors):
    source, target = two_vendors
    client.force_login(make_user("manager"))

    page = client.get(merge_url(source), {"into": target.pk}).content.decode()

    assert "Merge “Acme” into “Acme Leads”?" in page
    assert "2 certificates move to “Acme Leads”" in page
    assert "2 days of vendor reports are recounted" in page
    assert "The scan profile “Acme consent” becomes the profile of “Acme Leads”" in page
    assert Certificate.objects.filter(vendor=source).count() == 2


def test_merging_without_ticking_the_confirmation_changes_nothing(client, two_vendors):
    source, target = two_vendors
    client.force_login(make_user("manager"))

    response = client.post(merge_url(source), {"into": target.pk})

    assert response.status_code == 400
    assert "Tick the box to confirm the merge" in response.content.decode()
    assert Vendor.objects.filter(pk=source.pk).exists()
    assert Certificate.objects.filter(vendor=source).count() == 2


def test_a_confirmed_merge_moves_certificates_rollups_and_profile_then_deletes_the_vendor(
    client, two_vendors
):
    source, target = two_vendors
    client.force_login(make_user("manager"))

    response = client.post(merge_url(source), {"into": target.pk, "confirm": "on"}, follow=True)

    assert "Merged “Acme” into “Acme Leads”: 2 certificates moved." in response.content.decode()
    assert not Vendor.objects.filter(pk=source.pk).exists()
    assert Certificate.objects.filter(vendor=target).count() == 3
    assert VendorScanProfile.objects.get(vendor=target).profile.name == "Acme consent"
    counts = dict(VendorDayRollup.objects.values_list("day", "received"))
    assert counts == {DAY_1.date(): 2, DAY_2.date(): 1}
    assert set(VendorDayRollup.objects.values_list("vendor_id", flat=True)) == {target.pk}


def test_the_rollups_after_a_merge_equal_a_recount_from_scratch(client, two_vendors):
    source, target = two_vendors
    client.force_login(make_user("manager"))
    client.post(merge_url(source), {"into": target.pk, "confirm": "on"})
    merged = rollups.snapshot(VendorDayRollup.objects.all())

    rollups.rebuild()

    assert merged == rollups.snapshot(VendorDayRollup.objects.all())


def test_the_target_keeps_its_own_profile_and_the_page_says_so(client, two_vendors):
    source, target = two_vendors
    make_profile("Acme Leads consent", vendors=[target])
    client.force_login(make_user("manager"))

    page = client.get(merge_url(source), {"into": target.pk}).content.decode()
    client.post(merge_url(source), {"into": target.pk, "confirm": "on"})

    assert "keeps its scan profile “Acme Leads consent”" in page
    assert VendorScanProfile.objects.get(vendor=target).profile.name == "Acme Leads consent"
    assert VendorScanProfile.objects.count() == 1


def test_the_audit_trail_keeps_the_merged_vendor_with_who_merged_it_into_what(client, two_vendors):
    source, target = two_vendors
    client.force_login(make_user("manager", username="mona"))
    client.post(merge_url(source), {"into": target.pk, "confirm": "on"})
    client.force_login(make_user("admin"))

    record = Vendor.history.get(id=source.pk, history_type="-")
    page = client.get(reverse("audit"), {"model": "vendor"}).content.decode()

    assert record.history_change_reason == f"merged into “Acme Leads” (#{target.pk}) by mona"
    assert record.history_user.username == "mona"
    assert f"merged into “Acme Leads” (#{target.pk}) by mona" in page


def test_a_long_target_name_is_shortened_to_fit_the_history_column(two_vendors):
    source, target = two_vendors
    target.name = "Acme " * 40  # 200 characters, the longest name there is
    manager = make_user("manager")

    reason = vendors.merge_reason(source, target, manager)

    assert len(reason) <= 100
    assert reason.endswith(f"(#{target.pk}) by {manager.username}")


def test_no_merge_while_a_claim_of_its_certificates_is_in_flight(client, two_vendors):
    source, target = two_vendors
    leased = Certificate.objects.filter(vendor=source).first()
    Certificate.objects.filter(pk=leased.pk).update(
        lease_owner="worker:1", lease_expires_at=timezone.now() + timedelta(minutes=1)
    )
    client.force_login(make_user("manager"))

    response = client.post(merge_url(source), {"into": target.pk, "confirm": "on"}, follow=True)

    assert "is being sent right now; nothing was changed" in response.content.decode()
    assert Vendor.objects.filter(pk=source.pk).exists()
    assert Certificate.objects.filter(vendor=source).count() == 2
    assert VendorScanProfile.objects.filter(vendor=source).exists()


@pytest.mark.parametrize("into", ["self", "", "abc", "999999", str(10**30), "a\x00b"])
def test_a_vendor_to_merge_into_that_is_not_another_vendor_is_a_form_error(client, into):
    vendor = make_vendor("Acme")
    client.force_login(make_user("manager"))

    response = client.post(
        merge_url(vendor), {"into": vendor.pk if into == "self" else into, "confirm": "on"}
    )

    assert response.status_code == 400
    assert Vendor.objects.filter(pk=vendor.pk).exists()


def test_the_vendor_page_offers_merge_and_says_why_it_cannot_be_deleted(client, two_vendors):
    source, _ = two_vendors
    client.force_login(make_user("manager"))

    page = client.get(reverse("certificates:vendor", args=[source.pk])).content.decode()

    assert merge_url(source) in page
    assert "“Acme” has 2 certificates, 2 days of reports and the scan profile “Acme consent”" in page
    assert reverse("certificates:vendor-delete", args=[source.pk]) not in page


def test_deleting_a_vendor_that_something_refers_to_is_refused_with_why(client, two_vendors):
    source, _ = two_vendors
    client.force_login(make_user("manager"))

    response = client.post(reverse("certificates:vendor-delete", args=[source.pk]), follow=True)

    assert "merge it into another vendor instead" in response.content.decode()
    assert Vendor.objects.filter(pk=source.pk).exists()


def test_a_vendor_with_only_a_profile_cannot_be_deleted_either(client):
    vendor = make_vendor("Acme")
    make_profile("Acme consent", vendors=[vendor])
    client.force_login(make_user("manager"))

    page = client.get(reverse("certificates:vendor-delete", args=[vendor.pk])).content.decode()
    client.post(reverse("certificates:vendor-delete", args=[vendor.pk]))

    assert "“Acme” has the scan profile “Acme consent”" in page
    assert Vendor.objects.filter(pk=vendor.pk).exists()


def test_a_manager_deletes_a_vendor_nothing_refers_to_and_the_audit_trail_keeps_it(client):
    vendor = make_vendor("Typo Leads")
    client.force_login(make_user("manager", username="mona"))

    page = client.get(reverse("certificates:vendor", args=[vendor.pk])).content.decode()
    response = client.post(reverse("certificates:vendor-delete", args=[vendor.pk]), follow=True)

    assert reverse("certificates:vendor-delete", args=[vendor.pk]) in page
    assert "Deleted the vendor “Typo Leads”." in response.content.decode()
    assert not Vendor.objects.filter(pk=vendor.pk).exists()
    record = Vendor.history.get(id=vendor.pk, history_type="-")
    assert record.history_change_reason == "deleted by mona: nothing referred to it"


def test_analysts_see_neither_merge_nor_delete(client, two_vendors):
    source, target = two_vendors
    client.force_login(make_user("analyst"))

    merged = client.post(merge_url(source), {"into": target.pk, "confirm": "on"})
    deleted = client.post(reverse("certificates:vendor-delete", args=[source.pk]))

    assert merged.status_code == deleted.status_code == 403
    assert Vendor.objects.filter(pk=source.pk).exists()


@pytest.mark.django_db(transaction=True)
def test_a_merge_commits_for_real_with_every_deferred_constraint_checked(two_vendors):
    # Committed, not rolled back at the end: PostgreSQL checks foreign keys at commit.
    source, target = two_vendors

    moved = vendors.merge_vendor(source, target, user=make_user("manager"))

    assert moved == 2
    assert not Vendor.objects.filter(pk=source.pk).exists()
    assert Certificate.objects.filter(vendor=target).count() == 3
