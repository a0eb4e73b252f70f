"""The engine's found / not found agrees with what the sandbox answers for a claimed certificate.

Two independent readings of docs/trustedform.md §6 (scanning/engine.py, sandbox/scan.py) are compared
over HTTP: each example mints a certificate with the generated page text and claims it with the
generated terms, in v3 (templates sent as templates) or v4 (templates sent expanded).
"""

import json

import pytest
from django.conf import settings
from hypothesis import HealthCheck, assume, event, example, given
from hypothesis import settings as hypothesis_settings
from hypothesis import strategies as st

from scanning.engine import compile_profile
from scanning.terms import (
    MAX_DELIMITER_LENGTH,
    ScanTermError,
    TermSpec,
    as_v3_term,
    expand_for_v4,
    validate_delimiter,
    validate_term,
)
from trustedform import Lead, ScanTerms, TrustedFormClient

EMAIL = "kelly@thethings.biz"

WORDS = [
    "I", "agree", "that", "Acme", "Mortgage", "may", "call", "me", "at", "the", "number", "provided,",
    "including", "pre-recorded", "prerecorded", "calls.", "calls!", "on", "behalf", "of", "Co.", "Inc.",
    "telemarketing", "Telemarketing", "consent", "is", "not", "a", "condition", "(optional)", "e-mail",
    "email", "TCPA;", "İstanbul", "Straße",
]  # fmt: skip
SPACES = [" ", " ", " ", "  ", "\n", "\t", " \n  ", "\xa0"]
# Long enough that a wildcard spanning it crosses the engine's reach (WILDCARD_MAX_CHARS).
FILLER = " ".join(["and", "more", "words", "between", "the", "parts", "of", "a", "long", "disclosure"] * 3)
DELIMITERS = [None, "|", "==", "|||", "##"]


def _joined(words: list[str], spaces: list[str]) -> str:
    return "".join(word + spaces[i % len(spaces)] for i, word in enumerate(words)).rstrip()


@st.composite
def pages(draw: st.DrawFn) -> list[str]:
    words = draw(st.lists(st.sampled_from(WORDS), min_size=3, max_size=30))
    if draw(st.booleans()):
        at = draw(st.integers(0, len(words)))
        words[at:at] = FILLER.split()
    return words


def _mutate(text: str, draw: st.DrawFn) -> str:
    """Case, whitespace and punctuation changes that TrustedForm treats differently (§6)."""
    change = draw(st.sampled_from(["none", "upper", "title", "spaces", "period", "comma", "hyphen", "join"]))
    if change == "upper":
        return text.upper()
    if change == "title":
        return text.title()
    if change == "spaces":
        return text.replace(" ", draw(st.sampled_from(["  ", "\n", " \t "])))
    if change == "period":
        return text.replace(".", "!") if "." in text else text + "."
    if change == "comma":
        return text.replace(",", "") if "," in text else text.replace(" ", ", ", 1)
    if change == "hyphen":
        return text.replace("-", "") if "-" in text else text.replace(" ", "-", 1)
    if change == "join":
        return text.replace(" ", "", 1)
    return text


@st.composite
def terms(draw: st.DrawFn, page_words: list[str], delimiter: str | None) -> TermSpec:
    """A term cut from the page (often found) or made up (often not), maybe with a wildcard or a variable."""
    wildcard = "{{*}}" if delimiter is None else f"{delimiter}*{delimiter}"
    if draw(st.booleans()) and page_words:
        start = draw(st.integers(0, len(page_words) - 1))
        words = page_words[start : start + draw(st.integers(1, 8))]
    else:
        words = draw(st.lists(st.sampled_from(WORDS), min_size=1, max_size=5))
    words = list(words)
    shape = draw(st.sampled_from(["plain", "plain", "wildcard", "template"]))
    if shape == "wildcard" and len(words) >= 3:
        at = draw(st.integers(1, len(words) - 2))
        # Replace a run of words (possibly none) in the middle by the wildcard.
        words[at : at + draw(st.integers(0, 3))] = [wildcard]
    rows: tuple[dict[str, str], ...] = ()
    if shape == "template" and len(words) >= 2:
        at = draw(st.integers(0, len(words) - 1))
        value = words[at]
        words[at] = "{{company}}" if delimiter is None else f"{delimiter}company{delimiter}"
        others = draw(st.lists(st.sampled_from(WORDS), max_size=2))
        rows = tuple({"company": v} for v in draw(st.permutations([value, *others])))
    text = _mutate(" ".join(words), draw)
    return TermSpec(text, rows)


