"""Scan terms, templates and profiles: validation in words a compliance manager understands, and the
wire form a claim sends (scanning.profiles)."""

import pytest
from django.core.exceptions import ValidationError
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils.datastructures import MultiValueDict

from scanning import profiles
from scanning.forms import ScanProfileForm, ScanTemplateForm, ScanTermForm, posted_rows
from scanning.models import Kind, ScanProfile, ScanTemplate, ScanTerm, foreign_wildcards
from tests.factories import make_vendor
from tests.scanning_factories import ON_BEHALF, make_profile, make_template, make_term

pytestmark = pytest.mark.django_db


def errors_of(obj) -> list[str]:
    with pytest.raises(ValidationError) as caught:
        obj.full_clean()
    return [message for messages in caught.value.message_dict.values() for message in messages]


# --- terms -------------------------------------------------------------------------------------


def test_an_empty_term_is_refused_with_what_to_enter():
    form = ScanTermForm({"text": "   ", "kind": "required"})

    assert not form.is_valid()
    assert form.errors["text"] == ["The term is empty: enter the consent text to look for"]


def test_a_term_of_only_spaces_and_a_wildcard_is_refused_because_it_matches_any_page():
    assert errors_of(ScanTerm(text="{{*}}", kind=Kind.REQUIRED)) == [
        "The term has no text besides wildcards, so it would match any page"
    ]


def test_a_garbled_wildcard_is_refused_with_the_right_spelling():
    (message,) = errors_of(ScanTerm(text="on behalf of {{ * }} at", kind=Kind.REQUIRED))

    assert message.startswith("'{{ * }}' is not a wildcard or a variable: write {{*}} for a wildcard")


def test_a_valid_term_saves_through_the_form():
    form = ScanTermForm({"text": "I agree to be contacted by {{*}}.", "kind": "forbidden", "note": "x"})

    assert form.is_valid(), form.errors
    term = form.save()
    assert (term.text, term.kind) == ("I agree to be contacted by {{*}}.", "forbidden")


def test_editing_a_term_keeps_it_scannable_in_its_profiles_delimiter():
    term = make_term("on behalf of |*| at the number")
    make_profile("Pipes", terms=[term], delimiter="|")

    form = ScanTermForm({"text": "on behalf of | at the number", "kind": "required"}, instance=term)

    assert not form.is_valid()
    assert form.errors["text"][0].startswith(
        "In the profile “Pipes”: “on behalf of | at the number”: Unbalanced"
    )


# --- templates ---------------------------------------------------------------------------------


def template_form(text: str = ON_BEHALF, rows=None, **fields) -> ScanTemplateForm:
    data = {"name": "TCPA", "text": text, "kind": "required", "delimiter": "", "note": "", **fields}
    return ScanTemplateForm(data, instance=ScanTemplate(), rows=rows if rows is not None else [])


def test_a_template_with_a_variable_and_no_rows_asks_for_a_row():
    form = template_form(rows=[])

    assert not form.is_valid()
    assert form.non_field_errors() == ["Add at least one row of values for {{company}}."]


def test_a_value_row_missing_a_variable_is_named_by_its_number():
    form = template_form(
        "{{company}} may call me at {{phone}}.", rows=[{"company": "Acme", "phone": "x"}, {"company": "Beta"}]
    )

    assert not form.is_valid()
    assert form.non_field_errors() == ["Value row 2 has no value for {{phone}}"]


def test_a_value_for_a_variable_the_template_does_not_use_is_an_unknown_variable():
    form = template_form(rows=[{"company": "Acme", "brand": "Acme Loans"}])

    assert not form.is_valid()
    assert form.non_field_errors() == ["Value row 1 gives a value for 'brand', which the term does not use"]


def test_a_wildcard_inside_a_template_value_is_refused():
    form = template_form(rows=[{"company": "Acme {{*}}"}])

    assert not form.is_valid()
    assert form.non_field_errors() == [
        "The value for {{company}} in row 1 contains a wildcard ({{*}}): values are plain text; "
        "put the wildcard in the term itself"
    ]


def test_an_empty_template_is_refused():
    form = template_form("", rows=[])

    assert not form.is_valid()
    assert form.errors["text"] == ["The term is empty: enter the consent text to look for"]


def test_a_template_written_with_a_custom_delimiter_uses_it_for_its_variables():
    form = template_form("on behalf of |company| at |*| number", rows=[{"company": "Acme"}], delimiter="|")

    assert form.is_valid(), form.errors
    assert form.save().variables == [{"company": "Acme"}]


def test_an_invalid_template_delimiter_gets_the_api_reason():
    form = template_form(rows=[{"company": "Acme"}], delimiter="| |")

    assert not form.is_valid()
    assert form.errors["delimiter"] == ["Invalid delimiter contains whitespace characters"]


def test_posted_value_rows_drop_blank_and_deleted_rows_and_leave_out_blank_cells():
    data = MultiValueDict(
        {
            "values-columns": ["company", "phone"],
            "values-TOTAL_FORMS": ["4"],
            "values-INITIAL_FORMS": ["0"],
            "values-0-company": [" Acme "],
            "values-0-phone": ["555"],
            "values-1-company": ["Beta"],
            "values-1-phone": [""],
            "values-2-company": ["Gone"],
            "values-2-DELETE": ["on"],
            "values-3-company": [""],
        }
    )

    columns, rows, blank = posted_rows(data)

    assert columns == ["company", "phone"]
    assert rows == [{"company": "Acme", "phone": "555"}, {"company": "Beta"}]
    assert blank == 1


