"""The certificate list: filters in the URL, search by normalised values, sorting, bounded queries, exports."""

import csv
import io
from datetime import timedelta

import django_filters
import openpyxl
import pytest
from django import forms
from django.core.management import call_command
from django.db import connection
from django.test.html import parse_html
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from django.utils import timezone
from django.utils.html import format_html
from django_tables2 import RequestConfig

from certificates import exporting
from certificates.alerts.raising import open_alert_count
from certificates.models import AccountStatus, Certificate, Vendor
from certificates.tables import CertificateTable, _badge
from certificates.widgets import (
    QuickDateRangeWidget,
    QuickHiddenInput,
    QuickNumberInput,
    QuickSelect,
    QuickTextInput,
)
from tests.factories import PASSWORD, make_certificate, make_user, make_vendor

pytestmark = pytest.mark.django_db

LIST = reverse("certificates:list")


def login(client, role: str):
    user = make_user(role)
    client.login(username=user.username, password=PASSWORD)
    return user


def certificate(vendor=None, **fields) -> Certificate:
    """A certificate with the given columns set as the claim worker would have set them."""
    lead = {k: fields.pop(k) for k in ("email", "phone", "reference") if k in fields}
    cert = make_certificate(vendor=vendor, **lead)
    if fields:
        Certificate.objects.filter(pk=cert.pk).update(**fields)
        cert.refresh_from_db()
    return cert


def listed(response) -> str:
    return response.content.decode()


def shown(page: str, cert: Certificate) -> bool:
    return f'href="{cert.get_absolute_url()}"' in page


def test_filters_by_state_outcome_and_vendor_and_keeps_them_in_the_url(client):
    login(client, "viewer")
    acme, other = make_vendor("Acme Leads"), make_vendor("Other Leads")
    wanted = certificate(acme, state="claimed", outcome="failure")
    wrong_vendor = certificate(other, state="claimed", outcome="failure")
    wrong_outcome = certificate(acme, state="claimed", outcome="success")

    response = client.get(LIST, {"vendor": acme.pk, "state": "claimed", "outcome": "failure"})

    page = listed(response)
    assert shown(page, wanted)
    assert not shown(page, wrong_vendor)
    assert not shown(page, wrong_outcome)
    # The filter is the URL: the "save this view" link carries it.
    assert f"vendor={acme.pk}&amp;state=claimed&amp;outcome=failure" in page


@pytest.mark.parametrize(
    ("params", "matching", "other"),
    [
        ({"fingerprint": "none"}, {"fingerprint_result": "none"}, {"fingerprint_result": "all"}),
        ({"scan": "failed"}, {"scan_success": False}, {"scan_success": True}),
        ({"scan": "none"}, {"scan_success": None}, {"scan_success": True}),
        ({"masked": "yes"}, {"is_masked": True}, {"is_masked": False}),
        ({"bot": "yes"}, {"bot_detected": True}, {"bot_detected": None}),
        ({"bot": "no"}, {"bot_detected": False}, {"bot_detected": True}),
        ({"reused": "yes"}, {"reused": True}, {"reused": False}),
        ({"review": "open"}, {"review_status": "open"}, {"review_status": "accepted"}),
        ({"review": "none"}, {"review_status": ""}, {"review_status": "rejected"}),
    ],
)
def test_each_check_filter_keeps_only_matching_certificates(client, params, matching, other):
    login(client, "viewer")
    wanted, unwanted = certificate(**matching), certificate(**other)

    page = listed(client.get(LIST, params))

    assert shown(page, wanted)
    assert not shown(page, unwanted)


def test_received_date_range_and_deadline_window_filter(client):
    login(client, "viewer")
    now = timezone.now()
    old = certificate(received_at=now - timedelta(days=10))
    due_soon = certificate(claim_deadline=now + timedelta(hours=3))
    due_later = certificate(claim_deadline=now + timedelta(hours=40))

    recent = listed(client.get(LIST, {"received_after": (now - timedelta(days=2)).date().isoformat()}))
    soon = listed(client.get(LIST, {"deadline_within": "12"}))

    assert not shown(recent, old) and shown(recent, due_soon)
    assert shown(soon, due_soon)
    assert not shown(soon, due_later)


@pytest.mark.parametrize(
    "query",
    ["JANE.Doe@Example.com ", "(512) 555-1212", "+1 512 555 1212", "LEAD-REF-77"],
)
def test_search_finds_a_lead_by_its_normalised_email_phone_or_reference(client, query):
    login(client, "viewer")
    wanted = certificate(email="jane.doe@example.com", phone="5125551212", reference="LEAD-REF-77")
    other = certificate(email="john@example.com", phone="5125550000", reference="LEAD-REF-78")

    page = listed(client.get(LIST, {"q": query}))

    assert shown(page, wanted)
    assert not shown(page, other)


