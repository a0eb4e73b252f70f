"""Unit tests for the pure page-scan engine (no Django: run with -p no:django --noconftest)."""

import re

import pytest
from hypothesis import assume, given
from hypothesis import strategies as st

from scanning.engine import TermResult, compile_profile
from scanning.nearmiss import DifferenceKind
from scanning.terms import (
    MAX_DELIMITER_LENGTH,
    ScanTermError,
    TermRole,
    TermSpec,
    as_v3_term,
    expand_for_v4,
    validate_delimiter,
    validate_term,
)
from scanning.text import NormalisedText, normalise, visible_text

DOCS_PAGE = (
    "By clicking below I agree to be contacted on behalf of Mortgage Acme at the telephone number "
    "provided, including by prerecorded messages."
)
# The template example of the v3 docs ("Templating", seeds/001).
DOCS_COMPANIES = ({"company": "Mortgage Acme"}, {"company": "Acme Mortgage"}, {"company": "Acme Co."})
DOCS_CONTACTS = (
    {"company": "Mortgage Acme", "contact_method": "email"},
    {"company": "Acme Mortgage", "contact_method": "fax number"},
    {"company": "Acme Mortgage", "contact_method": "email"},
    {"company": "Acme Co.", "contact_method": "email"},
)


def scan_one(page: str, term: TermSpec | str, delimiter: str | None = None) -> TermResult:
    spec = TermSpec(term) if isinstance(term, str) else term
    return compile_profile([spec], [], delimiter).scan(page).results[0]


def assert_passage_points_into_page(page: str, result: TermResult) -> None:
    assert result.start is not None and result.end is not None
    assert page[result.start : result.end] == result.passage


# --- normalisation: case, whitespace, exact otherwise (§6, KB scenarios 1-3) ---------------------


def test_term_matches_whatever_the_case_kb_scenario_1() -> None:
    result = scan_one("You agree to receive Telemarketing calls from us.", "Telemarketing CALLS")

    assert result.found
    assert result.passage == "Telemarketing calls"


def test_runs_of_whitespace_on_the_page_match_one_space_in_the_term() -> None:
    page = "receive   telemarketing\n\t calls"

    result = scan_one(page, "telemarketing  calls")

    assert result.found
    assert result.passage == "telemarketing\n\t calls"
    assert_passage_points_into_page(page, result)


def test_term_without_the_space_is_not_found_and_explained_as_an_extra_space_on_the_page() -> None:
    result = scan_one("You agree to receive Telemarketing calls from us.", "TelemarketingCALLS")

    assert not result.found
    assert result.near_miss is not None
    assert result.near_miss.kind is DifferenceKind.EXTRA_SPACE
    assert result.near_miss.explanation == (
        "an extra space: the page has 'Telemarketing calls' where the term has 'TelemarketingCALLS'"
    )


def test_page_without_the_space_is_a_near_miss_explained_as_a_missing_space() -> None:
    page = "You agree to receive Telemarketingcalls from us."

    result = scan_one(page, "receive Telemarketing calls")

    assert not result.found
    near_miss = result.near_miss
    assert near_miss is not None
    assert near_miss.kind is DifferenceKind.MISSING_SPACE
    assert near_miss.explanation == (
        "a missing space: the page has 'Telemarketingcalls' where the term has 'Telemarketing calls'"
    )
    assert near_miss.term_offset == len("receive Telemarketing")
    assert near_miss.page_offset == page.index("calls")


def test_hyphenated_page_word_is_a_near_miss_explained_as_a_hyphen() -> None:
    page = "I consent to receive pre-recorded telemarketing calls! from Acme."

    result = scan_one(page, "prerecorded telemarketing calls.")

    assert not result.found
    near_miss = result.near_miss
    assert near_miss is not None
    assert near_miss.kind is DifferenceKind.HYPHEN
    assert near_miss.explanation == "a hyphen: the page has 'pre-recorded' where the term has 'prerecorded'"
    assert near_miss.passage == "pre-recorded telemarketing calls!"
    assert page[near_miss.page_start : near_miss.page_end] == near_miss.passage
    assert near_miss.page_offset == page.index("-")
    assert near_miss.term_offset == len("pre")
    assert 0.9 < near_miss.similarity < 1


