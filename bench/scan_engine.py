"""Benchmark: compiled scan profile vs a naive variant-by-variant scan of the same page.

The profile has 200 terms (required and forbidden; plain, wildcard and template) whose templates
expand to 1,000 variants; the page is about 200 KB of consent-like text and long-page filler.
As for a buyer whose profile covers many vendors, about a third of the terms are on the page, the
rest are other vendors' language or typos of this page's. Both sides scan the same page and must
agree on every found / not-found set. Compiling (the engine's profile, the naive side's regexes)
happens once, outside the timings, as in production; the engine runs with `explain_misses=False`
because the naive loop explains nothing either.

Run from the repository root: .venv/bin/python bench/scan_engine.py
"""

import os
import random
import re
import sys
import time
from collections.abc import Callable
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from scanning.engine import compile_profile
from scanning.terms import TermSpec
from scanning.text import normalise

PAGE_BYTES = 200_000
REPETITIONS = 1 if os.environ.get("BENCH_SMOKE") == "1" else 9
SEED = 20_260_101

SYLLABLES = "vel tor bri xa nor va lum ent kai ro zen tri mo dax quo pel sar fin gal ver cor ith".split()  # noqa: SIM905
SECTORS = ["Lending", "Solar", "Insurance", "Health", "Home Services", "Energy", "Auto", "Benefits"]
SUFFIXES = ["LLC", "Inc.", "Co.", "Group", ""]
CONTACT_METHODS = ["telephone number", "email", "fax number", "mobile number", "email address"]
PRODUCTS = ["solar panels", "auto insurance", "a home loan", "debt relief", "Medicare plans", "home security"]
STATES = ["Texas", "Ohio", "Florida", "Arizona", "Georgia", "Nevada", "Oregon", "Utah"]
CITIES = ["Austin", "Dayton", "Tampa", "Mesa", "Macon", "Reno", "Salem", "Provo", "Plano", "Akron"]
NAMES = ["Maria", "James", "Aisha", "Tom", "Priya", "Luis", "Grace", "Omar", "Dana", "Kevin"]

# The page's consent block: what the terms below look for.
CONSENT_SENTENCES = [
    "By clicking Get My Quote, I agree to the Terms of Use and Privacy Policy and authorize {company} "
    "and its partners to contact me at the {contact} provided, including by autodialer, prerecorded "
    "or artificial voice messages and text messages.",
    "I understand that consent is not a condition of purchase and that I may revoke consent at any "
    "time by replying STOP.",
    "Message and data rates may apply. Message frequency varies.",
    "You agree to receive marketing calls on behalf of {company} at the {contact} you provided.",
    "{company} offers {product} in {state}. Rates and terms are subject to change without notice.",
    "Our marketing partners include {company}, {company2} and {company3}.",
]
# The rest of a long landing page: articles, reviews, licences, each with its own numbers and names.
FILLER_SENTENCES = [
    "How does {product} work? A licensed agent from {company} will review your details and call you.",
    "Call ({area}) 555-{line} to speak with an advisor, Monday to Friday, 8am to {hour}pm.",
    "{company} is licensed in {state} under license number {licence} (NMLS #{nmls}).",
    "Rated {rating} out of 5 by {count} customers in {city} and nearby towns.",
    "{name} from {city} saved ${amount} on {product} after comparing {quotes} quotes.",
    "Updated {month} {day}, 2025: average {product} prices in {state} fell {percent}% this quarter.",
    "Your information is protected by 256-bit encryption and never sold to third parties.",
    "Savings are not guaranteed and vary by provider, location and eligibility.",
]
# Consent language of other vendors: a realistic profile also looks for text this page lacks.
OTHER_CONSENT = [
    "I consent to receive emails, calls and texts from {company} about {product}",
    "I authorize {company} to use an automatic telephone dialing system to contact me",
    "Consent to be contacted by {company} is not required to purchase goods or services",
    "By submitting this form you agree that {company} may share your information with lenders",
    "I agree to be contacted regarding {product} by {company} and its affiliates",
]
# Other vendors' wording made only of everyday words, which no word index can rule out.
OTHER_GENERIC = [
    "I agree to receive calls and texts at the number provided",
    "you may be contacted by phone, email or text message",
    "standard message and data rates apply",
    "reply HELP for help and STOP to cancel",
    "your consent is not required to make a purchase",
    "we may call you using automated technology",
    "I confirm that I am over 18 years of age",
    "this offer is not available in all states",
]
TYPOS = [
    lambda text: text.replace("prerecorded", "pre-recorded"),
    lambda text: text[:-1] + "!" if text.endswith(".") else text + ".",
    lambda text: text.replace(" ", "", 1),
    lambda text: text.replace("the", "our", 1),
]
FORBIDDEN_PHRASES = [
    "free iPad",
    "gift card",
    "you have won",
    "no purchase necessary",
    "guaranteed approval",
    "256-bit encryption",
    "act now",
    "limited time offer",
    "cash prize",
    "risk-free trial",
]


