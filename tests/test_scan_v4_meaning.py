"""A required template of several rows means "any row" in API v3 and "every row" in v4: the preview shows
what the configured version sends and decides, and the editors ask before saving that meaning."""

import json

import pytest
from django.urls import reverse

from scanning.meaning import ACK_PREFIX, v4_meaning
from scanning.models import Kind, ScanProfile, ScanTemplate
from tests.factories import PASSWORD, make_user
from tests.scanning_factories import make_profile, make_template

pytestmark = pytest.mark.django_db

TEMPLATE = "I agree to be called on behalf of {{company}} at the telephone number provided."
ONE_ROW_ON_PAGE = "Yes. I agree to be called on behalf of Mortgage Acme at the telephone number provided."
ROWS = [{"company": "Acme Mortgage"}, {"company": "Mortgage Acme"}]


def login(client, role: str):
    user = make_user(role)
    client.login(username=user.username, password=PASSWORD)
    return user


def preview(client, profile, page_text: str) -> str:
    response = client.post(
        reverse("scanning:preview-results"), {"page_text": page_text, "profile": profile.pk}
    )
    assert response.status_code == 200
    return response.content.decode()


def wire_of(page: str) -> dict:
    start = page.index("<pre>") + len("<pre>")
    return json.loads(page[start : page.index("</pre>", start)].replace("&quot;", '"'))


def test_in_v4_the_preview_says_both_rows_must_be_on_the_page_and_fails_with_one(client, settings):
    settings.TRUSTEDFORM_API_VERSION = "4.0"
    login(client, "viewer")
    profile = make_profile(templates=[make_template(TEMPLATE, ROWS, name="TCPA")])

    page = preview(client, profile, ONE_ROW_ON_PAGE)

    assert "Scan fails in API v4.0" in page
    assert "not found: 1 of 2 rows on the page" in page
    assert "Sent as 2 required terms: both must be on the page (1 of 2 found)." in page
    assert "This page passes in API v3 but fails in API v4, and claims are sent with v4." in page
    assert (
        "“I agree to be called on behalf of {{company}} at the telephone number provided.” has 1 of its 2 rows"
        in page
    )
    assert wire_of(page) == {
        "insights": {
            "scans": {
                "required": [
                    "I agree to be called on behalf of Acme Mortgage at the telephone number provided.",
                    "I agree to be called on behalf of Mortgage Acme at the telephone number provided.",
                ],
                "forbidden": [],
            }
        }
    }


def test_in_v3_the_preview_sends_the_template_whole_and_passes_with_one_row(client, settings):
    settings.TRUSTEDFORM_API_VERSION = "3.0"
    login(client, "viewer")
    profile = make_profile(templates=[make_template(TEMPLATE, ROWS, name="TCPA")])

    page = preview(client, profile, ONE_ROW_ON_PAGE)

    assert "Scan passes in API v3.0" in page
    assert "matched as “I agree to be called on behalf of Mortgage Acme" in page
    assert "This page passes in API v3 but fails in API v4, and claims are sent with v3." in page
    assert wire_of(page) == {"required_scan_terms": [{"template": TEMPLATE, "variables": ROWS}]}


def test_with_every_row_on_the_page_both_versions_pass_and_nothing_is_said(client, settings):
    settings.TRUSTEDFORM_API_VERSION = "4.0"
    login(client, "viewer")
    profile = make_profile(templates=[make_template(TEMPLATE, ROWS, name="TCPA")])

    page = preview(
        client,
        profile,
        ONE_ROW_ON_PAGE
        + " I agree to be called on behalf of Acme Mortgage at the telephone number provided.",
    )

    assert "Scan passes in API v4.0" in page
    assert "(2 of 2 found)" in page
    assert 'data-testid="scan-difference"' not in page


def test_a_forbidden_template_means_the_same_in_both_versions(client, settings):
    settings.TRUSTEDFORM_API_VERSION = "4.0"
    login(client, "viewer")
    profile = make_profile(templates=[make_template(TEMPLATE, ROWS, name="TCPA", kind=Kind.FORBIDDEN)])

    page = preview(client, profile, ONE_ROW_ON_PAGE)

    assert "Scan fails in API v4.0" in page
    assert "Sent as 2 forbidden terms: any one on the page fails the scan." in page
    assert 'data-testid="scan-difference"' not in page
    assert not v4_meaning(profile).differs


def profile_post(template: ScanTemplate, **extra) -> dict:
    return {"name": "Acme TCPA", "delimiter": "", "templates": [template.pk], **extra}


def test_the_profile_editor_asks_before_saving_a_template_that_means_every_row_in_v4(client, settings):
    settings.TRUSTEDFORM_API_VERSION = "4.0"
    login(client, "manager")
    template = make_template(TEMPLATE, ROWS, name="TCPA")

    response = client.post(reverse("scanning:profile-new"), profile_post(template))

    page = response.content.decode()
    assert response.status_code == 200
    assert not ScanProfile.objects.exists()
    assert 'data-testid="v4-warning"' in page
    assert "In API v4 the 2 rows of “TCPA” are 2 required terms" in page
    assert "I understand: in API v4 both rows of “TCPA” must be on the page, not just one." in page
    assert "Tick the box to confirm what this profile means in API v4" in page