def test_different_end_punctuation_is_a_near_miss_explained_as_punctuation() -> None:
    page = "I consent to receive prerecorded telemarketing calls! from Acme."

    result = scan_one(page, "prerecorded telemarketing calls.")

    assert not result.found
    near_miss = result.near_miss
    assert near_miss is not None
    assert near_miss.kind is DifferenceKind.PUNCTUATION
    assert near_miss.explanation == "punctuation: '!' on the page, '.' in the term"
    assert near_miss.page_offset == page.index("!")
    assert near_miss.term_offset == len("prerecorded telemarketing calls")


def test_comma_on_the_page_only_is_explained_as_punctuation_missing_from_the_term() -> None:
    result = scan_one("you agree, by clicking submit, to be called", "you agree by clicking submit")

    assert result.near_miss is not None
    assert result.near_miss.explanation == "punctuation: ',' on the page, nothing in the term"


def test_replaced_word_is_a_near_miss_explained_as_a_different_word() -> None:
    page = "Acme may call you at the telephone number provided."

    result = scan_one(page, "at the phone number provided")

    assert result.near_miss is not None
    assert result.near_miss.kind is DifferenceKind.DIFFERENT_WORD
    assert (
        result.near_miss.explanation == "different word: the page has 'telephone' where the term has 'phone'"
    )


def test_no_near_miss_is_reported_when_nothing_on_the_page_is_close() -> None:
    result = scan_one("Get a free quote for solar panels today.", "I consent to receive prerecorded calls")

    assert not result.found
    assert result.near_miss is None


def test_term_is_found_as_a_substring_of_page_words() -> None:
    result = scan_one("Compare Solarpanel offers", "solar")

    assert result.found
    assert result.passage == "Solar"


def test_punctuation_must_match_exactly() -> None:
    assert not scan_one("calls, texts and emails", "calls texts and emails").found
    assert scan_one("calls, texts and emails", "calls, texts").found


def test_passage_offsets_index_the_original_page_text() -> None:
    page = "Intro\n\n   You   AGREE to\tbe\n contacted by ACME Co.  at 555-0100."

    result = scan_one(page, "you agree to be contacted by {{*}} at")

    assert result.found
    assert result.passage == "You   AGREE to\tbe\n contacted by ACME Co.  at"
    assert_passage_points_into_page(page, result)


def test_offsets_stay_right_after_characters_that_lower_case_to_two() -> None:
    page = "İstanbul office: you agree to be called"

    result = scan_one(page, "you agree")

    assert_passage_points_into_page(page, result)
    assert result.passage == "you agree"


def test_leading_and_trailing_whitespace_of_a_term_asks_for_nothing() -> None:
    assert scan_one("to be called.", "  be called.  ").found


def test_term_may_start_and_end_in_the_middle_of_page_words() -> None:
    assert scan_one("Compare solar panels today", "olar panels tod").found
    assert not scan_one("Compare solar panels today", "olar panels x").found


def test_every_unicode_whitespace_character_collapses_and_maps_back() -> None:
    for space in (chr(code) for code in range(0x3001) if chr(code).isspace()):
        page = f"you{space}{space} agree"

        result = scan_one(page, "you agree")

        assert result.found, repr(space)
        assert result.passage == page


# --- wildcards ---------------------------------------------------------------------------------


def test_documented_wildcard_example_matches_any_company() -> None:
    result = scan_one(DOCS_PAGE, "on behalf of {{*}} at the telephone number")

    assert result.found
    assert result.passage == "on behalf of Mortgage Acme at the telephone number"
    assert result.variant == "on behalf of {{*}} at the telephone number"


def test_wildcard_is_non_greedy() -> None:
    page = "called by Acme at home, or by Beta at work"

    result = scan_one(page, "by {{*}} at")

    assert result.passage == "by Acme at"


def test_wildcard_spans_sentence_ends_such_as_a_company_abbreviation() -> None:
    page = "on behalf of Acme Co. Inc. at the telephone number"

    assert scan_one(page, "on behalf of {{*}} at the telephone number").found


def test_wildcard_spans_any_length_of_text_as_the_suggested_lazy_match_does() -> None:
    # §6 suggests a non-greedy `.*?` over the normalised text, with no limit; the sandbox agrees.
    page = "on behalf of " + "Acme Mortgage and its partners. " * 40 + "at the telephone number"

    result = scan_one(page, "on behalf of {{*}} at the telephone number")

    assert result.found
    assert result.start == 0
    assert result.end == len(page)


