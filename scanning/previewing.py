"""The editor's preview: scan pasted text (or an HTML page) and lay each term's result out for reading.

It decides with the terms the configured API version sends (`scan_terms_from_specs`, the claim's own
wire form): v3 gets templates whole, v4 gets each row's sentence as its own term. The other version's
decision is worked out too, so that a page passing in one and failing in the other is said plainly.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, replace

from scanning.engine import ScanReport, TermResult, compile_profile
from scanning.meaning import V4Meaning, v4_meaning
from scanning.models import ScanProfile
from scanning.profiles import profile_specs, scan_terms_from_specs
from scanning.terms import ScanTermError, TermRole, TermSpec
from trustedform import Lead, ScanTerms, v3_claim_body
from trustedform.versions import V3, V4
from trustedform.wire import v4_insights_body

# Characters of page text shown on each side of a passage.
CONTEXT_CHARS = 80


@dataclass(frozen=True)
class Snippet:
    """A passage in its context; `marked` is where the passage first differs from the term (near misses)."""

    before: str
    passage: str
    marked: str
    rest: str
    after: str
    cut_before: bool
    cut_after: bool


@dataclass(frozen=True)
class RowLine:
    """One sentence v4 sends for a template row, and whether the page has it."""

    text: str
    found: bool
    good: bool  # found and required, or missing and forbidden


@dataclass(frozen=True)
class TermLine:
    term: str
    role: str  # required | forbidden
    found: bool
    good: bool  # a required term found, or a forbidden term absent
    variant: str | None
    snippet: Snippet | None
    near_miss_kind: str
    explanation: str
    term_marked: tuple[str, str, str] | None  # the closest expansion, split at its first difference
    rows: tuple[RowLine, ...] = ()  # v4: a template's rows, each sent as its own term

    @property
    def rows_found(self) -> int:
        return sum(row.found for row in self.rows)


@dataclass(frozen=True)
class Preview:
    lines: list[TermLine]
    success: bool | None
    error: str
    scanned_chars: int
    api_version: str = V4
    wire: str = ""  # the scan part of the request body, as JSON
    other_success: bool | None = None  # the other API version's decision on the same page
    difference: str = ""  # said when the two versions decide differently
    meaning: V4Meaning | None = None  # the chosen profile's v4 divergences and their acknowledgement

    @property
    def other_version(self) -> str:
        return V3 if self.api_version == V4 else V4

    @property
    def counts(self) -> dict[str, int]:
        return {
            "good": sum(line.good for line in self.lines),
            "bad": sum(not line.good for line in self.lines),
        }


def preview_scan(
    *,
    page_text: str = "",
    html: str | None = None,
    profile: ScanProfile | None = None,
    required: list[TermSpec] | None = None,
    forbidden: list[TermSpec] | None = None,
    delimiter: str = "",
    api_version: str = V4,
) -> Preview:
    """Scan with a profile's terms plus typed ones, as `api_version` sends them; an invalid term gives
    a Preview with `error`."""
    required, forbidden = list(required or []), list(forbidden or [])
    meaning = None
    if profile is not None:
        profile_required, profile_forbidden = profile_specs(profile)
        required = profile_required + required
        forbidden = profile_forbidden + forbidden
        delimiter = profile.delimiter
        meaning = v4_meaning(profile)
    try:
        scans = scan_terms_from_specs(required, forbidden, delimiter)
        v3 = compile_profile(required, forbidden, delimiter or None)
        # Exactly the strings v4 sends (distinct, in order), read as plain terms: v4 has no templates.
        v4 = compile_profile(
            [TermSpec(t) for t in scans.required_v4 or ()],
            [TermSpec(t) for t in scans.forbidden_v4 or ()],
            delimiter or None,
        )
    except ScanTermError as exc:
        where = f"“{exc.term}”: " if exc.term else ""
        return Preview([], None, f"{where}{exc.reason}", 0, api_version)
    v3_report = v3.scan_html(html) if html is not None else v3.scan(page_text)
    v4_report = v4.scan_html(html) if html is not None else v4.scan(page_text)
    text = v3_report.scanned_text
    v3_lines = [_line(result, text) for result in v3_report.results]
    v4_lines = _v4_lines(required, forbidden, delimiter, v4_report)
    lines, report, other = (
        (v4_lines, v4_report, v3_report) if api_version == V4 else (v3_lines, v3_report, v4_report)
    )
    return Preview(
        lines=lines,
        success=report.success,
        error="",
        scanned_chars=len(text),
        api_version=api_version,
        wire=wire_form(scans, api_version),
        other_success=other.success,
        difference=_difference(v3_report.success, v4_report.success, api_version, v4_lines),
        meaning=meaning,
    )


def wire_form(scans: ScanTerms, api_version: str) -> str:
    """The scan part of the claim body `api_version` sends, built by the client's own body builders."""
    if not scans:
        return ""
    if api_version == V4:
        part: dict[str, object] = {"insights": {"scans": v4_insights_body((), scans)["scans"]}}
    else:
        body = v3_claim_body(Lead(), scans)
        part = {
            k: body[k] for k in ("required_scan_terms", "forbidden_scan_terms", "scan_delimiter") if k in body
        }
    return json.dumps(part, indent=2, ensure_ascii=False)