def test_a_confirmed_profile_is_saved_and_its_history_says_who_confirmed_it(client, settings):
    settings.TRUSTEDFORM_API_VERSION = "4.0"
    manager = login(client, "manager")
    template = make_template(TEMPLATE, ROWS, name="TCPA")

    response = client.post(reverse("scanning:profile-new"), profile_post(template, acknowledge_v4="on"))

    profile = ScanProfile.objects.get()
    assert response.status_code == 302
    meaning = v4_meaning(profile)
    assert meaning.acknowledged is not None
    assert meaning.acknowledged.user == manager.username
    assert profile.history.filter(history_change_reason__startswith=ACK_PREFIX).count() == 1
    page = client.get(profile.get_absolute_url()).content.decode()
    assert f"Confirmed by {manager.username}" in page
    # Saved again with the same meaning, it is not asked again.
    again = client.post(profile.get_absolute_url(), profile_post(template, note="edited"))
    assert again.status_code == 302


def test_a_profile_that_means_the_same_in_v4_saves_without_asking(client, settings):
    settings.TRUSTEDFORM_API_VERSION = "4.0"
    login(client, "manager")
    one_row = make_template(TEMPLATE, [{"company": "Acme"}], name="One")

    response = client.post(reverse("scanning:profile-new"), profile_post(one_row))

    assert response.status_code == 302
    assert not v4_meaning(ScanProfile.objects.get()).differs


def test_with_api_v3_the_profile_editor_does_not_ask(client, settings):
    settings.TRUSTEDFORM_API_VERSION = "3.0"
    login(client, "manager")

    response = client.post(reverse("scanning:profile-new"), profile_post(make_template(TEMPLATE, ROWS)))

    assert response.status_code == 302


def test_adding_a_row_to_a_template_in_a_profile_asks_again_and_confirming_renews_the_profile(
    client, settings
):
    settings.TRUSTEDFORM_API_VERSION = "4.0"
    login(client, "manager")
    template = make_template(TEMPLATE, ROWS, name="TCPA")
    client.post(reverse("scanning:profile-new"), profile_post(template, acknowledge_v4="on"))
    profile = ScanProfile.objects.get()
    three_rows = {
        "name": "TCPA",
        "text": TEMPLATE,
        "kind": "required",
        "delimiter": "",
        "values-TOTAL_FORMS": "3",
        "values-INITIAL_FORMS": "0",
        "values-columns": "company",
        "values-0-company": "Acme Mortgage",
        "values-1-company": "Mortgage Acme",
        "values-2-company": "Acme Loans",
    }

    refused = client.post(template.get_absolute_url(), three_rows)

    assert refused.status_code == 200
    assert "In API v4 the 3 rows of “TCPA” are 3 required terms" in refused.content.decode()
    template.refresh_from_db()
    assert len(template.variables) == 2
    confirmed = client.post(template.get_absolute_url(), {**three_rows, "acknowledge_v4": "on"})
    assert confirmed.status_code == 302
    template.refresh_from_db()
    assert len(template.variables) == 3
    assert v4_meaning(profile).acknowledged is not None


def test_a_template_edited_outside_the_editor_shows_its_profile_as_not_confirmed(client, settings):
    settings.TRUSTEDFORM_API_VERSION = "4.0"
    login(client, "manager")
    template = make_template(TEMPLATE, ROWS, name="TCPA")
    client.post(reverse("scanning:profile-new"), profile_post(template, acknowledge_v4="on"))
    assert "Differs: confirmed" in client.get(reverse("scanning:profiles")).content.decode()

    template.variables = [*ROWS, {"company": "Acme Loans"}]
    template.save()

    listing = client.get(reverse("scanning:profiles")).content.decode()
    assert "Differs: not confirmed" in listing
    profile_page = client.get(ScanProfile.objects.get().get_absolute_url()).content.decode()
    assert "I understand: in API v4 all 3 rows of “TCPA” must be on the page" in profile_page


def test_adding_a_row_shows_the_v4_warning_before_the_template_is_saved(client, settings):
    settings.TRUSTEDFORM_API_VERSION = "4.0"
    login(client, "manager")

    response = client.post(
        reverse("scanning:template-new"),
        {
            "name": "TCPA",
            "text": TEMPLATE,
            "kind": "required",
            "values-TOTAL_FORMS": "2",
            "values-INITIAL_FORMS": "0",
            "values-columns": "company",
            "values-0-company": "Acme Mortgage",
            "values-1-company": "Mortgage Acme",
            "add_row": "1",
        },
    )

    page = response.content.decode()
    assert not ScanTemplate.objects.exists()
    assert "In API v4 the 2 rows of “TCPA” are 2 required terms" in page
    assert "the profile editor asks for this confirmation" in page