def test_wildcard_search_stays_fast_when_the_last_part_is_missing() -> None:
    # A regex would rescan the rest of the page from each of the 20,000 occurrences of the first part.
    page = "on behalf of Acme, " * 20_000
    profile = compile_profile([TermSpec("on behalf of {{*}} at the telephone number")], [])

    report = profile.scan(page, explain_misses=False)

    assert report.required_not_found == ["on behalf of {{*}} at the telephone number"]


def test_wildcard_parts_in_the_wrong_order_are_explained() -> None:
    page = "at the telephone number we call on behalf of Acme"

    result = scan_one(page, "on behalf of {{*}} at the telephone number")

    assert result.near_miss is not None
    assert result.near_miss.kind is DifferenceKind.PARTS_OUT_OF_ORDER
    assert "'at the telephone number' is on the page, but only before 'on behalf of'" in (
        result.near_miss.explanation
    )
    assert result.near_miss.term_offset == len("on behalf of {{*}} ")


def test_difference_after_a_wildcard_is_explained_at_its_place_in_the_term() -> None:
    page = "on behalf of Acme at the telephone-number provided"
    term = "on behalf of {{*}} at the telephone number"

    result = scan_one(page, term)

    assert result.near_miss is not None
    assert result.near_miss.kind is DifferenceKind.HYPHEN
    assert result.near_miss.term_offset == term.index(" number")
    assert result.near_miss.page_offset == page.index("-")


def test_pipe_wildcard_works_with_a_pipe_delimiter() -> None:
    result = scan_one(DOCS_PAGE, "on behalf of |*| at the telephone number", delimiter="|")

    assert result.found
    assert result.passage == "on behalf of Mortgage Acme at the telephone number"


def test_repeated_character_delimiter_wraps_the_wildcard() -> None:
    assert scan_one(DOCS_PAGE, "on behalf of ==*== at the telephone", delimiter="==").found
    assert scan_one(DOCS_PAGE, "on behalf of ***** at the telephone", delimiter="**").found


def test_brace_wildcard_is_plain_text_when_a_custom_delimiter_is_set() -> None:
    # §11.4: wildcards copied from the docs do not work where LeadConduit sends "|".
    assert not scan_one(DOCS_PAGE, "on behalf of {{*}} at the telephone number", delimiter="|").found
    assert scan_one("press {{*}} to continue", "press {{*}} to", delimiter="|").found


# --- templates ---------------------------------------------------------------------------------


def test_docs_template_is_found_with_the_company_on_the_page_and_reports_the_expansion() -> None:
    page = "I agree to be contacted on behalf of Acme Co. at the telephone number provided."
    spec = TermSpec("on behalf of {{company}} at the telephone number", DOCS_COMPANIES)

    result = scan_one(page, spec)

    assert result.found
    assert result.variant == "on behalf of Acme Co. at the telephone number"
    assert result.values == {"company": "Acme Co."}
    assert result.passage == "on behalf of Acme Co. at the telephone number"


def test_docs_template_with_two_variables_needs_a_listed_combination() -> None:
    spec = TermSpec("on behalf of {{company}} at the {{contact_method}}", DOCS_CONTACTS)

    listed = scan_one("contacted on behalf of Acme Mortgage at the fax number", spec)
    unlisted = scan_one("contacted on behalf of Mortgage Acme at the fax number", spec)

    assert listed.found
    assert listed.values == {"company": "Acme Mortgage", "contact_method": "fax number"}
    assert not unlisted.found


def test_template_miss_explains_the_closest_expansion() -> None:
    spec = TermSpec("on behalf of {{company}} at the telephone number", DOCS_COMPANIES)

    result = scan_one("on behalf of Acme Co! at the telephone number", spec)

    assert result.near_miss is not None
    assert result.near_miss.variant == "on behalf of Acme Co. at the telephone number"
    assert result.near_miss.explanation == "punctuation: '!' on the page, '.' in the term"


def test_many_row_template_starting_with_a_variable_reports_the_leftmost_expansion() -> None:
    rows = tuple(
        {"company": f"Brand{n} Lending", "product": product}
        for n in range(8)
        for product in ("loans", "cards")
    )
    spec = TermSpec("{{company}} offers {{product}} in Texas.", rows)
    page = "Brand7 Lending offers cards in Texas. Brand3 Lending offers loans in Texas. Brand5 offers loans."

    result = scan_one(page, spec)

    assert result.found
    assert result.values == {"company": "Brand7 Lending", "product": "cards"}
    assert result.start == 0


