"""Find the passage of a page that comes closest to a scan term, and say how it differs.

Works on normalised text (lower-cased, whitespace runs collapsed to one space); the engine maps
the offsets back to the page and the term as written. Imports nothing outside the stdlib.
"""

import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from difflib import SequenceMatcher
from enum import StrEnum
from typing import Protocol

# Below this similarity (difflib ratio, 0..1) the closest passage is not worth showing: the page
# simply does not say anything like the term. 0.75 keeps one wrong word in a short phrase.
NEAR_MISS_MIN_SIMILARITY = 0.75

# Where on the page to look: the rarest words of the term that the page does contain.
ANCHORS_TRIED = 3
OCCURRENCES_PER_ANCHOR = 10
# Fallback anchors for terms whose words are all spelled differently on the page.
CHUNK_LENGTH = 4
# After a wildcard, the part that follows is first looked for this far past the parts before it.
WILDCARD_WINDOW_CHARS = 100


class DifferenceKind(StrEnum):
    HYPHEN = "a hyphen"
    PUNCTUATION = "punctuation"
    MISSING_SPACE = "a missing space"
    EXTRA_SPACE = "an extra space"
    DIFFERENT_WORD = "different word"
    # Every literal part of a wildcard term is on the page, but not in the term's order.
    PARTS_OUT_OF_ORDER = "parts in the wrong order"


class MappedText(Protocol):
    """Normalised `text` of an `original`, with offsets mapped back (engine.NormalisedText)."""

    original: str
    text: str

    def to_original(self, index: int) -> int: ...

    def original_span(self, start: int, end: int) -> tuple[int, int]: ...


@dataclass(frozen=True)
class NearMiss:
    """The closest passage to a missed term and where it first differs.

    `term_offset` indexes `variant` (the term as written, or the template expansion that came
    closest); `page_start`, `page_end` and `page_offset` index the scanned text.
    """

    variant: str
    passage: str
    page_start: int
    page_end: int
    similarity: float
    kind: DifferenceKind
    explanation: str
    term_offset: int
    page_offset: int


@dataclass(frozen=True)
class Alignment:
    """The closest passage to a term and its first difference, in normalised coordinates."""

    page_start: int
    page_end: int
    similarity: float
    kind: DifferenceKind
    term_diff: tuple[int, int]
    page_diff: tuple[int, int]
    # The whole words around the first difference, for the explanation.
    term_words: tuple[int, int]
    page_words: tuple[int, int]


def explain_miss(
    written: str,
    parts: Sequence[MappedText],
    page: MappedText,
    page_word_counts: Mapping[str, int],
) -> NearMiss | None:
    """Explain why a term (`written`, literal `parts` between wildcards) is not on the page.

    Finds the first part that the page does not continue with, and its closest passage.
    """
    previous_end: int | None = None
    for index, part in enumerate(parts):
        if not part.text.strip():
            continue
        if previous_end is None:
            start = page.text.find(part.text)
            if start < 0:
                alignment = closest_alignment(part.text, page.text, page_word_counts)
                return _near_miss(written, part, page, alignment)
            previous_end = start + len(part.text)
            continue
        # A wildcard is a lazy `.*?`: the earliest occurrence after the earlier parts is the match.
        found = page.text.find(part.text, previous_end)
        if found >= 0:
            previous_end = found + len(part.text)
            continue
        # The earlier parts are on the page: look for this one just after them, then anywhere.
        window_end = previous_end + WILDCARD_WINDOW_CHARS + len(part.text)
        alignment = align_in_window(part.text, page.text, previous_end, window_end)
        if alignment is None and part.text.strip() in page.text:
            return _parts_out_of_order(written, parts, index, page)
        alignment = alignment or closest_alignment(part.text, page.text, page_word_counts)
        return _near_miss(written, part, page, alignment)
    return None


def closest_alignment(term: str, page: str, page_word_counts: Mapping[str, int]) -> Alignment | None:
    """Align `term` against the most promising windows of `page`; None if nothing is close."""
    best: Alignment | None = None
    for window_start, window_end, expected_start in _candidate_windows(term, page, page_word_counts):
        alignment = align_in_window(term, page, window_start, window_end, expected_start)
        if alignment and (best is None or alignment.similarity > best.similarity):
            best = alignment
    return best