def _v4_lines(
    required: list[TermSpec], forbidden: list[TermSpec], delimiter: str, report: ScanReport
) -> list[TermLine]:
    """One line per term as written, its template rows under it: a required template passes in v4
    only when every row is found; a forbidden one fails when any row is (as in v3)."""
    text = report.scanned_text
    # A sentence sent once answers for every term that expands to it.
    by_role = {(result.role, result.term.text): result for result in report.results}
    lines: list[TermLine] = []
    for role, specs in ((TermRole.REQUIRED, required), (TermRole.FORBIDDEN, forbidden)):
        is_required = role is TermRole.REQUIRED
        for spec in specs:
            sentences = _sentences(spec, role, delimiter)
            results = [by_role[(role, sentence)] for sentence in sentences]
            found = all(r.found for r in results) if is_required else any(r.found for r in results)
            shown = _deciding(results, is_required)
            line = replace(
                _line(shown, text),
                term=spec.text,
                found=found,
                good=found if is_required else not found,
                variant=shown.term.text if spec.is_template else None,
            )
            if spec.is_template:
                line = replace(
                    line, rows=tuple(RowLine(r.term.text, r.found, r.found == required) for r in results)
                )
            lines.append(line)
    return lines


def _deciding(results: list[TermResult], required: bool) -> TermResult:
    """The sentence to show: for a required term the missing one closest to the page, for a
    forbidden one the first found; else the first."""
    deciding = [r for r in results if r.found != required]
    if not deciding:
        return results[0]
    return max(deciding, key=lambda r: r.near_miss.similarity if r.near_miss else -1.0)


def _sentences(spec: TermSpec, role: TermRole, delimiter: str) -> list[str]:
    """The sentences v4 sends for one term: itself, or one per distinct row of a template."""
    if role is TermRole.REQUIRED:
        return list(scan_terms_from_specs([spec], [], delimiter).required_v4 or ())
    return list(scan_terms_from_specs([], [spec], delimiter).forbidden_v4 or ())


def _difference(v3: bool | None, v4: bool | None, api_version: str, v4_lines: list[TermLine]) -> str:
    """A plain sentence when the page passes in one API version and fails in the other."""
    if v3 is None or v4 is None or v3 == v4:
        return ""
    verdict = {True: "passes", False: "fails"}
    sentence = (
        f"This page {verdict[v3]} in API v3 but {verdict[v4]} in API v4, "
        f"and claims are sent with v{api_version.split('.')[0]}."
    )
    split = [
        f"“{line.term}” has {line.rows_found} of its {len(line.rows)} rows on the page"
        for line in v4_lines
        if line.rows and line.role == TermRole.REQUIRED and not line.found
    ]
    if split:
        sentence += (
            " v4 has no templates: each row is sent as its own required term, so every row must be found; "
            + "; ".join(split)
            + "."
        )
    return sentence


def _line(result: TermResult, text: str) -> TermLine:
    required = result.role is TermRole.REQUIRED
    snippet, kind, explanation, term_marked = None, "", "", None
    if result.found and result.start is not None and result.end is not None:
        snippet = _snippet(text, result.start, result.end, result.end)
    elif result.near_miss is not None:
        miss = result.near_miss
        snippet = _snippet(text, miss.page_start, miss.page_end, miss.page_offset)
        kind, explanation = str(miss.kind), miss.explanation
        at = miss.term_offset
        term_marked = (miss.variant[:at], miss.variant[at : at + 1], miss.variant[at + 1 :])
    return TermLine(
        term=result.term.text,
        role=str(result.role),
        found=result.found,
        good=result.found if required else not result.found,
        variant=result.variant if result.term.is_template else None,
        snippet=snippet,
        near_miss_kind=kind,
        explanation=explanation,
        term_marked=term_marked,
    )


def _snippet(text: str, start: int, end: int, mark: int) -> Snippet:
    mark = min(max(mark, start), end)
    context_start = max(0, start - CONTEXT_CHARS)
    context_end = min(len(text), end + CONTEXT_CHARS)
    return Snippet(
        before=text[context_start:start],
        passage=text[start:mark],
        marked=text[mark : mark + 1] if mark < end else "",
        rest=text[mark + 1 : end] if mark < end else "",
        after=text[end:context_end],
        cut_before=context_start > 0,
        cut_after=context_end < len(text),
    )