def test_many_row_template_is_not_found_when_only_its_shared_text_is_on_the_page() -> None:
    rows = tuple({"company": f"Brand{n}"} for n in range(10))
    spec = TermSpec("calls from {{company}} at the number provided", rows)

    result = scan_one("calls from Brand99 at the number provided; Brand1 at the number", spec)

    assert not result.found


def test_template_variables_use_the_custom_delimiter() -> None:
    spec = TermSpec("on behalf of |company| at the |*| number", DOCS_COMPANIES)

    result = scan_one(DOCS_PAGE, spec, delimiter="|")

    assert result.found
    assert result.values == {"company": "Mortgage Acme"}


def test_report_echoes_templates_and_terms_as_written() -> None:
    template = TermSpec("on behalf of {{company}} at the telephone number", DOCS_COMPANIES)
    profile = compile_profile([template, TermSpec("text messages")], [TermSpec("free iPad")])

    report = profile.scan(DOCS_PAGE)

    assert report.required_found == ["on behalf of {{company}} at the telephone number"]
    assert report.required_not_found == ["text messages"]
    assert report.forbidden_found == []
    assert report.forbidden_not_found == ["free iPad"]
    assert report.success is False
    assert [r.role for r in report.results] == [TermRole.REQUIRED, TermRole.REQUIRED, TermRole.FORBIDDEN]


def test_success_needs_every_required_term_and_no_forbidden_term() -> None:
    profile = compile_profile([TermSpec("prerecorded")], [TermSpec("free iPad")])

    assert profile.scan(DOCS_PAGE).success is True
    assert profile.scan(DOCS_PAGE + " Win a FREE ipad!").success is False
    assert profile.scan(DOCS_PAGE + " Win a FREE ipad!").forbidden_found == ["free iPad"]


def test_success_is_none_for_an_empty_profile() -> None:
    report = compile_profile([], []).scan(DOCS_PAGE)

    assert report.success is None
    assert report.results == []


def test_forbidden_misses_carry_no_near_miss() -> None:
    report = compile_profile([], [TermSpec("pre-recorded")]).scan(DOCS_PAGE)

    assert report.results[0].near_miss is None


# --- HTML visible text -------------------------------------------------------------------------


def test_visible_text_drops_markup_scripts_styles_head_templates_and_comments() -> None:
    html = (
        "<html><head><title>Quote</title><style>p{color:red}</style></head><body>"
        "<script>var consent = 'hidden words';</script><!-- hidden words -->"
        "<template><p>hidden words</p></template><p>Shown &amp; told&nbsp;here</p></body></html>"
    )

    text = visible_text(html)

    assert "hidden" not in text and "Quote" not in text and "color" not in text
    assert normalise(text).strip() == "shown & told here"


def test_block_elements_separate_words_and_inline_elements_do_not() -> None:
    text = normalise(visible_text("<div>Telemarketing</div><div>calls</div><p>pre<b>recorded</b><br>x</p>"))

    assert text.split() == ["telemarketing", "calls", "prerecorded", "x"]


def test_unclosed_head_ends_at_the_first_body_element() -> None:
    assert "agree" in visible_text("<head><title>t</title><p>I agree</p>")


def test_html_scan_offsets_index_the_scanned_text() -> None:
    html = "<label><input type=checkbox> I agree to <b>receive</b>\n  autodialed calls</label>"
    report = compile_profile([TermSpec("I agree to receive autodialed calls")], []).scan_html(html)

    result = report.results[0]

    assert result.found
    assert_passage_points_into_page(report.scanned_text, result)


# --- validation --------------------------------------------------------------------------------


def reason(spec: TermSpec, delimiter: str | None = None) -> str:
    with pytest.raises(ScanTermError) as raised:
        validate_term(spec, delimiter)
    return raised.value.reason


def test_empty_term_is_rejected() -> None:
    assert reason(TermSpec("   ")) == "The term is empty: enter the consent text to look for"


def test_variable_without_values_is_rejected() -> None:
    assert reason(TermSpec("on behalf of {{company}}")).startswith(
        "The term uses {{company}} but gives no values for it"
    )


def test_value_row_missing_a_variable_is_rejected() -> None:
    spec = TermSpec(
        "{{company}} at the {{contact_method}}",
        ({"company": "Acme", "contact_method": "x"}, {"company": "B"}),
    )

    assert reason(spec) == "Value row 2 has no value for {{contact_method}}"