# --- profiles ----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("delimiter", "reason"),
    [
        ("| |", "Invalid delimiter contains whitespace characters"),
        ("||||", "Invalid delimiter length"),
        ("|=", "Invalid delimiter '|=': repeat a single character, such as |, == or |||"),
        ("xx", "Invalid delimiter 'xx': use a symbol such as | or ==, since letters and digits also appear"),
    ],
)
def test_an_invalid_profile_delimiter_gets_the_api_reason(delimiter, reason):
    form = ScanProfileForm({"name": "P", "delimiter": delimiter})

    assert not form.is_valid()
    assert form.errors["delimiter"][0].startswith(reason)


def test_a_brace_wildcard_in_a_pipe_profile_is_explained_as_plain_text():
    term = make_term("on behalf of {{*}} at the number")

    form = ScanProfileForm({"name": "Pipes", "delimiter": "|", "terms": [term.pk]})

    assert not form.is_valid()
    assert form.non_field_errors() == [
        "“on behalf of {{*}} at the number” uses {{*}}, which is plain text with the delimiter |: "
        "write |*| instead, or change the delimiter"
    ]


def test_a_template_written_for_another_delimiter_is_refused_by_the_profile():
    template = make_template(name="TCPA")

    form = ScanProfileForm({"name": "Pipes", "delimiter": "|", "templates": [template.pk]})

    assert not form.is_valid()
    assert form.non_field_errors()[0].startswith(
        "“TCPA” is written with {{ }} placeholders, but this profile uses"
    )


def test_foreign_wildcards_are_spotted_both_ways():
    assert foreign_wildcards("a {{*}} b |*| c", "") == ["|*|"]
    assert foreign_wildcards("a {{*}} b ==*== c", "==") == ["{{*}}"]
    assert foreign_wildcards("5 * 3 and a*b", "") == []


def test_saving_a_profile_assigns_it_to_the_chosen_vendors_and_moves_them_from_their_old_one():
    acme, beta, gamma = make_vendor("Acme"), make_vendor("Beta"), make_vendor("Gamma")
    old = make_profile("Old", vendors=[acme, gamma])
    term = make_term("I agree.")

    # Acme's move was shown and confirmed (tests/test_scan_profile_moves.py asks first).
    form = ScanProfileForm(
        {
            "name": "New",
            "delimiter": "",
            "terms": [term.pk],
            "vendors": [acme.pk, beta.pk],
            "confirm_moves": f"{acme.pk}:{old.pk}",
        }
    )
    assert form.is_valid(), form.errors
    profile = form.save()
    profile.assign_to(form.cleaned_data["vendors"])

    assert {a.vendor.name for a in profile.assignments.all()} == {"Acme", "Beta"}
    assert {a.vendor.name for a in old.assignments.all()} == {"Gamma"}


def test_a_profile_name_is_unique_whatever_the_case():
    make_profile("Default")

    assert errors_of(ScanProfile(name="default")) == ["A profile with this name already exists."]


# --- the wire form -----------------------------------------------------------------------------

COMPANIES = [{"company": "Acme Mortgage"}, {"company": "Mortgage Acme"}, {"company": "Acme Loans"}]


def test_a_profile_with_a_template_and_a_custom_delimiter_gives_v3_templates_and_v4_expansions():
    template = make_template("on behalf of |company| at the |*| number", COMPANIES, delimiter="|")
    required = make_term("I agree to be called.")
    forbidden = make_term("not a condition", kind=Kind.FORBIDDEN)
    vendor = make_vendor()
    make_profile("Pipes", terms=[required, forbidden], templates=[template], delimiter="|", vendors=[vendor])

    scans = profiles.scan_terms_for_vendor(vendor)

    assert scans.delimiter == "|"
    assert scans.required == (
        "I agree to be called.",
        {"template": "on behalf of |company| at the |*| number", "variables": COMPANIES},
    )
    assert scans.forbidden == ("not a condition",)
    assert scans.required_v4 == (
        "I agree to be called.",
        "on behalf of Acme Mortgage at the |*| number",
        "on behalf of Mortgage Acme at the |*| number",
        "on behalf of Acme Loans at the |*| number",
    )
    assert scans.forbidden_v4 == ("not a condition",)


def test_a_vendor_without_a_profile_scans_nothing():
    assert not profiles.scan_terms_for_vendor(make_vendor())


def test_a_named_profile_overrides_the_vendors_default():
    vendor = make_vendor()
    make_profile(terms=[make_term("default term")], vendors=[vendor])
    other = make_profile(terms=[make_term("other term")])

    assert profiles.scan_terms_for_vendor(vendor, profile_id=other.pk).required == ("other term",)


def test_a_batch_reads_the_profile_once_and_then_one_small_query_per_claim():
    vendor = make_vendor()
    make_profile(terms=[make_term("I agree.")], templates=[make_template()], vendors=[vendor])
    profiles.clear_cache()
    profiles.scan_terms_for_vendor(vendor)

    with CaptureQueriesContext(connection) as queries:
        for _ in range(50):
            profiles.scan_terms_for_vendor(vendor)

    assert len(queries) == 50


def test_editing_a_term_reaches_the_next_claim_despite_the_cache():
    vendor = make_vendor()
    term = make_term("I agree.")
    make_profile(terms=[term], vendors=[vendor])
    assert profiles.scan_terms_for_vendor(vendor).required == ("I agree.",)

    term.text = "I agree, again."
    term.save()

    assert profiles.scan_terms_for_vendor(vendor).required == ("I agree, again.",)


def test_deleting_a_template_reaches_the_next_claim_despite_the_cache():
    vendor = make_vendor()
    template = make_template()
    make_profile(terms=[make_term("I agree.")], templates=[template], vendors=[vendor])
    assert len(profiles.scan_terms_for_vendor(vendor).required) == 2

    template.delete()

    assert profiles.scan_terms_for_vendor(vendor).required == ("I agree.",)
