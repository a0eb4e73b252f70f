"""Plain factories for scan terms, templates and profiles (tests/factories.py has users and vendors)."""

import itertools

from certificates.models import Vendor
from scanning.models import Kind, ScanProfile, ScanTemplate, ScanTerm

_seq = itertools.count(1)

ON_BEHALF = "I agree to be called on behalf of {{company}} at the telephone number provided."


def make_term(text: str | None = None, *, kind: str = Kind.REQUIRED, note: str = "") -> ScanTerm:
    term = ScanTerm(text=text or f"I agree to term {next(_seq)}.", kind=kind, note=note)
    term.full_clean()
    term.save()
    return term


def make_template(
    text: str = ON_BEHALF,
    rows: list[dict[str, str]] | None = None,
    *,
    name: str = "",
    kind: str = Kind.REQUIRED,
    delimiter: str = "",
) -> ScanTemplate:
    template = ScanTemplate(
        name=name or f"Template {next(_seq)}",
        text=text,
        variables=rows if rows is not None else [{"company": "Acme Mortgage"}, {"company": "Mortgage Acme"}],
        kind=kind,
        delimiter=delimiter,
    )
    template.full_clean()
    template.save()
    return template


def make_profile(
    name: str | None = None,
    *,
    terms: list[ScanTerm] = (),
    templates: list[ScanTemplate] = (),
    delimiter: str = "",
    vendors: list[Vendor] = (),
) -> ScanProfile:
    profile = ScanProfile(name=name or f"Profile {next(_seq)}", delimiter=delimiter)
    profile.full_clean()
    profile.save()
    profile.terms.set(terms)
    profile.templates.set(templates)
    profile.assign_to(vendors)
    return profile