def align_in_window(
    term: str, page: str, window_start: int, window_end: int, expected_start: int | None = None
) -> Alignment | None:
    """Align `term` within page[window_start:window_end]; None if not close or not different.

    `expected_start` is where an anchor word says the term would start on the page.
    """
    window = page[window_start:window_end]
    blocks = [b for b in SequenceMatcher(None, term, window, autojunk=False).get_matching_blocks() if b.size]
    if not blocks:
        return None
    first, last = blocks[0], blocks[-1]
    # Stretch the matched region so that it covers the whole term, unmatched ends included.
    start = window_start + max(0, first.b - first.a)
    end = window_start + min(len(window), last.b + last.size + (len(term) - last.a - last.size))
    spans = [(start, end)]
    # On repetitive text the matcher can pair the wrong copies; the anchored span then does better.
    if expected_start is not None and expected_start >= 0:
        spans.append((expected_start, min(len(page), expected_start + len(term))))
    best: tuple[float, int, SequenceMatcher[str], str] | None = None
    for span_start, span_end in spans:
        candidate = page[span_start:span_end]
        matcher = SequenceMatcher(None, term, candidate, autojunk=False)
        if best is None or matcher.ratio() > best[0]:
            best = (matcher.ratio(), span_start, matcher, candidate)
    assert best is not None
    similarity, page_offset, matcher, passage = best
    if similarity < NEAR_MISS_MIN_SIMILARITY:
        return None
    for tag, i1, i2, j1, j2 in matcher.get_opcodes():
        if tag == "equal":
            continue
        return Alignment(
            page_start=page_offset,
            page_end=page_offset + len(passage),
            similarity=round(similarity, 3),
            kind=classify_difference(term[i1:i2], passage[j1:j2]),
            term_diff=(i1, i2),
            page_diff=(page_offset + j1, page_offset + j2),
            term_words=_word_span(term, i1, i2),
            page_words=_shift(_word_span(passage, j1, j2), page_offset),
        )
    return None


def classify_difference(term_part: str, page_part: str) -> DifferenceKind:
    """Name the difference between two aligned snippets in a compliance manager's words."""
    # "pre-recorded" for "prerecorded", and "telephone-number" for "telephone number".
    if "-" in term_part + page_part and _without(term_part, "- ") == _without(page_part, "- "):
        return DifferenceKind.HYPHEN
    if term_part.replace(" ", "") == page_part.replace(" ", ""):
        if term_part.count(" ") > page_part.count(" "):
            return DifferenceKind.MISSING_SPACE
        return DifferenceKind.EXTRA_SPACE
    if all(not ch.isalnum() and not ch.isspace() for ch in term_part + page_part):
        return DifferenceKind.PUNCTUATION
    return DifferenceKind.DIFFERENT_WORD


def describe_difference(kind: DifferenceKind, term_part: str, page_part: str, diff_only: bool) -> str:
    """One sentence such as "a hyphen: the page has 'pre-recorded' where the term has 'prerecorded'".

    `term_part`/`page_part` are the words around the difference, or for punctuation with
    `diff_only` just the differing characters.
    """
    if kind is DifferenceKind.PUNCTUATION and diff_only:
        on_page = f"'{page_part}' on the page" if page_part else "nothing on the page"
        in_term = f"'{term_part}' in the term" if term_part else "nothing in the term"
        return f"{kind}: {on_page}, {in_term}"
    if not page_part:
        return f"{kind}: the page is missing '{term_part}'"
    if not term_part:
        return f"{kind}: the page has an extra '{page_part}'"
    return f"{kind}: the page has '{page_part}' where the term has '{term_part}'"


