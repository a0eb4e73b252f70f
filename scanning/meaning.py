"""What a profile means in each API version, and whether a manager acknowledged where v4 differs.

v3 sends a template as one term, found when any row's sentence is on the page; v4 has no templates,
so `scan_terms_for_profile` sends each row's sentence as its own term. For a forbidden template that
is the same rule (any row found fails the scan); for a required one with several rows v4 needs every
row, so a page that passes in v3 can fail in v4 (issue 14, point 3).

The acknowledgement needs no column: it is the change reason of a profile's history record, naming a
key of the v4 meaning acknowledged. A later change to that meaning (a row added to a template, a
template added to the profile) has another key, so it is not acknowledged until someone says so again.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from scanning.models import Kind, ScanProfile, ScanTemplate
from scanning.terms import ScanTermError, expand_for_v4

# history_change_reason is a 100-character column: the prefix plus a 16-character key fits.
ACK_PREFIX = "v4 meaning acknowledged: "


@dataclass(frozen=True)
class Divergence:
    """A required template whose rows v4 sends as separate required terms that must all be found."""

    template_id: int | None
    name: str
    rows: tuple[str, ...]  # the distinct sentences v4 sends, in order

    @property
    def sentence(self) -> str:
        n = len(self.rows)
        return (
            f"In API v4 the {n} rows of “{self.name}” are {n} required terms: the scan passes only if "
            f"every row's sentence is on the page (in v3 any one row is enough)."
        )

    @property
    def confirmation(self) -> str:
        rows = "both rows" if len(self.rows) == 2 else f"all {len(self.rows)} rows"
        return f"{rows} of “{self.name}” must be on the page, not just one"


@dataclass(frozen=True)
class Acknowledgement:
    user: str
    date: datetime


@dataclass(frozen=True)
class V4Meaning:
    """A profile's v4 divergences and, when they were acknowledged, by whom."""

    divergences: list[Divergence]
    acknowledged: Acknowledgement | None

    @property
    def differs(self) -> bool:
        return bool(self.divergences)

    @property
    def sentences(self) -> list[str]:
        return [d.sentence for d in self.divergences]

    @property
    def needs_acknowledgement(self) -> bool:
        return self.differs and self.acknowledged is None

    @property
    def confirmation(self) -> str:
        return "I understand: in API v4 " + "; ".join(d.confirmation for d in self.divergences) + "."


def template_divergence(template: ScanTemplate, delimiter: str | None = None) -> Divergence | None:
    """The template's v4 divergence, or None when v4 means what v3 does (forbidden, or one sentence)."""
    if template.kind != Kind.REQUIRED:
        return None
    try:
        written = template.delimiter if delimiter is None else delimiter
        rows = tuple(expand_for_v4(template.spec(), written or None))
    except ScanTermError:
        return None  # the editor refuses it; the profile cannot hold it
    if len(rows) < 2:
        return None
    return Divergence(template.pk, str(template), rows)


def divergences(templates: Iterable[ScanTemplate], delimiter: str = "") -> list[Divergence]:
    found = (template_divergence(t, delimiter) for t in sorted(templates, key=lambda t: t.pk or 0))
    return [d for d in found if d is not None]


def meaning_key(found: list[Divergence]) -> str:
    """A short stable key of a set of divergences: which template, which sentences."""
    data = json.dumps(sorted([d.template_id or 0, list(d.rows)] for d in found), ensure_ascii=False)
    return hashlib.sha256(data.encode()).hexdigest()[:16]


def acknowledgement(profile: ScanProfile, key: str) -> Acknowledgement | None:
    if not profile.pk:
        return None
    record = (
        ScanProfile.history.filter(id=profile.pk, history_change_reason=ACK_PREFIX + key)
        .select_related("history_user")
        .order_by("-history_date")
        .first()
    )
    if record is None:
        return None
    user = record.history_user
    return Acknowledgement(user.get_username() if user else "someone", record.history_date)


def v4_meaning(
    profile: ScanProfile, templates: Iterable[ScanTemplate] | None = None, delimiter: str | None = None
) -> V4Meaning:
    """The profile's v4 meaning as saved, or with the `templates` and `delimiter` an editor chose."""
    if templates is None:
        templates = profile.templates.all() if profile.pk else []
    found = divergences(templates, profile.delimiter if delimiter is None else delimiter)
    ack = acknowledgement(profile, meaning_key(found)) if found else None
    return V4Meaning(found, ack)


def record_acknowledgement(profile: ScanProfile) -> None:
    """Note on the profile's history that its current v4 meaning was acknowledged (by the request's
    user, which the history middleware records)."""
    found = divergences(profile.templates.all(), profile.delimiter)
    if not found:
        return
    profile._change_reason = ACK_PREFIX + meaning_key(found)  # type: ignore[attr-defined]  # simple_history reads it on save
    profile.save()


# --- what a v4 claim sent ---------------------------------------------------------------------


@dataclass(frozen=True)
class SentGroup:
    """Rows of one required template that a v4 claim sent as separate terms, and which were found."""

    name: str
    rows: tuple[str, ...]
    found: tuple[str, ...]

    @property
    def v3_found(self) -> bool:
        return bool(self.found)


@dataclass(frozen=True)
class SentMeaning:
    groups: list[SentGroup]
    v4_success: bool | None
    v3_success: bool | None


def sent_meaning(scans: Mapping[str, Any], success: bool | None) -> SentMeaning | None:
    """For a v4 claim's echoed scan lists: which required templates went as separate terms (each
    template, as it is now or as its history had it), and what v3 would have decided.

    None when no template of several rows was sent whole, so the claim meant what v3 would have.
    """
    required_found = [t for t in scans.get("required_found") or [] if isinstance(t, str)]
    required_missing = [t for t in scans.get("required_not_found") or [] if isinstance(t, str)]
    sent = set(required_found) | set(required_missing)
    if len(sent) < 2:
        return None
    groups: list[SentGroup] = []
    grouped: set[str] = set()
    for name, rows in _template_versions():
        if rows <= sent and not rows & grouped:
            ordered = tuple(r for r in [*required_found, *required_missing] if r in rows)
            groups.append(SentGroup(name, ordered, tuple(r for r in required_found if r in rows)))
            grouped |= rows
    if not groups:
        return None
    others_found = all(t in grouped for t in required_missing)
    forbidden_clear = not scans.get("forbidden_found")
    v3 = others_found and forbidden_clear and all(g.v3_found for g in groups)
    return SentMeaning(groups, success, v3)


def _template_versions() -> list[tuple[str, frozenset[str]]]:
    """Every required template of several sentences, now and in its history, largest first (so a
    template's current rows win over an older version that had fewer of them)."""
    seen: dict[frozenset[str], str] = {}
    versions: list[Any] = [*ScanTemplate.objects.all(), *ScanTemplate.history.all()]
    for version in versions:
        if version.kind != Kind.REQUIRED or not isinstance(version.variables, list):
            continue
        try:
            rows = frozenset(expand_for_v4(ScanTemplate.spec(version), version.delimiter or None))
        except (ScanTermError, AttributeError, TypeError):
            continue
        if len(rows) > 1:
            seen.setdefault(rows, str(version.name or version.text))
    return sorted(((name, rows) for rows, name in seen.items()), key=lambda item: -len(item[1]))