def company_names(rng: random.Random) -> list[str]:
    names: set[str] = set()
    while len(names) < 300:
        brand = "".join(rng.sample(SYLLABLES, rng.choice([2, 3]))).capitalize()
        names.add(" ".join(filter(None, [brand, rng.choice(SECTORS), rng.choice(SUFFIXES)])))
    return sorted(names)


def fill(template: str, rng: random.Random, companies: list[str]) -> str:
    chosen = rng.sample(companies, 3)
    return template.format(
        company=chosen[0],
        company2=chosen[1],
        company3=chosen[2],
        contact=rng.choice(CONTACT_METHODS),
        product=rng.choice(PRODUCTS),
        state=rng.choice(STATES),
        city=rng.choice(CITIES),
        name=rng.choice(NAMES),
        area=rng.randint(200, 989),
        line=rng.randint(1000, 9999),
        hour=rng.randint(5, 9),
        licence=rng.randint(10_000_000, 99_999_999),
        nmls=rng.randint(100_000, 2_999_999),
        rating=round(rng.uniform(3.5, 5), 1),
        count=f"{rng.randint(1_000, 99_999):,}",
        amount=rng.randint(80, 2_400),
        quotes=rng.randint(2, 9),
        month=rng.choice(["January", "March", "May", "July", "September", "November"]),
        day=rng.randint(1, 28),
        percent=rng.randint(2, 19),
    )


def build_page(rng: random.Random, on_page: list[str]) -> tuple[str, list[str]]:
    """About PAGE_BYTES of HTML-ish text, and the consent sentences it contains."""
    paragraphs: list[str] = []
    consent: list[str] = []
    size = 0
    while size < PAGE_BYTES:
        sentences = [fill(template, rng, on_page) for template in rng.sample(FILLER_SENTENCES, 5)]
        if rng.random() < 0.2:
            block = [fill(template, rng, on_page) for template in CONSENT_SENTENCES]
            consent += block
            sentences += block
        paragraph = " ".join(sentences)
        paragraphs.append(f"<p>\n  {paragraph}\n</p>")
        size += len(paragraph) + 10
    return "\n".join(paragraphs), consent


def clause_of(sentence: str, rng: random.Random) -> str:
    """A run of words cut from a sentence, as compliance teams copy a clause of the consent."""
    words = sentence.split()
    start = rng.randint(0, max(0, len(words) - 6))
    return " ".join(words[start : start + rng.randint(4, 12)])