def _candidate_windows(
    term: str, page: str, page_word_counts: Mapping[str, int]
) -> list[tuple[int, int, int]]:
    """(window start, window end, expected term start) around anchor occurrences."""
    slack = max(8, len(term) // 4)
    anchors = _anchors(term, page, page_word_counts)
    windows: set[tuple[int, int, int]] = set()
    for offset_in_term, anchor, whole_word in anchors:
        pattern = re.escape(anchor)
        if whole_word:
            pattern = rf"(?<![^ ]){pattern}(?![^ ])"
        for count, match in enumerate(re.finditer(pattern, page)):
            if count == OCCURRENCES_PER_ANCHOR:
                break
            term_start = match.start() - offset_in_term
            windows.add((max(0, term_start - slack), max(0, term_start + len(term) + slack), term_start))
    return sorted(windows)


def _anchors(term: str, page: str, page_word_counts: Mapping[str, int]) -> list[tuple[int, str, bool]]:
    """(offset in term, text, whole word?) of the rarest parts of the term found on the page."""
    words: list[tuple[int, int, str]] = []
    for match in re.finditer(r"[^ ]+", term):
        count = page_word_counts.get(match.group(), 0)
        if count:
            words.append((count, match.start(), match.group()))
    if words:
        words.sort()
        return [(offset, word, True) for _count, offset, word in words[:ANCHORS_TRIED]]
    # No word of the term is a word of the page (e.g. a one-word term spelled with a hyphen there):
    # fall back to short chunks of characters.
    chunks: list[tuple[int, int, str]] = []
    for offset in range(0, max(1, len(term) - CHUNK_LENGTH + 1), CHUNK_LENGTH):
        chunk = term[offset : offset + CHUNK_LENGTH]
        count = page.count(chunk)
        if count:
            chunks.append((count, offset, chunk))
    chunks.sort()
    return [(offset, chunk, False) for _count, offset, chunk in chunks[:ANCHORS_TRIED]]


def _without(text: str, characters: str) -> str:
    return text.translate({ord(ch): None for ch in characters})


def _word_span(text: str, start: int, end: int) -> tuple[int, int]:
    # A lone space (a missing or extra space) is explained by the words on either side of it.
    while start > 0 and text[start - 1] != " ":
        start -= 1
    while end < len(text) and text[end] != " ":
        end += 1
    return start, end


def _shift(span: tuple[int, int], offset: int) -> tuple[int, int]:
    return span[0] + offset, span[1] + offset


def _near_miss(
    written: str, part: MappedText, page: MappedText, alignment: Alignment | None
) -> NearMiss | None:
    if alignment is None:
        return None
    page_start, page_end = page.original_span(alignment.page_start, alignment.page_end)
    term_offset = part.to_original(alignment.term_diff[0])
    page_offset = page.to_original(alignment.page_diff[0])
    if alignment.kind is DifferenceKind.PUNCTUATION:
        term_part = _exact(written, part, *alignment.term_diff)
        page_part = _exact(page.original, page, *alignment.page_diff)
        explanation = describe_difference(alignment.kind, term_part, page_part, diff_only=True)
    else:
        term_words = _written(written, part, *alignment.term_words)
        page_words = _written(page.original, page, *alignment.page_words)
        explanation = describe_difference(alignment.kind, term_words, page_words, diff_only=False)
    return NearMiss(
        variant=written,
        passage=page.original[page_start:page_end],
        page_start=page_start,
        page_end=page_end,
        similarity=alignment.similarity,
        kind=alignment.kind,
        explanation=explanation,
        term_offset=term_offset,
        page_offset=page_offset,
    )


def _parts_out_of_order(written: str, parts: Sequence[MappedText], index: int, page: MappedText) -> NearMiss:
    part = parts[index]
    text = part.text.strip()
    start = page.text.find(text)
    page_start, page_end = page.original_span(start, start + len(text))
    earlier = parts[index - 1].original.strip() or "the text before it"
    return NearMiss(
        variant=written,
        passage=page.original[page_start:page_end],
        page_start=page_start,
        page_end=page_end,
        similarity=1.0,
        kind=DifferenceKind.PARTS_OUT_OF_ORDER,
        explanation=(
            f"{DifferenceKind.PARTS_OUT_OF_ORDER}: '{part.original.strip()}' is on the page, but only "
            f"before '{earlier}'"
        ),
        term_offset=part.to_original(len(part.text) - len(part.text.lstrip())),
        page_offset=page_start,
    )


def _written(original: str, text: MappedText, start: int, end: int) -> str:
    """The original characters behind a normalised span, whitespace tidied for a message."""
    if end <= start:
        return ""
    first, last = text.original_span(start, end)
    return " ".join(original[first:last].split())


def _exact(original: str, text: MappedText, start: int, end: int) -> str:
    if end <= start:
        return ""
    first, last = text.original_span(start, end)
    return original[first:last]
