"""The editor's preview: scan pasted text (or an HTML page) and lay each term's result out for reading."""

from __future__ import annotations

from dataclasses import dataclass

from scanning.engine import ScanTermError, TermResult, TermRole, TermSpec, compile_profile
from scanning.models import ScanProfile
from scanning.profiles import profile_specs

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


@dataclass(frozen=True)
class Preview:
    lines: list[TermLine]
    success: bool | None
    error: str
    scanned_chars: int

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
) -> Preview:
    """Scan with a profile's terms plus typed ones; an invalid term gives a Preview with `error`."""
    required, forbidden = list(required or []), list(forbidden or [])
    if profile is not None:
        profile_required, profile_forbidden = profile_specs(profile)
        required = profile_required + required
        forbidden = profile_forbidden + forbidden
        delimiter = profile.delimiter
    try:
        compiled = compile_profile(required, forbidden, delimiter or None)
    except ScanTermError as exc:
        where = f"“{exc.term}”: " if exc.term else ""
        return Preview([], None, f"{where}{exc.reason}", 0)
    report = compiled.scan_html(html) if html is not None else compiled.scan(page_text)
    text = report.scanned_text
    return Preview([_line(result, text) for result in report.results], report.success, "", len(text))


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