@st.composite
def scenarios(draw: st.DrawFn) -> tuple[str, list[TermSpec], list[TermSpec], str | None]:
    page_words = draw(pages())
    spaces = draw(st.lists(st.sampled_from(SPACES), min_size=1, max_size=4))
    delimiter = draw(st.sampled_from(DELIMITERS))
    required = draw(st.lists(terms(page_words, delimiter), min_size=1, max_size=4))
    forbidden = draw(st.lists(terms(page_words, delimiter), max_size=2))
    return _joined(page_words, spaces), required, forbidden, delimiter


def _valid(spec: TermSpec, delimiter: str | None) -> bool:
    try:
        validate_term(spec, delimiter)
    except ScanTermError:
        return False
    return True


def _claim(tf_api, api_version: str, page_text: str, scans: ScanTerms):
    minted = tf_api.mint(email=EMAIL, page_text=page_text)
    client = TrustedFormClient(
        api_key=settings.TRUSTEDFORM_API_KEY,
        api_base=tf_api.base_url,
        allowed_hosts=settings.TRUSTEDFORM_ALLOWED_HOSTS,
        api_version=api_version,
    )
    return client.claim(minted["cert_url"], Lead(email=EMAIL), scans=scans).scans


def _wire_key(spec: TermSpec) -> str:
    wire = as_v3_term(spec)
    # The client keeps echoed template objects as sorted JSON (trustedform._str_list).
    return wire if isinstance(wire, str) else json.dumps(wire, sort_keys=True)


@pytest.mark.django_db
@hypothesis_settings(
    max_examples=40,
    deadline=None,
    suppress_health_check=[
        HealthCheck.function_scoped_fixture,
        HealthCheck.too_slow,
        HealthCheck.filter_too_much,
    ],
)
@given(scenario=scenarios(), api_version=st.sampled_from(["3.0", "4.0"]))
@example(
    # A wildcard across more than WILDCARD_MAX_CHARS characters: the sandbox reads §6's `.*?` as unbounded.
    scenario=(
        f"I agree on behalf of {FILLER} Acme at the number",
        [TermSpec("on behalf of {{*}} at the number")],
        [],
        None,
    ),
    api_version="3.0",
)
@example(
    scenario=(
        "Consent is not a condition (optional)",
        [TermSpec("not a |*| (optional)")],
        [TermSpec("e-mail")],
        "|",
    ),
    api_version="4.0",
)
def test_the_engine_finds_exactly_what_the_sandbox_finds(tf_api, scenario, api_version):
    page_text, required, forbidden, delimiter = scenario
    assume(all(_valid(spec, delimiter) for spec in required + forbidden))
    report = compile_profile(required, forbidden, delimiter).scan(page_text, explain_misses=False)
    engine_found = [result.found for result in report.results]
    event(
        f"terms found: {'some' if any(engine_found) else 'none'}, missed: {'some' if not all(engine_found) else 'none'}"
    )

    scans = ScanTerms(
        required=tuple(as_v3_term(spec) for spec in required),
        forbidden=tuple(as_v3_term(spec) for spec in forbidden),
        delimiter=delimiter or "",
        required_v4=tuple(e for spec in required for e in expand_for_v4(spec, delimiter)),
        forbidden_v4=tuple(e for spec in forbidden for e in expand_for_v4(spec, delimiter)),
    )
    answer = _claim(tf_api, api_version, page_text, scans)
    found_by_sandbox = set(answer.required_found) | set(answer.forbidden_found)
    if api_version == "3.0":
        sandbox_found = [_wire_key(spec) in found_by_sandbox for spec in required + forbidden]
    else:
        # v4 echoes each expansion: a template is found when any of its expansions is.
        sandbox_found = [
            any(e in found_by_sandbox for e in expand_for_v4(spec, delimiter))
            for spec in required + forbidden
        ]
    assert engine_found == sandbox_found, (page_text, [s.text for s in required + forbidden], answer)


@pytest.mark.django_db
@pytest.mark.parametrize("api_version", ["3.0", "4.0"])
def test_every_delimiter_the_editor_accepts_is_accepted_by_the_sandbox(tf_api, api_version):
    for length in range(1, MAX_DELIMITER_LENGTH + 1):
        delimiter = "|" * length
        validate_delimiter(delimiter)
        term = f"on behalf of {delimiter}*{delimiter} at the number"
        scans = ScanTerms(required=(term,), delimiter=delimiter, required_v4=(term,))

        answer = _claim(tf_api, api_version, "I agree on behalf of Acme at the number given.", scans)

        assert answer.required_found == [term]


def test_a_delimiter_longer_than_the_editor_allows_is_refused_with_the_api_reason():
    with pytest.raises(ScanTermError, match="Invalid delimiter length"):
        validate_delimiter("|" * (MAX_DELIMITER_LENGTH + 1))