def build_profile(
    rng: random.Random, companies: list[str], consent: list[str]
) -> tuple[list[TermSpec], list[TermSpec]]:
    templates = [
        "on behalf of {{company}} at the {{contact}}",
        "authorize {{company}} and its partners to contact me at the {{contact}} provided",
        "A licensed agent from {{company}} will review your details",
        "{{company}} offers {{product}} in {{state}}.",
        "authorize {{company}} and its partners to contact me at the {{*}} provided",
    ]
    value_choices = {"company": companies, "contact": CONTACT_METHODS, "product": PRODUCTS, "state": STATES}
    required: list[TermSpec] = []
    for index in range(40):
        text = templates[index % len(templates)]
        names = re.findall(r"\{\{(\w+)\}\}", text)
        rows = tuple({name: rng.choice(value_choices[name]) for name in names} for _ in range(21))
        required.append(TermSpec(text, rows))
    # Most of a buyer's profile is other vendors' language: about a quarter of the terms are here.
    required += [TermSpec(clause_of(rng.choice(consent), rng)) for _ in range(15)]
    required += [TermSpec(fill(rng.choice(OTHER_CONSENT), rng, companies)) for _ in range(75)]
    required += [TermSpec(rng.choice(OTHER_GENERIC)) for _ in range(20)]
    required += [TermSpec(rng.choice(TYPOS)(clause_of(rng.choice(consent), rng))) for _ in range(20)]
    for company in rng.sample(companies, 10):
        required.append(TermSpec(f"on behalf of {{{{*}}}} at the {rng.choice(CONTACT_METHODS)}"))
        required.append(
            TermSpec(f"authorize {company} and its partners to contact me at the {{{{*}}}} provided")
        )
    forbidden = [TermSpec(phrase) for phrase in FORBIDDEN_PHRASES]
    return required, forbidden


def naive_variants(spec: TermSpec) -> list[str]:
    """Expand a template the simple way: one string per row of values."""
    if not spec.variables:
        return [spec.text]
    variants = []
    for row in spec.variables:
        text = spec.text
        for name, value in row.items():
            text = text.replace("{{" + name + "}}", value)
        variants.append(text)
    return variants


def naive_matcher(variant: str) -> Callable[[str], bool]:
    """A regex for wildcard variants, a plain `in` test otherwise."""
    if "{{*}}" not in variant:
        literal = normalise(variant).strip()
        return lambda page: literal in page
    wildcard = ".*?"
    pattern = re.compile(wildcard.join(re.escape(normalise(part)) for part in variant.strip().split("{{*}}")))
    return lambda page: pattern.search(page) is not None


def best_of(repetitions: int, *works: Callable[[], set[tuple[str, str]]]) -> list[tuple[float, set]]:
    """Best time and result of each work; rounds alternate so a busy machine slows all alike."""
    best = [float("inf")] * len(works)
    results: list[set[tuple[str, str]]] = [set() for _ in works]
    for _ in range(repetitions):
        for index, work in enumerate(works):
            started = time.perf_counter()
            results[index] = work()
            best[index] = min(best[index], time.perf_counter() - started)
    return list(zip(best, results, strict=True))


def run() -> None:
    rng = random.Random(SEED)
    companies = company_names(rng)
    page, consent = build_page(rng, rng.sample(companies, 25))
    required, forbidden = build_profile(rng, companies, consent)
    assert len(required) + len(forbidden) == 200
    variant_count = sum(len(naive_variants(spec)) for spec in required + forbidden)
    assert 900 <= variant_count <= 1100, variant_count

    naive_terms = [
        (role, spec.text, [naive_matcher(v) for v in naive_variants(spec)])
        for role, specs in (("required", required), ("forbidden", forbidden))
        for spec in specs
    ]

    def naive_scan() -> set[tuple[str, str]]:
        normalised_page = normalise(page)
        return {
            (role, text)
            for role, text, matchers in naive_terms
            if any(matches(normalised_page) for matches in matchers)
        }

    profile = compile_profile(required, forbidden)

    def engine_scan() -> set[tuple[str, str]]:
        report = profile.scan(page, explain_misses=False)
        return {("required", t) for t in report.required_found} | {
            ("forbidden", t) for t in report.forbidden_found
        }

    (naive_seconds, naive_found), (engine_seconds, engine_found) = best_of(
        REPETITIONS, naive_scan, engine_scan
    )
    assert naive_found == engine_found, naive_found ^ engine_found
    assert 0 < len(engine_found) < len(naive_terms), len(engine_found)

    print(f"BENCH scan_engine_naive_seconds {naive_seconds:.6f} s")
    print(f"BENCH scan_engine_seconds {engine_seconds:.6f} s")
    print(f"BENCH scan_engine_speedup_vs_naive {naive_seconds / engine_seconds:.2f} x")


if __name__ == "__main__":
    run()
