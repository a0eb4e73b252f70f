"""The scan editor and preview pages: who may read, who may edit, and what they show."""

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.urls import reverse

from scanning.models import ScanProfile, ScanTemplate, ScanTerm
from tests.factories import PASSWORD, make_user, make_vendor
from tests.scanning_factories import make_profile, make_template, make_term

pytestmark = pytest.mark.django_db

PAGE = "I agree to be called on behalf of Mortgage Acme at the telephone number provided!"


def login(client, role: str):
    user = make_user(role)
    client.login(username=user.username, password=PASSWORD)
    return user


def test_every_scanning_page_needs_a_login(client):
    response = client.get(reverse("scanning:terms"))

    assert response.status_code == 302
    assert response["Location"].startswith(reverse("login"))


@pytest.mark.parametrize(
    "name", ["scanning:profiles", "scanning:terms", "scanning:templates", "scanning:preview"]
)
def test_a_viewer_reads_the_lists_and_the_preview(client, name):
    login(client, "viewer")
    make_profile("Default", terms=[make_term("I agree.")], templates=[make_template(name="TCPA")])

    response = client.get(reverse(name))

    assert response.status_code == 200
    assert b'aria-current="page">Scan terms</a>' in response.content


def test_a_viewer_sees_a_term_read_only_without_a_save_button(client):
    login(client, "viewer")
    term = make_term("I agree.")

    page = client.get(term.get_absolute_url()).content.decode()

    assert "Save term" not in page
    assert "disabled" in page
    assert "New term" not in client.get(reverse("scanning:terms")).content.decode()


@pytest.mark.parametrize(
    ("url", "data"),
    [
        (lambda: reverse("scanning:term-new"), {"text": "x", "kind": "required"}),
        (lambda: make_term("I agree.").get_absolute_url(), {"text": "changed", "kind": "required"}),
        (lambda: make_template().get_absolute_url(), {"text": "changed", "kind": "required"}),
        (lambda: make_profile().get_absolute_url(), {"name": "changed"}),
        (lambda: reverse("scanning:term-delete", args=[make_term().pk]), {}),
    ],
)
def test_a_viewer_and_an_analyst_cannot_edit(client, url, data):
    target = url()
    for role in ("viewer", "analyst"):
        login(client, role)
        assert client.post(target, data).status_code == 403
    assert not ScanTerm.objects.filter(text__in=["x", "changed"]).exists()
    assert not ScanProfile.objects.filter(name="changed").exists()


def test_a_manager_creates_a_term(client):
    login(client, "manager")

    response = client.post(
        reverse("scanning:term-new"), {"text": "I agree to be called.", "kind": "required"}, follow=True
    )

    assert ScanTerm.objects.get().text == "I agree to be called."
    assert "Saved the term “I agree to be called.”." in response.content.decode()


def test_a_manager_sees_the_reason_a_term_is_refused(client):
    login(client, "manager")

    response = client.post(reverse("scanning:term-new"), {"text": "{{*}}", "kind": "required"})

    assert "The term has no text besides wildcards, so it would match any page" in response.content.decode()
    assert not ScanTerm.objects.exists()


def template_post(rows: list[dict], columns=("company",), **fields) -> dict:
    data = {
        "name": "TCPA",
        "text": "on behalf of {{company}} at the telephone number",
        "kind": "required",
        "delimiter": "",
        "values-columns": list(columns),
        "values-TOTAL_FORMS": str(len(rows)),
        "values-INITIAL_FORMS": "0",
        **fields,
    }
    for index, row in enumerate(rows):
        data.update({f"values-{index}-{name}": value for name, value in row.items()})
    return data


def test_a_manager_saves_a_template_with_its_value_rows(client):
    login(client, "manager")

    client.post(
        reverse("scanning:template-new"),
        template_post([{"company": "Acme Mortgage"}, {"company": ""}, {"company": "Acme Loans"}]),
    )

    assert ScanTemplate.objects.get().variables == [{"company": "Acme Mortgage"}, {"company": "Acme Loans"}]


def test_add_a_row_works_without_javascript_and_saves_nothing(client):
    login(client, "manager")

    response = client.post(
        reverse("scanning:template-new"),
        template_post([{"company": "Acme"}], text="{{company}} may call {{phone}}", add_row="1"),
    )

    page = response.content.decode()
    assert not ScanTemplate.objects.exists()
    assert 'value="Acme"' in page
    assert page.count('name="values-columns"') == 2  # the new variable got its column
    assert 'name="values-1-company"' in page  # a blank row to fill
    assert "has no value" not in page  # no errors before saving