def test_search_finds_a_certificate_by_its_id_or_url(client):
    login(client, "viewer")
    wanted, other = certificate(), certificate()

    by_id = listed(client.get(LIST, {"q": wanted.cert_id}))
    by_url = listed(client.get(LIST, {"q": wanted.cert_url}))

    assert shown(by_id, wanted) and not shown(by_id, other)
    assert shown(by_url, wanted) and not shown(by_url, other)


def test_search_is_an_exact_match_on_indexed_columns_not_a_like_scan(client):
    login(client, "viewer")
    certificate(email="jane@example.com")

    with CaptureQueriesContext(connection) as queries:
        client.get(LIST, {"q": "jane@example.com"})

    search = [q["sql"] for q in queries if "email_normalised" in q["sql"]]
    assert search, "the search query ran"
    assert all(" LIKE " not in sql.upper() for sql in search)


def test_sorting_by_deadline_orders_the_rows_and_breaks_ties_by_id(client):
    login(client, "viewer")
    now = timezone.now()
    late = certificate(claim_deadline=now + timedelta(hours=50))
    early = certificate(claim_deadline=now + timedelta(hours=5))
    tie = certificate(claim_deadline=now + timedelta(hours=5))

    page = listed(client.get(LIST, {"sort": "claim_deadline"}))
    backwards = listed(client.get(LIST, {"sort": "-claim_deadline"}))

    def order(p):
        return sorted((early, tie, late), key=lambda c: p.index(f'href="{c.get_absolute_url()}"'))

    assert order(page) == [early, tie, late]
    assert order(backwards) == [late, tie, early]


def test_with_thousands_of_certificates_a_filtered_sorted_page_runs_a_few_queries_and_no_count(
    client, django_assert_max_num_queries
):
    call_command("generate_certificates", 3000, vendors=10, seed=7, stdout=io.StringIO())
    login(client, "viewer")
    vendor = Vendor.objects.get(name="Generated vendor 003")
    AccountStatus.current()  # the banner's row exists in any running install
    open_alert_count()  # the navigation's count, cached for 30 s in a running install

    with CaptureQueriesContext(connection) as queries, django_assert_max_num_queries(9):
        response = client.get(LIST, {"vendor": vendor.pk, "state": "claimed", "sort": "claim_deadline"})

    assert response.status_code == 200
    rows = [row.record for row in response.context["table"].page.object_list]
    deadlines = [c.claim_deadline for c in rows]
    assert len(deadlines) == 50 and deadlines == sorted(deadlines)
    assert all(c.vendor_id == vendor.pk and c.state == "claimed" for c in rows)
    assert not [q for q in queries if "COUNT(" in q["sql"].upper()]
    assert 'class="next"' in response.content.decode()


def test_an_invalid_filter_value_shows_an_error_not_a_500(client):
    login(client, "viewer")

    response = client.get(LIST, {"deadline_within": "soon", "state": "nonsense"})

    assert response.status_code == 200
    assert "Select a valid choice" in response.content.decode()


# --- The hand-written fast paths render what Django and django-tables2 would -------------------------


def tbody(html: str):
    return parse_html(html[html.index("<tbody") : html.index("</tbody>") + len("</tbody>")])


@pytest.mark.parametrize("role", ["viewer", "analyst"])
def test_the_fast_rows_are_the_rows_django_tables2_renders(rf, role):
    """CertificateTable.rows_html skips django-tables2's per-cell machinery; it must not change a cell."""
    vendor = make_vendor("Acme & <Sons>")
    now = timezone.now()
    certificate(vendor, email="jane@example.com", phone="5125551212", reference="<b>R&D</b>")
    certificate(vendor, state="claimed", outcome="success", fingerprint_result="all", scan_success=True)
    certificate(
        vendor,
        state="claimed",
        outcome="failure",
        outcome_reason="expired",
        fingerprint_result="none",
        scan_success=False,
        is_masked=True,
        bot_detected=True,
        reused=True,
        review_status="open",
        claim_deadline=now + timedelta(hours=3),
    )
    certificate(vendor, state="error", review_status="rejected")
    request = rf.get(LIST)
    request.user = make_user(role)

    def rendered(template_name: str) -> str:
        table = CertificateTable(Certificate.objects.select_related("vendor"), template_name=template_name)
        RequestConfig(request, paginate={"per_page": 50}).configure(table)
        return table.as_html(request)

    fast = rendered(CertificateTable.Meta.template_name)
    stock = rendered("django_tables2/table.html")

    assert tbody(fast) == tbody(stock)
    assert fast.count("<tr class=") == 4
    assert "&lt;b&gt;R&amp;D&lt;/b&gt;" in fast and "Acme &amp; &lt;Sons&gt;" in fast