def test_value_for_a_variable_the_term_does_not_use_is_rejected() -> None:
    spec = TermSpec("on behalf of {{company}}", ({"company": "Acme", "compnay": "Acme"},))

    assert reason(spec) == "Value row 1 gives a value for 'compnay', which the term does not use"


def test_values_without_any_variable_are_rejected() -> None:
    assert reason(TermSpec("on behalf of Acme", ({"company": "Acme"},))).startswith("Values are given")


def test_wildcard_inside_a_template_value_is_rejected() -> None:
    spec = TermSpec("on behalf of |company|", ({"company": "Acme |*|"},))

    assert reason(spec, "|").startswith("The value for |company| in row 1 contains a wildcard (|*|)")


def test_delimiter_inside_a_template_value_is_rejected() -> None:
    spec = TermSpec("on behalf of {{company}}", ({"company": "Acme {{Co"},))

    assert "contains the delimiter '{{'" in reason(spec)


def test_unbalanced_delimiter_is_rejected() -> None:
    assert reason(TermSpec("on behalf of {{company at the")).startswith("Unbalanced delimiter near")
    assert reason(TermSpec("Terms | Privacy"), "|").startswith("Unbalanced delimiter near")


def test_garbled_placeholder_is_rejected_with_the_right_syntax() -> None:
    message = reason(TermSpec("on behalf of {{company name}} at"))

    assert message.startswith("'{{company name}}' is not a wildcard or a variable: write {{*}}")


def test_term_made_only_of_wildcards_is_rejected() -> None:
    assert "would match any page" in reason(TermSpec(" {{*}} "))


def test_value_row_that_empties_the_term_is_rejected() -> None:
    assert reason(TermSpec("{{company}}", ({"company": "Acme"}, {"company": " "}))).startswith(
        "Value row 2 leaves"
    )


@pytest.mark.parametrize(
    ("delimiter", "expected"),
    [
        ("| |", "Invalid delimiter contains whitespace characters"),
        ("\t", "Invalid delimiter contains whitespace characters"),
        ("", "Invalid delimiter length"),
        ("|" * (MAX_DELIMITER_LENGTH + 1), "Invalid delimiter length"),
        ("<>", "Invalid delimiter '<>': repeat a single character, such as |, == or |||"),
        ("xx", "Invalid delimiter 'xx': use a symbol such as | or ==, since letters and digits also appear"),
    ],
)
def test_invalid_delimiter_is_rejected_with_the_api_reason(delimiter: str, expected: str) -> None:
    with pytest.raises(ScanTermError) as raised:
        validate_delimiter(delimiter)

    assert raised.value.reason.startswith(expected)


@pytest.mark.parametrize("delimiter", [None, "|", "==", "|||", "**", "+++", "/" * MAX_DELIMITER_LENGTH])
def test_documented_delimiters_are_accepted(delimiter: str | None) -> None:
    validate_delimiter(delimiter)


def test_compile_profile_raises_a_value_error_naming_the_term() -> None:
    with pytest.raises(ValueError, match="no value for") as raised:
        compile_profile([TermSpec("fine")], [TermSpec("{{a}} {{b}}", ({"a": "x"},))])

    assert isinstance(raised.value, ScanTermError)
    assert raised.value.term == "{{a}} {{b}}"


# --- wire formats ------------------------------------------------------------------------------


def test_v4_expansion_of_a_template_lists_each_distinct_variant() -> None:
    spec = TermSpec("on behalf of {{company}} at the {{contact_method}}", DOCS_CONTACTS)

    assert expand_for_v4(spec) == [
        "on behalf of Mortgage Acme at the email",
        "on behalf of Acme Mortgage at the fax number",
        "on behalf of Acme Mortgage at the email",
        "on behalf of Acme Co. at the email",
    ]


def test_v4_expansion_keeps_wildcards_and_drops_duplicates() -> None:
    spec = TermSpec("by |company| at |*|", ({"company": "Acme"}, {"company": "ACME"}, {"company": "Beta"}))

    assert expand_for_v4(spec, "|") == ["by Acme at |*|", "by Beta at |*|"]
    assert expand_for_v4(TermSpec("plain {{*}} term")) == ["plain {{*}} term"]


def test_v3_term_is_the_text_or_a_template_object() -> None:
    spec = TermSpec("on behalf of {{company}} at the telephone number", DOCS_COMPANIES)

    assert as_v3_term(TermSpec("I agree")) == "I agree"
    assert as_v3_term(spec) == {
        "template": "on behalf of {{company}} at the telephone number",
        "variables": [{"company": "Mortgage Acme"}, {"company": "Acme Mortgage"}, {"company": "Acme Co."}],
    }