def test_a_value_row_missing_a_variable_is_explained_beside_the_values(client):
    login(client, "manager")

    response = client.post(
        reverse("scanning:template-new"),
        template_post(
            [{"company": "Acme", "phone": "555"}, {"company": "Beta", "phone": ""}],
            columns=("company", "phone"),
            text="{{company}} may call {{phone}}",
        ),
    )

    assert "Value row 2 has no value for {{phone}}" in response.content.decode()
    assert not ScanTemplate.objects.exists()


def test_a_manager_builds_a_profile_and_assigns_it_to_vendors(client):
    login(client, "manager")
    vendor = make_vendor("Acme Leads")
    term, template = make_term("I agree."), make_template()

    client.post(
        reverse("scanning:profile-new"),
        {
            "name": "Acme",
            "delimiter": "",
            "terms": [term.pk],
            "templates": [template.pk],
            "vendors": [vendor.pk],
            "acknowledge_v4": "on",  # its two-row template means "both rows" in v4
        },
    )

    profile = ScanProfile.objects.get()
    assert list(profile.terms.all()) == [term]
    assert vendor.scan_assignment.profile == profile


def test_a_profile_in_use_cannot_be_deleted(client):
    login(client, "manager")
    profile = make_profile("Acme", vendors=[make_vendor()])

    response = client.post(reverse("scanning:profile-delete", args=[profile.pk]), follow=True)

    assert ScanProfile.objects.filter(pk=profile.pk).exists()
    assert "give them another profile first" in response.content.decode()


def test_the_term_list_exports_csv(client):
    login(client, "viewer")
    make_term("I agree to be called.")

    response = client.get(reverse("scanning:terms"), {"_export": "csv"})

    assert response.status_code == 200
    assert "I agree to be called." in response.content.decode()


def test_the_preview_without_javascript_shows_found_and_near_miss(client):
    login(client, "viewer")

    response = client.post(
        reverse("scanning:preview"),
        {
            "page_text": PAGE,
            "required_terms": "on behalf of {{*}} at the telephone number\nat the telephone number provided.",
            "forbidden_terms": "sell your data",
        },
    )

    page = response.content.decode()
    assert page.count('data-testid="scan-line"') == 3
    assert '<mark class="scan-hit">on behalf of Mortgage Acme at the telephone number</mark>' in page
    assert "Punctuation: &#x27;!&#x27; on the page, &#x27;.&#x27; in the term." in page


def test_the_preview_fragment_scans_an_uploaded_html_page_with_a_profile(client):
    login(client, "viewer")
    profile = make_profile(templates=[make_template()])
    html = (
        b"<html><head><title>on behalf of Acme Mortgage</title></head><body><p>"
        + PAGE.encode()
        + b"</p></body>"
    )
    response = client.post(
        reverse("scanning:preview-results"),
        {"html_file": SimpleUploadedFile("page.html", html, "text/html"), "profile": profile.pk},
    )

    page = response.content.decode()
    assert "<html" not in page  # a fragment
    # The head's title is not scanned; the body's sentence ends in "!" where the template has ".".
    assert page.count('data-testid="scan-line"') == 1
    assert "not found: near miss" in page
    assert "Punctuation: &#x27;!&#x27; on the page, &#x27;.&#x27; in the term." in page


def test_the_preview_reports_an_invalid_typed_term(client):
    login(client, "viewer")

    response = client.post(reverse("scanning:preview-results"), {"page_text": PAGE, "required_terms": "{{ x"})

    assert "Unbalanced delimiter" in response.content.decode()


def test_the_preview_fragment_only_answers_posts(client):
    login(client, "viewer")

    assert client.get(reverse("scanning:preview-results")).status_code == 405


def test_a_profile_warns_that_v4_requires_every_row_of_a_required_template(client, settings):
    settings.TRUSTEDFORM_API_VERSION = "4.0"
    login(client, "viewer")
    profile = make_profile(templates=[make_template(name="TCPA")])

    page = client.get(profile.get_absolute_url()).content.decode()

    assert "In API v4 the 2 rows of “TCPA” are 2 required terms" in page
    settings.TRUSTEDFORM_API_VERSION = "3.0"
    assert (
        "required terms: the scan passes only if"
        not in client.get(profile.get_absolute_url()).content.decode()
    )