def test_the_fast_table_shows_the_empty_text_when_nothing_matches(client):
    login(client, "viewer")

    page = listed(client.get(LIST, {"q": "nothing-has-this-reference"}))

    assert "No certificates match these filters." in page


@pytest.mark.parametrize("value", ["", "b&c", "<x>", ["b&c"], None])
def test_the_quick_select_renders_what_djangos_select_renders(value):
    choices = [("", "Any"), ("a", "Plain"), ("b&c", "Amp & <tag>"), ("<x>", '"quoted"')]
    attrs = {"id": "id_pick", "class": "wide"}

    quick = QuickSelect(choices=choices).render("pick", value, attrs)
    stock = forms.Select(choices=choices).render("pick", value, attrs)

    assert parse_html(quick) == parse_html(stock)


def test_the_vendor_filter_marks_the_chosen_vendor_and_escapes_names(client):
    login(client, "viewer")
    chosen = make_vendor("Leads <&> Co")
    make_vendor("Another")

    page = listed(client.get(LIST, {"vendor": chosen.pk}))

    assert f'<option value="{chosen.pk}" selected>Leads &lt;&amp;&gt; Co</option>' in page


@pytest.mark.parametrize(
    ("quick", "stock"),
    [
        (QuickTextInput, forms.TextInput),
        (QuickNumberInput, forms.NumberInput),
        (QuickHiddenInput, forms.HiddenInput),
    ],
)
@pytest.mark.parametrize("value", ["", "b&c", '<x>"', 12, None])
def test_the_quick_inputs_render_what_djangos_inputs_render_byte_for_byte(quick, stock, value):
    attrs = {"id": "id_pick", "placeholder": 'a "b" & <c>', "min": 0, "required": True, "disabled": False}

    assert quick(attrs={"class": "x"}).render("pick", value, attrs) == stock(attrs={"class": "x"}).render(
        "pick", value, attrs
    )


@pytest.mark.parametrize("value", [None, ["2026-01-01", "<b>&"], ["", "2026-02-01"]])
def test_the_quick_date_range_renders_what_django_filter_renders_byte_for_byte(value):
    quick = QuickDateRangeWidget(attrs={"type": "date"}).render("received", value, {"id": "id_received"})
    stock = django_filters.widgets.DateRangeWidget(attrs={"type": "date"}).render(
        "received", value, {"id": "id_received"}
    )

    assert quick == stock


def test_the_list_badges_say_what_the_models_display_methods_say():
    for field, choices, css in [
        ("state", Certificate.State, "badge-"),
        ("outcome", Certificate.Outcome, "badge-"),
        ("review_status", Certificate.ReviewStatus, "badge-review-"),
    ]:
        for value in [*choices.values, "not-a-choice"]:
            record = Certificate(**{field: value})
            label = getattr(record, f"get_{field}_display")()
            expected = format_html('<span class="badge {}{}">{}</span>', css, value, label)
            shown = getattr(CertificateTable([]), f"render_{field}")(record)
            assert shown == (expected if value else "—")
    assert _badge("badge-", "<x>", "a & b") == '<span class="badge badge-&lt;x&gt;">a &amp; b</span>'


def test_a_vendor_added_or_renamed_shows_in_the_vendor_filter_at_once(client):
    """The filter's form class is built once per process; its vendor options are read on every page."""
    login(client, "viewer")
    renamed = make_vendor("Old Name Leads")
    assert "Old Name Leads" in listed(client.get(LIST))  # the form class now exists

    Vendor.objects.filter(pk=renamed.pk).update(name="New Name Leads")
    added = make_vendor("Brand New Leads")
    page = listed(client.get(LIST, {"vendor": added.pk}))

    assert "Old Name Leads" not in page
    assert f'<option value="{renamed.pk}">New Name Leads</option>' in page
    assert f'<option value="{added.pk}" selected>Brand New Leads</option>' in page


@pytest.mark.parametrize("value", ["999999", "abc", "1.0", "-1", "99999999999999999999999"])
def test_a_vendor_that_is_not_a_choice_is_a_form_error_not_a_500(client, value):
    login(client, "viewer")
    make_vendor("Only Leads")

    response = client.get(LIST, {"vendor": value})

    assert response.status_code == 200
    assert "Select a valid choice" in listed(response)


def test_the_vendor_filter_reads_the_vendors_once_for_its_options_and_its_check(client):
    login(client, "viewer")
    chosen, other = make_vendor("Chosen Leads"), make_vendor("Other Leads")
    wanted, unwanted = certificate(chosen), certificate(other)

    with CaptureQueriesContext(connection) as queries:
        page = listed(client.get(LIST, {"vendor": f" {chosen.pk} "}))  # as queryset.get(pk=...) reads it

    assert shown(page, wanted) and not shown(page, unwanted)
    assert len([q for q in queries if 'FROM "certificates_vendor"' in q["sql"]]) == 1