# --- properties --------------------------------------------------------------------------------

page_text = st.text(alphabet=st.sampled_from("abcdeXYZİ -.,!?'\n\t\xa0\u2028"), min_size=1, max_size=300)
words = st.text(alphabet="abcdefghijklmnopqrstuvwxyz", min_size=2, max_size=8)
PUNCTUATION = ".,!?;:"


@given(page_text, st.data())
def test_any_term_cut_from_the_page_is_found(page: str, data: st.DataObject) -> None:
    start = data.draw(st.integers(0, len(page) - 1))
    end = data.draw(st.integers(start + 1, len(page)))
    term = page[start:end]
    assume(term.strip())

    result = scan_one(page, term)

    assert result.found
    assert normalise(result.passage or "").strip() == normalise(term).strip()
    assert_passage_points_into_page(page, result)


@given(page_text, page_text)
def test_found_exactly_when_the_normalised_term_is_a_substring(page: str, term: str) -> None:
    assume(term.strip())

    result = scan_one(page, term)

    assert result.found == (normalise(term).strip() in normalise(page))


@given(st.lists(words, min_size=4, max_size=10), st.data())
def test_changing_one_punctuation_mark_is_a_near_miss_pointing_at_it(
    phrase_words: list[str], data: st.DataObject
) -> None:
    where = data.draw(st.integers(0, len(phrase_words) - 2))
    on_page, in_term = data.draw(st.lists(st.sampled_from(PUNCTUATION), min_size=2, max_size=2, unique=True))
    before, after = " ".join(phrase_words[: where + 1]), " ".join(phrase_words[where + 1 :])
    page = f"Intro text. {before}{on_page} {after} outro."
    term = f"{before}{in_term} {after}"

    result = scan_one(page, term)

    assert not result.found
    near_miss = result.near_miss
    assert near_miss is not None
    assert near_miss.kind is DifferenceKind.PUNCTUATION
    assert near_miss.explanation == f"punctuation: '{on_page}' on the page, '{in_term}' in the term"
    assert near_miss.term_offset == len(before)
    assert near_miss.page_offset == page.index(on_page, len("Intro text. "))


@given(page_text)
def test_normalised_offsets_map_back_to_matching_original_characters(text: str) -> None:
    normalised = NormalisedText(text)

    for index, char in enumerate(normalised.text):
        original = text[normalised.to_original(index)]
        assert original.isspace() if char == " " else char in original.lower()


@given(st.lists(words, min_size=1, max_size=5).map(" ".join), words, words)
def test_wildcard_matches_any_text_between_its_parts(middle: str, left: str, right: str) -> None:
    page = f"zz {left} {middle} {right} zz"

    result = scan_one(page, f"{left} {{{{*}}}} {right}")

    assert result.found
    assert re.fullmatch(rf"{left} .* {right}", result.passage or "")


@given(
    st.lists(st.sampled_from(["ab", "cd", "then", "so", "end", "x", "abab"]), min_size=3, max_size=40),
    st.data(),
    st.sampled_from(
        [
            "{{a}} {{b}}",
            "{{a}} then {{b}}",
            "so {{a}} then {{b}} end",
            "{{a}} then {{*}} {{b}}",
            "{{a}}{{b}} ab",
        ]
    ),
)
def test_template_is_found_exactly_when_one_of_its_expansions_is(
    page_words: list[str], data: st.DataObject, template: str
) -> None:
    # Values come from the page's own words so that expansions are often, but not always, there.
    value = st.sampled_from(page_words + ["zz"])
    rows = data.draw(st.lists(st.tuples(value, value), min_size=1, max_size=12, unique=True))
    page = " ".join(page_words)
    spec = TermSpec(template, tuple({"a": a, "b": b} for a, b in rows))
    expansions = [template.replace("{{a}}", a).replace("{{b}}", b) for a, b in rows]
    wildcard = ".*?"
    patterns = [wildcard.join(map(re.escape, text.split("{{*}}"))) for text in expansions]

    result = scan_one(page, spec)

    assert result.found == any(re.search(pattern, page) for pattern in patterns)
    if result.found:
        assert result.values is not None
        assert re.fullmatch(
            patterns[rows.index((result.values["a"], result.values["b"]))], result.passage or ""
        )
        assert result.start == min(m.start() for p in patterns if (m := re.search(p, page)))