def test_a_certificate_added_or_changed_since_the_last_page_shows_on_the_next(client):
    """The view's queryset is built once per process; each page still reads its rows afresh."""
    login(client, "viewer")
    earlier = certificate(make_vendor(), reference="first")
    assert shown(listed(client.get(LIST)), earlier)

    later = certificate(make_vendor(), reference="second")
    Certificate.objects.filter(pk=earlier.pk).update(reference="first, corrected")
    page = listed(client.get(LIST))

    assert shown(page, later) and "first, corrected" in page


# --- Exports ---------------------------------------------------------------------------------------


def csv_rows(response) -> list[list[str]]:
    body = b"".join(response.streaming_content).decode()
    return list(csv.reader(io.StringIO(body)))


def test_csv_export_streams_the_filtered_set_in_the_shown_order(client):
    login(client, "manager")
    acme = make_vendor("Acme Leads")
    now = timezone.now()
    second = certificate(acme, state="claimed", reference="B", claim_deadline=now + timedelta(hours=9))
    first = certificate(acme, state="claimed", reference="A", claim_deadline=now + timedelta(hours=2))
    certificate(acme, state="pending", reference="not exported")
    certificate(make_vendor("Other"), state="claimed", reference="not exported either")

    response = client.get(
        LIST, {"vendor": acme.pk, "state": "claimed", "sort": "claim_deadline", "_export": "csv"}
    )

    assert response.streaming
    assert response["Content-Type"].startswith("text/csv")
    assert 'filename="certificates.csv"' in response["Content-Disposition"]
    rows = csv_rows(response)
    assert rows[0] == exporting.HEADERS
    assert [(r[0], r[2], r[3], r[6]) for r in rows[1:]] == [
        (first.cert_id, "Acme Leads", "A", "claimed"),
        (second.cert_id, "Acme Leads", "B", "claimed"),
    ]


def test_xlsx_export_opens_in_a_spreadsheet_library(client):
    login(client, "manager")
    wanted = certificate(email="jane@example.com", state="claimed", outcome="success")

    response = client.get(LIST, {"state": "claimed", "_export": "xlsx"})

    assert response.status_code == 200
    sheet = openpyxl.load_workbook(io.BytesIO(response.content)).active
    rows = list(sheet.iter_rows(values_only=True))
    assert list(rows[0]) == exporting.HEADERS
    assert rows[1][0] == wanted.cert_id
    assert rows[1][4] == "jane@example.com"
    assert len(rows) == 2


@pytest.mark.parametrize("evil", ['=HYPERLINK("http://x")', "+SUM(A1)", "-2+3", "@cmd", "\tTAB", "\rCR"])
def test_exported_cells_that_look_like_formulas_are_neutralised(client, evil):
    login(client, "manager")
    certificate(reference=evil)

    csv_cells = csv_rows(client.get(LIST, {"_export": "csv"}))[1]
    sheet = openpyxl.load_workbook(io.BytesIO(client.get(LIST, {"_export": "xlsx"}).content)).active
    xlsx_cells = list(sheet.iter_rows(values_only=True))[1]

    assert csv_cells[3] == "'" + evil
    # XML normalises a bare CR to LF when the workbook is read back; the prefix is what matters.
    assert xlsx_cells[3] == "'" + evil.replace("\r", "\n")


def test_xlsx_export_of_too_many_rows_is_refused_with_a_clear_message(client, monkeypatch):
    monkeypatch.setattr(exporting, "XLSX_MAX_ROWS", 2)
    login(client, "manager")
    for _ in range(3):
        certificate()

    response = client.get(LIST, {"state": "pending", "_export": "xlsx"}, follow=True)

    page = response.content.decode()
    assert response.redirect_chain[-1][0] == f"{LIST}?state=pending"
    assert "holds at most 2 certificates" in page
    assert "export CSV, which has no limit" in page


@pytest.mark.parametrize("role", ["viewer", "analyst"])
@pytest.mark.parametrize("export_format", ["csv", "xlsx"])
def test_exporting_needs_the_export_permission(client, role, export_format):
    login(client, role)
    certificate()

    response = client.get(LIST, {"_export": export_format})

    assert response.status_code == 403
    assert "Export CSV" not in client.get(LIST).content.decode()


def test_a_manager_sees_the_export_buttons(client):
    login(client, "manager")

    page = client.get(LIST, {"state": "claimed"}).content.decode()

    assert "_export=csv" in page and "_export=xlsx" in page and "state=claimed" in page
